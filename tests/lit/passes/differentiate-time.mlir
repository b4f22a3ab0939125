// RUN: %flowc-opt --flow-differentiate-time %s | FileCheck %s

// Linear path: d/dt((1 - t) x0 + t x1) = x1 - x0 (zero and unit factors fold).
// CHECK-LABEL: flow.flow @linear
flow.flow @linear {
  %x1 = flow.draw_data @d : tensor<2xf32>
  %x0 = flow.normal stream 0 : tensor<2xf32>
  %t = flow.uniform stream 1 : f32
  %one = arith.constant 1.0 : f32
  %omt = arith.subf %one, %t : f32
  %a = flow.broadcast %omt : tensor<2xf32>
  %b = flow.broadcast %t : tensor<2xf32>
  %l = arith.mulf %a, %x0 : tensor<2xf32>
  %r = arith.mulf %b, %x1 : tensor<2xf32>
  %xt = arith.addf %l, %r : tensor<2xf32>
  // CHECK-NOT: flow.ddt
  // CHECK: %[[D:.*]] = arith.subf %{{.*}}, %{{.*}} : tensor<2xf32>
  // CHECK: flow.source %[[D]]
  %d = flow.ddt %xt wrt %t : tensor<2xf32>
  flow.source %d : tensor<2xf32>
}

// Chain rule through sin: d/dt sin(2t) = cos(2t) * 2.
// CHECK-LABEL: flow.flow @sine
flow.flow @sine {
  %t = flow.uniform stream 1 : f32
  %two = arith.constant 2.0 : f32
  %u = arith.mulf %two, %t : f32
  %s = math.sin %u : f32
  // CHECK: %[[U:.*]] = arith.mulf %[[TWO:.*]], %{{.*}} : f32
  // CHECK: %[[C:.*]] = math.cos %[[U]] : f32
  // CHECK: %[[R:.*]] = arith.mulf %[[C]], %[[TWO]] : f32
  // CHECK: flow.loss %[[R]]
  %d = flow.ddt %s wrt %t : f32
  flow.loss %d
}

// Quotient rule and exp: d/dt exp(t) / t = exp(t)/t - exp(t)/t^2.
// CHECK-LABEL: flow.flow @quotient
flow.flow @quotient {
  %t = flow.uniform stream 1 : f32
  %e = math.exp %t : f32
  %q = arith.divf %e, %t : f32
  // CHECK: %[[E:.*]] = math.exp %[[T:.*]] : f32
  // CHECK: arith.divf %[[E]], %[[T]] : f32
  // CHECK: %[[A:.*]] = arith.divf %[[E]], %[[T]] : f32
  // CHECK: %[[TT:.*]] = arith.mulf %[[T]], %[[T]] : f32
  // CHECK: %[[B:.*]] = arith.divf %[[E]], %[[TT]] : f32
  // CHECK: arith.subf %[[A]], %[[B]] : f32
  %d = flow.ddt %q wrt %t : f32
  flow.loss %d
}

// A value that does not depend on t has derivative 0.
// CHECK-LABEL: flow.flow @constant_in_t
flow.flow @constant_in_t {
  %t = flow.uniform stream 1 : f32
  %x0 = flow.normal stream 0 : tensor<2xf32>
  // CHECK: %[[Z:.*]] = arith.constant dense<0.000000e+00> : tensor<2xf32>
  // CHECK: flow.source %[[Z]]
  %d = flow.ddt %x0 wrt %t : tensor<2xf32>
  flow.source %d : tensor<2xf32>
}


