//===- PathTest.cpp - Path kernels vs LibTorch and finite differences -----===//
//
// A path kernel draws x0 and t, and returns xt = path(x0, x1, t) and the
// regression target ddt(xt), which the compiler derives symbolically. For the
// paths of kernels.flow (linear, cosine, quadratic, and std.paths'
// polynomial, vp, linear_vp, target_cfm and sb_cfm) the tests take x0
// from the source kernel with the same seed and step (same stream, so the
// same draw), t from the path kernel itself, and check xt against the path
// formula and the target against both the closed-form derivative (as
// flow_matching's schedulers and torchcfm's matchers write it) and a central
// finite difference of the path formula in double precision, so a wrong
// derivative rule and a wrong hand-written closed form cannot agree.
//
//===----------------------------------------------------------------------===//
#include "KernelTestUtil.h"

#include <gtest/gtest.h>

using namespace flowc_test;

namespace {

using SourceKernel = decltype(&rf_source);
using PathKernel = decltype(&rf_path);

/// One launch of a path kernel, with the x0 it drew (from the source kernel).
struct PathRun {
  torch::Tensor x0, x1, xt, t, target;
};

PathRun runPath(SourceKernel source, PathKernel path, int64_t n, int64_t seed,
                int64_t step) {
  torch::manual_seed(seed);
  PathRun r;
  // Data away from zero and unlike x0, so x0 and x1 cannot be swapped.
  r.x1 = 2 * torch::randn({n, 2}) + 0.5;
  r.x0 = torch::empty({n, 2});
  r.xt = torch::empty({n, 2});
  r.t = torch::empty({n, 1});
  r.target = torch::empty({n, 2});
  source(n, seed, step, FLOWC_ROWS(buf(r.x0), n, 2));
  path(n, seed, step, FLOWC_ROWS(buf(r.x1), n, 2), FLOWC_ROWS(buf(r.xt), n, 2),
       FLOWC_ROWS(buf(r.t), n, 1), FLOWC_ROWS(buf(r.target), n, 2));
  return r;
}

/// Central difference of the path formula at the kernel's own t, in double;
/// step 1e-4 keeps truncation (~1e-9) and rounding (~1e-12) far below 1e-5.
template <typename Path>
torch::Tensor finiteDifference(const PathRun &r, Path pathFormula) {
  const double eps = 1e-4;
  auto x0 = r.x0.to(torch::kDouble), x1 = r.x1.to(torch::kDouble),
       t = r.t.to(torch::kDouble);
  return (pathFormula(x0, x1, t + eps) - pathFormula(x0, x1, t - eps)) /
         (2 * eps);
}

const int64_t kRows = 4096;
const int64_t kSeed = 31, kStep = 9;

} // namespace

// CondOT: xt = (1-t) x0 + t x1, target = x1 - x0, computed by torch in float
// from the same inputs; tolerance 1e-6 (mixed abs/rel, |values| < 15).
TEST(PathKernel, LinearMatchesTorch) {
  auto r = runPath(rf_source, rf_path, kRows, kSeed, kStep);
  ASSERT_GT(r.x0.std().item<double>(), 0.5) << "x0 was not drawn";
  auto xt = (1 - r.t) * r.x0 + r.t * r.x1;
  auto target = r.x1 - r.x0;
  double errXt = maxMixedError(r.xt, xt),
         errTarget = maxMixedError(r.target, target);
  measured("linear xt vs torch", errXt);
  measured("linear target vs torch", errTarget);
  EXPECT_LE(errXt, 1e-6);
  EXPECT_LE(errTarget, 1e-6);
  auto fd = finiteDifference(
      r, [](auto x0, auto x1, auto t) { return (1 - t) * x0 + t * x1; });
  double errFd = maxMixedError(r.target, fd);
  measured("linear target vs finite difference", errFd);
  EXPECT_LE(errFd, 1e-5);
}

