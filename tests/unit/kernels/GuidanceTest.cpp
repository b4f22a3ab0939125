//===- GuidanceTest.cpp - Condition dropout and guidance kernels ----------===//
//
// The conditional flows of kernels.flow: cond_path computes drop(y, 0.25),
// which must be -1 exactly where the kernel's uniform draw of stream 2 is
// below 0.25 (checked against the reference Philox, so bit for bit) and y
// elsewhere; cond_guidance is std.guidance's cfg with w from the host, and
// cond2_guidance a user fn of (v_c, v_u, x, t, w, k = 0.5), both checked
// against the formula computed with torch in double.
//
//===----------------------------------------------------------------------===//
#include "KernelTestUtil.h"

#include <gtest/gtest.h>

using namespace flowc_test;

namespace {

constexpr int64_t kRows = 4096;
constexpr uint32_t kDropStream = 2;

} // namespace

TEST(Guidance, DropHidesTheLabelWhereItsUniformDrawIsBelowP) {
  torch::manual_seed(3);
  torch::Tensor x1 = torch::randn({kRows, 2});
  torch::Tensor y = torch::randint(0, 2, {kRows, 1}).to(torch::kFloat);
  torch::Tensor xt = torch::empty({kRows, 2}), t = torch::empty({kRows, 1});
  torch::Tensor yIn = torch::empty({kRows, 1}), target = torch::empty({kRows, 2});
  const int64_t seed = 11, step = 5;
  cond_path(kRows, seed, step, FLOWC_ROWS(buf(x1), kRows, 2),
            FLOWC_ROWS(buf(y), kRows, 1), FLOWC_ROWS(buf(xt), kRows, 2),
            FLOWC_ROWS(buf(t), kRows, 1), FLOWC_ROWS(buf(yIn), kRows, 1),
            FLOWC_ROWS(buf(target), kRows, 2));
  int64_t dropped = 0;
  for (int64_t i = 0; i < kRows; ++i) {
    bool drop = referenceUniform(i, 0, kDropStream, seed, step) < 0.25f;
    dropped += drop;
    float want = drop ? -1.0f : y[i][0].item<float>();
    ASSERT_EQ(want, yIn[i][0].item<float>()) << "row " << i;
  }
  // The fraction is binomial(4096, 0.25): within 4 standard deviations.
  double fraction = double(dropped) / kRows;
  measured("fraction of labels dropped (p = 0.25)", fraction);
  EXPECT_NEAR(0.25, fraction, 4 * std::sqrt(0.25 * 0.75 / kRows));
}

TEST(Guidance, CfgKernelIsVuPlusWTimesTheDifference) {
  torch::manual_seed(4);
  torch::Tensor vc = torch::randn({kRows, 2}), vu = torch::randn({kRows, 2});
  torch::Tensor x = torch::randn({kRows, 2}), out = torch::empty({kRows, 2});
  torch::Tensor t = torch::rand({kRows, 1}); // each sample's own time
  for (float w : {0.0f, 1.0f, 3.0f, -0.5f}) {
    cond_guidance(kRows, 0, 0, FLOWC_ROWS(buf(vc), kRows, 2),
                  FLOWC_ROWS(buf(vu), kRows, 2), FLOWC_ROWS(buf(x), kRows, 2),
                  FLOWC_ROWS(buf(t), kRows, 1), w, FLOWC_ROWS(buf(out), kRows, 2));
    torch::Tensor want = d(vu) + w * (d(vc) - d(vu));
    EXPECT_LT(maxMixedError(out, want), 1e-6) << "w = " << w;
  }
}

TEST(Guidance, UserFnGetsStateTimeScaleAndConstants) {
  torch::manual_seed(5);
  torch::Tensor vc = torch::randn({kRows, 2}), vu = torch::randn({kRows, 2});
  torch::Tensor x = torch::randn({kRows, 2}), out = torch::empty({kRows, 2});
  torch::Tensor t = torch::rand({kRows, 1}); // each sample's own time
  const float w = 2.0f, k = 0.5f;            // k from the sample block
  cond2_guidance(kRows, 0, 0, FLOWC_ROWS(buf(vc), kRows, 2),
                 FLOWC_ROWS(buf(vu), kRows, 2), FLOWC_ROWS(buf(x), kRows, 2),
                 FLOWC_ROWS(buf(t), kRows, 1), w, FLOWC_ROWS(buf(out), kRows, 2));
  torch::Tensor want = d(vu) + w * (1 - d(t)) * (d(vc) - d(vu)) - k * d(x);
  double err = maxMixedError(out, want);
  measured("damped guidance kernel error", err);
  EXPECT_LT(err, 1e-6);
}

