//===- Cli.cpp - flowrt_main: the command line of generated programs ------===//
//
// Implements flowrt_main, the entry point every generated program calls. It
// first checks that the program was generated for this runtime's ABI, then
// parses `train`, `sample`, `info` or `--help` with their options (defaults
// from the program's train and sample blocks), and runs the command. Usage
// errors print the message and the usage and exit with 2; failures while
// running print `error: ...` and exit with 1. No exception leaves flowrt_main.
//
//===----------------------------------------------------------------------===//

#include "Commands.h"
#include "Files.h"

#include <torch/torch.h>

#include <cmath>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <cstdio>
#include <stdexcept>
#include <string>
#include <vector>

using namespace flowrt;

// A change of these sizes without a new FLOWRT_ABI_VERSION would let old
// programs pass the version check with a different layout.
static_assert(sizeof(void *) != 8 || sizeof(flowrt_program) == 472,
              "flowrt_program changed: bump FLOWRT_ABI_VERSION and this size");
static_assert(sizeof(void *) != 8 || sizeof(flowrt_data_desc) == 96,
              "flowrt_data_desc changed: bump FLOWRT_ABI_VERSION");
static_assert(sizeof(void *) != 8 || sizeof(flowrt_solver) == 64,
              "flowrt_solver changed: bump FLOWRT_ABI_VERSION");

