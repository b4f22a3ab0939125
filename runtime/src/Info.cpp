//===- Info.cpp - The `info` command --------------------------------------===//
//
// Prints what a generated program is: its flow, data set, network and the
// defaults of `train` and `sample`, so a user can see them without the spec.
//
//===----------------------------------------------------------------------===//

#include "Commands.h"

#include <cinttypes>
#include <cstdio>
#include <string>

namespace {
const char *orNone(const char *s) { return s ? s : "(none)"; }
} // namespace

int flowrt::runInfo(const flowrt_program &p) {
  std::printf("flow:    %s (runtime ABI %u)\n", orNone(p.flow_name),
              p.abi_version);
  std::string params;
  for (int32_t i = 0; i < p.data.num_params; ++i)
    params += (i ? ", " : "") + std::string(p.data.param_names[i]) + ": " +
              std::to_string(p.data.param_values[i]);
  if (p.data.path)
    params = std::string("\"") + p.data.path + "\"" +
             (p.data.labels_path ? std::string(", labels: \"") + p.data.labels_path + "\"" : "");
  std::printf("data:    %s(%s), %" PRId64 " features\n",
              orNone(p.data.generator), params.c_str(), p.data.dim);
  std::string time =
      p.model.time_features > 0
          ? "fourier(" + std::to_string(p.model.time_features) + ")"
          : std::string("t");
  std::string classes =
      p.model.classes > 0
          ? ", " + std::to_string(p.model.classes) + " classes + null"
          : std::string();
  std::string kind = orNone(p.model.kind);
  std::string extra = kind == "dit" ? ", heads: " + std::to_string(p.model.heads) +
                                          ", patch: " + std::to_string(p.model.patch)
                      : kind == "mlp" ? std::string(", act: ") + orNone(p.model.activation)
                                      : std::string();
  if (kind == "torchscript")
    std::printf("model:   torchscript(\"%s\"), in/out %" PRId64 "%s\n", orNone(p.model.path),
                p.model.in_dim, classes.c_str());
  else
    std::printf("model:   %s(width: %" PRId64 ", depth: %" PRId64 "%s, time: %s), in/out %" PRId64
                "%s\n",
                kind.c_str(), p.model.width, p.model.depth, extra.c_str(), time.c_str(),
                p.model.in_dim, classes.c_str());
  std::printf("train:   steps %" PRId64 ", batch %" PRId64
              ", optimizer %s(lr: %g), ema %g, seed %" PRIu64 "\n",
              p.train.steps, p.train.batch, orNone(p.train.optimizer),
              p.train.lr, p.train.ema, p.train.seed);
  std::printf("sample:  solver %s, %" PRId64 " steps, n %" PRId64
              ", seed %" PRIu64 "\n",
              orNone(p.sample.solver), p.sample.steps, p.sample.n,
              p.sample.seed);
  if (p.sample.guidance)
    std::printf("guide:   %s, w = %g%s%s\n", p.sample.guidance, p.sample.guidance_scale,
                p.sample.adaptive_guidance > 0
                    ? (", adaptive (cos >= " + std::to_string(p.sample.adaptive_guidance) + ")")
                          .c_str()
                    : "",
                p.sample.guidance_momentum != 0
                    ? (", momentum " + std::to_string(p.sample.guidance_momentum)).c_str()
                    : "");
  std::printf("kernels: CPU%s\n", p.ptx ? " + PTX" : "");
  return 0;
}

flowrt::Command flowrt::addInfoCommand(CLI::App &app, const flowrt_program &program) {
  CLI::App *cmd = app.add_subcommand("info", "describe the flow, its data, network and "
                                             "defaults");
  return {cmd, [&program] { return runInfo(program); }};
}
