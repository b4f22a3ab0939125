// RUN: %flowc-opt --flow-expand-solver %s | FileCheck %s

// An MLP above 2^19 parameters gets no whole-trajectory kernel: one row
// would stream every weight from memory per stage, so the sampler keeps
// the per-step path (LibTorch's batched GEMMs between fused stage kernels).
// This one is 784-d, width 1024, depth 4: (784 + 32) x 1024 + 1024 +
// 3 x (1024 x 1024 + 1024) + 1024 x 784 + 784 = 4,790,032 parameters.
flow.network @v "mlp" {activation = "silu", depth = 4 : i64, in_dim = 784 : i64, time_features = 32 : i64, width = 1024 : i64, input_dims = array<i64: 784, 1>, inputs = ["tensor", "time"], out_dim = 784 : i64}
flow.solver @euler c = [0.0] a = [array<f64>] b = [1.0]
flow.flow @f {
  %x = flow.normal stream 0 : tensor<784xf32>
  %t = flow.uniform stream 1 : f32
  %v = flow.apply_net @v(%x, %t) : (tensor<784xf32>, f32) -> tensor<784xf32>
  flow.source %x : tensor<784xf32>
}
flow.sample @f with @euler {n = 10 : i64, seed = 0 : i64, steps = 4 : i64}

// CHECK-LABEL: func.func @f_euler_step(
// CHECK: flow.net @v(
// CHECK: flow.launch @f_euler_update(
// CHECK-NOT: f_trajectory
// CHECK-NOT: f_solve
