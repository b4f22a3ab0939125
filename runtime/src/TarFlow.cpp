//===- TarFlow.cpp - Transformer autoregressive normalizing flows ---------===//
//
// Implements TarFlow.h. Each transformer layer is pre-LayerNorm causal
// self-attention and a GELU MLP (4x), both residual, as apple/ml-tarflow's
// AttentionBlock; attention is written out (not a fused kernel) so that the
// inverse can feed it one token at a time against cached keys and values.
//
//===----------------------------------------------------------------------===//

#include "TarFlow.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

using namespace flowrt;
namespace nn = torch::nn;

namespace {

/// Keys and values of the tokens seen so far, one pair per layer.
struct KVCache {
  std::vector<torch::Tensor> keys, values;
};

class CausalLayerImpl : public nn::Module {
public:
  CausalLayerImpl(int64_t features, int64_t heads) : heads(heads) {
    norm1 = register_module("norm1", nn::LayerNorm(nn::LayerNormOptions({features})));
    qkv = register_module("qkv", nn::Linear(features, 3 * features));
    proj = register_module("proj", nn::Linear(features, features));
    norm2 = register_module("norm2", nn::LayerNorm(nn::LayerNormOptions({features})));
    fc1 = register_module("fc1", nn::Linear(features, 4 * features));
    fc2 = register_module("fc2", nn::Linear(4 * features, features));
  }

  /// h [n, T, F] attending causally within itself, or (with `cache`) to the
  /// cached tokens before it as well, whose keys and values it then joins.
  torch::Tensor forward(const torch::Tensor &h, KVCache *cache = nullptr, size_t layer = 0) {
    int64_t n = h.size(0), T = h.size(1), F = h.size(2), hd = F / heads;
    auto qkvs = qkv(norm1(h)).reshape({n, T, 3, heads, hd}).permute({2, 0, 3, 1, 4});
    torch::Tensor q = qkvs[0], k = qkvs[1], v = qkvs[2]; // [n, heads, T, hd]
    int64_t past = 0;
    if (cache) {
      if (cache->keys.size() <= layer) {
        cache->keys.push_back(k);
        cache->values.push_back(v);
      } else {
        past = cache->keys[layer].size(2);
        cache->keys[layer] = torch::cat({cache->keys[layer], k}, 2);
        cache->values[layer] = torch::cat({cache->values[layer], v}, 2);
      }
      k = cache->keys[layer];
      v = cache->values[layer];
    }
    torch::Tensor scores = torch::matmul(q, k.transpose(-2, -1)) / std::sqrt(double(hd));
    // Query i (at past + i) sees keys 0 .. past + i.
    torch::Tensor later = torch::ones({T, past + T}, torch::dtype(torch::kBool).device(h.device()))
                              .triu(past + 1);
    scores = scores.masked_fill(later, -std::numeric_limits<float>::infinity());
    torch::Tensor a = torch::matmul(torch::softmax(scores, -1), v);
    torch::Tensor x = h + proj(a.permute({0, 2, 1, 3}).reshape({n, T, F}));
    return x + fc2(torch::gelu(fc1(norm2(x))));
  }

private:
  int64_t heads;
  nn::LayerNorm norm1{nullptr}, norm2{nullptr};
  nn::Linear qkv{nullptr}, proj{nullptr}, fc1{nullptr}, fc2{nullptr};
};
TORCH_MODULE(CausalLayer);

} // namespace

