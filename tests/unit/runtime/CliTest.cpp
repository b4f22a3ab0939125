//===- CliTest.cpp - flowrt_main's checks and messages --------------------===//
//
// The ABI version check refuses a program from another runtime version with a
// message naming both versions; usage errors exit with 2 and name the
// option; a value reading "help" is a value; labels are checked; `sample`
// before `train` names the missing checkpoint, and a checkpoint of another
// flow is refused; --metrics-json is valid JSON even under --quiet; `info`
// and `--help` describe the program.
//
//===----------------------------------------------------------------------===//

#include "TestProgram.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fstream>

using flowrt_test::makeTestProgram;
using flowrt_test::runMain;
using testing::HasSubstr;
using testing::internal::CaptureStderr;
using testing::internal::CaptureStdout;
using testing::internal::GetCapturedStderr;
using testing::internal::GetCapturedStdout;

TEST(Cli, AbiVersionMismatchIsRefused) {
  flowrt_program program = makeTestProgram();
  program.abi_version = FLOWRT_ABI_VERSION + 1;
  CaptureStderr();
  int status = runMain(program, {"info"});
  std::string err = GetCapturedStderr();
  EXPECT_NE(0, status);
  EXPECT_THAT(
      err, HasSubstr("ABI version " + std::to_string(FLOWRT_ABI_VERSION + 1)));
  EXPECT_THAT(err, HasSubstr("ABI version " +
                             std::to_string(FLOWRT_ABI_VERSION) + ";"));
}

TEST(Cli, UnknownOptionSaysSoAndExits2) {
  flowrt_program program = makeTestProgram();
  CaptureStderr();
  int status = runMain(program, {"train", "--stepz", "5"});
  std::string err = GetCapturedStderr();
  EXPECT_EQ(2, status);
  EXPECT_THAT(err, HasSubstr("--stepz"));
  EXPECT_THAT(err, HasSubstr("run 'moons_test train --help' for the options"));
}

TEST(Cli, BadValuesAndCommandsExit2) {
  flowrt_program program = makeTestProgram();
  CaptureStderr();
  EXPECT_EQ(2, runMain(program, {"train", "--steps", "ten"}));
  EXPECT_EQ(2, runMain(program, {"train", "--lr"}));
  EXPECT_EQ(2, runMain(program, {"train", "--seed", "-1"}));
  EXPECT_EQ(2, runMain(program, {"sample", "-n", "0"}));
  EXPECT_EQ(2, runMain(program, {"sample", "--device", "tpu"}));
  EXPECT_EQ(2, runMain(program, {"fly"}));
  EXPECT_EQ(2, runMain(program, {}));
  std::string err = GetCapturedStderr();
  EXPECT_THAT(err, HasSubstr("--steps: takes an integer >= 1, not 'ten'"));
  EXPECT_THAT(err, HasSubstr("--lr"));
  EXPECT_THAT(err, HasSubstr("--seed: takes a non-negative integer, not '-1'"));
  EXPECT_THAT(err, HasSubstr("-n: takes an integer >= 1, not '0'"));
  EXPECT_THAT(err, HasSubstr("--device: takes cpu or cuda, not 'tpu'"));
  EXPECT_THAT(err, HasSubstr("unknown command 'fly'"));
  EXPECT_THAT(err, HasSubstr("no command given"));
}

TEST(Cli, HelpIsAnOptionNotAnyArgument) {
  // A value that happens to read "help" or "-h" is a value: before CLI11 any
  // such argument printed the help and exited 0.
  flowrt_test::ScratchDir dir;
  flowrt_program program = makeTestProgram();
  CaptureStdout();
  CaptureStderr();
  int status = runMain(program, {"sample", "--out-dir", dir.str("help")});
  int dashH = runMain(program, {"sample", "--out-dir=-h"});
  std::string err = GetCapturedStderr();
  std::string out = GetCapturedStdout();
  EXPECT_EQ(1, status) << "sample from a directory without a checkpoint fails";
  EXPECT_EQ(1, dashH);
  EXPECT_THAT(err, HasSubstr("no checkpoint in " + dir.str("help")));
  EXPECT_THAT(err, HasSubstr("no checkpoint in -h"));
  EXPECT_THAT(out, testing::Not(HasSubstr("Usage")));
}

