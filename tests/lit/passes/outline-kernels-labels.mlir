// RUN: %flowc-opt --flow-outline-kernels %s | FileCheck %s
// A conditional flow: the data draw also gives a label, condition dropout
// (uniform < p selects the null class -1) happens in the path kernel, and
// the dropped label crosses to the network with x and t.

flow.network @v "mlp" {activation = "silu", depth = 1 : i64, in_dim = 2 : i64, input_dims = array<i64: 2, 1, 1>, inputs = ["tensor", "time", "label"], out_dim = 2 : i64, time_features = 0 : i64, width = 8 : i64, classes = 2 : i64}
flow.flow @f {
  %cm1 = arith.constant -1.0 : f32
  %p = arith.constant 0.1 : f32
  %x1, %y = flow.draw_data @d : tensor<2xf32> label f32
  %x0 = flow.normal stream 0 : tensor<2xf32>
  flow.source %x0 : tensor<2xf32>
  %t = flow.uniform stream 1 : f32
  flow.time %t
  %tb = flow.broadcast %t : tensor<2xf32>
  %xt = arith.addf %x0, %tb : tensor<2xf32>
  %u = flow.uniform stream 2 : f32
  %drop = arith.cmpf olt, %u, %p : f32
  %yin = arith.select %drop, %cm1, %y : f32
  %v = flow.apply_net @v(%xt, %t, %yin) : (tensor<2xf32>, f32, f32) -> tensor<2xf32>
  %target = arith.subf %x1, %x0 : tensor<2xf32>
  %d = arith.subf %v, %target : tensor<2xf32>
  %sq = arith.mulf %d, %d : tensor<2xf32>
  %l = flow.mean %sq : tensor<2xf32>
  flow.loss %l
}

// The path kernel takes the point and its label, and returns x, t, the
// dropped label and the target.
// CHECK-LABEL: func.func @f_path(
// CHECK-SAME: %[[X1:.*]]: tensor<2xf32>, %[[Y:.*]]: f32) -> (tensor<2xf32>, f32, f32, tensor<2xf32>)
// CHECK: %[[U:.*]] = flow.uniform stream 2 : f32
// CHECK: %[[DROP:.*]] = arith.cmpf olt, %[[U]]
// CHECK: %[[YIN:.*]] = arith.select %[[DROP]], %{{.*}}, %[[Y]] : f32
// CHECK: return %{{.*}}, %{{.*}}, %[[YIN]], %{{.*}} :

// The host step draws labelled batches and hands the labels to the network.
// CHECK-LABEL: func.func @f_train_loss(
// CHECK: %[[B:.*]], %[[L:.*]] = flow.batch_data @d(%{{.*}}) : tensor<?x2xf32> label tensor<?x1xf32>
// CHECK: %[[P:.*]]:4 = flow.launch @f_path(%[[B]], %[[L]])
// CHECK: flow.net @v(%[[P]]#0, %[[P]]#1, %[[P]]#2) : (tensor<?x2xf32>, tensor<?x1xf32>, tensor<?x1xf32>) -> tensor<?x2xf32>
