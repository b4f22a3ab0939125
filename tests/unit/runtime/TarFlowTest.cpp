//===- TarFlowTest.cpp - TARFlow's forward, inverse and log-determinant ----===//
//
// runtime/src/TarFlow.h against closed forms and brute force, on random
// weights (each parameter moved by N(0, 0.05^2) from its initialisation,
// whose zero output layer makes the identity):
//   - a fresh flow is the identity: z = x, logdet 0, log p = the standard
//     normal's, and its denoising step is x - sigma^2 x (Tweedie with the
//     score -x);
//   - inverse(forward(x)) = x within 1e-4, token by token (KV cache) and by
//     Jacobi iteration, unconditional and with labels;
//   - the log-determinant equals log|det| of the Jacobian built column by
//     column with autograd (in double precision) within 1e-4, and each block
//     is autoregressive: token i of z moves with no later token of x;
//   - Jacobi iteration needs at most T - 1 iterations a block and agrees with
//     the sequential inverse; guidance 0 is the conditional inverse, and
//     guidance moves the sample.
//
//===----------------------------------------------------------------------===//

#include "TarFlow.h"

#include <gtest/gtest.h>

#include <cmath>

using namespace flowrt;

namespace {

TarFlowOptions smallOptions(int64_t classes = 0) {
  TarFlowOptions o;
  o.channels = 1;
  o.height = o.width = 4;
  o.patch = 2; // 4 tokens of 4 values: D = 16
  o.blocks = 3;
  o.depth = 2;
  o.features = 16;
  o.heads = 2;
  o.classes = classes;
  return o;
}

TarFlow randomFlow(TarFlowOptions o, uint64_t seed) {
  torch::manual_seed(seed);
  TarFlow flow(o);
  torch::NoGradGuard noGrad;
  for (auto &p : flow->parameters())
    p.add_(0.05 * torch::randn_like(p));
  return flow;
}

double maxAbs(const torch::Tensor &a) { return a.abs().max().item<double>(); }

} // namespace

TEST(TarFlow, FreshFlowIsTheIdentity) {
  torch::manual_seed(1);
  TarFlow flow(smallOptions());
  auto x = torch::randn({5, 16});
  auto [z, logdet] = flow->forward(x);
  EXPECT_EQ(maxAbs(z - x), 0.0);
  EXPECT_EQ(maxAbs(logdet), 0.0);
  auto normal = -0.5 * x.pow(2).sum(1) - 8 * std::log(2 * M_PI);
  EXPECT_LE(maxAbs(flow->logProb(x) - normal), 1e-5);
  EXPECT_LE(maxAbs(flow->denoise(x, 0.3) - (x - 0.09 * x)), 1e-6);
}

TEST(TarFlow, InverseUndoesForward) {
  for (int64_t classes : {0, 3}) {
    TarFlow flow = randomFlow(smallOptions(classes), 2 + classes);
    torch::NoGradGuard noGrad;
    auto x = torch::randn({64, 16});
    auto y = classes ? torch::randint(-1, classes, {64}).to(torch::kFloat) : torch::Tensor();
    auto [z, logdet] = flow->forward(x, y);
    EXPECT_GT(maxAbs(z - x), 0.05) << "the random weights must move the points";
    double sequential = maxAbs(flow->inverse(z, y) - x);
    double jacobi = maxAbs(flow->inverse(z, y, 0, 1e-7) - x);
    std::printf("[ measured ] classes %lld: |inverse(forward(x)) - x| sequential %.3g, "
                "Jacobi %.3g (%lld iterations over 3 blocks)\n",
                static_cast<long long>(classes), sequential, jacobi,
                static_cast<long long>(flow->lastJacobiIterations()));
    EXPECT_LE(sequential, 1e-4);
    EXPECT_LE(jacobi, 1e-4);
    EXPECT_LE(flow->lastJacobiIterations(), 3 * 3); // T - 1 = 3 per block
  }
}

TEST(TarFlow, DeepShallowPutsTheDeepBlockNextToTheNoise) {
  // STARFlow's design: `deep` layers in the last block applied to x (the
  // first that sampling inverts), `depth` in the others; still exact.
  TarFlowOptions o = smallOptions(3);
  o.depth = 1;
  o.deep = 4;
  TarFlow flow = randomFlow(o, 11);
  std::vector<int64_t> layers;
  for (const auto &block : flow->named_children()["blocks"]->children())
    layers.push_back(static_cast<int64_t>(block->named_children()["layers"]->children().size()));
  EXPECT_EQ(layers, (std::vector<int64_t>{1, 1, 4}));
  torch::NoGradGuard noGrad;
  auto x = torch::randn({32, 16});
  auto y = torch::randint(-1, 3, {32}).to(torch::kFloat);
  auto [z, logdet] = flow->forward(x, y);
  EXPECT_GT(maxAbs(z - x), 0.05);
  double sequential = maxAbs(flow->inverse(z, y) - x);
  double jacobi = maxAbs(flow->inverse(z, y, 0, 1e-7) - x);
  std::printf("[ measured ] deep-shallow: |inverse(forward(x)) - x| sequential %.3g, "
              "Jacobi %.3g\n", sequential, jacobi);
  EXPECT_LE(sequential, 1e-4);
  EXPECT_LE(jacobi, 1e-4);
}

