// RUN: %flowc-opt --verify-diagnostics --split-input-file %s
// flow.sample's references to what the passes recorded: host functions on
// batches x (tensor<?x2xf32> here), with the labels last when `labelled`,
// one host step per solver of the module, and the trajectory kernel.

// Well-formed: labelled, an adaptive and a fixed tableau, a closed-form
// field's jvp, a trajectory kernel and its host launcher. No diagnostic.
flow.solver @euler c = [0.0] a = [array<f64>] b = [1.0]
flow.solver @ee c = [0.0, 1.0] a = [array<f64>, array<f64: 1.0>] b = [0.5, 0.5] {b_err = array<f64: 1.0, 0.0>, order = 2 : i64}
flow.flow @f {
  %t = flow.uniform stream 0 : f32
}
func.func private @f_sample_source(i64) -> tensor<?x2xf32> attributes {flow.host}
func.func private @f_velocity(tensor<?x2xf32>, f64, i64, tensor<?x1xf32>) -> tensor<?x2xf32> attributes {flow.host}
func.func private @f_jvp(tensor<?x2xf32>, f64, tensor<?x2xf32>, i64) -> tensor<?x2xf32> attributes {flow.host}
func.func private @f_euler_step(tensor<?x2xf32>, f64, f64, i64, tensor<?x1xf32>) -> tensor<?x2xf32> attributes {flow.host}
func.func private @f_ee_step(tensor<?x2xf32>, f64, f64, i64, tensor<?x1xf32>) -> (tensor<?x2xf32>, tensor<?x2xf32>) attributes {flow.host}
func.func private @f_ee_astep(tensor<?x2xf32>, tensor<?x1xf32>, tensor<?x1xf32>, i64, tensor<?x1xf32>) -> (tensor<?x2xf32>, tensor<?x1xf32>, tensor<?x1xf32>) attributes {flow.host}
func.func @f_trajectory(%x: tensor<2xf32>, %y: f32, %w: tensor<?xf32>, %tab: tensor<?xf32>, %t0: f32, %h: f32, %n: i64) -> tensor<2xf32>
    attributes {flow.kernel, flow.uniform_args = array<i1: false, false, true, true, true, true, true>} {
  %r = flow.integrate %x, %w, %tab, %t0, %h, %n label %y net @v {max_stages = 2 : i64} : tensor<2xf32>, tensor<?xf32>, tensor<?xf32>
  return %r : tensor<2xf32>
}
func.func private @f_solve(tensor<?x2xf32>, tensor<?xf32>, f64, f64, i64, i64, tensor<?x1xf32>) -> tensor<?x2xf32> attributes {flow.host}
flow.sample @f with @euler {n = 10 : i64, seed = 0 : i64, steps = 4 : i64, labelled,
  sample_source = @f_sample_source, field = @f_velocity, field_jvp = @f_jvp,
  solver_steps = {euler = @f_euler_step, ee = @f_ee_step}, adaptive_steps = {ee = @f_ee_astep},
  trajectory = @f_trajectory, solve = @f_solve}

// -----

flow.flow @f {
  %t = flow.uniform stream 0 : f32
}
// expected-error @+1 {{'solver' refers to @f, which is not a flow.solver}}
flow.sample @f with @f {n = 10 : i64, seed = 0 : i64, steps = 4 : i64}

// -----

flow.solver @euler c = [0.0] a = [array<f64>] b = [1.0]
flow.flow @f {
  %t = flow.uniform stream 0 : f32
}
func.func private @u_velocity(tensor<2xf32>, f32) -> tensor<2xf32> attributes {flow.host}
// expected-error @+1 {{'velocity' refers to @u_velocity, which is not marked flow.kernel}}
flow.sample @f with @euler {n = 10 : i64, seed = 0 : i64, steps = 4 : i64, velocity = @u_velocity}

// -----

flow.solver @euler c = [0.0] a = [array<f64>] b = [1.0]
flow.flow @f {
  %t = flow.uniform stream 0 : f32
}
func.func private @f_velocity(tensor<2xf32>, f64, i64) -> tensor<2xf32> attributes {flow.host}
// expected-error @+1 {{'field' refers to @f_velocity of type '(tensor<2xf32>, f64, i64) -> tensor<2xf32>', expected (x, f64, i64[, labels][, conds]) -> x with x a tensor<?xDxf32>}}
flow.sample @f with @euler {n = 10 : i64, seed = 0 : i64, steps = 4 : i64, field = @f_velocity}

