//===- RandomTest.cpp - In-kernel random numbers vs a reference Philox ----===//
//
// Kernels draw their own random numbers: Philox 4x32-10 keyed by the seed,
// with counter (row, column, stream, step), turned into U[0, 1) and, by
// Box-Muller, N(0, 1). These tests first pin the test's own Philox to
// Random123's known answers, then require the kernels' uniform times to equal
// it bit for bit and their normals to match it within float rounding, over
// many rows, seeds and steps. Last, the statistics of 200k in-kernel draws:
// mean and variance within 4 standard errors and a Kolmogorov-Smirnov
// statistic below the 1% critical value, so a biased transform (wrong shift,
// wrong scale, sin for cos of the wrong word) cannot pass by matching itself.
//
//===----------------------------------------------------------------------===//
#include "KernelTestUtil.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <vector>

using namespace flowc_test;

namespace {

/// Seeds and steps that cover a zero key, a key with a nonzero high word and
/// a step past 2^32 (only its low 32 bits enter the counter).
const int64_t kSeeds[] = {0, 1, 42, int64_t(0x123456789ABCDEF0)};
const int64_t kSteps[] = {0, 1, 1000, (int64_t(1) << 32) + 5};

/// The draws of rf_path: x0 (recovered from the target) and t.
struct PathDraws {
  torch::Tensor x0, t;
};
PathDraws drawPath(int64_t n, int64_t seed, int64_t step) {
  auto x1 = torch::zeros({n, 2});
  auto xt = torch::empty({n, 2}), t = torch::empty({n, 1}),
       target = torch::empty({n, 2});
  rf_path(n, seed, step, FLOWC_ROWS(buf(x1), n, 2), FLOWC_ROWS(buf(xt), n, 2),
          FLOWC_ROWS(buf(t), n, 1), FLOWC_ROWS(buf(target), n, 2));
  // With x1 = 0 the target x1 - x0 is -x0 exactly.
  return {-target, t};
}

torch::Tensor drawSource(int64_t n, int64_t seed, int64_t step) {
  auto x0 = torch::empty({n, 2});
  rf_source(n, seed, step, FLOWC_ROWS(buf(x0), n, 2));
  return x0;
}

/// Kolmogorov-Smirnov distance between the sample and a CDF.
template <typename Cdf>
double ksStatistic(const torch::Tensor &sample, Cdf cdf) {
  auto flat = sample.to(torch::kDouble).flatten().contiguous();
  std::vector<double> v(flat.data_ptr<double>(),
                        flat.data_ptr<double>() + flat.numel());
  std::sort(v.begin(), v.end());
  double n = double(v.size()), d = 0;
  for (size_t i = 0; i < v.size(); ++i) {
    double f = cdf(v[i]);
    d = std::max({d, (i + 1) / n - f, f - i / n});
  }
  return d;
}

/// 1% critical value of the KS statistic for large samples.
double ksCritical1Percent(int64_t n) { return 1.63 / std::sqrt(double(n)); }

} // namespace

// Random123's kat_vectors for philox4x32-10: the reference is the real thing.
TEST(Philox, ReferenceMatchesRandom123KnownAnswers) {
  EXPECT_EQ(philox4x32x10({0, 0, 0, 0}, {0, 0}),
            (Philox4x32{0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}));
  EXPECT_EQ(philox4x32x10({0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff},
                          {0xffffffff, 0xffffffff}),
            (Philox4x32{0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}));
  EXPECT_EQ(philox4x32x10({0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344},
                          {0xa4093822, 0x299f31d0}),
            (Philox4x32{0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}));
}

// t ~ uniform(0, 1) is pure integer work plus one exact float multiply, so
// the kernel must reproduce the reference bit for bit (tolerance 0 ulp).
TEST(Philox, KernelUniformTimeIsBitExact) {
  const int64_t n = 3000;
  int64_t compared = 0, mismatched = 0;
  for (int64_t seed : kSeeds)
    for (int64_t step : kSteps) {
      auto t = drawPath(n, seed, step).t;
      const float *got = t.data_ptr<float>();
      for (int64_t row = 0; row < n; ++row) {
        float want = referenceUniform(row, 0, kTimeStream, seed, step);
        ++compared;
        if (std::memcmp(&got[row], &want, sizeof want) != 0 &&
            ++mismatched <= 5)
          ADD_FAILURE() << "seed " << seed << " step " << step << " row " << row
                        << ": kernel t " << got[row] << ", reference " << want;
      }
    }
  measured("uniform t bit mismatches", double(mismatched));
  EXPECT_EQ(mismatched, 0) << "of " << compared;
}

