//===- Info.cpp - The `info` command --------------------------------------===//
//
// Prints what a generated program is: its flow, data set, network and the
// defaults of `train` and `sample`, so a user can see them without the spec.
//
//===----------------------------------------------------------------------===//

#include "Commands.h"
#include "Network.h"
#include "Tokenizer.h"

#include <cinttypes>
#include <cstdio>
#include <string>

namespace {
const char *orNone(const char *s) { return s ? s : "(none)"; }

/// One network: its settings, then its signature ("in/out 2" for a
/// velocity network, else its arguments and output).
void printModel(const flowrt_model_desc &m, bool named) {
  std::string time = m.time_features > 0 ? "fourier(" + std::to_string(m.time_features) + ")"
                                          : std::string("t");
  std::string classes =
      m.classes > 0 ? ", " + std::to_string(m.classes) + " classes + null" : std::string();
  std::string kind = orNone(m.kind);
  std::string extra = kind == "dit" ? ", heads: " + std::to_string(m.heads) +
                                          ", patch: " + std::to_string(m.patch)
                      : kind == "mlp" || kind == "conv" ? std::string(", act: ") + orNone(m.activation)
                                                        : std::string();
  bool timed = m.num_inputs == 0;
  for (int32_t i = 0; i < m.num_inputs; ++i)
    timed |= m.input_roles[i] == FLOWRT_INPUT_TIME;
  std::string settings =
      kind == "torchscript" || kind == "checkpoint"
          ? kind + "(\"" + std::string(orNone(m.path)) + "\")"
      : kind == "tarflow"
          ? "tarflow(blocks: " + std::to_string(m.blocks) + ", width: " + std::to_string(m.width) +
                ", depth: " + std::to_string(m.depth) + ", heads: " + std::to_string(m.heads) +
                ", patch: " + std::to_string(m.patch) +
                (m.deep > 0 ? ", deep: " + std::to_string(m.deep) : std::string()) +
                "), a normalizing flow: log p(x)"
          : kind + "(width: " + std::to_string(m.width) + ", depth: " + std::to_string(m.depth) +
                extra + (timed ? ", time: " + time : std::string()) + ")";
  bool velocity = m.num_inputs == 0 ||
                  (m.num_inputs >= 2 && m.input_roles[0] == FLOWRT_INPUT_TENSOR &&
                   m.input_roles[1] == FLOWRT_INPUT_TIME && m.out_dim == m.input_dims[0] &&
                   (m.num_inputs == 2 || m.input_roles[2] == FLOWRT_INPUT_LABEL) &&
                   m.num_inputs <= 3);
  auto shape = [](const int64_t *dims, int32_t rank) {
    std::string text;
    for (int32_t i = 0; i < rank; ++i)
      text += (i ? ", " : "[") + std::to_string(dims[i]);
    return text + "]";
  };
  std::string signature = "in/out " + std::to_string(m.in_dim);
  if (m.in_rank > 0 && m.out_rank > 0) {
    signature = shape(m.in_shape, m.in_rank) + " -> " + shape(m.out_shape, m.out_rank);
  } else if (!velocity) {
    signature = "(";
    for (int32_t i = 0; i < m.num_inputs; ++i) {
      int32_t role = m.input_roles[i];
      signature += std::string(i ? ", " : "") +
                   (role == FLOWRT_INPUT_TIME    ? std::string("time")
                    : role == FLOWRT_INPUT_LABEL ? std::string("label")
                                                 : std::to_string(m.input_dims[i]));
    }
    signature += ") -> " + std::to_string(m.out_dim);
  }
  std::string name = named ? std::string(" ") + orNone(m.name) + ":" : "";
  char lr[48] = "";
  if (m.lr > 0)
    std::snprintf(lr, sizeof lr, ", lr %g", m.lr);
  std::string stage = m.stage    ? std::string(", frozen (trained by stage ") + m.stage + ")"
                      : m.frozen ? std::string(", frozen")
                                 : std::string();
  if (kind == "standardize" || kind == "unstandardize") { // a tokenizer's statistics
    settings = kind + (m.in_shape[0] > 1 ? " per channel" : " over all values");
    signature = "statistics of [" + std::to_string(m.in_shape[0]) + "] " +
                (m.stage ? std::string("from stage ") + m.stage : std::string("from the data"));
    stage.clear();
  }
  std::printf("model:  %s %s, %s%s%s%s\n", name.c_str(), settings.c_str(), signature.c_str(),
              classes.c_str(), lr, stage.c_str());
}
} // namespace

