// RUN: %flowc-opt --verify-diagnostics --split-input-file %s
// flow.launch against its kernel's signature: a per-sample argument of type
// T takes a batch tensor<? x numel(T) x f32>, a launch-uniform one its own
// type; results are batches; flow.in_place pairs results with operands.

// A well-formed launch: per-sample vector and scalar, uniform f32 and flat
// buffer, overwriting operand 0. No diagnostic.
func.func @k(%x: tensor<2x3xf32>, %s: f32, %h: f32, %w: tensor<?xf32>) -> (tensor<2x3xf32>, f32)
    attributes {flow.kernel, flow.uniform_args = array<i1: false, false, true, true>} {
  return %x, %s : tensor<2x3xf32>, f32
}
func.func @host(%x: tensor<?x6xf32>, %s: tensor<?x1xf32>, %h: f32, %w: tensor<?xf32>, %rows: i64)
    attributes {flow.host} {
  %r:2 = flow.launch @k(%x, %s, %h, %w) rows %rows step %rows {flow.in_place = array<i64: 0, 1>}
      : (tensor<?x6xf32>, tensor<?x1xf32>, f32, tensor<?xf32>) -> (tensor<?x6xf32>, tensor<?x1xf32>)
  return
}

// -----

func.func @host(%rows: i64) attributes {flow.host} {
  // expected-error @+1 {{'kernel' refers to @missing, which is not a function}}
  %r = flow.launch @missing() rows %rows step %rows : () -> tensor<?x1xf32>
  return
}

// -----

func.func @other(%rows: i64) attributes {flow.host} {
  return
}
func.func @host(%rows: i64) attributes {flow.host} {
  // expected-error @+1 {{'kernel' refers to @other, which is not marked flow.kernel}}
  flow.launch @other() rows %rows step %rows : () -> ()
  return
}

// -----

func.func private @k(f32) -> f32 attributes {flow.kernel}
func.func @host(%a: tensor<?x1xf32>, %rows: i64) attributes {flow.host} {
  // expected-error @+1 {{has 2 operands, but kernel @k takes 1}}
  %r = flow.launch @k(%a, %a) rows %rows step %rows : (tensor<?x1xf32>, tensor<?x1xf32>) -> tensor<?x1xf32>
  return
}

// -----

func.func private @k(f32) -> f32 attributes {flow.kernel}
func.func @host(%a: tensor<?x1xf32>, %rows: i64) attributes {flow.host} {
  // expected-error @+1 {{has 2 results, but kernel @k returns 1}}
  %r:2 = flow.launch @k(%a) rows %rows step %rows : (tensor<?x1xf32>) -> (tensor<?x1xf32>, tensor<?x1xf32>)
  return
}

// -----

func.func private @k(tensor<2xf32>) -> f32 attributes {flow.kernel}
func.func @host(%a: tensor<?x3xf32>, %rows: i64) attributes {flow.host} {
  // expected-error @+1 {{operand 0 has type 'tensor<?x3xf32>', but @k needs 'tensor<?x2xf32>'}}
  %r = flow.launch @k(%a) rows %rows step %rows : (tensor<?x3xf32>) -> tensor<?x1xf32>
  return
}

// -----

// A uniform scalar is passed as itself, not as a batch.
func.func private @k(tensor<2xf32>, f32) -> f32
    attributes {flow.kernel, flow.uniform_args = array<i1: false, true>}
func.func @host(%a: tensor<?x2xf32>, %h: tensor<?x1xf32>, %rows: i64) attributes {flow.host} {
  // expected-error @+1 {{operand 1 has type 'tensor<?x1xf32>', but @k needs 'f32'}}
  %r = flow.launch @k(%a, %h) rows %rows step %rows : (tensor<?x2xf32>, tensor<?x1xf32>) -> tensor<?x1xf32>
  return
}

// -----

func.func private @k(f32) -> tensor<4xf32> attributes {flow.kernel}
func.func @host(%a: tensor<?x1xf32>, %rows: i64) attributes {flow.host} {
  // expected-error @+1 {{result 0 has type 'tensor<?x1xf32>', but @k returns 'tensor<?x4xf32>'}}
  %r = flow.launch @k(%a) rows %rows step %rows : (tensor<?x1xf32>) -> tensor<?x1xf32>
  return
}

// -----

func.func private @k(f32, f32) -> f32
    attributes {flow.kernel, flow.uniform_args = array<i1: false, true>}
func.func @host(%a: tensor<?x1xf32>, %h: f32, %rows: i64) attributes {flow.host} {
  // expected-error @+1 {{result 0 cannot overwrite operand 1}}
  %r = flow.launch @k(%a, %h) rows %rows step %rows {flow.in_place = array<i64: 1>} : (tensor<?x1xf32>, f32) -> tensor<?x1xf32>
  return
}

// -----

func.func private @k(f32) -> f32 attributes {flow.kernel}
func.func @host(%a: tensor<?x1xf32>, %rows: i64) attributes {flow.host} {
  // expected-error @+1 {{needs one flow.in_place operand per result}}
  %r = flow.launch @k(%a) rows %rows step %rows {flow.in_place = array<i64: 0, 0>} : (tensor<?x1xf32>) -> tensor<?x1xf32>
  return
}
