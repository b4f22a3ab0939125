//===- CommandLine.h - What the commands of a program share ----*- C++ -*-===//
//
// Each command of a generated program (train, sample, eval, likelihood,
// info, export) lives in its own file with its options and their parser
// beside it: an `addXCommand` function declares the command's options on a
// CLI11 subcommand and returns the function that runs it once they are
// parsed. This header has what they share: the settings every command that
// computes has (device, autocast, seed, threads, run directory), the
// validators that give the options their messages, and the one helper that
// turns the settings into a runtime context.
//
//===----------------------------------------------------------------------===//
#ifndef FLOWRT_COMMANDLINE_H
#define FLOWRT_COMMANDLINE_H

#include "flowrt/flowrt.h"

#include <CLI/CLI.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

struct flowrt_ctx;

namespace flowrt {
class CudaKernels;

/// A command the user can name: its CLI11 subcommand and what runs it.
struct Command {
  CLI::App *app = nullptr;
  std::function<int()> run;
};

/// Settings every computing command shares.
struct RunSettings {
  std::string device = "cpu"; ///< --device cpu|cuda
  bool bf16 = false;          ///< --autocast bf16: network calls in bfloat16
  uint64_t seed = 0;          ///< --seed
  int threads = 0;            ///< --threads (0: LibTorch's default, all cores)
  std::string outDir;         ///< --out-dir, the run directory
};

/// Which of RunSettings a command offers (--threads and --out-dir always).
enum RunSettingOptions : unsigned {
  DeviceOption = 1,
  AutocastOption = 2,
  SeedOption = 4,
  AllRunSettings = DeviceOption | AutocastOption | SeedOption,
};

/// Declares --device, --autocast, --seed (as `which` says), --threads and
/// --out-dir on `command`, their defaults taken from `settings`; `seedHelp`
/// says what the seed seeds.
void addRunSettings(CLI::App &command, RunSettings &settings, unsigned which,
                    const std::string &seedHelp = "seed");

/// The run directory a program uses when --out-dir is not given.
std::string defaultOutDir(const flowrt_program &program);

/// Fills `ctx` for a command of `program` with `settings`: the program, the
/// seed, the autocast type and, for --device cuda, the GPU (whose kernels
/// the returned object keeps loaded; null on the CPU). Throws
/// std::runtime_error when the device is not there.
std::unique_ptr<CudaKernels> setUpContext(flowrt_ctx &ctx, const flowrt_program &program,
                                          const RunSettings &settings);

/// A usage error found after parsing (a value that depends on another):
/// reported like CLI11's own errors, with exit status 2.
struct UsageError : CLI::ValidationError {
  UsageError(const std::string &option, const std::string &message)
      : CLI::ValidationError(option, message) {}
};

/// Validators: each accepts exactly one number of its kind and otherwise
/// says what it takes and what it got ("takes an integer >= 1, not 'ten'").
CLI::Validator integerAtLeast(int64_t min);
CLI::Validator nonNegativeInteger();
CLI::Validator positiveNumber();
CLI::Validator nonNegativeNumber();
CLI::Validator finiteNumber();
/// Accepts one of `choices` ("takes cpu or cuda, not 'tpu'").
CLI::Validator oneOf(const std::vector<std::string> &choices);

/// A class label given as text: a class 0..classes-1, "none" (-1), or, when
/// `balanced` is allowed, "balanced" (FLOWRT_LABELS_BALANCED). Throws
/// UsageError for anything else, naming `option`.
int64_t parseLabel(const std::string &option, const std::string &text, int64_t classes,
                   bool balanced);

// The commands, each defined beside its implementation.
Command addTrainCommand(CLI::App &app, const flowrt_program &program);
Command addSampleCommand(CLI::App &app, const flowrt_program &program, bool evaluate);
Command addLikelihoodCommand(CLI::App &app, const flowrt_program &program);
Command addInfoCommand(CLI::App &app, const flowrt_program &program);
Command addExportCommand(CLI::App &app, const flowrt_program &program);
/// encode, decode and reconstruct (Tokens.cpp).
std::vector<Command> addTokenCommands(CLI::App &app, const flowrt_program &program);

} // namespace flowrt

#endif // FLOWRT_COMMANDLINE_H
