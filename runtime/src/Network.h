//===- Network.h - The velocity network v(x, t) -----------------*- C++ -*-===//
//
// The MLP that generated programs evaluate through flowrt_net: a Fourier
// embedding of the time (and, for a conditional network, a learned embedding
// of the class label) concatenated with x, `depth` hidden Linear layers of
// `width` units with one activation, and a Linear layer back to the features
// of x. Also the EMA of its weights that sampling uses.
//
//===----------------------------------------------------------------------===//
#ifndef FLOWRT_NETWORK_H
#define FLOWRT_NETWORK_H

#include "flowrt/flowrt.h"
#include "flowrt/shared.h"

#include <torch/torch.h>

#include <functional>
#include <string>
#include <vector>

namespace flowrt {

/// The shape of an MLP, usually from the spec's model.
struct MlpOptions {
  int64_t inDim = 2;
  int64_t width = 64;
  int64_t depth = 3;
  std::string activation = "silu";
  int64_t timeFeatures = 0;
  /// Class labels 0..classes-1 and the null class (label -1); 0 means the
  /// network takes no label.
  int64_t classes = 0;
  /// The arguments' roles (FLOWRT_INPUT_*) and features, and the output's
  /// features. Empty roles mean v(x, t[, y]): x of inDim features, a time,
  /// a label when classes > 0, and an output of inDim features.
  std::vector<int32_t> roles;
  std::vector<int64_t> dims;
  int64_t outDim = 0;

  /// Reads and checks a program's model (std::invalid_argument if bad).
  static MlpOptions fromDesc(const flowrt_model_desc &desc);
  /// The roles, filled in for v(x, t[, y]) when empty.
  std::vector<int32_t> inputRoles() const;
  /// Whether the signature is v(x, t[, y]) with an output of x's features.
  bool isVelocity() const;
  /// The output's features (inDim for v(x, t[, y])).
  int64_t outputDim() const { return outDim > 0 ? outDim : inDim; }
};

/// silu, relu, tanh or gelu, by name.
bool isKnownActivation(const std::string &name);
torch::Tensor activate(const std::string &name, const torch::Tensor &x);

/// Fourier time embedding of t [n, 1]: [sin(2 pi f_i t)..., cos(2 pi f_i t)...]
/// with f_i from fourierFrequencies (flowrt/shared.h), giving [n, features].
/// `features` is even.
torch::Tensor fourierEmbedding(const torch::Tensor &t, int64_t features);

// ClassEmbeddingDim (the class embedding's width) and MlpLayout (the
// packed parameters) are in flowrt/shared.h, which the compiler reads too.

/// A velocity network on flat rows: x [n, D] (an image's C*H*W values row
/// by row), t [n, 1], labels [n, 1] or [n] (undefined when the network is
/// unconditional; -1 is the null class) -> [n, D]. The runtime's networks:
/// the MLP below and the U-Net and DiT of ImageNetworks.h.
class NetworkImpl : public torch::nn::Module {
public:
  virtual torch::Tensor forward(const torch::Tensor &x, const torch::Tensor &t,
                                const torch::Tensor &labels = {}) = 0;
  /// The network on its arguments in its signature's order ([n, features]
  /// each); a velocity network's are (x, t[, y]), which this default
  /// passes to forward.
  virtual torch::Tensor apply(const std::vector<torch::Tensor> &args);
  /// Every parameter in the layout whole-trajectory kernels read
  /// (flowrt_net_weights); only the MLP has one.
  virtual torch::Tensor packed();
};
using Network = std::shared_ptr<NetworkImpl>;

/// Network `desc` of the program, freshly initialised (from the current
/// torch seed). Throws std::invalid_argument for a network the runtime lacks
/// or whose options do not fit the data.
Network makeNetwork(const flowrt_program &program, const flowrt_model_desc &desc);

/// The roles of a network's arguments (FLOWRT_INPUT_*), num_inputs 0 read
/// as v(x, t[, y]), and its output's features.
std::vector<int32_t> inputRoles(const flowrt_model_desc &desc);
/// How many arguments it takes (inputRoles(desc).size(), without the vector).
size_t inputCount(const flowrt_model_desc &desc);
int64_t outputDim(const flowrt_model_desc &desc);

/// Whether the network being evaluated must have second derivatives (a
/// Jacobian-vector product is being taken): networks then avoid fused
/// kernels whose backward has no derivative (attention). Set by
/// jacobianVectorProduct on this thread while it runs.
bool higherOrderDerivatives();

/// The Jacobian-vector product of `f` at `args` along `tangents` (one per
/// argument, of its shape; only the arguments marked `differentiable`
/// count): sum_i J_i tangents[i]. With `createGraph` by double backward
/// (g = J^T u for a dummy u, then d<g, tangents>/du = J tangents), the
/// result in autograd's graph, so a loss can be trained through it (with
/// respect to f's parameters and to the arguments); else a constant, by one
/// forward-mode pass with dual tensors and no graph.
torch::Tensor jacobianVectorProduct(
    const std::function<torch::Tensor(const std::vector<torch::Tensor> &)> &f,
    std::vector<torch::Tensor> args, const std::vector<torch::Tensor> &tangents,
    const std::vector<bool> &differentiable, bool createGraph);

/// Whether a network is frozen: another run's, loaded from its checkpoint.
bool isFrozen(const flowrt_model_desc &desc);

/// The normalizing flow (kind "tarflow") that a program without a sampler
/// samples by inversion, or null.
const flowrt_model_desc *normalizingFlowModel(const flowrt_program &program);

/// The network the sampler integrates (program.velocity_model), or null.
const flowrt_model_desc *velocityModel(const flowrt_program &program);
/// The classes of its label (0: unconditional, or no network).
int64_t velocityClasses(const flowrt_program &program);
/// The classes of the label the sampler's field takes (0: none).
int64_t sampleClasses(const flowrt_program &program);

/// A TorchScript module saved from PyTorch (TorchScriptNetwork.cpp): its
/// forward takes the flow's arguments in order (for a velocity x [n, dim],
/// t [n, 1] and, when classes > 0, labels [n, 1]) and returns [n, outDim]
/// (outDim 0: dim); throws std::runtime_error naming the file when it
/// cannot be loaded.
Network makeTorchScriptNetwork(const std::string &path, int64_t dim, int64_t classes,
                               int64_t outDim = 0);


/// The class of each label as an index into an embedding of classes + 1
/// rows: -1 (and anything outside 0..classes-1, which drop() never makes)
/// is the null class, the last row.
torch::Tensor classIndex(const torch::Tensor &labels, int64_t classes);

/// v(x, t[, y]) = Linear(act(... act(Linear([x, embed(t), embed(y)])))) ->
/// [n, inDim], and any other signature the same way: the first layer sees
/// the tensors, then each time's embedding, then the label's, each in
/// argument order. The class embedding has classes + 1 rows; the last is
/// the null class (label -1), the "no condition" that guidance contrasts
/// with.
class MlpImpl : public NetworkImpl {
public:
  explicit MlpImpl(MlpOptions options);