namespace {

/// A command line the user got wrong: reported with the usage, exit 2.
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

void printUsage(std::FILE *out, const char *argv0,
                const flowrt_program &program) {
  const char *flow = program.flow_name ? program.flow_name : "flow";
  std::fprintf(
      out,
      "usage: %s <command> [options]\n"
      "\n"
      "Trains and samples the flow '%s' (built by flowc).\n"
      "\n"
      "commands:\n"
      "  train     train the network, writing checkpoints and metrics\n"
      "  sample    draw samples with the trained network\n"
      "  likelihood  log p(x) of points (-i FILE.npy -o logp.npy)\n"
      "  eval      image sets: FD-<set>-classifier and the classifier's accuracy\n"
      "            on class-conditional samples (sample's options; -n default 100\n"
      "            per class; trains the classifier once, kept in the run directory)\n"
      "  info      describe the flow, its data, network and defaults\n"
      "  export    write the trained network as TorchScript (-o FILE.pt; --out-dir\n"
      "            DIR, --weights ema|raw): torch.jit.load(FILE) in PyTorch\n"
      "\n"
      "train options:\n"
      "  --steps N              training steps (default %lld)\n"
      "  --batch B              batch size (default %lld)\n"
      "  --lr X                 learning rate (default %g; 0 keeps the weights)\n"
      "  --seed S               seed of weights, data and noise (default "
      "%llu)\n"
      "  --out-dir DIR          run directory (default runs/%s)\n"
      "  --resume               continue from DIR/checkpoint.pt\n"
      "  --checkpoint-every N   checkpoint every N steps and at the end "
      "(default 1000; 0: end only)\n"
      "  --keep K               also keep the last K checkpoints as "
      "DIR/checkpoint-STEP.pt\n"
      "  --no-grids             image data: no DIR/grids/step-N-{raw,ema}.png "
      "at checkpoints\n"
      "  --log-every N          steps per line of DIR/metrics.jsonl "
      "(default 10)\n"
      "  --device cpu|cuda      where to train (cuda: the program's PTX "
      "kernels, LibTorch on the GPU)\n"
      "  --autocast bf16|off    run the network under bfloat16 autocast "
      "(default off)\n"
      "  --no-cuda-graph        cuda: launch each step's work instead of "
      "replaying it as a CUDA graph\n"
      "  --emulate-cuda-graph   (testing) the captured-step loop on the CPU, "
      "re-running the step\n"
      "  --threads N            CPU threads (default: all cores)\n"
      "  --quiet                no progress bar or summary\n"
      "  --test-run             one step end to end into DIR/test-run (train, checkpoint,\n"
      "                         16 samples): checks a spec and its data quickly\n"
      "\n"
      "sample options:\n"
      "  -n N                   samples (default %lld)\n"
      "  -o FILE                write the samples to FILE.npy or plot them to "
      "FILE.png; repeatable\n"
      "  --solver NAME          a solver of the spec (default %s)\n"
      "  --steps N              fixed solver steps (default %lld)\n"
      "  --rtol X, --atol X     tolerances of adaptive solvers (default "
      "1e-5)\n"
      "  --max-steps N          adaptive solvers: most steps (default "
      "100000)\n"
      "  --min-step H, --max-step H  adaptive solvers: step bounds (default "
      "1e-10, 1)\n"
      "  --from FILE.npy        integrate from these points, not from "
      "source draws\n"
      "  --device cpu|cuda      where to sample (cuda: the program's PTX "
      "kernels and LibTorch\n"
      "                         on the GPU; default cpu)\n"
      "  --autocast bf16|off    network calls under bfloat16 autocast (the "
      "whole-trajectory\n"
      "                         kernel computes in float32 either way)\n"
      "  --per-step             fixed steps: a kernel and a network call per "
      "stage instead of\n"
      "                         one whole-trajectory kernel (MLP networks)\n"
      "  --seed S               seed of the source (default %llu)\n"
      "  --out-dir DIR          run directory with the checkpoint (default "
      "runs/%s)\n"
      "  --metrics-json FILE    also write the quality figures as JSON\n"
      "  --label K              conditional flows: every sample of class K; "
      "'none'\n"
      "                         for the null class; 'balanced' (default) "
      "cycles\n"
      "  --guidance W           the guidance scale w, where the spec guides\n"
      "  --adaptive-guidance C  drop a sample's unconditional call once "
      "cos(v_c, v_u) >= C (0: off)\n"
      "  --guidance-momentum B  guide along d = (v_c - v_u) + B d_prev "
      "(APG's momentum; 0: off)\n"
      "  --weights ema|raw      the EMA weights (default, when the run keeps "
      "one) or the raw ones\n"
      "  --threads N            CPU threads (default: all cores)\n"
      "\n"
      "likelihood options:\n"
      "  -i FILE.npy, -o FILE.npy  points in, log-likelihoods out\n"
      "  --exact | --hutchinson divergence: exact (default) or Hutchinson's "
      "estimate\n"
      "  --solver NAME, --steps N   tableau and fixed steps (as for sample)\n"
      "  --seed S               seed of Hutchinson's probe\n"
      "  --label K              conditional networks: the class (default: "
      "none)\n"
      "  --out-dir DIR, --threads N\n"
      "\n"
      "  --help                 show this help\n",
      argv0, flow, static_cast<long long>(program.train.steps),
      static_cast<long long>(program.train.batch), program.train.lr,
      static_cast<unsigned long long>(program.train.seed), flow,
      static_cast<long long>(program.sample.n),
      program.sample.solver ? program.sample.solver : "?",
      static_cast<long long>(program.sample.steps),
      static_cast<unsigned long long>(program.sample.seed), flow);
}

/// Walks the arguments of one command; `--opt=value` counts as two.
class ArgReader {
public:
  ArgReader(int argc, char **argv, int first) {
    for (int i = first; i < argc; ++i) {
      std::string arg = argv[i];
      size_t eq = arg.find('=');
      if (arg.rfind("--", 0) == 0 && eq != std::string::npos) {
        args.push_back(arg.substr(0, eq));
        args.push_back(arg.substr(eq + 1));
      } else {
        args.push_back(arg);
      }
    }
  }

  bool done() const { return pos >= args.size(); }
  const std::string &next() { return args[pos++]; }

  std::string value(const std::string &option) {
    if (done())
      throw UsageError("option " + option + " needs a value");
    return next();
  }

  int64_t integer(const std::string &option, int64_t min) {
    std::string text = value(option);
    size_t used = 0;
    int64_t v = 0;
    try {
      v = std::stoll(text, &used);
    } catch (const std::exception &) {
      used = 0;
    }
    if (used != text.size() || text.empty())
      throw UsageError("option " + option + " takes an integer, not '" + text +
                       "'");
    if (v < min)
      throw UsageError("option " + option + " must be at least " +
                       std::to_string(min));
    return v;
  }

