//===- Network.cpp - The velocity network v(x, t) -------------------------===//
//
// Implements the MLP of Network.h with torch::nn: options checking, the
// Fourier time embedding, the forward pass and the EMA of its weights.
//
//===----------------------------------------------------------------------===//

#include "Network.h"
#include "ImageNetworks.h"

#include <cmath>
#include <stdexcept>

using namespace flowrt;

namespace {

constexpr double Pi = 3.14159265358979323846;

bool isKnownActivation(const std::string &name) {
  return name == "silu" || name == "relu" || name == "tanh" || name == "gelu";
}

torch::Tensor activate(const std::string &name, const torch::Tensor &x) {
  if (name == "silu")
    return torch::silu(x);
  if (name == "relu")
    return torch::relu(x);
  if (name == "tanh")
    return torch::tanh(x);
  return torch::gelu(x);
}

} // namespace

MlpOptions MlpOptions::fromDesc(const flowrt_model_desc &desc) {
  std::string kind = desc.kind ? desc.kind : "";
  if (kind != "mlp")
    throw std::invalid_argument("unsupported network kind '" + kind +
                                "' (the runtime has: mlp)");
  MlpOptions opts;
  opts.inDim = desc.in_dim;
  opts.width = desc.width;
  opts.depth = desc.depth;
  opts.activation = desc.activation ? desc.activation : "";
  opts.timeFeatures = desc.time_features;
  opts.classes = desc.classes;
  if (opts.inDim < 1 || opts.width < 1 || opts.depth < 1)
    throw std::invalid_argument("mlp needs in_dim, width and depth >= 1");
  if (!isKnownActivation(opts.activation))
    throw std::invalid_argument("unknown activation '" + opts.activation +
                                "' (silu, relu, tanh, gelu)");
  if (opts.timeFeatures < 0 || opts.timeFeatures % 2 != 0)
    throw std::invalid_argument(
        "fourier time features must be an even count (sin and cos pairs), "
        "got " +
        std::to_string(opts.timeFeatures));
  if (opts.classes < 0)
    throw std::invalid_argument("mlp needs classes >= 0");
  return opts;
}

std::vector<double> flowrt::fourierFrequencies(int64_t features) {
  std::vector<double> freqs;
  for (int64_t i = 0; i < features / 2; ++i)
    freqs.push_back(static_cast<double>(i + 1));
  return freqs;
}

torch::Tensor flowrt::fourierEmbedding(const torch::Tensor &t,
                                       int64_t features) {
  std::vector<double> freqs = fourierFrequencies(features);
  torch::Tensor f = torch::tensor(freqs, t.options().dtype(torch::kDouble))
                        .to(t.scalar_type())
                        .reshape({1, -1});
  torch::Tensor angle = (2 * Pi) * t.reshape({-1, 1}) * f;
  return torch::cat({torch::sin(angle), torch::cos(angle)}, 1);
}

MlpImpl::MlpImpl(MlpOptions options) : opts(std::move(options)) {
  int64_t timeDim = opts.timeFeatures > 0 ? opts.timeFeatures : 1;
  int64_t in = opts.inDim + timeDim;
  if (opts.classes > 0) {
    classEmbedding = register_module(
        "class_embedding",
        torch::nn::Embedding(opts.classes + 1, ClassEmbeddingDim));
    in += ClassEmbeddingDim;
  }
  for (int64_t i = 0; i < opts.depth; ++i) {
    layers->push_back(torch::nn::Linear(in, opts.width));
    in = opts.width;
  }
  layers->push_back(torch::nn::Linear(in, opts.inDim));
  register_module("layers", layers);
}

torch::Tensor MlpImpl::forward(const torch::Tensor &x, const torch::Tensor &t,
                               const torch::Tensor &labels) {
  torch::Tensor time = opts.timeFeatures > 0
                           ? fourierEmbedding(t, opts.timeFeatures)
                           : t.reshape({-1, 1});
  torch::Tensor h = torch::cat({x, time}, 1);
  if (opts.classes > 0) {
    if (!labels.defined())
      throw std::invalid_argument("this network needs class labels");
    h = torch::cat({h, classEmbedding->forward(classIndex(labels, opts.classes))}, 1);
  }
  size_t last = layers->size() - 1;
  for (size_t i = 0; i < last; ++i)
    h = activate(opts.activation,
                 layers[i]->as<torch::nn::Linear>()->forward(h));
  return layers[last]->as<torch::nn::Linear>()->forward(h);
}

