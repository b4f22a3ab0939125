//===- Sample.cpp - The sampling loop -------------------------------------===//
//
// Implements `sample` and `eval` and their options: loads the checkpoint
// (EMA weights when the program trains with an EMA), draws the source with
// the generated `sample_source` (or reads --from), integrates from t = 0 to
// 1 with the program's solver, writes the requested files and reports the
// quality: for toy data the sliced Wasserstein-2 distance to fresh data
// beside that of the source itself, the figure the samples should beat; for
// `eval` on images the classifier's Fréchet distance, accuracy and bits per
// dimension. --metrics-json writes the same figures as JSON.
//
//===----------------------------------------------------------------------===//

#include "Checkpoint.h"
#include "Commands.h"
#include "Context.h"
#include "Cuda.h"
#include "Data.h"
#include "Eval.h"
#include "Files.h"
#include "Integrate.h"
#include "Metrics.h"
#include "NetworkSet.h"
#include "Stages.h"
#include "Tokenizer.h"
#include "Writers.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <memory>

#include <nlohmann/json.hpp>

using namespace flowrt;

namespace {

/// Points the MMD uses: its cost is quadratic in them.
constexpr int64_t MmdPoints = 2000;
/// Seed of the projections, the same for every run so figures compare.
constexpr uint64_t ProjectionSeed = 0;
/// Fresh data drawn per sample, so that one class of up to 8 still gives
/// about as many reference points as samples.
constexpr int64_t FreshFactor = 16;
/// Stream of the conditions drawn from the data when `--cond` is not given.
constexpr uint64_t ConditionStream = 0xC0DD17105;

/// Labels [n, 1] for `label` (a class, -1, or FLOWRT_LABELS_BALANCED).
torch::Tensor sampleLabels(int64_t n, int64_t classes, int64_t label) {
  if (label == FLOWRT_LABELS_BALANCED)
    return torch::remainder(torch::arange(n, torch::kFloat),
                            static_cast<double>(classes))
        .reshape({n, 1});
  return torch::full({n, 1}, static_cast<float>(label));
}

std::string describeLabels(int64_t label) {
  if (label == FLOWRT_LABELS_BALANCED)
    return "balanced over the classes";
  if (label == -1)
    return "none (the null class)";
  return "class " + std::to_string(label);
}

std::string formatNumber(double v) {
  char text[64];
  std::snprintf(text, sizeof(text), "%.6g", v);
  return text;
}

/// Every -o file is .npy, .png or .txt (checked before any work is done).
void checkOutputs(const SampleOptions &opts) {
  for (const std::string &out : opts.outputs) {
    std::string ext = extensionOf(out);
    if (ext != ".npy" && ext != ".png" && ext != ".txt")
      throw UsageError("-o", "cannot write '" + out + "': -o takes .npy, .png or .txt files");
  }
}

/// What one sampling run made: the samples and the source they started
/// from (in the flow's units, on the command's device), and its figures.
struct SampleRun {
  flowrt_tensor x, labels, conds, source;
  IntegrateStats stats;
  double seconds = 0;
  int64_t classes = 0;
};

/// Samples in the data's units: the program's compiled decoding (an
/// encoder tokenizer's `decode:`) of rows z in the flow's units.
torch::Tensor compiledDecode(const flowrt_program &program, flowrt_ctx &ctx,
                             const torch::Tensor &z) {
  flowrt_tensor in;
  in.value = z.to(ctx.device);
  torch::Tensor x = program.tokenizer.decode(&ctx, &in)->value;
  ctx.clearArena();
  return x.cpu();
}

/// The samples and their source in the data's units, on the CPU: a
/// tokenizer's tokens decoded.
std::pair<torch::Tensor, torch::Tensor> decodedSamples(const flowrt_program &program,
                                                       flowrt_ctx &ctx, const SampleRun &run,
                                                       const Tokenizer *tokenizer) {
  torch::Tensor points = run.x.value.cpu(), source = run.source.value.cpu();
  if (samplesTokens(program)) {
    points = compiledDecode(program, ctx, points);
    source = compiledDecode(program, ctx, source);
  } else if (tokenizer) {
    points = tokenizer->decode(points);
    source = tokenizer->decode(source);
  }
  int64_t nonFinite = (~torch::isfinite(points)).any(1).sum().item<int64_t>();
  if (nonFinite > 0)
    std::fprintf(stderr, "warning: %lld samples are not finite\n",
                 static_cast<long long>(nonFinite));
  return {points, source};
}

/// Conditions for n samples when `--cond` gives none: the data's, or for
/// a flow decoder the tokens of drawn data points.
torch::Tensor drawnConditions(const flowrt_program &program, flowrt_ctx &ctx,
                              const DataSet &data, int64_t n, uint64_t seed) {
  Batch drawn = data.draw(n, mixSeed(seed, ConditionStream));
  if (!program.sample.cond_computed)
    return drawn.conds;
  if (!isFlowDecoder(program))
    throw UsageError("--cond", std::string("flow '") + program.flow_name +
                                   "' takes a condition it computes from its data: give one "
                                   "per sample with --cond FILE.npy");
  int64_t batch = ctx.batchSize;
  torch::Tensor tokens = applyTokenizer(program.tokenizer.encode, ctx, drawn.x);
  ctx.batchSize = batch;
  return tokens;
}

/// Prints how the samples were made.
void reportRun(const flowrt_program &program, const SampleOptions &opts, const flowrt_ctx &ctx,
               const SampleRun &run, const IntegrateOptions &integration) {
  std::string how = std::to_string(run.stats.steps) + " steps";
  if (integration.adaptive) {
    char tol[96];
    std::snprintf(tol, sizeof(tol), " (adaptive per sample, rtol %g, atol %g)", opts.rtol,
                  opts.atol);
    how += tol;
  }
  if (!integration.times.empty())
    how += ", times from the spec's grid";
  if (integration.t0 != 0 || integration.t1 != 1) {
    char range[64];
    std::snprintf(range, sizeof(range), ", t from %g to %g", integration.t0, integration.t1);
    how += range;
  }
  std::printf("sampled %lld points with %s, %s, %lld function evaluations in "
              "%.4f s%s\n",
              static_cast<long long>(run.x.value.size(0)), integration.solver->name,
              how.c_str(), static_cast<long long>(run.stats.evaluations), run.seconds,
              run.stats.fused ? " (one whole-trajectory kernel)" : "");
  if (run.classes > 0) {
    std::string guidance;
    if (program.sample.guidance)
      guidance = ", guidance " + std::string(program.sample.guidance) +
                 (std::isnan(opts.guidanceScale) ? std::string()
                                                 : " w = " + formatNumber(opts.guidanceScale));
    std::printf("labels: %s%s\n", describeLabels(opts.label).c_str(), guidance.c_str());
  }
  if (program.sample.cond_dim > 0)
    std::printf("conditions: %s\n",
                !opts.cond.empty() ? opts.cond.c_str()
                : program.sample.cond_computed
                    ? "the tokens of data points drawn (--cond FILE.npy gives them)"
                    : "drawn from the data's (--cond FILE.npy gives them)");
  if (ctx.guidanceMomentum != 0)
    std::printf("guidance momentum %g\n", ctx.guidanceMomentum);
  if (ctx.adaptiveGuidance > 0) {
    const auto &g = ctx.guidanceState;
    int64_t total = g.unconditionalRows + g.skippedRows;
    std::printf("adaptive guidance (cos >= %g): %.1f%% of the unconditional evaluations "
                "skipped (%lld of %lld)\n",
                ctx.adaptiveGuidance, total ? 100.0 * g.skippedRows / total : 0.0,
                static_cast<long long>(g.skippedRows), static_cast<long long>(total));
  }
}


/// `eval`: the classifier's figures and, where the source has a density,
/// bits per dimension of held-out images.
void evaluateImageSamples(const flowrt_program &program, const SampleOptions &opts,
                          flowrt_ctx &ctx, const DataSet &data, const SampleRun &run,
                          const torch::Tensor &points, const flowrt_solver &solver,
                          nlohmann::ordered_json &metrics) {
  int64_t n = points.size(0);
  ImageMetrics m = evaluateImages(program.data, data, points,
                                  run.classes > 0 ? run.labels.value.cpu() : torch::full({n}, -1.0),
                                  opts.run.outDir);
  metrics["fd_name"] = m.fdName;
  metrics["fd"] = m.fd;
  metrics["classifier_accuracy_on_samples"] = m.accuracy;
  metrics["classifier_accuracy_held_out"] = m.classifierAccuracy;
  if (!opts.quiet) {
    std::printf("%s = %.4f\n", m.fdName.c_str(), m.fd);
    if (!std::isnan(m.accuracy))
      std::printf("classifier accuracy on class-conditional samples = %.4f "
                  "(on held-out real images: %.4f)\n",
                  m.accuracy, m.classifierAccuracy);
  }
  // Bits per dimension of real images, where the source has a density;
  // a conditional network's is log p(x | y) for each image's own label. A
  // map sampler has no velocity field to integrate them with, and a flow
  // over an encoder's tokens no density of images (the encoder is not
  // invertible); likelihoods given a condition (a flow decoder's tokens)
  // are not supported yet.
  if (!program.source.kind || !program.velocity || samplesTokens(program) ||
      program.data.vocab > 0 || program.sample.cond_dim > 0 || !ctx.device.is_cpu())
    return;
  ClassifierData images = classifierData(program.data, data);
  constexpr int64_t BpdImages = 256;
  torch::Tensor x = images.heldOut.x.slice(0, 0, BpdImages);
  bool hutchinson = x.size(1) > 256; // exact: one JVP per pixel
  double bpd = imageBitsPerDim(
      program, ctx, x,
      run.classes > 0 ? images.heldOut.labels.slice(0, 0, BpdImages) : torch::Tensor(),
      images.binWidth, solver, opts.steps, hutchinson, opts.run.seed);
  metrics["bits_per_dim"] = bpd;
  if (!opts.quiet)
    std::printf("bits/dim = %.4f (%lld %s images, dequantized; %s divergence, %s, %lld "
                "steps)\n",
                bpd, static_cast<long long>(x.size(0)),
                images.name == "digits" ? "digits" : "Fashion-MNIST test",
                hutchinson ? "Hutchinson" : "exact", solver.name,
                static_cast<long long>(opts.steps));
}

/// The samples against fresh data (of the requested class when all samples
/// have one label): sliced-W2 beside the source's, the RBF MMD and, for
/// conditional samples, how often the nearest fresh point has their label.
void compareWithData(const SampleOptions &opts, const DataSet &data, const SampleRun &run,
                     const torch::Tensor &points, const torch::Tensor &source,
                     nlohmann::ordered_json &metrics) {
  int64_t n = points.size(0);
  Batch freshBatch = data.draw(FreshFactor * n, mixSeed(opts.run.seed, FreshDataStream));
  torch::Tensor fresh = freshBatch.x;
  if (run.classes > 0 && opts.label >= 0)
    fresh = fresh.index({freshBatch.labels == static_cast<float>(opts.label)});
  int64_t compared = std::min(n, fresh.size(0));
  fresh = fresh.slice(0, 0, compared);
  double sw2 = slicedWasserstein2(points.slice(0, 0, compared), fresh, 128, ProjectionSeed);
  double sw2Source =
      slicedWasserstein2(source.slice(0, 0, compared), fresh, 128, ProjectionSeed);
  int64_t m = std::min(compared, MmdPoints);
  double mmd2 = m >= 2 ? rbfMmd2(points.slice(0, 0, m), fresh.slice(0, 0, m)) : 0.0;
  metrics["sliced_w2"] = sw2;
  metrics["sliced_w2_source"] = sw2Source;
  metrics["rbf_mmd2"] = mmd2;
  metrics["mmd_points"] = m;
  if (!opts.quiet)
    std::printf("quality: sliced-W2 to fresh data%s = %.4f (%s: %.4f)\n",
                run.classes > 0 && opts.label >= 0
                    ? (" of class " + std::to_string(opts.label)).c_str()
                    : "",
                sw2, opts.from.empty() ? "the source" : "start points", sw2Source);
  metrics["conditional_accuracy"] = nullptr;
  if (run.classes == 0 || opts.label == -1)
    return;
  int64_t k = std::min(n, MmdPoints);
  double accuracy = nearestNeighbourAccuracy(
      points.slice(0, 0, k), run.labels.value.cpu().reshape({-1}).slice(0, 0, k),
      freshBatch.x.slice(0, 0, 4 * MmdPoints), freshBatch.labels.slice(0, 0, 4 * MmdPoints));
  metrics["conditional_accuracy"] = accuracy;
  if (!opts.quiet)
    std::printf("conditional accuracy (1-nearest fresh data point has the "
                "sample's label) = %.4f\n",
                accuracy);
}

} // namespace

