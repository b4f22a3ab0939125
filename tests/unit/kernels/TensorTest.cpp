//===- TensorTest.cpp - Per-sample tensors of rank 2 ----------------------===//
//
// The flow `tens` of kernels.flow works on a [3, 2] matrix per sample (and
// `join`, at the end, on constants, literals, concat and stack):
//   m = a * reshape(x1, [1, 2]) + reshape(one_hot(1, 3), [3, 1])
//   w = reshape(v, [1, 2]) * m
//   p = w[2] + sum(w, axis: 0) + mean(w, 1)[0] * norm(w, axis: 0)
//   loss = mean((p - target)^2)
// tens_path must return m from the kernel's own normal draws of stream 2
// (rebuilt with the reference Philox and Box-Muller); tens_loss and
// tens_loss_grad (reverse mode through expand, reduce_to, reshape and a row
// slice) must match torch and torch.autograd on the same formula in double.
//
//===----------------------------------------------------------------------===//
#include "KernelTestUtil.h"

#include <gtest/gtest.h>

using namespace flowc_test;

namespace {

constexpr int64_t kRows = 512;
constexpr uint32_t kMatrixStream = 2;

/// The loss of one batch, per sample, in double (differentiable in v).
torch::Tensor referenceLoss(const torch::Tensor &v, const torch::Tensor &m,
                            const torch::Tensor &target) {
  torch::Tensor w = v.reshape({-1, 1, 2}) * m;                  // [n, 3, 2]
  torch::Tensor p = w.select(1, 2) + w.sum(1) +
                    w.mean(2).select(1, 0).unsqueeze(1) * w.pow(2).sum(1).sqrt();
  return (p - target).pow(2).mean(1);
}

} // namespace

TEST(Tensor, PathBuildsTheMatrixFromItsOwnDraws) {
  torch::manual_seed(6);
  torch::Tensor x1 = torch::randn({kRows, 2});
  torch::Tensor xt = torch::empty({kRows, 2}), t = torch::empty({kRows, 1});
  torch::Tensor m = torch::empty({kRows, 6}), target = torch::empty({kRows, 2});
  const int64_t seed = 21, step = 2;
  tens_path(kRows, seed, step, FLOWC_ROWS(buf(x1), kRows, 2),
            FLOWC_ROWS(buf(xt), kRows, 2), FLOWC_ROWS(buf(t), kRows, 1),
            FLOWC_ROWS(buf(m), kRows, 6), FLOWC_ROWS(buf(target), kRows, 2));
  torch::Tensor a = torch::empty({kRows, 6});
  for (int64_t i = 0; i < kRows; ++i)
    for (int64_t j = 0; j < 6; ++j) // flat, row-major index of [3, 2]
      a[i][j] = referenceNormal(i, j, kMatrixStream, seed, step);
  torch::Tensor hot = torch::tensor({0.0, 1.0, 0.0}, torch::kDouble).reshape({1, 3, 1});
  torch::Tensor want = d(a).reshape({kRows, 3, 2}) * d(x1).reshape({kRows, 1, 2}) + hot;
  double err = maxMixedError(m, want.reshape({kRows, 6}));
  measured("rank-2 path kernel error", err);
  EXPECT_LT(err, 2e-6);
}

TEST(Tensor, LossAndGradientThroughShapeOpsMatchAutograd) {
  torch::manual_seed(7);
  torch::Tensor v = torch::randn({kRows, 2}), m = torch::randn({kRows, 6});
  torch::Tensor target = torch::randn({kRows, 2}), g = torch::rand({kRows, 1});
  torch::Tensor loss = torch::empty({kRows, 1}), grad = torch::empty({kRows, 2});
  tens_loss(kRows, 0, 0, FLOWC_ROWS(buf(v), kRows, 2), FLOWC_ROWS(buf(m), kRows, 6),
            FLOWC_ROWS(buf(target), kRows, 2), FLOWC_ROWS(buf(loss), kRows, 1));
  tens_loss_grad(kRows, 0, 0, FLOWC_ROWS(buf(v), kRows, 2),
                 FLOWC_ROWS(buf(m), kRows, 6), FLOWC_ROWS(buf(target), kRows, 2),
                 FLOWC_ROWS(buf(g), kRows, 1), FLOWC_ROWS(buf(grad), kRows, 2));
  torch::Tensor vd = d(v).requires_grad_(true);
  torch::Tensor ref = referenceLoss(vd, d(m).reshape({kRows, 3, 2}), d(target));
  (ref * d(g).reshape({-1})).sum().backward();
  double lossErr = maxMixedError(loss.reshape({-1}), ref.detach());
  double gradErr = maxMixedError(grad, vd.grad());
  measured("rank-2 loss kernel error", lossErr);
  measured("rank-2 loss gradient error", gradErr);
  EXPECT_LT(lossErr, 1e-5);
  EXPECT_LT(gradErr, 1e-5);
}