torch::Tensor MlpImpl::packed() {
  // At the offsets the compiler's trajectory kernels read (shared.h); a
  // layer of another shape than the layout's fails the copy.
  torch::NoGradGuard noGrad;
  MlpLayout layout =
      mlpLayout(opts.inDim, opts.width, opts.depth, opts.timeFeatures, opts.classes);
  torch::Tensor flat = torch::empty(
      {layout.total}, torch::dtype(torch::kFloat).device(parameters().at(0).device()));
  for (size_t l = 0; l < layers->size(); ++l) {
    auto linear = (*layers)[l]->as<torch::nn::Linear>();
    flat.narrow(0, layout.weightOffset[l], layout.in[l] * layout.out[l])
        .copy_(linear->weight.t().reshape({-1}));
    flat.narrow(0, layout.biasOffset[l], layout.out[l]).copy_(linear->bias);
  }
  if (classEmbedding)
    flat.narrow(0, layout.embeddingOffset, (opts.classes + 1) * layout.embedDim)
        .copy_(classEmbedding->weight.reshape({-1}));
  return flat.reshape({1, -1});
}

torch::Tensor flowrt::classIndex(const torch::Tensor &labels, int64_t classes) {
  // Labels arrive as floats.
  torch::Tensor k = labels.reshape({-1}).round().to(torch::kLong);
  torch::Tensor valid = (k >= 0) & (k < classes);
  return torch::where(valid, k, torch::full_like(k, classes));
}

torch::Tensor NetworkImpl::packed() {
  throw std::invalid_argument("only an mlp has packed weights for whole-trajectory kernels");
}

void flowrt::copyParameters(torch::nn::Module &to, const torch::nn::Module &from) {
  torch::NoGradGuard noGrad;
  auto src = from.parameters();
  auto dst = to.parameters();
  for (size_t i = 0; i < src.size(); ++i) {
    dst[i].copy_(src[i]);
    dst[i].set_requires_grad(false);
  }
}

Mlp flowrt::cloneMlp(const Mlp &model) {
  Mlp copy(model->options());
  copyParameters(*copy, *model);
  return copy;
}

Network flowrt::cloneNetwork(const flowrt_program &program, const Network &net) {
  Network copy = makeNetwork(program);
  copy->to(net->parameters().at(0).device());
  copyParameters(*copy, *net);
  return copy;
}

namespace {
/// A flat buffer [P] on the parameters' device, and each parameter's slice
/// of it as a tensor of the parameter's shape.
std::pair<torch::Tensor, std::vector<torch::Tensor>> flatViews(const torch::nn::Module &net) {
  auto params = net.parameters();
  int64_t total = 0;
  for (auto &p : params)
    total += p.numel();
  torch::Tensor flat = torch::zeros({total}, params.at(0).options().requires_grad(false));
  std::vector<torch::Tensor> views;
  int64_t offset = 0;
  for (auto &p : params) {
    views.push_back(flat.narrow(0, offset, p.numel()).view(p.sizes()));
    offset += p.numel();
  }
  return {flat, views};
}
} // namespace

torch::Tensor flowrt::flattenParameters(const torch::nn::Module &net) {
  torch::NoGradGuard noGrad;
  auto [flat, views] = flatViews(net);
  auto params = net.parameters();
  for (size_t i = 0; i < params.size(); ++i) {
    views[i].copy_(params[i]);
    params[i].set_data(views[i]); // keeps requires_grad, shares flat's storage
  }
  return flat;
}

torch::Tensor flowrt::flatGradients(const torch::nn::Module &net) {
  auto [flat, views] = flatViews(net);
  auto params = net.parameters();
  for (size_t i = 0; i < params.size(); ++i)
    params[i].mutable_grad() = views[i];
  return flat;
}

double flowrt::emaDecayAt(double decay, int64_t step) {
  return std::min(decay, (1.0 + step) / (10.0 + step));
}

Network flowrt::makeNetwork(const flowrt_program &program) {
  std::string kind = program.model.kind ? program.model.kind : "";
  if (kind == "unet")
    return std::make_shared<UNetImpl>(ImageNetOptions::fromProgram(program));
  if (kind == "dit")
    return std::make_shared<DiTImpl>(ImageNetOptions::fromProgram(program));
  if (kind == "torchscript")
    return makeTorchScriptNetwork(program.model.path ? program.model.path : "",
                                  program.model.in_dim, program.model.classes);
  return std::make_shared<MlpImpl>(MlpOptions::fromDesc(program.model));
}