int flowrt::runSample(const flowrt_program &program, const SampleOptions &opts) {
  if (normalizingFlowModel(program))
    return runNormalizingFlow(program, opts);
  if (opts.evaluate && program.data.vocab > 0)
    return runHeldOutLosses(program, opts);
  checkOutputs(opts);
  const flowrt_solver *solver = findSolver(program, opts.solver);
  if (!program.sample_source || !solver) {
    std::fprintf(stderr, "error: the program has no sampler\n");
    return 1;
  }
  // A closed-form model (no network) samples at once, with no checkpoint;
  // a spec without data has no quality figure.
  NetworkSet nets = program.num_models > 0
                        ? loadSamplingNetworks(program, opts.run.outDir, opts.rawWeights)
                        : NetworkSet(nullptr);
  std::unique_ptr<DataSet> data = program.data.generator ? makeDataSet(program.data) : nullptr;

  torch::NoGradGuard noGrad;
  flowrt_ctx ctx;
  std::unique_ptr<CudaKernels> gpu = setUpContext(ctx, program, opts.run);
  ctx.data = data.get();
  std::unique_ptr<Tokenizer> tokenizer = makeTokenizer(program.data);
  ctx.tokenizer = tokenizer.get();
  if (nets) {
    nets->to(ctx.device);
    ctx.nets = nets->pointers();
    ctx.net = nets->velocity();
  }
  ctx.guidanceScale = opts.guidanceScale;
  ctx.adaptiveGuidance = opts.adaptiveGuidance;
  ctx.guidanceMomentum = opts.guidanceMomentum;

  // `--from FILE.npy`: the start points, checked against the flow's shape.
  torch::Tensor from;
  if (!opts.from.empty())
    from = readPointRows(opts.from, sampleDimension(ctx), "the flow's samples").to(ctx.device);
  // `--edit FILE.npy`: data noised to t0 along the flow's own path.
  if (!opts.edit.empty()) {
    if (!program.sample.noised)
      throw UsageError("--edit", "flow '" + std::string(program.flow_name) +
                                     "' cannot noise data: its sampled network's input is no "
                                     "path of the data point and the time");
    flowrt_tensor x1{
        readPointRows(opts.edit, sampleDimension(ctx), "the flow's samples").to(ctx.device)};
    ctx.batchSize = x1.value.size(0);
    from = program.sample.noised(&ctx, &x1, opts.t0)->value;
    ctx.clearArena();
  }
  // `--cond FILE.npy` (or a flow decoder's tokens from `reconstruct`): a
  // condition per sample, so as many samples.
  torch::Tensor conds = opts.conditions;
  if (!opts.cond.empty()) {
    conds = program.sample.cond_computed
                ? readPointRows(opts.cond, program.sample.cond_dim, "the flow's conditions")
                : readConditions(opts.cond, program.data);
    if (from.defined() && from.size(0) != conds.size(0))
      throw UsageError("--cond", opts.cond + " holds " + std::to_string(conds.size(0)) +
                                     " conditions but --from " + opts.from + " " +
                                     std::to_string(from.size(0)) + " points");
  }
  int64_t n = from.defined() ? from.size(0) : conds.defined() ? conds.size(0) : opts.n;
  ctx.batchSize = n;

  SampleRun run;
  // A conditional network gets one label per sample; a flow that takes a
  // condition tensor the file's, or conditions drawn from the data's.
  run.classes = sampleClasses(program);
  if (run.classes > 0)
    run.labels.value = sampleLabels(n, run.classes, opts.label).to(ctx.device);
  if (program.sample.cond_dim > 0 && !conds.defined())
    conds = drawnConditions(program, ctx, *data, n, opts.run.seed);
  if (conds.defined())
    run.conds.value = conds.to(ctx.device);
  flowrt_conditions given{run.classes > 0 ? &run.labels : nullptr,
                          conds.defined() ? &run.conds : nullptr};
  auto start = std::chrono::steady_clock::now();
  // x outlives the arena, which is cleared after every solver step.
  run.x.value = from.defined() ? from : program.sample_source(&ctx, n, &given)->value;
  run.source.value = run.x.value.clone();
  ctx.clearArena();
  IntegrateOptions integration;
  integration.solver = solver;
  integration.adaptive = !opts.fixedSteps;
  integration.steps = opts.steps;
  integration.t0 = opts.t0;
  integration.t1 = opts.t1;
  if (program.sample.time_grid && opts.fixedSteps)
    integration.times = gridTimes(program, ctx, opts.steps, opts.t0, opts.t1);
  integration.fused = !opts.perStep;
  integration.rtol = opts.rtol;
  integration.atol = opts.atol;
  integration.maxSteps = opts.maxSteps;
  integration.minStep = opts.minStep;
  integration.maxStep = opts.maxStep;
  run.stats = integrate(program, ctx, run.x, given, integration);
  if (gpu)
    gpu->synchronize();
  run.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (!opts.quiet)
    reportRun(program, opts, ctx, run, integration);

  auto [points, source] = decodedSamples(program, ctx, run, tokenizer.get());
  writeDataFiles(program, opts.outputs, points, opts.quiet);
  if (opts.samplesOut)
    *opts.samplesOut = points;

  nlohmann::ordered_json metrics = {{"samples", n},
                            {"solver", solver->name},
                            {"steps", run.stats.steps},
                            {"function_evals", run.stats.evaluations},
                            {"seconds", run.seconds},
                            {"label", run.classes > 0 ? opts.label : -1}};
  if (!integration.times.empty())
    metrics["times"] = integration.times;
  if (program.sample.cond_dim > 0)
    metrics["conditions"] = !opts.cond.empty()        ? opts.cond
                            : opts.conditions.defined() ? "given"
                            : program.sample.cond_computed
                                ? std::string("the tokens of data drawn")
                                : "drawn from the data";
  bool wantMetrics = !opts.quiet || !opts.metricsJson.empty();
  if (data && wantMetrics && !samplesInDataUnits(program)) {
    if (opts.evaluate)
      throw std::runtime_error("the flow's samples have " + std::to_string(points.size(1)) +
                               " features, not the data's " + std::to_string(program.data.dim) +
                               ", and the spec decodes them with no tokenizer: nothing to "
                               "evaluate them against");
  } else if (data && wantMetrics) {
    if (opts.evaluate)
      evaluateImageSamples(program, opts, ctx, *data, run, points, *solver, metrics);
    else
      compareWithData(opts, *data, run, points, source, metrics);
  }
  if (!opts.metricsJson.empty())
    writeMetricsJson(opts.metricsJson, metrics);
  return 0;
}

