//===- frontend_fuzzer.cpp - libFuzzer target over the Flow front end -----===//
//
// Feeds arbitrary bytes through the whole front end: parseSource, then
// analyzeModule (imports, names, shapes, settings), then the AST printer.
// Imports of the standard library are served from the real stdlib/ folder
// (read once, kept in memory); any other import fails, so the fuzzer never
// touches other files. A crash, a sanitizer report, a hang, or a rejected
// spec without an error message is a bug.
//
// Built by tests/fuzz/build.sh (clang, -fsanitize=fuzzer,address,undefined).
//
//===----------------------------------------------------------------------===//

#include "FuzzSupport.h"
#include "flowc/Lang/Frontend.h"

#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

using flowc_fuzz::CountingDiagnostics;
using flowc_fuzz::StdlibLoader;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string text(reinterpret_cast<const char *>(data), size);
  flowc::ast::Module module;
  CountingDiagnostics diags;
  StdlibLoader loader;
  bool ok = flowc::parseSource("fuzz.flow", text, module, diags);
  if (ok)
    ok = flowc::analyzeModule(module, diags, loader);
  (void)flowc::ast::printModule(module);
  // Every rejection must come with at least one message.
  if (!ok && diags.errorCount() == 0)
    std::abort();
  if (ok && diags.errorCount() != 0)
    std::abort();
  return 0;
}
