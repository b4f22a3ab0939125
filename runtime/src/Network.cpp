//===- Network.cpp - The velocity network v(x, t) -------------------------===//
//
// Implements the MLP of Network.h with torch::nn: options checking, the
// Fourier time embedding, the forward pass and the EMA of its weights.
//
//===----------------------------------------------------------------------===//

#include "Network.h"
#include "Standardize.h"
#include "TarFlow.h"
#include "ImageNetworks.h"

#include <cmath>
#include <stdexcept>

using namespace flowrt;

namespace {

constexpr double Pi = 3.14159265358979323846;

} // namespace

bool flowrt::isKnownActivation(const std::string &name) {
  return name == "silu" || name == "relu" || name == "tanh" || name == "gelu";
}

torch::Tensor flowrt::activate(const std::string &name, const torch::Tensor &x) {
  if (name == "silu")
    return torch::silu(x);
  if (name == "relu")
    return torch::relu(x);
  if (name == "tanh")
    return torch::tanh(x);
  return torch::gelu(x);
}

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
  if (opts.width < 1 || opts.depth < 1)
    throw std::invalid_argument("mlp needs width and depth >= 1");
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
  if (desc.num_inputs > 0) {
    opts.roles.assign(desc.input_roles, desc.input_roles + desc.num_inputs);
    opts.dims.assign(desc.input_dims, desc.input_dims + desc.num_inputs);
    opts.outDim = desc.out_dim;
    int64_t tensors = 0, labels = 0;
    for (size_t i = 0; i < opts.roles.size(); ++i) {
      int32_t role = opts.roles[i];
      if (role != FLOWRT_INPUT_TENSOR && role != FLOWRT_INPUT_TIME && role != FLOWRT_INPUT_LABEL)
        throw std::invalid_argument("mlp input " + std::to_string(i) + " has unknown role " +
                                    std::to_string(role));
      tensors += role == FLOWRT_INPUT_TENSOR ? opts.dims[i] : 0;
      labels += role == FLOWRT_INPUT_LABEL;
    }
    if (tensors != opts.inDim || labels > 1 || (labels == 1) != (opts.classes > 0) ||
        opts.outDim < 1)
      throw std::invalid_argument("mlp's signature does not fit in_dim " +
                                  std::to_string(opts.inDim) + ", classes " +
                                  std::to_string(opts.classes) + " and out_dim " +
                                  std::to_string(opts.outDim));
  }
  if (opts.roles.empty() && opts.inDim < 1)
    throw std::invalid_argument("mlp needs in_dim >= 1");
  return opts;
}

bool MlpOptions::isVelocity() const {
  std::vector<int32_t> r = inputRoles();
  return (r.size() == 2 || (r.size() == 3 && r[2] == FLOWRT_INPUT_LABEL)) &&
         r[0] == FLOWRT_INPUT_TENSOR && r[1] == FLOWRT_INPUT_TIME && outputDim() == inDim;
}

