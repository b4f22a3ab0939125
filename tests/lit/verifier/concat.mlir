// RUN: %flowc-opt --split-input-file --verify-diagnostics %s
// flow.concat and flow.slice check their shapes.

func.func @ok(%a: tensor<2x3xf32>, %b: tensor<1x3xf32>) -> tensor<1x3xf32> {
  %c = flow.concat %a, %b axis 0 : tensor<2x3xf32>, tensor<1x3xf32> -> tensor<3x3xf32>
  %s = flow.slice %c axis 0 offset 2 : tensor<3x3xf32> to tensor<1x3xf32>
  return %s : tensor<1x3xf32>
}

// -----

func.func @other_axis(%a: tensor<2x3xf32>, %b: tensor<2x2xf32>) -> tensor<4x3xf32> {
  // expected-error @+1 {{cannot join 'tensor<2x2xf32>' into 'tensor<4x3xf32>' along axis 0}}
  %c = flow.concat %a, %b axis 0 : tensor<2x3xf32>, tensor<2x2xf32> -> tensor<4x3xf32>
  return %c : tensor<4x3xf32>
}

// -----

func.func @sizes(%a: tensor<2xf32>, %b: tensor<2xf32>) -> tensor<5xf32> {
  // expected-error @+1 {{the inputs have 4 entries along axis 0, the result 5}}
  %c = flow.concat %a, %b axis 0 : tensor<2xf32>, tensor<2xf32> -> tensor<5xf32>
  return %c : tensor<5xf32>
}

// -----

func.func @past_the_end(%a: tensor<3xf32>) -> tensor<2xf32> {
  // expected-error @+1 {{cannot slice 'tensor<2xf32>' from 'tensor<3xf32>' at offset 2 along axis 0}}
  %s = flow.slice %a axis 0 offset 2 : tensor<3xf32> to tensor<2xf32>
  return %s : tensor<2xf32>
}
