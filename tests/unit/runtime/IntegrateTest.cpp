//===- IntegrateTest.cpp - The runtime's tableau integrator and step control ---===//
//
// integrateTableau runs a Butcher tableau with LibTorch ops, so gradients
// flow through the solver: for the constant field v = a, x(1) = x(0) + a and
// d(sum of x(1))/da = 2 for two features; for v = a x, x(1) = x(0) e^a and
// the gradient is sum x(0) e^a (RK4's error at 8 steps is far below 1e-4).
//
//===----------------------------------------------------------------------===//

#include "Integrate.h"

#include <gtest/gtest.h>

#include <cmath>

using namespace flowrt;

namespace {

// The classic RK4 tableau (std.solvers' rk4).
const double Rk4C[] = {0, 0.5, 0.5, 1};
const double Rk4A[] = {0, 0, 0, 0, 0.5, 0, 0, 0, 0, 0.5, 0, 0, 0, 0, 1, 0};
const double Rk4B[] = {1.0 / 6, 1.0 / 3, 1.0 / 3, 1.0 / 6};
const flowrt_solver Rk4 = {"rk4", 4, 4, 0, nullptr, nullptr, Rk4C, Rk4A, Rk4B};

} // namespace

TEST(Integrate, GradientThroughTheSolverOfAConstantField) {
  torch::Tensor a = torch::tensor(0.3, torch::kDouble).requires_grad_(true);
  torch::Tensor x0 = torch::tensor({{1.0, -2.0}}, torch::kDouble);
  auto x1 = integrateTableau(
      Rk4, [&](const std::vector<torch::Tensor> &s, double) {
        return std::vector<torch::Tensor>{a.expand_as(s[0])};
      },
      {x0}, 0.0, 1.0, 4)[0];
  EXPECT_NEAR(0.3, (x1 - x0).max().item<double>(), 1e-12);
  x1.sum().backward();
  EXPECT_NEAR(2.0, a.grad().item<double>(), 1e-4);
}

TEST(Integrate, GradientThroughTheSolverOfALinearField) {
  torch::Tensor a = torch::tensor(0.7, torch::kDouble).requires_grad_(true);
  torch::Tensor x0 = torch::tensor({{1.0, 0.5}}, torch::kDouble);
  auto x1 = integrateTableau(
      Rk4, [&](const std::vector<torch::Tensor> &s, double) {
        return std::vector<torch::Tensor>{a * s[0]};
      },
      {x0}, 0.0, 1.0, 8)[0];
  double e = std::exp(0.7);
  EXPECT_NEAR(1.5 * e, x1.sum().item<double>(), 1e-4);
  x1.sum().backward();
  EXPECT_NEAR(1.5 * e, a.grad().item<double>(), 1e-4);
}

TEST(Integrate, BackwardInTimeUndoesForward) {
  torch::Tensor x0 = torch::tensor({{0.2, -1.0}, {2.0, 3.0}}, torch::kDouble);
  auto field = [](const std::vector<torch::Tensor> &s, double t) {
    return std::vector<torch::Tensor>{torch::sin(s[0]) * t - s[0]};
  };
  auto x1 = integrateTableau(Rk4, field, {x0}, 0.0, 1.0, 64)[0];
  auto back = integrateTableau(Rk4, field, {x1}, 1.0, 0.0, 64)[0];
  EXPECT_LT((back - x0).abs().max().item<double>(), 1e-7);
}
