//===- ImageNetworks.h - U-Net and DiT velocity networks --------*- C++ -*-===//
//
// Velocity networks for images [C, H, W] (flat rows in and out, as every
// network of Network.h): a small U-Net (Ronneberger et al. 2015, with the
// time-conditioned residual blocks of DDPM, Ho et al. 2020) and a small
// DiT (Peebles & Xie 2023: patch tokens, adaLN-Zero conditioning on time
// and class). Both embed the time with Fourier features and an MLP, and a
// class label with an embedding of classes + 1 rows (the last the null
// class) added to the time embedding.
//
//===----------------------------------------------------------------------===//
#ifndef FLOWRT_IMAGENETWORKS_H
#define FLOWRT_IMAGENETWORKS_H

#include "Network.h"

namespace flowrt {

/// What the image networks are built from.
struct ImageNetOptions {
  int64_t channels = 1, height = 8, width = 8; ///< the image
  int64_t base = 32;       ///< unet: channels of the first level; dit: token width
  int64_t depth = 2;       ///< unet: resolution levels; dit: transformer blocks
  int64_t heads = 4;       ///< dit: attention heads
  int64_t patch = 2;       ///< dit: patch side
  int64_t timeFeatures = 16;
  int64_t classes = 0;

  /// From a program (the model and the data's image shape); throws
  /// std::invalid_argument when they do not fit (the image must be
  /// [C, H, W]; unet needs H and W divisible by 2^depth and base by 8; dit
  /// needs H and W divisible by patch and base by heads).
  static ImageNetOptions fromProgram(const flowrt_program &program,
                                     const flowrt_model_desc &model);
};

/// A network from one image to another of a size a power of two apart
/// (an encoder's [1, 28, 28] -> [4, 7, 7], or a decoder's back):
/// a 3x3 convolution to `width` channels; per factor of two, `depth` 3x3
/// convolutions with the activation, then a 4x4 convolution of stride 2
/// (down) or a transposed one (up); `depth` more; a 3x3 convolution to the
/// output's channels. Rows are flat in and out (ConvNetwork.cpp). Throws
/// std::invalid_argument for shapes that do not fit.
Network makeConvNetwork(const flowrt_model_desc &desc);

/// The time (Fourier features, then Linear-SiLU-Linear) plus class
/// embedding, [n, dim].
class ConditionEmbeddingImpl : public torch::nn::Module {
public:
  ConditionEmbeddingImpl(int64_t timeFeatures, int64_t classes, int64_t dim);
  torch::Tensor forward(const torch::Tensor &t, const torch::Tensor &labels);

private:
  int64_t timeFeatures, classes;
  torch::nn::Linear in{nullptr}, out{nullptr};
  torch::nn::Embedding classEmbedding{nullptr};
};
TORCH_MODULE(ConditionEmbedding);

/// U-Net: a 3x3 convolution to `base` channels; per level a residual block
/// (GroupNorm-SiLU-conv twice, the condition added in between) then a
/// stride-2 convolution; a middle block; per level, nearest upsampling, the
/// skip concatenated and a residual block; GroupNorm-SiLU and a 3x3
/// convolution back to C channels, initialised to zero. Channels double
/// each level down.
class UNetImpl : public NetworkImpl {
public:
  explicit UNetImpl(ImageNetOptions options);
  torch::Tensor forward(const torch::Tensor &x, const torch::Tensor &t,
                        const torch::Tensor &labels = {}) override;

private:
  ImageNetOptions opts;
  ConditionEmbedding condition{nullptr};
  torch::nn::Conv2d in{nullptr}, out{nullptr};
  torch::nn::GroupNorm outNorm{nullptr};
  torch::nn::ModuleList down, downsample, up;
  std::shared_ptr<torch::nn::Module> middle;
};

/// DiT: patches of p x p pixels as tokens (a linear map to `base` features
/// plus a learned position embedding), `depth` blocks of self-attention and
/// MLP (ratio 4) each modulated by adaLN-Zero from the condition (shift,
/// scale and a gate initialised to zero), a modulated final layer back to
/// pixels (zero-initialised), then the patches put back in place.
class DiTImpl : public NetworkImpl {
public:
  explicit DiTImpl(ImageNetOptions options);
  torch::Tensor forward(const torch::Tensor &x, const torch::Tensor &t,
                        const torch::Tensor &labels = {}) override;

private:
  ImageNetOptions opts;
  ConditionEmbedding condition{nullptr};
  torch::nn::Linear embed{nullptr}, finalModulation{nullptr}, finalLinear{nullptr};
  torch::Tensor position;
  torch::nn::ModuleList blocks;
};

} // namespace flowrt

#endif // FLOWRT_IMAGENETWORKS_H
