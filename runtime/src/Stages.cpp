//===- Stages.cpp - Specs that train in stages ----------------------------===//
//
// Implements Stages.h.
//
//===----------------------------------------------------------------------===//

#include "Stages.h"
#include "Checkpoint.h"
#include "Files.h"

#include <deque>
#include <memory>
#include <stdexcept>

using namespace flowrt;

std::vector<const flowrt_program *> flowrt::trainStages(const flowrt_program &program) {
  if (!isStaged(program))
    return {&program};
  std::vector<const flowrt_program *> stages;
  for (int32_t i = 0; i < program.num_stages; ++i)
    stages.push_back(&program.stages[i]);
  return stages;
}

std::string flowrt::stageDirectory(const flowrt_program &spec, const flowrt_program &stage,
                                   const std::string &run) {
  if (!isStaged(spec))
    return run;
  return joinPath(run, stage.flow_name ? stage.flow_name : "flow");
}

namespace {
/// A program whose model descriptors point into storage of its own.
struct BoundProgram {
  flowrt_program program;
  std::vector<flowrt_model_desc> models;
  std::deque<std::string> paths;
};
} // namespace

const flowrt_program &flowrt::bindStages(const flowrt_program &program, const std::string &run) {
  bool any = false;
  for (int32_t i = 0; i < program.num_models; ++i)
    any |= program.models[i].stage != nullptr;
  if (!any)
    return program;
  // Bound once per command; the programs outlive every use of them.
  static std::deque<std::unique_ptr<BoundProgram>> bound;
  auto copy = std::make_unique<BoundProgram>();
  copy->program = program;
  copy->models.assign(program.models, program.models + program.num_models);
  for (flowrt_model_desc &m : copy->models) {
    if (!m.stage)
      continue;
    // The stage's checkpoint (its EMA weights when it kept them), found
    // under the same name.
    copy->paths.push_back(joinPath(run, m.stage));
    if (!pathExists(joinPath(copy->paths.back(), CheckpointFile)))
      throw std::runtime_error(std::string("network '") + m.name + "' is trained by stage '" +
                               m.stage + "', which has no checkpoint in " +
                               copy->paths.back() + ": run `train` (or `train --only " +
                               m.stage + "`) first");
    m.kind = "checkpoint";
    m.path = copy->paths.back().c_str();
    m.checkpoint_model = m.name;
    m.raw_weights = 0;
  }
  copy->program.models = copy->models.data();
  bound.push_back(std::move(copy));
  return bound.back()->program;
}
