//===- NormalizingFlow.cpp - sample and eval of a normalizing flow --------===//
//
// Implements runNormalizingFlow (Commands.h). A spec whose flow trains a
// `tarflow` by its exact likelihood has no solver and no source: sampling
// draws z ~ N(0, I) and inverts the flow (token by token with cached keys
// and values, or by Jacobi iteration with --jacobi TOL, over groups of
// --jacobi-block K tokens in turn if asked), with the labels
// asked and guidance --guidance W on (mu, alpha), then optionally takes
// Tweedie's denoising step for the noise the flow was trained on
// (--denoise SIGMA). `eval` on images reports the exact bits per dimension
// of the held-out images, uniformly dequantized over their pixel levels,
// and, for a class-conditional flow, the flow as a Bayes classifier:
// argmax over classes of log p(x | y).
//
// A flow over an encoder tokenizer's latents (STARFlow's latent flow) samples
// latents and decodes them with the tokenizer; its `eval` reports the exact
// log-likelihood of the held-out images' latents in nats per latent
// dimension (a density of the encoder's continuous outputs, not of pixels),
// the Bayes classifier on those latents, and the decoded samples' figures.
//
//===----------------------------------------------------------------------===//

#include "Checkpoint.h"
#include "CommandLine.h"
#include "Commands.h"
#include "Context.h"
#include "Cuda.h"
#include "Data.h"
#include "Eval.h"
#include "TarFlow.h"
#include "Tokenizer.h"
#include "Writers.h"

#include <ATen/CPUGeneratorImpl.h>

#include <chrono>
#include <cmath>
#include <cstdio>

using namespace flowrt;

namespace {

/// Dequantization's noise, a stream of its own.
constexpr uint64_t DequantizeStream = 0x44455155; // "DEQU"

/// Labels [n] for `label` (a class, -1, or balanced over the classes).
torch::Tensor labelsFor(int64_t n, int64_t classes, int64_t label) {
  if (classes == 0)
    return {};
  if (label == FLOWRT_LABELS_BALANCED)
    return torch::remainder(torch::arange(n, torch::kFloat), static_cast<double>(classes));
  return torch::full({n}, static_cast<float>(label));
}

/// log p(x | y) [n] of held-out images, each class in turn: [n, classes].
torch::Tensor logProbPerClass(TarFlowImpl &flow, const torch::Tensor &x, int64_t classes) {
  std::vector<torch::Tensor> columns;
  for (int64_t y = 0; y < classes; ++y)
    columns.push_back(flow.logProb(x, torch::full({x.size(0)}, static_cast<float>(y),
                                                   x.options())));
  return torch::stack(columns, 1);
}

/// Exact bits per dimension of the data set's held-out images (or, for a
/// latent flow, nats per dimension of their latents) and, for a
/// class-conditional flow, its accuracy as a Bayes classifier.
void evaluate(const flowrt_program &program, TarFlowImpl &flow, flowrt_ctx &ctx, uint64_t seed,
              nlohmann::ordered_json &metrics) {
  std::unique_ptr<DataSet> data = makeDataSet(program.data);
  ClassifierData images = classifierData(program.data, *data);
  torch::Tensor x = images.heldOut.x.to(torch::kFloat);
  bool latent = samplesTokens(program);
  if (latent) {
    x = applyTokenizer(program.tokenizer.encode, ctx, x);
  } else {
    // Uniform dequantization over each pixel's bin (centred on its level).
    auto gen = at::make_generator<at::CPUGeneratorImpl>(mixSeed(seed, DequantizeStream));
    x = x + images.binWidth * (torch::rand(x.sizes(), gen, torch::kFloat) - 0.5);
  }
  x = x.to(ctx.device);
  int64_t n = x.size(0), d = x.size(1);
  int64_t classes = flow.options().classes;
  torch::Tensor logp, predicted;
  if (classes > 0) {
    torch::Tensor perClass = logProbPerClass(flow, x, classes).cpu().to(torch::kDouble);
    // The marginal of a class-conditional flow, classes equally likely.
    logp = torch::logsumexp(perClass, 1) - std::log(static_cast<double>(classes));
    predicted = perClass.argmax(1);
  } else {
    logp = flow.logProb(x).cpu().to(torch::kDouble);
  }
  if (latent) {
    double nats = (-logp / d).mean().item<double>();
    std::printf("nats/dim of %lld held-out %s images' latents (%s, exact): %.4f\n",
                static_cast<long long>(n), images.name.c_str(), program.tokenizer.name, nats);
    metrics["latent_nats_per_dim"] = nats;
  } else {
    double bits =
        (-(logp + d * std::log(images.binWidth)) / (d * std::log(2.0))).mean().item<double>();
    std::printf("bits/dim of %lld held-out %s images (exact, dequantized): %.4f\n",
                static_cast<long long>(n), images.name.c_str(), bits);
    metrics["bits_per_dim"] = bits;
  }
  if (classes > 0) {
    torch::Tensor truth = images.heldOut.labels.to(torch::kLong).reshape({-1});
    double accuracy = (predicted == truth).to(torch::kDouble).mean().item<double>();
    std::printf("as a Bayes classifier (argmax over y of log p(%s | y)): %.4f of the held-out "
                "images labelled correctly\n",
                latent ? "z" : "x", accuracy);
    metrics["bayes_accuracy"] = accuracy;
  }
}

/// n samples: z ~ N(0, I) inverted with the labels asked (and denoised),
/// on ctx's device; a latent flow's still latents.
torch::Tensor drawSamples(TarFlowImpl &flow, const flowrt_model_desc &desc,
                          const SampleOptions &opts, const torch::Device &device,
                          torch::Tensor &labels) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(opts.run.seed);
  torch::Tensor z = torch::randn({opts.n, desc.in_dim}, gen, torch::kFloat).to(device);
  labels = labelsFor(opts.n, desc.classes, opts.label);
  torch::Tensor y = labels.defined() ? labels.to(device) : labels;
  torch::Tensor x = flow.inverse(z, y, opts.guidanceScale, opts.jacobi, opts.jacobiBlock);
  return opts.denoise > 0 ? flow.denoise(x, opts.denoise, y) : x;
}

} // namespace

