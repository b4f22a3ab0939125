//===- Tokens.cpp - encode, decode and reconstruct ------------------------===//
//
// The commands of a program whose spec has an encoder tokenizer
// (flowrt_program's `tokenizer`): `encode` writes the tokens of data points
// (a file, or the image set's held-out split), `decode` maps tokens back to
// the data's units, and `reconstruct` does both, optionally keeping only
// the first k tokens (the rest set to 0, as std.quantizers' nested_dropout
// drops them in training), and reports the reconstruction error against
// the mean image's, the baseline every autoencoder must beat. All three
// use the run's networks as `sample` does (EMA weights when the run keeps
// them; an earlier stage's networks frozen from its checkpoint).
//
//===----------------------------------------------------------------------===//

#include "Checkpoint.h"
#include "Commands.h"
#include "Context.h"
#include "Cuda.h"
#include "Data.h"
#include "Eval.h"
#include "Files.h"
#include "Stages.h"
#include "Tokenizer.h"
#include "Writers.h"

#include <cstdio>
#include <fstream>

#include <nlohmann/json.hpp>

using namespace flowrt;

namespace {

/// What `encode`, `decode` and `reconstruct` take.
struct TokenOptions {
  RunSettings run;
  std::string input;                ///< -i FILE.npy
  bool heldOut = false;             ///< --held-out: the image set's held-out split
  std::vector<std::string> outputs; ///< -o files
  int64_t tokens = 0;               ///< reconstruct --tokens K (0: all)
  bool rawWeights = false;
  std::string metricsJson;
};

/// The program's networks and a context to run its tokenizer in.
struct TokenRun {
  const flowrt_program &program;
  const TokenOptions &opts;
  NetworkSet nets{nullptr};
  flowrt_ctx ctx;
  std::unique_ptr<CudaKernels> gpu;

  TokenRun(const flowrt_program &program, const TokenOptions &opts)
      : program(program), opts(opts) {
    if (!program.tokenizer.name)
      throw std::runtime_error(std::string("the spec of flow '") + program.flow_name +
                               "' declares no encoder tokenizer (tokenizer T = encoder(...))");
    if (program.tokenizer.decoder && !isFlowDecoder(program))
      throw std::runtime_error(std::string("tokenizer '") + program.tokenizer.name +
                               "' decodes by sampling flow '" + program.tokenizer.decoder +
                               "', but this program samples flow '" + program.flow_name + "'");
    nets = loadSamplingNetworks(program, opts.run.outDir, opts.rawWeights);
    gpu = setUpContext(ctx, program, opts.run);
    nets->to(ctx.device);
    ctx.nets = nets->pointers();
  }

  torch::Tensor encode(const torch::Tensor &x) {
    return applyTokenizer(program.tokenizer.encode, ctx, x);
  }

