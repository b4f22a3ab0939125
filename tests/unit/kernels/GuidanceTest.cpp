//===- GuidanceTest.cpp - Condition dropout and guidance kernels ----------===//
//
// The conditional flows of kernels.flow: cond_path computes drop(y, 0.25),
// which must be -1 exactly where the kernel's uniform draw of stream 2 is
// below 0.25 (checked against the reference Philox, so bit for bit) and y
// elsewhere; cond_guidance is std.guidance's cfg with w from the host, and
// cond2_guidance a user fn of (v_c, v_u, x, t, w, k = 0.5), both checked
// against the formula computed with torch in double.
//
//===----------------------------------------------------------------------===//
#include "KernelTestUtil.h"

#include <gtest/gtest.h>

using namespace flowc_test;

namespace {

constexpr int64_t kRows = 4096;
constexpr uint32_t kDropStream = 2;

} // namespace

TEST(Guidance, DropHidesTheLabelWhereItsUniformDrawIsBelowP) {
  torch::manual_seed(3);
  torch::Tensor x1 = torch::randn({kRows, 2});
  torch::Tensor y = torch::randint(0, 2, {kRows, 1}).to(torch::kFloat);
  torch::Tensor xt = torch::empty({kRows, 2}), t = torch::empty({kRows, 1});
  torch::Tensor yIn = torch::empty({kRows, 1}), target = torch::empty({kRows, 2});
  const int64_t seed = 11, step = 5;
  cond_path(kRows, seed, step, FLOWC_ROWS(buf(x1), kRows, 2),
            FLOWC_ROWS(buf(y), kRows, 1), FLOWC_ROWS(buf(xt), kRows, 2),
            FLOWC_ROWS(buf(t), kRows, 1), FLOWC_ROWS(buf(yIn), kRows, 1),
            FLOWC_ROWS(buf(target), kRows, 2));
  int64_t dropped = 0;
  for (int64_t i = 0; i < kRows; ++i) {
    bool drop = referenceUniform(i, 0, kDropStream, seed, step) < 0.25f;
    dropped += drop;
    float want = drop ? -1.0f : y[i][0].item<float>();
    ASSERT_EQ(want, yIn[i][0].item<float>()) << "row " << i;
  }
  // The fraction is binomial(4096, 0.25): within 4 standard deviations.
  double fraction = double(dropped) / kRows;
  measured("fraction of labels dropped (p = 0.25)", fraction);
  EXPECT_NEAR(0.25, fraction, 4 * std::sqrt(0.25 * 0.75 / kRows));
}

TEST(Guidance, CfgKernelIsVuPlusWTimesTheDifference) {
  torch::manual_seed(4);
  torch::Tensor vc = torch::randn({kRows, 2}), vu = torch::randn({kRows, 2});
  torch::Tensor x = torch::randn({kRows, 2}), out = torch::empty({kRows, 2});
  torch::Tensor t = torch::rand({kRows, 1}); // each sample's own time
  for (float w : {0.0f, 1.0f, 3.0f, -0.5f}) {
    cond_guidance(kRows, 0, 0, FLOWC_ROWS(buf(vc), kRows, 2),
                  FLOWC_ROWS(buf(vu), kRows, 2), FLOWC_ROWS(buf(x), kRows, 2),
                  FLOWC_ROWS(buf(t), kRows, 1), w, FLOWC_ROWS(buf(out), kRows, 2));
    torch::Tensor want = d(vu) + w * (d(vc) - d(vu));
    EXPECT_LT(maxMixedError(out, want), 1e-6) << "w = " << w;
  }
}

TEST(Guidance, UserFnGetsStateTimeScaleAndConstants) {
  torch::manual_seed(5);
  torch::Tensor vc = torch::randn({kRows, 2}), vu = torch::randn({kRows, 2});
  torch::Tensor x = torch::randn({kRows, 2}), out = torch::empty({kRows, 2});
  torch::Tensor t = torch::rand({kRows, 1}); // each sample's own time
  const float w = 2.0f, k = 0.5f;            // k from the sample block
  cond2_guidance(kRows, 0, 0, FLOWC_ROWS(buf(vc), kRows, 2),
                 FLOWC_ROWS(buf(vu), kRows, 2), FLOWC_ROWS(buf(x), kRows, 2),
                 FLOWC_ROWS(buf(t), kRows, 1), w, FLOWC_ROWS(buf(out), kRows, 2));
  torch::Tensor want = d(vu) + w * (1 - d(t)) * (d(vc) - d(vu)) - k * d(x);
  double err = maxMixedError(out, want);
  measured("damped guidance kernel error", err);
  EXPECT_LT(err, 1e-6);
}
