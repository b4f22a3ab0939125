// RUN: %flowc-opt --verify-diagnostics --split-input-file %s

// expected-error @+1 {{tableau sizes disagree: c has 2 entries, a 2 rows, b 1 entries}}
flow.solver @bad c = [0.0, 1.0] a = [array<f64>, array<f64: 1.0>] b = [1.0]

// -----

// expected-error @+1 {{row 1 of a must have 1 entries}}
flow.solver @bad c = [0.0, 1.0] a = [array<f64>, array<f64: 0.5, 0.5>] b = [0.5, 0.5]
