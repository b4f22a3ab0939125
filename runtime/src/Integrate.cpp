//===- Integrate.cpp - Fixed and adaptive stepping over [0, 1] ------------===//
//
// Implements Integrate.h. The state lives in one tensor the caller owns;
// every tensor a step hands out lives in the context's arena, which is
// cleared after each step.
//
//===----------------------------------------------------------------------===//

#include "Integrate.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

using namespace flowrt;

namespace {

/// Steps between two looks at the samples' times (each look is a sync).
constexpr int StepsPerCheck = 4;

/// Per-sample RMS norm of a [n, d] tensor, in double.
torch::Tensor rms(const torch::Tensor &v) {
  return v.to(torch::kDouble).pow(2).mean(1).sqrt();
}

/// Hairer's initial step (Solving ODEs I, II.4), with the batch's largest
/// per-sample norms.
double firstStep(const flowrt_program &program, flowrt_ctx &ctx, flowrt_tensor &x,
                 const flowrt_conditions *given, int32_t order, const IntegrateOptions &o) {
  torch::Tensor x0 = x.value;
  torch::Tensor scale = o.atol + o.rtol * x0.abs().to(torch::kDouble);
  torch::Tensor f0 = program.velocity(&ctx, &x, given, 0.0)->value;
  double d0 = rms(x0 / scale).max().item<double>();
  double d1 = rms(f0 / scale).max().item<double>();
  double h0 = (d0 < 1e-5 || d1 < 1e-5) ? 1e-6 : 0.01 * d0 / d1;
  flowrt_tensor x1{x0 + h0 * f0};
  torch::Tensor f1 = program.velocity(&ctx, &x1, given, h0)->value;
  double d2 = rms((f1 - f0) / scale).max().item<double>() / h0;
  double h1 = std::max(d1, d2) <= 1e-15
                  ? std::max(1e-6, h0 * 1e-3)
                  : std::pow(0.01 / std::max(d1, d2), 1.0 / (order + 1));
  ctx.clearArena();
  return std::min({100 * h0, h1, 1.0});
}

/// The tableau as a trajectory kernel reads it: [1, 1 + 2s + s^2] floats
/// s, c, a (row-major), b, on the state's device.
torch::Tensor packTableau(const flowrt_solver &solver, const torch::TensorOptions &options) {
  int64_t s = solver.stages;
  std::vector<float> values{static_cast<float>(s)};
  for (int64_t i = 0; i < s; ++i)
    values.push_back(static_cast<float>(solver.c[i]));
  for (int64_t i = 0; i < s * s; ++i)
    values.push_back(static_cast<float>(solver.a[i]));
  for (int64_t i = 0; i < s; ++i)
    values.push_back(static_cast<float>(solver.b[i]));
  return torch::tensor(values).reshape({1, -1}).to(options.device());
}

std::string where(double t, double h) {
  char text[96];
  std::snprintf(text, sizeof(text), " (t = %.6g, h = %.3g)", t, h);
  return text;
}

} // namespace

std::vector<double> flowrt::gridTimes(const flowrt_program &program, flowrt_ctx &ctx,
                                     int64_t steps, double t0, double t1) {
  flowrt_tensor u{(torch::arange(steps + 1, torch::kDouble) / static_cast<double>(steps))
                      .to(torch::kFloat)
                      .reshape({-1, 1})
                      .to(ctx.device)};
  torch::Tensor g = program.sample.time_grid(&ctx, &u)->value.to(torch::kCPU, torch::kDouble);
  ctx.clearArena();
  std::vector<double> times(g.data_ptr<double>(), g.data_ptr<double>() + g.numel());
  bool rises = std::abs(times.front()) <= 1e-6 && std::abs(times.back() - 1) <= 1e-6;
  for (size_t i = 1; i < times.size(); ++i)
    rises = rises && times[i] > times[i - 1];
  if (!rises) {
    std::string values;
    for (size_t i = 0; i < times.size() && i < 6; ++i)
      values += (i ? ", " : "") + std::to_string(times[i]);
    throw std::runtime_error("the sample block's time grid must rise from 0 at u = 0 to 1 at "
                             "u = 1, but gives " + values +
                             (times.size() > 6 ? ", ..." : "") + " over " +
                             std::to_string(steps) + " steps");
  }
  times.front() = 0; // exact ends
  times.back() = 1;
  // The grid's points in the range, visited in the direction of the run:
  // backwards (an inversion) through the same points as forwards.
  double lo = std::min(t0, t1), hi = std::max(t0, t1);
  for (double &t : times)
    t = lo + (hi - lo) * t;
  if (t1 < t0)
    std::reverse(times.begin(), times.end());
  return times;
}

