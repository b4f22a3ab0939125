//===- FileData.cpp - A user's data from files ----------------------------===//
//
// The `file("x.npy", shape: [...], labels: "y.npy", classes: K)` data of a
// spec, and the finite row sets that it and the built-in images share. The
// samples' file holds N samples of the spec's shape, up to dimensions of
// size 1 (or N flat rows of as many values, as a .csv does); bytes (uint8) are pixels and are scaled to
// [-1, 1] like the built-in images, other numbers are taken as they are.
// Every mismatch is an error that names the file and both shapes, before
// any training starts.
//
//===----------------------------------------------------------------------===//

#include "ArrayFiles.h"
#include "Data.h"

#include <ATen/CPUGeneratorImpl.h>

#include <stdexcept>

using namespace flowrt;

namespace {

/// Draws rows with replacement; every batch a function of its stream key.
class RowDataSet : public DataSet {
public:
  RowDataSet(Batch rows, int64_t numClasses) : rows(std::move(rows)), numClasses(numClasses) {}
  int64_t dim() const override { return rows.x.size(1); }
  int64_t classes() const override { return numClasses; }
  Batch draw(int64_t n, uint64_t stream) const override {
    at::Generator gen = at::detail::createCPUGenerator(stream);
    torch::Tensor index = torch::randint(0, rows.x.size(0), {n}, gen, torch::kLong);
    return {rows.x.index_select(0, index).contiguous(),
            rows.labels.index_select(0, index).contiguous(),
            rows.conds.defined() ? rows.conds.index_select(0, index).contiguous()
                                 : torch::Tensor()};
  }
  std::optional<Batch> all() const override { return rows; }

private:
  Batch rows;
  int64_t numClasses;
};

/// The arrays of `path` as float [N, dim], each of `shape` (the spec's):
/// the samples (what = "samples") or their conditions.
torch::Tensor readRows(const std::string &path, const std::vector<int64_t> &shape, int64_t dim,
                       const std::string &what) {
  torch::Tensor values = readArrayFile(path);
  auto found = values.sizes();
  // Dimensions of size 1 do not count: grayscale images [N, 28, 28] are
  // samples of shape [1, 28, 28].
  auto withoutOnes = [](at::IntArrayRef dims) {
    std::vector<int64_t> kept;
    for (int64_t d : dims)
      if (d != 1)
        kept.push_back(d);
    return kept;
  };
  bool sameShape = !found.empty() && withoutOnes(found.slice(1)) == withoutOnes(shape);
  bool flatRows = found.size() == 2 && found[1] == dim;
  if ((!sameShape && !flatRows) || found.empty() || found[0] == 0) {
    std::string holds = found.size() < 2 ? "" : ": " + std::to_string(found[0]) + " " + what +
                                                    " of shape " + shapeString(found.slice(1));
    throw std::runtime_error((what == "samples" ? "data file " : "conditions file ") + path +
                             " holds an array of shape " +
                             shapeString(found) + holds + ", but the spec's file(...) says " +
                             what + " of shape " + shapeString(shape) + " (" +
                             std::to_string(dim) + " values each)");
  }
  torch::Tensor x = values.reshape({found[0], dim});
  if (x.scalar_type() == torch::kUInt8)
    return (x.to(torch::kFloat) / 127.5 - 1.0).contiguous();
  x = x.to(torch::kFloat).contiguous();
  if (!torch::isfinite(x).all().item<bool>())
    throw std::runtime_error("data file " + path + " holds NaN or infinite values");
  return x;
}

/// The labels of desc.labels_path for n samples, float [n].
torch::Tensor readLabels(const flowrt_data_desc &desc, int64_t n) {
  std::string path = desc.labels_path;
  torch::Tensor values = readArrayFile(path);
  if (values.dim() == 2 && values.size(1) == 1)
    values = values.squeeze(1);
  if (values.dim() != 1 || values.size(0) != n)
    throw std::runtime_error("labels file " + path + " holds an array of shape " +
                             shapeString(values.sizes()) + ", but the data have " +
                             std::to_string(n) + " samples: expected [" + std::to_string(n) +
                             "]");
  torch::Tensor labels = values.to(torch::kDouble);
  torch::Tensor bad = (labels != labels.round()) | (labels < 0) | (labels >= desc.classes);
  if (bad.any().item<bool>()) {
    int64_t row = bad.nonzero()[0][0].item<int64_t>();
    throw std::runtime_error("labels file " + path + ": label " +
                             std::to_string(labels[row].item<double>()) + " of sample " +
                             std::to_string(row) + " is not a class 0 .. " +
                             std::to_string(desc.classes - 1) + " (the spec says classes: " +
                             std::to_string(desc.classes) + ")");
  }
  return labels.to(torch::kFloat).contiguous();
}

} // namespace

torch::Tensor flowrt::readConditions(const std::string &path, const flowrt_data_desc &desc) {
  return readRows(path, std::vector<int64_t>(desc.cond_shape, desc.cond_shape + desc.cond_rank),
                  desc.cond_dim, "conditions");
}

std::unique_ptr<DataSet> flowrt::makeRowDataSet(Batch rows, int64_t classes) {
  return std::make_unique<RowDataSet>(std::move(rows), classes);
}

std::unique_ptr<DataSet> flowrt::makeFileDataSet(const flowrt_data_desc &desc) {
  if (!desc.path)
    throw std::invalid_argument("the program's file data name no file");
  std::vector<int64_t> shape = desc.shape
                                   ? std::vector<int64_t>(desc.shape, desc.shape + desc.rank)
                                   : std::vector<int64_t>{desc.dim};
  torch::Tensor x = readRows(desc.path, shape, desc.dim, "samples");
  if (desc.vocab > 0 && !desc.tokenizer) { // token data (onehot checks its own)
    torch::Tensor bad = (x != x.round()) | (x < 0) | (x >= desc.vocab);
    if (bad.any().item<bool>()) {
      int64_t row = bad.reshape({x.size(0), -1}).any(1).nonzero()[0][0].item<int64_t>();
      throw std::runtime_error("data file " + std::string(desc.path) + ": sample " +
                               std::to_string(row) + " holds a value that is no token id 0 .. " +
                               std::to_string(desc.vocab - 1) + " (the spec says tokens: " +
                               std::to_string(desc.vocab) + ")");
    }
  }
  torch::Tensor labels = desc.labels_path ? readLabels(desc, x.size(0))
                                          : torch::zeros({x.size(0)});
  torch::Tensor conds;
  if (desc.cond_path) {
    conds = readConditions(desc.cond_path, desc);
    if (conds.size(0) != x.size(0))
      throw std::runtime_error("data file " + std::string(desc.cond_path) + " holds " +
                               std::to_string(conds.size(0)) + " conditions, but " +
                               desc.path + " holds " + std::to_string(x.size(0)) +
                               " samples: one condition per sample");
  }
  return makeRowDataSet({x, labels, conds}, desc.labels_path ? desc.classes : 0);
}
