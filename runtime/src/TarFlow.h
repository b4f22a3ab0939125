//===- TarFlow.h - Transformer autoregressive normalizing flows -*- C++ -*-===//
//
// TARFlow (Zhai et al. 2024, "Normalizing Flows are Capable Generative
// Models"; apple/ml-tarflow): an image cut into T patches of p x p pixels
// (tokens of C p p values) passes through `blocks` affine autoregressive
// steps. Each block reads the tokens in its own order (alternately as they
// are and reversed), runs a causal transformer over them, and maps token i
// by z_i = (x_i - mu_i) exp(-alpha_i), (mu_i, alpha_i) computed from the
// tokens before i (the transformer's output shifted by one, so the first
// token passes unchanged). The output projection starts at zero: a fresh
// flow is the identity. Its log-determinant is -sum(alpha) over tokens and
// features, so log p(x) = -|z|^2 / 2 - D log(2 pi) / 2 + logdet exactly.
//
// The inverse runs token by token, each block's keys and values cached, so
// one pass costs a forward's work; or by Jacobi iteration (all tokens at
// once, repeated until the change is below a tolerance: exact after T
// iterations, usually fewer), or by block Jacobi iteration (STARFlow's:
// groups of K tokens in turn, each iterated until it settles, the groups
// before it already final). A class-conditional flow adds a class
// embedding to every token (the null class -1 is the classes' mean, as
// TARFlow's unconditional branch), and guidance moves (mu, alpha) away from
// the null class's: a + w (a - a_null).
//
// STARFlow (Gu et al. 2025) puts most of the capacity in one deep block
// next to the noise and keeps the others shallow (`deep` layers in the
// last block applied to x, the first one sampling inverts; `depth` in the
// rest), and models an autoencoder's latents instead of pixels (a flow over
// an encoder tokenizer's tokens; NormalizingFlow.cpp decodes its samples).
//
//===----------------------------------------------------------------------===//
#ifndef FLOWRT_TARFLOW_H
#define FLOWRT_TARFLOW_H

#include "Network.h"

#include <torch/torch.h>

#include <cstdint>

namespace flowrt {

struct TarFlowOptions {
  int64_t channels = 1, height = 8, width = 8; ///< the image, [C, H, W]
  int64_t patch = 2;                           ///< p: tokens are p x p patches
  int64_t blocks = 4;                          ///< affine autoregressive steps
  int64_t depth = 2;                           ///< transformer layers per block
  int64_t deep = 0; ///< layers of the last block (nearest the noise); 0: depth
  int64_t features = 128;                      ///< transformer features
  int64_t heads = 4;
  int64_t classes = 0;                         ///< 0: unconditional
};

/// One affine autoregressive step over tokens [n, T, d] in its own order.
class TarFlowBlockImpl : public torch::nn::Module {
public:
  TarFlowBlockImpl(const TarFlowOptions &opts, int64_t tokens, int64_t tokenDim, int64_t depth,
                   bool reversed);
  /// z and this block's log-determinant per sample, [n].
  std::pair<torch::Tensor, torch::Tensor> forward(const torch::Tensor &x,
                                                  const torch::Tensor &labels);
  /// (alpha, mu) of every token from the tokens before it, [n, T, d] each,
  /// in the block's order (x already permuted).
  std::pair<torch::Tensor, torch::Tensor> shifts(const torch::Tensor &x,
                                                 const torch::Tensor &labels);
  /// x from z, token by token with cached keys and values.
  torch::Tensor inverse(const torch::Tensor &z, const torch::Tensor &labels, double guidance);
  /// x from z by Jacobi iteration over groups of `group` tokens in turn
  /// (0: all at once); `iterations` receives how many ran.
  torch::Tensor inverseJacobi(const torch::Tensor &z, const torch::Tensor &labels,
                              double guidance, double tolerance, int64_t group,
                              int64_t *iterations);

private:
  torch::Tensor permute(const torch::Tensor &x) const; // the block's order (an involution)
  torch::Tensor embedTokens(const torch::Tensor &x, const torch::Tensor &labels, int64_t from);
  /// (alpha, mu) from the transformer's output at each token (before the shift).
  std::pair<torch::Tensor, torch::Tensor> project(const torch::Tensor &h);
  /// The guided (alpha, mu): conditional + w (conditional - null class).
  std::pair<torch::Tensor, torch::Tensor> guidedShifts(const torch::Tensor &x,
                                                       const torch::Tensor &labels,
                                                       double guidance);

  int64_t tokens, tokenDim, features, heads;
  bool reversed;
  torch::nn::Linear in{nullptr}, out{nullptr};
  torch::Tensor position, classEmbedding;
  torch::nn::ModuleList layers;
};
TORCH_MODULE(TarFlowBlock);

class TarFlowImpl : public torch::nn::Module {
public:
  explicit TarFlowImpl(TarFlowOptions options);
  /// z [n, D] (in the image's layout) and log|det dz/dx| [n] in nats, for
  /// images x [n, D] and labels [n] (empty: unconditional; -1: null class).
  std::pair<torch::Tensor, torch::Tensor> forward(const torch::Tensor &x,
                                                  const torch::Tensor &labels = {});
  /// log p(x | labels) [n] in nats: -|z|^2 / 2 - D log(2 pi) / 2 + logdet.
  torch::Tensor logProb(const torch::Tensor &x, const torch::Tensor &labels = {});
  /// x from z [n, D]: each block inverted token by token (KV cache), or by
  /// Jacobi iteration when `jacobiTolerance` > 0, over groups of
  /// `jacobiGroup` tokens in turn (0: all tokens at once).
  torch::Tensor inverse(const torch::Tensor &z, const torch::Tensor &labels = {},
                        double guidance = 0, double jacobiTolerance = 0,
                        int64_t jacobiGroup = 0);
  /// Tweedie's denoising of samples from a flow trained on data plus
  /// N(0, sigma^2) noise: x + sigma^2 grad log p(x).
  torch::Tensor denoise(const torch::Tensor &x, double sigma, const torch::Tensor &labels = {});
  /// The Jacobi iterations of the last inverse, summed over blocks.
  int64_t lastJacobiIterations() const { return jacobiIterations; }

  const TarFlowOptions &options() const { return opts; }

private:
  torch::Tensor patchify(const torch::Tensor &x) const;   // [n, D] -> [n, T, C p p]
  torch::Tensor unpatchify(const torch::Tensor &x) const; // and back
  TarFlowOptions opts;
  torch::nn::ModuleList blocks;
  int64_t jacobiIterations = 0;
};
TORCH_MODULE(TarFlow);

/// Kind "tarflow" of the program: a TarFlow whose value, applied to x [n,
/// D] (and labels [n, 1]), is log p(x[ | label]) [n, 1].
Network makeTarFlowNetwork(const flowrt_model_desc &desc);
/// The TarFlow behind a network of kind "tarflow" (null for other kinds).
TarFlowImpl *asTarFlow(NetworkImpl &net);

} // namespace flowrt

#endif // FLOWRT_TARFLOW_H
