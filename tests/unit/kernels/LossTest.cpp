//===- LossTest.cpp - Loss kernels and their gradients vs LibTorch --------===//
//
// `loss mse(pred, target)` compiles to a per-sample loss kernel, the mean over
// features of (pred - target)^2, and a gradient kernel that the compiler
// derives from it: g * d loss / d pred for an incoming per-sample gradient g.
// For each flow of kernels.flow the forward is checked against torch, the
// backward against torch autograd with a random g, and the backward again
// against a central finite difference of the forward kernel itself, so the
// gradient is tested against the kernel it differentiates, not only against
// a formula.
//
//===----------------------------------------------------------------------===//
#include "KernelTestUtil.h"

#include <gtest/gtest.h>

using namespace flowc_test;

namespace {

using LossKernel = decltype(&rf_loss);
using LossGradKernel = decltype(&rf_loss_grad);

struct LossKernels {
  const char *flow;
  LossKernel loss;
  LossGradKernel grad;
};

const LossKernels kFlows[] = {{"rf", rf_loss, rf_loss_grad},
                              {"trig", trig_loss, trig_loss_grad},
                              {"quad", quad_loss, quad_loss_grad}};

torch::Tensor runLoss(LossKernel k, const torch::Tensor &pred,
                      const torch::Tensor &target) {
  int64_t n = pred.size(0);
  auto loss = torch::empty({n, 1});
  k(n, 0, 0, FLOWC_ROWS(buf(pred), n, 2), FLOWC_ROWS(buf(target), n, 2),
    FLOWC_ROWS(buf(loss), n, 1));
  return loss;
}

torch::Tensor runLossGrad(LossGradKernel k, const torch::Tensor &pred,
                          const torch::Tensor &target, const torch::Tensor &g) {
  int64_t n = pred.size(0);
  auto dpred = torch::empty({n, 2});
  k(n, 0, 0, FLOWC_ROWS(buf(pred), n, 2), FLOWC_ROWS(buf(target), n, 2),
    FLOWC_ROWS(buf(g), n, 1), FLOWC_ROWS(buf(dpred), n, 2));
  return dpred;
}

torch::Tensor torchLoss(const torch::Tensor &pred,
                        const torch::Tensor &target) {
  return (pred - target).pow(2).mean(1, /*keepdim=*/true);
}

const int64_t kRows = 4096;

} // namespace

// Forward vs ((pred - target)^2).mean(1): 1e-6 mixed abs/rel (losses reach
// ~40, where one float ulp is 4e-6, hence relative above 1).
TEST(LossKernel, ForwardMatchesTorch) {
  torch::manual_seed(1);
  auto pred = torch::randn({kRows, 2}) * 2, target = torch::randn({kRows, 2});
  auto want = torchLoss(pred, target);
  for (const auto &f : kFlows) {
    SCOPED_TRACE(f.flow);
    double err = maxMixedError(runLoss(f.loss, pred, target), want);
    measured("loss forward vs torch", err);
    EXPECT_LE(err, 1e-6);
  }
}

// Backward vs autograd of the torch loss, seeded with a random per-sample g
// (so a kernel that ignored g, or summed instead of averaged, fails): 1e-6.
TEST(LossKernel, BackwardMatchesAutograd) {
  torch::manual_seed(2);
  auto pred = torch::randn({kRows, 2}) * 2, target = torch::randn({kRows, 2});
  auto g = torch::randn({kRows, 1});
  auto p = pred.clone().requires_grad_(true);
  torchLoss(p, target).backward(g);
  auto want = p.grad();
  for (const auto &f : kFlows) {
    SCOPED_TRACE(f.flow);
    double err = maxMixedError(runLossGrad(f.grad, pred, target, g), want);
    measured("loss backward vs autograd", err);
    EXPECT_LE(err, 1e-6);
  }
}

// Backward (g = 1) vs a central difference of the forward kernel, taken in
// double from float32 losses: per feature j, shift column j of every row by
// +-eps (rows are independent). The realized float step is the divisor.
// Tolerance 1e-2 relative (absolute below 1, where a loss of ~20 rounded to
// float, ~2e-6, over 2 eps = 2e-2 is ~1e-4), and 1e-3 on the relative norm of
// the error: the loss is quadratic, so the difference has no truncation error
// and only rounding separates it from the true gradient.
TEST(LossKernel, BackwardMatchesFiniteDifferenceOfForward) {
  torch::manual_seed(3);
  auto pred = torch::randn({kRows, 2}) * 2, target = torch::randn({kRows, 2});
  auto ones = torch::ones({kRows, 1});
  const float eps = 1e-2f;
  for (const auto &f : kFlows) {
    SCOPED_TRACE(f.flow);
    auto grad = runLossGrad(f.grad, pred, target, ones).to(torch::kDouble);
    auto fd = torch::empty({kRows, 2}, torch::kDouble);
    for (int64_t j = 0; j < 2; ++j) {
      auto plus = pred.clone(), minus = pred.clone();
      plus.select(1, j).add_(eps);
      minus.select(1, j).sub_(eps);
      auto dLoss = runLoss(f.loss, plus, target).to(torch::kDouble) -
                   runLoss(f.loss, minus, target).to(torch::kDouble);
      auto dPred = (plus.select(1, j) - minus.select(1, j))
                       .to(torch::kDouble)
                       .unsqueeze(1);
      fd.select(1, j).copy_((dLoss / dPred).squeeze(1));
    }
    double rel = maxMixedError(grad, fd);
    double normRel = ((grad - fd).norm() / grad.norm()).item<double>();
    measured("loss backward vs finite difference, max rel", rel);
    measured("loss backward vs finite difference, norm rel", normRel);
    EXPECT_LE(rel, 1e-2);
    EXPECT_LE(normRel, 1e-3);
  }
}