// Cosine: ddt needs the chain rule through sin and cos. Float32 kernel vs the
// double closed form (pi/2)(cos(pi t/2) x1 - sin(pi t/2) x0): 1e-5.
TEST(PathKernel, CosineMatchesClosedFormAndFiniteDifference) {
  auto r = runPath(trig_source, trig_path, kRows, kSeed, kStep);
  auto cosine = [](auto x0, auto x1, auto t) {
    return torch::cos(M_PI / 2 * t) * x0 + torch::sin(M_PI / 2 * t) * x1;
  };
  auto x0 = r.x0.to(torch::kDouble), x1 = r.x1.to(torch::kDouble),
       t = r.t.to(torch::kDouble);
  auto target = M_PI / 2 *
                (torch::cos(M_PI / 2 * t) * x1 - torch::sin(M_PI / 2 * t) * x0);
  double errXt = maxMixedError(r.xt, cosine(x0, x1, t));
  double errTarget = maxMixedError(r.target, target);
  double errFd = maxMixedError(r.target, finiteDifference(r, cosine));
  measured("cosine xt vs closed form", errXt);
  measured("cosine target vs closed form", errTarget);
  measured("cosine target vs finite difference", errFd);
  EXPECT_LE(errXt, 1e-5);
  EXPECT_LE(errTarget, 1e-5);
  EXPECT_LE(errFd, 1e-5);
}

// Quadratic: ddt needs the power rule; closed form 2 t (x1 - x0): 1e-5.
TEST(PathKernel, QuadraticMatchesClosedFormAndFiniteDifference) {
  auto r = runPath(quad_source, quad_path, kRows, kSeed, kStep);
  auto quadratic = [](auto x0, auto x1, auto t) {
    return (1 - t * t) * x0 + t * t * x1;
  };
  auto x0 = r.x0.to(torch::kDouble), x1 = r.x1.to(torch::kDouble),
       t = r.t.to(torch::kDouble);
  double errXt = maxMixedError(r.xt, quadratic(x0, x1, t));
  double errTarget = maxMixedError(r.target, 2 * t * (x1 - x0));
  double errFd = maxMixedError(r.target, finiteDifference(r, quadratic));
  measured("quadratic xt vs closed form", errXt);
  measured("quadratic target vs closed form", errTarget);
  measured("quadratic target vs finite difference", errFd);
  EXPECT_LE(errXt, 1e-5);
  EXPECT_LE(errTarget, 1e-5);
  EXPECT_LE(errFd, 1e-5);
}

// jvp(e, x0, x1): the derivative of e = sin(x0) t + x0^2 + 3 t x0 in x0
// along x1, with t fixed. Closed form (cos(x0) t + 2 x0 + 3 t) x1, and the
// central difference (e(x0 + h x1) - e(x0 - h x1)) / 2h in double: 1e-5.
// The derivative in t (what ddt would take) must not match.
TEST(PathKernel, JvpMatchesClosedFormAndFiniteDifference) {
  auto r = runPath(jv_source, jv_path, kRows, kSeed, kStep);
  auto x0 = r.x0.to(torch::kDouble), x1 = r.x1.to(torch::kDouble),
       t = r.t.to(torch::kDouble);
  auto e = [&](const torch::Tensor &x) { return torch::sin(x) * t + x * x + 3 * t * x; };
  const double h = 1e-4;
  double errTarget = maxMixedError(r.target, (torch::cos(x0) * t + 2 * x0 + 3 * t) * x1);
  double errFd = maxMixedError(r.target, (e(x0 + h * x1) - e(x0 - h * x1)) / (2 * h));
  double errTime = maxMixedError(r.target, torch::sin(x0) + 3 * x0);
  measured("jvp target vs closed form", errTarget);
  measured("jvp target vs finite difference", errFd);
  measured("jvp target vs the derivative in t (must differ)", errTime);
  EXPECT_LE(maxMixedError(r.xt, (1 - t) * x0 + t * x1), 1e-5);
  EXPECT_LE(errTarget, 1e-5);
  EXPECT_LE(errFd, 1e-5);
  EXPECT_GT(errTime, 0.1);
}

