// RUN: %flowc-opt --flow-outline-kernels %s | FileCheck %s
// RUN: %flowc-opt --flow-outline-kernels --flow-differentiate-regions %s | FileCheck %s --check-prefix=GRAD

flow.network @v "mlp" {activation = "silu", depth = 1 : i64, in_dim = 2 : i64, input_dims = array<i64: 2, 1>, inputs = ["tensor", "time"], out_dim = 2 : i64, time_features = 0 : i64, width = 8 : i64}
flow.flow @f {
  %x1 = flow.draw_data @d : tensor<2xf32>
  %x0 = flow.normal stream 0 : tensor<2xf32>
  flow.source %x0 : tensor<2xf32>
  %t = flow.uniform stream 1 : f32
  flow.time %t
  %tb = flow.broadcast %t : tensor<2xf32>
  %xt = arith.addf %x0, %tb : tensor<2xf32>
  %v = flow.apply_net @v(%xt, %t) : (tensor<2xf32>, f32) -> tensor<2xf32>
  %target = arith.subf %x1, %x0 : tensor<2xf32>
  %d = arith.subf %v, %target : tensor<2xf32>
  %sq = arith.mulf %d, %d : tensor<2xf32>
  %l = flow.mean %sq : tensor<2xf32>
  flow.loss %l
}

// The source kernel holds only the source's def chain.
// CHECK-LABEL: func.func @f_source() -> tensor<2xf32> attributes {flow.draws, flow.kernel}
// CHECK-NEXT: %[[N:.*]] = flow.normal stream 0
// CHECK-NEXT: return %[[N]]

// The path kernel: data in; network inputs and the loss's other input out.
// CHECK-LABEL: func.func @f_path(
// CHECK-SAME: %[[X1:.*]]: tensor<2xf32>) -> (tensor<2xf32>, f32, tensor<2xf32>)
// CHECK-NOT: flow.apply_net
// CHECK: return

// The loss kernel starts at the network output, the only argument the
// loss's gradient reaches.
// CHECK-LABEL: func.func @f_loss(
// CHECK-SAME: %[[V:.*]]: tensor<2xf32>, %[[TG:.*]]: tensor<2xf32>) -> f32 attributes {flow.grad_args = array<i1: true, false>, flow.kernel}
// CHECK: arith.subf %[[V]], %[[TG]]

// CHECK-LABEL: func.func @f_train_loss(
// CHECK: flow.batch_data @d
// CHECK: flow.launch @f_path
// CHECK: flow.net @v
// The loss region's launch is not differentiable yet:
// flow-differentiate-regions creates the vjp and records it on the launch.
// CHECK: %[[L:.*]] = flow.launch @f_loss(%{{.*}}, %{{.*}}) rows %{{.*}} step %{{.*}} :
// CHECK: flow.batch_mean %[[L]] : tensor<?x1xf32> -> tensor<f32>
// GRAD: func.func @f_loss_grad(
// GRAD: flow.launch @f_loss(%{{.*}}, %{{.*}}) rows %{{.*}} step %{{.*}} vjp @f_loss_grad :