  torch::Tensor forward(const torch::Tensor &x, const torch::Tensor &t,
                        const torch::Tensor &labels = {}) override;
  torch::Tensor apply(const std::vector<torch::Tensor> &args) override;

  const MlpOptions &options() const { return opts; }

  /// Every parameter in one flat float32 buffer [1, P] in the layout of
  /// flowrt_net_weights (flowrt.h): per layer W^T then the bias, then the
  /// class embedding table.
  torch::Tensor packed() override;

private:
  MlpOptions opts;
  std::vector<int32_t> roles; ///< opts.inputRoles(), once: apply runs per call
  torch::nn::ModuleList layers;
  torch::nn::Embedding classEmbedding{nullptr};
};
TORCH_MODULE(Mlp);

/// A copy of `model` with its own (gradient-free) parameters.
Mlp cloneMlp(const Mlp &model);

/// Copies `from`'s parameters and buffers into `to` (same architecture)
/// and stops the parameters' gradients.
void copyParameters(torch::nn::Module &to, const torch::nn::Module &from);

/// Moves every parameter of `net` into one flat buffer [P] and returns it:
/// each parameter becomes a view of its slice, in parameters() order, so one
/// kernel can update them all. Loading weights (Module::load) replaces
/// parameter storage, so flatten after any load.
torch::Tensor flattenParameters(const torch::nn::Module &net);

/// Gives every parameter of `net` a gradient that is a view of one flat
/// buffer [P] (same order as flattenParameters) and returns the buffer:
/// backward accumulates into it, so zero it before each step.
torch::Tensor flatGradients(const torch::nn::Module &net);

/// The decay of step `step` (0-based) for a target decay `decay`:
/// min(decay, (1 + step) / (10 + step)). Early steps average over a short
/// window, so short runs do not sample from weights near initialisation.
double emaDecayAt(double decay, int64_t step);

} // namespace flowrt

#endif // FLOWRT_NETWORK_H