// -----

// `labelled`: the field takes the labels last.
flow.solver @euler c = [0.0] a = [array<f64>] b = [1.0]
flow.flow @f {
  %t = flow.uniform stream 0 : f32
}
func.func private @f_velocity(tensor<?x2xf32>, f64, i64) -> tensor<?x2xf32> attributes {flow.host}
// expected-error @+1 {{'field' refers to @f_velocity of type '(tensor<?x2xf32>, f64, i64) -> tensor<?x2xf32>', expected '(tensor<?x2xf32>, f64, i64, tensor<?x1xf32>) -> tensor<?x2xf32>'}}
flow.sample @f with @euler {n = 10 : i64, seed = 0 : i64, steps = 4 : i64, labelled, field = @f_velocity}

// -----

flow.solver @euler c = [0.0] a = [array<f64>] b = [1.0]
flow.flow @f {
  %t = flow.uniform stream 0 : f32
}
func.func private @f_euler_step(tensor<?x2xf32>, f64, f64, i64) -> tensor<?x2xf32> attributes {flow.host}
// expected-error @+1 {{host steps need 'field', which gives the state's type}}
flow.sample @f with @euler {n = 10 : i64, seed = 0 : i64, steps = 4 : i64, solver_steps = {euler = @f_euler_step}}

// -----

// The source's batches are the field's.
flow.solver @euler c = [0.0] a = [array<f64>] b = [1.0]
flow.flow @f {
  %t = flow.uniform stream 0 : f32
}
func.func private @f_sample_source(i64) -> tensor<?x3xf32> attributes {flow.host}
func.func private @f_velocity(tensor<?x2xf32>, f64, i64) -> tensor<?x2xf32> attributes {flow.host}
// expected-error @+1 {{'sample_source' refers to @f_sample_source of type '(i64) -> tensor<?x3xf32>', expected '(i64) -> tensor<?x2xf32>'}}
flow.sample @f with @euler {n = 10 : i64, seed = 0 : i64, steps = 4 : i64, field = @f_velocity, sample_source = @f_sample_source}

// -----

flow.solver @euler c = [0.0] a = [array<f64>] b = [1.0]
flow.flow @f {
  %t = flow.uniform stream 0 : f32
}
func.func private @f_velocity(tensor<?x2xf32>, f64, i64) -> tensor<?x2xf32> attributes {flow.host}
func.func private @f_jvp(tensor<?x2xf32>, f64, i64) -> tensor<?x2xf32> attributes {flow.host}
// expected-error @+1 {{'field_jvp' refers to @f_jvp of type '(tensor<?x2xf32>, f64, i64) -> tensor<?x2xf32>', expected '(tensor<?x2xf32>, f64, tensor<?x2xf32>, i64) -> tensor<?x2xf32>'}}
flow.sample @f with @euler {n = 10 : i64, seed = 0 : i64, steps = 4 : i64, field = @f_velocity, field_jvp = @f_jvp}

// -----

flow.solver @euler c = [0.0] a = [array<f64>] b = [1.0]
flow.flow @f {
  %t = flow.uniform stream 0 : f32
}
func.func private @f_velocity(tensor<?x2xf32>, f64, i64) -> tensor<?x2xf32> attributes {flow.host}
func.func private @f_euler_step(tensor<?x2xf32>, f64, f64, i64) -> tensor<?x2xf32> attributes {flow.host}
// expected-error @+1 {{'solver_steps' has an entry for @rk4, which is not a flow.solver}}
flow.sample @f with @euler {n = 10 : i64, seed = 0 : i64, steps = 4 : i64, field = @f_velocity,
  solver_steps = {euler = @f_euler_step, rk4 = @f_euler_step}}

// -----

flow.solver @euler c = [0.0] a = [array<f64>] b = [1.0]
flow.flow @f {
  %t = flow.uniform stream 0 : f32
}
func.func private @f_velocity(tensor<?x2xf32>, f64, i64) -> tensor<?x2xf32> attributes {flow.host}
// expected-error @+1 {{'solver_steps' entry 'euler' is not a symbol reference}}
flow.sample @f with @euler {n = 10 : i64, seed = 0 : i64, steps = 4 : i64, field = @f_velocity,
  solver_steps = {euler = "f_euler_step"}}

