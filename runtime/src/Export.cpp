//===- Export.cpp - `export`: the trained network as TorchScript ----------===//
//
// Implements Export.h and `PROG export`: loads the checkpoint's EMA (or raw)
// weights as `sample` does, rebuilds the network as a torch::jit::Module
// whose forward is TorchScript source generated from the network's options
// (the MLP, U-Net and DiT of Network.h and ImageNetworks.h, each mirrored op
// for op; a user's TorchScript module is re-saved with its trained weights),
// checks the module against the runtime's network on random inputs and
// saves it.
//
//===----------------------------------------------------------------------===//

#include "Export.h"

#include "Checkpoint.h"
#include "Commands.h"
#include "Files.h"
#include "Stages.h"

#include <algorithm>
#include <cstdio>
#include <sstream>
#include <stdexcept>

using namespace flowrt;

namespace {

/// A torch::nn parameter name as a TorchScript attribute name.
std::string underscored(std::string name) {
  std::replace(name.begin(), name.end(), '.', '_');
  return name;
}

/// The attribute of parameter `name` in the generated source.
std::string attr(const std::string &name) { return "self." + underscored(name); }

/// 2 pi as the C++ embedding multiplies by it, to the last bit.
std::string twoPi() {
  char text[32];
  std::snprintf(text, sizeof(text), "%.17g", 2 * 3.14159265358979323846);
  return text;
}

/// A fresh module with a copy of every parameter and buffer of `net`.
torch::jit::Module moduleWithWeights(const std::string &className, const torch::nn::Module &net) {
  torch::jit::Module module(c10::QualifiedName("__torch__.flowrt." + className));
  torch::NoGradGuard noGrad;
  for (const auto &p : net.named_parameters())
    module.register_parameter(underscored(p.key()),
                              p.value().detach().cpu().clone().set_requires_grad(true),
                              /*is_buffer=*/false);
  for (const auto &b : net.named_buffers())
    module.register_buffer(underscored(b.key()), b.value().detach().cpu().clone());
  return module;
}

/// The signature of forward, with y only for a conditional network.
std::string forwardHeader(int64_t classes) {
  return std::string("def forward(self, x: Tensor, t: Tensor") +
         (classes > 0 ? ", y: Tensor" : "") + ") -> Tensor:\n";
}

/// Lines that set `out` to the Fourier embedding of `t` [n, 1]
/// (fourierEmbedding).
std::string fourierLines(const std::string &out, int64_t features,
                         const std::string &t = "t") {
  std::ostringstream s;
  s << "    freqs = torch.tensor([";
  for (double f : fourierFrequencies(features)) // half-integers: exact in decimal
    s << f << ", ";
  s << "], dtype=" << t << ".dtype, device=" << t << ".device).reshape(1, -1)\n"
    << "    angle = " << twoPi() << " * " << t << " * freqs\n"
    << "    " << out << " = torch.cat([torch.sin(angle), torch.cos(angle)], 1)\n";
  return s.str();
}

/// Lines that set `k` to the embedding row of each label y (classIndex),
/// one per row of x.
std::string classIndexLines(int64_t classes, const std::string &y = "y",
                            const std::string &rows = "x.size(0)") {
  std::ostringstream s;
  s << "    k = torch.round(" << y << ".reshape(-1).double()).long().expand(" << rows << ")\n"
    << "    k = torch.where((k >= 0) & (k < " << classes << "), k, torch.full_like(k, "
    << classes << "))\n";
  return s.str();
}

/// The call of activation `name` (silu, relu, tanh or gelu) on `x`.
std::string activation(const std::string &name, const std::string &x) {
  return "torch." + name + "(" + x + ")";
}

std::string linear(const std::string &x, const std::string &layer) {
  return "torch.linear(" + x + ", " + attr(layer + ".weight") + ", " + attr(layer + ".bias") + ")";
}

/// Defines `source` on `module`, naming the network in the error.
void define(torch::jit::Module &module, const std::string &source, const std::string &what) {
  try {
    module.define(source);
  } catch (const c10::Error &e) {
    throw std::runtime_error("internal error: the TorchScript of the " + what +
                             " does not compile: " + e.what_without_backtrace());
  }
}

//===-- Image networks ----------------------------------------------------===//

/// `def condition(self, t, y)`: ConditionEmbeddingImpl::forward, t [n, 1].
std::string conditionMethod(const ImageNetOptions &o) {
  std::ostringstream s;
  s << "def condition(self, x: Tensor, t: Tensor" << (o.classes > 0 ? ", y: Tensor" : "")
    << ") -> Tensor:\n"
    << fourierLines("e", o.timeFeatures) << "    c = "
    << linear("torch.silu(" + linear("e", "condition.time_in") + ")", "condition.time_out")
    << "\n";
  if (o.classes > 0)
    s << classIndexLines(o.classes) << "    c = c + torch.embedding("
      << attr("condition.class_embedding.weight") << ", k)\n";
  s << "    return c\n";
  return s.str();
}

std::string callCondition(const ImageNetOptions &o) {
  return std::string("    c = self.condition(x, t") + (o.classes > 0 ? ", y" : "") + ")\n";
}

std::string conv(const std::string &x, const std::string &layer, int stride, int padding) {
  std::string s = std::to_string(stride), p = std::to_string(padding);
  return "torch.conv2d(" + x + ", " + attr(layer + ".weight") + ", " + attr(layer + ".bias") +
         ", [" + s + ", " + s + "], [" + p + ", " + p + "])";
}

std::string groupNormSilu(const std::string &x, const std::string &layer) {
  return "torch.silu(torch.group_norm(" + x + ", 8, " + attr(layer + ".weight") + ", " +
         attr(layer + ".bias") + ", 1e-05))";
}

/// Lines that set h to the residual block `block` (ResBlockImpl) of `a`.
std::string resBlockLines(const std::string &block, const std::string &a, bool hasSkip) {
  std::ostringstream s;
  s << "    r = " << conv(groupNormSilu(a, block + ".norm1"), block + ".conv1", 1, 1) << "\n"
    << "    r = r + " << linear("torch.silu(c)", block + ".condition")
    << ".unsqueeze(-1).unsqueeze(-1)\n"
    << "    r = " << conv(groupNormSilu("r", block + ".norm2"), block + ".conv2", 1, 1) << "\n"
    << "    h = r + " << (hasSkip ? conv(a, block + ".skip", 1, 0) : a) << "\n";
  return s.str();
}

/// `x (1 + scale) + shift` per token (ImageNetworks.cpp's modulate).
std::string modulate(const std::string &x, const std::string &shift, const std::string &scale) {
  return "(" + x + " * (1 + " + scale + ".unsqueeze(1)) + " + shift + ".unsqueeze(1))";
}

std::string layerNorm(const std::string &x, int64_t dim) {
  return "torch.layer_norm(" + x + ", [" + std::to_string(dim) + "], None, None, 1e-06)";
}

/// Lines of one DiT block (DiTBlockImpl::forward) on h.
std::string ditBlockLines(const std::string &b, const ImageNetOptions &o, int64_t tokens) {
  int64_t dim = o.base;
  std::ostringstream s;
  s << "    m = " << linear("torch.silu(c)", b + ".modulation") << ".chunk(6, 1)\n"
    << "    a = " << modulate(layerNorm("h", dim), "m[0]", "m[1]") << "\n"
    << "    q = " << linear("a", b + ".qkv") << ".view(n, " << tokens << ", 3, " << o.heads
    << ", " << dim / o.heads << ").permute(2, 0, 3, 1, 4)\n"
    << "    a = torch.scaled_dot_product_attention(q[0], q[1], q[2])\n"
    << "    a = a.transpose(1, 2).reshape(n, " << tokens << ", " << dim << ")\n"
    << "    g = h + m[2].unsqueeze(1) * " << linear("a", b + ".proj") << "\n"
    << "    a = " << modulate(layerNorm("g", dim), "m[3]", "m[4]") << "\n"
    << "    h = g + m[5].unsqueeze(1) * "
    << linear("torch.gelu(" + linear("a", b + ".fc1") + ", approximate='tanh')", b + ".fc2")
    << "\n";
  return s.str();
}

/// Runs the runtime's network and the module exported from it on the same
/// random inputs, and throws (an internal error: the generated source and
/// the C++ forward have drifted apart) when they differ by more than 1e-5
/// of the output's scale.
void checkAgainstRuntime(const flowrt_model_desc &desc, const Network &net,
                         torch::jit::Module &module) {
  torch::NoGradGuard noGrad;
  torch::manual_seed(0);
  constexpr int64_t Rows = 16;
  std::vector<torch::Tensor> args;
  std::vector<int32_t> roles = inputRoles(desc);
  for (size_t i = 0; i < roles.size(); ++i) {
    int32_t role = roles[i];
    if (role == FLOWRT_INPUT_TENSOR)
      args.push_back(torch::randn({Rows, desc.num_inputs > 0 ? desc.input_dims[i] : desc.in_dim}));
    else if (role == FLOWRT_INPUT_TIME)
      args.push_back(torch::rand({Rows, 1}));
    else
      args.push_back(torch::randint(-1, desc.classes, {Rows, 1}).to(torch::kFloat));
  }
  torch::Tensor expected = net->apply(args);
  std::vector<torch::jit::IValue> inputs(args.begin(), args.end());
  torch::Tensor got = module.forward(inputs).toTensor();
  double diff = (got - expected).abs().max().item<double>();
  double scale = 1 + expected.abs().max().item<double>();
  if (!(diff <= 1e-5 * scale))
    throw std::runtime_error("internal error: the exported module differs from the runtime's "
                             "network by " + std::to_string(diff));
}

} // namespace

