//===- SolverTest.cpp - Runge-Kutta stage kernels vs their tableaux -------===//
//
// A `solver` in std.solvers is a Butcher tableau; flowc expands it into one
// kernel per stage, x + h sum_j a[i][j] k_j, and an update kernel,
// x + h sum_i b[i] k_i, where the velocities k_j come from the network. Each
// stage kernel of heun (rf_*), rk4 (trig_*) and euler (quad_euler_update) is
// checked against the tableau formula computed with torch in double from the
// same inputs. Then a tiny ODE, dx/dt = -x, is integrated with the kernels and
// a hand-written velocity: the result must equal x0 R(-h)^N for the method's
// stability polynomial R, and the error against exp(-T) must shrink by the
// method's order (~4x for heun, ~16x for rk4, ~2x for euler when h halves),
// which a wrong coefficient anywhere in the tableau would break.
//
//===----------------------------------------------------------------------===//
#include "KernelTestUtil.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

using namespace flowc_test;

namespace {

const int64_t kRows = 1024;

/// x plus velocities k0..k3 of unequal scales, so that a swapped pair of
/// coefficients shows.
struct StageInputs {
  torch::Tensor x, k[4];
};
StageInputs randomInputs(int64_t seed) {
  torch::manual_seed(seed);
  StageInputs in;
  in.x = torch::randn({kRows, 2});
  for (int i = 0; i < 4; ++i)
    in.k[i] = torch::randn({kRows, 2}) * (i + 1);
  return in;
}

/// Result buffer of a stage kernel.
torch::Tensor out() { return torch::empty({kRows, 2}); }

// Kernel wrappers: (x, k0, ..., h) -> x', as the host schedule calls them.
torch::Tensor heunStage1(const StageInputs &in, float h) {
  auto r = out();
  rf_heun_stage1(kRows, 0, 0, FLOWC_ROWS(buf(in.x), kRows, 2),
            FLOWC_ROWS(buf(in.k[0]), kRows, 2), h,
            FLOWC_ROWS(buf(r), kRows, 2));
  return r;
}
torch::Tensor heunUpdate(const StageInputs &in, float h) {
  auto r = out();
  rf_heun_update(kRows, 0, 0, FLOWC_ROWS(buf(in.x), kRows, 2),
            FLOWC_ROWS(buf(in.k[0]), kRows, 2),
            FLOWC_ROWS(buf(in.k[1]), kRows, 2), h,
            FLOWC_ROWS(buf(r), kRows, 2));
  return r;
}
torch::Tensor rk4Stage1(const StageInputs &in, float h) {
  auto r = out();
  trig_rk4_stage1(kRows, 0, 0, FLOWC_ROWS(buf(in.x), kRows, 2),
              FLOWC_ROWS(buf(in.k[0]), kRows, 2), h,
              FLOWC_ROWS(buf(r), kRows, 2));
  return r;
}
torch::Tensor rk4Stage2(const StageInputs &in, float h) {
  auto r = out();
  trig_rk4_stage2(kRows, 0, 0, FLOWC_ROWS(buf(in.x), kRows, 2),
              FLOWC_ROWS(buf(in.k[0]), kRows, 2),
              FLOWC_ROWS(buf(in.k[1]), kRows, 2), h,
              FLOWC_ROWS(buf(r), kRows, 2));
  return r;
}
torch::Tensor rk4Stage3(const StageInputs &in, float h) {
  auto r = out();
  trig_rk4_stage3(
      kRows, 0, 0, FLOWC_ROWS(buf(in.x), kRows, 2),
      FLOWC_ROWS(buf(in.k[0]), kRows, 2), FLOWC_ROWS(buf(in.k[1]), kRows, 2),
      FLOWC_ROWS(buf(in.k[2]), kRows, 2), h, FLOWC_ROWS(buf(r), kRows, 2));
  return r;
}
torch::Tensor rk4Update(const StageInputs &in, float h) {
  auto r = out();
  trig_rk4_update(
      kRows, 0, 0, FLOWC_ROWS(buf(in.x), kRows, 2),
      FLOWC_ROWS(buf(in.k[0]), kRows, 2), FLOWC_ROWS(buf(in.k[1]), kRows, 2),
      FLOWC_ROWS(buf(in.k[2]), kRows, 2), FLOWC_ROWS(buf(in.k[3]), kRows, 2), h,
      FLOWC_ROWS(buf(r), kRows, 2));
  return r;
}
torch::Tensor eulerUpdate(const StageInputs &in, float h) {
  auto r = out();
  quad_euler_update(kRows, 0, 0, FLOWC_ROWS(buf(in.x), kRows, 2),
              FLOWC_ROWS(buf(in.k[0]), kRows, 2), h,
              FLOWC_ROWS(buf(r), kRows, 2));
  return r;
}

// Stage formulas are a few float multiply-adds on values below ~30; 1e-6
// mixed abs/rel covers float32 rounding (and rk4's 1/6, 1/3 as floats).
constexpr double kStageTol = 1e-6;
const float kH = 0.37f;

/// max error of one stage kernel against its tableau row.
double stageError(const torch::Tensor &got, const StageInputs &in,
                  std::vector<double> coeffs) {
  auto want = d(in.x);
  auto sum = torch::zeros_like(want);
  for (size_t j = 0; j < coeffs.size(); ++j)
    sum += coeffs[j] * d(in.k[j]);
  return maxMixedError(got, want + double(kH) * sum);
}

/// Errors of one integration of dx/dt = -x from x(0) = x0 to T.
struct OdeErrors {
  double exact;    ///< vs x0 exp(-T): the method's global error.
  double discrete; ///< vs x0 R(-h)^steps: rounding only.
};

/// Integrates dx/dt = -x in `steps` steps with one solver, each stage
/// velocity computed here as -(stage state). On this ODE one step of an
/// explicit Runge-Kutta method multiplies x by its stability polynomial
/// R(-h), which `stability` gives, so the kernels' result is known exactly.
template <typename Step, typename Stability>
OdeErrors integrate(Step step, Stability stability, int steps, double T) {
  torch::manual_seed(7);
  auto x0 = torch::rand({kRows, 2}) + 0.5;
  auto x = x0.clone();
  float h = float(T / steps);
  for (int s = 0; s < steps; ++s)
    x = step(x, h);
  return {maxMixedError(x, d(x0) * std::exp(-T)),
          maxMixedError(x, d(x0) * std::pow(stability(-double(h)), steps))};
}

/// The exact ratio of global errors when the step count doubles, from the
/// stability polynomial: the test does not assume the asymptotic regime.
template <typename Stability>
double predictedRatio(Stability stability, int steps, double T) {
  auto err = [&](int n) {
    return std::abs(std::pow(stability(-T / n), n) - std::exp(-T));
  };
  return err(steps) / err(2 * steps);
}

double heunStability(double z) { return 1 + z + z * z / 2; }
double rk4Stability(double z) {
  return 1 + z + z * z / 2 + z * z * z / 6 + z * z * z * z / 24;
}
double eulerStability(double z) { return 1 + z; }

torch::Tensor heunStep(const torch::Tensor &x, float h) {
  StageInputs in;
  in.x = x;
  in.k[0] = -x;
  in.k[1] = -heunStage1(in, h);
  return heunUpdate(in, h);
}

torch::Tensor rk4Step(const torch::Tensor &x, float h) {
  StageInputs in;
  in.x = x;
  in.k[0] = -x;
  in.k[1] = -rk4Stage1(in, h);
  in.k[2] = -rk4Stage2(in, h);
  in.k[3] = -rk4Stage3(in, h);
  return rk4Update(in, h);
}

torch::Tensor eulerStep(const torch::Tensor &x, float h) {
  StageInputs in;
  in.x = x;
  in.k[0] = -x;
  return eulerUpdate(in, h);
}

} // namespace