// -----

flow.solver @euler c = [0.0] a = [array<f64>] b = [1.0]
flow.solver @heun c = [0.0, 1.0] a = [array<f64>, array<f64: 1.0>] b = [0.5, 0.5]
flow.flow @f {
  %t = flow.uniform stream 0 : f32
}
func.func private @f_velocity(tensor<?x2xf32>, f64, i64) -> tensor<?x2xf32> attributes {flow.host}
func.func private @f_euler_step(tensor<?x2xf32>, f64, f64, i64) -> tensor<?x2xf32> attributes {flow.host}
// expected-error @+1 {{'solver_steps' has no entry for solver @heun}}
flow.sample @f with @euler {n = 10 : i64, seed = 0 : i64, steps = 4 : i64, field = @f_velocity,
  solver_steps = {euler = @f_euler_step}}

// -----

// An adaptive tableau's fixed step also returns the error estimate.
flow.solver @ee c = [0.0, 1.0] a = [array<f64>, array<f64: 1.0>] b = [0.5, 0.5] {b_err = array<f64: 1.0, 0.0>, order = 2 : i64}
flow.flow @f {
  %t = flow.uniform stream 0 : f32
}
func.func private @f_velocity(tensor<?x2xf32>, f64, i64) -> tensor<?x2xf32> attributes {flow.host}
func.func private @f_ee_step(tensor<?x2xf32>, f64, f64, i64) -> tensor<?x2xf32> attributes {flow.host}
// expected-error @+1 {{'solver_steps' refers to @f_ee_step of type '(tensor<?x2xf32>, f64, f64, i64) -> tensor<?x2xf32>', expected '(tensor<?x2xf32>, f64, f64, i64) -> (tensor<?x2xf32>, tensor<?x2xf32>)'}}
flow.sample @f with @ee {n = 10 : i64, seed = 0 : i64, steps = 4 : i64, field = @f_velocity,
  solver_steps = {ee = @f_ee_step}}

// -----

flow.solver @euler c = [0.0] a = [array<f64>] b = [1.0]
flow.flow @f {
  %t = flow.uniform stream 0 : f32
}
func.func private @f_velocity(tensor<?x2xf32>, f64, i64) -> tensor<?x2xf32> attributes {flow.host}
func.func private @f_euler_step(tensor<?x2xf32>, f64, f64, i64) -> tensor<?x2xf32> attributes {flow.host}
// expected-error @+1 {{'adaptive_steps' has an entry for @euler, which is not an adaptive flow.solver}}
flow.sample @f with @euler {n = 10 : i64, seed = 0 : i64, steps = 4 : i64, field = @f_velocity,
  solver_steps = {euler = @f_euler_step}, adaptive_steps = {euler = @f_euler_step}}

// -----

flow.solver @ee c = [0.0, 1.0] a = [array<f64>, array<f64: 1.0>] b = [0.5, 0.5] {b_err = array<f64: 1.0, 0.0>, order = 2 : i64}
flow.flow @f {
  %t = flow.uniform stream 0 : f32
}
func.func private @f_velocity(tensor<?x2xf32>, f64, i64) -> tensor<?x2xf32> attributes {flow.host}
func.func private @f_ee_astep(tensor<?x2xf32>, f64, f64, i64) -> (tensor<?x2xf32>, tensor<?x1xf32>, tensor<?x1xf32>) attributes {flow.host}
// expected-error @+1 {{'adaptive_steps' refers to @f_ee_astep of type '(tensor<?x2xf32>, f64, f64, i64) -> (tensor<?x2xf32>, tensor<?x1xf32>, tensor<?x1xf32>)', expected '(tensor<?x2xf32>, tensor<?x1xf32>, tensor<?x1xf32>, i64) -> (tensor<?x2xf32>, tensor<?x1xf32>, tensor<?x1xf32>)'}}
flow.sample @f with @ee {n = 10 : i64, seed = 0 : i64, steps = 4 : i64, field = @f_velocity,
  adaptive_steps = {ee = @f_ee_astep}}

// -----

