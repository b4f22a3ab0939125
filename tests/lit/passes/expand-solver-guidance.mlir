// RUN: %flowc-opt --flow-expand-solver %s | FileCheck %s
// Guided sampling: each stage evaluates the conditional and unconditional
// velocities in one net_guided call and launches the guidance kernel on them
// with the stage's state, each sample's time and the run's scale w; the
// samples' labels are the host step's last argument.

flow.solver @midpoint c = [0.0, 0.5] a = [array<f64>, array<f64: 0.5>] b = [0.0, 1.0]
flow.network @v "mlp" {activation = "silu", depth = 1 : i64, in_dim = 2 : i64, input_dims = array<i64: 2, 1, 1>, inputs = ["tensor", "time", "label"], out_dim = 2 : i64, time_features = 0 : i64, width = 8 : i64, classes = 2 : i64}
flow.flow @f {
  %x = flow.normal stream 0 : tensor<2xf32>
  %t = flow.uniform stream 1 : f32
  %y = arith.constant 1.0 : f32
  %v = flow.apply_net @v(%x, %t, %y) : (tensor<2xf32>, f32, f32) -> tensor<2xf32>
  flow.source %x : tensor<2xf32>
}
func.func @g(%vc: tensor<2xf32>, %vu: tensor<2xf32>, %x: tensor<2xf32>, %t: f32, %w: f32) -> tensor<2xf32>
    attributes {flow.kernel, flow.uniform_args = array<i1: false, false, false, false, true>} {
  %d = arith.subf %vc, %vu : tensor<2xf32>
  %wb = flow.broadcast %w : tensor<2xf32>
  %s = arith.mulf %wb, %d : tensor<2xf32>
  %r = arith.addf %vu, %s : tensor<2xf32>
  return %r : tensor<2xf32>
}
flow.sample @f with @midpoint {guidance = @g, guidance_fn = "cfg", guidance_scale = 2.0 : f64, label = 1 : i64, n = 10 : i64, seed = 0 : i64, steps = 4 : i64}

// CHECK-LABEL: func.func @f_midpoint_step(
// CHECK-SAME: %[[X:[^:]*]]: tensor<?x2xf32>, %[[T:[^:]*]]: f64, %[[H:[^:]*]]: f64, %[[ROWS:[^:]*]]: i64, %[[Y:[^:]*]]: tensor<?x1xf32> {flow.condition = "label"})
// CHECK: %[[W:.*]] = flow.guidance_scale : f32
// CHECK: %[[TB:.*]] = flow.fill %[[T]] rows %[[ROWS]]
// CHECK: %[[VC:.*]], %[[VU:.*]] = flow.net_guided @v(%[[X]], %[[TB]], %[[Y]])
// CHECK: %[[K0:.*]] = flow.launch @g(%[[VC]], %[[VU]], %[[X]], %[[TB]], %[[W]])
// CHECK: %[[X1:.*]] = flow.launch @f_midpoint_stage1(%[[X]], %[[K0]],
// CHECK: flow.net_guided @v(%[[X1]], %{{.*}}, %[[Y]])
// CHECK: flow.launch @g(
// CHECK: flow.launch @f_midpoint_update(
// CHECK-NOT: flow.net @v
