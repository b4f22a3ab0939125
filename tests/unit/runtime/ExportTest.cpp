//===- ExportTest.cpp - Trained networks as TorchScript modules -----------===//
//
// Every runtime network exported by Export.h, saved, loaded back with
// torch::jit::load and run on random inputs gives the C++ module's output
// to 1e-6 (conditional and unconditional, with labels out of range and the
// null class); `export` on a trained test program writes the EMA weights by
// default and the raw ones with --weights raw, and reports bad use.
//
//===----------------------------------------------------------------------===//

#include "Checkpoint.h"
#include "Export.h"
#include "TestProgram.h"

#include <gtest/gtest.h>

using namespace flowrt;
using flowrt_test::ScratchDir;

namespace {

/// The exported module saved to `dir` and loaded back, as PyTorch would.
torch::jit::Module roundTrip(torch::jit::Module module, const ScratchDir &dir) {
  std::string path = dir.str("v.pt");
  module.save(path);
  return torch::jit::load(path);
}

/// max |module(x, t[, y]) - net(x, t[, y])| on 33 random rows, labels
/// from -1 (null) to classes (out of range, also null).
double maxDifference(torch::jit::Module &module, NetworkImpl &net, int64_t dim,
                     int64_t classes) {
  torch::NoGradGuard noGrad;
  torch::Tensor x = torch::randn({33, dim}), t = torch::rand({33, 1});
  torch::Tensor y = torch::randint(-1, classes + 1, {33, 1}).to(torch::kFloat);
  std::vector<torch::jit::IValue> inputs{x, t};
  if (classes > 0)
    inputs.emplace_back(y);
  torch::Tensor got = module.forward(inputs).toTensor();
  torch::Tensor expected = net.forward(x, t, classes > 0 ? y : torch::Tensor());
  EXPECT_EQ(expected.sizes().vec(), got.sizes().vec());
  return (got - expected).abs().max().item<double>();
}

/// Every parameter drawn again at scale 0.3, so zero-initialised layers
/// (the image networks' outputs, adaLN-Zero) take part in the comparison.
void randomize(torch::nn::Module &net) {
  torch::NoGradGuard noGrad;
  for (auto &p : net.parameters())
    p.copy_(0.3 * torch::randn_like(p));
}

flowrt_program imageProgram(const char *kind, int64_t classes) {
  return flowrt_test::makeImageProgram(kind, 2, classes);
}

} // namespace

TEST(Export, MlpMatchesTheRuntimeAfterSaveAndLoad) {
  ScratchDir dir;
  torch::manual_seed(0);
  for (const char *act : {"silu", "relu", "tanh", "gelu"}) {
    for (int64_t classes : {0, 3}) {
      SCOPED_TRACE(std::string(act) + " classes " + std::to_string(classes));
      MlpOptions opts;
      opts.inDim = 3;
      opts.width = 16;
      opts.depth = 2;
      opts.activation = act;
      opts.timeFeatures = classes > 0 ? 0 : 8; // the raw-time input too
      opts.classes = classes;
      Mlp net(opts);
      torch::jit::Module module = roundTrip(scriptMlp(*net), dir);
      double diff = maxDifference(module, *net, 3, classes);
      EXPECT_LE(diff, 1e-6);
      // The check can fail: another network's weights differ.
      Mlp other(opts);
      EXPECT_GT(maxDifference(module, *other, 3, classes), 1e-3);
    }
  }
}

// t (and y) may be one value for all rows, as torchdiffeq passes t.
TEST(Export, MlpBroadcastsOneTimeAndLabel) {
  ScratchDir dir;
  MlpOptions opts;
  opts.timeFeatures = 8;
  opts.classes = 2;
  Mlp net(opts);
  torch::jit::Module module = roundTrip(scriptMlp(*net), dir);
  torch::NoGradGuard noGrad;
  torch::Tensor x = torch::randn({5, 2});
  torch::Tensor one = module.forward({x, torch::tensor(0.25f), torch::tensor(1.0f)}).toTensor();
  torch::Tensor rows = net->forward(x, torch::full({5, 1}, 0.25f), torch::full({5, 1}, 1.0f));
  EXPECT_LE((one - rows).abs().max().item<double>(), 1e-6);
}

TEST(Export, ImageNetworksMatchTheRuntimeAfterSaveAndLoad) {
  ScratchDir dir;
  for (const char *kind : {"unet", "dit"}) {
    for (int64_t classes : {0, 4}) {
      SCOPED_TRACE(std::string(kind) + " classes " + std::to_string(classes));
      flowrt_program program = imageProgram(kind, classes);
      torch::manual_seed(1);
      Network net = makeNetwork(program, program.models[0]);
      randomize(*net);
      net->eval();
      torch::jit::Module module = roundTrip(scriptNetwork(program, program.models[0], net), dir);
      EXPECT_LE(maxDifference(module, *net, 128, classes), 1e-6);
      Network other = makeNetwork(program, program.models[0]);
      randomize(*other);
      EXPECT_GT(maxDifference(module, *other, 128, classes), 1e-3);
    }
  }
}

