//===- FuzzSupport.h - What the fuzzers share ---------------------*- C++ -*-===//
//
// The front end's diagnostics sink and a file loader that serves only the
// standard library, for frontend_fuzzer.cpp and pipeline_fuzzer.cpp.
//
//===----------------------------------------------------------------------===//
#ifndef FLOWC_TESTS_FUZZSUPPORT_H
#define FLOWC_TESTS_FUZZSUPPORT_H

#include "flowc/Lang/Frontend.h"

#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>

#ifndef FLOWC_STDLIB_DIR
#error "FLOWC_STDLIB_DIR must name the stdlib/ folder"
#endif

namespace flowc_fuzz {

class CountingDiagnostics : public flowc::Diagnostics {
public:
  void error(const flowc::ast::Location &, const std::string &) override {}
};

/// Serves `<stdlib>/std/*.flow` from memory; every other path fails.
class StdlibLoader : public flowc::FileLoader {
public:
  StdlibLoader() { stdlibDir = FLOWC_STDLIB_DIR; }
  std::optional<std::string> load(const std::string &path) override {
    static std::map<std::string, std::optional<std::string>> cache;
    auto it = cache.find(path);
    if (it != cache.end())
      return it->second;
    std::optional<std::string> text;
    std::string prefix = std::string(FLOWC_STDLIB_DIR) + "/std/";
    if (path.compare(0, prefix.size(), prefix) == 0 &&
        path.find("..") == std::string::npos) {
      std::ifstream in(path);
      if (in) {
        std::stringstream s;
        s << in.rdbuf();
        text = s.str();
      }
    }
    cache[path] = text;
    return text;
  }
};

} // namespace flowc_fuzz

#endif // FLOWC_TESTS_FUZZSUPPORT_H