// heun = tableau(c: [0, 1], a: [[1]], b: [1/2, 1/2]).
TEST(SolverKernel, HeunStagesMatchTableau) {
  auto in = randomInputs(11);
  double e1 = stageError(heunStage1(in, kH), in, {1});
  double eu = stageError(heunUpdate(in, kH), in, {0.5, 0.5});
  measured("heun stage1 vs tableau", e1);
  measured("heun update vs tableau", eu);
  EXPECT_LE(e1, kStageTol);
  EXPECT_LE(eu, kStageTol);
}

// rk4: a = [[1/2], [0, 1/2], [0, 0, 1]], b = [1/6, 1/3, 1/3, 1/6].
TEST(SolverKernel, Rk4StagesMatchTableau) {
  auto in = randomInputs(12);
  double e1 = stageError(rk4Stage1(in, kH), in, {0.5});
  double e2 = stageError(rk4Stage2(in, kH), in, {0, 0.5});
  double e3 = stageError(rk4Stage3(in, kH), in, {0, 0, 1});
  double eu =
      stageError(rk4Update(in, kH), in, {1.0 / 6, 1.0 / 3, 1.0 / 3, 1.0 / 6});
  measured("rk4 stage1 vs tableau", e1);
  measured("rk4 stage2 vs tableau", e2);
  measured("rk4 stage3 vs tableau", e3);
  measured("rk4 update vs tableau", eu);
  EXPECT_LE(e1, kStageTol);
  EXPECT_LE(e2, kStageTol);
  EXPECT_LE(e3, kStageTol);
  EXPECT_LE(eu, kStageTol);
}

