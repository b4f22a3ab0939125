//===- Context.cpp - Tensors and context accessors of the C interface -----===//
//
// Implements the parts of flowrt.h that only touch the context and its arena:
// creating tensors, reaching their storage and shape, the seed, the batch
// size, data batches and network evaluations. Every tensor handed to
// generated code is float32, contiguous and lives in the context's arena
// until the loop clears it after the current step.
//
//===----------------------------------------------------------------------===//

#include "Context.h"
#include "Cuda.h"
#include "Data.h"
#include "Network.h"
#include "Tokenizer.h"

#include <ATen/autocast_mode.h>

#include <algorithm>
#include <exception>
#include <mutex>
#include <stdexcept>
#include <system_error>
#include <thread>
#include <vector>

flowrt_tensor *flowrt_ctx::adopt(torch::Tensor value) {
  if (value.scalar_type() != torch::kFloat)
    value = value.to(torch::kFloat);
  if (!value.is_contiguous())
    value = value.contiguous();
  arena.push_back(flowrt_tensor{std::move(value)});
  return &arena.back();
}

namespace {

/// LibTorch's autocast to `type` on `device` for the scope's lifetime (what
/// `torch.autocast(device, dtype)` does in Python), restoring the previous
/// state after.
class AutocastScope {
public:
  AutocastScope(c10::DeviceType device, torch::ScalarType type)
      : device(device), wasEnabled(at::autocast::is_autocast_enabled(device)),
        oldType(at::autocast::get_autocast_dtype(device)) {
    at::autocast::set_autocast_enabled(device, true);
    at::autocast::set_autocast_dtype(device, type);
    at::autocast::increment_nesting();
  }
  ~AutocastScope() {
    // The weights' casts are cached while autocast is on; drop them when the
    // outermost scope ends, as Python's autocast does.
    if (at::autocast::decrement_nesting() == 0)
      at::autocast::clear_cache();
    at::autocast::set_autocast_enabled(device, wasEnabled);
    at::autocast::set_autocast_dtype(device, oldType);
  }
  AutocastScope(const AutocastScope &) = delete;
  AutocastScope &operator=(const AutocastScope &) = delete;

private:
  c10::DeviceType device;
  bool wasEnabled;
  torch::ScalarType oldType;
};

} // namespace

torch::Tensor flowrt_ctx::evaluateNet(const torch::Tensor &x, const torch::Tensor &t,
                                      const torch::Tensor &y) {
  if (autocast == torch::kFloat)
    return net->forward(x, t, y);
  AutocastScope scope(device.type(), autocast);
  return net->forward(x, t, y).to(torch::kFloat);
}

torch::Tensor flowrt_ctx::applyNet(int32_t model, const std::vector<torch::Tensor> &args) {
  if (model < 0 || static_cast<size_t>(model) >= nets.size() || !nets[model])
    throw std::runtime_error("flowrt_apply: this command has no network " +
                             std::to_string(model));
  if (autocast == torch::kFloat)
    return nets[model]->apply(args);
  AutocastScope scope(device.type(), autocast);
  return nets[model]->apply(args).to(torch::kFloat);
}

void flowrt::runRowRanges(int64_t n, int64_t threads,
                          const std::function<void(int64_t, int64_t)> &fn,
                          const std::function<std::thread(std::function<void()>)> &spawn) {
  std::vector<std::thread> workers;
  std::exception_ptr failure;
  std::mutex lock;
  auto range = [&](int64_t i) {
    try {
      fn(n * i / threads, n * (i + 1) / threads);
    } catch (...) {
      std::lock_guard<std::mutex> guard(lock);
      failure = std::current_exception();
    }
  };
  // Ranges 1.. on their own threads while threads can be made; a failed
  // start (std::system_error: no resources) leaves the rest to this thread,
  // never a joinable thread left behind (std::terminate).
  int64_t started = 1;
  try {
    for (; started < threads; ++started)
      workers.push_back(spawn([&range, started] { range(started); }));
  } catch (const std::system_error &) {
  }
  range(0);
  for (int64_t i = started; i < threads; ++i)
    range(i);
  for (std::thread &w : workers)
    w.join();
  if (failure)
    std::rethrow_exception(failure);
}

int64_t flowrt::sampleDimension(flowrt_ctx &ctx) {
  if (ctx.program->sample.dim > 0)
    return ctx.program->sample.dim;
  if (ctx.program->data.dim > 0)
    return ctx.program->data.dim;
  if (!ctx.program->sample_source)
    throw std::runtime_error("the program has no data and no sampler");
  flowrt_conditions none{nullptr, nullptr};
  int64_t dim = flowrt_cols(ctx.program->sample_source(&ctx, 1, &none));
  ctx.clearArena();
  return dim;
}

