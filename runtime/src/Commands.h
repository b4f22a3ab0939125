//===- Commands.h - The commands of a generated program ---------*- C++ -*-===//
//
// The options and entry points of the commands (train, sample, eval,
// likelihood, info, export). Each command's file declares its options on the
// command line (CommandLine.h) and runs it; the entry points return the
// process exit status and report their own problems on stderr.
//
//===----------------------------------------------------------------------===//
#ifndef FLOWRT_COMMANDS_H
#define FLOWRT_COMMANDS_H

#include "CommandLine.h"
#include "flowrt/flowrt.h"

#include <torch/torch.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace flowrt {

/// Options of `sample`.
struct SampleOptions {
  RunSettings run;          ///< device, autocast, seed (of the source), out-dir
  int64_t n = 0;
  int64_t steps = 0;
  std::string solver;       ///< one of the program's solvers
  bool fixedSteps = true;   ///< false: step-size control (adaptive tableau)
  bool perStep = false;     ///< --per-step: no whole-trajectory kernel
  double rtol = 1e-5, atol = 1e-5;
  int64_t maxSteps = 100000;
  double minStep = 1e-10, maxStep = 1.0;
  std::string from;         ///< `--from FILE.npy`: start here, not at x0
  /// `--edit FILE.npy`: data points noised to t0 along the flow's path,
  /// then sampled from there (SDEdit).
  std::string edit;
  /// `--from-t`/`--to-t`: integrate from t0 to t1 (t1 < t0: backwards,
  /// data towards noise; the sampler's time, 0 source and 1 data).
  double t0 = 0, t1 = 1;
  /// `--cond FILE.npy`: each sample's condition, one per row (empty: drawn
  /// from the data's conditions), for flows that take one.
  std::string cond;
  std::vector<std::string> outputs; ///< `-o` files, by extension.
  std::string metricsJson;          ///< Empty: no JSON file.
  /// Conditional flows: the label of every sample, -1 for the null class,
  /// or FLOWRT_LABELS_BALANCED (sample i gets i mod classes).
  int64_t label = FLOWRT_LABELS_BALANCED;
  double guidanceScale = 0; ///< The guidance fn's `w`.
  /// Adaptive guidance's cosine threshold and guidance momentum (0: off).
  double adaptiveGuidance = 0, guidanceMomentum = 0;
  /// `eval`: also judge image samples with the data set's classifier.
  bool evaluate = false;
  /// Normalizing flows: Tweedie's denoising step for training noise of this
  /// deviation (0: none), and Jacobi iteration to this tolerance (0: token by
  /// token) for the inverse, over groups of this many tokens (0: all).
  double denoise = 0, jacobi = 0;
  int64_t jacobiBlock = 0;
  /// --weights raw: the trained weights even when the run keeps an EMA.
  bool rawWeights = false;
  /// Only write the outputs (train's sample grids): no report, no metrics.
  bool quiet = false;
  /// Conditions in memory, one row per sample, in place of --cond (a flow
  /// decoder's tokens, from `decode` and `reconstruct`).
  torch::Tensor conditions;
  /// When set, receives the samples in the data's units, on the CPU.
  torch::Tensor *samplesOut = nullptr;
};

/// `sample`'s (or with `evaluate`, `eval`'s) defaults from the program's
/// sample block.
SampleOptions sampleDefaults(const flowrt_program &program, bool evaluate);

/// Checks that `opts.solver` is one of the program's and decides whether it
/// runs at fixed steps (`stepsGiven`: --steps was on the command line);
/// throws UsageError otherwise.
void resolveSolver(const flowrt_program &program, SampleOptions &opts, bool stepsGiven);

/// Options of `train`, their defaults from the program's train block.
struct TrainOptions {
  RunSettings run; ///< device, autocast, seed (weights, data, noise), out-dir
  int64_t steps = 0;
  int64_t batch = 0;
  double lr = 0;
  bool resume = false;
  int64_t checkpointEvery = 1000; ///< 0: only at the end.
  int64_t logEvery = 10;          ///< Steps per line of metrics.jsonl.
  bool quiet = false;
  /// --test-run: one step into <out-dir>/test-run, then a few samples.
  bool testRun = false;
  /// --no-cuda-graph: on a GPU, launch every step's work one by one instead
  /// of replaying the step captured as a CUDA graph.
  bool cudaGraph = true;
  /// --emulate-cuda-graph (tests): the captured-step loop on the CPU, each
  /// replay re-running the step (see CapturedGraph).
  bool emulateCudaGraph = false;
  /// --keep K: also keep the last K checkpoints as checkpoint-STEP.pt.
  int64_t keep = 0;
  /// Image data: a PNG grid from fixed noise, raw and EMA weights, at
  /// every checkpoint (--no-grids: none).
  bool grids = true;
  /// How the grids are sampled (the sample block's defaults); unset when
  /// the data are not images or the program has no sampler.
  std::optional<SampleOptions> gridSample;
  /// --only FLOW: of a spec that trains in stages, that stage alone.
  std::string only;
};

