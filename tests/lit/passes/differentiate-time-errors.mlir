// RUN: %flowc-opt --flow-differentiate-time --verify-diagnostics %s -o /dev/null


// A network whose input depends on t has no symbolic time derivative.
flow.network @v "mlp" {activation = "silu", depth = 1 : i64, in_dim = 2 : i64, input_dims = array<i64: 2, 1>, inputs = ["tensor", "time"], out_dim = 2 : i64, time_features = 0 : i64, width = 8 : i64}
flow.flow @through_network {
  %t = flow.uniform stream 1 : f32
  %x0 = flow.normal stream 0 : tensor<2xf32>
  %b = flow.broadcast %t : tensor<2xf32>
  %xt = arith.mulf %b, %x0 : tensor<2xf32>
  // expected-error @+1 {{ddt through a network is not symbolic}}
  %v = flow.apply_net @v(%xt, %t) : (tensor<2xf32>, f32) -> tensor<2xf32>
  %d = flow.ddt %v wrt %t : tensor<2xf32>
  flow.source %d : tensor<2xf32>
}