flow.solver @euler c = [0.0] a = [array<f64>] b = [1.0]
flow.flow @f {
  %t = flow.uniform stream 0 : f32
}
func.func private @f_velocity(tensor<?x2xf32>, f64, i64) -> tensor<?x2xf32> attributes {flow.host}
func.func private @f_trajectory(tensor<2xf32>) -> tensor<2xf32> attributes {flow.kernel}
// expected-error @+1 {{'trajectory' and 'solve' go together}}
flow.sample @f with @euler {n = 10 : i64, seed = 0 : i64, steps = 4 : i64, field = @f_velocity,
  trajectory = @f_trajectory}

// -----

flow.solver @euler c = [0.0] a = [array<f64>] b = [1.0]
flow.flow @f {
  %t = flow.uniform stream 0 : f32
}
func.func private @f_velocity(tensor<?x2xf32>, f64, i64) -> tensor<?x2xf32> attributes {flow.host}
func.func @f_trajectory(%x: tensor<2xf32>) -> tensor<2xf32> attributes {flow.kernel} {
  return %x : tensor<2xf32>
}
func.func private @f_solve(tensor<?x2xf32>, tensor<?xf32>, f64, f64, i64, i64) -> tensor<?x2xf32> attributes {flow.host}
// expected-error @+1 {{'trajectory' refers to @f_trajectory, whose body is not one flow.integrate}}
flow.sample @f with @euler {n = 10 : i64, seed = 0 : i64, steps = 4 : i64, field = @f_velocity,
  trajectory = @f_trajectory, solve = @f_solve}

// -----

flow.solver @euler c = [0.0] a = [array<f64>] b = [1.0]
flow.flow @f {
  %t = flow.uniform stream 0 : f32
}
func.func private @f_velocity(tensor<?x2xf32>, f64, i64) -> tensor<?x2xf32> attributes {flow.host}
func.func @f_trajectory(%x: tensor<2xf32>, %w: tensor<?xf32>, %tab: tensor<?xf32>, %t0: f32, %h: f32, %n: i64) -> tensor<2xf32>
    attributes {flow.kernel, flow.uniform_args = array<i1: false, true, true, true, true, true>} {
  %r = flow.integrate %x, %w, %tab, %t0, %h, %n net @v {max_stages = 1 : i64} : tensor<2xf32>, tensor<?xf32>, tensor<?xf32>
  return %r : tensor<2xf32>
}
func.func private @f_solve(tensor<?x2xf32>, tensor<?xf32>, f64, f64, i64) -> tensor<?x2xf32> attributes {flow.host}
// expected-error @+1 {{'solve' refers to @f_solve of type '(tensor<?x2xf32>, tensor<?xf32>, f64, f64, i64) -> tensor<?x2xf32>', expected '(tensor<?x2xf32>, tensor<?xf32>, f64, f64, i64, i64) -> tensor<?x2xf32>'}}
flow.sample @f with @euler {n = 10 : i64, seed = 0 : i64, steps = 4 : i64, field = @f_velocity,
  trajectory = @f_trajectory, solve = @f_solve}

// -----

// The kernels MLIRGen records: a closed-form velocity and its jvp on
// per-sample values, and a guidance kernel. No diagnostic.
flow.solver @euler c = [0.0] a = [array<f64>] b = [1.0]
flow.flow @f {
  %t = flow.uniform stream 0 : f32
}
func.func private @u_velocity(tensor<2xf32>, f32) -> tensor<2xf32> attributes {flow.kernel}
func.func private @u_jvp(tensor<2xf32>, f32, tensor<2xf32>, f32) -> tensor<2xf32> attributes {flow.kernel}
func.func private @f_guidance(tensor<2xf32>, tensor<2xf32>, tensor<2xf32>, f32, f32) -> tensor<2xf32> attributes {flow.kernel}
flow.sample @f with @euler {n = 10 : i64, seed = 0 : i64, steps = 4 : i64,
  velocity = @u_velocity, velocity_jvp = @u_jvp}
flow.sample @f with @euler {n = 10 : i64, seed = 0 : i64, steps = 4 : i64, guidance = @f_guidance}

// -----

flow.solver @euler c = [0.0] a = [array<f64>] b = [1.0]
flow.flow @f {
  %t = flow.uniform stream 0 : f32
}
func.func private @u_jvp(tensor<2xf32>, f32, tensor<2xf32>, f32) -> tensor<2xf32> attributes {flow.kernel}
// expected-error @+1 {{'velocity_jvp' needs 'velocity'}}
flow.sample @f with @euler {n = 10 : i64, seed = 0 : i64, steps = 4 : i64, velocity_jvp = @u_jvp}

