//===- TrainSampleTest.cpp - The train and sample loops end to end --------===//
//
// Drives flowrt_main with the hand-written moons program of TestProgram.h:
// training lowers the loss and sampling beats the Gaussian source in sliced
// W2 and writes its files; a run resumed half way ends with bit-identical
// weights; checkpoints leave no temporary files; a NaN loss stops the run
// naming the step and keeps the last good checkpoint.
//
//===----------------------------------------------------------------------===//

#include "Checkpoint.h"
#include "Context.h"
#include "Network.h"
#include "Files.h"
#include "TestProgram.h"
#include "Writers.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <fstream>
#include <regex>
#include <set>

using namespace flowrt;
using flowrt_test::makeTestProgram;
using flowrt_test::runMain;
using flowrt_test::ScratchDir;
using testing::HasSubstr;
using testing::internal::CaptureStderr;
using testing::internal::CaptureStdout;
using testing::internal::GetCapturedStderr;
using testing::internal::GetCapturedStdout;

namespace {

std::vector<std::string> readLines(const std::string &path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);)
    lines.push_back(line);
  return lines;
}

/// The number after "key": in a flat JSON object.
double jsonNumber(const std::string &json, const std::string &key) {
  nlohmann::json line = nlohmann::json::parse(json);
  return line.contains(key) && line[key].is_number() ? line[key].get<double>() : NAN;
}

std::set<std::string> entries(const ScratchDir &dir) {
  std::vector<std::string> names = flowrt_test::listDirectory(dir.str());
  return {names.begin(), names.end()};
}

/// The program's networks, as a checkpoint holds them.
NetworkSet testNetworks(const flowrt_program &program) { return NetworkSet(program); }

} // namespace

TEST(TrainSample, LossFallsAndSamplesBeatTheSource) {
  ScratchDir dir;
  flowrt_program program = makeTestProgram();
  CaptureStdout();
  CaptureStderr();
  int trained = runMain(program, {"train", "--out-dir", dir.str()});
  std::string trainErr = GetCapturedStderr();
  std::string trainOut = GetCapturedStdout();
  ASSERT_EQ(0, trained) << trainErr;
  // Not a TTY: one progress line per 10%.
  EXPECT_THAT(trainErr, HasSubstr("step 500/500 (100%)"));
  EXPECT_THAT(trainOut, HasSubstr("trained moons_test to step 500"));

  std::vector<std::string> metrics = readLines(dir.str("metrics.jsonl"));
  ASSERT_EQ(50u, metrics.size()); // --log-every 10
  double first = jsonNumber(metrics.front(), "loss");
  double last = jsonNumber(metrics.back(), "loss");
  EXPECT_EQ(500, jsonNumber(metrics.back(), "step"));
  EXPECT_DOUBLE_EQ(1e-2, jsonNumber(metrics.back(), "lr"));
  EXPECT_GT(jsonNumber(metrics.back(), "steps_per_sec"), 0);
  std::printf("loss: first 10 steps %.4f, last 10 steps %.4f\n", first, last);
  // Rectified flow keeps an irreducible loss (about 1.3 here, from 1.85 at
  // initialisation; a PyTorch replica of this setup gives the same).
  EXPECT_LT(last, 0.8 * first);
  EXPECT_TRUE(pathExists(dir.str("spec.flow")));

  std::string npy = dir.str("samples.npy"), png = dir.str("samples.png");
  std::string json = dir.str("quality.json");
  CaptureStdout();
  int sampled = runMain(program, {"sample", "--out-dir", dir.str(), "-o", npy,
                                  "-o", png, "--metrics-json", json});
  std::string sampleOut = GetCapturedStdout();
  ASSERT_EQ(0, sampled);
  EXPECT_THAT(sampleOut, HasSubstr("sampled 2000 points with euler, 20 steps, "
                                   "20 function evaluations"));
  EXPECT_THAT(sampleOut, HasSubstr("quality: sliced-W2 to fresh data = "));

  torch::Tensor points = readNpy(npy);
  ASSERT_EQ((std::vector<int64_t>{2000, 2}), points.sizes().vec());
  EXPECT_TRUE(torch::isfinite(points).all().item<bool>());
  std::ifstream pngFile(png, std::ios::binary);
  char signature[8] = {};
  pngFile.read(signature, 8);
  EXPECT_EQ(0, std::memcmp(signature, "\x89PNG\r\n\x1a\n", 8));

  std::string quality = readLines(json).at(0);
  double sw2 = jsonNumber(quality, "sliced_w2");
  double sw2Source = jsonNumber(quality, "sliced_w2_source");
  std::printf("sliced W2: samples %.4f, gaussian source %.4f\n", sw2,
              sw2Source);
  EXPECT_EQ(20, jsonNumber(quality, "function_evals"));
  // Expected about 0.09 against 0.32; two draws of the data differ by ~0.04.
  EXPECT_LT(sw2, 0.5 * sw2Source);
  EXPECT_GT(sw2Source, 0.2);
}

