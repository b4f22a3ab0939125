//===- Integrate.h - Solving the flow's ODE from t = 0 to 1 -----*- C++ -*-===//
//
// Drives a generated solver step (flowrt_solver) over [0, 1], or from t0 to
// t1 (backwards when t1 < t0: data to noise, an inversion): fixed steps,
// or, for a tableau with an error estimate, step-size control per sample as
// torchdiffeq and Hairer, Norsett & Wanner (Solving ODEs I, II.4) do it for
// one system. The generated controller kernel (ExpandSolver's F_S_control)
// decides, for every sample on its own time t and step h:
//   - error ratio: the RMS over the sample's features of
//     err / (atol + rtol * max(|x|, |x'|)); accept when it is at most 1;
//   - next step: h * min(10, max(0.9 / ratio^(1/order), 0.2)), never
//     shrinking after an accepted step (torchdiffeq's _optimal_step_size),
//     and never past t = 1.
// The host picks the first step (Hairer's selection from v(0, x0) and one
// Euler step, two evaluations of the field, for the whole batch), then only
// launches steps, looking at the samples' times every few steps: at most
// `maxSteps` steps, no step above `maxStep`, and an error when a step falls
// below `minStep`.
//
//===----------------------------------------------------------------------===//
#ifndef FLOWRT_INTEGRATE_H
#define FLOWRT_INTEGRATE_H

#include "Context.h"

#include <cstdint>
#include <functional>
#include <vector>

namespace flowrt {

struct IntegrateOptions {
  const flowrt_solver *solver = nullptr;
  bool adaptive = false; ///< step-size control (needs solver->adaptive)
  int64_t steps = 32;    ///< fixed steps
  double t0 = 0, t1 = 1; ///< the time range (fixed steps: either direction)
  /// Fixed steps on a grid: the steps + 1 times, from t0 to t1 (empty:
  /// equal steps).
  std::vector<double> times;
  /// Fixed steps run as one whole-trajectory kernel when the solver has one
  /// (false: a kernel launch and a LibTorch network call per stage).
  bool fused = true;
  double rtol = 1e-5, atol = 1e-5;
  int64_t maxSteps = 100000;
  double minStep = 1e-10; ///< an error below it
  double maxStep = 1.0;   ///< no step is larger
};

struct IntegrateStats {
  int64_t steps = 0;       ///< steps (adaptive: controlled steps of the batch,
                           ///< each accepted or rejected per sample)
  int64_t evaluations = 0; ///< evaluations of the field (NFE)
  bool fused = false;      ///< one whole-trajectory kernel did it all
};

/// Advances x ([n, dim]) from t0 to t1 (by default 0 to 1) in place, each sample
/// conditioned on its row of `given`. Clears ctx's arena after each step.
/// Throws std::runtime_error when step-size control fails.
IntegrateStats integrate(const flowrt_program &program, flowrt_ctx &ctx,
                         flowrt_tensor &x, const flowrt_conditions &given,
                         const IntegrateOptions &opts);

/// The steps + 1 times of the program's time grid (program.sample.time_grid
/// at u = k / steps) scaled into the range, in the direction from t0 to t1
/// (backwards through the same points as forwards). Throws std::runtime_error when
/// the grid does not rise from 0 at u = 0 to 1 at u = 1.
std::vector<double> gridTimes(const flowrt_program &program, flowrt_ctx &ctx, int64_t steps,
                              double t0, double t1);

/// A system's right-hand side: the derivatives of each state tensor at t.
using TableauField = std::function<std::vector<torch::Tensor>(
    const std::vector<torch::Tensor> &state, double t)>;

/// Integrates d state / dt = field(state, t) from t0 to t1 (either way) in
/// `steps` equal steps of `solver`'s Butcher tableau with LibTorch ops, so
/// autograd sees through every step (the likelihood's augmented system, and
/// gradients of a solution with respect to the field's parameters).
/// `afterStep` runs after each step (to free per-step tensors).
std::vector<torch::Tensor> integrateTableau(const flowrt_solver &solver,
                                           const TableauField &field,
                                           std::vector<torch::Tensor> state, double t0,
                                           double t1, int64_t steps,
                                           const std::function<void()> &afterStep = {});

} // namespace flowrt

#endif // FLOWRT_INTEGRATE_H
