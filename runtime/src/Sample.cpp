//===- Sample.cpp - The sampling loop -------------------------------------===//
//
// Implements `sample`: loads the checkpoint (EMA weights when the program
// trains with an EMA), draws the source with the generated `sample_source`,
// integrates from t = 0 to 1 with the generated `solver_step` in `steps`
// equal steps, writes the requested files and prints the sliced Wasserstein-2
// distance to fresh data beside that of the source itself, the figure the
// samples should beat.
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
#include "Network.h"
#include "Tokenizer.h"
#include "Writers.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <memory>

using namespace flowrt;

namespace {

/// Points the MMD uses: its cost is quadratic in them.
constexpr int64_t MmdPoints = 2000;
/// Seed of the projections, the same for every run so figures compare.
constexpr uint64_t ProjectionSeed = 0;
/// Fresh data drawn per sample, so that one class of up to 8 still gives
/// about as many reference points as samples.
constexpr int64_t FreshFactor = 16;

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

} // namespace

int flowrt::runSample(const flowrt_program &program,
                      const SampleOptions &opts) {
  for (const std::string &out : opts.outputs) {
    std::string ext = extensionOf(out);
    if (ext != ".npy" && ext != ".png") {
      std::fprintf(stderr,
                   "error: cannot write '%s': -o takes .npy or .png files\n",
                   out.c_str());
      return 2;
    }
  }
  const flowrt_solver *solver = findSolver(program, opts.solver);
  if (!program.sample_source || !solver) {
    std::fprintf(stderr, "error: the program has no sampler\n");
    return 1;
  }
  // `--from FILE.npy`: the start points, checked against the flow's shape.
  torch::Tensor from;
  if (!opts.from.empty()) {
    from = readNpy(opts.from).to(torch::kFloat);
    if (from.dim() == 1)
      from = from.reshape({-1, 1});
    from = from.reshape({from.size(0), -1}).contiguous();
    if (from.size(0) < 1 || from.size(1) != program.data.dim)
      throw std::runtime_error("'" + opts.from + "' has " +
                               std::to_string(from.size(1)) +
                               " values per point but the flow's samples have " +
                               std::to_string(program.data.dim));
  }
  int64_t n = from.defined() ? from.size(0) : opts.n;
  // A closed-form model (no network) samples at once, with no checkpoint;
  // a spec without data has no quality figure.
  Network net = program.model.kind ? loadSamplingNetwork(program, opts.outDir, opts.rawWeights)
                                   : nullptr;
  std::unique_ptr<DataSet> data =
      program.data.generator ? makeDataSet(program.data) : nullptr;

  torch::NoGradGuard noGrad;
  flowrt_ctx ctx;
  ctx.program = &program;
  ctx.seed = opts.seed;
  ctx.batchSize = n;
  ctx.data = data.get();
  std::unique_ptr<Tokenizer> tokenizer = makeTokenizer(program.data);
  ctx.tokenizer = tokenizer.get();
  ctx.net = net ? net.get() : nullptr;
  ctx.autocast = opts.bf16 ? torch::kBFloat16 : torch::kFloat;
  ctx.guidanceScale = opts.guidanceScale;
  ctx.adaptiveGuidance = opts.adaptiveGuidance;
  ctx.guidanceMomentum = opts.guidanceMomentum;
  // --device cuda: every tensor on the GPU, the generated kernels from the
  // program's PTX.
  std::unique_ptr<CudaKernels> gpu;
  if (opts.device == "cuda") {
    gpu = attachGpu(ctx, program.ptx);
    if (net)
      net->to(ctx.device);
    if (from.defined())
      from = from.to(ctx.device);
  }

  // A conditional network gets one label per sample.
  int64_t classes = program.model.kind ? program.model.classes : 0;
  flowrt_tensor labels{};
  if (classes > 0)
    labels.value = sampleLabels(n, classes, opts.label).to(ctx.device);

  auto start = std::chrono::steady_clock::now();
  // x outlives the arena, which is cleared after every solver step.
  flowrt_tensor x{from.defined() ? from : program.sample_source(&ctx, n)->value};
  torch::Tensor source = x.value.clone();
  ctx.clearArena();
  IntegrateOptions integration;
  integration.solver = solver;
  integration.adaptive = !opts.fixedSteps;
  integration.steps = opts.steps;
  integration.fused = !opts.perStep;
  integration.rtol = opts.rtol;
  integration.atol = opts.atol;
  integration.maxSteps = opts.maxSteps;
  integration.minStep = opts.minStep;
  integration.maxStep = opts.maxStep;
  IntegrateStats stats =
      integrate(program, ctx, x, classes > 0 ? &labels : nullptr, integration);
  if (gpu)
    gpu->synchronize();
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  std::string how = std::to_string(stats.steps) + " steps";
  if (integration.adaptive) {
    char tol[96];
    std::snprintf(tol, sizeof(tol), " (adaptive per sample, rtol %g, atol %g)", opts.rtol,
                  opts.atol);
    how += tol;
  }

  if (!opts.quiet)
    std::printf("sampled %lld points with %s, %s, %lld function evaluations in "
                "%.4f s%s\n",
                static_cast<long long>(n), solver->name, how.c_str(),
                static_cast<long long>(stats.evaluations), seconds,
                stats.fused ? " (one whole-trajectory kernel)" : "");
  if (classes > 0 && !opts.quiet)
    std::printf("labels: %s%s\n", describeLabels(opts.label).c_str(),
                program.sample.guidance
                    ? (", guidance " + std::string(program.sample.guidance) +
                       (std::isnan(opts.guidanceScale)
                            ? std::string()
                            : " w = " + formatNumber(opts.guidanceScale)))
                          .c_str()
                    : "");
  if (ctx.guidanceMomentum != 0 && !opts.quiet)
    std::printf("guidance momentum %g\n", ctx.guidanceMomentum);
  if (ctx.adaptiveGuidance > 0 && !opts.quiet) {
    const auto &g = ctx.guidanceState;
    int64_t total = g.unconditionalRows + g.skippedRows;
    std::printf("adaptive guidance (cos >= %g): %.1f%% of the unconditional evaluations "
                "skipped (%lld of %lld)\n",
                ctx.adaptiveGuidance, total ? 100.0 * g.skippedRows / total : 0.0,
                static_cast<long long>(g.skippedRows), static_cast<long long>(total));
  }

  // Samples in the data's units: a tokenizer's tokens decoded.
  torch::Tensor points = x.value.cpu();
  source = source.cpu();
  if (tokenizer) {
    points = tokenizer->decode(points);
    source = tokenizer->decode(source);
  }
  labels.value = labels.value.defined() ? labels.value.cpu() : labels.value;
  int64_t nonFinite = (~torch::isfinite(points)).any(1).sum().item<int64_t>();
  if (nonFinite > 0)
    std::fprintf(stderr, "warning: %lld samples are not finite\n",
                 static_cast<long long>(nonFinite));
  // Samples in the data's own shape: [n, C, H, W] for images.
  std::vector<int64_t> shape = {points.size(0)};
  for (int32_t i = 0; i < program.data.rank; ++i)
    shape.push_back(program.data.shape[i]);
  bool images = program.data.rank == 3;
  for (const std::string &out : opts.outputs) {
    if (extensionOf(out) == ".npy") {
      writeNpy(out, shape.size() > 1 ? points.view(shape) : points);
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
    if (!opts.quiet)
      std::printf("wrote %s\n", out.c_str());
  }

  if (!data || opts.quiet)
    return 0;
  if (opts.evaluate) {
    ImageMetrics m = evaluateImages(program.data, *data, points,
                                    classes > 0 ? labels.value : torch::full({n}, -1.0),
                                    opts.outDir);
    std::printf("%s = %.4f\n", m.fdName.c_str(), m.fd);
    if (!std::isnan(m.accuracy))
      std::printf("classifier accuracy on class-conditional samples = %.4f "
                  "(on held-out real images: %.4f)\n",
                  m.accuracy, m.classifierAccuracy);
    // Bits per dimension of real images, where the source has a density;
    // a conditional network's is log p(x | y) for each image's own label.
    if (program.source.kind && ctx.device.is_cpu()) {
      ClassifierData images = classifierData(program.data, *data);
      constexpr int64_t BpdImages = 256;
      torch::Tensor x = images.heldOut.x.slice(0, 0, BpdImages);
      bool hutchinson = x.size(1) > 256; // exact: one JVP per pixel
      double bpd = imageBitsPerDim(
          program, ctx, x,
          classes > 0 ? images.heldOut.labels.slice(0, 0, BpdImages) : torch::Tensor(),
          images.binWidth, *solver, opts.steps, hutchinson, opts.seed);
      std::printf("bits/dim = %.4f (%lld %s images, dequantized; %s divergence, %s, %lld "
                  "steps)\n",
                  bpd, static_cast<long long>(x.size(0)),
                  images.name == "digits" ? "digits" : "Fashion-MNIST test",
                  hutchinson ? "Hutchinson" : "exact", solver->name,
                  static_cast<long long>(opts.steps));
    }
    return 0;
  }
  // The reference: fresh data, only of the requested class when all samples
  // have one label.
  Batch freshBatch =
      data->draw(FreshFactor * n, mixSeed(opts.seed, FreshDataStream));
  torch::Tensor fresh = freshBatch.x;
  if (classes > 0 && opts.label >= 0)
    fresh = fresh.index({freshBatch.labels == static_cast<float>(opts.label)});
  int64_t compared = std::min(n, fresh.size(0));
  fresh = fresh.slice(0, 0, compared);
  double sw2 = slicedWasserstein2(points.slice(0, 0, compared), fresh, 128,
                                  ProjectionSeed);
  double sw2Source = slicedWasserstein2(source.slice(0, 0, compared), fresh,
                                        128, ProjectionSeed);
  int64_t m = std::min(compared, MmdPoints);
  double mmd2 =
      m >= 2 ? rbfMmd2(points.slice(0, 0, m), fresh.slice(0, 0, m)) : 0.0;
  std::printf("quality: sliced-W2 to fresh data%s = %.4f (%s: %.4f)\n",
              classes > 0 && opts.label >= 0
                  ? (" of class " + std::to_string(opts.label)).c_str()
                  : "",
              sw2, from.defined() ? "start points" : "gaussian source", sw2Source);
  // Conditional samples: how often the nearest fresh data point has the
  // label the sample was drawn for.
  double accuracy = std::nan("");
  if (classes > 0 && opts.label != -1) {
    int64_t k = std::min(n, MmdPoints);
    accuracy = nearestNeighbourAccuracy(points.slice(0, 0, k),
                                        labels.value.reshape({-1}).slice(0, 0, k),
                                        freshBatch.x.slice(0, 0, 4 * MmdPoints),
                                        freshBatch.labels.slice(0, 0, 4 * MmdPoints));
    std::printf("conditional accuracy (1-nearest fresh data point has the "
                "sample's label) = %.4f\n",
                accuracy);
  }
  if (!opts.metricsJson.empty()) {
    std::ofstream json(opts.metricsJson);
    char text[512];
    std::snprintf(text, sizeof(text),
                  "{\"samples\": %lld, \"solver\": \"%s\", \"steps\": %lld, "
                  "\"function_evals\": %lld, \"seconds\": %.6g, "
                  "\"sliced_w2\": %.8g, \"sliced_w2_source\": %.8g, "
                  "\"rbf_mmd2\": %.8g, \"mmd_points\": %lld, "
                  "\"label\": %lld, \"conditional_accuracy\": %s}\n",
                  static_cast<long long>(n), solver->name,
                  static_cast<long long>(stats.steps),
                  static_cast<long long>(stats.evaluations), seconds, sw2, sw2Source,
                  mmd2, static_cast<long long>(m),
                  static_cast<long long>(classes > 0 ? opts.label : -1),
                  std::isnan(accuracy) ? "null"
                                       : formatNumber(accuracy).c_str());
    json << text;
    if (!json)
      throw std::runtime_error("cannot write " + opts.metricsJson);
  }
  return 0;
}

const flowrt_solver *flowrt::findSolver(const flowrt_program &program,
                                        const std::string &name) {
  for (int32_t i = 0; i < program.num_solvers; ++i)
    if (name == program.solvers[i].name)
      return &program.solvers[i];
  return nullptr;
}