// Concat and slice: d/dt concat(t x1, x0) = concat(x1, 0) (a zero tangent
// becomes a zero constant of its part's type); the slice of it, its slice.
// CHECK-LABEL: flow.flow @joined
flow.flow @joined {
  %x1 = flow.draw_data @d : tensor<2xf32>
  %x0 = flow.normal stream 0 : tensor<3xf32>
  %t = flow.uniform stream 1 : f32
  %b = flow.broadcast %t : tensor<2xf32>
  %r = arith.mulf %b, %x1 : tensor<2xf32>
  %c = flow.concat %r, %x0 axis 0 : tensor<2xf32>, tensor<3xf32> -> tensor<5xf32>
  %s = flow.slice %c axis 0 offset 1 : tensor<5xf32> to tensor<3xf32>
  // CHECK: %[[X1:.*]] = flow.draw_data @d
  // CHECK: %[[Z:.*]] = arith.constant dense<0.000000e+00> : tensor<3xf32>
  // CHECK: %[[DC:.*]] = flow.concat %[[X1]], %[[Z]] axis 0 : tensor<2xf32>, tensor<3xf32> -> tensor<5xf32>
  // CHECK: flow.source %[[DC]]
  // CHECK: %[[DC2:.*]] = flow.concat %[[X1]], %{{.*}} axis 0
  // CHECK: %[[DS:.*]] = flow.slice %[[DC2]] axis 0 offset 1 : tensor<5xf32> to tensor<3xf32>
  // CHECK: flow.source %[[DS]]
  %dc = flow.ddt %c wrt %t : tensor<5xf32>
  flow.source %dc : tensor<5xf32>
  %ds = flow.ddt %s wrt %t : tensor<3xf32>
  flow.source %ds : tensor<3xf32>
}

// Through a network: its Jacobian-vector product with the arguments'
// tangents (t x0 moves as x0; t as 1).
flow.network @v "mlp" {activation = "silu", depth = 1 : i64, in_dim = 2 : i64, input_dims = array<i64: 2, 1>, inputs = ["tensor", "time"], out_dim = 2 : i64, time_features = 0 : i64, width = 8 : i64}
// CHECK-LABEL: flow.flow @through_network
flow.flow @through_network {
  %t = flow.uniform stream 1 : f32
  %x0 = flow.normal stream 0 : tensor<2xf32>
  %b = flow.broadcast %t : tensor<2xf32>
  %xt = arith.mulf %b, %x0 : tensor<2xf32>
  %v = flow.apply_net @v(%xt, %t) : (tensor<2xf32>, f32) -> tensor<2xf32>
  // CHECK: %[[X0:.*]] = flow.normal stream 0
  // CHECK: %[[V:.*]] = flow.apply_net @v(%[[XT:[^,]*]], %[[T:[^)]*]])
  // CHECK: %[[J:.*]] = flow.apply_net_jvp @v(%[[XT]], %[[T]]) along(%[[X0]], %{{.*}}) : (tensor<2xf32>, f32) -> tensor<2xf32>, tensor<2xf32>, f32
  // CHECK: flow.source %[[J]]
  %d = flow.ddt %v wrt %t : tensor<2xf32>
  flow.source %d : tensor<2xf32>
}

// A directional derivative: d/dx (x * x + t) along v is 2 x v (t is held).
// CHECK-LABEL: flow.flow @directional
flow.flow @directional {
  %x = flow.normal stream 0 : tensor<2xf32>
  %v = flow.normal stream 2 : tensor<2xf32>
  %t = flow.uniform stream 1 : f32
  %sq = arith.mulf %x, %x : tensor<2xf32>
  %bt = flow.broadcast %t : tensor<2xf32>
  %y = arith.addf %sq, %bt : tensor<2xf32>
  // CHECK: %[[X:.*]] = flow.normal stream 0
  // CHECK: %[[V:.*]] = flow.normal stream 2
  // CHECK-NOT: flow.jvp
  // CHECK: %[[A:.*]] = arith.mulf %[[V]], %[[X]] : tensor<2xf32>
  // CHECK: %[[B:.*]] = arith.mulf %[[X]], %[[V]] : tensor<2xf32>
  // CHECK: %[[D:.*]] = arith.addf %[[A]], %[[B]] : tensor<2xf32>
  // CHECK: flow.source %[[D]]
  %d = flow.jvp %y wrt %x along %v : tensor<2xf32>, tensor<2xf32>
  flow.source %d : tensor<2xf32>
}
