//===- Standardize.cpp - Tokens shifted and scaled to unit statistics -----===//
//
// Implements Standardize.h.
//
//===----------------------------------------------------------------------===//

#include "Standardize.h"

#include "Context.h"
#include "Tokenizer.h"

#include <cstdio>
#include <stdexcept>
#include <string>

using namespace flowrt;

namespace {

class StandardizeImpl : public NetworkImpl {
public:
  StandardizeImpl(int64_t channels, bool inverse) : inverse(inverse) {
    mean = register_buffer("mean", torch::zeros({channels}));
    deviation = register_buffer("std", torch::ones({channels}));
  }

  torch::Tensor forward(const torch::Tensor &x, const torch::Tensor &, const torch::Tensor &) override {
    return apply({x});
  }

  /// x [n, C * rest] -> [n, C * rest], per channel.
  torch::Tensor apply(const std::vector<torch::Tensor> &args) override {
    const torch::Tensor &x = args.at(0);
    int64_t c = mean.size(0);
    torch::Tensor v = x.reshape({x.size(0), c, -1});
    torch::Tensor m = mean.view({1, c, 1}).to(x.dtype()), s = deviation.view({1, c, 1}).to(x.dtype());
    return (inverse ? v * s + m : (v - m) / s).reshape({x.size(0), -1});
  }

  void set(const torch::Tensor &m, const torch::Tensor &s) {
    torch::NoGradGuard noGrad;
    mean.copy_(m);
    deviation.copy_(s);
  }

private:
  bool inverse;
  torch::Tensor mean, deviation;
};

/// The index of the model named `name` in `program`, or -1.
int32_t modelIndex(const flowrt_program &program, const char *name) {
  for (int32_t i = 0; name && i < program.num_models; ++i)
    if (program.models[i].name && std::string(program.models[i].name) == name)
      return i;
  return -1;
}

} // namespace

Network flowrt::makeStandardizeNetwork(const flowrt_model_desc &desc) {
  std::string kind = desc.kind ? desc.kind : "";
  if (desc.in_rank != 2 || !desc.in_shape || desc.in_shape[0] < 1 ||
      desc.in_shape[0] * desc.in_shape[1] != desc.in_dim)
    throw std::invalid_argument(kind + " needs its statistics' layout [C, rest] of its " +
                                std::to_string(desc.in_dim) + " values");
  return std::make_shared<StandardizeImpl>(desc.in_shape[0], kind == "unstandardize");
}

void flowrt::fitStandardization(const flowrt_program &program,
                                const std::vector<NetworkSetImpl *> &sets, flowrt_ctx &ctx,
                                const DataSet &data, bool quiet) {
  const flowrt_tokenizer_desc &tok = program.tokenizer;
  int32_t forward = modelIndex(program, tok.standardize),
          inverse = modelIndex(program, tok.unstandardize);
  if (forward < 0 || inverse < 0 || isFrozen(program.models[forward]) || !tok.encode)
    return;
  auto networks = [&](NetworkSetImpl &set) {
    auto *f = dynamic_cast<StandardizeImpl *>(set.network(forward).get());
    auto *i = dynamic_cast<StandardizeImpl *>(set.network(inverse).get());
    if (!f || !i)
      throw std::runtime_error(std::string("tokenizer '") + tok.name +
                               "': its standardization networks are not of kind standardize");
    return std::pair{f, i};
  };
  // The raw tokens: encoded with the standardization at the identity.
  int64_t c = program.models[forward].in_shape[0];
  torch::Tensor zero = torch::zeros({c}), one = torch::ones({c});
  for (NetworkSetImpl *set : sets)
    networks(*set).first->set(zero, one);
  constexpr int64_t MaxPoints = 10000;
  constexpr uint64_t FitStream = 0x5354445a; // a stream of its own: no batch draws it
  std::optional<Batch> all = data.all();
  torch::Tensor x = all && all->x.size(0) <= MaxPoints ? all->x : data.sample(MaxPoints, FitStream);
  int64_t batch = ctx.batchSize;
  torch::Tensor z = applyTokenizer(tok.encode, ctx, x).reshape({x.size(0), c, -1});
  ctx.batchSize = batch;
  // In double: the statistics of 10000 points of a latent far from zero.
  const std::vector<int64_t> overSamples{0, 2};
  z = z.to(torch::kDouble);
  torch::Tensor mean = z.mean(overSamples);
  torch::Tensor deviation = (z - mean.view({1, c, 1})).square().mean(overSamples).sqrt();
  deviation = torch::where(deviation > 1e-12, deviation, torch::ones_like(deviation));
  mean = mean.to(torch::kFloat);
  deviation = deviation.to(torch::kFloat);
  for (NetworkSetImpl *set : sets) {
    auto [f, i] = networks(*set);
    f->set(mean, deviation);
    i->set(mean, deviation);
  }
  if (quiet)
    return;
  auto list = [](const torch::Tensor &v) {
    std::string out;
    for (int64_t k = 0; k < v.numel(); ++k)
      out += (k ? ", " : "[") + c10::str(v[k].item<float>());
    return out + "]";
  };
  std::fprintf(stderr, "standardized the tokens of '%s' by statistics of %lld data points%s\n",
               tok.name, static_cast<long long>(x.size(0)),
               c <= 8 ? (": mean " + list(mean) + ", std " + list(deviation)).c_str() : "");
}
