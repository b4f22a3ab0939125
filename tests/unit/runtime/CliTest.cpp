//===- CliTest.cpp - flowrt_main's checks and messages --------------------===//
//
// The ABI version check refuses a program from another runtime version with a
// message naming both versions; usage errors exit with 2 and print the usage;
// `sample` before `train` names the missing checkpoint; `info` and `--help`
// describe the program.
//
//===----------------------------------------------------------------------===//

#include "TestProgram.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

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

TEST(Cli, UnknownOptionPrintsUsageAndExits2) {
  flowrt_program program = makeTestProgram();
  CaptureStderr();
  int status = runMain(program, {"train", "--stepz", "5"});
  std::string err = GetCapturedStderr();
  EXPECT_EQ(2, status);
  EXPECT_THAT(err, HasSubstr("unknown option '--stepz' for train"));
  EXPECT_THAT(err, HasSubstr("usage: moons_test <command>"));
}

TEST(Cli, BadValuesAndCommandsExit2) {
  flowrt_program program = makeTestProgram();
  CaptureStderr();
  EXPECT_EQ(2, runMain(program, {"train", "--steps", "ten"}));
  EXPECT_EQ(2, runMain(program, {"train", "--lr"}));
  EXPECT_EQ(2, runMain(program, {"sample", "-n", "0"}));
  EXPECT_EQ(2, runMain(program, {"fly"}));
  EXPECT_EQ(2, runMain(program, {}));
  std::string err = GetCapturedStderr();
  EXPECT_THAT(err, HasSubstr("--steps takes an integer, not 'ten'"));
  EXPECT_THAT(err, HasSubstr("option --lr needs a value"));
  EXPECT_THAT(err, HasSubstr("unknown command 'fly'"));
  EXPECT_THAT(err, HasSubstr("no command given"));
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
  std::string out = GetCapturedStdout();
  EXPECT_THAT(out, HasSubstr("flow:    moons_test"));
  EXPECT_THAT(out, HasSubstr("toy.moons(noise: 0.050000)"));
  EXPECT_THAT(out, HasSubstr("mlp(width: 64, depth: 3, act: silu, time: "
                             "fourier(8))"));
  EXPECT_THAT(out, HasSubstr("--checkpoint-every N"));
  EXPECT_THAT(out, HasSubstr("default runs/moons_test"));
}
