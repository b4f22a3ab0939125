// Time and reverse-mode derivatives of reductions, softmax, indexing,
// comparisons, where/min/max, log1p and erf.
// RUN: %flowc-opt --flow-differentiate-time %s | FileCheck %s --check-prefix=TIME
// RUN: %flowc-opt --flow-differentiate-regions %s | FileCheck %s --check-prefix=LOSS

// d/dt softmax(t x) = s * (x - sum(s * x)), with s the softmax.
// TIME-LABEL: flow.flow @softmax
flow.flow @softmax {
  %x = flow.normal stream 0 : tensor<3xf32>
  %t = flow.uniform stream 1 : f32
  %tb = flow.broadcast %t : tensor<3xf32>
  %y = arith.mulf %tb, %x : tensor<3xf32>
  %s = flow.softmax %y : tensor<3xf32>
  // TIME: %[[S:.*]] = flow.softmax %[[Y:.*]] : tensor<3xf32>
  // TIME: %[[SX:.*]] = arith.mulf %[[S]], %[[X:.*]] : tensor<3xf32>
  // TIME: %[[SUM:.*]] = flow.sum %[[SX]]
  // TIME: %[[B:.*]] = flow.broadcast %[[SUM]]
  // TIME: %[[C:.*]] = arith.subf %[[X]], %[[B]]
  // TIME: arith.mulf %[[S]], %[[C]]
  %d = flow.ddt %s wrt %t : tensor<3xf32>
  flow.source %d : tensor<3xf32>
}

// Comparisons are piecewise constant; where/max pick the chosen side.
// TIME-LABEL: flow.flow @select
flow.flow @select {
  %x = flow.normal stream 0 : tensor<2xf32>
  %t = flow.uniform stream 1 : f32
  %half = arith.constant 0.5 : f32
  %tb = flow.broadcast %t : tensor<2xf32>
  %tx = arith.mulf %tb, %x : tensor<2xf32>
  %m = arith.maximumf %tx, %x : tensor<2xf32>
  %e = flow.extract %m[1] : tensor<2xf32>
  %c = arith.cmpf olt, %t, %half : f32
  %w = arith.select %c, %e, %half : f32
  // TIME: %[[GE:.*]] = arith.cmpf oge, %{{.*}}, %[[X:.*]] : tensor<2xf32>
  // TIME: %[[ZERO:.*]] = arith.constant dense<0.000000e+00> : tensor<2xf32>
  // TIME: %[[DM:.*]] = arith.select %[[GE]], %[[X]], %[[ZERO]] : tensor<2xi1>, tensor<2xf32>
  // TIME: %[[DE:.*]] = flow.extract %[[DM]][1]
  // TIME: arith.select %{{.*}}, %[[DE]], %{{.*}} : f32
  %d = flow.ddt %w wrt %t : f32
  flow.loss %d
}

// Reverse mode: l = log1p(x[0]) + sum(softmax(x)) (the sum is 1, so only
// the log1p term has a gradient, at feature 0).
func.func @k_loss(%x: tensor<2xf32>) -> f32 attributes {flow.kernel, flow.grad_args = array<i1: true>} {
  %e = flow.extract %x[0] : tensor<2xf32>
  %l = math.log1p %e : f32
  %s = flow.softmax %x : tensor<2xf32>
  %sum = flow.sum %s : tensor<2xf32>
  %r = arith.addf %l, %sum : f32
  return %r : f32
}
// LOSS-LABEL: func.func @k_loss_grad(
// LOSS: %[[S:.*]] = flow.softmax
// LOSS: %[[G:.*]] = flow.broadcast %arg1
// LOSS: arith.mulf %[[G]], %[[S]]
// LOSS: flow.sum
// LOSS: %[[SM:.*]] = arith.mulf %[[S]], %{{.*}}
// LOSS: %[[DEN:.*]] = arith.addf %{{.*}}, %{{.*}} : f32
// LOSS: arith.divf %arg1, %[[DEN]] : f32
// LOSS: %[[HOT:.*]] = flow.one_hot %{{.*}} : tensor<2xf32>
// LOSS: %[[LG:.*]] = arith.mulf %{{.*}}, %[[HOT]]
// LOSS: %[[R:.*]] = arith.addf %[[SM]], %[[LG]]
// LOSS: return %[[R]]

// d/dt erf(t x) = 2/sqrt(pi) exp(-(t x)^2) x.
// TIME-LABEL: flow.flow @erf
flow.flow @erf {
  %x = flow.normal stream 0 : tensor<2xf32>
  %t = flow.uniform stream 1 : f32
  %tb = flow.broadcast %t : tensor<2xf32>
  %y = arith.mulf %tb, %x : tensor<2xf32>
  %e = math.erf %y : tensor<2xf32>
  // TIME: %[[SLOPE:.*]] = arith.constant dense<1.12837{{[0-9]*}}> : tensor<2xf32>
  // TIME: %[[SQ:.*]] = arith.mulf %[[Y:.*]], %[[Y]] : tensor<2xf32>
  // TIME: %[[NEG:.*]] = arith.negf %[[SQ]]
  // TIME: %[[EXP:.*]] = math.exp %[[NEG]]
  // TIME: %[[D:.*]] = arith.mulf %[[SLOPE]], %[[EXP]]
  // TIME: arith.mulf %[[D]], %{{.*}} : tensor<2xf32>
  %d = flow.ddt %e wrt %t : tensor<2xf32>
  flow.source %d : tensor<2xf32>
}

// Reverse mode: l = erf(x[0]); dl/dx[0] = 2/sqrt(pi) exp(-x[0]^2).
func.func @k_erf(%x: tensor<2xf32>) -> f32 attributes {flow.kernel, flow.grad_args = array<i1: true>} {
  %e = flow.extract %x[0] : tensor<2xf32>
  %l = math.erf %e : f32
  return %l : f32
}
// LOSS-LABEL: func.func @k_erf_grad(
// LOSS: %[[SLOPE:.*]] = arith.constant 1.12837{{[0-9]*}} : f32
// LOSS: %[[SQ:.*]] = arith.mulf %[[E:.*]], %[[E]] : f32
// LOSS: %[[NEG:.*]] = arith.negf %[[SQ]] : f32
// LOSS: %[[EXP:.*]] = math.exp %[[NEG]] : f32
// LOSS: %[[D:.*]] = arith.mulf %[[SLOPE]], %[[EXP]] : f32
// LOSS: arith.mulf %arg1, %[[D]] : f32
