//===- NetworkSet.h - Every network of a program, as one module -*- C++ -*-===//
//
// A flow may apply several networks. A NetworkSet holds one of each, in the
// program's order: the trained ones as submodules named by the spec's model
// names, so its parameters() are theirs, which the trainer keeps in one
// flat buffer (one optimizer launch), one EMA copy and one checkpoint
// archive; the frozen ones (kind "checkpoint", another run's) beside them,
// loaded from their checkpoints, outside all of that. Generated code
// reaches network i through flowrt_apply.
//
//===----------------------------------------------------------------------===//
#ifndef FLOWRT_NETWORKSET_H
#define FLOWRT_NETWORKSET_H

#include "Network.h"

#include <torch/torch.h>

#include <string>
#include <vector>

namespace flowrt {

class NetworkSetImpl : public torch::nn::Module {
public:
  /// Every network of `program`, freshly initialised in order from the
  /// current torch seed. Throws std::invalid_argument as makeNetwork does,
  /// naming the model.
  explicit NetworkSetImpl(const flowrt_program &program);

  size_t size() const { return nets.size(); }
  const Network &network(size_t index) const { return nets.at(index); }
  /// The network the sampler integrates (program.velocity_model), or null.
  NetworkImpl *velocity();
  /// Each network, for flowrt_ctx::nets.
  std::vector<NetworkImpl *> pointers();

  /// Moves the frozen networks too.
  using torch::nn::Module::to;
  void to(torch::Device device, bool nonBlocking = false) override;

private:
  const flowrt_program &program;
  std::vector<Network> nets;
  std::vector<Network> frozen; ///< those of nets that are not submodules
};
TORCH_MODULE(NetworkSet);

/// `net` in eval mode without gradients: a network no step trains.
Network freezeNetwork(Network net);

/// A copy of `set` with its own (gradient-free) parameters.
NetworkSet cloneNetworks(const flowrt_program &program, const NetworkSet &set);

} // namespace flowrt

#endif // FLOWRT_NETWORKSET_H
