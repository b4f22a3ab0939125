//===- CommandLine.cpp - Settings and validators the commands share -------===//
//
// Implements CommandLine.h: the run settings every computing command
// declares the same way, the validators behind the options' messages, and
// the context a command's settings make.
//
//===----------------------------------------------------------------------===//

#include "CommandLine.h"
#include "Context.h"
#include "Cuda.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>

using namespace flowrt;

namespace {

/// The integer `text` is exactly, if it is one.
bool parseInteger(const std::string &text, int64_t &value) {
  if (text.empty())
    return false;
  char *end = nullptr;
  errno = 0;
  long long v = std::strtoll(text.c_str(), &end, 10);
  if (errno != 0 || *end != '\0')
    return false;
  value = v;
  return true;
}

/// The number `text` is exactly, if it is one.
bool parseNumber(const std::string &text, double &value) {
  if (text.empty())
    return false;
  char *end = nullptr;
  errno = 0;
  double v = std::strtod(text.c_str(), &end);
  if (errno == ERANGE || *end != '\0')
    return false;
  value = v;
  return true;
}

/// A validator that accepts the texts `ok` accepts and otherwise says
/// "takes WHAT, not 'TEXT'".
CLI::Validator accepting(std::function<bool(const std::string &)> ok, std::string what) {
  return CLI::Validator(
      [ok = std::move(ok), what = std::move(what)](std::string &text) -> std::string {
        return ok(text) ? "" : "takes " + what + ", not '" + text + "'";
      },
      "");
}

/// A validator of numbers: exactly one finite number that `ok` accepts.
CLI::Validator acceptingNumber(std::function<bool(double)> ok, std::string what) {
  return accepting(
      [ok = std::move(ok)](const std::string &text) {
        double v = 0;
        return parseNumber(text, v) && std::isfinite(v) && ok(v);
      },
      std::move(what));
}

} // namespace

CLI::Validator flowrt::integerAtLeast(int64_t min) {
  return accepting(
      [min](const std::string &text) {
        int64_t v = 0;
        return parseInteger(text, v) && v >= min;
      },
      "an integer >= " + std::to_string(min));
}

CLI::Validator flowrt::nonNegativeInteger() {
  return accepting(
      [](const std::string &text) {
        // strtoull would wrap "-1" around to 2^64 - 1.
        if (text.empty() || text.find_first_not_of("0123456789") != std::string::npos)
          return false;
        errno = 0;
        std::strtoull(text.c_str(), nullptr, 10);
        return errno != ERANGE;
      },
      "a non-negative integer");
}

CLI::Validator flowrt::positiveNumber() {
  return acceptingNumber([](double v) { return v > 0; }, "a positive number");
}

CLI::Validator flowrt::nonNegativeNumber() {
  return acceptingNumber([](double v) { return v >= 0; }, "a number >= 0");
}

CLI::Validator flowrt::finiteNumber() {
  return acceptingNumber([](double) { return true; }, "a number");
}

CLI::Validator flowrt::oneOf(const std::vector<std::string> &choices) {
  std::string list;
  for (size_t i = 0; i < choices.size(); ++i)
    list += (i == 0 ? "" : i + 1 == choices.size() ? " or " : ", ") + choices[i];
  return accepting(
      [choices](const std::string &text) {
        return std::find(choices.begin(), choices.end(), text) != choices.end();
      },
      list);
}

int64_t flowrt::parseLabel(const std::string &option, const std::string &text,
                           int64_t classes, bool balanced) {
  if (classes == 0)
    throw UsageError(option, "the network is not conditioned on labels");
  if (text == "none")
    return -1;
  if (balanced && text == "balanced")
    return FLOWRT_LABELS_BALANCED;
  int64_t label = 0;
  if (!parseInteger(text, label) || label < 0 || label >= classes)
    throw UsageError(option, "takes a class 0.." + std::to_string(classes - 1) +
                                 (balanced ? ", 'none' or 'balanced'" : " or 'none'") +
                                 ", not '" + text + "'");
  return label;
}

std::string flowrt::defaultOutDir(const flowrt_program &program) {
  return std::string("runs/") + (program.flow_name ? program.flow_name : "flow");
}

void flowrt::addRunSettings(CLI::App &command, RunSettings &settings, unsigned which,
                            const std::string &seedHelp) {
  if (which & DeviceOption)
    command
        .add_option_function<std::string>(
            "--device", [&settings](const std::string &d) { settings.device = d; },
            "where to run: cpu, or cuda (the program's PTX kernels, LibTorch on the GPU)")
        ->type_name("cpu|cuda")
        ->check(oneOf({"cpu", "cuda"}));
  if (which & AutocastOption)
    command
        .add_option_function<std::string>(
            "--autocast", [&settings](const std::string &a) { settings.bf16 = a == "bf16"; },
            "network calls under bfloat16 autocast (whole-trajectory kernels compute in "
            "float32 either way); default off")
        ->type_name("bf16|off")
        ->check(oneOf({"bf16", "off"}));
  if (which & SeedOption)
    command.add_option("--seed", settings.seed, seedHelp)
        ->type_name("S")
        ->capture_default_str()
        ->check(nonNegativeInteger());
  command.add_option("--threads", settings.threads, "CPU threads (default: all cores)")
      ->type_name("N")
      ->check(integerAtLeast(1));
  command.add_option("--out-dir", settings.outDir, "the run directory")
      ->type_name("DIR")
      ->capture_default_str();
}

std::unique_ptr<CudaKernels> flowrt::setUpContext(flowrt_ctx &ctx, const flowrt_program &program,
                                                  const RunSettings &settings) {
  ctx.program = &program;
  ctx.seed = settings.seed;
  ctx.autocast = settings.bf16 ? torch::kBFloat16 : torch::kFloat;
  if (settings.device == "cuda")
    return attachGpu(ctx, program.ptx);
  return nullptr;
}
