//===- Metrics.cpp - Distances between point clouds -----------------------===//
//
// Implements the sliced Wasserstein-2 distance and the RBF MMD of Metrics.h
// in double precision, so the figures do not depend on float rounding.
//
//===----------------------------------------------------------------------===//

#include "Metrics.h"

#include <ATen/CPUGeneratorImpl.h>

#include <cmath>
#include <stdexcept>

double flowrt::slicedWasserstein2(const torch::Tensor &x,
                                  const torch::Tensor &y, int64_t projections,
                                  uint64_t seed) {
  if (x.dim() != 2 || y.dim() != 2 || x.size(1) != y.size(1))
    throw std::invalid_argument("slicedWasserstein2: need [n, d] and [n, d]");
  if (x.size(0) != y.size(0) || x.size(0) == 0)
    throw std::invalid_argument(
        "slicedWasserstein2: need the same, non-zero number of points");
  torch::NoGradGuard noGrad;
  torch::Tensor a = x.detach().to(torch::kCPU, torch::kDouble);
  torch::Tensor b = y.detach().to(torch::kCPU, torch::kDouble);
  at::Generator gen = at::detail::createCPUGenerator(seed);
  // Normalised Gaussian vectors are uniform on the sphere.
  torch::Tensor theta =
      torch::randn({a.size(1), projections}, gen, torch::kDouble);
  theta = theta / theta.norm(2, 0, /*keepdim=*/true);
  torch::Tensor pa = std::get<0>(torch::sort(a.matmul(theta), 0));
  torch::Tensor pb = std::get<0>(torch::sort(b.matmul(theta), 0));
  return std::sqrt((pa - pb).pow(2).mean().item<double>());
}

double flowrt::rbfMmd2(const torch::Tensor &x, const torch::Tensor &y,
                       double sigma) {
  if (x.dim() != 2 || y.dim() != 2 || x.size(1) != y.size(1))
    throw std::invalid_argument("rbfMmd2: need [n, d] and [m, d]");
  int64_t n = x.size(0), m = y.size(0);
  if (n < 2 || m < 2)
    throw std::invalid_argument("rbfMmd2: need at least two points each");
  torch::NoGradGuard noGrad;
  torch::Tensor a = x.detach().to(torch::kCPU, torch::kDouble);
  torch::Tensor b = y.detach().to(torch::kCPU, torch::kDouble);
  auto kernel = [&](const torch::Tensor &p, const torch::Tensor &q) {
    return torch::exp(-torch::cdist(p, q).pow(2) / (2 * sigma * sigma));
  };
  // Unbiased: within-set sums leave out k(a_i, a_i) = 1.
  double kxx = (kernel(a, a).sum().item<double>() - n) / (n * (n - 1.0));
  double kyy = (kernel(b, b).sum().item<double>() - m) / (m * (m - 1.0));
  double kxy = kernel(a, b).mean().item<double>();
  return kxx + kyy - 2 * kxy;
}

double flowrt::nearestNeighbourAccuracy(const torch::Tensor &x,
                                        const torch::Tensor &labels,
                                        const torch::Tensor &refs,
                                        const torch::Tensor &refLabels) {
  if (x.dim() != 2 || refs.dim() != 2 || x.size(1) != refs.size(1) ||
      labels.numel() != x.size(0) || refLabels.numel() != refs.size(0) ||
      x.size(0) == 0 || refs.size(0) == 0)
    throw std::invalid_argument(
        "nearestNeighbourAccuracy: need x [n, d], labels [n], refs [m, d], "
        "refLabels [m], n and m > 0");
  torch::NoGradGuard noGrad;
  torch::Tensor a = x.detach().to(torch::kCPU, torch::kDouble);
  torch::Tensor b = refs.detach().to(torch::kCPU, torch::kDouble);
  torch::Tensor nearest = torch::cdist(a, b).argmin(1);
  torch::Tensor predicted = refLabels.reshape({-1}).index({nearest});
  return (predicted == labels.reshape({-1}).to(predicted.scalar_type()))
      .to(torch::kDouble)
      .mean()
      .item<double>();
}

namespace {
/// The symmetric square root of a symmetric positive semi-definite matrix.
torch::Tensor symmetricSqrt(const torch::Tensor &a) {
  auto [values, vectors] = torch::linalg_eigh(a);
  return vectors.matmul(torch::diag(values.clamp_min(0).sqrt())).matmul(vectors.t());
}
} // namespace

double flowrt::frechetDistance(const torch::Tensor &x, const torch::Tensor &y) {
  torch::Tensor a = x.to(torch::kDouble), b = y.to(torch::kDouble);
  torch::Tensor muA = a.mean(0), muB = b.mean(0);
  torch::Tensor covA = torch::cov(a.t()), covB = torch::cov(b.t());
  torch::Tensor rootA = symmetricSqrt(covA);
  torch::Tensor cross = torch::linalg_eigvalsh(rootA.matmul(covB).matmul(rootA));
  double traceRoot = cross.clamp_min(0).sqrt().sum().item<double>();
  return (muA - muB).pow(2).sum().item<double>() + covA.trace().item<double>() +
         covB.trace().item<double>() - 2 * traceRoot;
}
