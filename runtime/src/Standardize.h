//===- Standardize.h - Tokens shifted and scaled to unit statistics -*- C++ -*-===//
//
// A tokenizer's `standardize: channels | all` (latent diffusion's scaled
// latents, per channel): encoding ends in a "standardize" network, (z -
// mean) / std per channel, and decoding starts with its inverse, an
// "unstandardize" network. Their statistics are buffers, not parameters:
// no step trains them; the first trained flow drawing from the tokenizer
// sets them from its data as it starts, and they travel in its checkpoint
// (and to later stages, which load them frozen).
//
//===----------------------------------------------------------------------===//
#ifndef FLOWRT_STANDARDIZE_H
#define FLOWRT_STANDARDIZE_H

#include "Data.h"
#include "NetworkSet.h"

#include <vector>

namespace flowrt {

/// Network kind "standardize" or "unstandardize": statistics per index of
/// in_shape's first axis (C), over the samples and the other axes; mean 0
/// and deviation 1 until set.
Network makeStandardizeNetwork(const flowrt_model_desc &desc);

/// Sets the statistics of `program`'s tokenizer standardization in each of
/// `sets` (the trained networks and their EMA copy) from up to 10000 of
/// `data`'s points encoded by the tokenizer in `ctx` (whose nets are
/// sets[0]'s), with the standardization at the identity. Nothing when the
/// tokenizer standardizes nothing, or an earlier stage set the statistics
/// (the networks are frozen here). A channel without spread keeps
/// deviation 1. Prints the statistics unless `quiet`.
void fitStandardization(const flowrt_program &program, const std::vector<NetworkSetImpl *> &sets,
                        flowrt_ctx &ctx, const DataSet &data, bool quiet);

} // namespace flowrt

#endif // FLOWRT_STANDARDIZE_H
