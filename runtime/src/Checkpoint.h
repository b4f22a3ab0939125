//===- Checkpoint.h - Atomic training checkpoints ---------------*- C++ -*-===//
//
// A checkpoint is one torch archive, `<out>/checkpoint.pt`, holding
// everything a run needs to continue bit for bit: the networks, their EMA, the
// optimizer's state buffers, the step reached and the training seconds spent so far.
// It is written to a temporary file in the same directory and renamed over
// the old one, so a crash never leaves a half-written checkpoint.
//
//===----------------------------------------------------------------------===//
#ifndef FLOWRT_CHECKPOINT_H
#define FLOWRT_CHECKPOINT_H

#include "NetworkSet.h"

#include <torch/torch.h>

#include <string>

namespace flowrt {

/// The file name of a run's checkpoint inside its output directory.
constexpr const char *CheckpointFile = "checkpoint.pt";
/// Beside every checkpoint: its networks' description as JSON (what
/// describeNetworks returns), which flowc reads to check a spec's frozen
/// networks when it compiles.
constexpr const char *NetworksFile = "networks.json";

/// What a checkpoint records beside the weights.
struct CheckpointInfo {
  int64_t step = 0;     ///< Training steps completed.
  double elapsed = 0;   ///< Seconds of training so far, over all resumes.
  bool hasEma = false;  ///< Whether EMA weights are stored.
  std::string flowName; ///< The flow that wrote it (set by saveCheckpoint).
};

/// What a checkpoint's weights mean: the flow, its data and its network, as
/// text ("flow moons; data toy.moons [2]; model mlp 64x3 ..."). Loading
/// refuses a checkpoint whose identity differs: another spec's network of
/// the same architecture would otherwise load silently.
std::string checkpointIdentity(const flowrt_program &program);

/// Every network of the program as JSON (name, kind, signature, settings):
/// a checkpoint stores it, so another program can load one of its networks
/// frozen (loadFrozenNetwork).
std::string describeNetworks(const flowrt_program &program);

/// Network `desc` (kind "checkpoint") of a program: the network it names in
/// another run's checkpoint, rebuilt from that checkpoint's description,
/// with its EMA weights (or raw ones), in eval mode and without gradients.
/// Throws std::runtime_error naming the file when it cannot be read, has
/// no such network, or the network's signature differs from `desc`'s (the
/// spec's use), naming both.
Network loadFrozenNetwork(const flowrt_program &program, const flowrt_model_desc &desc);

/// Writes `path` atomically. `ema` and `optimizerState` (the optimizer's
/// state buffers, [state variables, parameters]) may be null.
void saveCheckpoint(const std::string &path, const flowrt_program &program,
                    torch::nn::Module &model,
                    torch::nn::Module *ema,
                    const torch::Tensor *optimizerState,
                    const CheckpointInfo &info);

/// Reads `path` into `model` and, where not null, `ema` and
/// `optimizerState` (a CPU tensor of the expected shape, overwritten).
/// Throws std::runtime_error naming the file if it cannot be read, was
/// written by another flow, data set or network (checkpointIdentity), or
/// does not match the network or the optimizer. A checkpoint of the same
/// flow from a spec edited since (its sample block, say) loads with a
/// warning.
CheckpointInfo loadCheckpoint(const std::string &path, const flowrt_program &program,
                              torch::nn::Module &model,
                              torch::nn::Module *ema,
                              torch::Tensor *optimizerState);

/// The networks `sample`, `likelihood` and `export` use: the run's EMA
/// weights when the program trains with an EMA (and `raw` is false), else
/// its weights, in eval mode and without gradients. Throws
/// std::runtime_error when `outDir` has no checkpoint.
NetworkSet loadSamplingNetworks(const flowrt_program &program, const std::string &outDir,
                                bool raw = false);

} // namespace flowrt

#endif // FLOWRT_CHECKPOINT_H