torch::jit::Module flowrt::scriptMlp(const MlpImpl &net) {
  const MlpOptions &o = net.options();
  torch::jit::Module module = moduleWithWeights("Mlp", net);
  // Arguments as the runtime's forward names them: (x, t[, y]) for a
  // velocity network, else a0, a1, ... in the signature's order.
  std::vector<int32_t> roles = o.inputRoles();
  bool velocity = o.isVelocity();
  std::vector<std::string> names;
  for (size_t i = 0; i < roles.size(); ++i)
    names.push_back(velocity ? std::string(i == 0 ? "x" : i == 1 ? "t" : "y")
                             : "a" + std::to_string(i));
  std::ostringstream s;
  s << "def forward(self";
  for (const std::string &name : names)
    s << ", " << name << ": Tensor";
  s << ") -> Tensor:\n    n = " << names[0] << ".size(0)\n";
  std::vector<std::string> parts;
  for (size_t i = 0; i < roles.size(); ++i)
    if (roles[i] == FLOWRT_INPUT_TENSOR)
      parts.push_back(names[i] + ".reshape(n, -1)");
  for (size_t i = 0; i < roles.size(); ++i) {
    if (roles[i] != FLOWRT_INPUT_TIME)
      continue;
    std::string t = "t" + std::to_string(i), e = "e" + std::to_string(i);
    s << "    " << t << " = " << names[i] << ".reshape(-1, 1).expand(n, 1)\n";
    if (o.timeFeatures > 0)
      s << fourierLines(e, o.timeFeatures, t);
    else
      s << "    " << e << " = " << t << "\n";
    parts.push_back(e);
  }
  for (size_t i = 0; i < roles.size(); ++i)
    if (roles[i] == FLOWRT_INPUT_LABEL) {
      s << classIndexLines(o.classes, names[i], "n");
      parts.push_back("torch.embedding(" + attr("class_embedding.weight") + ", k)");
    }
  s << "    h = torch.cat([";
  for (size_t i = 0; i < parts.size(); ++i)
    s << (i ? ", " : "") << parts[i];
  s << "], 1)\n";
  for (int64_t i = 0; i < o.depth; ++i)
    s << "    h = " << activation(o.activation, linear("h", "layers." + std::to_string(i)))
      << "\n";
  s << "    return " << linear("h", "layers." + std::to_string(o.depth)) << "\n";
  define(module, s.str(), "mlp");
  return module;
}