  /// Tokens [n, K * D] back to data rows: the compiled decoding, or a flow
  /// decoder's samples given them (one per row, with the sample block's
  /// solver and the run's seed).
  torch::Tensor decode(const torch::Tensor &z) {
    if (program.tokenizer.decode)
      return applyTokenizer(program.tokenizer.decode, ctx, z);
    SampleOptions sampling = sampleDefaults(program, /*evaluate=*/false);
    sampling.run = opts.run;
    sampling.rawWeights = opts.rawWeights;
    sampling.quiet = true;
    sampling.conditions = z;
    torch::Tensor x;
    sampling.samplesOut = &x;
    if (runSample(program, sampling) != 0 || !x.defined())
      throw std::runtime_error("flow '" + std::string(program.flow_name) +
                               "' could not decode the tokens");
    return x;
  }
};

int64_t tokenFeatures(const flowrt_program &program) {
  int64_t n = 1;
  for (int32_t i = 0; i < program.tokenizer.rank; ++i)
    n *= program.tokenizer.shape[i];
  return n;
}

/// Data rows [n, data.dim] from -i, or the held-out split with its labels.
Batch inputData(const flowrt_program &program, const TokenOptions &opts) {
  if (opts.heldOut == !opts.input.empty())
    throw UsageError("-i", "give the points to encode: -i FILE.npy or --held-out");
  if (!opts.heldOut)
    return {readPointRows(opts.input, program.data.dim, "the data's samples"), {}, {}};
  std::unique_ptr<DataSet> data = makeDataSet(program.data);
  return classifierData(program.data, *data).heldOut;
}

/// Tokens [n, ...shape] as a file writes them.
torch::Tensor tokenArray(const flowrt_program &program, const torch::Tensor &z) {
  std::vector<int64_t> shape{z.size(0)};
  shape.insert(shape.end(), program.tokenizer.shape,
               program.tokenizer.shape + program.tokenizer.rank);
  return z.reshape(shape);
}

int runEncode(const flowrt_program &program, const TokenOptions &opts) {
  torch::Tensor x = inputData(program, opts).x;
  TokenRun run(program, opts);
  torch::Tensor z = run.encode(x);
  for (const std::string &out : opts.outputs)
    writeNpy(out, tokenArray(program, z));
  std::printf("encoded %lld points into tokens of shape [%s] with %s\n",
              static_cast<long long>(z.size(0)),
              c10::Join(", ", std::vector<int64_t>(program.tokenizer.shape,
                                                   program.tokenizer.shape +
                                                       program.tokenizer.rank))
                  .c_str(),
              program.tokenizer.name);
  return 0;
}

int runDecode(const flowrt_program &program, const TokenOptions &opts) {
  if (opts.input.empty())
    throw UsageError("-i", "give the tokens to decode: -i FILE.npy");
  torch::Tensor z = readPointRows(opts.input, tokenFeatures(program), "the tokenizer's tokens");
  TokenRun run(program, opts);
  torch::Tensor x = run.decode(z);
  writeDataFiles(program, opts.outputs, x, /*quiet=*/false);
  return 0;
}

/// Keeps the first k of the tokens [n, K * D] (token i's D values are
/// columns i D .. i D + D - 1) and sets the others to 0.
torch::Tensor keepTokens(const flowrt_program &program, torch::Tensor z, int64_t k) {
  int64_t count = program.tokenizer.rank > 0 ? program.tokenizer.shape[0] : 1;
  if (k <= 0 || k >= count)
    return z;
  int64_t per = tokenFeatures(program) / count;
  z = z.clone();
  z.slice(1, k * per).zero_();
  return z;
}

int runReconstruct(const flowrt_program &program, const TokenOptions &opts) {
  int64_t count = program.tokenizer.rank > 0 ? program.tokenizer.shape[0] : 1;
  if (opts.tokens > count)
    throw UsageError("--tokens", "the tokenizer gives " + std::to_string(count) +
                                     " tokens per sample, not " + std::to_string(opts.tokens));
  Batch input = inputData(program, opts);
  const torch::Tensor &x = input.x;
  TokenRun run(program, opts);
  torch::Tensor z = keepTokens(program, run.encode(x), opts.tokens);
  torch::Tensor r = run.decode(z);
  writeDataFiles(program, opts.outputs, r, /*quiet=*/false);
  // The baseline: the data's mean point for every input.
  std::unique_ptr<DataSet> data = makeDataSet(program.data);
  std::optional<Batch> all = data->all();
  torch::Tensor mean = all ? all->x.mean(0, /*keepdim=*/true)
                           : data->sample(10000, FreshDataStream).mean(0, true);
  double mse = (r - x).pow(2).mean().item<double>();
  double baseline = (mean - x).pow(2).mean().item<double>();
  int64_t kept = opts.tokens > 0 ? opts.tokens : count;
  std::printf("reconstruction mse = %.6f (%lld of %lld tokens; the data's mean: %.6f)\n", mse,
              static_cast<long long>(kept), static_cast<long long>(count), baseline);
  nlohmann::ordered_json m = {{"points", x.size(0)},
                              {"tokens", kept},
                              {"reconstruction_mse", mse},
                              {"mean_mse", baseline}};
  // Held-out images: does the eval classifier still see each input's class?
  if (opts.heldOut) {
    ImageMetrics judged =
        evaluateImages(program.data, *data, r, input.labels, opts.run.outDir);
    std::printf("reconstructions labelled as their input's class: %.4f; %s = %.4f\n",
                judged.accuracy, judged.fdName.c_str(), judged.fd);
    m["accuracy"] = judged.accuracy;
    m[judged.fdName] = judged.fd;
  }
  if (!opts.metricsJson.empty())
    std::ofstream(opts.metricsJson) << m.dump() << "\n";
  return 0;
}

/// Declares one of the three commands with the options it takes.
Command addTokenCommand(CLI::App &app, const flowrt_program &program, const std::string &name,
                        int (*run)(const flowrt_program &, const TokenOptions &)) {
  auto opts = std::make_shared<TokenOptions>();
  TokenOptions &o = *opts;
  o.run.outDir = defaultOutDir(program);
  bool decode = name == "decode", reconstruct = name == "reconstruct";
  const char *help = decode ? "tokens of the spec's tokenizer back to the data's units"
                     : reconstruct
                         ? "encode data and decode it again (optionally from its first k "
                           "tokens); the error against the data's mean"
                         : "the tokens of data points under the spec's tokenizer";
  CLI::App *cmd = app.add_subcommand(name, help);
  cmd->add_option("-i,--input", o.input,
                  decode ? "the tokens, [n, ...] of the tokenizer's shape" : "the data points")
      ->type_name("FILE.npy");
  if (!decode)
    cmd->add_flag("--held-out", o.heldOut,
                  "the image set's held-out images (those `eval`'s classifier is tested on)");
  cmd->add_option("-o,--output", o.outputs,
                  decode || reconstruct
                      ? "write the points to FILE.npy, draw them to FILE.png or as text to FILE.txt"
                      : "write the tokens to FILE.npy")
      ->type_name("FILE")
      ->allow_extra_args(false)
      ->required(!reconstruct);
  if (reconstruct) {
    cmd->add_option("--tokens", o.tokens, "keep the first K tokens, the others 0 (default: all)")
        ->type_name("K")
        ->check(integerAtLeast(1));
    cmd->add_option("--metrics-json", o.metricsJson, "also write the errors as JSON")
        ->type_name("FILE");
  }
  cmd->add_option_function<std::string>(
         "--weights", [&o](const std::string &w) { o.rawWeights = w == "raw"; },
         "the EMA weights (default, when the run keeps one) or the raw ones")
      ->type_name("ema|raw")
      ->check(oneOf({"ema", "raw"}));
  addRunSettings(*cmd, o.run, DeviceOption);
  return {cmd, [&program, opts, run] {
            return run(bindStages(program, opts->run.outDir), *opts);
          }};
}

} // namespace

std::vector<Command> flowrt::addTokenCommands(CLI::App &app, const flowrt_program &program) {
  return {addTokenCommand(app, program, "encode", runEncode),
          addTokenCommand(app, program, "decode", runDecode),
          addTokenCommand(app, program, "reconstruct", runReconstruct)};
}
