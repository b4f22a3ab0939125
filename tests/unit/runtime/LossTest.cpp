//===- LossTest.cpp - flowrt_loss against torch autograd ------------------===//
//
// flowrt_loss with a hand-written mean-squared-error kernel pair (what flowc
// would generate) must give the same mean loss and the same gradient for
// inputs[0] as torch autograd on the same math, to 1e-6, pass no gradient to
// the other inputs, and scale with the gradient flowing in.
//
//===----------------------------------------------------------------------===//

#include "Context.h"
#include "TestProgram.h"

#include <gtest/gtest.h>

namespace {

struct LossCase {
  flowrt_ctx ctx;
  torch::Tensor v = torch::randn({64, 2}).requires_grad_(true);
  torch::Tensor target = torch::randn({64, 2}).requires_grad_(true);

  torch::Tensor runtimeLoss() {
    flowrt_tensor *inputs[] = {ctx.adopt(v), ctx.adopt(target)};
    return flowrt_loss(&ctx, flowrt_test::mseForward, flowrt_test::mseBackward,
                       2, inputs)
        ->value;
  }
};

} // namespace

TEST(FlowrtLoss, ForwardAndBackwardMatchAutograd) {
  torch::manual_seed(0);
  LossCase c;
  torch::Tensor loss = c.runtimeLoss();
  ASSERT_EQ((std::vector<int64_t>{1, 1}), loss.sizes().vec());
  loss.sum().backward();
  torch::Tensor grad = c.v.grad().clone();
  EXPECT_FALSE(c.target.grad().defined()) << "only inputs[0] gets a gradient";

  torch::Tensor vRef = c.v.detach().clone().requires_grad_(true);
  torch::Tensor ref = (vRef - c.target.detach()).pow(2).mean(1).mean();
  ref.backward();
  EXPECT_NEAR(ref.item<double>(), loss.item<double>(), 1e-6);
  EXPECT_GT(ref.item<double>(), 0.5); // ~2 for two N(0, 1) draws
  EXPECT_LT((grad - vRef.grad()).abs().max().item<double>(), 1e-6);
  EXPECT_GT(grad.abs().max().item<double>(), 1e-3);
}

TEST(FlowrtLoss, GradientScalesWithUpstreamGradient) {
  torch::manual_seed(1);
  LossCase c;
  (3.0 * c.runtimeLoss()).sum().backward();
  torch::Tensor vRef = c.v.detach().clone().requires_grad_(true);
  (3.0 * (vRef - c.target.detach()).pow(2).mean(1).mean()).backward();
  EXPECT_LT((c.v.grad() - vRef.grad()).abs().max().item<double>(), 1e-6);
}

TEST(FlowrtLoss, KernelsSeeCopiesNotTheTensors) {
  // A kernel that scribbles on its inputs must not change the caller's.
  torch::manual_seed(2);
  LossCase c;
  torch::Tensor before = c.v.detach().clone();
  auto scribble = [](flowrt_ctx *, int64_t n, float *const *inputs, float *loss) {
    for (int64_t i = 0; i < n; ++i) {
      loss[i] = 0;
      inputs[0][2 * i] = 1e9f;
    }
  };
  flowrt_tensor *inputs[] = {c.ctx.adopt(c.v), c.ctx.adopt(c.target)};
  flowrt_loss(&c.ctx, scribble, flowrt_test::mseBackward, 2, inputs);
  EXPECT_EQ(0.0, (c.v.detach() - before).abs().max().item<double>());
}