TarFlowBlockImpl::TarFlowBlockImpl(const TarFlowOptions &opts, int64_t tokens, int64_t tokenDim,
                                   int64_t depth, bool reversed)
    : tokens(tokens), tokenDim(tokenDim), features(opts.features), heads(opts.heads),
      reversed(reversed) {
  if (features % heads != 0)
    throw std::invalid_argument("tarflow: 'width' " + std::to_string(features) +
                                " is not a multiple of 'heads' " + std::to_string(heads));
  in = register_module("proj_in", nn::Linear(tokenDim, features));
  position = register_parameter("position", torch::randn({tokens, features}) * 1e-2);
  if (opts.classes > 0)
    classEmbedding =
        register_parameter("class_embedding", torch::randn({opts.classes, features}) * 1e-2);
  for (int64_t i = 0; i < depth; ++i)
    layers->push_back(CausalLayer(features, heads));
  register_module("layers", layers);
  out = register_module("proj_out", nn::Linear(features, 2 * tokenDim));
  torch::NoGradGuard noGrad; // zero-initialised: the identity map
  out->weight.zero_();
  out->bias.zero_();
}

torch::Tensor TarFlowBlockImpl::permute(const torch::Tensor &x) const {
  return reversed ? x.flip(1) : x;
}

torch::Tensor TarFlowBlockImpl::embedTokens(const torch::Tensor &x, const torch::Tensor &labels,
                                            int64_t from) {
  // Positions in the block's order: token i of the permuted sequence.
  torch::Tensor h = in(x) + permute(position.unsqueeze(0)).slice(1, from, from + x.size(1));
  if (classEmbedding.defined()) {
    // The null class (-1, or no labels) is the classes' mean.
    torch::Tensor null = classEmbedding.mean(0, /*keepdim=*/true).expand({x.size(0), features});
    torch::Tensor c = null;
    if (labels.defined()) {
      torch::Tensor y = labels.reshape({-1}).to(torch::kLong);
      torch::Tensor known = (y >= 0).unsqueeze(1);
      c = torch::where(known, classEmbedding.index_select(0, y.clamp_min(0)), null);
    }
    h = h + c.unsqueeze(1);
  }
  return h;
}

std::pair<torch::Tensor, torch::Tensor> TarFlowBlockImpl::project(const torch::Tensor &h) {
  auto parts = out(h).chunk(2, -1);
  return {parts[0], parts[1]};
}

std::pair<torch::Tensor, torch::Tensor> TarFlowBlockImpl::shifts(const torch::Tensor &x,
                                                                 const torch::Tensor &labels) {
  torch::Tensor h = embedTokens(x, labels, 0);
  for (const auto &layer : *layers)
    h = layer->as<CausalLayerImpl>()->forward(h);
  auto [alpha, mu] = project(h);
  // Token i's shift comes from the output at token i - 1; token 0 passes.
  auto shift = [](const torch::Tensor &a) {
    return torch::cat({torch::zeros_like(a.slice(1, 0, 1)), a.slice(1, 0, a.size(1) - 1)}, 1);
  };
  return {shift(alpha), shift(mu)};
}

std::pair<torch::Tensor, torch::Tensor> TarFlowBlockImpl::forward(const torch::Tensor &x,
                                                                  const torch::Tensor &labels) {
  torch::Tensor xp = permute(x);
  auto [alpha, mu] = shifts(xp, labels);
  torch::Tensor z = (xp - mu) * torch::exp(-alpha);
  return {permute(z), -alpha.sum({1, 2})};
}

std::pair<torch::Tensor, torch::Tensor>
TarFlowBlockImpl::guidedShifts(const torch::Tensor &x, const torch::Tensor &labels,
                               double guidance) {
  auto [alpha, mu] = shifts(x, labels);
  if (guidance == 0 || !classEmbedding.defined())
    return {alpha, mu};
  auto [alphaNull, muNull] = shifts(x, torch::full({x.size(0)}, -1.0, x.options()));
  return {alpha + guidance * (alpha - alphaNull), mu + guidance * (mu - muNull)};
}

