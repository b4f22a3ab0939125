//===- TorchScriptNetwork.cpp - A user's network saved from PyTorch -------===//
//
// `model v = torchscript("v.pt")`: a module the user scripted and saved in
// PyTorch (torch.jit.script(net).save("v.pt")), trained and sampled like
// the built-in networks. Its forward takes the arguments the flow applies
// it to, in order: a tensor as [n, features], a time [n, 1], a label [n, 1]
// as floats (-1 the null class); v(x, t[, y]) is the usual velocity. It
// returns [n, out_dim] (a velocity: x's). Its parameters and buffers are
// registered under this module (dots become underscores), sharing their
// storage with the script module: the flat parameter buffer, the optimizer,
// the EMA and checkpoints see them like any other network's.
//
//===----------------------------------------------------------------------===//

#include "ArrayFiles.h"
#include "Network.h"

#include <torch/script.h>

#include <algorithm>
#include <stdexcept>

using namespace flowrt;

namespace {

std::string registeredName(std::string name) {
  std::replace(name.begin(), name.end(), '.', '_');
  return name;
}

/// The first line of a LibTorch error: the rest is a C++ backtrace.
std::string firstLine(const std::exception &e) {
  std::string what = e.what();
  return what.substr(0, what.find('\n'));
}

class TorchScriptImpl : public NetworkImpl {
public:
  TorchScriptImpl(std::string path, int64_t dim, int64_t classes, int64_t outDim)
      : path(std::move(path)), dim(dim), classes(classes), outDim(outDim) {
    try {
      module = torch::jit::load(this->path);
    } catch (const std::exception &e) {
      throw std::runtime_error("cannot load the TorchScript module " + this->path + ": " +
                               firstLine(e));
    }
    for (const auto &p : module.named_parameters(/*recurse=*/true))
      register_parameter(registeredName(p.name), p.value);
    for (const auto &b : module.named_buffers(/*recurse=*/true))
      register_buffer(registeredName(b.name), b.value);
  }

  torch::Tensor forward(const torch::Tensor &x, const torch::Tensor &t,
                        const torch::Tensor &labels) override {
    std::vector<torch::Tensor> args{x, t};
    if (classes > 0)
      args.push_back(labels);
    return apply(args);
  }

  /// The module on the arguments in the flow's order, each [n, features].
  torch::Tensor apply(const std::vector<torch::Tensor> &args) override {
    std::vector<torch::jit::IValue> inputs;
    std::string shapes;
    for (const torch::Tensor &a : args) {
      inputs.emplace_back(a.reshape({a.size(0), -1}).to(args.front().scalar_type()));
      shapes += (shapes.empty() ? "" : ", ") + shapeString(a.reshape({a.size(0), -1}).sizes());
    }
    torch::Tensor v;
    try {
      v = module.forward(inputs).toTensor();
    } catch (const std::exception &e) {
      throw std::runtime_error("the TorchScript module " + path + " failed on (" + shapes +
                               "): " + firstLine(e));
    }
    int64_t n = args.front().size(0), want = outDim > 0 ? outDim : dim;
    if (v.dim() != 2 || v.size(0) != n || v.size(1) != want)
      throw std::runtime_error("the TorchScript module " + path + " returned " +
                               shapeString(v.sizes()) + " for (" + shapes + "); the spec expects [" +
                               std::to_string(n) + ", " + std::to_string(want) + "]");
    return v;
  }

  void train(bool on = true) override {
    NetworkImpl::train(on);
    module.train(on);
  }

private:
  std::string path;
  int64_t dim, classes, outDim;
  torch::jit::Module module;
};

} // namespace

Network flowrt::makeTorchScriptNetwork(const std::string &path, int64_t dim, int64_t classes,
                                       int64_t outDim) {
  return std::make_shared<TorchScriptImpl>(path, dim, classes, outDim);
}
