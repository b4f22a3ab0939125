//===- Loss.cpp - Generated loss kernels as one autograd function ---------===//
//
// flowrt_loss wraps a generated forward kernel (per-sample loss) and its
// generated backward kernel as a torch::autograd::Function, so a loss fused
// into one kernel still trains the network through LibTorch's autograd. The
// function returns the batch mean; its gradient flows to inputs[0] only (the
// network output), the other inputs are constants of the step.
//
//===----------------------------------------------------------------------===//

#include "Context.h"

#include <stdexcept>

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

/// mean_i loss(inputs[0][i], inputs[1][i], ...) through generated kernels.
struct KernelLoss : public torch::autograd::Function<KernelLoss> {
  /// `rest` holds inputs[1..]; a std::vector is not tracked by autograd.
  static torch::Tensor forward(AutogradContext *ctx, torch::Tensor input0,
                               std::vector<torch::Tensor> rest, flowrt_ctx *command,
                               flowrt_loss_forward_fn forwardFn,
                               flowrt_loss_backward_fn backwardFn) {
    // Kernels take float* and could write: give them private copies.
    std::vector<torch::Tensor> inputs;
    inputs.push_back(input0.detach().to(torch::kFloat).contiguous().clone());
    for (const torch::Tensor &t : rest)
      inputs.push_back(t.detach().to(torch::kFloat).contiguous().clone());
    int64_t n = inputs[0].size(0);
    for (const torch::Tensor &t : inputs)
      if (t.size(0) != n)
        throw std::invalid_argument("flowrt_loss: inputs have different rows");

    std::vector<float *> pointers;
    for (torch::Tensor &t : inputs)
      pointers.push_back(t.data_ptr<float>());
    torch::Tensor loss = torch::empty({n}, inputs[0].options());
    forwardFn(command, n, pointers.data(), loss.data_ptr<float>());

    ctx->saved_data["inputs"] = inputs;
    ctx->saved_data["backward"] = reinterpret_cast<int64_t>(backwardFn);
    ctx->saved_data["command"] = reinterpret_cast<int64_t>(command);
    ctx->saved_data["dtype"] = input0.scalar_type();
    return loss.mean().to(input0.scalar_type());
  }

  static variable_list backward(AutogradContext *ctx,
                                variable_list gradOutputs) {
    std::vector<torch::Tensor> inputs =
        ctx->saved_data["inputs"].toTensorVector();
    auto backwardFn = reinterpret_cast<flowrt_loss_backward_fn>(
        ctx->saved_data["backward"].toInt());
    auto *command = reinterpret_cast<flowrt_ctx *>(ctx->saved_data["command"].toInt());
    int64_t n = inputs[0].size(0);

    // d mean / d loss[i] = 1 / n, times the incoming gradient.
    // (On the device, without reading the gradient back to the host.)
    torch::Tensor gradLoss =
        (gradOutputs[0].to(torch::kFloat).reshape({1}) / static_cast<double>(n))
            .expand({n})
            .contiguous();
    torch::Tensor grad0 = torch::zeros_like(inputs[0]);
    std::vector<float *> pointers;
    for (torch::Tensor &t : inputs)
      pointers.push_back(t.data_ptr<float>());
    backwardFn(command, n, pointers.data(), gradLoss.data_ptr<float>(),
               grad0.data_ptr<float>());

    auto dtype = ctx->saved_data["dtype"].toScalarType();
    return {grad0.to(dtype), torch::Tensor(), torch::Tensor(), torch::Tensor(),
            torch::Tensor()};
  }
};

} // namespace

extern "C" flowrt_tensor *flowrt_loss(flowrt_ctx *ctx,
                                      flowrt_loss_forward_fn forward,
                                      flowrt_loss_backward_fn backward,
                                      int32_t num_inputs,
                                      flowrt_tensor *const *inputs) {
  if (num_inputs < 1 || !forward || !backward)
    throw std::invalid_argument(
        "flowrt_loss needs at least one input and both kernels");
  std::vector<torch::Tensor> rest;
  for (int32_t i = 1; i < num_inputs; ++i)
    rest.push_back(inputs[i]->value);
  torch::Tensor mean =
      KernelLoss::apply(inputs[0]->value, rest, ctx, forward, backward);
  return ctx->adopt(mean.reshape({1, 1}));
}