torch::Tensor TarFlowBlockImpl::inverse(const torch::Tensor &z, const torch::Tensor &labels,
                                        double guidance) {
  torch::Tensor zp = permute(z);
  bool guided = guidance != 0 && classEmbedding.defined();
  torch::Tensor nullLabels = torch::full({z.size(0)}, -1.0, z.options());
  KVCache cache, nullCache;
  // Token i + 1 from the outputs at token i, which sees tokens 0 .. i.
  auto step = [&](const torch::Tensor &token, int64_t i, const torch::Tensor &y, KVCache &c) {
    torch::Tensor h = embedTokens(token, y, i);
    for (size_t l = 0; l < layers->size(); ++l)
      h = (*layers)[l]->as<CausalLayerImpl>()->forward(h, &c, l);
    return project(h);
  };
  std::vector<torch::Tensor> xs{zp.slice(1, 0, 1)};
  for (int64_t i = 0; i + 1 < tokens; ++i) {
    auto [alpha, mu] = step(xs.back(), i, labels, cache);
    if (guided) {
      auto [alphaNull, muNull] = step(xs.back(), i, nullLabels, nullCache);
      alpha = alpha + guidance * (alpha - alphaNull);
      mu = mu + guidance * (mu - muNull);
    }
    xs.push_back(zp.slice(1, i + 1, i + 2) * torch::exp(alpha) + mu);
  }
  return permute(torch::cat(xs, 1));
}

torch::Tensor TarFlowBlockImpl::inverseJacobi(const torch::Tensor &z, const torch::Tensor &labels,
                                              double guidance, double tolerance, int64_t group,
                                              int64_t *iterations) {
  torch::Tensor zp = permute(z), x = zp;
  int64_t size = group > 0 ? group : tokens, k = 0;
  for (int64_t from = 0; from < tokens; from += size) {
    int64_t to = std::min(tokens, from + size);
    // The tokens before `from` are final. Token from + j is exact after
    // j + 1 iterations (token 0 after none: it passes unchanged), and the
    // causal shifts of tokens < to need only those tokens.
    int64_t most = from == 0 ? to - 1 : to - from;
    for (int64_t i = 0; i < most; ++i) {
      auto [alpha, mu] = guidedShifts(x.slice(1, 0, to), labels, guidance);
      torch::Tensor next =
          zp.slice(1, from, to) * torch::exp(alpha.slice(1, from, to)) + mu.slice(1, from, to);
      double change = (next - x.slice(1, from, to)).abs().max().item<double>();
      x = torch::cat({x.slice(1, 0, from), next, x.slice(1, to)}, 1);
      ++k;
      if (change < tolerance)
        break;
    }
  }
  *iterations = k;
  return permute(x);
}

TarFlowImpl::TarFlowImpl(TarFlowOptions options) : opts(options) {
  int64_t p = opts.patch;
  if (p < 1 || opts.height % p != 0 || opts.width % p != 0)
    throw std::invalid_argument("tarflow: 'patch' " + std::to_string(p) +
                                " does not divide the image's " + std::to_string(opts.height) +
                                " x " + std::to_string(opts.width));
  int64_t tokens = (opts.height / p) * (opts.width / p), tokenDim = opts.channels * p * p;
  if (tokens < 2)
    throw std::invalid_argument("tarflow: the image is one patch; an autoregressive flow "
                                "needs at least two");
  for (int64_t b = 0; b < opts.blocks; ++b) {
    bool deep = b == opts.blocks - 1 && opts.deep > 0;
    blocks->push_back(TarFlowBlock(opts, tokens, tokenDim, deep ? opts.deep : opts.depth,
                                   /*reversed=*/b % 2 == 1));
  }
  register_module("blocks", blocks);
}

torch::Tensor TarFlowImpl::patchify(const torch::Tensor &x) const {
  int64_t n = x.size(0), p = opts.patch, C = opts.channels;
  int64_t gh = opts.height / p, gw = opts.width / p;
  return x.reshape({n, C, gh, p, gw, p}).permute({0, 2, 4, 1, 3, 5}).reshape({n, gh * gw, C * p * p});
}

torch::Tensor TarFlowImpl::unpatchify(const torch::Tensor &x) const {
  int64_t n = x.size(0), p = opts.patch, C = opts.channels;
  int64_t gh = opts.height / p, gw = opts.width / p;
  return x.reshape({n, gh, gw, C, p, p}).permute({0, 3, 1, 4, 2, 5}).reshape({n, -1});
}

