//===- NetworkSet.cpp - Every network of a program, as one module ---------===//
//
// Implements NetworkSet.h.
//
//===----------------------------------------------------------------------===//

#include "NetworkSet.h"
#include "Checkpoint.h"

#include <stdexcept>

using namespace flowrt;

NetworkSetImpl::NetworkSetImpl(const flowrt_program &program) : program(program) {
  for (int32_t i = 0; i < program.num_models; ++i) {
    const flowrt_model_desc &desc = program.models[i];
    std::string name = desc.name ? desc.name : "model" + std::to_string(i);
    try {
      if (isFrozen(desc)) {
        nets.push_back(desc.frozen ? freezeNetwork(makeNetwork(program, desc))
                                   : loadFrozenNetwork(program, desc));
        frozen.push_back(nets.back());
      } else {
        nets.push_back(register_module(name, makeNetwork(program, desc)));
      }
    } catch (const std::invalid_argument &e) {
      throw std::invalid_argument("model '" + name + "': " + e.what());
    }
  }
}

Network flowrt::freezeNetwork(Network net) {
  net->eval();
  for (torch::Tensor &p : net->parameters())
    p.set_requires_grad(false);
  return net;
}

NetworkImpl *NetworkSetImpl::velocity() {
  int32_t i = program.velocity_model;
  return i >= 0 && static_cast<size_t>(i) < nets.size() ? nets[i].get() : nullptr;
}

std::vector<NetworkImpl *> NetworkSetImpl::pointers() {
  std::vector<NetworkImpl *> out;
  for (const Network &net : nets)
    out.push_back(net.get());
  return out;
}

void NetworkSetImpl::to(torch::Device device, bool nonBlocking) {
  torch::nn::Module::to(device, nonBlocking);
  for (const Network &net : frozen)
    net->to(device, nonBlocking);
}

NetworkSet flowrt::cloneNetworks(const flowrt_program &program, const NetworkSet &set) {
  NetworkSet copy(program);
  copy->to(set->parameters().at(0).device());
  copyParameters(*copy, *set);
  return copy;
}
