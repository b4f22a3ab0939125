//===- MetricsTest.cpp - Sliced W2, RBF MMD and the Fréchet distance -----===//
//
// Pins the distances to closed forms, and the Fréchet distance on correlated
// features also to an independent reference (numpy + scipy, run here).
// Sliced W2: two samples of one distribution are close; a shift by mu gives
// |mu| exactly in 1-D and |mu| / sqrt(d) in d dimensions (E[(theta . mu)^2]
// = |mu|^2 / d over unit directions). MMD^2 with kernel exp(-z^2 / (2 s^2))
// between N(0, 1) and N(mu, 1) is
// 2 s / sqrt(s^2 + 2) * (1 - exp(-mu^2 / (2 (s^2 + 2)))).
//
//===----------------------------------------------------------------------===//

#include "Metrics.h"
#include "TestProgram.h"
#include "Writers.h"

#include <gtest/gtest.h>

#include <ATen/CPUGeneratorImpl.h>

#include <cmath>
#include <cstdio>
#include <string>

using namespace flowrt;

namespace {
torch::Tensor gaussian(int64_t n, int64_t d, uint64_t seed) {
  at::Generator gen = at::detail::createCPUGenerator(seed);
  return torch::randn({n, d}, gen, torch::kDouble);
}
} // namespace

TEST(SlicedW2, SameDistributionIsSmall) {
  double sw2 = slicedWasserstein2(gaussian(4000, 2, 1), gaussian(4000, 2, 2));
  EXPECT_LT(sw2, 0.06);
  EXPECT_GT(sw2, 0.0); // two different samples are not identical
}

TEST(SlicedW2, IdenticalSetsAreZero) {
  torch::Tensor x = gaussian(500, 3, 3);
  EXPECT_EQ(0.0, slicedWasserstein2(x, x.flip(0)));
}

TEST(SlicedW2, OneDimensionalShiftIsTheShift) {
  torch::Tensor x = gaussian(4000, 1, 4);
  torch::Tensor y = gaussian(4000, 1, 5) + 1.5;
  // Projections are +-1: W2 of two 1-D Gaussians shifted by 1.5.
  EXPECT_NEAR(1.5, slicedWasserstein2(x, y), 0.05);
}

TEST(SlicedW2, ShiftInTwoDimensionsIsShiftOverSqrt2) {
  torch::Tensor x = gaussian(4000, 2, 6);
  torch::Tensor y =
      gaussian(4000, 2, 7) + torch::tensor({3.0, 0.0}, torch::kDouble);
  double expected = 3.0 / std::sqrt(2.0);
  EXPECT_NEAR(expected, slicedWasserstein2(x, y), 0.06 * expected);
}

TEST(SlicedW2, RejectsDifferentSizes) {
  EXPECT_THROW(slicedWasserstein2(gaussian(10, 2, 0), gaussian(11, 2, 0)),
               std::invalid_argument);
}

TEST(RbfMmd, SameDistributionIsNearZero) {
  double mmd2 = rbfMmd2(gaussian(2000, 2, 8), gaussian(2000, 2, 9));
  EXPECT_NEAR(0.0, mmd2, 0.004);
}

TEST(RbfMmd, OneDimensionalShiftMatchesClosedForm) {
  double mu = 1.0, s = 1.0;
  double expected = 2 * s / std::sqrt(s * s + 2) *
                    (1 - std::exp(-mu * mu / (2 * (s * s + 2))));
  double mmd2 = rbfMmd2(gaussian(2000, 1, 10), gaussian(2000, 1, 11) + mu, s);
  EXPECT_NEAR(expected, mmd2, 0.015); // expected = 0.1773
  EXPECT_GT(mmd2, 0.1);
}