std::pair<torch::Tensor, torch::Tensor> TarFlowImpl::forward(const torch::Tensor &x,
                                                             const torch::Tensor &labels) {
  torch::Tensor h = patchify(x);
  torch::Tensor logdet = torch::zeros({x.size(0)}, x.options());
  for (const auto &block : *blocks) {
    auto [z, ld] = block->as<TarFlowBlockImpl>()->forward(h, labels);
    h = z;
    logdet = logdet + ld;
  }
  return {unpatchify(h), logdet};
}

torch::Tensor TarFlowImpl::logProb(const torch::Tensor &x, const torch::Tensor &labels) {
  auto [z, logdet] = forward(x, labels);
  double d = static_cast<double>(z.size(1));
  return -0.5 * z.pow(2).sum(1) - 0.5 * d * std::log(2 * M_PI) + logdet;
}

torch::Tensor TarFlowImpl::inverse(const torch::Tensor &z, const torch::Tensor &labels,
                                   double guidance, double jacobiTolerance, int64_t jacobiGroup) {
  torch::Tensor h = patchify(z);
  jacobiIterations = 0;
  for (int64_t b = static_cast<int64_t>(blocks->size()) - 1; b >= 0; --b) {
    auto *block = (*blocks)[b]->as<TarFlowBlockImpl>();
    if (jacobiTolerance > 0) {
      int64_t k = 0;
      h = block->inverseJacobi(h, labels, guidance, jacobiTolerance, jacobiGroup, &k);
      jacobiIterations += k;
    } else {
      h = block->inverse(h, labels, guidance);
    }
  }
  return unpatchify(h);
}

torch::Tensor TarFlowImpl::denoise(const torch::Tensor &x, double sigma,
                                   const torch::Tensor &labels) {
  torch::AutoGradMode enable(true);
  torch::Tensor xg = x.detach().requires_grad_(true);
  torch::Tensor score = torch::autograd::grad({logProb(xg, labels).sum()}, {xg})[0];
  return (x + sigma * sigma * score).detach();
}

namespace {

/// A TarFlow behind the network interface: its arguments (x[, label]) give
/// log p(x[ | label]).
class TarFlowNetworkImpl : public NetworkImpl {
public:
  explicit TarFlowNetworkImpl(TarFlowOptions opts) {
    flow = register_module("flow", TarFlow(opts));
  }
  torch::Tensor forward(const torch::Tensor &, const torch::Tensor &,
                        const torch::Tensor &) override {
    throw std::logic_error("a normalizing flow has no velocity: apply it as nf(x[, label])");
  }
  torch::Tensor apply(const std::vector<torch::Tensor> &args) override {
    torch::Tensor labels = args.size() > 1 ? args[1].reshape({-1}) : torch::Tensor();
    return flow->logProb(args[0], labels).unsqueeze(1);
  }
  TarFlow flow{nullptr};
};

} // namespace

Network flowrt::makeTarFlowNetwork(const flowrt_model_desc &desc) {
  if (desc.in_rank != 3 || !desc.in_shape)
    throw std::invalid_argument(std::string("tarflow network ") + desc.name +
                                " needs an image [C, H, W]");
  TarFlowOptions o;
  o.channels = desc.in_shape[0];
  o.height = desc.in_shape[1];
  o.width = desc.in_shape[2];
  o.patch = desc.patch;
  o.blocks = desc.blocks;
  o.depth = desc.depth;
  o.deep = desc.deep;
  o.features = desc.width;
  o.heads = desc.heads;
  o.classes = desc.classes;
  return std::make_shared<TarFlowNetworkImpl>(o);
}

TarFlowImpl *flowrt::asTarFlow(NetworkImpl &net) {
  auto *adapter = dynamic_cast<TarFlowNetworkImpl *>(&net);
  return adapter ? adapter->flow.get() : nullptr;
}