std::vector<int32_t> MlpOptions::inputRoles() const {
  if (!roles.empty())
    return roles;
  std::vector<int32_t> r{FLOWRT_INPUT_TENSOR, FLOWRT_INPUT_TIME};
  if (classes > 0)
    r.push_back(FLOWRT_INPUT_LABEL);
  return r;
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

MlpImpl::MlpImpl(MlpOptions options) : opts(std::move(options)), roles(opts.inputRoles()) {
  int64_t timeDim = opts.timeFeatures > 0 ? opts.timeFeatures : 1;
  int64_t in = opts.inDim;
  for (int32_t role : roles)
    in += role == FLOWRT_INPUT_TIME ? timeDim : 0;
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
  layers->push_back(torch::nn::Linear(in, opts.outputDim()));
  register_module("layers", layers);
}

torch::Tensor MlpImpl::forward(const torch::Tensor &x, const torch::Tensor &t,
                               const torch::Tensor &labels) {
  if (opts.classes > 0 && !labels.defined())
    throw std::invalid_argument("this network needs class labels");
  std::vector<torch::Tensor> args{x, t};
  if (opts.classes > 0)
    args.push_back(labels);
  return apply(args);
}

torch::Tensor MlpImpl::apply(const std::vector<torch::Tensor> &args) {
  if (args.size() != roles.size())
    throw std::invalid_argument("this mlp takes " + std::to_string(roles.size()) +
                                " arguments, not " + std::to_string(args.size()));
  // The first layer's input: tensors, then times, then the label.
  std::vector<torch::Tensor> parts;
  for (int32_t pass : {FLOWRT_INPUT_TENSOR, FLOWRT_INPUT_TIME, FLOWRT_INPUT_LABEL})
    for (size_t i = 0; i < args.size(); ++i) {
      if (roles[i] != pass)
        continue;
      if (pass == FLOWRT_INPUT_TENSOR)
        parts.push_back(args[i].reshape({args[i].size(0), -1}));
      else if (pass == FLOWRT_INPUT_TIME)
        parts.push_back(opts.timeFeatures > 0 ? fourierEmbedding(args[i], opts.timeFeatures)
                                              : args[i].reshape({-1, 1}));
      else
        parts.push_back(classEmbedding->forward(classIndex(args[i], opts.classes)));
    }
  torch::Tensor h = parts.size() == 1 ? parts[0] : torch::cat(parts, 1);
  size_t last = layers->size() - 1;
  for (size_t i = 0; i < last; ++i)
    h = activate(opts.activation,
                 layers[i]->as<torch::nn::Linear>()->forward(h));
  return layers[last]->as<torch::nn::Linear>()->forward(h);
}

torch::Tensor MlpImpl::packed() {
  // At the offsets the compiler's trajectory kernels read (shared.h); a
  // layer of another shape than the layout's fails the copy.
  if (!opts.isVelocity())
    throw std::invalid_argument("only a velocity mlp v(x, t[, y]) has packed weights");
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

torch::Tensor NetworkImpl::apply(const std::vector<torch::Tensor> &args) {
  if (args.size() < 2 || args.size() > 3)
    throw std::invalid_argument("this network is applied as v(x, t) or v(x, t, y)");
  return forward(args[0], args[1], args.size() == 3 ? args[2] : torch::Tensor());
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
  // Buffers too: a tokenizer's statistics, say.
  auto srcBuffers = from.buffers();
  auto dstBuffers = to.buffers();
  for (size_t i = 0; i < srcBuffers.size(); ++i)
    dstBuffers[i].copy_(srcBuffers[i]);
}

Mlp flowrt::cloneMlp(const Mlp &model) {
  Mlp copy(model->options());
  copyParameters(*copy, *model);
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

Network flowrt::makeNetwork(const flowrt_program &program, const flowrt_model_desc &desc) {
  std::string kind = desc.kind ? desc.kind : "";
  if (kind == "unet")
    return std::make_shared<UNetImpl>(ImageNetOptions::fromProgram(program, desc));
  if (kind == "dit")
    return std::make_shared<DiTImpl>(ImageNetOptions::fromProgram(program, desc));
  if (kind == "conv")
    return makeConvNetwork(desc);
  if (kind == "standardize" || kind == "unstandardize")
    return makeStandardizeNetwork(desc);
  if (kind == "tarflow")
    return makeTarFlowNetwork(desc);
  if (kind == "torchscript") {
    Network net = makeTorchScriptNetwork(desc.path ? desc.path : "", desc.in_dim, desc.classes,
                                         outputDim(desc));
    // A frozen module may be a fixed map (a projection in buffers); one
    // that trains needs something to train.
    if (!desc.frozen && net->parameters().empty())
      throw std::runtime_error(std::string("the TorchScript module ") + desc.path +
                               " has no parameters (mark it torchscript(..., frozen: 1) to "
                               "use it as it is)");
    return net;
  }
  return std::make_shared<MlpImpl>(MlpOptions::fromDesc(desc));
}

const flowrt_model_desc *flowrt::velocityModel(const flowrt_program &program) {
  int32_t i = program.velocity_model;
  return i >= 0 && i < program.num_models ? &program.models[i] : nullptr;
}

int64_t flowrt::velocityClasses(const flowrt_program &program) {
  const flowrt_model_desc *m = velocityModel(program);
  return m ? m->classes : 0;
}

std::vector<int32_t> flowrt::inputRoles(const flowrt_model_desc &desc) {
  if (desc.num_inputs > 0)
    return std::vector<int32_t>(desc.input_roles, desc.input_roles + desc.num_inputs);
  std::vector<int32_t> roles{FLOWRT_INPUT_TENSOR, FLOWRT_INPUT_TIME};
  if (desc.classes > 0)
    roles.push_back(FLOWRT_INPUT_LABEL);
  return roles;
}

namespace {
thread_local bool inJvp = false;
/// Sets inJvp for its lifetime.
struct JvpScope {
  bool before = inJvp;
  JvpScope() { inJvp = true; }
  ~JvpScope() { inJvp = before; }
};
} // namespace

bool flowrt::higherOrderDerivatives() { return inJvp; }

torch::Tensor flowrt::jacobianVectorProduct(
    const std::function<torch::Tensor(const std::vector<torch::Tensor> &)> &f,
    std::vector<torch::Tensor> args, const std::vector<torch::Tensor> &tangents,
    const std::vector<bool> &differentiable, bool createGraph) {
  JvpScope scope;
  if (!createGraph) {
    // A constant: one forward-mode pass with dual tensors, no graph.
    torch::NoGradGuard noGrad;
    uint64_t level = torch::autograd::forward_ad::enter_dual_level();
    struct Exit { // leaves the level on every path out
      uint64_t level;
      ~Exit() { torch::autograd::forward_ad::exit_dual_level(level); }
    } exit{level};
    std::vector<torch::Tensor> duals;
    for (size_t i = 0; i < args.size(); ++i)
      duals.push_back(differentiable[i]
                          ? at::_make_dual(args[i].detach(),
                                           tangents[i].to(args[i].scalar_type()), level)
                          : args[i].detach());
    torch::Tensor tangent = std::get<1>(at::_unpack_dual(f(duals), level));
    return tangent.defined() ? tangent.clone() : torch::zeros_like(f(args));
  }
  torch::AutoGradMode enable(true); // sampling runs without gradients
  std::vector<torch::Tensor> inputs, along;
  for (size_t i = 0; i < args.size(); ++i) {
    if (!differentiable[i])
      continue;
    // An argument no gradient reaches becomes a leaf to differentiate by.
    if (!args[i].requires_grad())
      args[i] = args[i].detach().requires_grad_(true);
    inputs.push_back(args[i]);
    along.push_back(tangents[i].to(args[i].scalar_type()));
  }
  torch::Tensor y = f(args);
  if (inputs.empty())
    return torch::zeros_like(y);
  torch::Tensor u = torch::zeros_like(y).requires_grad_(true);
  std::vector<torch::Tensor> g = torch::autograd::grad({y}, inputs, {u}, /*retain_graph=*/true,
                                                      /*create_graph=*/true,
                                                      /*allow_unused=*/true);
  std::vector<torch::Tensor> gs, ts;
  for (size_t k = 0; k < g.size(); ++k)
    if (g[k].defined()) {
      gs.push_back(g[k]);
      ts.push_back(along[k]);
    }
  if (gs.empty())
    return torch::zeros_like(y);
  torch::Tensor jvp = torch::autograd::grad(gs, {u}, ts, /*retain_graph=*/true, createGraph,
                                            /*allow_unused=*/true)[0];
  if (!jvp.defined())
    return torch::zeros_like(y);
  return createGraph ? jvp : jvp.detach();
}

size_t flowrt::inputCount(const flowrt_model_desc &desc) {
  return desc.num_inputs > 0 ? static_cast<size_t>(desc.num_inputs) : desc.classes > 0 ? 3 : 2;
}

int64_t flowrt::outputDim(const flowrt_model_desc &desc) {
  return desc.num_inputs > 0 ? desc.out_dim : desc.in_dim;
}

const flowrt_model_desc *flowrt::normalizingFlowModel(const flowrt_program &program) {
  if (program.sample_source)
    return nullptr;
  for (int32_t i = 0; i < program.num_models; ++i)
    if (program.models[i].kind && std::string(program.models[i].kind) == "tarflow")
      return &program.models[i];
  return nullptr;
}

int64_t flowrt::sampleClasses(const flowrt_program &program) {
  if (program.sample.classes > 0)
    return program.sample.classes;
  // A normalizing flow (no sampler) samples its own labels.
  if (const flowrt_model_desc *flow = normalizingFlowModel(program))
    return flow->classes;
  return velocityClasses(program);
}

bool flowrt::isFrozen(const flowrt_model_desc &desc) {
  return desc.frozen || (desc.kind && std::string(desc.kind) == "checkpoint");
}
