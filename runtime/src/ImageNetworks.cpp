//===- ImageNetworks.cpp - U-Net and DiT velocity networks ----------------===//
//
// Implements ImageNetworks.h with torch::nn.
//
//===----------------------------------------------------------------------===//

#include "ImageNetworks.h"

#include <stdexcept>

using namespace flowrt;
namespace nn = torch::nn;

ImageNetOptions ImageNetOptions::fromProgram(const flowrt_program &program,
                                             const flowrt_model_desc &m) {
  std::string kind = m.kind ? m.kind : "";
  if (program.data.rank != 3 || !program.data.shape)
    throw std::invalid_argument(kind + " needs image data ([C, H, W] samples)");
  if (program.data.tokenizer)
    throw std::invalid_argument(kind + " takes images, not the tokens of tokenizer " +
                                program.data.tokenizer + "; use mlp or torchscript with it");
  ImageNetOptions o;
  o.channels = program.data.shape[0];
  o.height = program.data.shape[1];
  o.width = program.data.shape[2];
  o.base = m.width;
  o.depth = m.depth;
  o.heads = m.heads;
  o.patch = m.patch;
  o.timeFeatures = m.time_features;
  o.classes = m.classes;
  if (o.channels * o.height * o.width != m.in_dim)
    throw std::invalid_argument(kind + ": the network's input has " + std::to_string(m.in_dim) +
                                " features but the images have " +
                                std::to_string(o.channels * o.height * o.width));
  if (o.timeFeatures < 2 || o.timeFeatures % 2)
    throw std::invalid_argument(kind + " needs an even number of Fourier time features");
  if (kind == "unet") {
    int64_t scale = int64_t(1) << o.depth;
    if (o.depth < 1 || o.height % scale || o.width % scale)
      throw std::invalid_argument("unet: " + std::to_string(o.height) + "x" +
                                  std::to_string(o.width) + " images do not halve " +
                                  std::to_string(o.depth) + " times");
    if (o.base < 8 || o.base % 8)
      throw std::invalid_argument("unet: width (base channels) must be a multiple of 8");
  } else {
    if (o.patch < 1 || o.height % o.patch || o.width % o.patch)
      throw std::invalid_argument("dit: patch " + std::to_string(o.patch) + " does not tile " +
                                  std::to_string(o.height) + "x" + std::to_string(o.width) +
                                  " images");
    if (o.heads < 1 || o.base % o.heads || o.depth < 1)
      throw std::invalid_argument("dit: width must be a multiple of heads, depth >= 1");
  }
  return o;
}

ConditionEmbeddingImpl::ConditionEmbeddingImpl(int64_t timeFeatures, int64_t classes,
                                               int64_t dim)
    : timeFeatures(timeFeatures), classes(classes) {
  in = register_module("time_in", nn::Linear(timeFeatures, dim));
  out = register_module("time_out", nn::Linear(dim, dim));
  if (classes > 0)
    classEmbedding = register_module("class_embedding", nn::Embedding(classes + 1, dim));
}

torch::Tensor ConditionEmbeddingImpl::forward(const torch::Tensor &t,
                                              const torch::Tensor &labels) {
  torch::Tensor c = out(torch::silu(in(fourierEmbedding(t, timeFeatures))));
  if (classes > 0) {
    if (!labels.defined())
      throw std::invalid_argument("this network needs class labels");
    c = c + classEmbedding(classIndex(labels, classes));
  }
  return c;
}