int flowrt::runNormalizingFlow(const flowrt_program &program, const SampleOptions &opts) {
  const flowrt_model_desc *desc = normalizingFlowModel(program);
  NetworkSet nets = loadSamplingNetworks(program, opts.run.outDir, opts.rawWeights);
  torch::NoGradGuard noGrad;
  flowrt_ctx ctx;
  std::unique_ptr<CudaKernels> gpu = setUpContext(ctx, program, opts.run);
  nets->to(ctx.device);
  ctx.nets = nets->pointers(); // a latent flow's tokenizer runs its networks
  // Samples in the data's units: a latent flow's decoded by its tokenizer.
  auto decoded = [&](const torch::Tensor &x) {
    return samplesTokens(program) ? applyTokenizer(program.tokenizer.decode, ctx, x) : x.cpu();
  };
  TarFlowImpl *flow = nullptr;
  for (int32_t i = 0; i < program.num_models; ++i)
    if (&program.models[i] == desc)
      flow = asTarFlow(*nets->pointers()[i]);
  if (!flow)
    throw std::logic_error("the program's tarflow is not a TarFlow network");
  flow->eval();

  nlohmann::ordered_json metrics;
  torch::Tensor labels;
  if (opts.evaluate) {
    evaluate(program, *flow, ctx, opts.run.seed, metrics);
    // Samples judged by the data set's classifier, as `eval` of any flow.
    torch::Tensor x = decoded(drawSamples(*flow, *desc, opts, ctx.device, labels));
    std::unique_ptr<DataSet> data = makeDataSet(program.data);
    ImageMetrics m = evaluateImages(program.data, *data, x,
                                    labels.defined() ? labels : torch::full({opts.n}, -1.0),
                                    opts.run.outDir);
    metrics["fd_name"] = m.fdName;
    metrics["fd"] = m.fd;
    metrics["classifier_accuracy_on_samples"] = m.accuracy;
    std::printf("%s = %.4f\n", m.fdName.c_str(), m.fd);
    if (!std::isnan(m.accuracy))
      std::printf("classifier accuracy on class-conditional samples = %.4f (on held-out real "
                  "images: %.4f)\n",
                  m.accuracy, m.classifierAccuracy);
  } else {
    int64_t n = opts.n;
    auto start = std::chrono::steady_clock::now();
    torch::Tensor x = decoded(drawSamples(*flow, *desc, opts, ctx.device, labels));
    double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (!opts.quiet) {
      std::printf("sampled %lld points by inverting tarflow '%s' (%s) in %.4f s\n",
                  static_cast<long long>(n), desc->name,
                  opts.jacobi > 0
                      ? ((opts.jacobiBlock > 0
                              ? "block Jacobi iteration over " + std::to_string(opts.jacobiBlock) +
                                    " tokens at a time, "
                              : std::string("Jacobi iteration, ")) +
                         std::to_string(flow->lastJacobiIterations()) + " iterations")
                            .c_str()
                      : "token by token, keys and values cached",
                  seconds);
      if (opts.denoise > 0)
        std::printf("denoised: x + sigma^2 grad log p(x), sigma %g\n", opts.denoise);
      if (samplesTokens(program))
        std::printf("decoded by tokenizer '%s'\n", program.tokenizer.name);
    }
    writeDataFiles(program, opts.outputs, x, opts.quiet);
    metrics = {{"samples", n}, {"seconds", seconds}};
  }
  if (!opts.metricsJson.empty())
    writeMetricsJson(opts.metricsJson, metrics);
  return 0;
}
