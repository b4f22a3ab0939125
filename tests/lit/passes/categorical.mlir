// RUN: %flowc-opt --flow-lower-kernels-to-loops %s | FileCheck %s
// RUN: %flowc-opt --flow-lower-kernels-to-gpu %s | FileCheck %s --check-prefix=GPU

// A softmax along the last axis of a [2, 4] matrix and a one-hot draw from
// it. The softmax is computed slice by slice into a buffer: the max and the
// sum of exps once per slice, then each element (not the slice's
// statistics again per element). The draw then reads that buffer: per
// slice the total weight, one uniform keyed by the slice's index (Philox,
// stream 7), and the first index of positive weight whose cumulative weight
// reaches the uniform times the total.
func.func @draw(%w: tensor<2x4xf32>) -> tensor<2x4xf32> attributes {flow.kernel} {
  %s = flow.softmax %w axis 1 : tensor<2x4xf32>
  %y = flow.categorical %s stream 7 : tensor<2x4xf32>
  return %y : tensor<2x4xf32>
}
// CHECK-LABEL: func.func @draw(
// CHECK-SAME: %[[W:.*]]: memref<?x8xf32>, %[[Y:.*]]: memref<?x8xf32>)
// CHECK-DAG: %[[ONEHOT:.*]] = memref.alloca() : memref<8xf32>
// CHECK-DAG: %[[SOFTMAX:.*]] = memref.alloca() : memref<8xf32>
// CHECK: scf.for %[[ROW:.*]] =
// The softmax: one loop over the two slices, three loops over a slice.
// CHECK:   scf.for %[[SLICE:.*]] = %{{.*}} to %[[TWO:.*]] step
// CHECK:     scf.for {{.*}} iter_args
// CHECK:       arith.maximumf
// CHECK:     scf.for {{.*}} iter_args
// CHECK:       math.exp
// CHECK:     scf.for
// CHECK:       math.exp
// CHECK:       arith.divf
// CHECK:       memref.store %{{.*}}, %[[SOFTMAX]][
// CHECK-NOT:   math.exp
// The draw: the slice's total, its uniform, the first index reaching it.
// CHECK:   scf.for %[[S:.*]] =
// CHECK:     scf.for {{.*}} iter_args
// CHECK:       memref.load %[[SOFTMAX]]
// CHECK:     arith.index_castui %[[S]] : index to i32
// CHECK:     %[[STREAM:.*]] = arith.constant 7 : i32
// CHECK:     scf.for {{.*}} iter_args(%[[CUM:.*]] = %{{.*}}, %[[DONE:.*]] = %false)
// CHECK:       %[[WK:.*]] = memref.load %[[SOFTMAX]]
// CHECK:       %[[NEXT:.*]] = arith.addf %[[CUM]], %[[WK]]
// CHECK-DAG:   arith.cmpf ogt, %[[WK]]
// CHECK-DAG:   arith.cmpf oge, %[[NEXT]]
// CHECK:       arith.uitofp
// CHECK:       memref.store %{{.*}}, %[[ONEHOT]][
// CHECK:   scf.for
// CHECK:     memref.load %[[ONEHOT]]
// CHECK:     memref.store %{{.*}}, %[[Y]][%[[ROW]],
// CHECK-NOT: flow.

// On a GPU the kernel reads its counter from device memory, as every
// kernel that draws.
// GPU: gpu.func @draw(%{{.*}}: i64, %{{.*}}: i64, %[[C:.*]]: memref<1xi64>,
// GPU:   memref.load %[[C]]
