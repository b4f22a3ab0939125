//===- Frontend.h - Parse and check a .flow spec ----------------*- C++ -*-===//
//
// The front end's whole interface: parse files into the AST (ANTLR4 grammar
// lang/Flow.g4 + ASTBuilder), then run Sema (imports, names, shapes, settings).
// Errors go through a Diagnostics sink; the compiler driver routes them into
// MLIR's diagnostic engine so that syntax, semantic and MLIR errors print the
// same way (file:line:col, the source line and a caret) and can be checked
// with `expected-error` comments.
//
//===----------------------------------------------------------------------===//
#ifndef FLOWC_LANG_FRONTEND_H
#define FLOWC_LANG_FRONTEND_H

#include "flowc/Lang/AST.h"

#include <optional>
#include <string>

namespace flowc {

/// Receives front-end errors and warnings. Implementations print or collect
/// them; warnings do not stop compilation.
class Diagnostics {
public:
  virtual ~Diagnostics() = default;
  virtual void error(const ast::Location &loc, const std::string &message) = 0;
  virtual void warning(const ast::Location &, const std::string &) {}
  void reportError(const ast::Location &loc, const std::string &message) {
    ++numErrors;
    error(loc, message);
  }
  unsigned errorCount() const { return numErrors; }

private:
  unsigned numErrors = 0;
};

/// Reads source files for imports. `import std.paths` reads
/// `<stdlibDir>/std/paths.flow`; `import "x.flow"` reads x.flow relative to the
/// importing file's folder.
class FileLoader {
public:
  virtual ~FileLoader() = default;
  /// Returns the file's text, or nullopt if it cannot be read.
  virtual std::optional<std::string> load(const std::string &path) = 0;
  std::string stdlibDir;
};

/// Parses one file's text and appends its declarations to `module`.
/// Returns false if there were syntax errors (each already reported).
bool parseSource(const std::string &path, const std::string &text,
                 ast::Module &module, Diagnostics &diags);

/// Resolves imports (parsing imported files into `module`), names, shapes
/// and settings. Returns false if any error was reported.
bool analyzeModule(ast::Module &module, Diagnostics &diags, FileLoader &loader);

} // namespace flowc

#endif // FLOWC_LANG_FRONTEND_H
