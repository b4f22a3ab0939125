//===- Context.h - Runtime state behind the C interface ---------*- C++ -*-===//
//
// Defines the two opaque types of flowrt.h. A `flowrt_tensor` wraps one
// torch::Tensor; a `flowrt_ctx` holds what one command (train or sample)
// shares with the generated host schedule: the program, the seed, the batch
// size, the current step, the data set, the network to evaluate and an arena
// that owns every tensor handed out during one training step or solver step.
// The loops in Train.cpp and Sample.cpp fill a context and clear its arena
// between calls into generated code.
//
//===----------------------------------------------------------------------===//
#ifndef FLOWRT_CONTEXT_H
#define FLOWRT_CONTEXT_H

#include "Data.h"
#include "flowrt/flowrt.h"

#include <torch/torch.h>

#include <deque>
#include <functional>
#include <thread>
#include <map>

namespace flowrt {
class CudaKernels;
class DataSet;
class NetworkImpl;
class Tokenizer;

/// The data batches of a training step captured as a CUDA graph. A replay
/// cannot draw (host code does not run), so the graph reads its batches from
/// these buffers, which `fill` refills before each replay with exactly what
/// flowrt_data_batch would have drawn for that step. While `recording`,
/// flowrt_data_batch appends each call of an eager step (rows, whether with
/// labels and conditions) to `calls`.
struct FixedBatches {
  struct Call {
    int64_t rows;
    bool labels, conds;
  };
  std::vector<Call> calls;
  std::vector<torch::Tensor> x, labels, conds; ///< on the command's device
  bool recording = false;

  /// Draws the current step's batches (ctx.step) into the buffers.
  void fill(flowrt_ctx &ctx);
};
} // namespace flowrt

/// A float32 [rows, cols] tensor handed to generated code.
struct flowrt_tensor {
  torch::Tensor value;
};

/// The runtime state of one command, shared with the generated schedule.
struct flowrt_ctx {
  const flowrt_program *program = nullptr;
  uint64_t seed = 0;
  int64_t batchSize = 0;
  /// The training step being computed (data batches are a function of it).
  int64_t step = 0;
  /// flowrt_data_batch calls so far in this step, so two calls differ.
  int64_t dataCalls = 0;
  /// flowrt_draw_counter calls so far (a sampler's steps that draw).
  int64_t drawCalls = 0;
  flowrt::DataSet *data = nullptr;
  /// The data's tokenizer (null: none); batches are encoded for the flow.
  const flowrt::Tokenizer *tokenizer = nullptr;
  /// The networks flowrt_apply evaluates, in the program's order (training
  /// weights or EMA weights), and the one the sampler integrates (guidance,
  /// likelihoods and whole-trajectory kernels evaluate it; null: none).
  std::vector<flowrt::NetworkImpl *> nets;
  flowrt::NetworkImpl *net = nullptr;
  /// `--autocast bf16`: network calls run under LibTorch's autocast to this
  /// type on the command's device (kFloat: off); their outputs are float32.
  torch::ScalarType autocast = torch::kFloat;
  /// The guidance scale of `sample` (the spec's `w` or --guidance).
  double guidanceScale = 0;
  /// Adaptive guidance's cosine threshold and guidance momentum (0: off),
  /// and their state across the solver steps of one trajectory.
  double adaptiveGuidance = 0, guidanceMomentum = 0;
  struct GuidanceState {
    torch::Tensor agreed;   ///< bool [n]: unconditional call dropped for good
    torch::Tensor momentum; ///< [n, D]: the running guidance direction
    int64_t unconditionalRows = 0, skippedRows = 0;
  } guidanceState;
  /// Step-size control (sample --rtol/--atol/--max-step).
  double rtol = 1e-5, atol = 1e-5, maxStep = 1.0;
  /// The network's packed parameters (flowrt_net_weights), made once.
  torch::Tensor netWeights;
  /// While training: each loss term's sum over the steps since the last
  /// metrics line ([num_losses] on the device; flowrt_total_loss adds).
  torch::Tensor lossTermSums;
  /// Network evaluations so far, reported by `sample`.
  int64_t netEvals = 0;
  /// Where the command's tensors live; on a GPU the generated host code
  /// launches the program's PTX through `gpu` instead of the CPU kernels.
  torch::Device device = torch::kCPU;
  flowrt::CudaKernels *gpu = nullptr;
  /// GPU kernels' random-number counter (flowrt_gpu_step), int64 [1].
  torch::Tensor stepCounter;
  /// The optimizer's and EMA's uniform arguments in device memory
  /// (flowrt_gpu_scalar), float [1] each, by "kernel#index".
  std::map<std::string, torch::Tensor> gpuScalars;
  /// Which launch of a kernel the host code is making when one kernel runs
  /// several times per step with different scalars (the optimizer over the
  /// segments of networks with their own learning rates): part of the key
  /// of flowrt_gpu_scalar's slot, so each launch reads its own.
  int32_t scalarInstance = 0;
  /// A training step is being captured as a CUDA graph: flowrt_gpu_step and
  /// flowrt_gpu_scalar leave their buffers alone (the runtime sets them
  /// before each replay).
  bool capturing = false;
  /// flowrt_launch does nothing: the runtime runs host code only for the
  /// scalars it writes (before a replay of the captured step).
  bool launchesOff = false;
  /// Set while training with a captured step: flowrt_data_batch records its
  /// calls (eager steps) or hands out the fixed buffers (the capture).
  flowrt::FixedBatches *fixedBatches = nullptr;
  /// Tensors of the current call; a deque keeps their addresses stable.
  std::deque<flowrt_tensor> arena;

  /// Wraps `value` (made float32 and contiguous) as an arena tensor.
  flowrt_tensor *adopt(torch::Tensor value);
  /// The velocity network on (x, t, y), under `autocast`, as float32.
  torch::Tensor evaluateNet(const torch::Tensor &x, const torch::Tensor &t,
                            const torch::Tensor &y);
  /// Network `model` on its arguments, under `autocast`, as float32.
  torch::Tensor applyNet(int32_t model, const std::vector<torch::Tensor> &args);
  /// Frees every tensor handed out since the last clear.
  void clearArena() { arena.clear(); }
};

namespace flowrt {
/// Mixes a seed with stream identifiers into a well-spread 64-bit seed
/// (SplitMix64), so (seed, step, call) tuples give independent generators.
uint64_t mixSeed(uint64_t seed, uint64_t a, uint64_t b = 0);
/// Runs fn(begin, end) over [0, n) in `threads` contiguous ranges, ranges
/// 1.. on threads made by `spawn` and range 0 on the calling thread, which
/// also runs the ranges of any thread `spawn` could not start (it threw
/// std::system_error). Rethrows the first exception of any range.
void runRowRanges(int64_t n, int64_t threads, const std::function<void(int64_t, int64_t)> &fn,
                  const std::function<std::thread(std::function<void()>)> &spawn);
/// Values per sample of the flow: the data's, or for a flow without data
/// (x0 drawn with a shape of its own) the source's, from one draw.
int64_t sampleDimension(flowrt_ctx &ctx);
/// Data batch number `call` of the training step ctx.step: x [n, dim]
/// encoded by the tokenizer, and when asked labels [n, 1] and conditions [n,
/// cond_dim] (else undefined), float32 in CPU memory.
Batch drawStepBatch(flowrt_ctx &ctx, int64_t n, int64_t call, bool labels, bool conds);
} // namespace flowrt

#endif // FLOWRT_CONTEXT_H
