//===- Stages.h - Specs that train in stages --------------------*- C++ -*-===//
//
// A spec with several train blocks trains in stages (flowrt_program's
// `stages`): an autoencoder first, then a flow over its latents, say. One
// run directory holds them all, stage F in RUN/F with its own checkpoint,
// metrics and settings; a network an earlier stage trains is frozen in the
// later programs that apply it (flowrt_model_desc's `stage`) and loads from
// that stage's checkpoint. A spec with one train block runs in RUN itself,
// as it always has.
//
//===----------------------------------------------------------------------===//
#ifndef FLOWRT_STAGES_H
#define FLOWRT_STAGES_H

#include "flowrt/flowrt.h"

#include <string>
#include <vector>

namespace flowrt {

/// The programs `train` runs, in order: the spec's stages, or `program`.
std::vector<const flowrt_program *> trainStages(const flowrt_program &program);

/// Whether `program` trains in several stages.
inline bool isStaged(const flowrt_program &program) { return program.num_stages > 1; }

/// The directory of `stage`'s checkpoint, metrics and settings in run
/// directory `run`: RUN/<flow> when `spec` (the program the user runs)
/// trains in stages, else RUN.
std::string stageDirectory(const flowrt_program &spec, const flowrt_program &stage,
                           const std::string &run);

/// `program` with every network that an earlier stage trains bound to that
/// stage's checkpoint in run directory `run` (kind "checkpoint", loaded
/// frozen). `program` itself when it has none. The copy lives as long as
/// the process.
const flowrt_program &bindStages(const flowrt_program &program, const std::string &run);

} // namespace flowrt

#endif // FLOWRT_STAGES_H
