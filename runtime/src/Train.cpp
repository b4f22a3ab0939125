//===- Train.cpp - The training loop --------------------------------------===//
//
// Implements `train`: builds the network from the program and puts its
// weights, gradients and EMA in flat buffers, then for each step calls the
// generated `train_loss`, backpropagates, and calls the generated optimizer
// and EMA kernels, each one launch over all parameters. Along the way it draws the
// progress bar, appends one JSON line per logged step to metrics.jsonl and
// writes checkpoints atomically (keeping the last K numbered ones, and for
// images a sample grid of the raw and the EMA weights beside each). A run
// is a function of (program, seed,
// batch, lr) only: a resumed run ends with the very weights an uninterrupted
// run would have, because batches, kernel noise, the optimizer state and the
// EMA all continue from what the checkpoint stored. A non-finite loss or
// gradient stops the run before the optimizer applies it, naming the
// tensor, so the last checkpoint stays good.
//
//===----------------------------------------------------------------------===//

#include "Checkpoint.h"
#include "Cuda.h"
#include "CudaGraph.h"
#include "Commands.h"
#include "Context.h"
#include "Data.h"
#include "Files.h"
#include "Network.h"
#include "Progress.h"
#include "Tokenizer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>

using namespace flowrt;

namespace {

/// One line of metrics.jsonl.
std::string metricsLine(int64_t step, double loss, double lr, double rate,
                        double elapsed) {
  char line[256];
  std::snprintf(line, sizeof(line),
                "{\"step\": %lld, \"loss\": %.8g, \"lr\": %.8g, "
                "\"steps_per_sec\": %.6g, \"elapsed\": %.4f}\n",
                static_cast<long long>(step), loss, lr, rate, elapsed);
  return line;
}

/// The numbered checkpoints checkpoint-STEP.pt in `dir`, oldest first.
std::vector<std::pair<int64_t, std::string>> numberedCheckpoints(const std::string &dir) {
  std::vector<std::pair<int64_t, std::string>> found;
  std::error_code ec;
  for (const auto &entry : std::filesystem::directory_iterator(dir, ec)) {
    std::string name = entry.path().filename().string();
    const std::string prefix = "checkpoint-", suffix = ".pt";
    if (name.size() <= prefix.size() + suffix.size() || name.rfind(prefix, 0) != 0 ||
        name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0)
      continue;
    std::string digits = name.substr(prefix.size(), name.size() - prefix.size() - suffix.size());
    if (digits.find_first_not_of("0123456789") == std::string::npos)
      found.emplace_back(std::stoll(digits), entry.path().string());
  }
  std::sort(found.begin(), found.end());
  return found;
}

/// What made a step non-finite: the loss, or else the first parameter
/// whose gradient is not finite ("" when all are).
std::string nonFiniteTensor(double loss, const torch::nn::Module &model) {
  if (!std::isfinite(loss))
    return std::string("the loss is ") + (std::isnan(loss) ? "NaN" : "infinite");
  for (const auto &p : model.named_parameters()) {
    torch::Tensor g = p.value().grad();
    if (g.defined() && !torch::isfinite(g).all().item<bool>())
      return "the gradient of parameter '" + p.key() + "' is " +
             (torch::isnan(g).any().item<bool>() ? "NaN" : "infinite") + " (the loss is " +
             std::to_string(loss) + ")";
  }
  return "";
}

} // namespace