torch::jit::Module flowrt::scriptUNet(const ImageNetOptions &o, const torch::nn::Module &net) {
  torch::jit::Module module = moduleWithWeights("UNet", net);
  auto params = net.named_parameters();
  std::ostringstream s;
  s << conditionMethod(o) << "\n"
    << forwardHeader(o.classes) << "    n = x.size(0)\n"
    << "    t = t.reshape(-1, 1).expand(n, 1)\n"
    << callCondition(o) << "    h = "
    << conv("x.reshape(n, " + std::to_string(o.channels) + ", " + std::to_string(o.height) +
                ", " + std::to_string(o.width) + ")",
            "conv_in", 1, 1)
    << "\n";
  for (int64_t level = 0; level < o.depth; ++level) {
    std::string block = "down." + std::to_string(level);
    s << resBlockLines(block, "h", params.contains(block + ".skip.weight"))
      << "    skip" << level << " = h\n"
      << "    h = " << conv("h", "downsample." + std::to_string(level), 2, 1) << "\n";
  }
  s << resBlockLines("middle.first", "h", false) << resBlockLines("middle.second", "h", false);
  for (int64_t i = 0; i < o.depth; ++i) {
    std::string skip = "skip" + std::to_string(o.depth - 1 - i);
    std::string block = "up." + std::to_string(i);
    s << "    h = torch.upsample_nearest2d(h, [" << skip << ".size(2), " << skip
      << ".size(3)], None, None)\n"
      << "    a = torch.cat([h, " << skip << "], 1)\n"
      << resBlockLines(block, "a", params.contains(block + ".skip.weight"));
  }
  s << "    return " << conv(groupNormSilu("h", "out_norm"), "conv_out", 1, 1)
    << ".reshape(n, -1)\n";
  define(module, s.str(), "unet");
  return module;
}