const flowrt_solver *flowrt::findSolver(const flowrt_program &program,
                                        const std::string &name) {
  for (int32_t i = 0; i < program.num_solvers; ++i)
    if (name == program.solvers[i].name)
      return &program.solvers[i];
  return nullptr;
}

Command flowrt::addSampleCommand(CLI::App &app, const flowrt_program &program, bool evaluate) {
  auto opts = std::make_shared<SampleOptions>(sampleDefaults(program, evaluate));
  SampleOptions &o = *opts;

  CLI::App *cmd =
      evaluate ? app.add_subcommand("eval", "image sets: FD-<set>-classifier and the "
                                            "classifier's accuracy on class-conditional "
                                            "samples (trains the classifier once, kept in "
                                            "the run directory); token data: the flow's "
                                            "losses on held-out data, in bits per token")
               : app.add_subcommand("sample", "draw samples with the trained network");
  auto *count = cmd->add_option("-n", o.n, "samples (with --from or --cond: their rows)")
                    ->type_name("N")
                    ->capture_default_str()
                    ->check(integerAtLeast(1));
  cmd->add_option("-o,--output", o.outputs,
                  "write the samples to FILE.npy, plot them to FILE.png or write them as text to FILE.txt; repeatable")
      ->type_name("FILE")
      ->allow_extra_args(false);
  cmd->add_option("--solver", o.solver, "a solver of the spec")->capture_default_str();
  auto *steps = cmd->add_option("--steps", o.steps, "fixed solver steps")
                    ->type_name("N")
                    ->capture_default_str()
                    ->check(integerAtLeast(1));
  cmd->add_option("--rtol", o.rtol, "adaptive solvers: relative tolerance")
      ->capture_default_str()
      ->check(positiveNumber());
  cmd->add_option("--atol", o.atol, "adaptive solvers: absolute tolerance")
      ->capture_default_str()
      ->check(positiveNumber());
  cmd->add_option("--max-steps", o.maxSteps, "adaptive solvers: most steps")
      ->capture_default_str()
      ->check(integerAtLeast(1));
  cmd->add_option("--min-step", o.minStep, "adaptive solvers: smallest step")
      ->capture_default_str()
      ->check(positiveNumber());
  cmd->add_option("--max-step", o.maxStep, "adaptive solvers: largest step")
      ->capture_default_str()
      ->check(positiveNumber());
  cmd->add_option("--from", o.from, "integrate from these points, not from source draws")
      ->type_name("FILE.npy");
  cmd->add_option("--edit", o.edit,
                  "edit these data points: noise them to --from-t along the flow's path, then "
                  "sample from there (SDEdit; with --label, towards that class)")
      ->type_name("FILE.npy");
  auto *fromT = cmd->add_option("--from-t", o.t0,
                                "integrate from this time (0: the source, 1: the data)")
                    ->type_name("T")
                    ->capture_default_str()
                    ->check(CLI::Range(0.0, 1.0));
  auto *toT = cmd->add_option("--to-t", o.t1,
                              "integrate to this time; below --from-t: backwards, data to "
                              "noise (an inversion)")
                  ->type_name("T")
                  ->capture_default_str()
                  ->check(CLI::Range(0.0, 1.0));
  auto *cond = cmd->add_option("--cond", o.cond,
                               "flows with conditions: one condition per sample (default: "
                               "drawn from the data's)")
                   ->type_name("FILE.npy");
  cmd->add_flag("--per-step", o.perStep,
                "fixed steps: a kernel and a network call per stage instead of one "
                "whole-trajectory kernel (MLP networks)");
  cmd->add_option_function<std::string>(
         "--weights", [&o](const std::string &w) { o.rawWeights = w == "raw"; },
         "the EMA weights (default, when the run keeps one) or the raw ones")
      ->type_name("ema|raw")
      ->check(oneOf({"ema", "raw"}));
  cmd->add_option("--metrics-json", o.metricsJson, "also write the quality figures as JSON")
      ->type_name("FILE");
  cmd->add_flag("--quiet", o.quiet, "print nothing; only write the files");
  auto *label = cmd->add_option("--label", "conditional flows: every sample of class K; "
                                           "'none' for the null class; 'balanced' cycles")
                    ->type_name("K|none|balanced");
  auto *guidance =
      cmd->add_option("--guidance", o.guidanceScale, "the guidance scale w, where the spec "
                                                     "guides")
          ->type_name("W")
          ->check(finiteNumber());
  auto *adaptive = cmd->add_option("--adaptive-guidance", o.adaptiveGuidance,
                                   "drop a sample's unconditional call once cos(v_c, v_u) >= C "
                                   "(0: off)")
                       ->type_name("C")
                       ->check(CLI::Range(0.0, 1.0));
  auto *momentum = cmd->add_option("--guidance-momentum", o.guidanceMomentum,
                                   "guide along d = (v_c - v_u) + B d_prev (APG's momentum; "
                                   "0: off)")
                       ->type_name("B")
                       ->check(finiteNumber());
  cmd->add_option("--denoise", o.denoise,
                  "normalizing flows: Tweedie's step x + s^2 grad log p(x) for training noise "
                  "of deviation S (0: none)")
      ->type_name("S")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--jacobi", o.jacobi,
                  "normalizing flows: invert by Jacobi iteration to this tolerance (0: token "
                  "by token)")
      ->type_name("TOL")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--jacobi-block", o.jacobiBlock,
                  "normalizing flows: Jacobi iteration over groups of K tokens in turn "
                  "(STARFlow's block Jacobi; 0: all tokens at once)")
      ->type_name("K")
      ->check(CLI::NonNegativeNumber);
  addRunSettings(*cmd, o.run, AllRunSettings, "seed of the source");

  auto run = [&program, opts, count, label, cond, steps, guidance, adaptive, momentum,
              fromT, toT]() -> int {
    SampleOptions &o = *opts;
    std::string flow = program.flow_name ? program.flow_name : "flow";
    if (*cond && program.sample.cond_dim == 0)
      throw UsageError("--cond", "flow '" + flow + "' samples without conditions");
    if (*count && *cond)
      throw UsageError("-n", "--cond gives one sample per condition; leave out -n");
    int64_t classes = sampleClasses(program);
    if (*label) {
      if (classes == 0)
        throw UsageError("--label", "the network of flow '" + flow +
                                        "' is not conditioned on labels");
      o.label = parseLabel("--label", label->as<std::string>(), classes, /*balanced=*/true);
    }
    if (normalizingFlowModel(program)) // no solver; guidance on (mu, alpha)
      return runSample(bindStages(program, o.run.outDir), o);
    if (*guidance && !program.sample.guidance)
      throw UsageError("--guidance", "the spec's sample block of flow '" + flow +
                                         "' has no guidance (e.g. guidance: cfg(w: 2))");
    if (*guidance && std::isnan(program.sample.guidance_scale))
      throw UsageError("--guidance", std::string("the guidance fn '") +
                                         program.sample.guidance +
                                         "' has no scale parameter 'w'");
    for (CLI::Option *opt : {adaptive, momentum})
      if (*opt && !program.sample.guidance)
        throw UsageError(opt->get_name(), "the spec's sample block of flow '" + flow +
                                              "' has no guidance");
    if (*momentum && !(o.guidanceMomentum > -1 && o.guidanceMomentum < 1))
      throw UsageError("--guidance-momentum", "takes a number in (-1, 1) (0: off)");
    resolveSolver(program, o, /*stepsGiven=*/steps->count() > 0);
    if (o.t0 == o.t1)
      throw UsageError(*toT ? "--to-t" : "--from-t",
                       "the time range is empty: --from-t and --to-t are both " +
                           std::to_string(o.t0));
    if (!o.edit.empty() && !o.from.empty())
      throw UsageError("--edit", "give the points to edit (--edit) or the points at --from-t "
                                 "(--from), not both");
    if (!o.edit.empty() && !(o.t0 > 0 && o.t0 < o.t1))
      throw UsageError("--edit", "give the time to noise the points to, --from-t T with 0 < "
                                 "T < --to-t");
    if (o.t0 != 0 && o.from.empty() && o.edit.empty())
      throw UsageError(fromT->get_name(), "integrating from t = " + std::to_string(o.t0) +
                                              " needs the points at that time: --from FILE.npy");
    return runSample(bindStages(program, o.run.outDir), o);
  };
  return {cmd, run};
}