// euler = tableau(c: [0], a: [], b: [1]): no stages, one update.
TEST(SolverKernel, EulerUpdateMatchesTableau) {
  auto in = randomInputs(13);
  double eu = stageError(eulerUpdate(in, kH), in, {1});
  measured("euler update vs tableau", eu);
  EXPECT_LE(eu, kStageTol);
}

// Heun is second order: halving h divides the global error by ~4 (4.20 and
// 4.10 exactly at these steps). The error ratio must match the prediction of
// R(z) = 1 + z + z^2/2 within 5%, and every result must equal x0 R(-h)^N to
// 1e-6 (float32 rounding over <= 32 steps): a wrong a or b coefficient
// changes R. Errors (1e-3 .. 6e-5) stay far above float32 rounding.
TEST(SolverKernel, HeunConvergesAtSecondOrder) {
  auto e8 = integrate(heunStep, heunStability, 8, 1),
       e16 = integrate(heunStep, heunStability, 16, 1),
       e32 = integrate(heunStep, heunStability, 32, 1);
  measured("heun error, 8 steps", e8.exact);
  measured("heun error ratio 8/16", e8.exact / e16.exact);
  measured("heun error ratio 16/32", e16.exact / e32.exact);
  measured("heun vs stability polynomial, worst",
           std::max({e8.discrete, e16.discrete, e32.discrete}));
  EXPECT_NEAR(e8.exact / e16.exact, predictedRatio(heunStability, 8, 1), 0.2);
  EXPECT_NEAR(e16.exact / e32.exact, predictedRatio(heunStability, 16, 1), 0.2);
  for (const auto &e : {e8, e16, e32})
    EXPECT_LE(e.discrete, 1e-6);
}

// RK4 is fourth order: ~16x per halving; at h = 1/2 -> 1/4 (T = 2, where the
// errors 2e-4 and 1e-5 stay above float32 rounding) the exact ratio is 19.75,
// still short of the asymptote. Same checks as for heun, with 5% on the ratio.
TEST(SolverKernel, Rk4ConvergesAtFourthOrder) {
  auto e4 = integrate(rk4Step, rk4Stability, 4, 2),
       e8 = integrate(rk4Step, rk4Stability, 8, 2);
  double predicted = predictedRatio(rk4Stability, 4, 2);
  measured("rk4 error, 4 steps", e4.exact);
  measured("rk4 error ratio 4/8", e4.exact / e8.exact);
  measured("rk4 predicted ratio 4/8", predicted);
  measured("rk4 vs stability polynomial, worst",
           std::max(e4.discrete, e8.discrete));
  EXPECT_NEAR(e4.exact / e8.exact, predicted, 0.05 * predicted);
  EXPECT_GT(e4.exact / e8.exact, 12); // at least ~fourth order
  EXPECT_LE(e4.discrete, 1e-6);
  EXPECT_LE(e8.discrete, 1e-6);
}

