//===- Tokenizer.cpp - The encoding a flow sees its data through ----------===//
//
// Implements Tokenizer.h. Patchify is a permutation of each row's values
// (a view and a permute in LibTorch), so its log-determinant is zero and
// likelihoods are the same in both spaces.
//
//===----------------------------------------------------------------------===//

#include "Tokenizer.h"

#include <stdexcept>
#include <string>

using namespace flowrt;

namespace {

class Patchify : public Tokenizer {
public:
  Patchify(int64_t c, int64_t h, int64_t w, int64_t p) : c(c), h(h), w(w), p(p) {}

  torch::Tensor encode(const torch::Tensor &x) const override {
    int64_t n = x.size(0);
    // [n, C, H/P, P, W/P, P] -> [n, H/P, W/P, P, P, C]
    return x.reshape({n, c, h / p, p, w / p, p})
        .permute({0, 2, 4, 3, 5, 1})
        .reshape({n, c * h * w})
        .contiguous();
  }

  torch::Tensor decode(const torch::Tensor &tokens) const override {
    int64_t n = tokens.size(0);
    return tokens.reshape({n, h / p, w / p, p, p, c})
        .permute({0, 5, 1, 3, 2, 4})
        .reshape({n, c * h * w})
        .contiguous();
  }

private:
  int64_t c, h, w, p;
};

} // namespace

std::unique_ptr<Tokenizer> flowrt::makeTokenizer(const flowrt_data_desc &desc) {
  if (!desc.tokenizer)
    return nullptr;
  std::string kind = desc.tokenizer;
  if (kind != "patchify")
    throw std::invalid_argument("unknown tokenizer '" + kind + "' (built in: patchify)");
  if (desc.rank != 3 || !desc.shape)
    throw std::invalid_argument("patchify needs images [C, H, W]");
  int64_t c = desc.shape[0], h = desc.shape[1], w = desc.shape[2], p = desc.patch;
  if (p < 1 || h % p || w % p)
    throw std::invalid_argument("patchify: a patch of " + std::to_string(p) +
                                " does not tile images of " + std::to_string(h) + "x" +
                                std::to_string(w));
  return std::make_unique<Patchify>(c, h, w, p);
}

bool flowrt::samplesInDataUnits(const flowrt_program &program) {
  return samplesTokens(program) || program.sample.dim == 0 || program.data.tokenizer ||
         program.sample.dim == program.data.dim;
}
