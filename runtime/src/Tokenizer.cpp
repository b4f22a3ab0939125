//===- Tokenizer.cpp - The encoding a flow sees its data through ----------===//
//
// Implements Tokenizer.h. Patchify is a permutation of each row's values
// (a view and a permute in LibTorch), so its log-determinant is zero and
// likelihoods are the same in both spaces. One-hot vectors are no such
// map: a flow over them has no likelihood of token ids.
//
//===----------------------------------------------------------------------===//

#include "Tokenizer.h"

#include "Context.h"

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

/// Token ids 0..V-1 as one-hot vectors of V values, and back by argmax
/// (the token whose value is largest, as a sample's nearest one-hot
/// vector).
class OneHot : public Tokenizer {
public:
  explicit OneHot(int64_t vocab) : vocab(vocab) {}

  torch::Tensor encode(const torch::Tensor &x) const override {
    torch::Tensor ids = x.round();
    if (x.numel() > 0 && ((ids - x).abs().max().item<double>() > 1e-6 ||
                          ids.min().item<double>() < 0 || ids.max().item<double>() >= vocab))
      throw std::runtime_error("onehot: the data's values must be token ids 0.." +
                               std::to_string(vocab - 1) + "; they range over " +
                               c10::str(x.min().item<double>()) + ".." +
                               c10::str(x.max().item<double>()) +
                               (ids.equal(x) ? "" : ", not all integers"));
    return torch::one_hot(ids.to(torch::kLong), vocab)
        .to(torch::kFloat)
        .reshape({x.size(0), x.size(1) * vocab});
  }

  torch::Tensor decode(const torch::Tensor &tokens) const override {
    return tokens.reshape({tokens.size(0), -1, vocab}).argmax(-1).to(torch::kFloat);
  }

private:
  int64_t vocab;
};

} // namespace

std::unique_ptr<Tokenizer> flowrt::makeTokenizer(const flowrt_data_desc &desc) {
  if (!desc.tokenizer)
    return nullptr;
  std::string kind = desc.tokenizer;
  if (kind == "onehot") {
    if (desc.vocab < 2)
      throw std::invalid_argument("onehot needs a vocabulary of at least 2 tokens");
    return std::make_unique<OneHot>(desc.vocab);
  }
  if (kind != "patchify")
    throw std::invalid_argument("unknown tokenizer '" + kind + "' (built in: patchify, onehot)");
  if (desc.rank != 3 || !desc.shape)
    throw std::invalid_argument("patchify needs images [C, H, W]");
  int64_t c = desc.shape[0], h = desc.shape[1], w = desc.shape[2], p = desc.patch;
  if (p < 1 || h % p || w % p)
    throw std::invalid_argument("patchify: a patch of " + std::to_string(p) +
                                " does not tile images of " + std::to_string(h) + "x" +
                                std::to_string(w));
  return std::make_unique<Patchify>(c, h, w, p);
}

torch::Tensor flowrt::applyTokenizer(flowrt_tensor *(*direction)(flowrt_ctx *, flowrt_tensor *),
                                     flowrt_ctx &ctx, const torch::Tensor &rows) {
  torch::NoGradGuard noGrad;
  constexpr int64_t Batch = 4096;
  std::vector<torch::Tensor> out;
  for (int64_t b = 0; b < rows.size(0); b += Batch) {
    flowrt_tensor in;
    in.value = rows.slice(0, b, b + Batch).to(ctx.device).contiguous();
    ctx.batchSize = in.value.size(0);
    out.push_back(direction(&ctx, &in)->value.cpu());
    ctx.clearArena();
  }
  return torch::cat(out);
}

bool flowrt::isFlowDecoder(const flowrt_program &program) {
  return program.tokenizer.decoder && program.flow_name &&
         std::string(program.tokenizer.decoder) == program.flow_name;
}

bool flowrt::samplesInDataUnits(const flowrt_program &program) {
  return samplesTokens(program) || program.sample.dim == 0 || program.data.tokenizer ||
         program.sample.dim == program.data.dim;
}
