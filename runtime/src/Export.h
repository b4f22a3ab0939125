//===- Export.h - The trained network as a TorchScript module ---*- C++ -*-===//
//
// `PROG export` writes the trained velocity network as a TorchScript module
// that PyTorch loads with torch.jit.load, without flowc. Each runtime
// network is rebuilt as a torch::jit::Module: its parameters registered
// under their torch::nn names with dots as underscores ("layers.0.weight"
// becomes "layers_0_weight"), and a `forward(x, t[, y])` defined in
// TorchScript that computes what the C++ forward computes, op for op.
//
//===----------------------------------------------------------------------===//
#ifndef FLOWRT_EXPORT_H
#define FLOWRT_EXPORT_H

#include "ImageNetworks.h"
#include "Network.h"

#include <torch/script.h>

namespace flowrt {

/// The MLP as a TorchScript module: forward(x [n, D], t, y) -> [n, D], with
/// y only when the MLP is conditional. t may be [n, 1], [n] or one value,
/// y [n, 1], [n] or one value (floats or integers; -1 and labels outside
/// 0..classes-1 are the null class).
torch::jit::Module scriptMlp(const MlpImpl &net);

/// The U-Net of `opts` with the weights of `net` (a UNetImpl) as TorchScript,
/// inputs as for scriptMlp (x holds flat images).
torch::jit::Module scriptUNet(const ImageNetOptions &opts, const torch::nn::Module &net);

/// The DiT of `opts` with the weights of `net` (a DiTImpl) as TorchScript.
torch::jit::Module scriptDiT(const ImageNetOptions &opts, const torch::nn::Module &net);

/// Network `desc` of the program, `net` (as makeNetwork builds it, with
/// trained weights), as TorchScript; a torchscript model is the user's
/// module loaded again with `net`'s weights. Throws std::invalid_argument
/// for a network kind that cannot be exported.
torch::jit::Module scriptNetwork(const flowrt_program &program, const flowrt_model_desc &desc,
                                 const Network &net);

} // namespace flowrt

#endif // FLOWRT_EXPORT_H
