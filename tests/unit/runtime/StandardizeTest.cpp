//===- StandardizeTest.cpp - a tokenizer's standardization networks --------===//
//
// The "standardize" network on rows [n, C * R] with statistics per channel
// c (columns c R .. c R + R - 1) against its closed form (x - mean[c]) /
// std[c], forward and backward (d/dx = 1 / std[c]); "unstandardize" is its
// inverse; the statistics travel in a torch archive and in copyParameters
// (the EMA copy), as a checkpoint's networks do.
//
//===----------------------------------------------------------------------===//

#include "Network.h"
#include "Standardize.h"

#include <gtest/gtest.h>

using namespace flowrt;

namespace {

const int64_t Layout[] = {2, 3};

flowrt_model_desc standardizeDesc(const char *kind) {
  flowrt_model_desc d{};
  d.name = kind;
  d.kind = kind;
  d.in_dim = d.out_dim = 6;
  d.in_rank = d.out_rank = 2;
  d.in_shape = d.out_shape = Layout;
  return d;
}

void setStatistics(NetworkImpl &net, const torch::Tensor &mean, const torch::Tensor &std) {
  torch::NoGradGuard noGrad;
  for (auto &b : net.named_buffers())
    b.value().copy_(b.key() == "mean" ? mean : std);
}

} // namespace

TEST(Standardize, ClosedFormForwardBackwardAndInverse) {
  Network forward = makeStandardizeNetwork(standardizeDesc("standardize"));
  Network inverse = makeStandardizeNetwork(standardizeDesc("unstandardize"));
  torch::Tensor mean = torch::tensor({3.f, -2.f}), std = torch::tensor({4.f, 0.5f});
  // Until set: the identity.
  torch::Tensor x = torch::randn({5, 6}, torch::dtype(torch::kFloat).requires_grad(true));
  EXPECT_TRUE(torch::allclose(forward->apply({x}), x));
  setStatistics(*forward, mean, std);
  setStatistics(*inverse, mean, std);
  torch::Tensor z = forward->apply({x});
  auto xa = x.accessor<float, 2>();
  auto za = z.accessor<float, 2>();
  for (int64_t n = 0; n < 5; ++n)
    for (int64_t j = 0; j < 6; ++j) {
      int64_t c = j / 3;
      EXPECT_NEAR(za[n][j], (xa[n][j] - mean[c].item<float>()) / std[c].item<float>(), 1e-5)
          << n << " " << j;
    }
  EXPECT_LT((inverse->apply({z}) - x).abs().max().item<float>(), 1e-5);
  // Backward: d sum(z) / dx = 1 / std[c].
  z.sum().backward();
  torch::Tensor expected = torch::tensor({0.25f, 0.25f, 0.25f, 2.f, 2.f, 2.f}).expand({5, 6});
  EXPECT_LT((x.grad() - expected).abs().max().item<float>(), 1e-6);
  // No parameters: no optimizer step or flat buffer sees the statistics.
  EXPECT_TRUE(forward->parameters().empty());
}

TEST(Standardize, StatisticsTravelInArchivesAndCopies) {
  Network saved = makeStandardizeNetwork(standardizeDesc("standardize"));
  setStatistics(*saved, torch::tensor({1.f, 2.f}), torch::tensor({3.f, 4.f}));
  torch::serialize::OutputArchive out;
  saved->save(out);
  std::stringstream bytes;
  out.save_to(bytes);
  Network loaded = makeStandardizeNetwork(standardizeDesc("standardize"));
  torch::serialize::InputArchive in;
  in.load_from(bytes);
  loaded->load(in);
  torch::Tensor x = torch::randn({4, 6});
  EXPECT_TRUE(torch::equal(loaded->apply({x}), saved->apply({x})));
  Network copy = makeStandardizeNetwork(standardizeDesc("standardize"));
  copyParameters(*copy, *saved);
  EXPECT_TRUE(torch::equal(copy->apply({x}), saved->apply({x})));
}

TEST(Standardize, RefusesALayoutThatIsNotItsValues) {
  flowrt_model_desc d = standardizeDesc("standardize");
  d.in_dim = 7;
  EXPECT_THROW(makeStandardizeNetwork(d), std::invalid_argument);
  d = standardizeDesc("standardize");
  d.in_rank = 0;
  EXPECT_THROW(makeStandardizeNetwork(d), std::invalid_argument);
}