// The flow `join` of kernels.flow: tensor constants (mu = [1, -2], a 3x2
// matrix), list literals, concat and stack.
namespace {

const torch::Tensor &mu() {
  static const torch::Tensor t = torch::tensor({1.0, -2.0}, torch::kDouble);
  return t;
}
const torch::Tensor &mix() {
  static const torch::Tensor t =
      torch::tensor({1.0, 0.5, -0.5, 2.0, 0.25, 0.0}, torch::kDouble).reshape({3, 2});
  return t;
}

/// join's loss per sample, in double, differentiable in v.
torch::Tensor joinLoss(const torch::Tensor &v, const torch::Tensor &target) {
  int64_t n = v.size(0);
  torch::Tensor s = torch::stack({v, mu() * v}, 2);                       // [n, 2, 2]
  torch::Tensor m = torch::cat({s, mix().expand({n, 3, 2})}, 1);          // [n, 5, 2]
  torch::Tensor p = torch::cat({m.sum(2), (v.select(1, 0) * v.select(1, 1)).unsqueeze(1)}, 1);
  return (p - target).pow(2).mean(1);
}

} // namespace

TEST(Tensor, ConcatOfDataALiteralAndAConstant) {
  torch::manual_seed(8);
  torch::Tensor x1 = torch::randn({kRows, 2});
  torch::Tensor xt = torch::empty({kRows, 2}), t = torch::empty({kRows, 1}),
                target = torch::empty({kRows, 6});
  join_path(kRows, 5, 3, FLOWC_ROWS(buf(x1), kRows, 2), FLOWC_ROWS(buf(xt), kRows, 2),
            FLOWC_ROWS(buf(t), kRows, 1), FLOWC_ROWS(buf(target), kRows, 6));
  torch::Tensor want = torch::cat({d(x1), d(t), 2 * d(t), mu() * d(x1)}, 1);
  double err = maxMixedError(target, want);
  measured("concat of x1, [t, 2 t] and mu * x1, error", err);
  EXPECT_LT(err, 1e-6);
  // A baseline that must fail: the constant's entries swapped.
  torch::Tensor swapped = torch::cat({d(x1), d(t), 2 * d(t), mu().flip(0) * d(x1)}, 1);
  EXPECT_GT(maxMixedError(target, swapped), 0.1);
}

TEST(Tensor, LossAndGradientThroughStackAndConcatMatchAutograd) {
  torch::manual_seed(9);
  torch::Tensor v = torch::randn({kRows, 2}), target = torch::randn({kRows, 6});
  torch::Tensor g = torch::rand({kRows, 1});
  torch::Tensor loss = torch::empty({kRows, 1}), grad = torch::empty({kRows, 2});
  join_loss(kRows, 0, 0, FLOWC_ROWS(buf(v), kRows, 2), FLOWC_ROWS(buf(target), kRows, 6),
            FLOWC_ROWS(buf(loss), kRows, 1));
  join_loss_grad(kRows, 0, 0, FLOWC_ROWS(buf(v), kRows, 2),
                 FLOWC_ROWS(buf(target), kRows, 6), FLOWC_ROWS(buf(g), kRows, 1),
                 FLOWC_ROWS(buf(grad), kRows, 2));
  torch::Tensor vd = d(v).requires_grad_(true);
  torch::Tensor ref = joinLoss(vd, d(target));
  (ref * d(g).reshape({-1})).sum().backward();
  double lossErr = maxMixedError(loss.reshape({-1}), ref.detach());
  double gradErr = maxMixedError(grad, vd.grad());
  measured("stack/concat loss kernel error", lossErr);
  measured("stack/concat loss gradient error", gradErr);
  EXPECT_LT(lossErr, 1e-5);
  EXPECT_LT(gradErr, 1e-5);
  // A baseline that must fail: stacking on the other axis.
  torch::Tensor other = torch::cat(
      {torch::cat({torch::stack({d(v), mu() * d(v)}, 1), mix().expand({kRows, 3, 2})}, 1).sum(2),
       (d(v).select(1, 0) * d(v).select(1, 1)).unsqueeze(1)}, 1);
  EXPECT_GT(maxMixedError(loss.reshape({-1}), (other - d(target)).pow(2).mean(1)), 1e-3);
}