TEST(Cli, LabelsAreClassesOrNone) {
  // `likelihood --label abc` once meant class 0 (atoll).
  flowrt_program program = makeTestProgram();
  CaptureStderr();
  EXPECT_EQ(2, runMain(program, {"likelihood", "-i", "x.npy", "-o", "y.npy", "--label",
                                 "abc"}));
  EXPECT_EQ(2, runMain(program, {"sample", "--label", "0"}));
  std::string err = GetCapturedStderr();
  EXPECT_THAT(err, HasSubstr("--label: the network is not conditioned on labels"));
  flowrt_test::modelOf(program).classes = 3;
  CaptureStderr();
  EXPECT_EQ(2, runMain(program, {"likelihood", "-i", "x.npy", "-o", "y.npy", "--label",
                                 "abc"}));
  EXPECT_EQ(2, runMain(program, {"likelihood", "-i", "x.npy", "-o", "y.npy", "--label", "3"}));
  EXPECT_EQ(2, runMain(program, {"sample", "--label", "1x"}));
  err = GetCapturedStderr();
  EXPECT_THAT(err, HasSubstr("--label: takes a class 0..2 or 'none', not 'abc'"));
  EXPECT_THAT(err, HasSubstr("--label: takes a class 0..2 or 'none', not '3'"));
  EXPECT_THAT(err, HasSubstr("--label: takes a class 0..2, 'none' or 'balanced', not '1x'"));
}

TEST(Cli, SampleWithoutCheckpointSaysTrainFirst) {
  flowrt_test::ScratchDir dir;
  flowrt_program program = makeTestProgram();
  CaptureStderr();
  int status = runMain(program, {"sample", "--out-dir", dir.str()});
  std::string err = GetCapturedStderr();
  EXPECT_EQ(1, status);
  EXPECT_THAT(
      err, HasSubstr("no checkpoint in " + dir.str() + ": run `train` first"));
}

TEST(Cli, InfoAndHelp) {
  flowrt_program program = makeTestProgram();
  CaptureStdout();
  EXPECT_EQ(0, runMain(program, {"info"}));
  EXPECT_EQ(0, runMain(program, {"--help"}));
  EXPECT_EQ(0, runMain(program, {"train", "--help"}));
  EXPECT_EQ(0, runMain(program, {"likelihood", "-h"}));
  std::string out = GetCapturedStdout();
  EXPECT_THAT(out, HasSubstr("flow:    moons_test"));
  EXPECT_THAT(out, HasSubstr("toy.moons(noise: 0.05)"));
  EXPECT_THAT(out, HasSubstr("mlp(width: 64, depth: 3, act: silu, time: "
                             "fourier(8))"));
  // The command list, then train's and likelihood's options with defaults.
  EXPECT_THAT(out, HasSubstr("Trains and samples the flow 'moons_test'"));
  EXPECT_THAT(out, HasSubstr("likelihood"));
  EXPECT_THAT(out, HasSubstr("--checkpoint-every N"));
  EXPECT_THAT(out, HasSubstr("runs/moons_test"));
  EXPECT_THAT(out, HasSubstr("--device cpu|cuda")) << "likelihood has --device";
}

TEST(Cli, CheckpointOfAnotherFlowIsRefused) {
  // Same architecture, another flow: its weights must not load silently.
  flowrt_test::ScratchDir dir;
  flowrt_program program = makeTestProgram();
  ASSERT_EQ(0, runMain(program, {"train", "--out-dir", dir.str(), "--steps", "2", "--quiet"}));
  flowrt_program other = makeTestProgram();
  other.flow_name = "circles_test";
  CaptureStdout();
  CaptureStderr();
  int status = runMain(other, {"sample", "--out-dir", dir.str(), "-n", "8"});
  std::string err = GetCapturedStderr();
  GetCapturedStdout();
  EXPECT_EQ(1, status);
  EXPECT_THAT(err, HasSubstr("was written by flow moons_test"));
  EXPECT_THAT(err, HasSubstr("but this program is flow circles_test"));
  // The same flow from an edited spec loads, with a warning.
  flowrt_program edited = makeTestProgram();
  edited.spec_text = "// test program, edited\n";
  CaptureStdout();
  CaptureStderr();
  status = runMain(edited, {"sample", "--out-dir", dir.str(), "-n", "8"});
  err = GetCapturedStderr();
  GetCapturedStdout();
  EXPECT_EQ(0, status);
  EXPECT_THAT(err, HasSubstr("warning:"));
  EXPECT_THAT(err, HasSubstr("from a spec that differs"));
}

TEST(Cli, MetricsJsonIsWrittenUnderQuietAndIsJson) {
  flowrt_test::ScratchDir dir;
  flowrt_program program = makeTestProgram();
  ASSERT_EQ(0, runMain(program, {"train", "--out-dir", dir.str(), "--steps", "2", "--quiet"}));
  std::string path = dir.str("m.json");
  CaptureStdout();
  ASSERT_EQ(0, runMain(program, {"sample", "--out-dir", dir.str(), "-n", "64", "--quiet",
                                 "--metrics-json", path}));
  EXPECT_EQ("", GetCapturedStdout()) << "--quiet prints nothing";
  std::ifstream in(path);
  nlohmann::json m = nlohmann::json::parse(in); // throws on NaN or bad JSON
  EXPECT_EQ(64, m["samples"].get<int>());
  EXPECT_TRUE(m["sliced_w2"].is_number());
  EXPECT_GT(m["sliced_w2_source"].get<double>(), 0.0);
  EXPECT_TRUE(m["conditional_accuracy"].is_null()) << "unconditional: null, not nan";
}