flowrt::Batch flowrt::drawStepBatch(flowrt_ctx &ctx, int64_t n, int64_t call, bool labels,
                            bool conds) {
  // A function of (seed, step, call) only, so a resumed run draws the same.
  uint64_t stream = mixSeed(ctx.seed, static_cast<uint64_t>(ctx.step),
                            static_cast<uint64_t>(call));
  Batch batch = ctx.data->draw(n, stream);
  if (conds && !batch.conds.defined())
    throw std::runtime_error("flowrt_data_batch: the data set has no conditions");
  torch::Tensor x = ctx.tokenizer ? ctx.tokenizer->encode(batch.x) : batch.x;
  return {x.to(torch::kFloat).contiguous(),
          labels ? batch.labels.reshape({n, 1}).to(torch::kFloat) : torch::Tensor(),
          conds ? batch.conds : torch::Tensor()};
}

void flowrt::FixedBatches::fill(flowrt_ctx &ctx) {
  // On a GPU through pinned memory without waiting: the host draws the
  // next step's batches while the GPU still runs this one (LibTorch's
  // pinned-memory cache reuses a staging block only once its copy is done).
  bool gpu = ctx.device.is_cuda();
  auto put = [&](torch::Tensor &buffer, torch::Tensor host) {
    if (!buffer.defined())
      buffer = torch::empty_like(host, host.options().device(ctx.device));
    buffer.copy_(gpu ? host.pin_memory() : host, /*non_blocking=*/gpu);
  };
  x.resize(calls.size());
  labels.resize(calls.size());
  conds.resize(calls.size());
  for (size_t i = 0; i < calls.size(); ++i) {
    Batch b = drawStepBatch(ctx, calls[i].rows, static_cast<int64_t>(i), calls[i].labels,
                            calls[i].conds);
    put(x[i], b.x);
    if (b.labels.defined())
      put(labels[i], b.labels);
    if (b.conds.defined())
      put(conds[i], b.conds);
  }
}

uint64_t flowrt::mixSeed(uint64_t seed, uint64_t a, uint64_t b) {
  auto splitMix = [](uint64_t x) {
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
  };
  return splitMix(splitMix(splitMix(seed) ^ a) ^ b);
}

namespace {
/// `slot`, a one-element tensor on the GPU (made on first use), holding
/// `value`; while a step is being captured it is left as it is (the runtime
/// writes it before each replay).
template <typename T>
T *deviceValue(flowrt_ctx &ctx, torch::Tensor &slot, T value, const char *caller) {
  if (!ctx.gpu)
    throw std::runtime_error(std::string(caller) + ": not on a GPU");
  if (!slot.defined())
    slot = torch::zeros({1}, torch::dtype(c10::CppTypeToScalarType<T>::value).device(ctx.device));
  if (!ctx.capturing)
    slot.fill_(value);
  return slot.data_ptr<T>();
}
} // namespace

