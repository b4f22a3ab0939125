//===- HeldOut.cpp - eval on token data: the flow's losses on held-out data ===//
//
// Implements runHeldOutLosses (Commands.h). A flow over tokens has no
// classifier metrics; what judges it is its loss on data it did not train
// on. The generalised KL loss of discrete flow matching (std.discrete's
// dfm_generalized_kl with t uniform) is an ELBO: its mean bounds the
// negative log-likelihood of a sample in nats, so divided by the tokens and
// ln 2 it is bits per token. This runs the training step's loss, without
// gradients, on the data set's held-out split (text.words(test: 1); a
// toy generator's fresh draws), with the weights sampling uses (the EMA's),
// and prints each loss in nats per sample and bits per token.
//
//===----------------------------------------------------------------------===//

#include "Checkpoint.h"
#include "CommandLine.h"
#include "Commands.h"
#include "Context.h"
#include "Cuda.h"
#include "Data.h"
#include "Files.h"
#include "Tokenizer.h"
#include "Writers.h"

#include <cmath>
#include <cstdio>
#include <vector>

using namespace flowrt;

namespace {

/// The samples of one loss evaluation.
constexpr int64_t BatchRows = 1000;
/// Draws of held-out batches from a stream of their own (not training's).
constexpr uint64_t HeldOutStream = 0x48454c44; // "HELD"

/// The data set's held-out part: its test split where it has one, else (a
/// toy generator, an infinite set) the generator itself, drawn afresh.
std::unique_ptr<DataSet> heldOutData(const flowrt_data_desc &desc) {
  std::string generator = desc.generator ? desc.generator : "";
  if (generator == "file")
    throw std::runtime_error("eval on token data needs a held-out split, and data from a file "
                             "has none (text.words and toy generators do)");
  std::map<std::string, double> params;
  bool split = false;
  for (int32_t i = 0; i < desc.num_params; ++i) {
    std::string name = desc.param_names[i];
    params[name] = desc.param_values[i];
    split |= name == "test";
  }
  if (split) {
    params["test"] = 1;
    params["train"] = 0;
  }
  return makeDataSet(generator, params);
}

std::string describeHeldOut(const flowrt_data_desc &desc) {
  std::string generator = desc.generator ? desc.generator : "";
  for (int32_t i = 0; i < desc.num_params; ++i)
    if (std::string(desc.param_names[i]) == "test")
      return generator + "(test: 1)";
  return "fresh draws of " + generator;
}

} // namespace

int flowrt::runHeldOutLosses(const flowrt_program &program, const SampleOptions &opts) {
  if (!program.train_loss || program.num_models == 0)
    throw std::runtime_error("eval on token data evaluates the flow's losses, and this program "
                             "trains no network");
  NetworkSet nets = loadSamplingNetworks(program, opts.run.outDir, opts.rawWeights);
  std::unique_ptr<DataSet> data = heldOutData(program.data);

  torch::NoGradGuard noGrad;
  flowrt_ctx ctx;
  std::unique_ptr<CudaKernels> gpu = setUpContext(ctx, program, opts.run);
  ctx.seed = mixSeed(opts.run.seed, HeldOutStream);
  ctx.data = data.get();
  std::unique_ptr<Tokenizer> tokenizer = makeTokenizer(program.data);
  ctx.tokenizer = tokenizer.get();
  nets->to(ctx.device);
  ctx.nets = nets->pointers();
  ctx.net = nets->velocity();

  // Each batch draws its data, times and noise from its own step counter.
  const int64_t batches = (opts.n + BatchRows - 1) / BatchRows;
  // Each batch's mean of each loss, [batches, losses], and its rows.
  std::vector<torch::Tensor> batchMeans;
  std::vector<double> rows;
  for (int64_t k = 0; k < batches; ++k) {
    ctx.lossTermSums =
        torch::zeros({program.num_losses}, torch::dtype(torch::kDouble).device(ctx.device));
    ctx.step = k;
    ctx.dataCalls = 0;
    ctx.batchSize = std::min(BatchRows, opts.n - k * BatchRows);
    program.train_loss(&ctx, k);
    batchMeans.push_back(ctx.lossTermSums.cpu());
    rows.push_back(static_cast<double>(ctx.batchSize));
    ctx.clearArena();
  }
  torch::Tensor all = torch::stack(batchMeans);
  // The mean over samples: a short last batch weighs its rows.
  torch::Tensor weights = torch::tensor(rows, torch::kDouble).unsqueeze(1);
  torch::Tensor means = (all * weights).sum(0) / static_cast<double>(opts.n);
  // The standard error of the mean over batches (0 with one batch).
  torch::Tensor errors = batches > 1 ? all.std(0) / std::sqrt(static_cast<double>(batches))
                                     : torch::zeros_like(means);
  const double tokens = static_cast<double>(program.data.dim), ln2 = std::log(2.0);
  nlohmann::ordered_json losses, bits, bitErrors;
  if (!opts.quiet)
    std::printf("held-out data: %s, %lld samples in %lld batches\n",
                describeHeldOut(program.data).c_str(), static_cast<long long>(opts.n),
                static_cast<long long>(batches));
  for (int32_t i = 0; i < program.num_losses; ++i) {
    double nats = means[i].item<double>(), error = errors[i].item<double>();
    const char *name = program.loss_names[i];
    losses[name] = nats;
    bits[name] = nats / (tokens * ln2);
    bitErrors[name] = error / (tokens * ln2);
    if (!opts.quiet)
      std::printf("held-out %s: %.4f nats per sample, %.4f +- %.4f bits per token (%g "
                  "tokens)\n",
                  name, nats, nats / (tokens * ln2), error / (tokens * ln2), tokens);
  }
  if (!opts.metricsJson.empty()) {
    nlohmann::ordered_json metrics = {{"held_out", describeHeldOut(program.data)},
                                      {"samples", opts.n},
                                      {"losses", losses},
                                      {"bits_per_token", bits},
                                      {"bits_per_token_error", bitErrors}};
    writeMetricsJson(opts.metricsJson, metrics);
  }
  return 0;
}