// -----

// The velocity takes the time as an f32 per sample.
flow.solver @euler c = [0.0] a = [array<f64>] b = [1.0]
flow.flow @f {
  %t = flow.uniform stream 0 : f32
}
func.func private @u_velocity(tensor<2xf32>, f64) -> tensor<2xf32> attributes {flow.kernel}
// expected-error @+1 {{'velocity' refers to @u_velocity of type '(tensor<2xf32>, f64) -> tensor<2xf32>', expected '(tensor<2xf32>, f32) -> tensor<2xf32>'}}
flow.sample @f with @euler {n = 10 : i64, seed = 0 : i64, steps = 4 : i64, velocity = @u_velocity}

// -----

flow.solver @euler c = [0.0] a = [array<f64>] b = [1.0]
flow.flow @f {
  %t = flow.uniform stream 0 : f32
}
func.func private @u_velocity(tensor<2xf32>, f32) -> (tensor<2xf32>, tensor<2xf32>) attributes {flow.kernel}
// expected-error @+1 {{'velocity' refers to @u_velocity of type '(tensor<2xf32>, f32) -> (tensor<2xf32>, tensor<2xf32>)', expected one result}}
flow.sample @f with @euler {n = 10 : i64, seed = 0 : i64, steps = 4 : i64, velocity = @u_velocity}

// -----

flow.solver @euler c = [0.0] a = [array<f64>] b = [1.0]
flow.flow @f {
  %t = flow.uniform stream 0 : f32
}
func.func private @u_velocity(tensor<2xf32>, f32) -> tensor<2xf32> attributes {flow.kernel}
// expected-error @+1 {{'velocity_jvp' refers to @u_jvp, which is not a function}}
flow.sample @f with @euler {n = 10 : i64, seed = 0 : i64, steps = 4 : i64,
  velocity = @u_velocity, velocity_jvp = @u_jvp}

// -----

// The jvp's direction has the velocity's type.
flow.solver @euler c = [0.0] a = [array<f64>] b = [1.0]
flow.flow @f {
  %t = flow.uniform stream 0 : f32
}
func.func private @u_velocity(tensor<2xf32>, f32) -> tensor<2xf32> attributes {flow.kernel}
func.func private @u_jvp(tensor<2xf32>, f32, tensor<3xf32>, f32) -> tensor<2xf32> attributes {flow.kernel}
// expected-error @+1 {{'velocity_jvp' refers to @u_jvp of type '(tensor<2xf32>, f32, tensor<3xf32>, f32) -> tensor<2xf32>', expected '(tensor<2xf32>, f32, tensor<2xf32>, f32) -> tensor<2xf32>'}}
flow.sample @f with @euler {n = 10 : i64, seed = 0 : i64, steps = 4 : i64,
  velocity = @u_velocity, velocity_jvp = @u_jvp}

// -----

flow.solver @euler c = [0.0] a = [array<f64>] b = [1.0]
flow.flow @f {
  %t = flow.uniform stream 0 : f32
}
func.func private @f_guidance(tensor<2xf32>, tensor<2xf32>, tensor<2xf32>, f32, f32) -> tensor<2xf32> attributes {flow.host}
// expected-error @+1 {{'guidance' refers to @f_guidance, which is not marked flow.kernel}}
flow.sample @f with @euler {n = 10 : i64, seed = 0 : i64, steps = 4 : i64, guidance = @f_guidance}

// -----

// Guidance takes the guidance scale w last.
flow.solver @euler c = [0.0] a = [array<f64>] b = [1.0]
flow.flow @f {
  %t = flow.uniform stream 0 : f32
}
func.func private @f_guidance(tensor<2xf32>, tensor<2xf32>, tensor<2xf32>, f32) -> tensor<2xf32> attributes {flow.kernel}
// expected-error @+1 {{'guidance' refers to @f_guidance of type '(tensor<2xf32>, tensor<2xf32>, tensor<2xf32>, f32) -> tensor<2xf32>', expected '(tensor<2xf32>, tensor<2xf32>, tensor<2xf32>, f32, f32) -> tensor<2xf32>'}}
flow.sample @f with @euler {n = 10 : i64, seed = 0 : i64, steps = 4 : i64, guidance = @f_guidance}
