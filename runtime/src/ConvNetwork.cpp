//===- ConvNetwork.cpp - An image to an image of another size -------------===//
//
// Implements makeConvNetwork (ImageNetworks.h): the encoders and decoders of
// image tokenizers, which change an image's size by powers of two.
//
//===----------------------------------------------------------------------===//

#include "ImageNetworks.h"

#include <stdexcept>

using namespace flowrt;
namespace nn = torch::nn;

namespace {

/// The activation as a module, for nn::Sequential.
nn::AnyModule activationModule(const std::string &name) {
  if (name == "relu")
    return nn::AnyModule(nn::ReLU());
  if (name == "tanh")
    return nn::AnyModule(nn::Tanh());
  if (name == "gelu")
    return nn::AnyModule(nn::GELU());
  return nn::AnyModule(nn::SiLU());
}

class ConvNetImpl : public NetworkImpl {
public:
  ConvNetImpl(std::vector<int64_t> in, const std::vector<int64_t> &out, int64_t width,
              int64_t depth, const std::string &activation)
      : in(std::move(in)) {
    bool down = this->in[1] >= out[1];
    int64_t big = std::max(this->in[1], out[1]), small = std::min(this->in[1], out[1]);
    int64_t steps = 0;
    for (int64_t scale = 1; small * scale < big; scale *= 2)
      ++steps;
    auto conv = [](int64_t from, int64_t to) {
      return nn::Conv2d(nn::Conv2dOptions(from, to, 3).padding(1));
    };
    nn::Sequential seq;
    seq->push_back(conv(this->in[0], width));
    for (int64_t s = 0; s <= steps; ++s) {
      for (int64_t d = 0; d < depth; ++d) {
        seq->push_back(activationModule(activation));
        seq->push_back(conv(width, width));
      }
      if (s == steps)
        break;
      seq->push_back(activationModule(activation));
      if (down)
        seq->push_back(nn::Conv2d(nn::Conv2dOptions(width, width, 4).stride(2).padding(1)));
      else
        seq->push_back(nn::ConvTranspose2d(
            nn::ConvTranspose2dOptions(width, width, 4).stride(2).padding(1)));
    }
    seq->push_back(activationModule(activation));
    seq->push_back(conv(width, out[0]));
    layers = register_module("layers", seq);
  }

  torch::Tensor forward(const torch::Tensor &x, const torch::Tensor &,
                        const torch::Tensor &) override {
    return apply({x});
  }

  /// One image per row, [n, C*H*W] -> [n, C'*H'*W'].
  torch::Tensor apply(const std::vector<torch::Tensor> &args) override {
    if (args.size() != 1)
      throw std::invalid_argument("a conv network takes one image");
    torch::Tensor h = layers->forward(args[0].reshape({args[0].size(0), in[0], in[1], in[2]}));
    return h.reshape({h.size(0), -1});
  }

private:
  std::vector<int64_t> in;
  nn::Sequential layers{nullptr};
};

} // namespace

Network flowrt::makeConvNetwork(const flowrt_model_desc &desc) {
  if (desc.in_rank != 3 || desc.out_rank != 3 || !desc.in_shape || !desc.out_shape)
    throw std::invalid_argument("conv needs the images it takes and gives ([C, H, W] each)");
  std::vector<int64_t> in(desc.in_shape, desc.in_shape + 3), out(desc.out_shape, desc.out_shape + 3);
  auto powerOfTwoApart = [](int64_t a, int64_t b) {
    int64_t big = std::max(a, b), small = std::min(a, b);
    return small > 0 && big % small == 0 && ((big / small) & (big / small - 1)) == 0;
  };
  if (!powerOfTwoApart(in[1], out[1]) || in[1] * out[2] != in[2] * out[1])
    throw std::invalid_argument("conv: height and width must scale by the same power of two");
  std::string activation = desc.activation ? desc.activation : "silu";
  if (!isKnownActivation(activation))
    throw std::invalid_argument("conv: unknown activation '" + activation + "'");
  if (desc.width < 1 || desc.depth < 0)
    throw std::invalid_argument("conv: width must be positive");
  return std::make_shared<ConvNetImpl>(in, out, desc.width, desc.depth, activation);
}