int flowrt::runInfo(const flowrt_program &p) {
  std::printf("flow:    %s (runtime ABI %u)\n", orNone(p.flow_name),
              p.abi_version);
  std::string params;
  for (int32_t i = 0; i < p.data.num_params; ++i)
    params += (i ? ", " : "") + std::string(p.data.param_names[i]) + ": " +
              c10::str(p.data.param_values[i]);
  if (p.data.path)
    params = std::string("\"") + p.data.path + "\"" +
             (p.data.labels_path ? std::string(", labels: \"") + p.data.labels_path + "\"" : "") +
             (p.data.cond_path ? std::string(", cond: \"") + p.data.cond_path + "\"" : "");
  std::string conditions =
      p.data.cond_dim > 0 ? ", conditions of " + std::to_string(p.data.cond_dim) + " values"
                          : std::string();
  if (p.data.vocab > 0 && !p.data.tokenizer)
    conditions += ", token ids 0.." + std::to_string(p.data.vocab - 1);
  if (p.data.tokenizer && p.data.vocab > 0)
    conditions += ", tokenizer onehot of " + std::to_string(p.data.vocab) + " tokens";
  else if (p.data.tokenizer)
    conditions += std::string(", tokenizer ") + p.data.tokenizer + " of " +
                  std::to_string(p.data.patch) + "x" + std::to_string(p.data.patch) + " patches";
  std::printf("data:    %s(%s), %" PRId64 " features%s\n", orNone(p.data.generator),
              params.c_str(), p.data.dim, conditions.c_str());
  if (p.tokenizer.name) {
    std::string shape;
    for (int32_t i = 0; i < p.tokenizer.rank; ++i)
      shape += (i ? ", " : "") + std::to_string(p.tokenizer.shape[i]);
    std::printf("tokens:  tokenizer %s, [%s] per sample%s\n", p.tokenizer.name, shape.c_str(),
                samplesTokens(p) ? "; the flow samples them and `sample` decodes them"
                                 : "; `encode`, `decode` and `reconstruct` use it");
  }
  for (int32_t i = 0; i < p.num_models; ++i)
    printModel(p.models[i], p.num_models > 1);
  if (p.num_stages > 1) {
    std::string stages;
    for (int32_t i = 0; i < p.num_stages; ++i)
      stages += (i ? ", then " : "") + std::string(orNone(p.stages[i].flow_name)) + " (" +
                std::to_string(p.stages[i].train.steps) + " steps)";
    std::printf("stages:  %s; `train` runs them in order, each in DIR/FLOW\n", stages.c_str());
  }
  std::printf("train:   steps %" PRId64 ", batch %" PRId64
              ", optimizer %s(lr: %g), ema %g, seed %" PRIu64 "\n",
              p.train.steps, p.train.batch, orNone(p.train.optimizer),
              p.train.lr, p.train.ema, p.train.seed);
  if (normalizingFlowModel(p) && p.sample.n > 0) {
    const flowrt_sample_desc &s = p.sample;
    char how[96] = "token by token";
    if (s.jacobi > 0 && s.jacobi_block > 0)
      std::snprintf(how, sizeof how, "Jacobi iteration (tolerance %g, groups of %" PRId64
                    " tokens)", s.jacobi, s.jacobi_block);
    else if (s.jacobi > 0)
      std::snprintf(how, sizeof how, "Jacobi iteration (tolerance %g)", s.jacobi);
    std::printf("sample:  inversion %s, n %" PRId64 ", seed %" PRIu64 ", label %s, guidance "
                "%g, denoise %g\n",
                how, s.n, s.seed,
                s.label == FLOWRT_LABELS_BALANCED ? "balanced"
                                                  : std::to_string(s.label).c_str(),
                s.guidance_scale, s.denoise);
  } else {
    std::printf("sample:  solver %s, %" PRId64 " steps, n %" PRId64 ", seed %" PRIu64 "\n",
                orNone(p.sample.solver), p.sample.steps, p.sample.n, p.sample.seed);
  }
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
