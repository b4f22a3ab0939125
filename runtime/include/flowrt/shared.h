//===- shared.h - Facts the compiler and the runtime both rely on --*- C++ -*-===//
//
// What flowc compiles and what libflowrt runs must agree on a few facts that
// are not in the C interface (flowrt.h): how the MLP's parameters are packed
// for kernels that evaluate it themselves, the width of its class
// embedding, and the built-in data generators with their parameters'
// defaults, the shape of a sample and the number of classes. They are
// written here once; Sema, the trajectory lowering, the runtime's networks
// and its data sets all include this header. Plain C++17, no dependencies.
//
//===----------------------------------------------------------------------===//
#ifndef FLOWRT_SHARED_H
#define FLOWRT_SHARED_H

#include <cstdint>
#include <cstring>
#include <utility>
#include <vector>

namespace flowrt {

/// The frequencies f_i of a Fourier time embedding with `features` outputs,
/// [sin(2 pi f_i t)..., cos(2 pi f_i t)...]: the half-integers 1/2, 3/2,
/// ..., (features - 1) / 2. Integer frequencies would repeat with period
/// 1, giving t = 0 and t = 1 the same features, so a two-time map could
/// not tell the step from 0 to 1 (all the way) from the one from 0 to 0
/// (no step); half-integers keep every t in [0, 1] apart.
inline std::vector<double> fourierFrequencies(int64_t features) {
  std::vector<double> freqs;
  for (int64_t i = 0; i < features / 2; ++i)
    freqs.push_back(static_cast<double>(i) + 0.5);
  return freqs;
}

/// Width of the learned class embedding of a conditional MLP.
inline constexpr int64_t ClassEmbeddingDim = 32;

/// Where an MLP's parameters live in its packed buffer (flowrt_net_weights):
/// for layers l = 0..depth (depth hidden layers, then the output layer), W_l
/// transposed ([in_l, out_l] row-major) then the bias [out_l]; then, for a
/// conditional network, the class embedding table [classes + 1, embedDim]
/// (the last row the null class). The first layer's inputs are x, the time
/// features (t itself when there are none) and the class embedding.
struct MlpLayout {
  std::vector<int64_t> in, out, weightOffset, biasOffset;
  int64_t embedDim = 0, embeddingOffset = 0, total = 0;
};

inline MlpLayout mlpLayout(int64_t dim, int64_t width, int64_t depth, int64_t timeFeatures,
                           int64_t classes) {
  MlpLayout l;
  l.embedDim = classes > 0 ? ClassEmbeddingDim : 0;
  int64_t in = dim + (timeFeatures > 0 ? timeFeatures : 1) + l.embedDim;
  for (int64_t i = 0; i <= depth; ++i) {
    int64_t out = i < depth ? width : dim;
    l.in.push_back(in);
    l.out.push_back(out);
    l.weightOffset.push_back(l.total);
    l.biasOffset.push_back(l.total + in * out);
    l.total += in * out + out;
    in = out;
  }
  l.embeddingOffset = l.total;
  if (classes > 0)
    l.total += (classes + 1) * l.embedDim;
  return l;
}

/// A built-in data generator: its name, its parameters with their defaults,
/// the shape of one sample and the number of classes of its labels; for
/// token data, the number of token ids (values 0 .. tokens - 1) and the
/// character of each id when samples are written as text.
struct GeneratorInfo {
  const char *name;
  std::vector<std::pair<const char *, double>> params;
  std::vector<int64_t> shape;
  int64_t classes;
  int64_t tokens = 0;
  const char *alphabet = nullptr;
};

inline const std::vector<GeneratorInfo> &builtinGenerators() {
  static const std::vector<GeneratorInfo> generators = {
      {"toy.moons", {{"noise", 0.05}}, {2}, 2},
      {"toy.eight_gaussians", {{"scale", 4.0}, {"noise", 0.1}}, {2}, 8},
      {"toy.checkerboard", {{"scale", 4.0}}, {2}, 8},
      {"toy.circles", {{"noise", 0.05}, {"factor", 0.8}}, {2}, 2}, // sklearn defaults
      // The checkerboard's points as tokens: each coordinate's level of 32
      // over [-4, 4] (8 levels to a cell).
      {"toy.checkerboard_tokens", {}, {2}, 8, 32},
      // Images in [-1, 1], channels first.
      // train: 1 the 1500 digits eval's classifier trains on, test: 1 the
      // other 297 (a fixed random split); neither: all 1797.
      {"images.digits", {{"train", 0.0}, {"test", 0.0}}, {1, 8, 8}, 10},
      {"images.fashion_mnist", {{"test", 0.0}}, {1, 28, 28}, 10},
      // English words of 4 to 7 lowercase letters (Debian's wamerican), as
      // 7 token ids: a..z are 1..26, 0 ends the word and pads it. test: 1
      // every tenth word of the list (10th, 20th, ...), train: 1 the
      // others; neither: all.
      {"text.words", {{"train", 0.0}, {"test", 0.0}}, {7}, 0, 27,
       "_abcdefghijklmnopqrstuvwxyz"},
  };
  return generators;
}

/// The built-in generator called `name`, or null.
inline const GeneratorInfo *findGenerator(const char *name) {
  for (const GeneratorInfo &g : builtinGenerators())
    if (std::strcmp(g.name, name) == 0)
      return &g;
  return nullptr;
}

} // namespace flowrt

#endif // FLOWRT_SHARED_H
