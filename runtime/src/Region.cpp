//===- Region.cpp - Generated region kernels as autograd functions --------===//
//
// flowrt_region wraps a generated region kernel and its reverse-mode kernel
// as one torch::autograd::Function, so the kernels between network
// applications are links of LibTorch's autograd graph: the loss's gradient
// reaches every network through every region in between. flowrt_batch_mean
// is the batch mean of a per-sample loss, where the gradient enters,
// flowrt_rows_mean Flow's batch_mean (every row the mean of the rows), and
// flowrt_total_loss the sum of a flow's losses, each also added to the
// metrics' sums.
//
//===----------------------------------------------------------------------===//

#include "Context.h"

#include <stdexcept>

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

/// Float32, contiguous, detached private copies: kernels take float* and
/// could write.
std::vector<torch::Tensor> kernelCopies(at::TensorList tensors) {
  std::vector<torch::Tensor> copies;
  for (const torch::Tensor &t : tensors)
    copies.push_back(t.detach().to(torch::kFloat).contiguous().clone());
  return copies;
}

std::vector<float *> pointers(std::vector<torch::Tensor> &tensors) {
  std::vector<float *> p;
  for (torch::Tensor &t : tensors)
    p.push_back(t.data_ptr<float>());
  return p;
}

struct KernelRegion : public torch::autograd::Function<KernelRegion> {
  /// `inputs` is an at::TensorList so that autograd tracks each of them.
  static variable_list forward(AutogradContext *ctx, at::TensorList inputs,
                               flowrt_ctx *command, const flowrt_region_desc *region) {
    std::vector<torch::Tensor> in = kernelCopies(inputs);
    int64_t n = in.empty() ? 0 : in[0].size(0);
    for (const torch::Tensor &t : in)
      if (t.size(0) != n)
        throw std::invalid_argument("flowrt_region: inputs have different rows");
    variable_list out;
    for (int32_t j = 0; j < region->num_outputs; ++j)
      out.push_back(torch::empty({n, region->output_cols[j]}, in[0].options()));
    std::vector<float *> inPointers = pointers(in), outPointers = pointers(out);
    region->forward(command, n, inPointers.data(), outPointers.data());

    ctx->saved_data["inputs"] = in;
    // Under autocast a network's output may be bf16: adjoints go back in
    // each input's own type.
    std::vector<int64_t> dtypes;
    for (const torch::Tensor &t : inputs)
      dtypes.push_back(static_cast<int64_t>(t.scalar_type()));
    ctx->saved_data["dtypes"] = dtypes;
    ctx->saved_data["region"] = reinterpret_cast<int64_t>(region);
    ctx->saved_data["command"] = reinterpret_cast<int64_t>(command);
    return out;
  }

  static variable_list backward(AutogradContext *ctx, variable_list gradOutputs) {
    std::vector<torch::Tensor> in = ctx->saved_data["inputs"].toTensorVector();
    auto *region =
        reinterpret_cast<const flowrt_region_desc *>(ctx->saved_data["region"].toInt());
    auto *command = reinterpret_cast<flowrt_ctx *>(ctx->saved_data["command"].toInt());
    int64_t n = in[0].size(0);
    // An output that did not reach the loss has no gradient: zeros.
    std::vector<torch::Tensor> dout;
    for (int32_t j = 0; j < region->num_outputs; ++j) {
      const torch::Tensor &g = gradOutputs[j];
      dout.push_back(g.defined() ? g.to(torch::kFloat).contiguous().clone()
                                 : torch::zeros({n, region->output_cols[j]}, in[0].options()));
    }
    std::vector<torch::Tensor> din;
    for (int32_t i = 0; i < region->num_inputs; ++i)
      if (region->grad_inputs[i])
        din.push_back(torch::empty_like(in[i]));
    std::vector<float *> inPointers = pointers(in), doutPointers = pointers(dout),
                         dinPointers = pointers(din);
    region->backward(command, n, inPointers.data(), doutPointers.data(), dinPointers.data());

    // One gradient per tracked input, then none for command and region.
    std::vector<int64_t> dtypes = ctx->saved_data["dtypes"].toIntVector();
    variable_list grads;
    size_t k = 0;
    for (int32_t i = 0; i < region->num_inputs; ++i)
      grads.push_back(region->grad_inputs[i]
                          ? din[k++].to(static_cast<c10::ScalarType>(dtypes[i]))
                          : torch::Tensor());
    grads.push_back(torch::Tensor());
    grads.push_back(torch::Tensor());
    return grads;
  }
};

} // namespace

extern "C" void flowrt_region(flowrt_ctx *ctx, const flowrt_region_desc *region,
                              flowrt_tensor *const *inputs, flowrt_tensor **outputs) {
  if (!region || region->num_inputs < 1 || region->num_outputs < 1 || !region->forward ||
      !region->backward)
    throw std::invalid_argument("flowrt_region needs inputs, outputs and both kernels");
  std::vector<torch::Tensor> in;
  for (int32_t i = 0; i < region->num_inputs; ++i)
    in.push_back(inputs[i]->value);
  variable_list out = KernelRegion::apply(at::TensorList(in), ctx, region);
  for (int32_t j = 0; j < region->num_outputs; ++j)
    outputs[j] = ctx->adopt(out[j]);
}

extern "C" flowrt_tensor *flowrt_rows_mean(flowrt_ctx *ctx, flowrt_tensor *x) {
  return ctx->adopt(x->value.mean(0, /*keepdim=*/true).expand_as(x->value).contiguous());
}

extern "C" flowrt_tensor *flowrt_batch_mean(flowrt_ctx *ctx, flowrt_tensor *x) {
  return ctx->adopt(x->value.mean().reshape({1, 1}));
}

extern "C" flowrt_tensor *flowrt_total_loss(flowrt_ctx *ctx, int32_t num_terms,
                                            flowrt_tensor *const *terms) {
  if (num_terms < 1)
    throw std::invalid_argument("flowrt_total_loss needs at least one term");
  std::vector<torch::Tensor> values;
  for (int32_t i = 0; i < num_terms; ++i)
    values.push_back(terms[i]->value.reshape({1}));
  torch::Tensor all = torch::cat(values);
  // On the device, in place, so a captured training step adds them too.
  if (ctx->lossTermSums.defined() && ctx->lossTermSums.numel() == num_terms)
    ctx->lossTermSums.add_(all.detach().to(ctx->lossTermSums.scalar_type()));
  return ctx->adopt(all.sum().reshape({1, 1}));
}
