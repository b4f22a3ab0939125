// RUN: %flowc-opt --verify-diagnostics --split-input-file %s
// flow.train's references to the host functions the passes recorded: each
// names a flow.host function of the signature the generated program calls.

// Well-formed: Adam-like optimizer with two state buffers. No diagnostic.
flow.flow @f {
  %t = flow.uniform stream 0 : f32
}
func.func private @f_train_loss(i64, i64) -> tensor<f32> attributes {flow.host}
func.func private @f_optimizer_step(tensor<?x1xf32>, tensor<?x1xf32>, tensor<?x1xf32>, tensor<?x1xf32>, f32, f32, i64) attributes {flow.host}
func.func private @f_ema_step(tensor<?x1xf32>, tensor<?x1xf32>, f32, i64) attributes {flow.host}
func.func private @f_sample_source(i64) -> tensor<?x2xf32> attributes {flow.host}
flow.train @f {batch = 8 : i64, ema = 0.0 : f64, lr = 1.0e-3 : f64, optimizer = "adam", seed = 0 : i64, steps = 1 : i64,
  train_loss = @f_train_loss, optimizer_step = @f_optimizer_step, ema_step = @f_ema_step, sample_source = @f_sample_source}

// -----

func.func private @g(i64) attributes {flow.host}
// expected-error @+1 {{'flow' refers to @g, which is not a flow.flow}}
flow.train @g {batch = 8 : i64, ema = 0.0 : f64, lr = 1.0e-3 : f64, optimizer = "sgd", seed = 0 : i64, steps = 1 : i64}

// -----

flow.flow @f {
  %t = flow.uniform stream 0 : f32
}
// expected-error @+1 {{'train_loss' refers to @f_train_loss, which is not a function}}
flow.train @f {batch = 8 : i64, ema = 0.0 : f64, lr = 1.0e-3 : f64, optimizer = "sgd", seed = 0 : i64, steps = 1 : i64,
  train_loss = @f_train_loss}

// -----

flow.flow @f {
  %t = flow.uniform stream 0 : f32
}
func.func private @f_train_loss(i64, i64) -> tensor<f32> attributes {flow.kernel}
// expected-error @+1 {{'train_loss' refers to @f_train_loss, which is not marked flow.host}}
flow.train @f {batch = 8 : i64, ema = 0.0 : f64, lr = 1.0e-3 : f64, optimizer = "sgd", seed = 0 : i64, steps = 1 : i64,
  train_loss = @f_train_loss}

// -----

flow.flow @f {
  %t = flow.uniform stream 0 : f32
}
func.func private @f_train_loss(i64) -> tensor<f32> attributes {flow.host}
// expected-error @+1 {{'train_loss' refers to @f_train_loss of type '(i64) -> tensor<f32>', expected '(i64, i64) -> tensor<f32>'}}
flow.train @f {batch = 8 : i64, ema = 0.0 : f64, lr = 1.0e-3 : f64, optimizer = "sgd", seed = 0 : i64, steps = 1 : i64,
  train_loss = @f_train_loss}

// -----

// The learning rate must be an f32 uniform.
flow.flow @f {
  %t = flow.uniform stream 0 : f32
}
func.func private @f_optimizer_step(tensor<?x1xf32>, tensor<?x1xf32>, tensor<?x1xf32>, f32, i64) attributes {flow.host}
// expected-error @+1 {{'optimizer_step' refers to @f_optimizer_step of type '(tensor<?x1xf32>, tensor<?x1xf32>, tensor<?x1xf32>, f32, i64) -> ()', expected '(tensor<?x1xf32>, tensor<?x1xf32>, f32, f32, i64) -> ()'}}
flow.train @f {batch = 8 : i64, ema = 0.0 : f64, lr = 1.0e-3 : f64, optimizer = "sgd", seed = 0 : i64, steps = 1 : i64,
  optimizer_step = @f_optimizer_step}

// -----

flow.flow @f {
  %t = flow.uniform stream 0 : f32
}
func.func private @f_ema_step(tensor<?x1xf32>, f32, i64) attributes {flow.host}
// expected-error @+1 {{'ema_step' refers to @f_ema_step of type '(tensor<?x1xf32>, f32, i64) -> ()', expected '(tensor<?x1xf32>, tensor<?x1xf32>, f32, i64) -> ()'}}
flow.train @f {batch = 8 : i64, ema = 0.0 : f64, lr = 1.0e-3 : f64, optimizer = "sgd", seed = 0 : i64, steps = 1 : i64,
  ema_step = @f_ema_step}

// -----

flow.flow @f {
  %t = flow.uniform stream 0 : f32
}
func.func private @f_sample_source(i64) -> tensor<2xf32> attributes {flow.host}
// expected-error @+1 {{'sample_source' refers to @f_sample_source of type '(i64) -> tensor<2xf32>', expected (i64[, labels][, conds]) -> tensor<?xDxf32>, its conditions marked flow.condition}}
flow.train @f {batch = 8 : i64, ema = 0.0 : f64, lr = 1.0e-3 : f64, optimizer = "sgd", seed = 0 : i64, steps = 1 : i64,
  sample_source = @f_sample_source}
