//===- Passes.td - flowc passes ----------------------------*- tablegen -*-===//
//
// Every pass of the pipeline, in pipeline order. Each description states the
// rewrite it performs.
//
//===----------------------------------------------------------------------===//
#ifndef FLOWC_PASSES_TD
#define FLOWC_PASSES_TD

include "mlir/Pass/PassBase.td"

def OutlineRunKernels : Pass<"flow-outline-run-kernels", "mlir::ModuleOp"> {
  let summary = "Outline the train and sample blocks' regions into kernels and in-place host updates";
  let description = [{
    For `flow.train @F`:
      - its `update` region (the optimizer on one parameter) becomes kernel
        `F_optimizer(p, g, s..., lr, step) -> (p', s'...)` and host function
        `F_optimizer_step(p, g, s..., lr, step, rows)`, which launches it
        over [rows, 1] buffers with p' overwriting p and s' its s;
      - kernel `F_ema(e, p, decay) -> decay e + (1 - decay) p` and host
        function `F_ema_step(e, p, decay, rows)`, in place on e.
    Both kernels have parallel rows and read their uniforms from memory (so
    a CUDA graph replays them with new values). Records `optimizer_step` and
    `ema_step`. For `flow.sample @F`:
      - its `model` region (a closed-form field) becomes kernel
        `F_model(x, t) -> v`, and `F_model_jvp(x, t, e, s)` is the model's
        body at x + s e wrapped in `flow.ddt ... wrt s` (the Jacobian times
        e at s = 0, made symbolic by flow-differentiate-time); recorded as
        `velocity` and `velocity_jvp`;
      - its `combine` region becomes kernel `F_guidance(v_c, v_u, x, t, w)`
        (w uniform), recorded as `guidance`;
      - a `map` region becomes the host function `F_map_step`.
    For `flow.tokenizer @T`, its `encode` and `decode` regions become host
    functions `T_encode(x, rows) -> z` and `T_decode(z, rows) -> x`
    (partitioned like a flow body: kernels around network calls), recorded
    as `encode_fn` and `decode_fn`.
    The regions are left empty.
  }];
  let dependentDialects = ["mlir::func::FuncDialect", "mlir::arith::ArithDialect"];
}

def DifferentiateTime : Pass<"flow-differentiate-time", "mlir::ModuleOp"> {
  let summary = "Replace ddt by the symbolic time derivative";
  let description = [{
    `flow.ddt %y wrt %t  =>  dy/dt`, by forward-mode differentiation over the
    def chain of %y with seed dt/dt = 1 and every other leaf (draws, data,
    constants) of derivative 0:
      d(a+b) = da+db, d(a*b) = da*b + a*db, d(a/b) = (da*b - a*db)/b^2,
      d(exp a) = exp(a) da, d(log a) = da/a, d(sin a) = cos(a) da, ...
    Derivative chains that are identically zero are folded away, so
    `ddt((1-t)*x0 + t*x1)` becomes `x1 - x0`. Through a network application
    the derivative is `flow.apply_net_jvp`, the network's Jacobian-vector
    product with its arguments' tangents (zero constants for those that do
    not move with t), which the runtime computes with autograd.
  }];
  let dependentDialects = ["mlir::arith::ArithDialect", "mlir::math::MathDialect"];
}

def OutlineKernels : Pass<"flow-outline-kernels", "mlir::ModuleOp"> {
  let summary = "Partition each flow at its network applications into fused region kernels and a host schedule";
  let description = [{
    Every op of a flow body gets a level, its network depth: data draws,
    draws and constants are 0; a `flow.apply_net` (or `flow.apply_net_jvp`)
    result is one more than its deepest argument; any other op is as deep as its deepest operand.
    For `flow.flow @F` with a `flow.train`:
      1. each level's non-network ops become one kernel: `F_path` (level 0,
         the only one that draws), `F_loss` (the deepest level), and
         `F_region<k>` between. A region's arguments are the values it
         reads from other levels: the data as drawn, then network results
         and earlier regions' outputs in order of first use; its results
         are what networks,
         other levels and `flow.loss` read, in the order of their users.
         Constants are recomputed by each region that uses them.
      2. a kernel with an argument that the loss's gradient reaches (one
         that depends on a network output, not through `flow.sg`) is marked
         `flow.grad_args`, one bool per argument, for
         flow-differentiate-regions;
      3. `F_source`: the def chain of `flow.source`: () -> x0;
    and host functions `F_train_loss(step, rows)` (batch_data, then per
    level the region's launch and the next level's `flow.net`s, then the
    `flow.batch_mean` of the per-sample loss) and `F_sample_source(rows)`.
    Kernels are `func.func` marked `flow.kernel`; host functions are marked
    `flow.host`. Records `train_loss` and `sample_source` on the flow's
    `flow.train` (where flow-outline-run-kernels recorded `optimizer_step`
    and `ema_step`), and `sample_source` on its `flow.sample`.
  }];
  let dependentDialects = ["mlir::func::FuncDialect", "mlir::arith::ArithDialect"];
}

