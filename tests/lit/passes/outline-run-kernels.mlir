// RUN: %flowc-opt --flow-outline-run-kernels %s | FileCheck %s
// RUN: %flowc-opt --flow-outline-run-kernels --flow-differentiate-time %s | FileCheck %s --check-prefix=JVP
// The train and sample blocks' regions become kernels and in-place host
// updates, recorded on the ops; the regions are left empty.

flow.flow @f {
  %t = flow.uniform stream 0 : f32
}
flow.solver @euler c = [0.0] a = [array<f64>] b = [1.0]

// sgd with momentum: (p, g, m, lr, step) -> (p - lr m', m' = 0.9 m + g).
flow.train @f {batch = 8 : i64, ema = 0.5 : f64, lr = 1.0e-3 : f64, optimizer = "sgd", seed = 0 : i64, steps = 1 : i64} update {
^bb0(%p: f32, %g: f32, %m: f32, %lr: f32, %step: f32):
  %c = arith.constant 0.9 : f32
  %cm = arith.mulf %c, %m : f32
  %m2 = arith.addf %cm, %g : f32
  %d = arith.mulf %lr, %m2 : f32
  %p2 = arith.subf %p, %d : f32
  flow.yield %p2, %m2 : f32, f32
}

// A closed-form field v = t * x and cfg-like guidance v_u + w (v_c - v_u).
flow.sample @f with @euler {n = 10 : i64, seed = 0 : i64, steps = 4 : i64} model {
^bb0(%x: tensor<2xf32>, %t: f32):
  %tb = flow.broadcast %t : tensor<2xf32>
  %v = arith.mulf %tb, %x : tensor<2xf32>
  flow.yield %v : tensor<2xf32>
} combine {
^bb0(%vc: tensor<2xf32>, %vu: tensor<2xf32>, %x: tensor<2xf32>, %t: f32, %w: f32):
  %d = arith.subf %vc, %vu : tensor<2xf32>
  %wb = flow.broadcast %w : tensor<2xf32>
  %s = arith.mulf %wb, %d : tensor<2xf32>
  %v = arith.addf %vu, %s : tensor<2xf32>
  flow.yield %v : tensor<2xf32>
}

// CHECK: flow.train @f {{{.*}}ema_step = @f_ema_step, {{.*}}optimizer_step = @f_optimizer_step, {{.*}}}
// CHECK-NOT: update
// CHECK: flow.sample @f with @euler {guidance = @f_guidance, {{.*}}velocity = @f_model, velocity_jvp = @f_model_jvp}
// CHECK-NOT: model {
// CHECK-NOT: combine

// CHECK-LABEL: func.func @f_optimizer(
// CHECK-SAME: %[[P:.*]]: f32, %[[G:.*]]: f32, %[[M:.*]]: f32, %[[LR:.*]]: f32, %{{.*}}: f32) -> (f32, f32)
// CHECK-SAME: attributes {flow.kernel, flow.parallel_rows, flow.uniform_args = array<i1: false, false, false, true, true>, flow.uniforms_in_memory}
// CHECK: %[[M2:.*]] = arith.addf %{{.*}}, %[[G]]
// CHECK: %[[P2:.*]] = arith.subf %[[P]], %{{.*}}
// CHECK: return %[[P2]], %[[M2]] : f32, f32
// The host update: p' overwrites p (operand 0), m' overwrites m (operand 2).
// CHECK-LABEL: func.func @f_optimizer_step(
// CHECK-SAME: tensor<?x1xf32>, %{{.*}}: tensor<?x1xf32>, %{{.*}}: tensor<?x1xf32>, %{{.*}}: f32, %{{.*}}: f32, %[[ROWS:.*]]: i64) attributes {flow.host}
// CHECK: flow.launch @f_optimizer({{.*}}) rows %[[ROWS]] step %{{.*}} {flow.in_place = array<i64: 0, 2>}

// CHECK-LABEL: func.func @f_ema(
// CHECK-SAME: %[[E:.*]]: f32, %[[Q:.*]]: f32, %[[DECAY:.*]]: f32) -> f32
// CHECK-SAME: flow.uniform_args = array<i1: false, false, true>
// CHECK: %[[REST:.*]] = arith.subf %{{.*}}, %[[DECAY]]
// CHECK: %[[KEPT:.*]] = arith.mulf %[[DECAY]], %[[E]]
// CHECK: %[[MIXED:.*]] = arith.mulf %[[REST]], %[[Q]]
// CHECK: arith.addf %[[KEPT]], %[[MIXED]]
// CHECK-LABEL: func.func @f_ema_step(
// CHECK: flow.launch @f_ema({{.*}}) {{.*}}{flow.in_place = array<i64: 0>}

// CHECK-LABEL: func.func @f_model(
// CHECK-SAME: %{{.*}}: tensor<2xf32>, %{{.*}}: f32) -> tensor<2xf32> attributes {flow.kernel}
// The jvp: the body at x + s e under flow.ddt wrt s.
// CHECK-LABEL: func.func @f_model_jvp(
// CHECK-SAME: %[[JX:.*]]: tensor<2xf32>, %[[JT:.*]]: f32, %[[JE:.*]]: tensor<2xf32>, %[[JS:.*]]: f32) -> tensor<2xf32>
// CHECK-SAME: flow.uniform_args = array<i1: false, false, false, true>
// CHECK: %[[SB:.*]] = flow.broadcast %[[JS]]
// CHECK: %[[SE:.*]] = arith.mulf %[[SB]], %[[JE]]
// CHECK: %[[SHIFTED:.*]] = arith.addf %[[JX]], %[[SE]]
// CHECK: %[[TB:.*]] = flow.broadcast %[[JT]]
// CHECK: %[[V:.*]] = arith.mulf %[[TB]], %[[SHIFTED]]
// CHECK: %[[JV:.*]] = flow.ddt %[[V]] wrt %[[JS]]
// CHECK: return %[[JV]]

// CHECK-LABEL: func.func @f_guidance(
// CHECK-SAME: flow.uniform_args = array<i1: false, false, false, false, true>

// After differentiate-time, J e of v = t x is t e.
// JVP-LABEL: func.func @f_model_jvp(
// JVP-SAME: %{{.*}}: tensor<2xf32>, %[[T:.*]]: f32, %[[E:.*]]: tensor<2xf32>, %{{.*}}: f32)
// JVP-NOT: flow.ddt
// JVP: %[[TB:.*]] = flow.broadcast %[[T]]
// JVP: %[[TE:.*]] = arith.mulf %[[TB]], %[[E]]
// JVP: return %[[TE]]
