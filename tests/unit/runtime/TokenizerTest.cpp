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