def DifferentiateRegions : Pass<"flow-differentiate-regions", "mlir::ModuleOp"> {
  let summary = "Generate the reverse-mode kernel of every region kernel that has adjoints";
  let description = [{
    For kernel `K(a...) -> (r...)` marked `flow.grad_args`, emit
    `K_grad(a..., dr...) -> (da_i for each marked a_i)`, the vector-Jacobian
    product, by reverse-mode accumulation over the kernel's ops in reverse
    order from the adjoints dr of its results: adjoints of + - * / neg exp
    log sin cos sqrt tanh, of broadcast (sum) and of mean (broadcast / D);
    `flow.sg` passes none. Records it as the `vjp` of every `flow.launch`
    of K.
  }];
  let dependentDialects = ["mlir::func::FuncDialect", "mlir::arith::ArithDialect"];
}

def ExpandSolver : Pass<"flow-expand-solver", "mlir::ModuleOp"> {
  let summary = "Turn the module's tableaux into stage kernels and host solver steps";
  let description = [{
    For `flow.sample @F` and each `flow.solver @S` with s stages: kernel
    `F_S_stage_i` computes x + h * sum_{j<i} a[i][j] k_j (i = 1..s-1, zero
    coefficients dropped) and `F_S_update` computes x + h * sum_i b[i] k_i
    and, for a tableau with `b_err`, the error estimate
    h * sum_i (b[i] - b_err[i]) k_i as a second result; host function
    `F_S_step(x, t, h, rows[, labels])` evaluates k_i = v(x_i, t + c_i h)
    between them. `F_velocity(x, t, rows[, labels])` evaluates the field
    alone. The field is the network (guided by the sample's `guidance`
    kernel) or the closed-form model's kernel that flow-outline-run-kernels
    recorded as the sample's `velocity` (its `velocity_jvp` gives
    `field_jvp`), both found by reference. Records what the host code
    calls on the `flow.sample`: `field`, `field_jvp`, `solver_steps`,
    `adaptive_steps`, `trajectory`, `solve` and `labelled`.
  }];
  let dependentDialects = ["mlir::func::FuncDialect", "mlir::arith::ArithDialect"];
}

def LowerKernelsToLoops : Pass<"flow-lower-kernels-to-loops", "mlir::ModuleOp"> {
  let summary = "Lower per-sample kernels to loops over rows and features (CPU)";
  let description = [{
    `func @K(tensor<Dxf32>, f32) -> tensor<Dxf32>` (per sample) becomes
    `func @K(n, seed, step, memref<?xDxf32>, memref<?x1xf32>, out memrefs)`
    with an scf.for over rows; per-sample scalars are computed once per row,
    vector values inside fused feature loops (reductions become loops with an
    accumulator); draws expand to Philox 4x32-10 + Box-Muller; flow.integrate
    becomes the step loop with the MLP on vector registers, whose vector
    exp/tanh/erf/sin/cos use MLIR's polynomial approximations (libm has no vector
    entry points). Host functions and declarations are removed: this module
    holds kernels only.
  }];
  let dependentDialects = ["mlir::scf::SCFDialect", "mlir::memref::MemRefDialect",
                           "mlir::arith::ArithDialect", "mlir::math::MathDialect",
                           "mlir::func::FuncDialect", "mlir::vector::VectorDialect"];
}

def LowerKernelsToGPU : Pass<"flow-lower-kernels-to-gpu", "mlir::ModuleOp"> {
  let summary = "Lower per-sample kernels to GPU kernels, one thread per row";
  let description = [{
    Same body as flow-lower-kernels-to-loops, inside a `gpu.func` of a
    `gpu.module @flow_kernels` where row = block_id.x * block_dim.x +
    thread_id.x guarded by row < n. The random-number counter (argument 2)
    is a memref<1xi64> read by the kernels that draw, so a launch captured in
    a CUDA graph draws anew when the runtime updates it between replays.
    A whole-trajectory kernel whose MLP has at most 12K parameters (48 KiB)
    first copies the weights into workgroup memory, each thread a strided
    share, then gpu.barrier, and reads them from there.
  }];
  let dependentDialects = ["mlir::gpu::GPUDialect", "mlir::scf::SCFDialect",
                           "mlir::memref::MemRefDialect", "mlir::arith::ArithDialect",
                           "mlir::math::MathDialect", "mlir::vector::VectorDialect"];
}

#endif // FLOWC_PASSES_TD
