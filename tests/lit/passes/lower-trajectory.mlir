// RUN: %flowc-opt --flow-lower-kernels-to-loops %s | FileCheck %s
// RUN: %flowc-opt --flow-lower-kernels-to-gpu %s | FileCheck %s --check-prefix=GPU

// A trajectory kernel on the CPU: blocks of 4 rows, then single rows. In a
// block every row of W^T loaded (vector.load) feeds the FMAs of all 4 rows,
// accumulators carried through the loop over the layer's inputs; buffers
// are allocated once, outside the loops; vector exp (silu) becomes a
// polynomial, not a libm call per lane.
flow.network @v "mlp" {activation = "silu", depth = 1 : i64, in_dim = 2 : i64, time_features = 0 : i64, width = 16 : i64, input_dims = array<i64: 2, 1>, inputs = ["tensor", "time"], out_dim = 2 : i64}
func.func @f_trajectory(%x: tensor<2xf32>, %w: tensor<?xf32>, %tab: tensor<?xf32>, %t0: f32, %h: f32, %steps: i64) -> tensor<2xf32> attributes {flow.kernel, flow.parallel_rows, flow.uniform_args = array<i1: false, true, true, true, true, true>} {
  %0 = flow.integrate %x, %w, %tab, %t0, %h, %steps net @v {max_stages = 4 : i64} : tensor<2xf32>, tensor<?xf32>, tensor<?xf32>
  return %0 : tensor<2xf32>
}

// CHECK-LABEL: func.func @f_trajectory(
// CHECK-SAME: memref<?x2xf32>, %{{.*}}: memref<?xf32>, %{{.*}}: memref<?xf32>, %{{.*}}: f32, %{{.*}}: f32, %{{.*}}: i64, %{{.*}}: memref<?x2xf32>)
// CHECK-DAG: memref.alloca() : memref<8xf32>
// CHECK-DAG: memref.alloca() : memref<32xf32>
// CHECK-DAG: %[[C4:.*]] = arith.constant 4 : index
// CHECK: %[[REM:.*]] = arith.remui %{{.*}}, %[[C4]]
// CHECK: %[[FULL:.*]] = arith.subi %{{.*}}, %[[REM]]
// CHECK: scf.for %{{.*}} = %{{.*}} to %[[FULL]] step %[[C4]]
// CHECK: scf.for {{.*}} iter_args({{.*}}) -> (vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>)
// CHECK: vector.load
// CHECK-COUNT-8: vector.fma
// CHECK-NOT: math.exp {{.*}} vector
// CHECK: scf.for %{{.*}} = %[[FULL]] to

// On a GPU, one row per thread. The 98 weights (3 x 16 + 16, 16 x 2 + 2)
// fit in shared memory: every thread of the block copies a strided share
// before the row guard, the block waits, and the network reads the copy.
// GPU-LABEL: gpu.func @f_trajectory(
// GPU-SAME: %{{.*}}: memref<1xi64>, %{{.*}}: memref<?x2xf32>, %[[W:[^:]*]]: memref<?xf32>
// GPU-SAME: workgroup(%[[SH:.*]] : memref<98xf32, #gpu.address_space<workgroup>>)
// GPU: %[[TID:.*]] = gpu.thread_id x
// GPU: scf.for %[[I:.*]] = %[[TID]] to %{{.*}} step %{{.*}} {
// GPU:   %[[V:.*]] = memref.load %[[W]][%[[I]]] : memref<?xf32>
// GPU:   memref.store %[[V]], %[[SH]][%[[I]]]
// GPU: gpu.barrier
// GPU: scf.if
// GPU-NOT: memref.load %[[W]]
// GPU-NOT: vector.load %[[W]]
// GPU: vector.load %[[SH]][
