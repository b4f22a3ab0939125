// RUN: %flowc-opt --flow-differentiate-regions %s | FileCheck %s

// mse over 2 features: l = mean((a - b)^2); dl/da * g = (g/2) (a-b) * 2.
func.func @k_loss(%a: tensor<2xf32>, %b: tensor<2xf32>) -> f32 attributes {flow.kernel, flow.grad_args = array<i1: true, false>} {
  %d = arith.subf %a, %b : tensor<2xf32>
  %sq = arith.mulf %d, %d : tensor<2xf32>
  %m = flow.mean %sq : tensor<2xf32>
  return %m : f32
}
// CHECK-LABEL: func.func @k_loss_grad(
// CHECK-SAME: %[[A:[a-z0-9]+]]: tensor<2xf32>, %[[B:[a-z0-9]+]]: tensor<2xf32>, %[[G:[a-z0-9]+]]: f32) -> tensor<2xf32> attributes {flow.kernel}
// CHECK: %[[D:.*]] = arith.subf %[[A]], %[[B]]
// CHECK: %[[GD:.*]] = arith.divf %[[G]], %{{.*}} : f32
// CHECK: %[[GB:.*]] = flow.broadcast %[[GD]]
// CHECK: %[[P:.*]] = arith.mulf %[[GB]], %[[D]]
// CHECK: %[[Q:.*]] = arith.mulf %[[GB]], %[[D]]
// CHECK: %[[S:.*]] = arith.addf %[[P]], %[[Q]]
// CHECK: return %[[S]]

// Reverse mode through exp and a broadcast scalar: l = mean(exp(a) * s).
func.func @e_loss(%a: tensor<3xf32>, %s: f32) -> f32 attributes {flow.kernel, flow.grad_args = array<i1: true, false>} {
  %e = math.exp %a : tensor<3xf32>
  %sb = flow.broadcast %s : tensor<3xf32>
  %p = arith.mulf %e, %sb : tensor<3xf32>
  %m = flow.mean %p : tensor<3xf32>
  return %m : f32
}
// CHECK-LABEL: func.func @e_loss_grad(
// CHECK: %[[E:.*]] = math.exp
// CHECK: arith.mulf %{{.*}}, %[[E]]
// CHECK: return
