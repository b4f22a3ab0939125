//===- Data.cpp - Built-in toy data generators ----------------------------===//
//
// Implements the 2-D toy data sets of Data.h. Each batch uses its own CPU
// generator seeded with the stream key, so batches depend on nothing but the
// key: not on earlier batches, on threads or on how a run was resumed.
//
//===----------------------------------------------------------------------===//

#include "Data.h"
#include "Files.h"
#include "flowrt/shared.h"

#include <ATen/CPUGeneratorImpl.h>

#include <cmath>
#include <cstdlib>
#include <set>
#include <stdexcept>

using namespace flowrt;

namespace {

constexpr double Pi = 3.14159265358979323846;

/// A parameter list with defaults that rejects names a generator lacks.
class Params {
public:
  Params(const GeneratorInfo &info, std::map<std::string, double> values)
      : info(info), values(std::move(values)) {}

  /// The value given for `name`, or its default (shared.h).
  double get(const std::string &name) {
    known.insert(name);
    auto it = values.find(name);
    if (it != values.end())
      return it->second;
    for (const auto &[param, fallback] : info.params)
      if (name == param)
        return fallback;
    throw std::logic_error("data set " + std::string(info.name) + " has no default for " + name);
  }

  /// Throws if a parameter was given that no get() asked for.
  void checkAllKnown() const {
    for (const auto &[name, value] : values)
      if (!known.count(name))
        throw std::invalid_argument("data set " + std::string(info.name) +
                                    " has no parameter '" + name + "'");
  }

private:
  const GeneratorInfo &info;
  std::map<std::string, double> values;
  std::set<std::string> known;
};

/// Points [n, 2] and labels [n], both double.
using Labelled = std::pair<torch::Tensor, torch::Tensor>;

/// A 2-D toy set drawn by a function of (n, generator).
class ToyDataSet : public DataSet {
public:
  using Draw = std::function<Labelled(int64_t, at::Generator &)>;
  ToyDataSet(Draw drawFn, int64_t numClasses)
      : drawFn(std::move(drawFn)), numClasses(numClasses) {}

  int64_t dim() const override { return 2; }
  int64_t classes() const override { return numClasses; }

  Batch draw(int64_t n, uint64_t stream) const override {
    at::Generator gen = at::detail::createCPUGenerator(stream);
    auto [x, labels] = drawFn(n, gen);
    return {x.to(torch::kFloat).contiguous(),
            labels.to(torch::kFloat).contiguous()};
  }

private:
  Draw drawFn;
  int64_t numClasses;
};

torch::Tensor uniform(int64_t n, at::Generator &gen) {
  return torch::rand({n}, gen, torch::kDouble);
}

torch::Tensor normal(int64_t n, at::Generator &gen) {
  return torch::randn({n}, gen, torch::kDouble);
}

Labelled moons(int64_t n, at::Generator &gen, double noise) {
  torch::Tensor lower = uniform(n, gen) < 0.5;
  torch::Tensor angle = uniform(n, gen) * Pi;
  torch::Tensor x =
      torch::where(lower, 1 - torch::cos(angle), torch::cos(angle));
  torch::Tensor y =
      torch::where(lower, 0.5 - torch::sin(angle), torch::sin(angle));
  x = x + noise * normal(n, gen);
  y = y + noise * normal(n, gen);
  return {torch::stack({(x - 0.5) * (4.0 / 3.0), (y - 0.25) * (4.0 / 3.0)}, 1),
          lower.to(torch::kDouble)};
}

Labelled eightGaussians(int64_t n, at::Generator &gen, double scale,
                             double noise) {
  torch::Tensor k = torch::randint(0, 8, {n}, gen, torch::kDouble);
  torch::Tensor x = scale * torch::cos(k * (Pi / 4)) + noise * normal(n, gen);
  torch::Tensor y = scale * torch::sin(k * (Pi / 4)) + noise * normal(n, gen);
  return {torch::stack({x, y}, 1) / std::sqrt(2.0), k};
}

Labelled checkerboard(int64_t n, at::Generator &gen, double scale) {
  // FFJORD's construction on [-2, 2]^2, then scaled to [-scale, scale]^2.
  torch::Tensor x = uniform(n, gen) * 4 - 2;
  torch::Tensor row = torch::randint(0, 2, {n}, gen, torch::kDouble);
  torch::Tensor y =
      uniform(n, gen) - 2 * row + torch::remainder(torch::floor(x), 2.0);
  torch::Tensor column = torch::floor(x) + 2; // 0..3
  return {torch::stack({x, y}, 1) * (scale / 2), 2 * column + row};
}

Labelled circles(int64_t n, at::Generator &gen, double noise,
                      double factor) {
  torch::Tensor inner = uniform(n, gen) < 0.5;
  torch::Tensor angle = uniform(n, gen) * (2 * Pi);
  torch::Tensor radius =
      torch::where(inner, torch::full({n}, factor, torch::kDouble),
                   torch::ones({n}, torch::kDouble));
  torch::Tensor x = radius * torch::cos(angle) + noise * normal(n, gen);
  torch::Tensor y = radius * torch::sin(angle) + noise * normal(n, gen);
  return {torch::stack({x, y}, 1) * 2, inner.to(torch::kDouble)};
}

} // namespace

