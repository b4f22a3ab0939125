//===- Tokenizer.h - The encoding a flow sees its data through -*- C++ -*-===//
//
// A spec's `tokenizer NAME = patchify(DATA, patch: P)`: the flow trains and
// samples on tokens, the runtime encodes every data batch on the way in and
// decodes samples on the way out, so files, grids and metrics are in the
// data's own units. Both directions work on flat rows [n, D]. Encoder
// tokenizers (networks and quantizers) are compiled instead: the flow body
// computes the encoding, and flowrt_program's `tokenizer` decodes.
//
//===----------------------------------------------------------------------===//
#ifndef FLOWRT_TOKENIZER_H
#define FLOWRT_TOKENIZER_H

#include "flowrt/flowrt.h"

#include <torch/torch.h>

#include <memory>

namespace flowrt {

class Tokenizer {
public:
  virtual ~Tokenizer() = default;
  /// Data rows [n, D] to token rows [n, D'].
  virtual torch::Tensor encode(const torch::Tensor &x) const = 0;
  /// Token rows back to data rows; decode(encode(x)) == x.
  virtual torch::Tensor decode(const torch::Tensor &tokens) const = 0;
};

/// The data's tokenizer, or null when it has none. "patchify": images
/// [C, H, W] to (H/P)(W/P) tokens of P*P*C values, a token's values ordered
/// by row, column, channel (DiT's unpatchify layout), tokens row by row.
/// Throws std::invalid_argument for an unknown tokenizer or a patch that
/// does not tile the image.
std::unique_ptr<Tokenizer> makeTokenizer(const flowrt_data_desc &desc);

/// Whether `program`'s flow samples its encoder tokenizer's tokens, which
/// `sample` and `eval` decode with it (flowrt_program's samples_tokens).
inline bool samplesTokens(const flowrt_program &program) {
  return program.samples_tokens && program.tokenizer.decode;
}

/// Whether `program`'s samples, decoded, are in the data's units: the flow
/// samples data (or a runtime tokenizer's tokens of it), or the program
/// decodes its samples. A flow over other features (an encoder's output it
/// computes itself) has samples that files hold as rows and nothing
/// compares with the data.
bool samplesInDataUnits(const flowrt_program &program);

/// One direction of the program's encoder tokenizer (`encode`, or a
/// compiled `decode`) on rows [n, D], in batches on ctx's device, without
/// gradients; the result on the CPU.
torch::Tensor applyTokenizer(flowrt_tensor *(*direction)(flowrt_ctx *, flowrt_tensor *),
                             flowrt_ctx &ctx, const torch::Tensor &rows);

/// Whether `program` is its tokenizer's flow decoder (`decode: FLOW`):
/// tokens decode by sampling it, given them as its condition.
bool isFlowDecoder(const flowrt_program &program);

} // namespace flowrt

#endif // FLOWRT_TOKENIZER_H
