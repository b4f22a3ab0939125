// RUN: %flowc-opt --verify-diagnostics --split-input-file %s
// flow.mean_loss's references: `forward`, the per-sample loss kernel, and
// `backward` (recorded by flow-differentiate-loss), the kernel that takes
// forward's arguments and the upstream gradient g and returns d loss /
// d argument 0, times g.

// Well-formed, before and after flow-differentiate-loss. No diagnostic.
func.func private @f_loss(tensor<2xf32>, tensor<2xf32>) -> f32 attributes {flow.kernel}
func.func private @f_loss_grad(tensor<2xf32>, tensor<2xf32>, f32) -> tensor<2xf32> attributes {flow.kernel}
func.func @f_train_loss(%v: tensor<?x2xf32>, %y: tensor<?x2xf32>) -> tensor<f32> attributes {flow.host} {
  %a = flow.mean_loss @f_loss(%v, %y) : tensor<?x2xf32>, tensor<?x2xf32> -> tensor<f32>
  %b = flow.mean_loss @f_loss, @f_loss_grad(%v, %y) : tensor<?x2xf32>, tensor<?x2xf32> -> tensor<f32>
  return %b : tensor<f32>
}

// -----

func.func @f_train_loss(%v: tensor<?x2xf32>) -> tensor<f32> attributes {flow.host} {
  // expected-error @+1 {{'forward' refers to @f_loss, which is not a function}}
  %a = flow.mean_loss @f_loss(%v) : tensor<?x2xf32> -> tensor<f32>
  return %a : tensor<f32>
}

// -----

func.func private @f_loss(tensor<2xf32>) -> f32 attributes {flow.host}
func.func @f_train_loss(%v: tensor<?x2xf32>) -> tensor<f32> attributes {flow.host} {
  // expected-error @+1 {{'forward' refers to @f_loss, which is not marked flow.kernel}}
  %a = flow.mean_loss @f_loss(%v) : tensor<?x2xf32> -> tensor<f32>
  return %a : tensor<f32>
}

// -----

func.func private @f_loss() -> f32 attributes {flow.kernel}
func.func private @f_loss_grad(f32) -> f32 attributes {flow.kernel}
func.func @f_train_loss() -> tensor<f32> attributes {flow.host} {
  // expected-error @+1 {{'forward' refers to @f_loss, which takes no input}}
  %a = "flow.mean_loss"() {forward = @f_loss, backward = @f_loss_grad} : () -> tensor<f32>
  return %a : tensor<f32>
}

// -----

func.func private @f_loss(tensor<2xf32>) -> f32 attributes {flow.kernel}
func.func private @f_loss_grad(tensor<2xf32>, f32) -> tensor<2xf32> attributes {flow.host}
func.func @f_train_loss(%v: tensor<?x2xf32>) -> tensor<f32> attributes {flow.host} {
  // expected-error @+1 {{'backward' refers to @f_loss_grad, which is not marked flow.kernel}}
  %a = flow.mean_loss @f_loss, @f_loss_grad(%v) : tensor<?x2xf32> -> tensor<f32>
  return %a : tensor<f32>
}

// -----

// The gradient is for argument 0 and takes the upstream gradient last.
func.func private @f_loss(tensor<2xf32>, tensor<3xf32>) -> f32 attributes {flow.kernel}
func.func private @f_loss_grad(tensor<2xf32>, tensor<3xf32>) -> tensor<2xf32> attributes {flow.kernel}
func.func @f_train_loss(%v: tensor<?x2xf32>, %y: tensor<?x3xf32>) -> tensor<f32> attributes {flow.host} {
  // expected-error @+1 {{'backward' refers to @f_loss_grad of type '(tensor<2xf32>, tensor<3xf32>) -> tensor<2xf32>', expected '(tensor<2xf32>, tensor<3xf32>, f32) -> tensor<2xf32>'}}
  %a = flow.mean_loss @f_loss, @f_loss_grad(%v, %y) : tensor<?x2xf32>, tensor<?x3xf32> -> tensor<f32>
  return %a : tensor<f32>
}