int flowrt::runTrain(const flowrt_program &program, const TrainOptions &opts) {
  if (!program.train_loss || !program.model.kind || !program.optimizer_step) {
    std::fprintf(stderr, "error: the program has no training step\n");
    return 1;
  }
  std::unique_ptr<DataSet> data = makeDataSet(program.data);
  double emaDecay = program.train.ema;

  // Initial weights are a function of the seed.
  torch::manual_seed(opts.seed);
  Network model = makeNetwork(program);
  Network ema;
  if (emaDecay > 0)
    ema = cloneNetwork(program, model);
  int64_t numParams = 0;
  for (auto &p : model->parameters())
    numParams += p.numel();
  // The optimizer's state variables, one row each, start at 0.
  torch::Tensor optimizerState = torch::zeros({program.optimizer_state, numParams});

  makeDirectories(opts.outDir);
  std::string checkpointPath = joinPath(opts.outDir, CheckpointFile);
  int64_t start = 0;
  double elapsedBefore = 0;
  if (opts.resume) {
    if (!pathExists(checkpointPath)) {
      std::fprintf(stderr,
                   "error: no checkpoint in %s to resume from: run `train` "
                   "without --resume\n",
                   opts.outDir.c_str());
      return 1;
    }
    CheckpointInfo info = loadCheckpoint(checkpointPath, *model,
                                         ema.get(), &optimizerState);
    start = info.step;
    elapsedBefore = info.elapsed;
    if (start >= opts.steps) {
      std::fprintf(stderr,
                   "%s is already at step %lld (--steps %lld): nothing to do\n",
                   checkpointPath.c_str(), static_cast<long long>(start),
                   static_cast<long long>(opts.steps));
      return 0;
    }
    if (!opts.quiet)
      std::fprintf(stderr, "resuming %s from step %lld\n",
                   checkpointPath.c_str(), static_cast<long long>(start));
  }
  if (program.spec_text) {
    std::ofstream spec(joinPath(opts.outDir, "spec.flow"));
    spec << program.spec_text;
  }
  // The settings of this run (the spec's defaults as overridden), beside
  // the spec; a resumed run appends its own line.
  {
    std::ofstream settings(joinPath(opts.outDir, "settings.jsonl"),
                           opts.resume ? std::ios::app : std::ios::trunc);
    char line[512];
    std::snprintf(line, sizeof(line),
                  "{\"flow\": \"%s\", \"steps\": %lld, \"batch\": %lld, \"lr\": %.8g, "
                  "\"seed\": %llu, \"optimizer\": \"%s\", \"ema\": %.8g, \"device\": \"%s\", "
                  "\"autocast\": \"%s\", "
                  "\"checkpoint_every\": %lld, \"keep\": %lld, \"resume_from\": %lld}\n",
                  program.flow_name ? program.flow_name : "", static_cast<long long>(opts.steps),
                  static_cast<long long>(opts.batch), opts.lr,
                  static_cast<unsigned long long>(opts.seed),
                  program.train.optimizer ? program.train.optimizer : "", emaDecay,
                  opts.device.c_str(), opts.bf16 ? "bf16" : "off",
                  static_cast<long long>(opts.checkpointEvery),
                  static_cast<long long>(opts.keep), static_cast<long long>(start));
    settings << line;
  }
  std::ofstream metrics(joinPath(opts.outDir, "metrics.jsonl"),
                        opts.resume ? std::ios::app : std::ios::trunc);

  flowrt_ctx ctx;
  ctx.program = &program;
  ctx.seed = opts.seed;
  ctx.batchSize = opts.batch;
  ctx.data = data.get();
  std::unique_ptr<Tokenizer> tokenizer = makeTokenizer(program.data);
  ctx.tokenizer = tokenizer.get();
  ctx.net = model.get();
  ctx.autocast = opts.bf16 ? torch::kBFloat16 : torch::kFloat;
  // --device cuda: the network, its EMA and the optimizer state on the GPU, the
  // generated kernels from the program's PTX (data are drawn on the CPU and
  // copied over).
  std::unique_ptr<CudaKernels> gpu;
  if (opts.device == "cuda") {
    if (opts.resume) {
      std::fprintf(stderr, "error: train --resume --device cuda is not supported yet\n");
      return 1;
    }
    gpu = attachGpu(ctx, program.ptx);
    model->to(ctx.device);
    if (ema)
      ema->to(ctx.device);
    optimizerState = optimizerState.to(ctx.device);
  }
  // One flat buffer each for the weights, their gradients and the EMA: the
  // generated optimizer and EMA kernels update all parameters in one launch.
  auto rows = [&](const torch::Tensor &flat) {
    return flowrt_tensor{flat.view({-1, 1})};
  };
  flowrt_tensor params = rows(flattenParameters(*model));
  torch::Tensor gradBuffer = flatGradients(*model);
  flowrt_tensor grads = rows(gradBuffer);
  std::optional<flowrt_tensor> emaParams;
  if (ema)
    emaParams = rows(flattenParameters(*ema));
  std::vector<flowrt_tensor> state;
  for (int64_t i = 0; i < program.optimizer_state; ++i)
    state.push_back(rows(optimizerState[i]));
  std::vector<flowrt_tensor *> statePointers;
  for (flowrt_tensor &s : state)
    statePointers.push_back(&s);

  auto save = [&](int64_t step, double elapsed) {
    CheckpointInfo info;
    info.step = step;
    info.elapsed = elapsed;
    info.hasEma = ema != nullptr;
    info.flowName = program.flow_name ? program.flow_name : "";
    saveCheckpoint(checkpointPath, *model, ema.get(), &optimizerState,
                   info);
    if (opts.keep > 0) {
      std::filesystem::copy_file(checkpointPath,
                                 joinPath(opts.outDir, "checkpoint-" + std::to_string(step) + ".pt"),
                                 std::filesystem::copy_options::overwrite_existing);
      auto numbered = numberedCheckpoints(opts.outDir);
      for (size_t i = 0; i + opts.keep < numbered.size(); ++i)
        std::filesystem::remove(numbered[i].second);
    }
    // Image data: grids from the same noise (the sample block's seed) for
    // the raw and the EMA weights, so runs and steps compare image by image.
    if (opts.gridSample) {
      std::string dir = joinPath(opts.outDir, "grids");
      makeDirectories(dir);
      SampleOptions grid = *opts.gridSample;
      grid.n = 100;
      grid.outDir = opts.outDir;
      grid.device = opts.device;
      grid.bf16 = opts.bf16;
      grid.quiet = true;
      for (bool raw : {true, false}) {
        if (!raw && !ema)
          continue;
        grid.rawWeights = raw;
        grid.outputs = {joinPath(dir, "step-" + std::to_string(step) + (raw ? "-raw" : "-ema") +
                                          ".png")};
        runSample(program, grid);
      }
    }
  };

  // On a GPU the step is captured once as a CUDA graph after a few eager
  // steps (which warm up cuBLAS, the allocator and the kernels, and record
  // the step's data calls) and replayed from then on: the data are drawn
  // into fixed buffers, and the kernels' counter and the optimizer's and
  // EMA's scalars written to device memory, before each replay. The whole
  // run uses one side stream, as captures need. Replayed steps sum the
  // loss and the gradients on the GPU and are checked for NaN at each log
  // line and checkpoint, not at every step (a check waits for the GPU).
  bool graphs = (gpu && opts.cudaGraph && CapturedGraph::available()) || opts.emulateCudaGraph;
  constexpr int64_t EagerStepsBeforeCapture = 3;
  std::optional<SideStream> sideStream;
  CapturedGraph graph(/*emulated=*/opts.emulateCudaGraph);
  FixedBatches fixedBatches;
  torch::Tensor lossSum, gradSum; // over the replayed steps not checked yet
  int64_t unchecked = 0;
  if (graphs) {
    if (gpu) {
      gpu->synchronize(); // the weights were copied on the default stream
      sideStream.emplace();
    }
    ctx.fixedBatches = &fixedBatches;
    lossSum = torch::zeros({}, torch::dtype(torch::kFloat).device(ctx.device));
    gradSum = torch::zeros({}, torch::dtype(torch::kFloat).device(ctx.device));
  }
  // The generated optimizer and EMA updates of step ctx.step.
  auto update = [&] {
    program.optimizer_step(&ctx, &params, &grads, statePointers.data(),
                           static_cast<float>(opts.lr), static_cast<float>(ctx.step + 1));
    if (ema)
      program.ema_step(&ctx, &*emaParams, &params,
                       static_cast<float>(emaDecayAt(emaDecay, ctx.step)));
  };
  // The captured work, the whole step: loss and gradients (summed on the
  // device), then the updates. (ctx.step, not a copy: an emulated replay
  // re-runs it for the new step.)
  auto capturedStep = [&] {
    torch::Tensor loss = program.train_loss(&ctx, ctx.step)->value;
    gradBuffer.zero_();
    loss.sum().backward();
    lossSum.add_(loss.detach().sum());
    gradSum.add_(gradBuffer.sum());
    update();
  };

  using Clock = std::chrono::steady_clock;
  Clock::time_point runStart = Clock::now(), windowStart = runStart;
  auto secondsSince = [](Clock::time_point t) {
    return std::chrono::duration<double>(Clock::now() - t).count();
  };
  ProgressBar bar(start, opts.steps, !opts.quiet);
  int64_t lastSaved = opts.resume ? start : -1;
  double windowLoss = 0, lastLoss = 0;
  int64_t windowSteps = 0;
  int64_t done = start;
  auto diverged = [&](const std::string &what) {
    ctx.clearArena();
    bar.finish(done);
    std::fprintf(stderr, "error: %s (the run diverged); ", what.c_str());
    if (lastSaved >= 0)
      std::fprintf(stderr, "the last good checkpoint is %s (step %lld)\n",
                   checkpointPath.c_str(), static_cast<long long>(lastSaved));
    else
      std::fprintf(stderr, "no checkpoint was written\n");
    return 1;
  };
  while (done < opts.steps) {
    int64_t step = done;
    ctx.step = step;
    ctx.dataCalls = 0;
    if (graphs && step >= start + EagerStepsBeforeCapture) {
      fixedBatches.recording = false;
      fixedBatches.fill(ctx);
      if (gpu) {
        // The step's counter, and the updates' scalars: their host code
        // with launches off writes this step's learning rate, Adam step
        // and EMA decay where the captured kernels read them.
        flowrt_gpu_step(&ctx, step);
        ctx.launchesOff = true;
        update();
        ctx.launchesOff = false;
      }
      if (!graph.captured()) {
        ctx.capturing = gpu != nullptr;
        try {
          graph.capture(capturedStep);
        } catch (const std::exception &e) {
          throw std::runtime_error(std::string("capturing the training step as a CUDA graph "
                                               "failed (train with --no-cuda-graph to launch "
                                               "each step's work instead): ") +
                                   e.what());
        }
        ctx.capturing = false;
        ctx.clearArena();
      }
      graph.replay();
      ++unchecked;
    } else {
      if (graphs) { // an eager step records its data calls for the capture
        fixedBatches.calls.clear();
        fixedBatches.recording = true;
      }
      flowrt_tensor *lossTensor = program.train_loss(&ctx, step);
      torch::Tensor loss = lossTensor->value;
      gradBuffer.zero_();
      loss.sum().backward();
      // One transfer for both checks: the gradients' sum is finite exactly
      // when every gradient is (short of an overflow, a divergence too).
      torch::Tensor checks = torch::stack({loss.detach().sum(), gradBuffer.sum()}).cpu();
      double lossValue = checks[0].item<double>();
      std::string bad = std::isfinite(checks[1].item<double>()) && std::isfinite(lossValue)
                            ? std::string()
                            : nonFiniteTensor(lossValue, *model);
      if (!bad.empty())
        return diverged(bad + " at step " + std::to_string(step + 1));
      lastLoss = lossValue;
      windowLoss += lossValue;
      ++windowSteps;
      update();
    }
    ctx.clearArena();
    done = step + 1;

    bool logDue = done % opts.logEvery == 0 || done == opts.steps;
    bool checkpointDue = opts.checkpointEvery > 0 && done % opts.checkpointEvery == 0 &&
                         done != opts.steps;
    if (unchecked > 0 && (logDue || checkpointDue)) {
      torch::Tensor sums = torch::stack({lossSum, gradSum}).cpu();
      lossSum.zero_();
      gradSum.zero_();
      double total = sums[0].item<double>();
      if (!std::isfinite(total) || !std::isfinite(sums[1].item<double>()))
        return diverged("the loss or a gradient became NaN or infinite between steps " +
                        std::to_string(done - unchecked + 1) + " and " + std::to_string(done) +
                        " (replays of the captured step are checked at each log line)");
      lastLoss = total / unchecked;
      windowLoss += total;
      windowSteps += unchecked;
      unchecked = 0;
    }
    if (logDue && windowSteps > 0) {
      double windowSeconds = secondsSince(windowStart);
      double rate = windowSeconds > 0 ? windowSteps / windowSeconds : 0.0;
      metrics << metricsLine(done, windowLoss / windowSteps, opts.lr, rate,
                             elapsedBefore + secondsSince(runStart));
      metrics.flush();
      windowStart = Clock::now();
      windowLoss = 0;
      windowSteps = 0;
    }
    bar.update(done, lastLoss);
    if (checkpointDue) {
      save(done, elapsedBefore + secondsSince(runStart));
      lastSaved = done;
    }
  }
  double seconds = secondsSince(runStart);
  save(done, elapsedBefore + seconds);
  bar.finish(done);
  if (!opts.quiet)
    std::printf("trained %s to step %lld in %.1f s (%.1f steps/s), loss "
                "%.4f; checkpoint %s\n",
                program.flow_name ? program.flow_name : "flow",
                static_cast<long long>(done), seconds,
                seconds > 0 ? (done - start) / seconds : 0.0, lastLoss,
                checkpointPath.c_str());
  if (!opts.quiet && graph.captured())
    std::printf("steps %lld to %lld replayed the step captured as a CUDA graph\n",
                static_cast<long long>(start + EagerStepsBeforeCapture + 1),
                static_cast<long long>(done));
  return 0;
}