TEST(TrainSample, ResumedRunEndsWithIdenticalWeights) {
  ScratchDir whole, split;
  flowrt_program program = makeTestProgram();
  std::vector<std::string> common = {"--quiet", "--batch", "64",
                                     "--checkpoint-every", "0"};
  auto train = [&](const ScratchDir &dir, std::vector<std::string> args) {
    args.insert(args.begin(), {"train", "--out-dir", dir.str()});
    args.insert(args.end(), common.begin(), common.end());
    return runMain(program, args);
  };
  ASSERT_EQ(0, train(whole, {"--steps", "20"}));
  ASSERT_EQ(0, train(split, {"--steps", "10"}));
  ASSERT_EQ(0, train(split, {"--steps", "20", "--resume"}));

  NetworkSet a = testNetworks(program), aEma = testNetworks(program);
  NetworkSet b = testNetworks(program), bEma = testNetworks(program);
  CheckpointInfo infoA =
      loadCheckpoint(whole.str(CheckpointFile), program, *a, aEma.get(), nullptr);
  CheckpointInfo infoB =
      loadCheckpoint(split.str(CheckpointFile), program, *b, bEma.get(), nullptr);
  EXPECT_EQ(20, infoA.step);
  EXPECT_EQ(20, infoB.step);
  EXPECT_TRUE(infoB.hasEma);
  EXPECT_EQ("moons_test", infoB.flowName);
  auto pa = a->parameters(), pb = b->parameters();
  auto ea = aEma->parameters(), eb = bEma->parameters();
  ASSERT_EQ(pa.size(), pb.size());
  double moved = 0;
  for (size_t i = 0; i < pa.size(); ++i) {
    EXPECT_TRUE(torch::equal(pa[i], pb[i])) << "parameter " << i;
    EXPECT_TRUE(torch::equal(ea[i], eb[i])) << "EMA parameter " << i;
    moved += (pa[i] - ea[i]).abs().sum().item<double>();
  }
  EXPECT_GT(moved, 0.0) << "EMA and weights differ after 20 steps";
  // The resumed run appended to the metrics of the first half.
  std::vector<std::string> metrics = readLines(split.str("metrics.jsonl"));
  ASSERT_EQ(2u, metrics.size());
  EXPECT_EQ(10, jsonNumber(metrics[0], "step"));
  EXPECT_EQ(20, jsonNumber(metrics[1], "step"));
  EXPECT_EQ(readLines(whole.str("metrics.jsonl"))[1].substr(0, 30),
            metrics[1].substr(0, 30))
      << "same step and loss as the uninterrupted run";
}

TEST(TrainSample, CheckpointsLeaveNoTemporaryFiles) {
  ScratchDir dir;
  flowrt_program program = makeTestProgram();
  ASSERT_EQ(0, runMain(program, {"train", "--out-dir", dir.str(), "--steps",
                                 "30", "--batch", "32", "--checkpoint-every",
                                 "5", "--quiet"}));
  EXPECT_EQ((std::set<std::string>{"checkpoint.pt", "metrics.jsonl", "networks.json",
                                    "settings.jsonl", "spec.flow"}),
            entries(dir));
  NetworkSet model = testNetworks(program);
  EXPECT_EQ(
      30,
      loadCheckpoint(dir.str(CheckpointFile), program, *model, nullptr, nullptr).step);
  // networks.json, which flowc reads for frozen networks: the one network
  // and its signature v(x [2], t) -> [2].
  std::ifstream file(dir.str(NetworksFile));
  nlohmann::json networks = nlohmann::json::parse(file);
  ASSERT_EQ(1u, networks.size());
  EXPECT_EQ("v", networks[0]["name"]);
  EXPECT_EQ((std::vector<int>{FLOWRT_INPUT_TENSOR, FLOWRT_INPUT_TIME}),
            networks[0]["roles"].get<std::vector<int>>());
  EXPECT_EQ((std::vector<int64_t>{2, 1}), networks[0]["dims"].get<std::vector<int64_t>>());
  EXPECT_EQ(2, networks[0]["out_dim"]);
}

