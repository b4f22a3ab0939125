// RUN: %flowc-opt --flow-outline-kernels --flow-differentiate-regions %s | FileCheck %s
// A flow body as a graph: v applied to the path, its output fed (through
// elementwise ops) to a second application, and a third application behind
// sg. The partition cuts at every application: level 0 (the path), level 1
// (between the first and second applications), level 2 (the loss). Only
// the regions whose arguments the gradient reaches get a vjp, and only for
// those arguments.

flow.network @v "mlp" {activation = "silu", depth = 1 : i64, in_dim = 2 : i64, input_dims = array<i64: 2, 1>, inputs = ["tensor", "time"], out_dim = 2 : i64, time_features = 0 : i64, width = 8 : i64}
flow.flow @g {
  %x1 = flow.draw_data @d : tensor<2xf32>
  %x0 = flow.normal stream 0 : tensor<2xf32>
  flow.source %x0 : tensor<2xf32>
  %t = flow.uniform stream 1 : f32
  flow.time %t
  %tb = flow.broadcast %t : tensor<2xf32>
  %xt = arith.addf %x0, %tb : tensor<2xf32>
  %v1 = flow.apply_net @v(%xt, %t) : (tensor<2xf32>, f32) -> tensor<2xf32>
  %half = arith.constant dense<0.5> : tensor<2xf32>
  %h = arith.mulf %v1, %half : tensor<2xf32>
  %x2 = arith.addf %xt, %h : tensor<2xf32>
  %v2 = flow.apply_net @v(%x2, %t) : (tensor<2xf32>, f32) -> tensor<2xf32>
  %s = flow.sg %x2 : tensor<2xf32>
  %v3 = flow.apply_net @v(%s, %t) : (tensor<2xf32>, f32) -> tensor<2xf32>
  %target = arith.subf %x1, %x0 : tensor<2xf32>
  %d = arith.subf %v2, %target : tensor<2xf32>
  %e = arith.subf %d, %v3 : tensor<2xf32>
  %sq = arith.mulf %e, %e : tensor<2xf32>
  %l = flow.mean %sq : tensor<2xf32>
  flow.loss %l
}

// Level 0: data in; v's inputs, and what later levels need, out.
// CHECK-LABEL: func.func @g_path(
// CHECK-SAME: %{{.*}}: tensor<2xf32>) -> (tensor<2xf32>, f32, tensor<2xf32>) attributes {flow.draws, flow.kernel}

// Level 1: from v's first output and xt to the second application's input
// and its stop-gradient copy; the adjoint goes to v1 only (xt is data).
// CHECK-LABEL: func.func @g_region1(
// CHECK-SAME: %[[V1:.*]]: tensor<2xf32>, %[[XT:.*]]: tensor<2xf32>) -> (tensor<2xf32>, tensor<2xf32>) attributes {flow.grad_args = array<i1: true, false>, flow.kernel}
// CHECK: %[[H:.*]] = arith.mulf %[[V1]], %{{.*}}
// CHECK: %[[X2:.*]] = arith.addf %[[XT]], %[[H]]
// CHECK: %[[S:.*]] = flow.sg %[[X2]]
// CHECK: return %[[X2]], %[[S]]
// Its vjp: adjoints of (x2, sg(x2)) in, adjoint of v1 out: 0.5 * dx2 (the
// sg output's adjoint goes nowhere).
// CHECK-LABEL: func.func @g_region1_grad(
// CHECK-SAME: %{{.*}}: tensor<2xf32>, %{{.*}}: tensor<2xf32>, %[[DX2:.*]]: tensor<2xf32>, %{{.*}}: tensor<2xf32>) -> tensor<2xf32>
// CHECK: %[[DV1:.*]] = arith.mulf %[[DX2]], %{{.*}}
// CHECK: return %[[DV1]]

// Level 2: the loss, from both applications' outputs and the target.
// CHECK-LABEL: func.func @g_loss(
// CHECK-SAME: %{{.*}}: tensor<2xf32>, %{{.*}}: tensor<2xf32>, %{{.*}}: tensor<2xf32>) -> f32 attributes {flow.grad_args = array<i1: true, false, true>, flow.kernel}
// CHECK-LABEL: func.func @g_loss_grad(
// CHECK-SAME: -> (tensor<2xf32>, tensor<2xf32>)

// The schedule: each level's region, then the next level's applications.
// CHECK-LABEL: func.func @g_train_loss(
// CHECK: %[[B:.*]] = flow.batch_data @d
// CHECK: %[[P:.*]]:3 = flow.launch @g_path(%[[B]]) rows %{{.*}} step %{{.*}} :
// CHECK: %[[N1:.*]] = flow.net @v(%[[P]]#0, %[[P]]#1)
// CHECK: %[[R:.*]]:2 = flow.launch @g_region1(%[[N1]], %[[P]]#0) rows %{{.*}} step %{{.*}} vjp @g_region1_grad
// CHECK: %[[N2:.*]] = flow.net @v(%[[R]]#0, %[[P]]#1)
// CHECK: %[[N3:.*]] = flow.net @v(%[[R]]#1, %[[P]]#1)
// CHECK: %[[L:.*]] = flow.launch @g_loss(%[[N2]], %[[P]]#2, %[[N3]]) rows %{{.*}} step %{{.*}} vjp @g_loss_grad
// CHECK: flow.batch_mean %[[L]]