extern "C" {

flowrt_tensor *flowrt_empty(flowrt_ctx *ctx, int64_t rows, int64_t cols) {
  return ctx->adopt(torch::empty({rows, cols}, torch::dtype(torch::kFloat).device(ctx->device)));
}

flowrt_tensor *flowrt_full(flowrt_ctx *ctx, int64_t rows, int64_t cols,
                           double value) {
  return ctx->adopt(
      torch::full({rows, cols}, value, torch::dtype(torch::kFloat).device(ctx->device)));
}

int flowrt_on_gpu(const flowrt_ctx *ctx) { return ctx->gpu != nullptr; }

int64_t *flowrt_gpu_step(flowrt_ctx *ctx, int64_t step) {
  // The graph replays with the counter the runtime writes: the training
  // step. A launch drawing with another counter cannot be captured.
  if (ctx->capturing && step != ctx->step)
    throw std::runtime_error("flowrt_gpu_step: a kernel of the captured training step draws "
                             "with counter " + std::to_string(step) + ", not the step " +
                             std::to_string(ctx->step));
  return deviceValue(*ctx, ctx->stepCounter, step, "flowrt_gpu_step");
}

float *flowrt_gpu_scalar(flowrt_ctx *ctx, const char *kernel, int32_t index, float value) {
  return deviceValue(*ctx,
                             ctx->gpuScalars[std::string(kernel) + "#" + std::to_string(index) +
                                             "@" + std::to_string(ctx->scalarInstance)],
                             value, "flowrt_gpu_scalar");
}

void flowrt_launch(flowrt_ctx *ctx, const char *kernel, int64_t rows, void **args) {
  if (!ctx->gpu)
    throw std::runtime_error(std::string("flowrt_launch(") + kernel + "): not on a GPU");
  if (!ctx->launchesOff)
    ctx->gpu->launch(kernel, rows, args);
}

flowrt_tensor *flowrt_scale(flowrt_ctx *ctx, flowrt_tensor *x, double factor) {
  return ctx->adopt(x->value * factor);
}

float *flowrt_data(flowrt_tensor *tensor) {
  return tensor->value.data_ptr<float>();
}

int64_t flowrt_rows(const flowrt_tensor *tensor) {
  return tensor->value.size(0);
}

int64_t flowrt_cols(const flowrt_tensor *tensor) {
  return tensor->value.dim() > 1 ? tensor->value.size(1) : 1;
}

uint64_t flowrt_seed(const flowrt_ctx *ctx) { return ctx->seed; }

int64_t flowrt_step(const flowrt_ctx *ctx) { return ctx->step; }

int64_t flowrt_batch_size(const flowrt_ctx *ctx) { return ctx->batchSize; }

flowrt_tensor *flowrt_data_batch(flowrt_ctx *ctx, int64_t n, flowrt_tensor **labels,
                                 flowrt_tensor **conds) {
  if (!ctx->data)
    throw std::runtime_error("flowrt_data_batch: no data set in this command");
  int64_t call = ctx->dataCalls++;
  flowrt::FixedBatches *fixed = ctx->fixedBatches;
  if (fixed && !fixed->recording) { // a captured step: the refilled buffers
    if (call >= static_cast<int64_t>(fixed->calls.size()) || fixed->calls[call].rows != n ||
        fixed->calls[call].labels != (labels != nullptr) ||
        fixed->calls[call].conds != (conds != nullptr))
      throw std::runtime_error("flowrt_data_batch: the captured training step asks for "
                               "other batches than the eager steps did");
    if (labels)
      *labels = ctx->adopt(fixed->labels[call]);
    if (conds)
      *conds = ctx->adopt(fixed->conds[call]);
    return ctx->adopt(fixed->x[call]);
  }
  if (fixed)
    fixed->calls.push_back({n, labels != nullptr, conds != nullptr});
  flowrt::Batch b = flowrt::drawStepBatch(*ctx, n, call, labels != nullptr, conds != nullptr);
  if (labels)
    *labels = ctx->adopt(b.labels.to(ctx->device));
  if (conds)
    *conds = ctx->adopt(b.conds.to(ctx->device));
  return ctx->adopt(b.x.to(ctx->device));
}

flowrt_tensor *flowrt_apply(flowrt_ctx *ctx, int32_t model, flowrt_tensor *const *args) {
  const flowrt_program &program = *ctx->program;
  if (model < 0 || model >= program.num_models)
    throw std::runtime_error("flowrt_apply: the program has no network " +
                             std::to_string(model));
  std::vector<torch::Tensor> values;
  size_t count = flowrt::inputCount(program.models[model]);
  values.reserve(count);
  for (size_t i = 0; i < count; ++i)
    values.push_back(args[i]->value);
  ++ctx->netEvals;
  return ctx->adopt(ctx->applyNet(model, values));
}

flowrt_tensor *flowrt_apply_jvp(flowrt_ctx *ctx, int32_t model, flowrt_tensor *const *args,
                                flowrt_tensor *const *tangents, int32_t differentiated) {
  const flowrt_program &program = *ctx->program;
  if (model < 0 || model >= program.num_models)
    throw std::runtime_error("flowrt_apply_jvp: the program has no network " +
                             std::to_string(model));
  std::vector<int32_t> roles = flowrt::inputRoles(program.models[model]);
  std::vector<torch::Tensor> values, along;
  std::vector<bool> differentiable;
  for (size_t i = 0; i < roles.size(); ++i) {
    values.push_back(args[i]->value);
    along.push_back(tangents[i]->value);
    differentiable.push_back(roles[i] != FLOWRT_INPUT_LABEL); // a class index has none
  }
  ++ctx->netEvals;
  bool training = differentiated && torch::GradMode::is_enabled();
  return ctx->adopt(flowrt::jacobianVectorProduct(
      [&](const std::vector<torch::Tensor> &a) { return ctx->applyNet(model, a); }, values,
      along, differentiable, training));
}

flowrt_tensor *flowrt_net_guided(flowrt_ctx *ctx, flowrt_tensor *x,
                                 flowrt_tensor *t, flowrt_tensor *y,
                                 flowrt_tensor **unconditional) {
  if (!ctx->net)
    throw std::runtime_error("flowrt_net_guided: no network in this command");
  ++ctx->netEvals;
  // One call on [x; x'] with labels [y; null]: a batch twice as large costs
  // much less than two calls. x' is every row, or with adaptive guidance
  // the rows whose two velocities have not agreed yet.
  int64_t n = x->value.size(0);
  auto &state = ctx->guidanceState;
  torch::Tensor rows;
  if (ctx->adaptiveGuidance > 0 && state.agreed.defined())
    rows = (~state.agreed).nonzero().reshape({-1});
  auto pick = [&](const torch::Tensor &a) { return rows.defined() ? a.index_select(0, rows) : a; };
  torch::Tensor tn = t->value.reshape({-1, 1}).expand({n, 1});
  torch::Tensor xu = pick(x->value), tu = pick(tn);
  int64_t m = xu.size(0);
  torch::Tensor labels =
      torch::cat({y->value.reshape({n, 1}), torch::full({m, 1}, -1.0f, y->value.options())}, 0);
  torch::Tensor v =
      ctx->evaluateNet(torch::cat({x->value, xu}, 0), torch::cat({tn, tu}, 0), labels);
  torch::Tensor vc = v.slice(0, 0, n), vu = v.slice(0, n, n + m);
  state.unconditionalRows += m;
  state.skippedRows += n - m;
  if (rows.defined()) // agreed rows: v_u = v_c, so every guidance fn gives v_c
    vu = vc.clone().index_copy_(0, rows, vu);
  if (ctx->adaptiveGuidance > 0) {
    torch::Tensor cosine = torch::nn::functional::cosine_similarity(
        vc, vu, torch::nn::functional::CosineSimilarityFuncOptions().dim(1));
    torch::Tensor agreed = cosine >= ctx->adaptiveGuidance;
    state.agreed = state.agreed.defined() ? state.agreed | agreed : agreed;
  }
  if (ctx->guidanceMomentum != 0) {
    // APG's momentum (Sadat et al. 2025): d = (v_c - v_u) + beta d_prev,
    // then v_u = v_c - d, so the guidance fn sees the running direction.
    torch::Tensor d = vc - vu;
    if (state.momentum.defined())
      d = d + ctx->guidanceMomentum * state.momentum;
    if (state.agreed.defined())
      d = d.masked_fill(state.agreed.reshape({n, 1}), 0.0);
    state.momentum = d;
    vu = vc - d;
  }
  *unconditional = ctx->adopt(vu);
  return ctx->adopt(vc);
}

flowrt_tensor *flowrt_net_weights(flowrt_ctx *ctx, int64_t count) {
  if (!ctx->net)
    throw std::runtime_error("flowrt_net_weights: no network in this command");
  if (!ctx->netWeights.defined())
    ctx->netWeights = ctx->net->packed().to(ctx->device);
  if (ctx->netWeights.size(1) != count)
    throw std::runtime_error(
        "flowrt_net_weights: the network has " + std::to_string(ctx->netWeights.size(1)) +
        " parameters but the program was compiled for " + std::to_string(count) +
        " (rebuild it with this runtime)");
  // Kernels count evaluations the host cannot see; the sampler adds them.
  return ctx->adopt(ctx->netWeights);
}

void flowrt_parallel_rows(flowrt_ctx *, int64_t n,
                          void (*fn)(void *env, int64_t b, int64_t e), void *env) {
  // One contiguous range per thread of LibTorch's intra-op setting (its
  // parallel_for is header code that needs OpenMP in this build, so the
  // threads are started here); rows are independent and costly alike.
  int64_t threads = std::max<int64_t>(1, std::min<int64_t>(at::get_num_threads(), n / 64));
  flowrt::runRowRanges(
      n, threads, [&](int64_t b, int64_t e) { fn(env, b, e); },
      [](std::function<void()> work) { return std::thread(std::move(work)); });
}

int64_t flowrt_draw_counter(flowrt_ctx *ctx) { return ++ctx->drawCalls; }

double flowrt_guidance_scale(const flowrt_ctx *ctx) {
  return ctx->guidanceScale;
}

double flowrt_tolerance(const flowrt_ctx *ctx, int32_t which) {
  return which == 0 ? ctx->rtol : which == 1 ? ctx->atol : ctx->maxStep;
}

} // extern "C"