std::unique_ptr<DataSet>
flowrt::makeDataSet(const std::string &generator,
                    const std::map<std::string, double> &values) {
  if (generator.rfind("images.", 0) == 0)
    return makeImageDataSet(generator, values);
  if (generator.rfind("text.", 0) == 0)
    return makeTextDataSet(generator, values);
  const GeneratorInfo *info = findGenerator(generator.c_str());
  if (!info)
    throw std::invalid_argument(
        "unknown data set '" + generator +
        "' (built-in: toy.moons, toy.eight_gaussians, toy.checkerboard, "
        "toy.checkerboard_tokens, toy.circles, images.digits, images.fashion_mnist, text.words)");
  Params params(*info, values);
  ToyDataSet::Draw draw;
  if (generator == "toy.moons") {
    double noise = params.get("noise");
    draw = [=](int64_t n, at::Generator &gen) { return moons(n, gen, noise); };
  } else if (generator == "toy.eight_gaussians") {
    double scale = params.get("scale"), noise = params.get("noise");
    draw = [=](int64_t n, at::Generator &gen) {
      return eightGaussians(n, gen, scale, noise);
    };
  } else if (generator == "toy.checkerboard") {
    double scale = params.get("scale");
    draw = [=](int64_t n, at::Generator &gen) {
      return checkerboard(n, gen, scale);
    };
  } else if (generator == "toy.checkerboard_tokens") {
    draw = [](int64_t n, at::Generator &gen) {
      auto [x, label] = checkerboard(n, gen, 4.0);
      return Labelled{torch::clamp(torch::floor((x + 4.0) * (32.0 / 8.0)), 0, 31), label};
    };
  } else if (generator == "toy.circles") {
    double noise = params.get("noise");
    double factor = params.get("factor");
    draw = [=](int64_t n, at::Generator &gen) {
      return circles(n, gen, noise, factor);
    };
  } else {
    throw std::logic_error("data set " + generator + " is in shared.h but not drawn here");
  }
  params.checkAllKnown();
  return std::make_unique<ToyDataSet>(std::move(draw), info->classes);
}

std::unique_ptr<DataSet> flowrt::makeDataSet(const flowrt_data_desc &desc) {
  if (!desc.generator)
    throw std::invalid_argument("the program names no data set");
  std::map<std::string, double> params;
  for (int32_t i = 0; i < desc.num_params; ++i)
    params[desc.param_names[i]] = desc.param_values[i];
  std::unique_ptr<DataSet> data = std::string(desc.generator) == "file"
                                      ? makeFileDataSet(desc)
                                      : makeDataSet(desc.generator, params);
  if (desc.dim != data->dim())
    throw std::invalid_argument(std::string("data set ") + desc.generator +
                                " has " + std::to_string(data->dim()) +
                                " features but the program expects " +
                                std::to_string(desc.dim));
  if (desc.classes != 0 && desc.classes != data->classes())
    throw std::invalid_argument(std::string("data set ") + desc.generator +
                                " has " + std::to_string(data->classes()) +
                                " classes but the program expects " +
                                std::to_string(desc.classes));
  return data;
}

std::string flowrt::findDataFile(const std::string &set, const std::vector<std::string> &dirs,
                         const std::string &file) {
  std::vector<std::string> tried;
  if (const char *env = std::getenv("FLOWC_DATA_DIR"))
    tried.push_back(std::string(env) + "/" + set);
  tried.insert(tried.end(), dirs.begin(), dirs.end());
  for (const std::string &dir : tried)
    if (pathExists(dir + "/" + file))
      return dir + "/" + file;
  std::string where;
  for (const std::string &dir : tried)
    where += "\n  " + dir + "/" + file;
  throw std::runtime_error("cannot find the " + set + " data; looked for:" + where +
                           "\nrun scripts/setup.sh (it installs them) or set FLOWC_DATA_DIR "
                           "to a folder with " + set + "/" + file);
}
