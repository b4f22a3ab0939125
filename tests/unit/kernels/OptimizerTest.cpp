//===- OptimizerTest.cpp - Generated optimizer and EMA kernels ------------===//
//
// The optimizer kernels of kernels.flow update a flat parameter buffer in
// place (output buffers = input buffers, as the runtime calls them) and must
// follow their references step for step: rf_optimizer (std.optimizers adam)
// torch::optim::Adam, quad_optimizer (adamw, wd 0.1, b2 0.99)
// torch::optim::AdamW, trig_optimizer (sgd, mu 0.9) torch::optim::SGD with
// momentum, poly_optimizer (a Lion written in kernels.flow) Lion's update
// (Chen et al. 2023, Algorithm 2) computed with torch in double. Each runs 6
// steps on 4099 parameters (not a multiple of a vector width) with fresh
// gradients, at a learning rate large enough that a wrong bias correction or
// a swapped moment shows.
//
//===----------------------------------------------------------------------===//
#include "KernelTestUtil.h"

#include <gtest/gtest.h>

using namespace flowc_test;

namespace {

constexpr int64_t kParams = 4099;
constexpr int kSteps = 6;
constexpr float kLr = 0.01f;

/// Runs `kernel` kSteps times in place on (p, g, state...) and `reference`
/// on a torch parameter with the same gradients; returns the largest
/// difference of the parameters over all steps.
template <typename Kernel, typename Reference>
double compare(int numState, Kernel kernel, Reference reference) {
  torch::manual_seed(21);
  torch::Tensor p = torch::randn({kParams, 1});
  std::vector<torch::Tensor> state;
  for (int i = 0; i < numState; ++i)
    state.push_back(torch::zeros({kParams, 1}));
  torch::Tensor want = p.clone().squeeze(1).requires_grad_(true);
  double worst = 0;
  for (int step = 1; step <= kSteps; ++step) {
    torch::Tensor g = torch::randn({kParams, 1}) * (step % 2 ? 1.0 : 1e-3);
    kernel(p, g, state, float(step));
    want.mutable_grad() = g.squeeze(1).clone();
    reference(want, step);
    worst = std::max(worst, maxAbsError(p.squeeze(1), want.detach()));
  }
  return worst;
}

/// A generated optimizer kernel with two state variables (Adam's m and v),
/// called in place.
using TwoStateKernel = decltype(&rf_optimizer);
auto inPlace(TwoStateKernel kernel) {
  return [kernel](torch::Tensor &p, torch::Tensor &g, std::vector<torch::Tensor> &s,
                  float step) {
    kernel(kParams, 0, 0, FLOWC_ROWS(buf(p), kParams, 1), FLOWC_ROWS(buf(g), kParams, 1),
           FLOWC_ROWS(buf(s[0]), kParams, 1), FLOWC_ROWS(buf(s[1]), kParams, 1), kLr, step,
           FLOWC_ROWS(buf(p), kParams, 1), FLOWC_ROWS(buf(s[0]), kParams, 1),
           FLOWC_ROWS(buf(s[1]), kParams, 1));
  };
}

} // namespace

TEST(Optimizer, AdamKernelFollowsTorchAdam) {
  std::unique_ptr<torch::optim::Adam> adam;
  double error = compare(
      2, inPlace(rf_optimizer),
      [&](torch::Tensor &want, int) {
        if (!adam)
          adam = std::make_unique<torch::optim::Adam>(
              std::vector<torch::Tensor>{want}, torch::optim::AdamOptions(kLr));
        adam->step();
      });
  measured("adam kernel vs torch::optim::Adam, max |dp| over 6 steps", error);
  EXPECT_LT(error, 2e-6);
}

TEST(Optimizer, AdamWKernelFollowsTorchAdamW) {
  std::unique_ptr<torch::optim::AdamW> adamw;
  double error = compare(
      2, inPlace(quad_optimizer),
      [&](torch::Tensor &want, int) {
        if (!adamw)
          adamw = std::make_unique<torch::optim::AdamW>(
              std::vector<torch::Tensor>{want},
              torch::optim::AdamWOptions(kLr).betas({0.9, 0.99}).weight_decay(0.1));
        adamw->step();
      });
  measured("adamw kernel vs torch::optim::AdamW, max |dp| over 6 steps", error);
  EXPECT_LT(error, 2e-6);
}

TEST(Optimizer, SgdKernelFollowsTorchSgdWithMomentum) {
  std::unique_ptr<torch::optim::SGD> sgd;
  double error = compare(
      1,
      [](torch::Tensor &p, torch::Tensor &g, std::vector<torch::Tensor> &s, float step) {
        trig_optimizer(kParams, 0, 0, FLOWC_ROWS(buf(p), kParams, 1),
                       FLOWC_ROWS(buf(g), kParams, 1), FLOWC_ROWS(buf(s[0]), kParams, 1),
                       kLr, step, FLOWC_ROWS(buf(p), kParams, 1),
                       FLOWC_ROWS(buf(s[0]), kParams, 1));
      },
      [&](torch::Tensor &want, int) {
        if (!sgd)
          sgd = std::make_unique<torch::optim::SGD>(std::vector<torch::Tensor>{want},
                                                    torch::optim::SGDOptions(kLr).momentum(0.9));
        sgd->step();
      });
  measured("sgd kernel vs torch::optim::SGD (momentum 0.9), max |dp| over 6 steps", error);
  EXPECT_LT(error, 1e-6);
}

TEST(Optimizer, UserLionKernelFollowsLionsUpdate) {
  // Lion (Chen et al. 2023, Algorithm 2): c = b1 m + (1 - b1) g,
  // p = p (1 - lr wd) - lr sign(c), m = b2 m + (1 - b2) g.
  const double b1 = 0.9, b2 = 0.95, wd = 0.5;
  torch::Tensor m;
  double error = compare(
      1,
      [](torch::Tensor &p, torch::Tensor &g, std::vector<torch::Tensor> &s, float step) {
        poly_optimizer(kParams, 0, 0, FLOWC_ROWS(buf(p), kParams, 1),
                       FLOWC_ROWS(buf(g), kParams, 1), FLOWC_ROWS(buf(s[0]), kParams, 1),
                       kLr, step, FLOWC_ROWS(buf(p), kParams, 1),
                       FLOWC_ROWS(buf(s[0]), kParams, 1));
      },
      [&](torch::Tensor &want, int) {
        torch::NoGradGuard noGrad;
        torch::Tensor g = d(want.grad());
        if (!m.defined())
          m = torch::zeros_like(g);
        torch::Tensor c = b1 * m + (1 - b1) * g;
        want.copy_(d(want) * (1 - kLr * wd) - kLr * torch::sign(c));
        m = b2 * m + (1 - b2) * g;
      });
  measured("user lion kernel vs Lion's update in double, max |dp| over 6 steps", error);
  EXPECT_LT(error, 1e-6);
}

TEST(Optimizer, EmaKernelIsTheMovingAverage) {
  torch::manual_seed(22);
  torch::Tensor e = torch::randn({kParams, 1}), p = torch::randn({kParams, 1});
  torch::Tensor want = 0.75 * d(e) + 0.25 * d(p);
  rf_ema(kParams, 0, 0, FLOWC_ROWS(buf(e), kParams, 1), FLOWC_ROWS(buf(p), kParams, 1),
         0.75f, FLOWC_ROWS(buf(e), kParams, 1));
  double error = maxAbsError(e, want);
  measured("ema kernel (decay 0.75) vs the formula in double", error);
  EXPECT_LT(error, 1e-6);
}