  uint64_t seed(const std::string &option) {
    std::string text = value(option);
    size_t used = 0;
    uint64_t v = 0;
    try {
      if (!text.empty() && text[0] != '-')
        v = std::stoull(text, &used);
    } catch (const std::exception &) {
      used = 0;
    }
    if (used != text.size() || text.empty())
      throw UsageError("option " + option +
                       " takes a non-negative integer, not '" + text + "'");
    return v;
  }

  /// "cpu" or "cuda".
  std::string device(const std::string &option) {
    std::string text = value(option);
    if (text != "cpu" && text != "cuda")
      throw UsageError(option + " takes cpu or cuda, not '" + text + "'");
    return text;
  }

  /// --autocast: bf16 (true) or off.
  bool autocast(const std::string &option) {
    std::string text = value(option);
    if (text != "bf16" && text != "off")
      throw UsageError(option + " takes bf16 or off, not '" + text + "'");
    return text == "bf16";
  }

  double positiveReal(const std::string &option) {
    std::string text = value(option);
    double v = parseReal(text);
    if (!(v > 0))
      throw UsageError("option " + option + " takes a positive number, not '" +
                       text + "'");
    return v;
  }

  double real(const std::string &option) {
    std::string text = value(option);
    double v = parseReal(text);
    if (!std::isfinite(v))
      throw UsageError("option " + option + " takes a number, not '" + text +
                       "'");
    return v;
  }

private:
  std::vector<std::string> args;
  size_t pos = 0;

