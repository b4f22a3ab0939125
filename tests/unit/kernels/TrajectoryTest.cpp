//===- TrajectoryTest.cpp - Whole-trajectory kernels vs LibTorch ----------===//
//
// A trajectory kernel evaluates the MLP itself, from the runtime's packed
// weights (MlpImpl::packed), and takes the Butcher tableau at run time. The
// reference is the runtime's own LibTorch MLP integrated with the same
// tableau in plain torch ops, so a wrong weight offset, time feature, class
// row, activation, tableau entry or time direction shows as a difference
// far above float rounding. Row counts that are not multiples of the CPU
// block (4 rows) exercise both the block and the single-row code.
//
//===----------------------------------------------------------------------===//
#include "KernelTestUtil.h"
#include "Network.h"

#include <gtest/gtest.h>

#include <functional>
#include <vector>

using namespace flowc_test;

namespace {

#define FLAT(t) buf(t), buf(t), INT64_C(0), (t).numel(), INT64_C(1)

struct Tableau {
  std::vector<double> c, a, b; // a row-major s x s

  int64_t stages() const { return int64_t(c.size()); }
  /// As the runtime hands it to a kernel: s, c, a, b as floats.
  torch::Tensor packed() const {
    std::vector<float> v{float(stages())};
    for (auto *part : {&c, &a, &b})
      for (double x : *part)
        v.push_back(float(x));
    return torch::tensor(v);
  }
};

const Tableau kRk4{{0, 0.5, 0.5, 1},
                   {0, 0, 0, 0, 0.5, 0, 0, 0, 0, 0.5, 0, 0, 0, 0, 1, 0},
                   {1.0 / 6, 1.0 / 3, 1.0 / 3, 1.0 / 6}};
const Tableau kMidpoint{{0, 0.5}, {0, 0, 0.5, 0}, {0, 1}};
const Tableau kHeun{{0, 1}, {0, 0, 1, 0}, {0.5, 0.5}};

/// The velocity of a field at x for its own time ([n, 1]).
using Field = std::function<torch::Tensor(const torch::Tensor &x, const torch::Tensor &time)>;

/// x after `steps` steps of h from t0 with LibTorch: the field is
/// sign * v(x, time(t)), time(t) = 1 - t in reversed time.
torch::Tensor integrate(const Field &v, torch::Tensor x, const Tableau &tab, double t0,
                        double h, int64_t steps, bool reverse) {
  torch::NoGradGuard noGrad;
  int64_t s = tab.stages(), n = x.size(0);
  double sign = reverse ? -1 : 1;
  for (int64_t step = 0; step < steps; ++step) {
    double t = t0 + step * h;
    std::vector<torch::Tensor> k;
    for (int64_t i = 0; i < s; ++i) {
      torch::Tensor xi = x.clone();
      for (int64_t m = 0; m < i; ++m)
        xi = xi + (sign * h * tab.a[i * s + m]) * k[m];
      double ti = t + tab.c[i] * h;
      torch::Tensor time = torch::full({n, 1}, float(reverse ? 1 - ti : ti));
      k.push_back(v(xi, time));
    }
    for (int64_t i = 0; i < s; ++i)
      x = x + (sign * h * tab.b[i]) * k[i];
  }
  return x;
}

/// The network alone as the field.
torch::Tensor reference(flowrt::MlpImpl &net, const torch::Tensor &x,
                        const torch::Tensor &labels, const Tableau &tab, double t0, double h,
                        int64_t steps, bool reverse) {
  Field v = [&](const torch::Tensor &xi, const torch::Tensor &time) {
    return net.forward(xi, time, labels);
  };
  return integrate(v, x, tab, t0, h, steps, reverse);
}

flowrt::Mlp network(int64_t width, int64_t depth, const char *act, int64_t features,
                    int64_t classes, int64_t seed) {
  torch::manual_seed(seed);
  flowrt::MlpOptions o;
  o.inDim = 2, o.width = width, o.depth = depth, o.activation = act;
  o.timeFeatures = features, o.classes = classes;
  flowrt::Mlp net(o);
  // Larger weights than the default init make a curved field, so every
  // stage of the tableau matters.
  torch::NoGradGuard noGrad;
  for (auto &p : net->parameters())
    p.mul_(2.0);
  return net;
}

double maxError(const torch::Tensor &a, const torch::Tensor &b) {
  return (a - b).abs().max().item<double>();
}

// Tolerance: float rounding through a few dozen layer evaluations of O(1)
// values (the kernel sums in another order than MKL and uses polynomial
// exp/tanh/erf/sin/cos) stays below 1e-5; any wrong coefficient, weight or
// feature moves the results by far more (checked below by perturbing).
constexpr double kTol = 2e-5;

TEST(TrajectoryTest, ConditionalGeluRk4MatchesLibTorch) {
  flowrt::Mlp net = network(40, 2, "gelu", 6, 2, 1);
  const int64_t n = 37; // 9 blocks of 4 rows, then 1 row
  torch::Tensor x = torch::randn({n, 2});
  // Classes 0 and 1, the null class -1, and 7 (out of range: null too).
  torch::Tensor labels = torch::tensor(std::vector<float>{0, 1, -1, 7}).repeat(10).slice(0, 0, n)
                             .reshape({n, 1}).contiguous();
  torch::Tensor w = net->packed().reshape({-1}).contiguous(), tab = kRk4.packed();
  torch::Tensor out = torch::empty({n, 2});
  const float t0 = 0.0f, h = 0.25f;
  traj_trajectory(n, 0, 0, FLOWC_ROWS(buf(x), n, 2), FLOWC_ROWS(buf(labels), n, 1), FLAT(w),
                  FLAT(tab), t0, h, 4, FLOWC_ROWS(buf(out), n, 2));
  torch::Tensor ref = reference(*net, x, labels, kRk4, t0, h, 4, false);
  double err = maxError(out, ref);
  std::printf("gelu, labels, rk4 x 4: max |kernel - libtorch| = %.3g (moved %.3g)\n", err,
              maxError(ref, x));
  EXPECT_LE(err, kTol);
  EXPECT_GT(maxError(ref, x), 0.1); // the field does move the points
}

TEST(TrajectoryTest, ReversedTanhMidpointMatchesLibTorch) {
  flowrt::Mlp net = network(24, 2, "tanh", 16, 0, 2); // mlp() defaults to fourier(16)
  const int64_t n = 9;
  torch::Tensor x = torch::randn({n, 2}), out = torch::empty({n, 2});
  torch::Tensor w = net->packed().reshape({-1}).contiguous(), tab = kMidpoint.packed();
  sig_trajectory(n, 0, 0, FLOWC_ROWS(buf(x), n, 2), FLAT(w), FLAT(tab), 0.0f, 0.2f, 5,
                 FLOWC_ROWS(buf(out), n, 2));
  double err = maxError(out, reference(*net, x, {}, kMidpoint, 0.0, 0.2, 5, true));
  std::printf("tanh, reversed time, midpoint x 5: max error %.3g\n", err);
  EXPECT_LE(err, kTol);
  // Forward time gives other points: the direction is not ignored.
  EXPECT_GT(maxError(out, reference(*net, x, {}, kMidpoint, 0.0, 0.2, 5, false)), 1e-2);
}

TEST(TrajectoryTest, SiluHeunFromMidwayMatchesLibTorch) {
  flowrt::Mlp net = network(16, 1, "silu", 4, 0, 3);
  const int64_t n = 8;
  torch::Tensor x = torch::randn({n, 2}), out = torch::empty({n, 2});
  torch::Tensor w = net->packed().reshape({-1}).contiguous(), tab = kHeun.packed();
  rf_trajectory(n, 0, 0, FLOWC_ROWS(buf(x), n, 2), FLAT(w), FLAT(tab), 0.25f, 0.25f, 3,
                FLOWC_ROWS(buf(out), n, 2));
  torch::Tensor ref = reference(*net, x, {}, kHeun, 0.25, 0.25, 3, false);
  double err = maxError(out, ref);
  std::printf("silu, heun x 3 from t = 0.25: max error %.3g\n", err);
  EXPECT_LE(err, kTol);

  // One perturbed weight (the last layer's first bias, + 0.01) moves the
  // result by about h * steps * 0.01 = 0.0075: far above the tolerance.
  torch::Tensor w2 = w.clone();
  w2[w.numel() - 2] += 0.01f;
  torch::Tensor out2 = torch::empty({n, 2});
  rf_trajectory(n, 0, 0, FLOWC_ROWS(buf(x), n, 2), FLAT(w2), FLAT(tab), 0.25f, 0.25f, 3,
                FLOWC_ROWS(buf(out2), n, 2));
  EXPECT_GT(maxError(out2, out), 100 * kTol);

  // Zero steps leave x as it is.
  rf_trajectory(n, 0, 0, FLOWC_ROWS(buf(x), n, 2), FLAT(w), FLAT(tab), 0.25f, 0.25f, 0,
                FLOWC_ROWS(buf(out2), n, 2));
  EXPECT_EQ(maxError(out2, x), 0.0);
}

// Guidance fused into the trajectory: every stage evaluates the network for
// the label and for the null class and combines them in the kernel, here
// kernels.flow's cfg (cond) and a user fn of the state and time (cond2:
// damped, v_u + w (1 - t)(v_c - v_u) - k x with k = 0.5).
TEST(TrajectoryTest, GuidedSamplingMatchesLibTorch) {
  const int64_t n = 23;
  torch::manual_seed(5);
  torch::Tensor x = torch::randn({n, 2});
  torch::Tensor labels = torch::randint(0, 2, {n, 1}).to(torch::kFloat);
  torch::Tensor tab = kRk4.packed();
  const float w = 2.5f;
  for (bool damped : {false, true}) {
    flowrt::Mlp net = network(16, 1, "silu", 4, 2, damped ? 7 : 6);
    torch::Tensor weights = net->packed().reshape({-1}).contiguous();
    torch::Tensor out = torch::empty({n, 2});
    (damped ? cond2_trajectory : cond_trajectory)(
        n, 0, 0, FLOWC_ROWS(buf(x), n, 2), FLOWC_ROWS(buf(labels), n, 1), FLAT(weights),
        FLAT(tab), 0.0f, 0.125f, 8, w, FLOWC_ROWS(buf(out), n, 2));
    Field guided = [&](const torch::Tensor &xi, const torch::Tensor &time) {
      torch::Tensor vc = net->forward(xi, time, labels);
      torch::Tensor vu = net->forward(xi, time, torch::full({n, 1}, -1.0f));
      if (!damped)
        return vu + w * (vc - vu);
      return vu + w * (1 - time) * (vc - vu) - 0.5 * xi;
    };
    torch::Tensor ref = integrate(guided, x, kRk4, 0.0, 0.125, 8, false);
    double err = maxError(out, ref);
    std::printf("%s guidance, rk4 x 8: max error %.3g (unguided differs by %.3g)\n",
                damped ? "damped" : "cfg", err,
                maxError(ref, reference(*net, x, labels, kRk4, 0.0, 0.125, 8, false)));
    EXPECT_LE(err, kTol);
    EXPECT_GT(maxError(ref, reference(*net, x, labels, kRk4, 0.0, 0.125, 8, false)), 1e-2);
  }
}

} // namespace