// x0 ~ normal goes through logf/cosf; the reference uses the same float32
// formula, so they agree to 1e-6 absolute (|x0| < 6, ulp(4) = 4.8e-7), both
// from the source kernel and from x0 inside the path kernel.
TEST(Philox, KernelNormalMatchesReference) {
  const int64_t n = 3000;
  double worstSource = 0, worstPath = 0;
  for (int64_t seed : kSeeds)
    for (int64_t step : kSteps) {
      auto want = torch::empty({n, 2});
      auto w = want.accessor<float, 2>();
      for (int64_t row = 0; row < n; ++row)
        for (int64_t col = 0; col < 2; ++col)
          w[row][col] = referenceNormal(row, col, kSourceStream, seed, step);
      worstSource =
          std::max(worstSource, maxAbsError(drawSource(n, seed, step), want));
      worstPath =
          std::max(worstPath, maxAbsError(drawPath(n, seed, step).x0, want));
    }
  measured("source x0 vs reference normal, max abs", worstSource);
  measured("path x0 vs reference normal, max abs", worstPath);
  EXPECT_LE(worstSource, 1e-6);
  EXPECT_LE(worstPath, 1e-6);
}

// Different seeds, steps, rows and columns must give different draws: a
// kernel that ignored one of them would still match itself above.
TEST(Philox, DrawsDependOnSeedStepRowAndColumn) {
  const int64_t n = 1000;
  auto base = drawSource(n, 3, 5);
  EXPECT_GT(maxAbsError(base, drawSource(n, 4, 5)), 1.0);
  EXPECT_GT(maxAbsError(base, drawSource(n, 3, 6)), 1.0);
  EXPECT_GT(
      maxAbsError(base, drawSource(n, int64_t(3) + (int64_t(1) << 32), 5)),
      1.0); // the seed's high word is half the key
  EXPECT_GT(maxAbsError(base.select(1, 0), base.select(1, 1)), 1.0);
  EXPECT_GT(maxAbsError(base.slice(0, 0, n / 2), base.slice(0, n / 2, n)), 1.0);
  // Same seed and step: the draw is a pure function of them.
  EXPECT_TRUE(torch::equal(base, drawSource(n, 3, 5)));
}

// 200k normals: mean within 4 SE (1/sqrt(N)), variance within 4 SE
// (sqrt(2/N)), KS below the 1% critical value, and the two columns (same row,
// different counter) uncorrelated within 4/sqrt(rows).
TEST(RandomStatistics, KernelNormalsAreStandardNormal) {
  const int64_t rows = 100000, n = 2 * rows;
  auto x = drawSource(rows, 2024, 17).to(torch::kDouble);
  double mean = x.mean().item<double>(), var = x.var().item<double>();
  double ks = ksStatistic(
      x, [](double z) { return 0.5 * std::erfc(-z / std::sqrt(2.0)); });
  double corr = torch::corrcoef(x.t())[0][1].item<double>();
  measured("normal mean (4 SE bound 0.0089)", mean);
  measured("normal variance - 1 (4 SE bound 0.0126)", var - 1);
  measured("normal KS (1% critical 0.00364)", ks);
  measured("normal column correlation (bound 0.0126)", corr);
  EXPECT_LT(std::abs(mean), 4 / std::sqrt(double(n)));
  EXPECT_LT(std::abs(var - 1), 4 * std::sqrt(2.0 / n));
  EXPECT_LT(ks, ksCritical1Percent(n));
  EXPECT_LT(std::abs(corr), 4 / std::sqrt(double(rows)));
  EXPECT_TRUE(torch::isfinite(x).all().item<bool>());
}

// 200k uniform times: in [0, 1), mean 1/2 within 4 SE (sqrt(1/12/N)),
// variance 1/12 within 4 SE (sqrt(1/180/N)), KS below the 1% critical value,
// and uncorrelated with x0 of the same row (a different stream).
TEST(RandomStatistics, KernelTimesAreUniform) {
  const int64_t n = 200000;
  auto draws = drawPath(n, 99, 12345);
  auto t = draws.t.to(torch::kDouble);
  double mean = t.mean().item<double>(), var = t.var().item<double>();
  double ks =
      ksStatistic(t, [](double u) { return std::min(std::max(u, 0.0), 1.0); });
  auto both =
      torch::stack({t.flatten(), draws.x0.select(1, 0).to(torch::kDouble)});
  double corr = torch::corrcoef(both)[0][1].item<double>();
  measured("uniform mean - 1/2 (4 SE bound 0.00258)", mean - 0.5);
  measured("uniform variance - 1/12 (4 SE bound 0.00067)", var - 1.0 / 12);
  measured("uniform KS (1% critical 0.00364)", ks);
  measured("corr(t, x0) (bound 0.0089)", corr);
  EXPECT_GE(t.min().item<double>(), 0.0);
  EXPECT_LT(t.max().item<double>(), 1.0);
  EXPECT_LT(std::abs(mean - 0.5), 4 * std::sqrt(1.0 / 12 / n));
  EXPECT_LT(std::abs(var - 1.0 / 12), 4 * std::sqrt(1.0 / 180 / n));
  EXPECT_LT(ks, ksCritical1Percent(n));
  EXPECT_LT(std::abs(corr), 4 / std::sqrt(double(n)));
}
