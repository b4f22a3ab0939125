// RUN: %flowc-opt --verify-diagnostics --split-input-file %s
// The regions MLIRGen writes on flow.train and flow.sample have the
// signatures flow-outline-run-kernels turns into kernels.

flow.flow @f {
  %t = flow.uniform stream 0 : f32
}
// (p, g, s, lr, step) must yield (p', s'): one value is missing.
// expected-error @+1 {{region 'update' must be (p, g, s..., lr, step) -> (p', s'...) on f32}}
flow.train @f {batch = 8 : i64, ema = 0.0 : f64, lr = 1.0e-3 : f64, optimizer = "sgd", seed = 0 : i64, steps = 1 : i64} update {
^bb0(%p: f32, %g: f32, %m: f32, %lr: f32, %step: f32):
  flow.yield %p : f32
}

// -----

flow.flow @f {
  %t = flow.uniform stream 0 : f32
}
flow.solver @euler c = [0.0] a = [array<f64>] b = [1.0]
// The field must return x's type.
// expected-error @+1 {{region 'model' must be (x, t: f32[, label: f32][, cond: tensor]) -> x}}
flow.sample @f with @euler {n = 10 : i64, seed = 0 : i64, steps = 4 : i64} model {
^bb0(%x: tensor<2xf32>, %t: f32):
  flow.yield %t : f32
}

// -----

flow.flow @f {
  %t = flow.uniform stream 0 : f32
}
flow.solver @euler c = [0.0] a = [array<f64>] b = [1.0]
// Guidance takes (v_c, v_u, x, t, w): w is missing.
// expected-error @+1 {{region 'combine' must be (v_c, v_u, x, t: f32, w: f32) -> v_c's type}}
flow.sample @f with @euler {n = 10 : i64, seed = 0 : i64, steps = 4 : i64} combine {
^bb0(%vc: tensor<2xf32>, %vu: tensor<2xf32>, %x: tensor<2xf32>, %t: f32):
  flow.yield %vc : tensor<2xf32>
}

// -----

// flow.yield ends only the regions of flow.train and flow.sample.
func.func @k(%a: f32) -> f32 {
  // expected-error @+1 {{'flow.yield' op expects parent op to be one of 'flow.train, flow.sample, flow.tokenizer'}}
  flow.yield %a : f32
}

// -----

flow.flow @f {
  %t = flow.uniform stream 0 : f32
}
// A map's step takes (x, t, dt): dt is missing.
// expected-error @+1 {{region 'map' must be (x, t: f32, dt: f32[, label: f32][, cond: tensor]) -> x}}
flow.sample @f {n = 10 : i64, seed = 0 : i64, steps = 1 : i64} map {
^bb0(%x: tensor<2xf32>, %t: f32):
  flow.yield %x : tensor<2xf32>
}

// -----

flow.flow @f {
  %t = flow.uniform stream 0 : f32
}
flow.solver @euler c = [0.0] a = [array<f64>] b = [1.0]
// A map sampler has no solver.
// expected-error @+1 {{a map sampler has no 'model' region and no solver}}
flow.sample @f with @euler {n = 10 : i64, seed = 0 : i64, steps = 1 : i64} map {
^bb0(%x: tensor<2xf32>, %t: f32, %dt: f32):
  flow.yield %x : tensor<2xf32>
}

// -----

flow.flow @f {
  %t = flow.uniform stream 0 : f32
}
// Without a map, a sampler needs a solver.
// expected-error @+1 {{needs a solver, or a map (the 'map' region or 'map_step')}}
flow.sample @f {n = 10 : i64, seed = 0 : i64, steps = 1 : i64}

// -----

flow.flow @f {
  %t = flow.uniform stream 0 : f32
}
func.func @f_map_step(%x: tensor<?x2xf32>, %t: f64, %h: f64) -> tensor<?x2xf32> attributes {flow.host} {
  return %x : tensor<?x2xf32>
}
// The map's host step is (x, t, h, rows[, conditions]) -> x: rows is missing.
// expected-error @+1 {{'map_step' refers to @f_map_step of type}}
flow.sample @f {map_step = @f_map_step, n = 10 : i64, seed = 0 : i64, steps = 1 : i64}