namespace {
flowrt_tensor *(*healthyLoss)(flowrt_ctx *, int64_t);
/// The test program's loss, except NaN at step 7 (index 6).
flowrt_tensor *nanAtStep7(flowrt_ctx *ctx, int64_t step) {
  flowrt_tensor *loss = healthyLoss(ctx, step);
  if (step == 6)
    flowrt_data(loss)[0] = NAN;
  return loss;
}

/// Trains the test program for 20 steps of batch 32 into `dir` with its loss
/// replaced by `loss`, checkpoints every 5 steps and the `extra` options;
/// expects the run to fail and returns what it printed on stderr.
std::string divergingRun(const ScratchDir &dir,
                         flowrt_tensor *(*loss)(flowrt_ctx *, int64_t),
                         std::vector<std::string> extra = {}) {
  flowrt_program program = makeTestProgram();
  healthyLoss = program.train_loss;
  program.train_loss = loss;
  std::vector<std::string> args = {"train", "--out-dir", dir.str(), "--steps", "20",
                                   "--batch", "32", "--checkpoint-every", "5", "--quiet"};
  args.insert(args.end(), extra.begin(), extra.end());
  CaptureStderr();
  int status = runMain(program, args);
  std::string err = GetCapturedStderr();
  EXPECT_EQ(1, status);
  return err;
}
} // namespace

TEST(TrainSample, NanLossStopsAndKeepsLastGoodCheckpoint) {
  ScratchDir dir;
  flowrt_program program = makeTestProgram();
  std::string err = divergingRun(dir, nanAtStep7);
  EXPECT_THAT(err, HasSubstr("the loss is NaN at step 7"));
  EXPECT_THAT(err, HasSubstr("last good checkpoint is " +
                             dir.str(CheckpointFile) + " (step 5)"));
  NetworkSet model = testNetworks(program);
  EXPECT_EQ(
      5, loadCheckpoint(dir.str(CheckpointFile), program, *model, nullptr, nullptr).step);
  EXPECT_EQ(
      (std::set<std::string>{"checkpoint.pt", "metrics.jsonl", "networks.json",
                             "settings.jsonl", "spec.flow"}),
      entries(dir));
}

namespace {
/// The test program's loss plus sqrt(0 * w) for the first weight w at step
/// 7: the loss stays finite, w's gradient is inf * 0 = NaN.
flowrt_tensor *nanGradientAtStep7(flowrt_ctx *ctx, int64_t step) {
  flowrt_tensor *loss = healthyLoss(ctx, step);
  if (step != 6)
    return loss;
  torch::Tensor w = ctx->net->parameters().at(0);
  return ctx->adopt(loss->value + torch::sqrt(w.flatten()[0] * 0));
}
} // namespace

TEST(TrainSample, NanGradientIsNamed) {
  ScratchDir dir;
  flowrt_program program = makeTestProgram();
  std::string err = divergingRun(dir, nanGradientAtStep7);
  std::string first = testNetworks(program)->named_parameters().begin()->key();
  EXPECT_THAT(err, HasSubstr("error: the gradient of parameter '" + first +
                             "' is NaN (the loss is "));
  EXPECT_THAT(err, HasSubstr(") at step 7 (the run diverged); the last good checkpoint is"));
}

