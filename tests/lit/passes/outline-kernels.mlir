// RUN: %flowc-opt --flow-outline-kernels %s | FileCheck %s
// RUN: %flowc-opt --flow-outline-kernels --flow-differentiate-loss %s | FileCheck %s --check-prefix=GRAD

flow.flow @f {
  %x1 = flow.draw_data @d : tensor<2xf32>
  %x0 = flow.normal stream 0 : tensor<2xf32>
  flow.source %x0 : tensor<2xf32>
  %t = flow.uniform stream 1 : f32
  flow.time %t
  %tb = flow.broadcast %t : tensor<2xf32>
  %xt = arith.addf %x0, %tb : tensor<2xf32>
  %v = flow.apply_net @v(%xt, %t) : tensor<2xf32> -> tensor<2xf32>
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

// The loss kernel starts at the network output.
// CHECK-LABEL: func.func @f_loss(
// CHECK-SAME: %[[V:.*]]: tensor<2xf32>, %[[TG:.*]]: tensor<2xf32>) -> f32 attributes {flow.kernel, flow.loss_kernel}
// CHECK: arith.subf %[[V]], %[[TG]]

// CHECK-LABEL: func.func @f_train_loss(
// CHECK: flow.batch_data @d
// CHECK: flow.launch @f_path
// CHECK: flow.net @v
// The gradient kernel does not exist yet: flow-differentiate-loss creates
// it and records it as the mean's backward.
// CHECK: flow.mean_loss @f_loss(
// GRAD: func.func @f_loss_grad(
// GRAD: flow.mean_loss @f_loss, @f_loss_grad(
