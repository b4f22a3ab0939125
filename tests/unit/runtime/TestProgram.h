//===- TestProgram.h - A hand-written flow program for runtime tests ------===//
//
// Stands in for what flowc generates: a flowrt_program for rectified flow on
// toy.moons (linear path x_t = (1 - t) x0 + t x1, target x1 - x0, mean
// squared error) with an Euler solver, written in plain C++ against the C
// interface only. Its "kernels" draw noise from std::mt19937_64 seeded by
// (seed, step), like generated kernels seed Philox. Also helpers to run
// flowrt_main on an argument list and to make scratch directories.
//
//===----------------------------------------------------------------------===//
#ifndef FLOWRT_TESTS_TESTPROGRAM_H
#define FLOWRT_TESTS_TESTPROGRAM_H

#include "flowrt/flowrt.h"

#include <cstdint>
#include <string>
#include <vector>

namespace flowrt_test {

constexpr int64_t Dim = 2;

/// A generated region's stand-in: outputs[0][i] = mean_j (a_ij - b_ij)^2
/// for inputs (a, b), with an adjoint for a only.
extern const flowrt_region_desc mseRegion;

/// Rectified flow on toy.moons: tiny MLP, Euler solver, quick defaults.
flowrt_program makeTestProgram();

/// Gives `program` one network, the velocity network: its own copy of
/// `model` (kept for the test run), returned to be changed in place; a
/// copied program shares it until given another.
flowrt_model_desc &setModel(flowrt_program &program, const flowrt_model_desc &model);

/// The network setModel gave `program`, to change in place.
flowrt_model_desc &modelOf(flowrt_program &program);

/// A program of [channels, 8, 8] images whose one network is a small
/// `kind` ("unet" or "dit") with `classes` classes (no host functions).
flowrt_program makeImageProgram(const char *kind, int64_t channels, int64_t classes);

/// Runs flowrt_main(program, {"prog", args...}).
int runMain(const flowrt_program &program, std::vector<std::string> args);

/// A fresh empty directory under $TMPDIR (or /tmp), removed with its
/// contents by the destructor. POSIX calls, not std::filesystem: see
/// runtime/src/Files.h for why programs linked with LibTorch avoid it.
class ScratchDir {
public:
  ScratchDir();
  ~ScratchDir();
  ScratchDir(const ScratchDir &) = delete;
  ScratchDir &operator=(const ScratchDir &) = delete;
  /// The directory, or `child` inside it.
  std::string str(const std::string &child = "") const {
    return child.empty() ? dir : dir + "/" + child;
  }

private:
  std::string dir;
};

/// The names in a directory, without "." and "..".
std::vector<std::string> listDirectory(const std::string &dir);

} // namespace flowrt_test

#endif // FLOWRT_TESTS_TESTPROGRAM_H
