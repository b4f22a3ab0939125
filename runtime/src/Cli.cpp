//===- Cli.cpp - flowrt_main: the command line of generated programs ------===//
//
// Implements flowrt_main, the entry point every generated program calls. It
// first checks that the program was generated for this runtime's ABI, then
// declares the commands (each in its own file, with its options: see
// CommandLine.h) on a CLI11 application, parses the command line and runs
// the command that was named. `PROG --help` lists the commands and
// `PROG CMD --help` a command's options with their defaults (from the
// spec's train and sample blocks). Usage errors print the message and a
// hint and exit with 2; failures while running print `error: ...` and exit
// with 1. No exception leaves flowrt_main.
//
//===----------------------------------------------------------------------===//

#include "CommandLine.h"

#include <torch/torch.h>

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
static_assert(sizeof(void *) != 8 || sizeof(flowrt_program) == 656,
              "flowrt_program changed: bump FLOWRT_ABI_VERSION and this size");
static_assert(sizeof(void *) != 8 || sizeof(flowrt_data_desc) == 144,
              "flowrt_data_desc changed: bump FLOWRT_ABI_VERSION");
static_assert(sizeof(void *) != 8 || sizeof(flowrt_solver) == 64,
              "flowrt_solver changed: bump FLOWRT_ABI_VERSION");

namespace {

/// A usage error: the message, then where to find the options; exit 2.
int reportUsageError(const std::string &argv0, const std::string &command,
                     const std::string &message) {
  std::fprintf(stderr, "error: %s\nrun '%s%s --help' for the %s\n", message.c_str(),
               argv0.c_str(), command.empty() ? "" : (" " + command).c_str(),
               command.empty() ? "commands" : "options");
  return 2;
}

} // namespace

extern "C" int flowrt_main(const flowrt_program *program, int argc, char **argv) {
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
  std::string argv0 = argc > 0 && argv[0] ? argv[0] : "flow";
  std::string flow = program->flow_name ? program->flow_name : "flow";
  CLI::App app("Trains and samples the flow '" + flow + "' (built by flowc).", argv0);
  // An unknown first word is reported as an unknown command below.
  app.allow_extras();
  std::vector<Command> commands = {
      addTrainCommand(app, *program),
      addSampleCommand(app, *program, /*evaluate=*/false),
      addLikelihoodCommand(app, *program),
      addSampleCommand(app, *program, /*evaluate=*/true),
      addInfoCommand(app, *program),
      addExportCommand(app, *program),
  };
  // A spec with an encoder tokenizer: encode, decode and reconstruct.
  if (program->tokenizer.name)
    for (Command &c : addTokenCommands(app, *program))
      commands.push_back(c);
  const Command *chosen = nullptr;
  try {
    app.parse(argc, argv);
    for (const Command &c : commands)
      if (c.app->parsed())
        chosen = &c;
    if (!chosen) {
      std::vector<std::string> rest = app.remaining();
      throw CLI::ValidationError(rest.empty() ? "no command given"
                                              : "unknown command '" + rest.front() + "'");
    }
    // The top level allows extras (for the message above), so a command's
    // unknown arguments reach here rather than failing the parse.
    for (const Command &c : commands)
      if (c.app->parsed() && !c.app->remaining().empty())
        throw CLI::ExtrasError(c.app->remaining());
  } catch (const CLI::CallForHelp &e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp &e) {
    return app.exit(e);
  } catch (const CLI::ParseError &e) {
    for (const Command &c : commands)
      if (c.app->parsed())
        chosen = &c;
    return reportUsageError(argv0, chosen ? chosen->app->get_name() : "", e.what());
  }
  try {
    // --threads, which every command that computes has, applies before it runs.
    if (CLI::Option *threads = chosen->app->get_option_no_throw("--threads"); threads && *threads)
      torch::set_num_threads(threads->as<int>());
    return chosen->run();
  } catch (const CLI::ParseError &e) {
    return reportUsageError(argv0, chosen->app->get_name(), e.what());
  } catch (const c10::Error &e) {
    std::fprintf(stderr, "error: %s\n", e.what_without_backtrace());
    return 1;
  } catch (const std::exception &e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