SampleOptions flowrt::sampleDefaults(const flowrt_program &program, bool evaluate) {
  SampleOptions o;
  o.evaluate = evaluate;
  // eval: 100 samples of each class (1000 without labels); of token data,
  // 10000 held-out samples' losses.
  // A normalizing flow without a sample block: 1000, classes balanced.
  bool inverts = normalizingFlowModel(program) != nullptr, blockless = program.sample.n == 0;
  o.n = inverts && (evaluate || blockless) ? 1000
        : !evaluate                 ? program.sample.n
        : program.data.vocab > 0 ? 10000
                                 : 100 * std::max<int64_t>(sampleClasses(program), 10);
  o.steps = program.sample.steps;
  o.run.seed = program.sample.seed;
  o.run.outDir = defaultOutDir(program);
  o.label = inverts && blockless ? FLOWRT_LABELS_BALANCED : program.sample.label;
  if (program.sample.from_t != 0 || program.sample.to_t != 0) {
    o.t0 = program.sample.from_t;
    o.t1 = program.sample.to_t;
  }
  o.jacobi = program.sample.jacobi;
  o.jacobiBlock = program.sample.jacobi_block;
  o.denoise = program.sample.denoise;
  o.solver = program.sample.solver ? program.sample.solver : "";
  o.rtol = program.sample.rtol > 0 ? program.sample.rtol : 1e-5;
  o.atol = program.sample.atol > 0 ? program.sample.atol : 1e-5;
  o.guidanceScale = program.sample.guidance_scale;
  o.adaptiveGuidance = program.sample.adaptive_guidance;
  o.guidanceMomentum = program.sample.guidance_momentum;
  return o;
}

