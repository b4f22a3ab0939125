// RUN: %flowc-opt --verify-diagnostics --split-input-file %s
// A differentiable flow.launch names its kernel's vjp: the kernel marks
// with flow.grad_args the arguments that get adjoints, and the vjp takes the
// kernel's arguments and one adjoint per result and returns those adjoints.

// Well-formed: (v, y) -> (l, w), adjoint for v only. No diagnostic.
func.func private @k(tensor<2xf32>, tensor<2xf32>) -> (f32, tensor<2xf32>) attributes {flow.kernel, flow.grad_args = array<i1: true, false>}
func.func private @k_grad(tensor<2xf32>, tensor<2xf32>, f32, tensor<2xf32>) -> tensor<2xf32> attributes {flow.kernel}
func.func @h(%v: tensor<?x2xf32>, %y: tensor<?x2xf32>, %n: i64) -> tensor<?x1xf32> attributes {flow.host} {
  %l, %w = flow.launch @k(%v, %y) rows %n step %n vjp @k_grad : (tensor<?x2xf32>, tensor<?x2xf32>) -> (tensor<?x1xf32>, tensor<?x2xf32>)
  return %l : tensor<?x1xf32>
}

// -----

// The vjp lacks the adjoint of the second result.
func.func private @k(tensor<2xf32>, tensor<2xf32>) -> (f32, tensor<2xf32>) attributes {flow.kernel, flow.grad_args = array<i1: true, false>}
func.func private @k_grad(tensor<2xf32>, tensor<2xf32>, f32) -> tensor<2xf32> attributes {flow.kernel}
func.func @h(%v: tensor<?x2xf32>, %y: tensor<?x2xf32>, %n: i64) -> tensor<?x1xf32> attributes {flow.host} {
  // expected-error @+1 {{'vjp' refers to @k_grad of type '(tensor<2xf32>, tensor<2xf32>, f32) -> tensor<2xf32>', expected '(tensor<2xf32>, tensor<2xf32>, f32, tensor<2xf32>) -> tensor<2xf32>'}}
  %l, %w = flow.launch @k(%v, %y) rows %n step %n vjp @k_grad : (tensor<?x2xf32>, tensor<?x2xf32>) -> (tensor<?x1xf32>, tensor<?x2xf32>)
  return %l : tensor<?x1xf32>
}

// -----

// Both arguments marked: the vjp must return two adjoints.
func.func private @k(tensor<2xf32>, f32) -> f32 attributes {flow.kernel, flow.grad_args = array<i1: true, true>}
func.func private @k_grad(tensor<2xf32>, f32, f32) -> tensor<2xf32> attributes {flow.kernel}
func.func @h(%v: tensor<?x2xf32>, %s: tensor<?x1xf32>, %n: i64) -> tensor<?x1xf32> attributes {flow.host} {
  // expected-error @+1 {{'vjp' refers to @k_grad of type '(tensor<2xf32>, f32, f32) -> tensor<2xf32>', expected '(tensor<2xf32>, f32, f32) -> (tensor<2xf32>, f32)'}}
  %l = flow.launch @k(%v, %s) rows %n step %n vjp @k_grad : (tensor<?x2xf32>, tensor<?x1xf32>) -> tensor<?x1xf32>
  return %l : tensor<?x1xf32>
}

// -----

// A vjp needs the kernel's flow.grad_args.
func.func private @k(tensor<2xf32>) -> f32 attributes {flow.kernel}
func.func private @k_grad(tensor<2xf32>, f32) -> tensor<2xf32> attributes {flow.kernel}
func.func @h(%v: tensor<?x2xf32>, %n: i64) -> tensor<?x1xf32> attributes {flow.host} {
  // expected-error @+1 {{has a 'vjp', but kernel @k has no flow.grad_args with one entry per argument}}
  %l = flow.launch @k(%v) rows %n step %n vjp @k_grad : (tensor<?x2xf32>) -> tensor<?x1xf32>
  return %l : tensor<?x1xf32>
}

// -----

func.func private @k(tensor<2xf32>) -> f32 attributes {flow.kernel, flow.grad_args = array<i1: true>}
func.func @h(%v: tensor<?x2xf32>, %n: i64) -> tensor<?x1xf32> attributes {flow.host} {
  // expected-error @+1 {{'vjp' refers to @k_grad, which is not a function}}
  %l = flow.launch @k(%v) rows %n step %n vjp @k_grad : (tensor<?x2xf32>) -> tensor<?x1xf32>
  return %l : tensor<?x1xf32>
}
