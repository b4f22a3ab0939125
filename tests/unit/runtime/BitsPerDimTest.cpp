//===- BitsPerDimTest.cpp - Bits per dimension against a closed form ------===//
//
// A network whose weights are zero but for its output bias b is the
// constant field v = b: the ODE carries x back to x - b with no change of
// volume, so log p(x) = log N(x - b; 0, I) exactly. imageBitsPerDim must
// give -(mean log N(x + u w - b) + D log w) / (D log 2) for the same
// dequantization noise u (its documented seeded draw), to float precision.
//
//===----------------------------------------------------------------------===//

#include "Commands.h"
#include "Context.h"
#include "Network.h"
#include "TestProgram.h"

#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>

#include <cmath>

using namespace flowrt;

TEST(BitsPerDim, ConstantFieldMatchesTheGaussianClosedForm) {
  flowrt_program program = flowrt_test::makeTestProgram();
  program.source = {"normal", 0.0, 1.0};
  Network net = makeNetwork(program, program.models[0]);
  torch::NoGradGuard noGrad;
  for (auto &p : net->parameters())
    p.zero_();
  torch::Tensor bias = net->parameters().back();
  ASSERT_EQ(bias.numel(), 2);
  bias.copy_(torch::tensor({0.3f, -0.2f}));
  flowrt_ctx ctx;
  ctx.program = &program;
  ctx.net = net.get();
  ctx.nets = {net.get()};

  torch::Tensor images = torch::rand({100, 2}) * 2 - 1; // any points in [-1, 1]
  double width = 2.0 / 255, seed = 5;
  for (bool hutchinson : {false, true}) {
    double bpd = imageBitsPerDim(program, ctx, images, torch::Tensor(), width,
                                 program.solvers[0], 4, hutchinson, seed);
    at::Generator gen = at::detail::createCPUGenerator(seed);
    torch::Tensor x = (images + torch::rand(images.sizes(), gen, torch::kFloat) * width)
                          .to(torch::kDouble) -
                      bias.to(torch::kDouble);
    double logp = (-0.5 * x.pow(2).sum(1) - std::log(2 * M_PI)).mean().item<double>();
    double expected = -(logp + 2 * std::log(width)) / (2 * std::log(2.0));
    EXPECT_NEAR(bpd, expected, 1e-5 * std::abs(expected)) << "hutchinson " << hutchinson;
  }
}