// An exported MLP is a module `torchscript(...)` takes; once its weights
// have changed (as training changes them), exporting that network writes
// the new weights, not the file's.
TEST(Export, TorchScriptNetworkIsSavedWithItsTrainedWeights) {
  ScratchDir dir;
  MlpOptions opts;
  opts.timeFeatures = 4;
  opts.classes = 2;
  Mlp mlp(opts);
  std::string user = dir.str("user.pt");
  scriptMlp(*mlp).save(user);
  flowrt_program program{};
  flowrt_model_desc &m = flowrt_test::setModel(program, {"v", "torchscript", 2, 2});
  m.path = user.c_str();
  m.classes = 2;
  Network net = makeNetwork(program, m);
  torch::jit::Module file = torch::jit::load(user);
  EXPECT_LE(maxDifference(file, *net, 2, 2), 1e-6);
  randomize(*net);
  torch::jit::Module module = roundTrip(scriptNetwork(program, m, net), dir);
  EXPECT_LE(maxDifference(module, *net, 2, 2), 1e-6);
  EXPECT_GT(maxDifference(module, *mlp, 2, 2), 1e-3);
}

TEST(Export, CommandWritesEmaOrRawWeights) {
  flowrt_program program = flowrt_test::makeTestProgram();
  ScratchDir dir;
  ASSERT_EQ(0, flowrt_test::runMain(program, {"train", "--out-dir", dir.str(), "--steps", "30",
                                              "--quiet", "--threads", "1"}));
  std::string ema = dir.str("ema.pt"), raw = dir.str("raw.pt");
  ASSERT_EQ(0, flowrt_test::runMain(program, {"export", "--out-dir", dir.str(), "-o", ema}));
  ASSERT_EQ(0, flowrt_test::runMain(program, {"export", "--out-dir", dir.str(), "-o", raw,
                                              "--weights", "raw"}));
  torch::jit::Module emaModule = torch::jit::load(ema), rawModule = torch::jit::load(raw);
  Network emaNet = loadSamplingNetworks(program, dir.str())->network(0);
  Network rawNet = loadSamplingNetworks(program, dir.str(), /*raw=*/true)->network(0);
  torch::manual_seed(2);
  EXPECT_LE(maxDifference(emaModule, *emaNet, flowrt_test::Dim, 0), 1e-6);
  EXPECT_LE(maxDifference(rawModule, *rawNet, flowrt_test::Dim, 0), 1e-6);
  // After 30 steps the EMA has not caught up with the weights.
  EXPECT_GT(maxDifference(emaModule, *rawNet, flowrt_test::Dim, 0), 1e-4);
}

TEST(Export, CommandReportsBadUse) {
  flowrt_program program = flowrt_test::makeTestProgram();
  ScratchDir dir;
  EXPECT_EQ(2, flowrt_test::runMain(program, {"export", "--out-dir", dir.str()}));
  EXPECT_EQ(2, flowrt_test::runMain(program, {"export", "-o", dir.str("v.pt"), "--weights",
                                              "best"}));
  // No checkpoint yet.
  EXPECT_EQ(1, flowrt_test::runMain(program, {"export", "--out-dir", dir.str(), "-o",
                                              dir.str("v.pt")}));
  ASSERT_EQ(0, flowrt_test::runMain(program, {"train", "--out-dir", dir.str(), "--steps", "1",
                                              "--quiet", "--threads", "1"}));
  // A directory that does not exist.
  EXPECT_EQ(1, flowrt_test::runMain(program, {"export", "--out-dir", dir.str(), "-o",
                                              dir.str("missing/v.pt")}));
}

// An MLP of another signature than v(x, t[, y]) exports with forward(a0,
// a1, ...) in its arguments' order, equal to the runtime's network.
TEST(Export, MlpOfAnySignature) {
  ScratchDir dir;
  const int32_t roles[] = {FLOWRT_INPUT_LABEL, FLOWRT_INPUT_TENSOR, FLOWRT_INPUT_TIME,
                           FLOWRT_INPUT_TIME};
  const int64_t dims[] = {1, 3, 1, 1};
  flowrt_model_desc desc{"g", "mlp", 3, 2, 4, roles, dims, 16, 2, "silu", 4, 5};
  torch::manual_seed(2);
  Mlp net(MlpOptions::fromDesc(desc));
  randomize(*net);
  torch::jit::Module module = roundTrip(scriptMlp(*net), dir);
  torch::Tensor y = torch::tensor({0.f, 4.f, -1.f, 2.f}).reshape({4, 1}),
                x = torch::randn({4, 3}), s = torch::rand({4, 1}), t = torch::rand({4, 1});
  torch::Tensor expected = net->apply({y, x, s, t});
  torch::Tensor got = module.forward({y, x, s, t}).toTensor();
  EXPECT_LE((got - expected).abs().max().item<double>(), 1e-6);
  EXPECT_GT((module.forward({y, x, t, s}).toTensor() - expected).abs().max().item<double>(),
            1e-4);
}
