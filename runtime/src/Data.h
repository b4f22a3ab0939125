//===- Data.h - Built-in data sets ------------------------------*- C++ -*-===//
//
// A DataSet draws batches of a spec's data. Every batch is a pure function of
// a 64-bit stream key (the runtime derives it from the seed, the step and the
// call), so a resumed training run draws exactly the batches it would have
// drawn without the interruption. The toy generators and the units they use
// are documented on makeDataSet.
//
//===----------------------------------------------------------------------===//
#ifndef FLOWRT_DATA_H
#define FLOWRT_DATA_H

#include "flowrt/flowrt.h"

#include <torch/torch.h>

#include <map>
#include <memory>
#include <optional>
#include <string>

namespace flowrt {

/// A batch of data: points, their class labels and their conditions.
struct Batch {
  torch::Tensor x;      ///< float32 [n, dim]
  torch::Tensor labels; ///< float32 [n], 0 .. classes - 1
  torch::Tensor conds;  ///< float32 [n, cond_dim]; undefined without conditions
};

/// A source of data batches.
class DataSet {
public:
  virtual ~DataSet() = default;
  /// Features per sample.
  virtual int64_t dim() const = 0;
  /// Number of classes of the labels (each toy set has natural ones).
  virtual int64_t classes() const = 0;
  /// A batch of n points and labels, determined by `stream` alone.
  virtual Batch draw(int64_t n, uint64_t stream) const = 0;
  /// The points of draw(n, stream).
  torch::Tensor sample(int64_t n, uint64_t stream) const {
    return draw(n, stream).x;
  }
  /// Every point of a finite data set (images read from disk); none for a
  /// generator.
  virtual std::optional<Batch> all() const { return std::nullopt; }
};

/// The data set a spec names. Built-in 2-D toy generators (all parameters
/// optional; noise is a Gaussian standard deviation):
///
/// - `toy.moons(noise = 0.05)`: scikit-learn's make_moons (two half circles of
///   radius 1, the lower one shifted by (1, -0.5)) with points at uniform
///   random angles and noise in those units, then centred and scaled to
///   ((x, y) - (0.5, 0.25)) * 4/3, so x lies in [-2, 2] and y in [-1, 1].
///   Label 0 the upper moon, 1 the lower (as make_moons).
/// - `toy.eight_gaussians(scale = 4, noise = 0.1)`: centres at scale *
///   (cos k pi/4, sin k pi/4), plus noise, then divided by sqrt(2) as in FFJORD
///   and torchcfm (centres on a circle of radius 2.83 for scale 4). Label k.
/// - `toy.checkerboard(scale = 4)`: uniform over the 8 dark cells of a 4x4
///   checkerboard covering [-scale, scale]^2 (FFJORD's for scale 4). Label
///   2 * column + row of the cell, 0..7, columns counted from the left.
/// - `toy.checkerboard_tokens()`: its points (scale 4) as token data, each
///   coordinate's level 0..31 over [-4, 4] (a cell is 8 levels wide).
/// - `toy.circles(noise = 0.05, factor = 0.8)`: scikit-learn's make_circles
///   (radii 1 and factor, half the points each) scaled by 2, so the outer
///   circle has radius 2. Label 0 the outer circle, 1 the inner (as
///   make_circles).
///
/// Image sets, read from disk (ImageData.cpp), pixels scaled to [-1, 1],
/// each image a flat row of C*H*W values, 10 classes:
///
/// - `images.digits()`: scikit-learn's 1797 8x8 digits (digits.csv.gz,
///   pixels 0..16), [1, 8, 8].
/// - `images.fashion_mnist(test = 0)`: Fashion-MNIST's 60000 training images,
///   or with test = 1 its 10000 test images (gzipped IDX), [1, 28, 28].
///
/// They are looked for in $FLOWC_DATA_DIR/<set>/ and then where
/// scripts/setup.sh installs them (/usr/share/datasets/<set>/).
///
/// The generator "file" (a spec's file(...)) is makeFileDataSet's.
///
/// Throws std::invalid_argument for an unknown generator, an unknown
/// parameter or a dimension the generator cannot produce, and
/// std::runtime_error for image files that cannot be found or read.
std::unique_ptr<DataSet> makeDataSet(const flowrt_data_desc &desc);

/// A finite set of samples x [N, D] with labels [N] (float, 0 .. classes -
/// 1) and optionally conditions [N, C]: a batch draws rows uniformly with
/// replacement from a CPU generator seeded with the stream key, like the
/// toy sets.
std::unique_ptr<DataSet> makeRowDataSet(Batch rows, int64_t classes);

/// A spec's `file(...)` data (FileData.cpp): the samples of desc.path
/// (.npy, .csv or IDX; bytes are pixels, scaled to [-1, 1], other numbers
/// are kept), the labels of desc.labels_path and the conditions of
/// desc.cond_path (one per sample, of desc.cond_shape). Throws
/// std::runtime_error naming the file for a missing or unreadable file, a
/// sample or condition shape other than the spec's (both shapes shown), a
/// file of another number of samples or a label outside 0 .. classes - 1.
std::unique_ptr<DataSet> makeFileDataSet(const flowrt_data_desc &desc);

/// The conditions in the file `path` (a data set's, or `sample --cond`'s),
/// float [N, desc.cond_dim], each checked to be of desc.cond_shape: throws
/// std::runtime_error naming the file and both shapes otherwise.
torch::Tensor readConditions(const std::string &path, const flowrt_data_desc &desc);

/// The path of `file` in $FLOWC_DATA_DIR/<set>, else in the first of
/// `dirs` that holds it; std::runtime_error saying where it looked and
/// how to get it otherwise.
std::string findDataFile(const std::string &set, const std::vector<std::string> &dirs,
                         const std::string &file);

/// The `text.*` sets of makeDataSet (TextData.cpp): token ids, one sample
/// per word.
std::unique_ptr<DataSet> makeTextDataSet(const std::string &generator,
                                         const std::map<std::string, double> &params);

/// The `images.*` sets of makeDataSet.
std::unique_ptr<DataSet> makeImageDataSet(const std::string &generator,
                                          const std::map<std::string, double> &params);

/// Same, from a name and parameters (for tests and tools).
std::unique_ptr<DataSet>
makeDataSet(const std::string &generator,
            const std::map<std::string, double> &params = {});

} // namespace flowrt

#endif // FLOWRT_DATA_H
