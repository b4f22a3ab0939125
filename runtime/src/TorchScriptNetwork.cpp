//===- TorchScriptNetwork.cpp - A user's network saved from PyTorch -------===//
//
// `model v = torchscript("v.pt")`: a module the user scripted and saved in
// PyTorch (torch.jit.script(net).save("v.pt")), trained and sampled like
// the built-in networks. Its forward takes x [n, D] and t [n, 1] (and, when
// a flow calls v(x, t, y), the labels y [n, 1] as floats, -1 the null class)
// and returns the velocity [n, D]. Its parameters and buffers are
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
  TorchScriptImpl(std::string path, int64_t dim, int64_t classes)
      : path(std::move(path)), dim(dim), classes(classes) {
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
    if (parameters().empty())
      throw std::runtime_error("the TorchScript module " + this->path + " has no parameters");
  }

  torch::Tensor forward(const torch::Tensor &x, const torch::Tensor &t,
                        const torch::Tensor &labels) override {
    std::vector<torch::jit::IValue> inputs{x, t.reshape({-1, 1})};
    if (classes > 0)
      inputs.emplace_back(labels.reshape({-1, 1}).to(x.scalar_type()));
    torch::Tensor v;
    try {
      v = module.forward(inputs).toTensor();
    } catch (const std::exception &e) {
      throw std::runtime_error("the TorchScript module " + path + " failed on x " +
                               shapeString(x.sizes()) + (classes > 0 ? ", t and y: " : " and t: ") +
                               firstLine(e));
    }
    if (v.dim() != 2 || v.size(0) != x.size(0) || v.size(1) != dim)
      throw std::runtime_error("the TorchScript module " + path + " returned " + shapeString(v.sizes()) +
                               " for x " + shapeString(x.sizes()) + "; a velocity has x's shape");
    return v;
  }

  void train(bool on = true) override {
    NetworkImpl::train(on);
    module.train(on);
  }

private:
  std::string path;
  int64_t dim, classes;
  torch::jit::Module module;
};

} // namespace

Network flowrt::makeTorchScriptNetwork(const std::string &path, int64_t dim, int64_t classes) {
  return std::make_shared<TorchScriptImpl>(path, dim, classes);
}
