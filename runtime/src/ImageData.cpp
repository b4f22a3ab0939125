//===- ImageData.cpp - Image data sets read from disk ---------------------===//
//
// The built-in image sets of Data.h: scikit-learn's 8x8 digits
// (digits.csv.gz: 64 pixel values 0..16 and the label per line) and
// Fashion-MNIST (gzipped IDX files, as Debian's dataset-fashion-mnist ships
// them). Pixels are scaled to [-1, 1]; images are flat rows of C*H*W
// values, drawn like the rows of a user's data file (FileData.cpp).
//
//===----------------------------------------------------------------------===//

#include "ArrayFiles.h"
#include "Data.h"
#include "Files.h"

#include <cstdlib>
#include <set>
#include <stdexcept>
#include <vector>

using namespace flowrt;

namespace {

/// scikit-learn's digits.csv.gz: 1797 lines of 64 pixels (0..16) and a label.
Batch loadDigits() {
  std::string path = findDataFile(
      "digits",
      {"/usr/share/datasets/digits", "/usr/lib/python3/dist-packages/sklearn/datasets/data"},
      "digits.csv.gz");
  torch::Tensor rows = readCsv(path).to(torch::kFloat);
  if (rows.size(1) != 65)
    throw std::runtime_error(path + ": expected 65 values per line (64 pixels and a label) " +
                             "but found " + std::to_string(rows.size(1)));
  return {(rows.slice(1, 0, 64) / 8.0 - 1.0).contiguous(), // 0..16 -> [-1, 1]
          rows.select(1, 64).contiguous()};
}

/// The digits of one part of a fixed random split (the file is ordered by
/// writer): part 1 the first 1500 of a seeded permutation, part 2 the other
/// 297; part 0 all of them.
Batch digitsPart(int part) {
  Batch all = loadDigits();
  if (part == 0)
    return all;
  at::Generator gen = at::detail::createCPUGenerator(0);
  torch::Tensor order = torch::randperm(all.x.size(0), gen, torch::kLong);
  torch::Tensor chosen = part == 1 ? order.slice(0, 0, 1500) : order.slice(0, 1500);
  return {all.x.index_select(0, chosen).contiguous(),
          all.labels.index_select(0, chosen).contiguous()};
}

/// Fashion-MNIST's training (60000) or test (10000) images, 28x28.
Batch loadFashionMnist(bool test) {
  std::vector<std::string> dirs = {"/usr/share/datasets/fashion-mnist"};
  std::string prefix = test ? "t10k" : "train";
  std::string imagesPath = findDataFile("fashion-mnist", dirs, prefix + "-images-idx3-ubyte.gz");
  std::string labelsPath = findDataFile("fashion-mnist", dirs, prefix + "-labels-idx1-ubyte.gz");
  torch::Tensor pixels = readIdx(imagesPath), labels = readIdx(labelsPath);
  if (pixels.dim() != 3 || pixels.size(1) != 28 || pixels.size(2) != 28 ||
      pixels.scalar_type() != torch::kUInt8 || labels.dim() != 1 ||
      labels.size(0) != pixels.size(0))
    throw std::runtime_error(imagesPath + " and " + labelsPath +
                             " are not n 28x28 images of bytes and n labels");
  return {pixels.reshape({pixels.size(0), 28 * 28}).to(torch::kFloat) / 127.5 - 1.0,
          labels.to(torch::kFloat)};
}

} // namespace

std::unique_ptr<DataSet>
flowrt::makeImageDataSet(const std::string &generator,
                         const std::map<std::string, double> &params) {
  auto only = [&](std::set<std::string> known) {
    for (const auto &[name, value] : params)
      if (!known.count(name))
        throw std::invalid_argument("data set " + generator + " has no parameter '" + name +
                                    "'");
  };
  if (generator == "images.digits") {
    only({"train", "test"});
    auto flag = [&](const char *name) {
      auto it = params.find(name);
      return it != params.end() && it->second != 0;
    };
    if (flag("train") && flag("test"))
      throw std::invalid_argument("images.digits takes train: 1 or test: 1, not both");
    return makeRowDataSet(digitsPart(flag("train") ? 1 : flag("test") ? 2 : 0), 10);
  }
  if (generator == "images.fashion_mnist") {
    only({"test"});
    auto test = params.find("test");
    return makeRowDataSet(loadFashionMnist(test != params.end() && test->second != 0), 10);
  }
  throw std::invalid_argument("unknown data set '" + generator +
                              "' (built-in images: images.digits, images.fashion_mnist)");
}
