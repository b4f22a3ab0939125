//===- TokenizerTest.cpp - patchify against its definition by loops -------===//
//
// Token t = r * (W / P) + c holds the P x P patch at patch row r, patch
// column c, its values ordered by row i, column j, channel k (DiT's
// unpatchify layout): tokens[t * P*P*C + (i * P + j) * C + k] =
// image[k][r * P + i][c * P + j]. Checked element by element against
// those loops, and decode(encode(x)) == x.
//
//===----------------------------------------------------------------------===//

#include "Tokenizer.h"

#include <gtest/gtest.h>

using namespace flowrt;

TEST(Tokenizer, PatchifyIsTheDocumentedPermutation) {
  const int64_t C = 3, H = 6, W = 4, P = 2;
  int64_t shape[] = {C, H, W};
  flowrt_data_desc desc{};
  desc.rank = 3;
  desc.shape = shape;
  desc.dim = C * H * W;
  desc.tokenizer = "patchify";
  desc.patch = P;
  std::unique_ptr<Tokenizer> tok = makeTokenizer(desc);
  ASSERT_TRUE(tok);
  torch::Tensor images = torch::randn({5, C * H * W});
  torch::Tensor tokens = tok->encode(images);
  ASSERT_EQ(tokens.sizes(), images.sizes());
  auto image = images.accessor<float, 2>();
  auto token = tokens.accessor<float, 2>();
  for (int64_t n = 0; n < 5; ++n)
    for (int64_t r = 0; r < H / P; ++r)
      for (int64_t c = 0; c < W / P; ++c)
        for (int64_t i = 0; i < P; ++i)
          for (int64_t j = 0; j < P; ++j)
            for (int64_t k = 0; k < C; ++k) {
              int64_t t = r * (W / P) + c;
              float want = image[n][(k * H + r * P + i) * W + c * P + j];
              ASSERT_EQ(token[n][t * P * P * C + (i * P + j) * C + k], want)
                  << n << " " << r << " " << c << " " << i << " " << j << " " << k;
            }
  EXPECT_TRUE(tok->decode(tokens).equal(images));

  desc.patch = 4; // does not tile 6 x 4
  EXPECT_THROW(makeTokenizer(desc), std::invalid_argument);
  desc.tokenizer = nullptr;
  EXPECT_EQ(makeTokenizer(desc), nullptr);
}

// onehot: value v of position l sets column l * V + v; argmax inverts it,
// and a sample off the vertices decodes to its largest value's token.
TEST(Tokenizer, OneHotSetsOneColumnPerTokenAndArgmaxInvertsIt) {
  const int64_t L = 3, V = 5;
  flowrt_data_desc desc{};
  desc.dim = L;
  desc.tokenizer = "onehot";
  desc.vocab = V;
  std::unique_ptr<Tokenizer> tok = makeTokenizer(desc);
  ASSERT_TRUE(tok);
  torch::Tensor ids = torch::tensor({{0.f, 4.f, 2.f}, {3.f, 3.f, 1.f}});
  torch::Tensor onehot = tok->encode(ids);
  ASSERT_EQ(onehot.sizes(), (std::vector<int64_t>{2, L * V}));
  auto id = ids.accessor<float, 2>();
  auto hot = onehot.accessor<float, 2>();
  for (int64_t n = 0; n < 2; ++n)
    for (int64_t l = 0; l < L; ++l)
      for (int64_t v = 0; v < V; ++v)
        ASSERT_EQ(hot[n][l * V + v], v == static_cast<int64_t>(id[n][l]) ? 1.f : 0.f)
            << n << " " << l << " " << v;
  EXPECT_TRUE(tok->decode(onehot).equal(ids));
  torch::Tensor noisy = onehot * 0.6 + 0.1 * torch::rand({2, L * V});
  EXPECT_TRUE(tok->decode(noisy).equal(ids));

  EXPECT_THROW(tok->encode(torch::tensor({{0.f, 5.f, 1.f}})), std::runtime_error); // >= V
  EXPECT_THROW(tok->encode(torch::tensor({{0.5f, 1.f, 1.f}})), std::runtime_error); // not an id
  desc.vocab = 1;
  EXPECT_THROW(makeTokenizer(desc), std::invalid_argument);
}