  /// The number `text` is, or NaN when it is not exactly one number.
  static double parseReal(const std::string &text) {
    size_t used = 0;
    double v = 0;
    try {
      v = std::stod(text, &used);
    } catch (const std::exception &) {
      used = 0;
    }
    return used == text.size() && !text.empty() ? v : std::nan("");
  }
};

std::string defaultOutDir(const flowrt_program &program) {
  return std::string("runs/") +
         (program.flow_name ? program.flow_name : "flow");
}

TrainOptions parseTrain(const flowrt_program &program, ArgReader &reader,
                        int &threads) {
  if (!program.train_loss || !program.model.kind)
    throw std::runtime_error(std::string("flow '") + program.flow_name +
                             "' has nothing to train (its model is closed-form "
                             "or it has no loss); `sample` runs as it is");
  TrainOptions opts;
  opts.steps = program.train.steps;
  opts.batch = program.train.batch;
  opts.lr = program.train.lr;
  opts.seed = program.train.seed;
  opts.outDir = defaultOutDir(program);
  while (!reader.done()) {
    std::string arg = reader.next();
    if (arg == "--steps")
      opts.steps = reader.integer(arg, 1);
    else if (arg == "--batch")
      opts.batch = reader.integer(arg, 1);
    else if (arg == "--lr") {
      // 0 keeps the weights: a run that only checkpoints them (a
      // TorchScript module's own weights, for sampling).
      opts.lr = reader.real(arg);
      if (opts.lr < 0)
        throw UsageError("option --lr takes a number >= 0");
    } else if (arg == "--seed")
      opts.seed = reader.seed(arg);
    else if (arg == "--out-dir")
      opts.outDir = reader.value(arg);
    else if (arg == "--resume")
      opts.resume = true;
    else if (arg == "--checkpoint-every")
      opts.checkpointEvery = reader.integer(arg, 0);
    else if (arg == "--log-every")
      opts.logEvery = reader.integer(arg, 1);
    else if (arg == "--device")
      opts.device = reader.device(arg);
    else if (arg == "--autocast")
      opts.bf16 = reader.autocast(arg);
    else if (arg == "--no-cuda-graph")
      opts.cudaGraph = false;
    else if (arg == "--emulate-cuda-graph")
      opts.emulateCudaGraph = true;
    else if (arg == "--threads")
      threads = static_cast<int>(reader.integer(arg, 1));
    else if (arg == "--quiet")
      opts.quiet = true;
    else if (arg == "--test-run")
      opts.testRun = true;
    else if (arg == "--keep")
      opts.keep = reader.integer(arg, 0);
    else if (arg == "--no-grids")
      opts.grids = false;
    else
      throw UsageError("unknown option '" + arg + "' for train");
  }
  if (opts.steps < 1 || opts.batch < 1 || !(opts.lr >= 0))
    throw UsageError("the program's train defaults are invalid: give "
                     "--steps, --batch and --lr");
  return opts;
}

SampleOptions parseSample(const flowrt_program &program, ArgReader &reader,
                          int &threads, bool evaluate = false) {
  SampleOptions opts;
  opts.evaluate = evaluate;
  // eval: 100 samples of each class (1000 without labels).
  opts.n = evaluate ? 100 * std::max<int64_t>(program.model.classes, 10) : program.sample.n;
  opts.steps = program.sample.steps;
  opts.seed = program.sample.seed;
  opts.label = program.sample.label;
  opts.solver = program.sample.solver ? program.sample.solver : "";
  opts.rtol = program.sample.rtol > 0 ? program.sample.rtol : 1e-5;
  opts.atol = program.sample.atol > 0 ? program.sample.atol : 1e-5;
  bool stepsGiven = program.sample.fixed_steps != 0, cliSteps = false;
  opts.guidanceScale = program.sample.guidance_scale;
  opts.adaptiveGuidance = program.sample.adaptive_guidance;
  opts.guidanceMomentum = program.sample.guidance_momentum;
  opts.outDir = defaultOutDir(program);
  int64_t classes = program.model.classes;
  while (!reader.done()) {
    std::string arg = reader.next();
    if (arg == "-n" || arg == "--n")
      opts.n = reader.integer(arg, 1);
    else if (arg == "-o" || arg == "--output")
      opts.outputs.push_back(reader.value(arg));
    else if (arg == "--steps") {
      opts.steps = reader.integer(arg, 1);
      cliSteps = true;
    } else if (arg == "--seed")
      opts.seed = reader.seed(arg);
    else if (arg == "--solver")
      opts.solver = reader.value(arg);
    else if (arg == "--rtol")
      opts.rtol = reader.positiveReal(arg);
    else if (arg == "--atol")
      opts.atol = reader.positiveReal(arg);
    else if (arg == "--max-steps")
      opts.maxSteps = reader.integer(arg, 1);
    else if (arg == "--min-step")
      opts.minStep = reader.positiveReal(arg);
    else if (arg == "--max-step")
      opts.maxStep = reader.positiveReal(arg);
    else if (arg == "--from")
      opts.from = reader.value(arg);
    else if (arg == "--per-step")
      opts.perStep = true;
    else if (arg == "--weights") {
      std::string which = reader.value(arg);
      if (which != "ema" && which != "raw")
        throw UsageError("--weights takes ema or raw, not '" + which + "'");
      opts.rawWeights = which == "raw";
    }
    else if (arg == "--device")
      opts.device = reader.device(arg);
    else if (arg == "--autocast")
      opts.bf16 = reader.autocast(arg);
    else if (arg == "--out-dir")
      opts.outDir = reader.value(arg);
    else if (arg == "--metrics-json")
      opts.metricsJson = reader.value(arg);
    else if (arg == "--label") {
      if (classes == 0)
        throw UsageError("--label: the network of flow '" +
                         std::string(program.flow_name) +
                         "' is not conditioned on labels");
      std::string text = reader.value(arg);
      if (text == "none")
        opts.label = -1;
      else if (text == "balanced")
        opts.label = FLOWRT_LABELS_BALANCED;
      else {
        size_t used = 0;
        try {
          opts.label = std::stoll(text, &used);
        } catch (const std::exception &) {
          used = 0;
        }
        if (used != text.size() || text.empty() || opts.label < 0 ||
            opts.label >= classes)
          throw UsageError("--label takes a class 0.." +
                           std::to_string(classes - 1) +
                           ", 'none' or 'balanced', not '" + text + "'");
      }
    } else if (arg == "--guidance") {
      if (!program.sample.guidance)
        throw UsageError("--guidance: the spec's sample block of flow '" +
                         std::string(program.flow_name) +
                         "' has no guidance (e.g. guidance: cfg(w: 2))");
      if (std::isnan(program.sample.guidance_scale))
        throw UsageError(std::string("--guidance: the guidance fn '") +
                         program.sample.guidance +
                         "' has no scale parameter 'w'");
      opts.guidanceScale = reader.real(arg);
    } else if (arg == "--adaptive-guidance" || arg == "--guidance-momentum") {
      if (!program.sample.guidance)
        throw UsageError(arg + ": the spec's sample block of flow '" +
                         std::string(program.flow_name) + "' has no guidance");
      double v = reader.real(arg);
      bool threshold = arg == "--adaptive-guidance";
      if (threshold ? !(v >= 0 && v <= 1) : !(v > -1 && v < 1))
        throw UsageError(arg + (threshold ? " takes a cosine threshold in [0, 1] (0: off)"
                                          : " takes a number in (-1, 1) (0: off)"));
      (threshold ? opts.adaptiveGuidance : opts.guidanceMomentum) = v;
    } else if (arg == "--threads")
      threads = static_cast<int>(reader.integer(arg, 1));
    else
      throw UsageError("unknown option '" + arg + "' for sample");
  }
  if (program.num_solvers == 0)
    throw std::runtime_error("this program has no sampler: add a `sample` "
                             "block to the spec, e.g. sample FLOW { solver: "
                             "euler(steps: 32) }");
  const flowrt_solver *solver = findSolver(program, opts.solver);
  if (!solver) {
    std::string names;
    for (int32_t i = 0; i < program.num_solvers; ++i)
      names += (i ? ", " : "") + std::string(program.solvers[i].name);
    throw UsageError("unknown solver '" + opts.solver + "'; this program has " + names);
  }
  // Adaptive tableaux control their step size unless steps were given: on
  // the command line, or in the sample block for its own solver.
  bool blockSolver = program.sample.solver && opts.solver == program.sample.solver;
  opts.fixedSteps = !solver->adaptive || cliSteps || (stepsGiven && blockSolver);
  if (opts.n < 1 || opts.steps < 1)
    throw UsageError("the program's sample defaults are invalid: give -n "
                     "and --steps");
  return opts;
}

LikelihoodOptions parseLikelihood(const flowrt_program &program, ArgReader &reader,
                                  int &threads) {
  LikelihoodOptions opts;
  opts.solver = program.sample.solver ? program.sample.solver : "";
  opts.steps = program.sample.steps > 0 ? program.sample.steps : 32;
  opts.outDir = defaultOutDir(program);
  while (!reader.done()) {
    std::string arg = reader.next();
    if (arg == "-i" || arg == "--input")
      opts.input = reader.value(arg);
    else if (arg == "-o" || arg == "--output")
      opts.output = reader.value(arg);
    else if (arg == "--exact")
      opts.hutchinson = false;
    else if (arg == "--hutchinson")
      opts.hutchinson = true;
    else if (arg == "--solver")
      opts.solver = reader.value(arg);
    else if (arg == "--steps")
      opts.steps = reader.integer(arg, 1);
    else if (arg == "--seed")
      opts.seed = reader.seed(arg);
    else if (arg == "--label") {
      std::string text = reader.value(arg);
      opts.label = text == "none" ? -1 : std::atoll(text.c_str());
      if (text != "none" && (opts.label < 0 || opts.label >= program.model.classes))
        throw UsageError("--label takes a class of the network or 'none', not '" + text + "'");
    } else if (arg == "--out-dir")
      opts.outDir = reader.value(arg);
    else if (arg == "--threads")
      threads = static_cast<int>(reader.integer(arg, 1));
    else
      throw UsageError("unknown option '" + arg + "' for likelihood");
  }
  if (opts.input.empty() || opts.output.empty())
    throw UsageError("likelihood needs -i POINTS.npy and -o LOGP.npy");
  if (program.num_solvers == 0)
    throw std::runtime_error("this program has no solvers: add a `sample` block");
  return opts;
}

ExportOptions parseExport(const flowrt_program &program, ArgReader &reader) {
  ExportOptions opts;
  opts.outDir = defaultOutDir(program);
  while (!reader.done()) {
    std::string arg = reader.next();
    if (arg == "-o" || arg == "--output")
      opts.output = reader.value(arg);
    else if (arg == "--out-dir")
      opts.outDir = reader.value(arg);
    else if (arg == "--weights") {
      std::string which = reader.value(arg);
      if (which != "ema" && which != "raw")
        throw UsageError("--weights takes ema or raw, not '" + which + "'");
      opts.rawWeights = which == "raw";
    } else
      throw UsageError("unknown option '" + arg + "' for export");
  }
  if (opts.output.empty())
    throw UsageError("export needs -o FILE.pt");
  return opts;
}

bool wantsHelp(int argc, char **argv) {
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h" || arg == "help")
      return true;
  }
  return false;
}

} // namespace

