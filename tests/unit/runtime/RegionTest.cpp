//===- RegionTest.cpp - flowrt_region against torch autograd --------------===//
//
// flowrt_region runs a region kernel and its reverse-mode kernel (here
// hand-written, as flowc would generate them) as one autograd function.
// Chained between LibTorch ops, regions must give the losses and the
// gradients of torch autograd on the same math, written directly in
// LibTorch, to 1e-5 relative: through two regions, with several inputs and
// outputs, an input without an adjoint and an output that does not reach
// the loss.
//
//===----------------------------------------------------------------------===//

#include "Context.h"
#include "TestProgram.h"

#include <gtest/gtest.h>

#include <cmath>

namespace {

constexpr int64_t D = flowrt_test::Dim;

/// Region A(a, c) -> (a * c, sum_j sin(a_j)); adjoint for a only.
void productForward(flowrt_ctx *, int64_t n, float *const *in, float *const *out) {
  for (int64_t i = 0; i < n; ++i) {
    float s = 0;
    for (int64_t j = 0; j < D; ++j) {
      float a = in[0][i * D + j], c = in[1][i * D + j];
      out[0][i * D + j] = a * c;
      s += std::sin(a);
    }
    out[1][i] = s;
  }
}

void productBackward(flowrt_ctx *, int64_t n, float *const *in, float *const *dout,
                     float *const *din) {
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < D; ++j) {
      float a = in[0][i * D + j], c = in[1][i * D + j];
      din[0][i * D + j] = dout[0][i * D + j] * c + dout[1][i] * std::cos(a);
    }
}

const int32_t kProductGrad[] = {1, 0};
const int64_t kProductCols[] = {D, 1};
const flowrt_region_desc kProduct = {productForward, productBackward, 2, kProductGrad, 2,
                                     kProductCols};

std::vector<torch::Tensor> region(flowrt_ctx &ctx, const flowrt_region_desc &desc,
                                  std::vector<torch::Tensor> inputs) {
  std::vector<flowrt_tensor *> in;
  for (torch::Tensor &t : inputs)
    in.push_back(ctx.adopt(t));
  std::vector<flowrt_tensor *> out(desc.num_outputs);
  flowrt_region(&ctx, &desc, in.data(), out.data());
  std::vector<torch::Tensor> values;
  for (flowrt_tensor *t : out)
    values.push_back(t->value);
  return values;
}

double maxRelative(const torch::Tensor &got, const torch::Tensor &want) {
  return ((got - want).abs().max() / want.abs().max()).item<double>();
}

/// x @ w (a "network"), then region A, then the mse region on A's first
/// output; the loss is mean(mse) + weight * mean(A's second output).
struct Chain {
  flowrt_ctx ctx;
  torch::Tensor x = torch::randn({64, D}), c = torch::randn({64, D}),
                target = torch::randn({64, D});
  torch::Tensor w = torch::randn({D, D}).requires_grad_(true);

  torch::Tensor runtimeLoss(double weight) {
    auto a = x.matmul(w);
    auto product = region(ctx, kProduct, {a, c});
    auto mse = region(ctx, flowrt_test::mseRegion, {product[0], target});
    torch::Tensor loss = flowrt_batch_mean(&ctx, ctx.adopt(mse[0]))->value;
    if (weight != 0)
      loss = loss + weight * flowrt_batch_mean(&ctx, ctx.adopt(product[1]))->value;
    return loss;
  }

  torch::Tensor torchLoss(const torch::Tensor &wRef, double weight) {
    auto a = x.matmul(wRef);
    auto p = a * c;
    auto loss = (p - target).pow(2).mean(1).mean();
    return loss + weight * a.sin().sum(1).mean();
  }
};

} // namespace

// Two regions and a second loss term: the loss to 1e-6, w's gradient to
// 1e-5 relative, against autograd of the same computation in LibTorch.
TEST(FlowrtRegion, ChainedRegionsMatchAutograd) {
  torch::manual_seed(0);
  Chain c;
  torch::Tensor loss = c.runtimeLoss(0.5);
  ASSERT_EQ((std::vector<int64_t>{1, 1}), loss.sizes().vec());
  loss.sum().backward();
  torch::Tensor wRef = c.w.detach().clone().requires_grad_(true);
  torch::Tensor ref = c.torchLoss(wRef, 0.5);
  ref.backward();
  EXPECT_NEAR(ref.item<double>(), loss.item<double>(), 1e-6);
  EXPECT_GT(ref.item<double>(), 0.5);
  EXPECT_LT(maxRelative(c.w.grad(), wRef.grad()), 1e-5);
  EXPECT_GT(wRef.grad().abs().max().item<double>(), 1e-2);
}

// A's second output does not reach the loss: its adjoint is zero, and the
// gradient is still autograd's (a region that used garbage there would
// differ through the cos term).
TEST(FlowrtRegion, OutputOutsideTheLossHasZeroAdjoint) {
  torch::manual_seed(1);
  Chain c;
  c.runtimeLoss(0.0).sum().backward();
  torch::Tensor wRef = c.w.detach().clone().requires_grad_(true);
  c.torchLoss(wRef, 0.0).backward();
  EXPECT_LT(maxRelative(c.w.grad(), wRef.grad()), 1e-5);
}

// Inputs without an adjoint get no gradient; upstream gradients scale.
TEST(FlowrtRegion, OnlyMarkedInputsGetGradientsAndUpstreamScales) {
  torch::manual_seed(2);
  flowrt_ctx ctx;
  torch::Tensor v = torch::randn({32, D}).requires_grad_(true);
  torch::Tensor target = torch::randn({32, D}).requires_grad_(true);
  auto mse = region(ctx, flowrt_test::mseRegion, {v, target});
  (3.0 * flowrt_batch_mean(&ctx, ctx.adopt(mse[0]))->value).sum().backward();
  EXPECT_FALSE(target.grad().defined()) << "the mse region marks only its first input";
  torch::Tensor vRef = v.detach().clone().requires_grad_(true);
  (3.0 * (vRef - target.detach()).pow(2).mean(1).mean()).backward();
  EXPECT_LT(maxRelative(v.grad(), vRef.grad()), 1e-6);
}

TEST(FlowrtRegion, KernelsSeeCopiesNotTheTensors) {
  // A kernel that scribbles on its inputs must not change the caller's.
  torch::manual_seed(3);
  flowrt_ctx ctx;
  torch::Tensor a = torch::randn({16, D}), before = a.clone();
  auto scribble = [](flowrt_ctx *, int64_t n, float *const *in, float *const *out) {
    for (int64_t i = 0; i < n; ++i) {
      out[0][i] = 0;
      in[0][i * D] = 1e9f;
    }
  };
  flowrt_region_desc desc = flowrt_test::mseRegion;
  desc.forward = scribble;
  region(ctx, desc, {a, torch::zeros({16, D})});
  EXPECT_EQ(0.0, (a - before).abs().max().item<double>());
}