torch::jit::Module flowrt::scriptDiT(const ImageNetOptions &o, const torch::nn::Module &net) {
  torch::jit::Module module = moduleWithWeights("DiT", net);
  int64_t p = o.patch, C = o.channels, gh = o.height / p, gw = o.width / p;
  int64_t tokens = gh * gw;
  std::string grid = std::to_string(gh) + ", " + std::to_string(gw);
  std::ostringstream s;
  s << conditionMethod(o) << "\n"
    << forwardHeader(o.classes) << "    n = x.size(0)\n"
    << "    t = t.reshape(-1, 1).expand(n, 1)\n"
    << "    patches = x.reshape(n, " << C << ", " << gh << ", " << p << ", " << gw << ", " << p
    << ").permute(0, 2, 4, 1, 3, 5).reshape(n, " << tokens << ", " << C * p * p << ")\n"
    << "    h = " << linear("patches", "embed") << " + self.position\n"
    << callCondition(o);
  for (int64_t i = 0; i < o.depth; ++i)
    s << ditBlockLines("blocks." + std::to_string(i), o, tokens);
  s << "    m = " << linear("torch.silu(c)", "final_modulation") << ".chunk(2, 1)\n"
    << "    h = " << modulate(layerNorm("h", o.base), "m[0]", "m[1]") << "\n"
    << "    return " << linear("h", "final_linear") << ".reshape(n, " << grid << ", " << C
    << ", " << p << ", " << p << ").permute(0, 3, 1, 4, 2, 5).reshape(n, -1)\n";
  define(module, s.str(), "dit");
  return module;
}

