// Per-sample tensors of rank 2: the derivative rules of flow.expand,
// flow.reduce_to (each the other's transpose) and flow.reshape, and their
// lowering to index arithmetic over one flat row-major row per sample.
// RUN: %flowc-opt --flow-differentiate-time %s | FileCheck %s --check-prefix=TIME
// RUN: %flowc-opt --flow-differentiate-regions %s | FileCheck %s --check-prefix=LOSS
// RUN: %flowc-opt --flow-lower-kernels-to-loops %s | FileCheck %s --check-prefix=LOWER

// d/dt of sum(t * expand(x), axis: 0) is the same chain on x.
// TIME-LABEL: flow.flow @shapes
flow.flow @shapes {
  %x = flow.normal stream 0 : tensor<1x2xf32>
  %t = flow.uniform stream 1 : f32
  %e = flow.expand %x : tensor<1x2xf32> to tensor<3x2xf32>
  %tb = flow.broadcast %t : tensor<3x2xf32>
  %y = arith.mulf %tb, %e : tensor<3x2xf32>
  %r = flow.reduce_to %y : tensor<3x2xf32> to tensor<1x2xf32>
  %s = flow.reshape %r : tensor<1x2xf32> to tensor<2xf32>
  // TIME: %[[E:.*]] = flow.expand %[[X:.*]] : tensor<1x2xf32> to tensor<3x2xf32>
  // TIME: %[[DR:.*]] = flow.reduce_to %[[E]] : tensor<3x2xf32> to tensor<1x2xf32>
  // TIME: flow.reshape %[[DR]] : tensor<1x2xf32> to tensor<2xf32>
  %d = flow.ddt %s wrt %t : tensor<2xf32>
  flow.source %d : tensor<2xf32>
}

// Reverse mode: reshape back, expand for reduce_to, reduce_to for expand.
// LOSS-LABEL: func.func @loss_grad(
// LOSS-SAME: %[[V:.*]]: tensor<2xf32>, %[[G:.*]]: f32) -> tensor<2xf32>
// LOSS: %[[A1:.*]] = flow.reshape %{{.*}} : tensor<2xf32> to tensor<1x2xf32>
// LOSS: %[[A2:.*]] = flow.expand %[[A1]] : tensor<1x2xf32> to tensor<3x2xf32>
// LOSS: %[[A3:.*]] = flow.reduce_to %{{.*}} : tensor<3x2xf32> to tensor<1x2xf32>
// LOSS: flow.reshape %[[A3]] : tensor<1x2xf32> to tensor<2xf32>
func.func @loss(%v: tensor<2xf32>) -> f32 attributes {flow.kernel, flow.grad_args = array<i1: true>} {
  %a = flow.reshape %v : tensor<2xf32> to tensor<1x2xf32>
  %b = flow.expand %a : tensor<1x2xf32> to tensor<3x2xf32>
  %c = arith.mulf %b, %b : tensor<3x2xf32>
  %r = flow.reduce_to %c : tensor<3x2xf32> to tensor<1x2xf32>
  %s = flow.reshape %r : tensor<1x2xf32> to tensor<2xf32>
  %m = flow.mean %s : tensor<2xf32>
  return %m : f32
}

// Lowering: element j of expand([1, 2] -> [3, 2]) reads flat index
// (j mod 2) of its input; reduce_to([3, 2] -> [3, 1]) sums 2 elements in
// an inner loop; a row of 6 columns per sample.
// LOWER-LABEL: func.func @k(
// LOWER-SAME: memref<?x2xf32>, %[[OUT:.*]]: memref<?x6xf32>, %[[SUM:.*]]: memref<?x3xf32>)
// LOWER: arith.remui
// LOWER: arith.divui
// LOWER: scf.for {{.*}} iter_args
func.func @k(%x: tensor<1x2xf32>) -> (tensor<3x2xf32>, tensor<3xf32>) attributes {flow.kernel} {
  %e = flow.expand %x : tensor<1x2xf32> to tensor<3x2xf32>
  %r = flow.reduce_to %e : tensor<3x2xf32> to tensor<3x1xf32>
  %s = flow.reshape %r : tensor<3x1xf32> to tensor<3xf32>
  return %e, %s : tensor<3x2xf32>, tensor<3xf32>
}