extern "C" int flowrt_main(const flowrt_program *program, int argc,
                           char **argv) {
#ifdef __GLIBC__
  // Training and sampling free and reallocate the same few-megabyte tensors
  // every step. With glibc's defaults those go through mmap/munmap and each
  // step page-faults them in again (the 2-D width-64 sampler spent ~40% of
  // its time there); keeping them on the heap removes that.
  mallopt(M_MMAP_THRESHOLD, 64 << 20);
  mallopt(M_TRIM_THRESHOLD, 256 << 20);
#endif
  if (!program) {
    std::fprintf(stderr, "error: flowrt_main was given no program\n");
    return 1;
  }
  // Nothing else of the struct may be read before this: its layout is what
  // the version promises.
  if (program->abi_version != FLOWRT_ABI_VERSION) {
    std::fprintf(stderr,
                 "error: this program was generated for flowrt ABI version "
                 "%u, but it is linked with libflowrt ABI version %d; rebuild "
                 "it with a flowc and libflowrt of the same version\n",
                 program->abi_version, FLOWRT_ABI_VERSION);
    return 1;
  }
  const char *argv0 = argc > 0 && argv[0] ? argv[0] : "flow";
  if (wantsHelp(argc, argv)) {
    printUsage(stdout, argv0, *program);
    return 0;
  }
  try {
    if (argc < 2)
      throw UsageError("no command given");
    std::string command = argv[1];
    ArgReader reader(argc, argv, 2);
    int threads = 0;
    if (command == "train") {
      TrainOptions opts = parseTrain(*program, reader, threads);
      if (threads > 0)
        torch::set_num_threads(threads);
      bool sampler =
          findSolver(*program, program->sample.solver ? program->sample.solver : "") != nullptr;
      if (opts.grids && !opts.testRun && program->data.rank == 3 && sampler) {
        ArgReader none(argc, argv, argc);
        opts.gridSample = parseSample(*program, none, threads);
      }
      if (!opts.testRun)
        return runTrain(*program, opts);
      // One step into a directory of its own, then samples from it.
      if (opts.resume)
        throw UsageError("--test-run starts afresh; it takes no --resume");
      opts.outDir = joinPath(opts.outDir, "test-run");
      opts.steps = 1;
      opts.checkpointEvery = 0;
      opts.quiet = true;
      if (int rc = runTrain(*program, opts))
        return rc;
      std::string what = "one training step";
      if (sampler) {
        ArgReader none(argc, argv, argc);
        SampleOptions sample = parseSample(*program, none, threads);
        sample.outDir = opts.outDir;
        sample.n = 16;
        sample.device = opts.device;
        if (int rc = runSample(*program, sample))
          return rc;
        what += " and 16 samples";
      }
      std::printf("test run: ok (%s in %s)\n", what.c_str(), opts.outDir.c_str());
      return 0;
    }
    if (command == "sample") {
      SampleOptions opts = parseSample(*program, reader, threads);
      if (threads > 0)
        torch::set_num_threads(threads);
      return runSample(*program, opts);
    }
    if (command == "eval") {
      SampleOptions opts = parseSample(*program, reader, threads, /*evaluate=*/true);
      if (threads > 0)
        torch::set_num_threads(threads);
      return runSample(*program, opts);
    }
    if (command == "likelihood") {
      LikelihoodOptions opts = parseLikelihood(*program, reader, threads);
      if (threads > 0)
        torch::set_num_threads(threads);
      return runLikelihood(*program, opts);
    }
    if (command == "export")
      return runExport(*program, parseExport(*program, reader));
    if (command == "info") {
      if (!reader.done())
        throw UsageError("info takes no options");
      return runInfo(*program);
    }
    throw UsageError("unknown command '" + command + "'");
  } catch (const UsageError &e) {
    std::fprintf(stderr, "error: %s\n\n", e.what());
    printUsage(stderr, argv0, *program);
    return 2;
  } catch (const c10::Error &e) {
    std::fprintf(stderr, "error: %s\n", e.what_without_backtrace());
    return 1;
  } catch (const std::exception &e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
