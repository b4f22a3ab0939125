//===- Eval.cpp - Image metrics from a classifier trained here ------------===//
//
// Implements Eval.h. The classifier trains with Adam (lr 1e-3, batch 128)
// for a fixed number of steps from seed 0 on the CPU, then is saved beside
// the run, so later evals of the same run reuse it. With FLOWRT_CLASSIFIER_DIR
// set, it is also kept there, shared: a run without one copies it from there
// instead of training it again (the same seed gives the same classifier).
//
//===----------------------------------------------------------------------===//

#include "Eval.h"
#include "Files.h"
#include "Metrics.h"

#include <ATen/CPUGeneratorImpl.h>

#include <cstdio>
#include <cstdlib>
#include <unistd.h>

using namespace flowrt;

namespace {
constexpr int64_t Features = 128, Classes = 10, BatchSize = 128;

int64_t strided(int64_t size) { return (size + 1) / 2; } // 3x3, stride 2, pad 1
} // namespace

ClassifierImpl::ClassifierImpl(int64_t channels, int64_t height, int64_t width)
    : channels(channels), height(height), width(width) {
  using namespace torch::nn;
  conv1 = register_module("conv1", Conv2d(Conv2dOptions(channels, 32, 3).padding(1)));
  conv2 = register_module("conv2", Conv2d(Conv2dOptions(32, 64, 3).stride(2).padding(1)));
  conv3 = register_module("conv3", Conv2d(Conv2dOptions(64, 64, 3).stride(2).padding(1)));
  int64_t flat = 64 * strided(strided(height)) * strided(strided(width));
  hidden = register_module("hidden", Linear(flat, Features));
  out = register_module("out", Linear(Features, Classes));
}

torch::Tensor ClassifierImpl::features(const torch::Tensor &images) {
  torch::Tensor x = images.reshape({-1, channels, height, width});
  x = torch::silu(conv1(x));
  x = torch::silu(conv2(x));
  x = torch::silu(conv3(x));
  return torch::silu(hidden(x.flatten(1)));
}

torch::Tensor ClassifierImpl::forward(const torch::Tensor &images) {
  return classify(features(images));
}

torch::Tensor ClassifierImpl::classify(const torch::Tensor &features) { return out(features); }

ClassifierData flowrt::classifierData(const flowrt_data_desc &desc, const DataSet &data) {
  std::string generator = desc.generator ? desc.generator : "";
  std::optional<Batch> all = data.all();
  if (!all || desc.rank != 3)
    throw std::runtime_error("eval needs an image data set (images.digits or "
                             "images.fashion_mnist), not " + generator);
  ClassifierData out;
  if (generator == "images.digits") {
    out.name = "digits";
    out.binWidth = 1.0 / 8;
    // images.digits' fixed split (train: 1 / test: 1); FD against all.
    out.train = *makeDataSet("images.digits", {{"train", 1}})->all();
    out.heldOut = *makeDataSet("images.digits", {{"test", 1}})->all();
    out.reference = *makeDataSet("images.digits", {})->all();
    return out;
  }
  if (generator == "images.fashion_mnist") {
    out.name = "fashion";
    out.binWidth = 2.0 / 255;
    out.train = *makeDataSet("images.fashion_mnist", {{"test", 0}})->all();
    out.heldOut = *makeDataSet("images.fashion_mnist", {{"test", 1}})->all();
    out.reference = out.heldOut;
    return out;
  }
  throw std::runtime_error("eval has no classifier for " + generator);
}

Classifier flowrt::loadOrTrainClassifier(const ClassifierData &data, int64_t channels,
                                         int64_t height, int64_t width,
                                         const std::string &path, double &accuracy) {
  torch::manual_seed(0);
  Classifier net(channels, height, width);
  auto score = [&] {
    torch::NoGradGuard noGrad;
    net->eval();
    torch::Tensor predicted = net->forward(data.heldOut.x).argmax(1);
    return (predicted == data.heldOut.labels.to(torch::kLong)).to(torch::kDouble).mean()
        .item<double>();
  };
  // The shared copy, written whole under a temporary name then renamed, so
  // that runs in parallel never read half a file.
  const char *shared = std::getenv("FLOWRT_CLASSIFIER_DIR");
  std::string sharedPath =
      shared && *shared ? joinPath(shared, "classifier-" + data.name + ".pt") : std::string();
  auto keep = [&](const std::string &at) {
    std::string temp = at + ".tmp" + std::to_string(::getpid());
    torch::save(net, temp);
    if (std::rename(temp.c_str(), at.c_str()) != 0)
      throw std::runtime_error("cannot write " + at);
  };
  if (pathExists(path) || (!sharedPath.empty() && pathExists(sharedPath))) {
    bool own = pathExists(path);
    torch::load(net, own ? path : sharedPath);
    if (!own)
      keep(path);
    accuracy = score();
    return net;
  }
  // About 170 passes over the digits' 1500, 4 over Fashion-MNIST's 60000.
  int64_t n = data.train.x.size(0);
  int64_t steps = std::max<int64_t>(2000, 3 * n / BatchSize);
  std::fprintf(stderr, "training the %s classifier (%lld steps) for eval; kept as %s\n",
               data.name.c_str(), static_cast<long long>(steps), path.c_str());
  torch::AutoGradMode gradients(true); // callers sample under NoGradGuard
  torch::optim::Adam adam(net->parameters(), torch::optim::AdamOptions(1e-3));
  at::Generator gen = at::detail::createCPUGenerator(0);
  torch::Tensor targets = data.train.labels.to(torch::kLong);
  net->train();
  for (int64_t step = 0; step < steps; ++step) {
    torch::Tensor index = torch::randint(0, n, {BatchSize}, gen, torch::kLong);
    torch::Tensor loss = torch::nn::functional::cross_entropy(
        net->forward(data.train.x.index_select(0, index)), targets.index_select(0, index));
    adam.zero_grad();
    loss.backward();
    adam.step();
  }
  accuracy = score();
  keep(path);
  if (!sharedPath.empty()) {
    makeDirectories(shared);
    keep(sharedPath);
  }
  return net;
}

ImageMetrics flowrt::evaluateImages(const flowrt_data_desc &desc, const DataSet &data,
                                    const torch::Tensor &samples, const torch::Tensor &labels,
                                    const std::string &outDir) {
  ClassifierData sets = classifierData(desc, data);
  ImageMetrics metrics;
  metrics.fdName = "FD-" + sets.name + "-classifier";
  makeDirectories(outDir);
  Classifier net = loadOrTrainClassifier(sets, desc.shape[0], desc.shape[1], desc.shape[2],
                                         joinPath(outDir, "classifier-" + sets.name + ".pt"),
                                         metrics.classifierAccuracy);
  torch::NoGradGuard noGrad;
  net->eval();
  torch::Tensor x = samples.to(torch::kCPU, torch::kFloat);
  torch::Tensor sampleFeatures = net->features(x);
  metrics.fd = frechetDistance(sampleFeatures, net->features(sets.reference.x));
  torch::Tensor wanted = labels.to(torch::kCPU).reshape({-1}).to(torch::kLong);
  torch::Tensor counted = wanted >= 0;
  torch::Tensor predicted = net->classify(sampleFeatures).argmax(1);
  int64_t total = counted.sum().item<int64_t>();
  metrics.accuracy = total > 0 ? ((predicted == wanted) & counted).sum().item<double>() / total
                               : std::nan("");
  return metrics;
}
