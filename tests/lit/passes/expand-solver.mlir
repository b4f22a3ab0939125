// RUN: %flowc-opt --flow-expand-solver %s | FileCheck %s

flow.solver @heun c = [0.0, 1.0] a = [array<f64>, array<f64: 1.0>] b = [0.5, 0.5]
flow.network @v "mlp" {activation = "silu", depth = 1 : i64, in_dim = 2 : i64, input_dims = array<i64: 2, 1>, inputs = ["tensor", "time"], out_dim = 2 : i64, time_features = 0 : i64, width = 8 : i64}
flow.flow @f {
  %x = flow.normal stream 0 : tensor<2xf32>
  %t = flow.uniform stream 1 : f32
  %v = flow.apply_net @v(%x, %t) : (tensor<2xf32>, f32) -> tensor<2xf32>
  flow.source %x : tensor<2xf32>
}
flow.sample @f with @heun {n = 10 : i64, seed = 0 : i64, steps = 4 : i64}

// Stage 1: x + h * k0 (a[1][0] = 1 needs no multiply).
// CHECK-LABEL: func.func @f_heun_stage1(
// CHECK-SAME: %[[X:.*]]: tensor<2xf32>, %[[K0:.*]]: tensor<2xf32>, %[[H:.*]]: f32) -> tensor<2xf32>
// CHECK-SAME: flow.uniform_args = array<i1: false, false, true>
// CHECK: %[[HB:.*]] = flow.broadcast %[[H]]
// CHECK: %[[HK:.*]] = arith.mulf %[[HB]], %[[K0]]
// CHECK: arith.addf %[[X]], %[[HK]]

// Update: x + h * (k0/2 + k1/2).
// CHECK-LABEL: func.func @f_heun_update(
// CHECK: arith.constant dense<5.000000e-01>

// Host step: k0 = v(x, t), x1 = stage1, k1 = v(x1, t + 1*h), update.
// CHECK-LABEL: func.func @f_heun_step(
// CHECK-SAME: %[[XB:.*]]: tensor<?x2xf32>, %[[T:.*]]: f64, %[[HH:.*]]: f64, %[[ROWS:.*]]: i64)
// CHECK: %[[T0:.*]] = flow.fill %[[T]] rows %[[ROWS]]
// CHECK: %[[KA:.*]] = flow.net @v(%[[XB]], %[[T0]])
// CHECK: %[[XS:.*]] = flow.launch @f_heun_stage1(%[[XB]], %[[KA]], %{{.*}})
// CHECK: %[[CH:.*]] = arith.mulf %{{.*}}, %[[HH]] : f64
// CHECK: %[[T1:.*]] = arith.addf %[[T]], %[[CH]] : f64
// CHECK: %[[KB:.*]] = flow.net @v(%[[XS]], %{{.*}})
// CHECK: flow.launch @f_heun_update(%[[XB]], %[[KA]], %[[KB]], %{{.*}})