void flowrt::resolveSolver(const flowrt_program &program, SampleOptions &o, bool stepsGiven) {
  if (program.num_solvers == 0)
    throw std::runtime_error("this program has no sampler: add a `sample` block to the "
                             "spec, e.g. sample FLOW { solver: euler(steps: 32) }");
  const flowrt_solver *solver = findSolver(program, o.solver);
  if (!solver) {
    std::string names;
    for (int32_t i = 0; i < program.num_solvers; ++i)
      names += (i ? ", " : "") + std::string(program.solvers[i].name);
    throw UsageError("--solver", "unknown solver '" + o.solver + "'; this program has " +
                                     names);
  }
  // Adaptive tableaux control their step size unless steps were given: on
  // the command line, or in the sample block for its own solver.
  bool blockSolver = program.sample.solver && o.solver == program.sample.solver;
  o.fixedSteps = !solver->adaptive || stepsGiven || (program.sample.fixed_steps && blockSolver);
  if (o.n < 1 || o.steps < 1)
    throw UsageError("-n", "the program's sample defaults are invalid: give -n and --steps");
}

void flowrt::writeDataFiles(const flowrt_program &program,
                            const std::vector<std::string> &outputs,
                            const torch::Tensor &points, bool quiet) {
  // Points in the data's own shape: [n, C, H, W] for images.
  std::vector<int64_t> shape = {points.size(0)};
  bool dataUnits = points.size(1) == program.data.dim;
  for (int32_t i = 0; i < program.data.rank && dataUnits; ++i)
    shape.push_back(program.data.shape[i]);
  bool images = program.data.rank == 3 && dataUnits;
  for (const std::string &out : outputs) {
    if (extensionOf(out) == ".npy") {
      writeNpy(out, shape.size() > 1 ? points.view(shape) : points);
    } else if (extensionOf(out) == ".txt") {
      writeTextRows(out, points, dataUnits ? program.data.vocab : 0,
                    dataUnits ? program.data.alphabet : nullptr);
    } else if (images) {
      // A grid of the first 100 samples, 10 per row: with labels cycling
      // over the classes, each column is one class.
      int64_t h = shape[2], w = shape[3], width = 0, height = 0;
      torch::Tensor first = points.slice(0, 0, 100).view({-1, shape[1], h * w}).select(1, 0);
      std::vector<uint8_t> gray = renderImageGrid(first, h, w, 10, std::max<int64_t>(1, 32 / h),
                                                  width, height);
      writePng(out, gray, width, height);
    } else {
      constexpr int64_t Size = 512;
      writePng(out, renderScatter(points, Size), Size, Size);
    }
    if (!quiet)
      std::printf("wrote %s\n", out.c_str());
  }
}