TEST(TrainSample, KeepsTheLastKCheckpoints) {
  ScratchDir dir;
  flowrt_program program = makeTestProgram();
  ASSERT_EQ(0, runMain(program, {"train", "--out-dir", dir.str(), "--steps", "20", "--batch",
                                 "32", "--checkpoint-every", "5", "--keep", "2", "--quiet"}));
  EXPECT_EQ((std::set<std::string>{"checkpoint.pt", "checkpoint-15.pt", "checkpoint-20.pt",
                                   "metrics.jsonl", "networks.json", "settings.jsonl", "spec.flow"}),
            entries(dir));
  NetworkSet model = testNetworks(program);
  EXPECT_EQ(15, loadCheckpoint(dir.str("checkpoint-15.pt"), program, *model, nullptr, nullptr).step);
  std::ifstream settings(dir.str("settings.jsonl"));
  std::string line;
  std::getline(settings, line);
  nlohmann::json run = nlohmann::json::parse(line);
  EXPECT_EQ(20, run["steps"].get<int>());
  EXPECT_EQ(32, run["batch"].get<int>());
  EXPECT_DOUBLE_EQ(0.01, run["lr"].get<double>());
  EXPECT_EQ(5, run["checkpoint_every"].get<int>());
  EXPECT_EQ(2, run["keep"].get<int>());
  EXPECT_EQ(0, run["resume_from"].get<int>());
}

TEST(TrainSample, ResumeWithoutCheckpointIsAnError) {
  ScratchDir dir;
  flowrt_program program = makeTestProgram();
  CaptureStderr();
  EXPECT_EQ(1, runMain(program, {"train", "--out-dir", dir.str(), "--resume",
                                 "--quiet"}));
  EXPECT_THAT(GetCapturedStderr(),
              HasSubstr("no checkpoint in " + dir.str() + " to resume from"));
}

// The training loop around a captured step (--emulate-cuda-graph: on the
// CPU, each replay re-runs the step): 3 eager steps, then replays reading
// the batches refilled into fixed buffers, the loss summed on the device
// and checked at each log line. It must train exactly as the eager loop
// does (the same batches, noise and updates: bit-identical weights) and log
// the same losses (summed in float32 on the device: 1e-5 relative).
TEST(TrainSample, CapturedStepLoopTrainsAsTheEagerLoop) {
  ScratchDir eager, graph;
  flowrt_program program = makeTestProgram();
  std::vector<std::string> args = {"train", "--steps", "20", "--batch", "32", "--log-every", "5"};
  auto with = [&](std::vector<std::string> extra) {
    std::vector<std::string> all = args;
    all.insert(all.end(), extra.begin(), extra.end());
    return all;
  };
  ASSERT_EQ(0, runMain(program, with({"--quiet", "--out-dir", eager.str()})));
  CaptureStdout();
  CaptureStderr();
  ASSERT_EQ(0, runMain(program, with({"--out-dir", graph.str(), "--emulate-cuda-graph"})));
  GetCapturedStderr();
  EXPECT_THAT(GetCapturedStdout(),
              HasSubstr("steps 4 to 20 replayed the step captured as a CUDA graph"));
  NetworkSet a = testNetworks(program), b = testNetworks(program);
  loadCheckpoint(eager.str(CheckpointFile), program, *a, nullptr, nullptr);
  loadCheckpoint(graph.str(CheckpointFile), program, *b, nullptr, nullptr);
  for (size_t i = 0; i < a->parameters().size(); ++i)
    EXPECT_TRUE(torch::equal(a->parameters()[i], b->parameters()[i])) << "parameter " << i;
  std::vector<std::string> la = readLines(eager.str("metrics.jsonl")),
                           lb = readLines(graph.str("metrics.jsonl"));
  ASSERT_EQ(4u, la.size());
  ASSERT_EQ(4u, lb.size());
  for (size_t i = 0; i < la.size(); ++i)
    EXPECT_NEAR(jsonNumber(la[i], "loss"), jsonNumber(lb[i], "loss"),
                1e-5 * std::abs(jsonNumber(la[i], "loss")));
}

// A NaN in a replayed step is caught at the next log line, which names the
// range of steps; the checkpoint before it stays the last good one.
TEST(TrainSample, CapturedStepNanIsCaughtAtTheNextCheck) {
  ScratchDir dir;
  std::string err = divergingRun(dir, nanAtStep7, {"--log-every", "5", "--emulate-cuda-graph"});
  EXPECT_THAT(err, HasSubstr("the loss or a gradient became NaN or infinite between steps 6 "
                             "and 10"));
  EXPECT_THAT(err, HasSubstr("last good checkpoint is " + dir.str(CheckpointFile) +
                             " (step 5)"));
}
