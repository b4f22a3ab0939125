//===- pipeline_fuzzer.cpp - libFuzzer target from Sema to the kernels ----===//
//
// Feeds arbitrary bytes through the front end like frontend_fuzzer.cpp, and
// sends every spec that Sema accepts on through MLIRGen, the verifier, the
// flow passes (runKernelPipeline), the lowering of kernels to loops and the
// host C++ emitter: all of `flowc build` but LLVM codegen. A spec Sema
// accepts may still be refused later with an error at its location (a
// pass's own "cannot ..." message); what is a bug: a crash or sanitizer
// report, a failure with no error, or IR that fails the verifier (an op's
// "'name' op ..." message or a dominance or terminator error, from
// MLIRGen's output or between passes). PIPELINE_FUZZER_VERBOSE=1 prints,
// at exit, how many specs compiled and the later refusals by message:
// errors Sema could have given.
//
// Built by tests/fuzz/build.sh against the CMake build's libFlowCompiler.a
// (GCC, uninstrumented) and MLIR 22; the front end is instrumented, so
// libFuzzer's coverage guides the specs, not the passes.
//
//===----------------------------------------------------------------------===//

#include "FuzzSupport.h"
#include "flowc/Lang/Frontend.h"
#include "flowc/MLIRGen/MLIRGen.h"
#include "flowc/Target/Target.h"

#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>

using flowc_fuzz::CountingDiagnostics;
using flowc_fuzz::StdlibLoader;

namespace {

/// A context shared by many inputs (registering the dialects per input would
/// cost more than the passes), renewed every 1000 so that what it uniques
/// (attributes, locations) does not grow past the fuzzer's memory limit.
mlir::MLIRContext &context() {
  static std::unique_ptr<mlir::MLIRContext> ctx;
  static int uses = 0;
  if (!ctx || ++uses % 1000 == 0) {
    mlir::DialectRegistry registry;
    flowc::registerAll(registry);
    ctx = std::make_unique<mlir::MLIRContext>(registry);
    ctx->loadAllAvailableDialects();
  }
  return *ctx;
}

/// Whether an MLIR error says the IR is malformed rather than the spec.
bool isVerifierError(const std::string &message) {
  return (message.size() > 1 && message[0] == '\'' &&
          message.find("' op ") != std::string::npos) ||
         message.find("does not dominate") != std::string::npos ||
         message.find("terminator") != std::string::npos ||
         message.find("failed to verify") != std::string::npos;
}

/// How far the specs Sema accepted got, printed at exit with
/// PIPELINE_FUZZER_VERBOSE=1.
struct Tally {
  long accepted = 0, compiled = 0;
  std::map<std::string, long> refused; // by stage and message
  ~Tally() {
    if (!std::getenv("PIPELINE_FUZZER_VERBOSE"))
      return;
    std::fprintf(stderr, "pipeline_fuzzer: %ld specs passed Sema, %ld compiled\n",
                 accepted, compiled);
    for (const auto &[what, count] : refused)
      std::fprintf(stderr, "pipeline_fuzzer: %ld refused by %s\n", count, what.c_str());
  }
} tally;

[[noreturn]] void bug(const char *stage, const std::string &message) {
  std::fprintf(stderr, "pipeline_fuzzer: %s: %s\n", stage, message.c_str());
  std::abort();
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string text(reinterpret_cast<const char *>(data), size);
  flowc::ast::Module module;
  CountingDiagnostics diags;
  StdlibLoader loader;
  bool ok = flowc::parseSource("fuzz.flow", text, module, diags) &&
            flowc::analyzeModule(module, diags, loader);
  if (!ok && diags.errorCount() == 0)
    std::abort(); // a rejection must come with a message
  if (!ok)
    return 0;

  ++tally.accepted;
  mlir::MLIRContext &ctx = context();
  int errors = 0;
  std::string lastError;
  mlir::ScopedDiagnosticHandler handler(&ctx, [&](mlir::Diagnostic &d) {
    if (d.getSeverity() == mlir::DiagnosticSeverity::Error) {
      ++errors;
      lastError = d.str();
      if (isVerifierError(lastError))
        bug("verifier", lastError);
    }
    return mlir::success();
  });
  const char *stage = "mlirgen";
  mlir::OwningOpRef<mlir::ModuleOp> ir = flowc::mlirGen(ctx, module);
  bool accepted = ir && mlir::succeeded(mlir::verify(*ir));
  if (accepted) {
    stage = "kernel pipeline";
    accepted = mlir::succeeded(flowc::runKernelPipeline(*ir));
  }
  if (accepted) {
    stage = "lowering to loops";
    accepted = static_cast<bool>(flowc::lowerKernelsForCPU(*ir));
  }
  if (accepted) {
    stage = "host C++";
    accepted = mlir::succeeded(flowc::emitHostCpp(*ir, text, ""));
  }
  if (accepted) {
    ++tally.compiled;
    return 0;
  }
  if (errors == 0)
    bug(stage, "failed without an error");
  ++tally.refused[std::string(stage) + ": " + lastError];
  return 0;
}
