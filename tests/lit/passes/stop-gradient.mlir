// RUN: %flowc-opt --flow-differentiate-time %s | FileCheck %s --check-prefix=DDT
// RUN: %flowc-opt --flow-differentiate-regions %s | FileCheck %s --check-prefix=VJP
// RUN: %flowc-opt --flow-differentiate-regions --flow-lower-kernels-to-loops %s | FileCheck %s --check-prefix=LOWER
// flow.sg: forward mode gives it a zero tangent, reverse mode no adjoint,
// and the kernel lowering reads it as its operand.

// d/dt (sg(t x) + t x) = x: only the second term has a tangent.
flow.flow @f {
  %x = flow.normal stream 0 : tensor<2xf32>
  %t = flow.uniform stream 1 : f32
  %tb = flow.broadcast %t : tensor<2xf32>
  %tx = arith.mulf %tb, %x : tensor<2xf32>
  %s = flow.sg %tx : tensor<2xf32>
  %y = arith.addf %s, %tx : tensor<2xf32>
  %d = flow.ddt %y wrt %t : tensor<2xf32>
  %m = flow.mean %d : tensor<2xf32>
  flow.loss %m
}
// DDT-LABEL: flow.flow @f
// DDT: %[[X:.*]] = flow.normal stream 0
// DDT-NOT: flow.ddt
// DDT: %[[M:.*]] = flow.mean %[[X]]
// DDT: flow.loss %[[M]]

// l = mean(a * sg(a)): dl/da = sg(a) / 2 (one term, not 2 a / 2).
func.func @k_loss(%a: tensor<2xf32>) -> f32 attributes {flow.kernel, flow.grad_args = array<i1: true>} {
  %s = flow.sg %a : tensor<2xf32>
  %p = arith.mulf %a, %s : tensor<2xf32>
  %m = flow.mean %p : tensor<2xf32>
  return %m : f32
}
// VJP-LABEL: func.func @k_loss_grad(
// VJP-SAME: %[[A:[a-z0-9]+]]: tensor<2xf32>, %[[G:[a-z0-9]+]]: f32)
// VJP: %[[S:.*]] = flow.sg %[[A]]
// VJP: %[[GD:.*]] = arith.divf %[[G]], %{{.*}} : f32
// VJP: %[[GB:.*]] = flow.broadcast %[[GD]]
// VJP: %[[DA:.*]] = arith.mulf %[[GB]], %[[S]]
// VJP: return %[[DA]] :

// LOWER-LABEL: func.func @k_loss_grad(
// LOWER-NOT: flow.sg
// LOWER: return
