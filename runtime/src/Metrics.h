//===- Metrics.h - Distances between point clouds --------------*- C++ -*-===//
//
// Sample-quality figures for flows: the sliced Wasserstein-2 distance (what
// `sample` prints) and the maximum mean discrepancy with a Gaussian (RBF)
// kernel. Both compare two sets of points [n, d] and are deterministic for a
// given seed.
//
//===----------------------------------------------------------------------===//
#ifndef FLOWRT_METRICS_H
#define FLOWRT_METRICS_H

#include <torch/torch.h>

#include <cstdint>

namespace flowrt {

/// Sliced Wasserstein-2 distance between x and y, both [n, d] with the same
/// n: sqrt(mean over `projections` random unit directions theta of
/// W2(x theta, y theta)^2), where the 1-D W2^2 is the mean squared difference
/// of the sorted projections. Directions are drawn from `seed`.
/// For y = x + mu (mu a vector) it is |mu| / sqrt(d) in expectation over
/// directions; in 1-D it is exactly |mu|.
double slicedWasserstein2(const torch::Tensor &x, const torch::Tensor &y,
                          int64_t projections = 128, uint64_t seed = 0);

/// Squared maximum mean discrepancy between x [n, d] and y [m, d] with the
/// kernel k(a, b) = exp(-|a - b|^2 / (2 sigma^2)), unbiased estimate (the
/// diagonal terms are left out, so it can be slightly negative).
double rbfMmd2(const torch::Tensor &x, const torch::Tensor &y,
               double sigma = 1.0);

/// The fraction of points x [n, d] with labels [n] whose nearest reference
/// point (refs [m, d], refLabels [m]) has the same label: how well
/// class-conditional samples land in their own class.
double nearestNeighbourAccuracy(const torch::Tensor &x,
                                const torch::Tensor &labels,
                                const torch::Tensor &refs,
                                const torch::Tensor &refLabels);

/// Fréchet distance between Gaussians fitted to x [n, d] and y [m, d]:
/// |mu_x - mu_y|^2 + tr(S_x + S_y - 2 (S_x^1/2 S_y S_x^1/2)^1/2), in double,
/// matrix square roots by symmetric eigendecomposition (negative
/// eigenvalues of round-off clipped to 0). FID's formula (Heusel et al.
/// 2017) in whatever feature space x and y come from.
double frechetDistance(const torch::Tensor &x, const torch::Tensor &y);

} // namespace flowrt

#endif // FLOWRT_METRICS_H