namespace {

nn::Conv2d conv3x3(int64_t in, int64_t out, int64_t stride = 1) {
  return nn::Conv2d(nn::Conv2dOptions(in, out, 3).stride(stride).padding(1));
}

/// GroupNorm-SiLU-conv, the condition added per channel, GroupNorm-SiLU-conv,
/// plus the input (through a 1x1 convolution when the channels change).
class ResBlockImpl : public nn::Module {
public:
  ResBlockImpl(int64_t in, int64_t out, int64_t conditionDim) {
    norm1 = register_module("norm1", nn::GroupNorm(8, in));
    conv1 = register_module("conv1", conv3x3(in, out));
    condition = register_module("condition", nn::Linear(conditionDim, out));
    norm2 = register_module("norm2", nn::GroupNorm(8, out));
    conv2 = register_module("conv2", conv3x3(out, out));
    if (in != out)
      skip = register_module("skip", nn::Conv2d(nn::Conv2dOptions(in, out, 1)));
  }
  torch::Tensor forward(const torch::Tensor &x, const torch::Tensor &c) {
    torch::Tensor h = conv1(torch::silu(norm1(x)));
    h = h + condition(torch::silu(c)).unsqueeze(-1).unsqueeze(-1);
    h = conv2(torch::silu(norm2(h)));
    return h + (skip ? skip(x) : x);
  }

private:
  nn::GroupNorm norm1{nullptr}, norm2{nullptr};
  nn::Conv2d conv1{nullptr}, conv2{nullptr}, skip{nullptr};
  nn::Linear condition{nullptr};
};
TORCH_MODULE(ResBlock);

/// x (1 + scale) + shift, per token, from [n, dim] modulations.
torch::Tensor modulate(const torch::Tensor &x, const torch::Tensor &shift,
                       const torch::Tensor &scale) {
  return x * (1 + scale.unsqueeze(1)) + shift.unsqueeze(1);
}

/// LayerNorm without affine parameters over the last `dim` features. While
/// a Jacobian-vector product is taken (and a loss trains through it), as
/// its composition: LibTorch's fused layer_norm has a double backward whose
/// own derivative is wrong (the gradient through a JVP came out 5-50% off
/// finite differences), and the composition's is right.
static torch::Tensor layerNorm(const torch::Tensor &h, int64_t dim) {
  if (!higherOrderDerivatives())
    return torch::layer_norm(h, {dim}, {}, {}, 1e-6);
  torch::Tensor centred = h - h.mean(-1, /*keepdim=*/true);
  return centred * torch::rsqrt(centred.pow(2).mean(-1, /*keepdim=*/true) + 1e-6);
}

/// Self-attention and an MLP, each after a LayerNorm (no affine) modulated
/// by shift and scale from the condition and gated (adaLN-Zero).
class DiTBlockImpl : public nn::Module {
public:
  DiTBlockImpl(int64_t dim, int64_t heads) : heads(heads) {
    qkv = register_module("qkv", nn::Linear(dim, 3 * dim));
    proj = register_module("proj", nn::Linear(dim, dim));
    fc1 = register_module("fc1", nn::Linear(dim, 4 * dim));
    fc2 = register_module("fc2", nn::Linear(4 * dim, dim));
    modulation = register_module("modulation", nn::Linear(dim, 6 * dim));
    torch::NoGradGuard noGrad; // adaLN-Zero: every block starts as identity
    modulation->weight.zero_();
    modulation->bias.zero_();
  }
  torch::Tensor forward(const torch::Tensor &x, const torch::Tensor &c) {
    auto m = modulation(torch::silu(c)).chunk(6, 1);
    int64_t n = x.size(0), tokens = x.size(1), dim = x.size(2);
    auto norm = [&](const torch::Tensor &h) { return layerNorm(h, dim); };
    torch::Tensor h = modulate(norm(x), m[0], m[1]);
    auto q = qkv(h).view({n, tokens, 3, heads, dim / heads}).permute({2, 0, 3, 1, 4});
    // The fused kernels have no derivative of their backward; a JVP (ddt
    // through the network) needs one, so it runs the math composition.
    torch::Tensor a = higherOrderDerivatives()
                          ? std::get<0>(at::_scaled_dot_product_attention_math(q[0], q[1], q[2]))
                          : at::scaled_dot_product_attention(q[0], q[1], q[2]);
    a = a.transpose(1, 2).reshape({n, tokens, dim});
    torch::Tensor y = x + m[2].unsqueeze(1) * proj(a);
    h = modulate(norm(y), m[3], m[4]);
    return y + m[5].unsqueeze(1) * fc2(torch::gelu(fc1(h), "tanh"));
  }

private:
  int64_t heads;
  nn::Linear qkv{nullptr}, proj{nullptr}, fc1{nullptr}, fc2{nullptr}, modulation{nullptr};
};
TORCH_MODULE(DiTBlock);

/// The U-Net's middle: two residual blocks at the lowest resolution.
class MiddleImpl : public nn::Module {
public:
  MiddleImpl(int64_t channels, int64_t conditionDim) {
    first = register_module("first", ResBlock(channels, channels, conditionDim));
    second = register_module("second", ResBlock(channels, channels, conditionDim));
  }
  torch::Tensor forward(const torch::Tensor &x, const torch::Tensor &c) {
    return second(first(x, c), c);
  }

private:
  ResBlock first{nullptr}, second{nullptr};
};
TORCH_MODULE(Middle);

} // namespace

