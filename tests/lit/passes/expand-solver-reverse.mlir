// RUN: %flowc-opt --flow-expand-solver %s | FileCheck %s

// A flow with reversed time learned v = dx/dsigma: sampling in canonical
// time tau evaluates the network at 1 - tau and negates every tableau weight.
flow.solver @heun c = [0.0, 1.0] a = [array<f64>, array<f64: 1.0>] b = [0.5, 0.5]
flow.network @v "mlp" {activation = "silu", depth = 1 : i64, in_dim = 2 : i64, input_dims = array<i64: 2, 1>, inputs = ["tensor", "time"], out_dim = 2 : i64, time_features = 0 : i64, width = 8 : i64}
flow.flow @f attributes {reverse_time} {
  %x = flow.normal stream 0 : tensor<2xf32>
  %t = flow.uniform stream 1 : f32
  %v = flow.apply_net @v(%x, %t) : (tensor<2xf32>, f32) -> tensor<2xf32>
  flow.source %x : tensor<2xf32>
}
flow.sample @f with @heun {n = 10 : i64, seed = 0 : i64, steps = 4 : i64}

// CHECK-LABEL: func.func @f_heun_stage1(
// CHECK-SAME: %[[X:[a-z0-9]+]]: tensor<2xf32>, %[[K0:[a-z0-9]+]]: tensor<2xf32>
// CHECK: %[[NK:.*]] = arith.negf %[[K0]]
// CHECK-LABEL: func.func @f_heun_update(
// CHECK: arith.constant dense<-5.000000e-01>
// CHECK-LABEL: func.func @f_heun_step(
// CHECK-SAME: %{{.*}}: tensor<?x2xf32>, %[[T:[a-z0-9]+]]: f64
// CHECK: %[[ONE:.*]] = arith.constant 1.000000e+00 : f64
// CHECK: %[[S:.*]] = arith.subf %[[ONE]], %[[T]] : f64
// CHECK: flow.fill %[[S]]