TEST(TarFlow, LogDeterminantMatchesTheJacobian) {
  TarFlow flow = randomFlow(smallOptions(), 7);
  flow->to(torch::kDouble);
  auto x = torch::randn({3, 16}, torch::kDouble);
  for (int64_t s = 0; s < 3; ++s) {
    auto xs = x.slice(0, s, s + 1).clone().requires_grad_(true);
    auto [z, logdet] = flow->forward(xs);
    std::vector<torch::Tensor> rows;
    for (int64_t i = 0; i < 16; ++i)
      rows.push_back(torch::autograd::grad({z[0][i]}, {xs}, {}, /*retain_graph=*/true)[0][0]);
    auto jacobian = torch::stack(rows); // dz_i / dx_j
    double brute = std::get<1>(torch::linalg_slogdet(jacobian)).item<double>();
    double err = std::abs(brute - logdet.item<double>());
    std::printf("[ measured ] logdet %.6f vs log|det J| %.6f: %.3g\n", logdet.item<double>(),
                brute, err);
    EXPECT_LE(err, 1e-4);
    EXPECT_GT(std::abs(brute), 1e-3) << "the random weights must change volumes";
  }
}

TEST(TarFlow, EachBlockIsAutoregressive) {
  TarFlowOptions o = smallOptions();
  o.blocks = 1; // one block, tokens in their own order
  TarFlow flow = randomFlow(o, 9);
  torch::NoGradGuard noGrad;
  auto x = torch::randn({4, 16});
  auto [z, logdet] = flow->forward(x);
  // Tokens are the 2x2 patches in row-major order: token k holds pixels
  // (2 (k / 2) + a, 2 (k % 2) + b). Moving the last patch's pixels moves
  // nothing of z outside that patch; moving the first moves every patch.
  auto patchOf = [](int64_t pixel) { return (pixel / 4 / 2) * 2 + (pixel % 4) / 2; };
  for (int64_t moved : {0, 3}) {
    auto x2 = x.clone();
    for (int64_t pixel = 0; pixel < 16; ++pixel)
      if (patchOf(pixel) == moved)
        x2.select(1, pixel).add_(0.5);
    auto [z2, ld2] = flow->forward(x2);
    for (int64_t pixel = 0; pixel < 16; ++pixel) {
      double change = maxAbs(z2.select(1, pixel) - z.select(1, pixel));
      if (patchOf(pixel) < moved)
        EXPECT_EQ(change, 0.0) << "pixel " << pixel << " moved with a later patch";
      else if (patchOf(pixel) > moved)
        EXPECT_GT(change, 1e-6) << "pixel " << pixel << " ignores an earlier patch";
    }
  }
}

TEST(TarFlow, JacobiAgreesWithTheSequentialInverse) {
  TarFlow flow = randomFlow(smallOptions(4), 11);
  torch::NoGradGuard noGrad;
  auto z = torch::randn({32, 16});
  auto y = torch::randint(0, 4, {32}).to(torch::kFloat);
  for (double w : {0.0, 1.5}) {
    auto sequential = flow->inverse(z, y, w);
    auto jacobi = flow->inverse(z, y, w, 1e-7);
    EXPECT_LE(maxAbs(sequential - jacobi), 1e-5) << "guidance " << w;
  }
  // Block Jacobi (STARFlow's): groups of 3 tokens in turn, the last group
  // shorter; each group settles in at most its size's iterations.
  auto block = flow->inverse(z, y, 0.0, 1e-7, /*jacobiGroup=*/3);
  EXPECT_LE(maxAbs(block - flow->inverse(z, y)), 1e-5);
  EXPECT_LE(flow->lastJacobiIterations(), 3 * (2 + 1)); // tokens 0-2: 2, token 3: 1
  // Guidance 0 is the conditional inverse; guidance moves it.
  EXPECT_LE(maxAbs(flow->inverse(z, y, 0.0) - flow->inverse(z, y)), 0.0);
  EXPECT_GT(maxAbs(flow->inverse(z, y, 1.5) - flow->inverse(z, y)), 1e-4);
}