torch::jit::Module flowrt::scriptNetwork(const flowrt_program &program,
                                         const flowrt_model_desc &desc, const Network &net) {
  std::string kind = desc.kind ? desc.kind : "";
  if (kind == "mlp")
    return scriptMlp(dynamic_cast<const MlpImpl &>(*net));
  if (kind == "unet")
    return scriptUNet(ImageNetOptions::fromProgram(program, desc), *net);
  if (kind == "dit")
    return scriptDiT(ImageNetOptions::fromProgram(program, desc), *net);
  if (kind == "torchscript") {
    // The user's module again, its weights replaced by the trained ones
    // (registered under the same underscored names, see
    // TorchScriptNetwork.cpp).
    torch::jit::Module module = torch::jit::load(desc.path);
    auto trained = net->named_parameters();
    auto buffers = net->named_buffers();
    torch::NoGradGuard noGrad;
    for (const auto &p : module.named_parameters(/*recurse=*/true))
      p.value.copy_(trained[underscored(p.name)]);
    for (const auto &b : module.named_buffers(/*recurse=*/true))
      b.value.copy_(buffers[underscored(b.name)]);
    return module;
  }
  throw std::invalid_argument("a " + kind + " network cannot be exported");
}

int flowrt::runExport(const flowrt_program &program, const ExportOptions &opts) {
  if (program.num_models == 0) {
    std::fprintf(stderr, "error: flow '%s' has no network to export (its model is closed-form)\n",
                 program.flow_name ? program.flow_name : "flow");
    return 1;
  }
  // --model NAME, else the network the sampler integrates, else the first.
  int32_t index = program.velocity_model >= 0 ? program.velocity_model : 0;
  if (!opts.model.empty()) {
    index = -1;
    std::string names;
    for (int32_t i = 0; i < program.num_models; ++i) {
      names += std::string(i ? ", " : "") + program.models[i].name;
      if (opts.model == program.models[i].name)
        index = i;
    }
    if (index < 0)
      throw UsageError("--model", "flow '" + std::string(program.flow_name) +
                                      "' has no network '" + opts.model + "' (it has " + names +
                                      ")");
  }
  const flowrt_model_desc &desc = program.models[index];
  NetworkSet nets = loadSamplingNetworks(program, opts.outDir, opts.rawWeights);
  nets->to(torch::kCPU);
  Network net = nets->network(index);
  torch::jit::Module module = scriptNetwork(program, desc, net);
  module.eval();
  checkAgainstRuntime(desc, net, module);
  try {
    module.save(opts.output);
  } catch (const c10::Error &e) {
    throw std::runtime_error("cannot write " + opts.output + ": " + e.what_without_backtrace());
  }
  bool ema = program.train.ema > 0 && !opts.rawWeights;
  std::string args = "x, t" + std::string(desc.classes > 0 ? ", y" : "");
  if (auto *mlp = dynamic_cast<const MlpImpl *>(net.get()); mlp && !mlp->options().isVelocity()) {
    args.clear();
    for (int32_t i = 0; i < desc.num_inputs; ++i)
      args += (i ? ", a" : "a") + std::to_string(i);
  }
  std::printf("wrote %s: network '%s' (%s) with its %s weights from %s, forward(%s)\n",
              opts.output.c_str(), desc.name, desc.kind, ema ? "EMA" : "raw",
              joinPath(opts.outDir, CheckpointFile).c_str(), args.c_str());
  return 0;
}

Command flowrt::addExportCommand(CLI::App &app, const flowrt_program &program) {
  auto opts = std::make_shared<ExportOptions>();
  opts->outDir = defaultOutDir(program);
  CLI::App *cmd = app.add_subcommand("export", "write the trained network as a TorchScript "
                                               "module with forward(x, t[, y]) (-o v.pt)");
  cmd->add_option("-o,--output", opts->output, "the TorchScript file to write")
      ->type_name("FILE.pt")
      ->required();
  cmd->add_option("--model", opts->model,
                  "the network to export (default: the one `sample` integrates)")
      ->type_name("NAME");
  cmd->add_option("--out-dir", opts->outDir, "the run whose checkpoint is exported")
      ->type_name("DIR")
      ->capture_default_str();
  cmd->add_option_function<std::string>(
         "--weights", [opts](const std::string &w) { opts->rawWeights = w == "raw"; },
         "the EMA weights (default, when the run keeps one) or the raw ones")
      ->type_name("ema|raw")
      ->check(oneOf({"ema", "raw"}));
  return {cmd, [&program, opts] { return runExport(bindStages(program, opts->outDir), *opts); }};
}