// Euler is first order: ~2x per halving (2.03 exactly at 16 -> 32 steps).
TEST(SolverKernel, EulerConvergesAtFirstOrder) {
  auto e16 = integrate(eulerStep, eulerStability, 16, 1),
       e32 = integrate(eulerStep, eulerStability, 32, 1);
  measured("euler error ratio 16/32", e16.exact / e32.exact);
  measured("euler vs stability polynomial, worst",
           std::max(e16.discrete, e32.discrete));
  EXPECT_NEAR(e16.exact / e32.exact, predictedRatio(eulerStability, 16, 1),
              0.1);
  EXPECT_LE(e16.discrete, 1e-6);
  EXPECT_LE(e32.discrete, 1e-6);
}

// The per-sample step-size controller of an adaptive tableau (dopri5, order
// 5): accept when the RMS of err / (atol + rtol max(|x|, |x'|)) is at most
// 1, then h *= min(10, max(0.9 r^(-1/5), 1 if accepted else 0.2)), at most
// max_step (0.3 here) and up to t = 1; a sample at t = 1 keeps x and gets
// h = 0. Against the same rule
// in double, on samples that accept, reject, reach t = 1 or are done.
TEST(Solver, AdaptiveControllerMatchesItsRule) {
  const int64_t n = 4096;
  torch::manual_seed(12);
  torch::Tensor x = torch::randn({n, 2}), next = x + 0.1 * torch::randn({n, 2});
  // Errors from 1e-8 to 1e-3: ratios on both sides of 1 at tolerance 1e-5.
  torch::Tensor err = torch::randn({n, 2}) * torch::pow(10.0, -8 + 5 * torch::rand({n, 1}));
  torch::Tensor t = torch::rand({n, 1}) * 0.9;
  torch::Tensor h = 0.01 + 0.1 * torch::rand({n, 1});
  t.slice(0, 0, 64).fill_(1.0);                 // done
  t.slice(0, 64, 128).copy_(1 - h.slice(0, 64, 128)); // reach t = 1 if accepted
  const float rtol = 1e-5f, atol = 1e-5f, maxStep = 0.3f;
  torch::Tensor xo = torch::empty({n, 2}), to = torch::empty({n, 1}), ho = torch::empty({n, 1});
  rf_dopri5_control(n, 0, 0, FLOWC_ROWS(buf(x), n, 2), FLOWC_ROWS(buf(next), n, 2),
                    FLOWC_ROWS(buf(err), n, 2), FLOWC_ROWS(buf(t), n, 1),
                    FLOWC_ROWS(buf(h), n, 1), rtol, atol, maxStep, FLOWC_ROWS(buf(xo), n, 2),
                    FLOWC_ROWS(buf(to), n, 1), FLOWC_ROWS(buf(ho), n, 1));
  auto scale = atol + rtol * torch::maximum(d(x).abs(), d(next).abs());
  auto ratio = (d(err) / scale).pow(2).mean(1, /*keepdim=*/true).sqrt();
  auto ok = ratio <= 1, accept = ok & (d(t) < 1);
  auto tNew = torch::where(accept, d(t) + d(h), d(t));
  auto done = tNew >= 1 - 1e-6;
  tNew = torch::where(done, torch::ones_like(tNew), tNew);
  auto grow = 0.9 * torch::pow(torch::clamp_min(ratio, 1e-10), -1.0 / 5);
  auto factor = torch::clamp_max(torch::maximum(grow, torch::where(ok, 1.0, 0.2)), 10.0);
  auto hNew = torch::minimum(torch::clamp_max(d(h) * factor, double(maxStep)), 1 - tNew);
  hNew = torch::where(done, torch::zeros_like(hNew), hNew);
  auto xNew = torch::where(accept, d(next), d(x));
  int64_t accepted = accept.sum().item<int64_t>();
  measured("controller: accepted samples of 4096", double(accepted));
  EXPECT_GT(accepted, n / 5);
  EXPECT_LT(accepted, n - n / 5);
  EXPECT_TRUE(torch::equal(to.to(torch::kDouble) == 1, done));
  EXPECT_LT(maxMixedError(xo, xNew), 1e-7);
  EXPECT_LT(maxMixedError(to, tNew), 1e-6);
  EXPECT_LT(maxMixedError(ho, hNew), 1e-5);
}