UNetImpl::UNetImpl(ImageNetOptions options) : opts(options) {
  int64_t conditionDim = 4 * opts.base;
  condition = register_module("condition",
                              ConditionEmbedding(opts.timeFeatures, opts.classes, conditionDim));
  in = register_module("conv_in", conv3x3(opts.channels, opts.base));
  int64_t ch = opts.base;
  std::vector<int64_t> skips;
  for (int64_t level = 0; level < opts.depth; ++level) {
    int64_t next = opts.base << level;
    down->push_back(ResBlock(ch, next, conditionDim));
    skips.push_back(next);
    downsample->push_back(conv3x3(next, next, 2));
    ch = next;
  }
  register_module("down", down);
  register_module("downsample", downsample);
  middle = register_module("middle", Middle(ch, conditionDim).ptr());
  for (int64_t level = opts.depth - 1; level >= 0; --level) {
    up->push_back(ResBlock(ch + skips[level], skips[level], conditionDim));
    ch = skips[level];
  }
  register_module("up", up);
  outNorm = register_module("out_norm", nn::GroupNorm(8, ch));
  out = register_module("conv_out", conv3x3(ch, opts.channels));
  torch::NoGradGuard noGrad; // the field starts at zero
  out->weight.zero_();
  out->bias.zero_();
}

torch::Tensor UNetImpl::forward(const torch::Tensor &x, const torch::Tensor &t,
                                const torch::Tensor &labels) {
  int64_t n = x.size(0);
  torch::Tensor c = condition(t, labels);
  torch::Tensor h = in(x.reshape({n, opts.channels, opts.height, opts.width}));
  std::vector<torch::Tensor> skips;
  for (size_t level = 0; level < down->size(); ++level) {
    h = down[level]->as<ResBlockImpl>()->forward(h, c);
    skips.push_back(h);
    h = downsample[level]->as<nn::Conv2dImpl>()->forward(h);
  }
  h = std::static_pointer_cast<MiddleImpl>(middle)->forward(h, c);
  for (size_t i = 0; i < up->size(); ++i) {
    torch::Tensor skip = skips[skips.size() - 1 - i];
    h = torch::nn::functional::interpolate(
        h, torch::nn::functional::InterpolateFuncOptions()
               .size(std::vector<int64_t>{skip.size(2), skip.size(3)})
               .mode(torch::kNearest));
    h = up[i]->as<ResBlockImpl>()->forward(torch::cat({h, skip}, 1), c);
  }
  return out(torch::silu(outNorm(h))).reshape({n, -1});
}

DiTImpl::DiTImpl(ImageNetOptions options) : opts(options) {
  int64_t dim = opts.base, p = opts.patch;
  int64_t tokens = (opts.height / p) * (opts.width / p);
  condition = register_module("condition", ConditionEmbedding(opts.timeFeatures, opts.classes, dim));
  embed = register_module("embed", nn::Linear(opts.channels * p * p, dim));
  position = register_parameter("position", torch::randn({1, tokens, dim}) * 0.02);
  for (int64_t i = 0; i < opts.depth; ++i)
    blocks->push_back(DiTBlock(dim, opts.heads));
  register_module("blocks", blocks);
  finalModulation = register_module("final_modulation", nn::Linear(dim, 2 * dim));
  finalLinear = register_module("final_linear", nn::Linear(dim, opts.channels * p * p));
  torch::NoGradGuard noGrad;
  for (auto *layer : {&finalModulation, &finalLinear}) {
    (*layer)->weight.zero_();
    (*layer)->bias.zero_();
  }
}

torch::Tensor DiTImpl::forward(const torch::Tensor &x, const torch::Tensor &t,
                               const torch::Tensor &labels) {
  int64_t n = x.size(0), p = opts.patch, C = opts.channels;
  int64_t gh = opts.height / p, gw = opts.width / p, dim = opts.base;
  // [n, C, gh, p, gw, p] -> tokens [n, gh * gw, C * p * p]
  torch::Tensor patches = x.reshape({n, C, gh, p, gw, p})
                              .permute({0, 2, 4, 1, 3, 5})
                              .reshape({n, gh * gw, C * p * p});
  torch::Tensor h = embed(patches) + position;
  torch::Tensor c = condition(t, labels);
  for (const auto &block : *blocks)
    h = block->as<DiTBlockImpl>()->forward(h, c);
  auto m = finalModulation(torch::silu(c)).chunk(2, 1);
  h = modulate(layerNorm(h, dim), m[0], m[1]);
  return finalLinear(h)
      .reshape({n, gh, gw, C, p, p})
      .permute({0, 3, 1, 4, 2, 5})
      .reshape({n, -1});
}
