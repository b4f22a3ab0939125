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
