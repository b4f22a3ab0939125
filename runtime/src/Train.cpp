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
#include "NetworkSet.h"
#include "Progress.h"
#include "Stages.h"
#include "Standardize.h"
#include "Tokenizer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <optional>

#include <nlohmann/json.hpp>

using namespace flowrt;

namespace {

/// One line of metrics.jsonl; `losses`, for a flow with several, each
/// loss's mean by name.
std::string metricsLine(int64_t step, double loss, const nlohmann::ordered_json &losses,
                        double lr, double rate, double elapsed) {
  nlohmann::ordered_json line = {{"step", step}, {"loss", loss}};
  if (!losses.empty())
    line["losses"] = losses;
  line["lr"] = lr;
  line["steps_per_sec"] = rate;
  line["elapsed"] = elapsed;
  return line.dump() + "\n";
}

/// The numbered checkpoints checkpoint-STEP.pt in `dir`, oldest first.
std::vector<std::pair<int64_t, std::string>> numberedCheckpoints(const std::string &dir) {
  std::vector<std::pair<int64_t, std::string>> found;
  for (const std::string &name : listDirectory(dir)) {
    const std::string prefix = "checkpoint-", suffix = ".pt";
    if (name.size() <= prefix.size() + suffix.size() || name.rfind(prefix, 0) != 0 ||
        name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0)
      continue;
    std::string digits = name.substr(prefix.size(), name.size() - prefix.size() - suffix.size());
    if (digits.find_first_not_of("0123456789") == std::string::npos)
      found.emplace_back(std::stoll(digits), joinPath(dir, name));
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

using Clock = std::chrono::steady_clock;

double secondsSince(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

/// One `train` run, cut into its steps: set up the networks and their flat
/// buffers, resume, write the run's files, then loop over training steps
/// (eager, or replays of the step captured as a CUDA graph), logging and
/// checkpointing along the way.
class Trainer {
public:
  Trainer(const flowrt_program &program, const TrainOptions &opts)
      : program(program), opts(opts), graph(/*emulated=*/opts.emulateCudaGraph) {}

  int run() {
    if (!program.train_loss || program.num_models == 0 || !program.optimizer_step) {
      std::fprintf(stderr, "error: the program has no training step\n");
      return 1;
    }
    buildNetworks();
    makeDirectories(opts.run.outDir);
    checkpointPath = joinPath(opts.run.outDir, CheckpointFile);
    if (opts.resume) {
      if (int rc = resume(); rc >= 0)
        return rc;
    }
    writeRunFiles();
    if (int rc = setUpDevice(); rc != 0)
      return rc;
    if (!opts.resume) { // a resumed run's statistics are in its checkpoint
      std::vector<NetworkSetImpl *> sets{model.get()};
      if (ema)
        sets.push_back(ema.get());
      fitStandardization(program, sets, ctx, *data, opts.quiet);
    }
    makeFlatBuffers();
    prepareCapture();
    return loop();
  }

private:
  const flowrt_program &program;
  const TrainOptions &opts;
  std::unique_ptr<DataSet> data;
  std::unique_ptr<Tokenizer> tokenizer;
  // Every network the flow applies, in one module; its EMA copy.
  NetworkSet model{nullptr}, ema{nullptr};
  torch::nn::Module *emaModule() { return ema ? ema.get() : nullptr; }
  torch::Tensor optimizerState;
  std::string checkpointPath;
  int64_t start = 0;
  double elapsedBefore = 0;
  std::ofstream metrics;

  flowrt_ctx ctx;
  std::unique_ptr<CudaKernels> gpu;
  // The flat buffers the generated optimizer and EMA kernels update.
  flowrt_tensor params, grads;
  torch::Tensor gradBuffer;
  std::optional<flowrt_tensor> emaParams;
  std::vector<flowrt_tensor> state;
  std::vector<flowrt_tensor *> statePointers;
  /// Runs of the flat buffer that share a learning rate: the trained
  /// networks' parameters in order, each at its own rate (lr_NAME) or the
  /// run's, neighbours of one rate merged. Usually one: one launch.
  struct LrSegment {
    int64_t offset, size;
    double lr;
  };
  std::vector<LrSegment> segments;

  // The step captured as a CUDA graph (on a GPU, or emulated).
  static constexpr int64_t EagerStepsBeforeCapture = 3;
  bool graphs = false;
  std::optional<SideStream> sideStream;
  CapturedGraph graph;
  FixedBatches fixedBatches;
  torch::Tensor lossSum, gradSum; // over the replayed steps not checked yet
  int64_t unchecked = 0;

  // Progress of the loop.
  Clock::time_point runStart, windowStart;
  int64_t lastSaved = -1, done = 0, windowSteps = 0;
  double windowLoss = 0, lastLoss = 0;

  /// The networks (initial weights a function of the seed), their EMA copy
  /// and the optimizer's state (one row per state variable, zeros).
  void buildNetworks() {
    data = makeDataSet(program.data);
    tokenizer = makeTokenizer(program.data);
    // A data set held whole is encoded once up front, so that a value the
    // tokenizer refuses (a token id outside onehot's vocabulary) stops the
    // run before its first step rather than whenever a batch draws it.
    if (std::optional<Batch> all = tokenizer ? data->all() : std::nullopt)
      tokenizer->encode(all->x);
    torch::manual_seed(opts.run.seed);
    model = NetworkSet(program);
    if (program.train.ema > 0)
      ema = cloneNetworks(program, model);
    int64_t numParams = 0;
    for (auto &p : model->parameters())
      numParams += p.numel();
    optimizerState = torch::zeros({program.optimizer_state, numParams});
  }

  /// --resume: loads the checkpoint. Returns the exit status when the run
  /// ends here (nothing to do, or no checkpoint), else -1.
  int resume() {
    if (!pathExists(checkpointPath)) {
      std::fprintf(stderr, "error: no checkpoint in %s to resume from: run `train` without "
                           "--resume\n",
                   opts.run.outDir.c_str());
      return 1;
    }
    CheckpointInfo info = loadCheckpoint(checkpointPath, program, *model, emaModule(),
                                         &optimizerState);
    start = info.step;
    elapsedBefore = info.elapsed;
    lastSaved = start;
    if (start >= opts.steps) {
      std::fprintf(stderr, "%s is already at step %lld (--steps %lld): nothing to do\n",
                   checkpointPath.c_str(), static_cast<long long>(start),
                   static_cast<long long>(opts.steps));
      return 0;
    }
    if (!opts.quiet)
      std::fprintf(stderr, "resuming %s from step %lld\n", checkpointPath.c_str(),
                   static_cast<long long>(start));
    return -1;
  }

  /// spec.flow, settings.jsonl (the spec's defaults as overridden; a resumed
  /// run appends its line) and metrics.jsonl (appended on resume).
  void writeRunFiles() {
    auto mode = opts.resume ? std::ios::app : std::ios::trunc;
    if (program.spec_text) {
      std::ofstream spec(joinPath(opts.run.outDir, "spec.flow"));
      spec << program.spec_text;
    }
    nlohmann::ordered_json settings = {
        {"flow", program.flow_name ? program.flow_name : ""},
        {"steps", opts.steps},
        {"batch", opts.batch},
        {"lr", opts.lr},
        {"seed", opts.run.seed},
        {"optimizer", program.train.optimizer ? program.train.optimizer : ""},
        {"ema", program.train.ema},
        {"device", opts.run.device},
        {"autocast", opts.run.bf16 ? "bf16" : "off"},
        {"checkpoint_every", opts.checkpointEvery},
        {"keep", opts.keep},
        {"resume_from", start}};
    std::ofstream(joinPath(opts.run.outDir, "settings.jsonl"), mode) << settings.dump() << "\n";
    metrics.open(joinPath(opts.run.outDir, "metrics.jsonl"), mode);
  }

  /// The context of the generated code; --device cuda puts the network,
  /// its EMA and the optimizer state on the GPU and launches the program's
  /// PTX (data are drawn on the CPU and copied over).
  int setUpDevice() {
    if (opts.run.device == "cuda" && opts.resume) {
      std::fprintf(stderr, "error: train --resume --device cuda is not supported yet\n");
      return 1;
    }
    gpu = setUpContext(ctx, program, opts.run);
    ctx.batchSize = opts.batch;
    ctx.data = data.get();
    ctx.tokenizer = tokenizer.get();
    ctx.nets = model->pointers();
    ctx.net = model->velocity();
    if (program.num_losses > 1) // each term of the sum gets its own metric
      ctx.lossTermSums =
          torch::zeros({program.num_losses}, torch::dtype(torch::kFloat).device(ctx.device));
    if (gpu) {
      model->to(ctx.device);
      if (ema)
        ema->to(ctx.device);
      optimizerState = optimizerState.to(ctx.device);
    }
    return 0;
  }

  /// One flat buffer each for the weights, their gradients, the EMA and
  /// each optimizer state: the generated kernels update all parameters in
  /// one launch.
  void makeFlatBuffers() {
    auto rows = [](const torch::Tensor &flat) { return flowrt_tensor{flat.view({-1, 1})}; };
    params = rows(flattenParameters(*model));
    gradBuffer = flatGradients(*model);
    grads = rows(gradBuffer);
    if (ema)
      emaParams = rows(flattenParameters(*ema));
    for (int64_t i = 0; i < program.optimizer_state; ++i)
      state.push_back(rows(optimizerState[i]));
    for (flowrt_tensor &s : state)
      statePointers.push_back(&s);
    int64_t offset = 0;
    for (int32_t i = 0; i < program.num_models; ++i) {
      const flowrt_model_desc &desc = program.models[i];
      if (isFrozen(desc))
        continue;
      int64_t size = 0;
      for (const torch::Tensor &p : model->network(i)->parameters())
        size += p.numel();
      double lr = desc.lr > 0 ? desc.lr : opts.lr;
      if (!segments.empty() && segments.back().lr == lr)
        segments.back().size += size;
      else
        segments.push_back({offset, size, lr});
      offset += size;
    }
  }

  /// On a GPU the step is captured once as a CUDA graph after a few eager
  /// steps (which warm up cuBLAS, the allocator and the kernels, and record
  /// the step's data calls) and replayed from then on: the data are drawn
  /// into fixed buffers, and the kernels' counter and the optimizer's and
  /// EMA's scalars written to device memory, before each replay. The whole
  /// run uses one side stream, as captures need. Replayed steps sum the
  /// loss and the gradients on the GPU and are checked for NaN at each log
  /// line and checkpoint, not at every step (a check waits for the GPU).
  void prepareCapture() {
    graphs = (gpu && opts.cudaGraph && CapturedGraph::available()) || opts.emulateCudaGraph;
    if (!graphs)
      return;
    if (gpu) {
      gpu->synchronize(); // the weights were copied on the default stream
      sideStream.emplace();
    }
    ctx.fixedBatches = &fixedBatches;
    lossSum = torch::zeros({}, torch::dtype(torch::kFloat).device(ctx.device));
    gradSum = torch::zeros({}, torch::dtype(torch::kFloat).device(ctx.device));
  }

  /// The generated optimizer and EMA updates of step ctx.step.
  void update() {
    float step = static_cast<float>(ctx.step + 1);
    if (segments.size() <= 1) {
      double lr = segments.empty() ? opts.lr : segments[0].lr;
      program.optimizer_step(&ctx, &params, &grads, statePointers.data(),
                             static_cast<float>(lr), step);
    } else { // each segment at its own rate, on views of the flat buffers
      for (size_t k = 0; k < segments.size(); ++k) {
        const LrSegment &seg = segments[k];
        auto part = [&](const flowrt_tensor &t) {
          return flowrt_tensor{t.value.narrow(0, seg.offset, seg.size)};
        };
        flowrt_tensor p = part(params), g = part(grads);
        std::vector<flowrt_tensor> s;
        for (const flowrt_tensor &t : state)
          s.push_back(part(t));
        std::vector<flowrt_tensor *> sp;
        for (flowrt_tensor &t : s)
          sp.push_back(&t);
        ctx.scalarInstance = static_cast<int32_t>(k);
        program.optimizer_step(&ctx, &p, &g, sp.data(), static_cast<float>(seg.lr), step);
      }
      ctx.scalarInstance = 0;
    }
    if (ema)
      program.ema_step(&ctx, &*emaParams, &params,
                       static_cast<float>(emaDecayAt(program.train.ema, ctx.step)));
  }

  /// The captured work, the whole step: loss and gradients (summed on the
  /// device), then the updates. (ctx.step, not a copy: an emulated replay
  /// re-runs it for the new step.)
  void capturedStep() {
    torch::Tensor loss = program.train_loss(&ctx, ctx.step)->value;
    gradBuffer.zero_();
    loss.sum().backward();
    lossSum.add_(loss.detach().sum());
    gradSum.add_(gradBuffer.sum());
    update();
  }

  /// A step replayed from the graph (captured at the first such step).
  void replayStep(int64_t step) {
    fixedBatches.recording = false;
    fixedBatches.fill(ctx);
    if (gpu) {
      // The step's counter, and the updates' scalars: their host code with
      // launches off writes this step's learning rate, Adam step and EMA
      // decay where the captured kernels read them.
      flowrt_gpu_step(&ctx, step);
      ctx.launchesOff = true;
      update();
      ctx.launchesOff = false;
    }
    if (!graph.captured()) {
      ctx.capturing = gpu != nullptr;
      try {
        graph.capture([this] { capturedStep(); });
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
  }

  /// A step run op by op, checked at once. Returns what became non-finite
  /// ("" when nothing did).
  std::string eagerStep(int64_t step) {
    if (graphs) { // an eager step records its data calls for the capture
      fixedBatches.calls.clear();
      fixedBatches.recording = true;
    }
    torch::Tensor loss = program.train_loss(&ctx, step)->value;
    gradBuffer.zero_();
    loss.sum().backward();
    // One transfer for both checks: the gradients' sum is finite exactly
    // when every gradient is (short of an overflow, a divergence too).
    torch::Tensor checks = torch::stack({loss.detach().sum(), gradBuffer.sum()}).cpu();
    double lossValue = checks[0].item<double>();
    if (!std::isfinite(checks[1].item<double>()) || !std::isfinite(lossValue))
      return nonFiniteTensor(lossValue, *model) + " at step " + std::to_string(step + 1);
    lastLoss = lossValue;
    windowLoss += lossValue;
    ++windowSteps;
    update();
    return "";
  }

  /// The replays since the last check: their summed loss and gradients.
  /// Returns what became non-finite ("" when nothing did).
  std::string checkReplays() {
    torch::Tensor sums = torch::stack({lossSum, gradSum}).cpu();
    lossSum.zero_();
    gradSum.zero_();
    double total = sums[0].item<double>();
    if (!std::isfinite(total) || !std::isfinite(sums[1].item<double>()))
      return "the loss or a gradient became NaN or infinite between steps " +
             std::to_string(done - unchecked + 1) + " and " + std::to_string(done) +
             " (replays of the captured step are checked at each log line)";
    lastLoss = total / unchecked;
    windowLoss += total;
    windowSteps += unchecked;
    unchecked = 0;
    return "";
  }

  /// A line of metrics.jsonl: the mean loss since the previous line.
  void logWindow() {
    double windowSeconds = secondsSince(windowStart);
    double rate = windowSeconds > 0 ? windowSteps / windowSeconds : 0.0;
    nlohmann::ordered_json losses = nlohmann::ordered_json::object();
    if (ctx.lossTermSums.defined()) {
      torch::Tensor sums = ctx.lossTermSums.cpu().clone(); // .cpu() of a CPU tensor is itself
      ctx.lossTermSums.zero_();
      for (int32_t i = 0; i < program.num_losses; ++i)
        losses[program.loss_names[i]] = sums[i].item<double>() / windowSteps;
    }
    metrics << metricsLine(done, windowLoss / windowSteps, losses, opts.lr, rate,
                           elapsedBefore + secondsSince(runStart));
    metrics.flush();
    windowStart = Clock::now();
    windowLoss = 0;
    windowSteps = 0;
  }

  /// Stops a diverged run, naming what diverged and the last good
  /// checkpoint.
  int diverged(const std::string &what, ProgressBar &bar) {
    ctx.clearArena();
    bar.finish(done);
    std::fprintf(stderr, "error: %s (the run diverged); ", what.c_str());
    if (lastSaved >= 0)
      std::fprintf(stderr, "the last good checkpoint is %s (step %lld)\n",
                   checkpointPath.c_str(), static_cast<long long>(lastSaved));
    else
      std::fprintf(stderr, "no checkpoint was written\n");
    return 1;
  }

  /// checkpoint.pt, the numbered copies --keep asks for and, for images,
  /// the sample grids.
  void save(int64_t step, double elapsed) {
    CheckpointInfo info;
    info.step = step;
    info.elapsed = elapsed;
    info.hasEma = !ema.is_empty();
    saveCheckpoint(checkpointPath, program, *model, emaModule(), &optimizerState, info);
    if (opts.keep > 0) {
      copyFile(checkpointPath,
               joinPath(opts.run.outDir, "checkpoint-" + std::to_string(step) + ".pt"));
      auto numbered = numberedCheckpoints(opts.run.outDir);
      for (size_t i = 0; i + opts.keep < numbered.size(); ++i)
        removeFile(numbered[i].second);
    }
    if (opts.gridSample)
      writeGrids(step);
  }

  /// Image data: grids from the same noise (the sample block's seed) for
  /// the raw and the EMA weights, so runs and steps compare image by image.
  void writeGrids(int64_t step) {
    std::string dir = joinPath(opts.run.outDir, "grids");
    makeDirectories(dir);
    SampleOptions grid = *opts.gridSample;
    grid.n = 100;
    grid.run.outDir = opts.run.outDir;
    grid.run.device = opts.run.device;
    grid.run.bf16 = opts.run.bf16;
    grid.quiet = true;
    for (bool raw : {true, false}) {
      if (!raw && !ema)
        continue;
      grid.rawWeights = raw;
      grid.outputs = {
          joinPath(dir, "step-" + std::to_string(step) + (raw ? "-raw" : "-ema") + ".png")};
      runSample(program, grid);
    }
  }

  /// The training loop from `start` to opts.steps.
  int loop() {
    runStart = windowStart = Clock::now();
    ProgressBar bar(start, opts.steps, !opts.quiet);
    done = start;
    while (done < opts.steps) {
      int64_t step = done;
      ctx.step = step;
      ctx.dataCalls = 0;
      if (graphs && step >= start + EagerStepsBeforeCapture) {
        replayStep(step);
      } else if (std::string bad = eagerStep(step); !bad.empty()) {
        return diverged(bad, bar);
      }
      ctx.clearArena();
      done = step + 1;

      bool logDue = done % opts.logEvery == 0 || done == opts.steps;
      bool checkpointDue =
          opts.checkpointEvery > 0 && done % opts.checkpointEvery == 0 && done != opts.steps;
      if (unchecked > 0 && (logDue || checkpointDue))
        if (std::string bad = checkReplays(); !bad.empty())
          return diverged(bad, bar);
      if (logDue && windowSteps > 0)
        logWindow();
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
      std::printf("trained %s to step %lld in %.1f s (%.1f steps/s), loss %.4f; checkpoint "
                  "%s\n",
                  program.flow_name ? program.flow_name : "flow", static_cast<long long>(done),
                  seconds, seconds > 0 ? (done - start) / seconds : 0.0, lastLoss,
                  checkpointPath.c_str());
    if (!opts.quiet && graph.captured())
      std::printf("steps %lld to %lld replayed the step captured as a CUDA graph\n",
                  static_cast<long long>(start + EagerStepsBeforeCapture + 1),
                  static_cast<long long>(done));
    return 0;
  }
};

} // namespace

int flowrt::runTrain(const flowrt_program &program, const TrainOptions &opts) {
  return Trainer(program, opts).run();
}

namespace {

/// Which of the train settings the command line gave: they override every
/// stage's own.
struct GivenSettings {
  bool steps = false, batch = false, lr = false, seed = false;
};

/// Trains `program`'s stages in order (or the one --only names), each in
/// its directory of the run with its own train block's settings where the
/// command line gives none, its earlier stages' networks frozen. --resume
/// continues the stage that was interrupted: stages already at their last
/// step are skipped, later ones start afresh.
int runStages(const flowrt_program &program, const TrainOptions &opts,
              const GivenSettings &given) {
  std::vector<const flowrt_program *> stages = trainStages(program);
  if (!opts.only.empty()) {
    std::string names;
    const flowrt_program *chosen = nullptr;
    for (const flowrt_program *stage : stages) {
      names += (names.empty() ? "'" : ", '") + std::string(stage->flow_name) + "'";
      if (opts.only == stage->flow_name)
        chosen = stage;
    }
    if (!chosen)
      throw UsageError("--only", "the spec trains no flow '" + opts.only + "'; it trains " +
                                     names);
    stages = {chosen};
  }
  for (const flowrt_program *stage : stages) {
    TrainOptions o = opts;
    if (!given.steps)
      o.steps = stage->train.steps;
    if (!given.batch)
      o.batch = stage->train.batch;
    if (!given.lr)
      o.lr = stage->train.lr;
    if (!given.seed)
      o.run.seed = stage->train.seed;
    o.run.outDir = stageDirectory(program, *stage, opts.run.outDir);
    const flowrt_program &bound = bindStages(*stage, opts.run.outDir);
    if (isStaged(program)) {
      if (o.resume && !pathExists(joinPath(o.run.outDir, CheckpointFile)))
        o.resume = false; // not reached before the interruption
      if (!o.quiet)
        std::printf("stage %s: %lld steps, batch %lld, in %s\n", stage->flow_name,
                    static_cast<long long>(o.steps), static_cast<long long>(o.batch),
                    o.run.outDir.c_str());
      std::fflush(stdout); // before the stage's own messages on stderr
    }
    if (!bound.train_loss || bound.num_models == 0)
      throw std::runtime_error(std::string("flow '") + bound.flow_name +
                               "' has nothing to train (its model is closed-form or it has no "
                               "loss); `sample` runs as it is");
    if (o.steps < 1 || o.batch < 1 || !(o.lr >= 0))
      throw UsageError("--steps", "the program's train defaults are invalid: give --steps, "
                                  "--batch and --lr");
    // Image data: sample grids at checkpoints, as `sample` would by default.
    bool sampler = findSolver(bound, bound.sample.solver ? bound.sample.solver : "");
    if (o.grids && bound.data.rank == 3 && sampler && samplesInDataUnits(bound)) {
      SampleOptions grid = sampleDefaults(bound, /*evaluate=*/false);
      resolveSolver(bound, grid, /*stepsGiven=*/false);
      o.gridSample = grid;
    }
    if (int rc = runTrain(bound, o))
      return rc;
  }
  return 0;
}

/// `train --test-run`: one step of each stage into DIR/test-run, then 16
/// samples from it.
int runTestRun(const flowrt_program &program, TrainOptions opts, GivenSettings given) {
  if (opts.resume)
    throw UsageError("--test-run", "starts afresh; it takes no --resume");
  opts.run.outDir = joinPath(opts.run.outDir, "test-run");
  opts.steps = 1;
  given.steps = true;
  opts.checkpointEvery = 0;
  opts.quiet = true;
  opts.grids = false;
  if (int rc = runStages(program, opts, given))
    return rc;
  std::string what = isStaged(program) ? "one training step of each stage"
                                       : "one training step";
  if (findSolver(program, program.sample.solver ? program.sample.solver : "")) {
    const flowrt_program &bound = bindStages(program, opts.run.outDir);
    SampleOptions sample = sampleDefaults(bound, /*evaluate=*/false);
    resolveSolver(bound, sample, /*stepsGiven=*/false);
    sample.run.outDir = opts.run.outDir;
    sample.run.device = opts.run.device;
    sample.n = 16;
    if (int rc = runSample(bound, sample))
      return rc;
    what += " and 16 samples";
  }
  std::printf("test run: ok (%s in %s)\n", what.c_str(), opts.run.outDir.c_str());
  return 0;
}

} // namespace

Command flowrt::addTrainCommand(CLI::App &app, const flowrt_program &program) {
  auto opts = std::make_shared<TrainOptions>();
  TrainOptions &o = *opts;
  o.steps = program.train.steps;
  o.batch = program.train.batch;
  o.lr = program.train.lr;
  o.run.seed = program.train.seed;
  o.run.outDir = defaultOutDir(program);
  CLI::App *cmd =
      app.add_subcommand("train", "train the network, writing checkpoints and metrics");
  cmd->add_option("--steps", o.steps, "training steps")
      ->type_name("N")
      ->capture_default_str()
      ->check(integerAtLeast(1));
  cmd->add_option("--batch", o.batch, "batch size")
      ->type_name("B")
      ->capture_default_str()
      ->check(integerAtLeast(1));
  // 0 keeps the weights: a run that only checkpoints them (a TorchScript
  // module's own weights, for sampling).
  cmd->add_option("--lr", o.lr, "learning rate (0 keeps the weights)")
      ->type_name("X")
      ->capture_default_str()
      ->check(nonNegativeNumber());
  cmd->add_flag("--resume", o.resume,
                "continue from DIR/checkpoint.pt (in stages: the stage that was interrupted)");
  cmd->add_option("--checkpoint-every", o.checkpointEvery,
                  "checkpoint every N steps and at the end (0: end only)")
      ->type_name("N")
      ->capture_default_str()
      ->check(integerAtLeast(0));
  cmd->add_option("--keep", o.keep, "also keep the last K checkpoints as DIR/checkpoint-STEP.pt")
      ->type_name("K")
      ->check(integerAtLeast(0));
  cmd->add_flag("!--no-grids", o.grids,
                "image data: no DIR/grids/step-N-{raw,ema}.png at checkpoints");
  cmd->add_option("--log-every", o.logEvery, "steps per line of DIR/metrics.jsonl")
      ->type_name("N")
      ->capture_default_str()
      ->check(integerAtLeast(1));
  cmd->add_flag("!--no-cuda-graph", o.cudaGraph,
                "cuda: launch each step's work instead of replaying it as a CUDA graph");
  cmd->add_flag("--emulate-cuda-graph", o.emulateCudaGraph,
                "(testing) the captured-step loop on the CPU, re-running the step");
  cmd->add_flag("--quiet", o.quiet, "no progress bar or summary");
  cmd->add_flag("--test-run", o.testRun,
                "one step end to end into DIR/test-run (train, checkpoint, 16 samples): "
                "checks a spec and its data quickly");
  addRunSettings(*cmd, o.run, AllRunSettings, "seed of weights, data and noise");

  cmd->add_option("--only", o.only, "of a spec with several train blocks: train this flow's "
                                   "stage alone (the earlier stages' checkpoints in DIR)")
      ->type_name("FLOW");
  auto given = [cmd](const char *name) { return cmd->get_option(name)->count() > 0; };
  auto run = [&program, opts, given]() -> int {
    GivenSettings settings{given("--steps"), given("--batch"), given("--lr"), given("--seed")};
    if (opts->testRun)
      return runTestRun(program, *opts, settings);
    return runStages(program, *opts, settings);
  };
  return {cmd, run};
}