namespace {

/// Rows with t in [lo, hi]: vp, linear_vp and sb_cfm have derivatives that
/// grow without bound at an end of [0, 1], where float32 cancellation (not
/// the derivative rule) dominates any comparison.
torch::Tensor inside(const PathRun &r, double lo, double hi) {
  auto t = r.t.reshape({-1});
  return (t >= lo) & (t <= hi);
}

/// Checks a path kernel's target against a closed form of its derivative
/// and a finite difference of the path, on rows with t in [lo, hi].
template <typename Path, typename Target>
void checkPath(const char *name, const PathRun &r, Path path, Target target, double lo,
               double hi, double tolerance) {
  auto keep = inside(r, lo, hi);
  ASSERT_GT(keep.sum().item<int64_t>(), kRows / 2) << name;
  auto x0 = d(r.x0), x1 = d(r.x1), t = d(r.t);
  auto rows = [&](const torch::Tensor &v) { return v.index({keep}); };
  double errXt = maxMixedError(rows(r.xt), rows(path(x0, x1, t)));
  double errTarget = maxMixedError(rows(r.target), rows(target(x0, x1, t)));
  double errFd = maxMixedError(rows(r.target), rows(finiteDifference(r, path)));
  std::string what = name;
  measured((what + " xt vs closed form").c_str(), errXt);
  measured((what + " target vs closed form").c_str(), errTarget);
  measured((what + " target vs finite difference").c_str(), errFd);
  EXPECT_LE(errXt, tolerance) << name;
  EXPECT_LE(errTarget, tolerance) << name;
  EXPECT_LE(errFd, tolerance) << name;
}

} // namespace

// flow_matching's PolynomialConvexScheduler(n = 3): alpha = t^3,
// sigma = 1 - t^3, target = 3 t^2 (x1 - x0).
TEST(PathKernel, PolynomialMatchesFlowMatchingScheduler) {
  auto r = runPath(poly_source, poly_path, kRows, kSeed, kStep);
  checkPath(
      "polynomial(3)", r,
      [](auto x0, auto x1, auto t) { return (1 - t.pow(3)) * x0 + t.pow(3) * x1; },
      [](auto x0, auto x1, auto t) { return 3 * t.pow(2) * (x1 - x0); }, 0, 1, 1e-5);
}

// flow_matching's VPScheduler(beta_min 0.1, beta_max 20): with s = 1 - t,
// T = s^2 (B - b) / 2 + s b and T' = -(s (B - b) + b): alpha = exp(-T/2),
// sigma = sqrt(1 - exp(-T)), d_alpha = -T'/2 alpha,
// d_sigma = T' exp(-T) / (2 sigma). Rows with t <= 0.99.
TEST(PathKernel, VpMatchesFlowMatchingScheduler) {
  auto r = runPath(vpf_source, vpf_path, kRows, kSeed, kStep);
  const double b = 0.1, B = 20;
  auto T = [=](auto t) { auto s = 1 - t; return s * s * (B - b) / 2 + s * b; };
  auto path = [=](auto x0, auto x1, auto t) {
    return torch::sqrt(1 - torch::exp(-T(t))) * x0 + torch::exp(-T(t) / 2) * x1;
  };
  auto target = [=](auto x0, auto x1, auto t) {
    auto dT = -((1 - t) * (B - b) + b);
    auto sigma = torch::sqrt(1 - torch::exp(-T(t)));
    return dT * torch::exp(-T(t)) / (2 * sigma) * x0 - dT / 2 * torch::exp(-T(t) / 2) * x1;
  };
  checkPath("vp", r, path, target, 0, 0.99, 2e-5);
}