namespace {

/// A guidance kernel's output for velocities (vc, vu), state x, times t and
/// scale w, against `want` computed in double; returns the error.
using GuidanceKernel = decltype(&cond_guidance);
double guidanceError(GuidanceKernel kernel, const torch::Tensor &vc, const torch::Tensor &vu,
                     const torch::Tensor &x, const torch::Tensor &t, float w,
                     const torch::Tensor &want) {
  int64_t n = vc.size(0);
  torch::Tensor out = torch::empty({n, 2});
  kernel(n, 0, 0, FLOWC_ROWS(buf(vc), n, 2), FLOWC_ROWS(buf(vu), n, 2),
         FLOWC_ROWS(buf(x), n, 2), FLOWC_ROWS(buf(t), n, 1), w, FLOWC_ROWS(buf(out), n, 2));
  return maxMixedError(out, want);
}

/// Per-sample dot product [n, 1] of two [n, d] tensors.
torch::Tensor rowDot(const torch::Tensor &a, const torch::Tensor &b) {
  return (a * b).sum(1, /*keepdim=*/true);
}

struct Velocities {
  torch::Tensor vc, vu, x, t;
};

Velocities randomVelocities(int seed) {
  torch::manual_seed(seed);
  return {torch::randn({kRows, 2}), torch::randn({kRows, 2}), torch::randn({kRows, 2}),
          torch::rand({kRows, 1})};
}

} // namespace

// std.guidance's variants against their formulas written here in torch
// (double), with the constants of kernels.flow's sample blocks.
TEST(Guidance, CfgIntervalGuidesOnlyInsideItsInterval) {
  auto [vc, vu, x, t] = randomVelocities(6);
  const double w = 3, lo = 0.25, hi = 0.75;
  torch::Tensor on = ((d(t) >= lo) & (d(t) <= hi)).to(torch::kDouble);
  torch::Tensor want = on * (d(vu) + w * (d(vc) - d(vu))) + (1 - on) * d(vc);
  double err = guidanceError(gi_guidance, vc, vu, x, t, w, want);
  measured("cfg_interval kernel error", err);
  EXPECT_LT(err, 1e-6);
}

TEST(Guidance, CfgZeroStarRescalesTheUnconditionalVelocity) {
  auto [vc, vu, x, t] = randomVelocities(7);
  const double w = 3, zeroUntil = 0.1;
  torch::Tensor s = rowDot(d(vc), d(vu)) / (rowDot(d(vu), d(vu)) + 1e-8);
  torch::Tensor want = (d(t) >= zeroUntil).to(torch::kDouble) *
                       (s * d(vu) + w * (d(vc) - s * d(vu)));
  double err = guidanceError(gz_guidance, vc, vu, x, t, w, want);
  measured("cfg_zero_star kernel error", err);
  EXPECT_LT(err, 1e-5);
  EXPECT_GT((t < zeroUntil).sum().item<int64_t>(), 100); // zero-init is exercised
}

TEST(Guidance, ApgProjectsAndLimitsTheGuidanceDirection) {
  auto [vc, vu, x, t] = randomVelocities(8);
  const double w = 3, eta = 0.5, r = 1.5;
  torch::Tensor diff = d(vc) - d(vu);
  torch::Tensor norm = diff.norm(2, 1, /*keepdim=*/true);
  diff = diff * torch::clamp_max(r / norm, 1.0);
  torch::Tensor unit = torch::nn::functional::normalize(
      d(vc), torch::nn::functional::NormalizeFuncOptions().dim(1));
  torch::Tensor parallel = rowDot(diff, unit) * unit;
  torch::Tensor want = d(vc) + (w - 1) * (diff - parallel + eta * parallel);
  double err = guidanceError(ga_guidance, vc, vu, x, t, w, want);
  measured("apg kernel error", err);
  EXPECT_LT(err, 1e-5);
  EXPECT_GT((norm > r).sum().item<int64_t>(), 100); // the norm limit is exercised
}

TEST(Guidance, RaagDampsTheScaleWhereTheRatioIsLarge) {
  auto [vc, vu, x, t] = randomVelocities(9);
  const double w = 3, a = 0.7;
  torch::Tensor rho = rowDot(d(vc) - d(vu), d(vc) - d(vu)) / (rowDot(d(vu), d(vu)) + 1e-8);
  torch::Tensor want = d(vu) + (1 + (w - 1) * torch::exp(-a * rho)) * (d(vc) - d(vu));
  double err = guidanceError(gr_guidance, vc, vu, x, t, w, want);
  measured("raag kernel error", err);
  EXPECT_LT(err, 1e-5);
}