// The Fréchet distance of two Gaussians has a closed form: for N(m1, S1) and
// N(m2, S2) with S1 = diag(a), S2 = diag(b) it is |m1 - m2|^2 +
// sum (sqrt(a) - sqrt(b))^2. Samples of 200k points estimate it within 2%;
// identical sets give 0, and the distance is invariant to rotating both.
TEST(FrechetDistance, MatchesTheGaussianClosedForm) {
  torch::manual_seed(5);
  int64_t n = 200000, d = 4;
  torch::Tensor a = torch::tensor({1.0, 4.0, 0.25, 2.0}, torch::kDouble);
  torch::Tensor b = torch::tensor({2.0, 1.0, 1.0, 0.5}, torch::kDouble);
  torch::Tensor shift = torch::tensor({1.0, -0.5, 0.0, 2.0}, torch::kDouble);
  torch::Tensor x = torch::randn({n, d}, torch::kDouble) * a.sqrt();
  torch::Tensor y = torch::randn({n, d}, torch::kDouble) * b.sqrt() + shift;
  double expected = shift.pow(2).sum().item<double>() +
                    (a.sqrt() - b.sqrt()).pow(2).sum().item<double>();
  double fd = frechetDistance(x.to(torch::kFloat), y.to(torch::kFloat));
  std::printf("[ measured ] FD of two Gaussians %.4f, closed form %.4f\n", fd, expected);
  EXPECT_NEAR(expected, fd, 0.02 * expected);
  EXPECT_NEAR(0.0, frechetDistance(x, x), 1e-6);
  // Rotated covariances: FD is invariant to rotating both sets alike.
  torch::Tensor q = std::get<0>(torch::linalg_qr(torch::randn({d, d}, torch::kDouble)));
  EXPECT_NEAR(fd, frechetDistance(x.matmul(q), y.matmul(q)), 1e-6 * (1 + fd));
}

// Correlated features whose covariances do not commute, so that only the
// full matrix square root gets the trace term right: the runtime's
// eigendecomposition form against numpy + scipy.linalg.sqrtm
// (tests/e2e/frechet_reference.py) on the very same float32 features.
// Both are exact up to round-off; they agree within 1e-8 relative.
TEST(FrechetDistance, MatchesScipyOnCorrelatedFeatures) {
  torch::manual_seed(6);
  int64_t n = 3000, d = 5;
  torch::Tensor mixX = torch::randn({d, d}, torch::kDouble);
  torch::Tensor mixY = torch::randn({d, d}, torch::kDouble) * 0.7;
  torch::Tensor x = torch::randn({n, d}, torch::kDouble).matmul(mixX);
  torch::Tensor y = torch::randn({n, d}, torch::kDouble).matmul(mixY) + 0.3;
  x = x.to(torch::kFloat); // what the .npy files hold
  y = y.to(torch::kFloat);
  flowrt_test::ScratchDir dir;
  writeNpy(dir.str("x.npy"), x);
  writeNpy(dir.str("y.npy"), y);
  std::string command = std::string(FLOWC_TEST_PYTHON) + " " + FLOWC_SOURCE_DIR +
                        "/tests/e2e/frechet_reference.py " + dir.str("x.npy") +
                        " " + dir.str("y.npy");
  FILE *pipe = popen(command.c_str(), "r");
  ASSERT_NE(nullptr, pipe);
  double reference = std::nan("");
  int read = std::fscanf(pipe, "%lf", &reference);
  int status = pclose(pipe);
  ASSERT_TRUE(read == 1 && status == 0)
      << command << " failed: the reference needs python3 with numpy and scipy";

  double fd = frechetDistance(x, y);
  std::printf("[ measured ] FD %.10f, scipy %.10f\n", fd, reference);
  EXPECT_NEAR(reference, fd, 1e-8 * (1 + reference));
  // The case is not diagonal: the variances alone give another figure.
  torch::Tensor xd = x.to(torch::kDouble), yd = y.to(torch::kDouble);
  double diagonalOnly =
      (xd.mean(0) - yd.mean(0)).pow(2).sum().item<double>() +
      (xd.var(0).sqrt() - yd.var(0).sqrt()).pow(2).sum().item<double>();
  EXPECT_GT(std::abs(diagonalOnly - reference), 0.05 * reference);
}