// flow_matching's LinearVPScheduler: alpha = t, sigma = sqrt(1 - t^2),
// target = x1 - t / sqrt(1 - t^2) x0. Rows with t <= 0.99.
TEST(PathKernel, LinearVpMatchesFlowMatchingScheduler) {
  auto r = runPath(lvp_source, lvp_path, kRows, kSeed, kStep);
  checkPath(
      "linear_vp", r,
      [](auto x0, auto x1, auto t) { return torch::sqrt(1 - t * t) * x0 + t * x1; },
      [](auto x0, auto x1, auto t) { return x1 - t / torch::sqrt(1 - t * t) * x0; }, 0,
      0.99, 2e-5);
}

// torchcfm's TargetConditionalFlowMatcher(sigma = 0.01): the target
// x1 - (1 - sigma) x0 bit for bit, with (1 - sigma) rounded to float as the
// kernel's constant is.
TEST(PathKernel, TargetCfmIsItsClosedFormBitForBit) {
  auto r = runPath(tcfm_source, tcfm_path, kRows, kSeed, kStep);
  const float c = 1.0f - 0.01f;
  EXPECT_TRUE(torch::equal(r.target, r.x1 - c * r.x0))
      << "max difference " << maxAbsError(r.target, r.x1 - c * r.x0);
  checkPath(
      "target_cfm", r,
      [](auto x0, auto x1, auto t) { return t * x1 + (1 - (1 - 0.01) * t) * x0; },
      [](auto x0, auto x1, auto) { return x1 - (1 - 0.01) * x0; }, 0, 1, 1e-6);
}

// CondOT's target x1 - x0 bit for bit (LinearMatchesTorch measures 0 too).
TEST(PathKernel, CondOtIsItsClosedFormBitForBit) {
  auto r = runPath(rf_source, rf_path, kRows, kSeed, kStep);
  EXPECT_TRUE(torch::equal(r.target, r.x1 - r.x0));
}

// torchcfm's SchrodingerBridgeConditionalFlowMatcher(sigma = 0.5), eps from
// stream 2: xt = (1-t) x0 + t x1 + sigma sqrt(t(1-t)) eps,
// target = x1 - x0 + sigma (1 - 2t) / (2 sqrt(t(1-t))) eps. Rows with t in
// [0.01, 0.99].
TEST(PathKernel, SbCfmMatchesTorchcfm) {
  auto r = runPath(sb_source, sb_path, kRows, kSeed, kStep);
  torch::Tensor eps = torch::empty({kRows, 2});
  for (int64_t i = 0; i < kRows; ++i)
    for (int64_t j = 0; j < 2; ++j)
      eps[i][j] = referenceNormal(i, j, 2, kSeed, kStep);
  auto e = d(eps);
  const double sigma = 0.5;
  checkPath(
      "sb_cfm", r,
      [=](auto x0, auto x1, auto t) {
        return (1 - t) * x0 + t * x1 + sigma * torch::sqrt(t * (1 - t)) * e;
      },
      [=](auto x0, auto x1, auto t) {
        return x1 - x0 + sigma * (1 - 2 * t) / (2 * torch::sqrt(t * (1 - t))) * e;
      },
      0.01, 0.99, 2e-5);
}

// Streams are numbered by the order of draws in a flow (x0, then t), the same
// in all three flows, so at one seed and step they draw the same x0 and t.
TEST(PathKernel, FlowsShareStreams) {
  auto a = runPath(rf_source, rf_path, 512, 5, 6);
  auto b = runPath(trig_source, trig_path, 512, 5, 6);
  auto c = runPath(quad_source, quad_path, 512, 5, 6);
  EXPECT_TRUE(torch::equal(a.t, b.t));
  EXPECT_TRUE(torch::equal(a.t, c.t));
  EXPECT_TRUE(torch::equal(a.x0, b.x0));
}
