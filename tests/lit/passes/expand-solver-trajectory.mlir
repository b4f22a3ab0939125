// RUN: %flowc-opt --flow-expand-solver %s | FileCheck %s

// An unguided MLP field also gets one whole-trajectory kernel for every
// fixed-step tableau: F_trajectory wraps flow.integrate (weights, tableau,
// t0, h, steps launch-uniform; rows independent), and the host's F_solve
// passes the network's packed weights (count = the MLP's parameters:
// (2 + 16) x 8 + 8, 8 x 2 + 2 for width 8, depth 1, fourier(16)).
flow.network @v "mlp" {activation = "silu", depth = 1 : i64, in_dim = 2 : i64, time_features = 16 : i64, width = 8 : i64, input_dims = array<i64: 2, 1>, inputs = ["tensor", "time"], out_dim = 2 : i64}
flow.solver @euler c = [0.0] a = [array<f64>] b = [1.0]
flow.solver @heun c = [0.0, 1.0] a = [array<f64>, array<f64: 1.0>] b = [0.5, 0.5]
flow.flow @f {
  %x = flow.normal stream 0 : tensor<2xf32>
  %t = flow.uniform stream 1 : f32
  %v = flow.apply_net @v(%x, %t) : (tensor<2xf32>, f32) -> tensor<2xf32>
  flow.source %x : tensor<2xf32>
}
flow.sample @f with @heun {n = 10 : i64, seed = 0 : i64, steps = 4 : i64}

// CHECK-LABEL: func.func @f_trajectory(
// CHECK-SAME: tensor<2xf32>, %{{.*}}: tensor<?xf32>, %{{.*}}: tensor<?xf32>, %{{.*}}: f32, %{{.*}}: f32, %{{.*}}: i64) -> tensor<2xf32>
// CHECK-SAME: flow.parallel_rows
// CHECK-SAME: flow.uniform_args = array<i1: false, true, true, true, true, true>
// CHECK: flow.integrate {{.*}} net @v {max_stages = 2 : i64}
// CHECK-LABEL: func.func @f_solve(
// CHECK: flow.net_weights @v count 170
// CHECK: flow.launch @f_trajectory(
// CHECK-NOT: func.func @f_heun_trajectory
