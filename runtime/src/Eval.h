//===- Eval.h - Image metrics from a classifier trained here -----*- C++ -*-===//
//
// FID needs Inception weights that cannot be fetched here, so image samples
// are judged in the feature space of a small CNN that the runtime trains on
// the same data set: FD-<set>-classifier (the Fréchet distance between the
// features of samples and of real images) and the classifier's accuracy on
// class-conditional samples (how often it names the class asked for).
//
//===----------------------------------------------------------------------===//
#ifndef FLOWRT_EVAL_H
#define FLOWRT_EVAL_H

#include "Data.h"

#include <torch/torch.h>

#include <string>

namespace flowrt {

/// A CNN for [C, H, W] images in [-1, 1]: three 3x3 convolutions (32, 64,
/// 64 channels; the last two with stride 2), a 128-unit layer (the
/// features) and 10 logits; SiLU after each hidden layer.
class ClassifierImpl : public torch::nn::Module {
public:
  ClassifierImpl(int64_t channels, int64_t height, int64_t width);
  torch::Tensor features(const torch::Tensor &images); ///< [n, 128]
  torch::Tensor forward(const torch::Tensor &images);  ///< logits [n, 10]
  torch::Tensor classify(const torch::Tensor &features); ///< features -> logits

private:
  int64_t channels, height, width;
  torch::nn::Conv2d conv1{nullptr}, conv2{nullptr}, conv3{nullptr};
  torch::nn::Linear hidden{nullptr}, out{nullptr};
};
TORCH_MODULE(Classifier);

/// The data set's images for the classifier: a training part and a held-out
/// part (digits: 1500 and 297 in a fixed random order; Fashion-MNIST: its
/// training and test splits), and the reference the FD compares with
/// (digits: all images; Fashion-MNIST: the test split).
struct ClassifierData {
  std::string name; ///< "digits" or "fashion"
  Batch train, heldOut, reference;
  /// One pixel level in [-1, 1] units (digits 1/8: 17 levels; Fashion-MNIST
  /// 2/255), the bin that dequantization spreads a pixel over.
  double binWidth = 0;
};
ClassifierData classifierData(const flowrt_data_desc &desc, const DataSet &data);

/// The classifier of `data`, trained once (seeded, so every run trains the
/// same one) and kept as `path`; its accuracy on the held-out images in
/// `accuracy`.
Classifier loadOrTrainClassifier(const ClassifierData &data, int64_t channels, int64_t height,
                                 int64_t width, const std::string &path, double &accuracy);

/// What `eval` prints.
struct ImageMetrics {
  std::string fdName;      ///< "FD-digits-classifier"
  double fd = 0;           ///< samples vs the reference images
  double accuracy = 0;     ///< samples the classifier labels as asked
  double classifierAccuracy = 0; ///< on held-out real images
};

/// Metrics of `samples` [n, C*H*W] drawn for `labels` [n] (class numbers;
/// accuracy only counts labels >= 0). The classifier lives in outDir.
ImageMetrics evaluateImages(const flowrt_data_desc &desc, const DataSet &data,
                            const torch::Tensor &samples, const torch::Tensor &labels,
                            const std::string &outDir);

} // namespace flowrt

#endif // FLOWRT_EVAL_H
