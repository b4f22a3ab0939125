//===- ImageData.cpp - Image data sets read from disk ---------------------===//
//
// The built-in image sets of Data.h: scikit-learn's 8x8 digits
// (digits.csv.gz: 64 pixel values 0..16 and the label per line) and
// Fashion-MNIST (gzipped IDX files, as Debian's dataset-fashion-mnist ships
// them). Pixels are scaled to [-1, 1]; images are flat rows of C*H*W
// values. A batch draws images uniformly with replacement from a CPU
// generator seeded with the stream key, like the toy sets.
//
//===----------------------------------------------------------------------===//

#include "Data.h"

#include <ATen/CPUGeneratorImpl.h>

#ifdef FLOWRT_HAVE_ZLIB
#include <zlib.h>
#endif

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <set>
#include <stdexcept>
#include <vector>

using namespace flowrt;

namespace {

/// The whole of a gzip file (or of a plain file: gzread passes it through).
std::string readGzip(const std::string &path) {
#ifdef FLOWRT_HAVE_ZLIB
  gzFile f = gzopen(path.c_str(), "rb");
  if (!f)
    throw std::runtime_error("cannot open " + path);
  std::string out;
  char chunk[1 << 16];
  int got;
  while ((got = gzread(f, chunk, sizeof chunk)) > 0)
    out.append(chunk, got);
  int err = 0;
  const char *message = got < 0 ? gzerror(f, &err) : nullptr;
  std::string error = message ? message : "";
  gzclose(f);
  if (got < 0)
    throw std::runtime_error("cannot read " + path + ": " + error);
  return out;
#else
  throw std::runtime_error("cannot read " + path + ": the runtime was built without zlib");
#endif
}

bool isFile(const std::string &path) { return std::ifstream(path).good(); }

/// The first folder of $FLOWC_DATA_DIR and the standard places that holds
/// `file`, or an error that says where it looked and how to get it.
std::string findDataFile(const std::string &set, const std::vector<std::string> &dirs,
                         const std::string &file) {
  std::vector<std::string> tried;
  if (const char *env = std::getenv("FLOWC_DATA_DIR"))
    tried.push_back(std::string(env) + "/" + set);
  tried.insert(tried.end(), dirs.begin(), dirs.end());
  for (const std::string &dir : tried)
    if (isFile(dir + "/" + file))
      return dir + "/" + file;
  std::string where;
  for (const std::string &dir : tried)
    where += "\n  " + dir + "/" + file;
  throw std::runtime_error("cannot find the " + set + " data; looked for:" + where +
                           "\nrun scripts/setup.sh (it installs them) or set FLOWC_DATA_DIR "
                           "to a folder with " + set + "/" + file);
}

/// Images [n, C*H*W] in [-1, 1] and labels [n], both float.
struct Images {
  torch::Tensor x, labels;
};

/// scikit-learn's digits.csv.gz: 1797 lines of 64 pixels (0..16) and a label.
Images loadDigits() {
  std::string path = findDataFile(
      "digits",
      {"/usr/share/datasets/digits", "/usr/lib/python3/dist-packages/sklearn/datasets/data"},
      "digits.csv.gz");
  std::istringstream text(readGzip(path));
  std::vector<float> pixels, labels;
  std::string line;
  for (int64_t row = 1; std::getline(text, line); ++row) {
    if (line.empty())
      continue;
    std::istringstream fields(line);
    std::string field;
    std::vector<float> values;
    while (std::getline(fields, field, ','))
      values.push_back(std::strtof(field.c_str(), nullptr));
    if (values.size() != 65)
      throw std::runtime_error(path + ":" + std::to_string(row) + ": expected 65 values " +
                               "(64 pixels and a label) but found " +
                               std::to_string(values.size()));
    for (int i = 0; i < 64; ++i)
      pixels.push_back(values[i] / 8.0f - 1.0f); // 0..16 -> [-1, 1]
    labels.push_back(values[64]);
  }
  int64_t n = static_cast<int64_t>(labels.size());
  return {torch::from_blob(pixels.data(), {n, 64}).clone(),
          torch::from_blob(labels.data(), {n}).clone()};
}

uint32_t bigEndian(const std::string &bytes, size_t at) {
  auto b = [&](size_t i) { return uint32_t(uint8_t(bytes.at(at + i))); };
  return b(0) << 24 | b(1) << 16 | b(2) << 8 | b(3);
}

/// One gzipped IDX file of unsigned bytes: its dimensions and its data.
std::pair<std::vector<int64_t>, torch::Tensor> readIdx(const std::string &path) {
  std::string bytes = readGzip(path);
  if (bytes.size() < 4 || bytes[0] != 0 || bytes[1] != 0 || bytes[2] != 0x08)
    throw std::runtime_error(path + " is not an IDX file of unsigned bytes");
  int rank = uint8_t(bytes[3]);
  std::vector<int64_t> dims;
  int64_t count = 1;
  for (int i = 0; i < rank; ++i) {
    dims.push_back(bigEndian(bytes, 4 + 4 * i));
    count *= dims.back();
  }
  size_t offset = 4 + 4 * size_t(rank);
  if (bytes.size() != offset + size_t(count))
    throw std::runtime_error(path + ": the header promises " + std::to_string(count) +
                             " bytes but the file has " +
                             std::to_string(bytes.size() - offset));
  torch::Tensor data =
      torch::from_blob(bytes.data() + offset, {count}, torch::kUInt8).to(torch::kFloat);
  return {dims, data};
}

/// Fashion-MNIST's training (60000) or test (10000) images, 28x28.
Images loadFashionMnist(bool test) {
  std::vector<std::string> dirs = {"/usr/share/datasets/fashion-mnist"};
  std::string prefix = test ? "t10k" : "train";
  std::string imagesPath = findDataFile("fashion-mnist", dirs, prefix + "-images-idx3-ubyte.gz");
  std::string labelsPath = findDataFile("fashion-mnist", dirs, prefix + "-labels-idx1-ubyte.gz");
  auto [imageDims, pixels] = readIdx(imagesPath);
  auto [labelDims, labels] = readIdx(labelsPath);
  if (imageDims.size() != 3 || imageDims[1] != 28 || imageDims[2] != 28 ||
      labelDims.size() != 1 || labelDims[0] != imageDims[0])
    throw std::runtime_error(imagesPath + " and " + labelsPath +
                             " are not n 28x28 images and n labels");
  return {pixels.view({imageDims[0], 28 * 28}) / 127.5 - 1.0, labels};
}

/// Draws images with replacement; every batch a function of its stream key.
class ImageDataSet : public DataSet {
public:
  explicit ImageDataSet(Images images) : images(std::move(images)) {}
  int64_t dim() const override { return images.x.size(1); }
  int64_t classes() const override { return 10; }
  Batch draw(int64_t n, uint64_t stream) const override {
    at::Generator gen = at::detail::createCPUGenerator(stream);
    torch::Tensor index = torch::randint(0, images.x.size(0), {n}, gen, torch::kLong);
    return {images.x.index_select(0, index).contiguous(),
            images.labels.index_select(0, index).contiguous()};
  }
  std::optional<Batch> all() const override { return Batch{images.x, images.labels}; }

private:
  Images images;
};

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
    only({});
    return std::make_unique<ImageDataSet>(loadDigits());
  }
  if (generator == "images.fashion_mnist") {
    only({"test"});
    auto test = params.find("test");
    return std::make_unique<ImageDataSet>(
        loadFashionMnist(test != params.end() && test->second != 0));
  }
  throw std::invalid_argument("unknown data set '" + generator +
                              "' (built-in images: images.digits, images.fashion_mnist)");
}
