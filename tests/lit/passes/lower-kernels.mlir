// RUN: %flowc-opt --flow-lower-kernels-to-loops %s | FileCheck %s
// RUN: %flowc-opt --flow-lower-kernels-to-gpu %s | FileCheck %s --check-prefix=GPU

// A per-sample scalar is computed once per row; vector values are fused into
// one feature loop; the uniform scalar h stays a plain argument.
func.func @k(%x: tensor<3xf32>, %s: f32, %h: f32) -> (tensor<3xf32>, f32) attributes {flow.kernel, flow.uniform_args = array<i1: false, false, true>} {
  %e = math.exp %s : f32
  %eb = flow.broadcast %e : tensor<3xf32>
  %y = arith.mulf %x, %eb : tensor<3xf32>
  %hb = flow.broadcast %h : tensor<3xf32>
  %z = arith.addf %y, %hb : tensor<3xf32>
  %m = flow.mean %z : tensor<3xf32>
  return %z, %m : tensor<3xf32>, f32
}
// CHECK-LABEL: func.func @k(
// CHECK-SAME: %[[N:.*]]: i64, %{{.*}}: i64, %{{.*}}: i64, %[[X:.*]]: memref<?x3xf32>, %[[S:.*]]: memref<?x1xf32>, %[[H:.*]]: f32, %[[Z:.*]]: memref<?x3xf32>, %[[M:.*]]: memref<?x1xf32>)
// CHECK: scf.for %[[ROW:.*]] =
// CHECK:   %[[SV:.*]] = memref.load %[[S]][%[[ROW]], %{{.*}}]
// CHECK:   %[[E:.*]] = math.exp %[[SV]] : f32
// CHECK:   scf.for %[[J:.*]] = {{.*}} iter_args
// CHECK:     memref.load %[[X]][%[[ROW]], %[[J]]]
// CHECK:     arith.mulf %{{.*}}, %[[E]]
// CHECK:     arith.addf %{{.*}}, %[[H]]
// CHECK:   memref.store %{{.*}}, %[[M]][%[[ROW]], %{{.*}}]
// CHECK:   scf.for %[[J2:.*]] =
// CHECK:     memref.store %{{.*}}, %[[Z]][%[[ROW]], %[[J2]]]
// CHECK-NOT: flow.

// GPU: gpu.module @flow_kernels {
// GPU: gpu.func @k(%{{.*}}: i64, %{{.*}}: i64, %{{.*}}: memref<1xi64>, %{{.*}}: memref<?x3xf32>, %{{.*}}: memref<?x1xf32>, %{{.*}}: f32, %{{.*}}: memref<?x3xf32>, %{{.*}}: memref<?x1xf32>) kernel
// GPU: gpu.block_id x
// GPU: arith.cmpi ult
// GPU: scf.if
// GPU-NOT: memref.load {{.*}} : memref<1xi64>
// GPU: math.exp

// Softmax: per row, max and sum of exp(x - max) by reduction loops, then
// element j = exp(x_j - max) / sum inside the fused feature loop; one_hot
// compares the index with j; extract reads one feature at row level.
func.func @s(%x: tensor<4xf32>, %k: f32) -> (tensor<4xf32>, f32) attributes {flow.kernel} {
  %s = flow.softmax %x : tensor<4xf32>
  %h = flow.one_hot %k : tensor<4xf32>
  %p = arith.mulf %s, %h : tensor<4xf32>
  %e = flow.extract %x[2] : tensor<4xf32>
  return %p, %e : tensor<4xf32>, f32
}
// CHECK-LABEL: func.func @s(
// CHECK: scf.for %[[ROW:.*]] =
// CHECK:   %[[MAX:.*]] = scf.for {{.*}} iter_args
// CHECK:     arith.maximumf
// CHECK:   %[[SUM:.*]] = scf.for {{.*}} iter_args
// CHECK:     arith.subf %{{.*}}, %[[MAX]]
// CHECK:     math.exp
// CHECK:   memref.load %{{.*}}[%[[ROW]], %c2]
// CHECK:   scf.for %[[J:.*]] =
// CHECK:     arith.divf %{{.*}}, %[[SUM]]
// CHECK:     arith.cmpf oeq

// A kernel that draws reads its random-number counter from the one-element
// buffer (on the CPU it is a plain i64 argument).
func.func @d(%x: tensor<2xf32>) -> tensor<2xf32> attributes {flow.kernel} {
  %n = flow.normal stream 0 : tensor<2xf32>
  %y = arith.addf %x, %n : tensor<2xf32>
  return %y : tensor<2xf32>
}
// CHECK-LABEL: func.func @d(
// CHECK-SAME: %{{.*}}: i64, %{{.*}}: i64, %{{.*}}: i64, %{{.*}}: memref<?x2xf32>
// GPU-LABEL: gpu.func @d(
// GPU-SAME: %{{.*}}: i64, %{{.*}}: i64, %[[C:.*]]: memref<1xi64>, %{{.*}}: memref<?x2xf32>
// GPU: memref.load %[[C]][%{{.*}}] : memref<1xi64>

// An update run at every training step (the optimizer's, the EMA's) reads
// its uniform scalars from one-element device buffers on a GPU, so a
// captured training step sees each step's values; on the CPU they stay
// plain arguments.
func.func @u(%e: f32, %p: f32, %decay: f32) -> f32 attributes {flow.kernel, flow.parallel_rows, flow.uniform_args = array<i1: false, false, true>, flow.uniforms_in_memory} {
  %m = arith.mulf %decay, %e : f32
  %r = arith.addf %m, %p : f32
  return %r : f32
}
// CHECK-LABEL: func.func @u(
// CHECK-SAME: %{{.*}}: memref<?x1xf32>, %{{.*}}: memref<?x1xf32>, %{{.*}}: f32, %{{.*}}: memref<?x1xf32>)
// GPU-LABEL: gpu.func @u(
// GPU-SAME: %{{.*}}: memref<?x1xf32>, %{{.*}}: memref<?x1xf32>, %[[D:.*]]: memref<1xf32>, %{{.*}}: memref<?x1xf32>)
// GPU: %[[DV:.*]] = memref.load %[[D]][%{{.*}}] : memref<1xf32>
// GPU: arith.mulf %[[DV]]