IntegrateStats flowrt::integrate(const flowrt_program &program, flowrt_ctx &ctx,
                                 flowrt_tensor &x, const flowrt_conditions &conditions,
                                 const IntegrateOptions &o) {
  const flowrt_conditions *given = &conditions;
  const flowrt_solver &solver = *o.solver;
  IntegrateStats stats;
  // Guidance state across steps starts afresh with each trajectory; it
  // lives in flowrt_net_guided, so the whole-trajectory kernel cannot keep it.
  ctx.guidanceState = {};
  bool statefulGuidance = ctx.adaptiveGuidance > 0 || ctx.guidanceMomentum != 0;
  if (!o.adaptive && o.fused && program.trajectory && !statefulGuidance && o.times.empty() &&
      solver.stages <= program.trajectory_max_stages) {
    flowrt_tensor tableau{packTableau(solver, x.value.options())};
    x.value = program
                  .trajectory(&ctx, &x, given, &tableau, o.t0,
                              (o.t1 - o.t0) / static_cast<double>(o.steps), o.steps)
                  ->value;
    ctx.clearArena();
    stats.steps = o.steps;
    stats.evaluations = o.steps * solver.stages;
    stats.fused = true;
    return stats;
  }
  if (!o.adaptive) {
    double h = (o.t1 - o.t0) / static_cast<double>(o.steps);
    for (int64_t i = 0; i < o.steps; ++i) {
      flowrt_tensor *next = nullptr, *error = nullptr;
      double t = o.t0 + static_cast<double>(i) * h;
      if (!o.times.empty()) { // a grid's unequal steps
        t = o.times[i];
        h = o.times[i + 1] - t;
      }
      solver.step(&ctx, &x, given, t, h, &next, &error);
      x.value = next->value;
      ctx.clearArena();
      stats.evaluations += solver.stages;
      ++stats.steps;
    }
    return stats;
  }
  if (!solver.adaptive_step || !program.velocity)
    throw std::runtime_error(std::string("solver '") + solver.name +
                             "' has no error estimate (b_err) for step-size control");
  if (!o.times.empty())
    throw std::runtime_error("a time grid sets the steps: give fixed steps (--steps N)");
  // The generated controller steps every sample towards t = 1.
  if (o.t0 != 0 || o.t1 != 1)
    throw std::runtime_error("step-size control integrates from t = 0 to 1; for a time range "
                             "give fixed steps (--steps N)");
  // Every sample steps on its own (t, h); the generated controller decides
  // in the kernels, and the host looks at the times every few steps only.
  int32_t order = solver.order > 0 ? solver.order : 1;
  ctx.rtol = o.rtol;
  ctx.atol = o.atol;
  ctx.maxStep = o.maxStep;
  int64_t n = x.value.size(0);
  double h0 = std::min(firstStep(program, ctx, x, given, order, o), o.maxStep);
  stats.evaluations += 2;
  flowrt_tensor t{torch::zeros({n, 1}, x.value.options())},
      h{torch::full({n, 1}, h0, x.value.options())};
  for (;;) {
    for (int k = 0; k < StepsPerCheck; ++k) {
      flowrt_tensor *xn = nullptr, *tn = nullptr, *hn = nullptr;
      solver.adaptive_step(&ctx, &x, &t, &h, given, &xn, &tn, &hn);
      x.value = xn->value;
      t.value = tn->value;
      h.value = hn->value;
      ctx.clearArena();
      stats.evaluations += solver.stages;
      ++stats.steps;
    }
    torch::Tensor active = t.value < 1.0f;
    if (!active.any().item<bool>())
      break;
    double t0 = t.value.min().item<double>();
    double hMin = h.value.index({active}).min().item<double>();
    if (stats.steps >= o.maxSteps)
      throw std::runtime_error("step-size control took more than " +
                               std::to_string(o.maxSteps) + " steps" + where(t0, hMin) +
                               "; raise --max-steps or the tolerances");
    if (!(hMin >= o.minStep))
      throw std::runtime_error("the step size fell below " + std::to_string(o.minStep) +
                               where(t0, hMin) + ": the field is too stiff for rtol " +
                               std::to_string(o.rtol) + ", atol " + std::to_string(o.atol));
  }
  return stats;
}

std::vector<torch::Tensor> flowrt::integrateTableau(const flowrt_solver &solver,
                                                   const TableauField &field,
                                                   std::vector<torch::Tensor> state,
                                                   double t0, double t1, int64_t steps,
                                                   const std::function<void()> &afterStep) {
  int s = solver.stages;
  double h = (t1 - t0) / static_cast<double>(steps);
  for (int64_t n = 0; n < steps; ++n) {
    double t = t0 + static_cast<double>(n) * h;
    std::vector<std::vector<torch::Tensor>> k; // k[i][m]: stage i, state m
    for (int i = 0; i < s; ++i) {
      std::vector<torch::Tensor> si = state;
      for (int j = 0; j < i; ++j)
        if (double a = solver.a[i * s + j]; a != 0)
          for (size_t m = 0; m < si.size(); ++m)
            si[m] = si[m] + (h * a) * k[j][m];
      k.push_back(field(si, t + solver.c[i] * h));
    }
    for (int i = 0; i < s; ++i)
      if (double b = solver.b[i]; b != 0)
        for (size_t m = 0; m < state.size(); ++m)
          state[m] = state[m] + (h * b) * k[i][m];
    if (afterStep)
      afterStep();
  }
  return state;
}
