// RUN: %flowc-opt --flow-differentiate-time --verify-diagnostics %s -o /dev/null


// A network whose input depends on t has no symbolic time derivative.
flow.flow @through_network {
  %t = flow.uniform stream 1 : f32
  %x0 = flow.normal stream 0 : tensor<2xf32>
  %b = flow.broadcast %t : tensor<2xf32>
  %xt = arith.mulf %b, %x0 : tensor<2xf32>
  // expected-error @+1 {{ddt through a network is not symbolic}}
  %v = flow.apply_net @v(%xt, %t) : tensor<2xf32> -> tensor<2xf32>
  %d = flow.ddt %v wrt %t : tensor<2xf32>
  flow.source %d : tensor<2xf32>
}
