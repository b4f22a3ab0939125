//===- TensorTest.cpp - Per-sample tensors of rank 2 ----------------------===//
//
// The flow `tens` of kernels.flow works on a [3, 2] matrix per sample:
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
