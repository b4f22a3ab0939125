//===- LangTestUtil.h - Helpers for the front-end unit tests ----*- C++ -*-===//
//
// A Diagnostics that collects errors, an in-memory FileLoader, and helpers to
// parse and check a spec in one call and to find declarations by name.
//
//===----------------------------------------------------------------------===//
#ifndef FLOWC_TESTS_UNIT_LANG_LANGTESTUTIL_H
#define FLOWC_TESTS_UNIT_LANG_LANGTESTUTIL_H

#include "flowc/Lang/Frontend.h"

#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

namespace flowc::test {

/// One reported error.
struct Error {
  std::string file;
  unsigned line, col;
  std::string message;
};

/// Collects errors instead of printing them.
class CollectingDiagnostics : public Diagnostics {
public:
  std::vector<Error> errors;
  void error(const ast::Location &loc, const std::string &message) override {
    errors.push_back({loc.file, loc.line, loc.col, message});
  }
  std::string dump() const {
    std::string out;
    for (const Error &e : errors)
      out += e.file + ":" + std::to_string(e.line) + ":" +
             std::to_string(e.col) + ": " + e.message + "\n";
    return out;
  }
};

/// The repository root, for stdlib/.
inline std::string sourceDir() {
#ifdef FLOWC_SOURCE_DIR
  return FLOWC_SOURCE_DIR;
#else
  std::string here = __FILE__; // <root>/tests/unit/lang/LangTestUtil.h
  for (int i = 0; i < 4; ++i)
    here = here.substr(0, here.find_last_of('/'));
  return here;
#endif
}

/// Serves files from a map; falls back to the disk when `useDisk` is set.
/// std.optimizers, which train blocks import implicitly, always comes from
/// the source tree.
class MemoryLoader : public FileLoader {
public:
  std::map<std::string, std::string> files;
  bool useDisk = false;
  std::vector<std::string> loaded;
  std::optional<std::string> load(const std::string &path) override {
    loaded.push_back(path);
    auto it = files.find(path);
    if (it != files.end())
      return it->second;
    const std::string optimizers = "std/optimizers.flow";
    bool isOptimizers = path.size() >= optimizers.size() &&
                        path.compare(path.size() - optimizers.size(), optimizers.size(),
                                     optimizers) == 0;
    if (useDisk || isOptimizers) {
      std::ifstream in(isOptimizers ? sourceDir() + "/stdlib/" + optimizers : path);
      if (in) {
        std::stringstream s;
        s << in.rdbuf();
        return s.str();
      }
    }
    return std::nullopt;
  }
};

/// Parses `text` as `file` and, when it parses, runs Sema.
inline bool check(const std::string &text, ast::Module &module,
                  CollectingDiagnostics &diags, FileLoader &loader,
                  const std::string &file = "test.flow") {
  if (!parseSource(file, text, module, diags))
    return false;
  return analyzeModule(module, diags, loader);
}

inline bool check(const std::string &text, ast::Module &module,
                  CollectingDiagnostics &diags) {
  MemoryLoader loader;
  return check(text, module, diags, loader);
}

template <typename T>
T *findDecl(ast::Module &module, const std::string &name) {
  for (auto &d : module.decls)
    if (d && d->name == name)
      if (auto *t = dynamic_cast<T *>(d.get()))
        return t;
  return nullptr;
}

/// The language's running example (docs/language.md), without imports (paths and solvers
/// defined inline).
inline const char *designExample() {
  return R"(// The running example.
data moons = toy.moons(noise: 0.05)
model v = mlp(width: 256, depth: 3, act: silu, time: fourier(16))
path linear(x0, x1, t) = (1 - t) * x0 + t * x1
solver heun = tableau(c: [0, 1], a: [[1]], b: [1/2, 1/2])
flow moons_rf {
  x1 ~ moons
  x0 ~ normal(like: x1)
  t  ~ uniform(0, 1)
  xt = linear(x0, x1, t)
  loss mse(v(xt, t), ddt(xt))
}
train moons_rf { steps: 20000, batch: 4096, optimizer: adam(lr: 1e-3), ema: 0.999, seed: 0 }
sample moons_rf { solver: heun(steps: 32), n: 50000 }
)";
}

} // namespace flowc::test

#endif // FLOWC_TESTS_UNIT_LANG_LANGTESTUTIL_H