/// Trains (or resumes training of) the program's network.
int runTrain(const flowrt_program &program, const TrainOptions &opts);

/// Options of `likelihood`.
struct LikelihoodOptions {
  RunSettings run;           ///< device, seed (of Hutchinson's probe), out-dir
  std::string input, output; ///< -i points.npy, -o logp.npy
  bool hutchinson = false;   ///< else the exact divergence
  std::string solver;
  int64_t steps = 0;
  int64_t label = -1;        ///< conditional networks: the class (-1: none)
};

/// log p(x1) per point by integrating the ODE and the divergence backward
/// from t = 1 to 0 with `solver`'s tableau at `steps` fixed steps.
torch::Tensor logLikelihood(const flowrt_program &program, flowrt_ctx &ctx,
                            const torch::Tensor &x1, flowrt_tensor *labels,
                            const flowrt_solver &solver, int64_t steps,
                            bool hutchinson, uint64_t seed);

/// Writes log p(x) of the points in opts.input to opts.output.
int runLikelihood(const flowrt_program &program, const LikelihoodOptions &opts);

/// Bits per dimension of discrete images [n, D] (pixel levels binWidth apart
/// in [-1, 1]) under the flow: each image is dequantized uniformly over its
/// pixels' bins (x + u binWidth, u ~ U[0, 1)^D, seeded), then
/// bpd = -(log p(x + u binWidth) + D log binWidth) / (D log 2), averaged
/// (Theis et al. 2016; FFJORD's and Flow++'s convention). `labels` [n]
/// condition a conditional network (its conditional density, no guidance).
double imageBitsPerDim(const flowrt_program &program, flowrt_ctx &ctx, const torch::Tensor &images,
                       const torch::Tensor &labels, double binWidth, const flowrt_solver &solver,
                       int64_t steps, bool hutchinson, uint64_t seed);

/// The program's solver called `name`, or null.
const flowrt_solver *findSolver(const flowrt_program &program,
                                const std::string &name);

/// Writes each of `outputs` ("-o" files): .npy in the data's shape when the
/// points [n, D] are in the data's units (else as rows), .png as a scatter
/// plot of 2-D points or a grid of the first 100 images.
void writeDataFiles(const flowrt_program &program, const std::vector<std::string> &outputs,
                    const torch::Tensor &points, bool quiet);

/// Samples with the trained network, writes files and prints quality.
int runSample(const flowrt_program &program, const SampleOptions &opts);

/// `sample` and `eval` of such a program: z ~ N(0, I) inverted (and
/// denoised); eval: exact bits/dim of held-out images and, conditional, the
/// Bayes classifier's accuracy.
int runNormalizingFlow(const flowrt_program &program, const SampleOptions &opts);

/// `eval` of a flow over token data (HeldOut.cpp): the flow's losses on
/// held-out data (opts.n samples), in nats per sample and bits per token.
int runHeldOutLosses(const flowrt_program &program, const SampleOptions &opts);

/// Prints what the program is: its flow, data, network and defaults.
int runInfo(const flowrt_program &program);

/// Options of `export`.
struct ExportOptions {
  std::string output;      ///< -o FILE: the TorchScript module
  std::string outDir;      ///< the run whose checkpoint is exported
  bool rawWeights = false; ///< --weights raw: not the EMA weights
  std::string model;       ///< --model NAME ("": the velocity network)
};

/// Writes the trained network (as `sample` would use it) as a TorchScript
/// module with forward(x, t[, y]) that PyTorch loads without flowc
/// (Export.cpp).
int runExport(const flowrt_program &program, const ExportOptions &opts);

/// The seed stream of the fresh data `sample` compares against, apart from
/// the streams of training batches.
constexpr uint64_t FreshDataStream = 0xF7E5D47A;

} // namespace flowrt

#endif // FLOWRT_COMMANDS_H
