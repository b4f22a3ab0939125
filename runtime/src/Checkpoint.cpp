//===- Checkpoint.cpp - Atomic training checkpoints -----------------------===//
//
// Implements Checkpoint.h with torch::serialize archives: one sub-archive per
// network (model, ema), the optimizer's state as one tensor and scalar
// tensors for the counters. The write
// goes to `.<name>.tmp.<pid>` beside the target, is flushed to disk, then
// renamed, which POSIX makes atomic within one directory.
//
//===----------------------------------------------------------------------===//

#include "Checkpoint.h"
#include "Files.h"
#include "Stages.h"

#include <nlohmann/json.hpp>

#include <cstdio>
#include <fstream>
#include <fcntl.h>
#include <stdexcept>
#include <unistd.h>

using namespace flowrt;

namespace {

/// Flushes a written file to disk, so the rename never exposes a file whose
/// contents are still only in the page cache.
void syncFile(const std::string &path) {
  int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0)
    return;
  ::fsync(fd);
  ::close(fd);
}

torch::Tensor stringTensor(const std::string &s) {
  return torch::from_blob(const_cast<char *>(s.data()),
                          {static_cast<int64_t>(s.size())}, torch::kUInt8)
      .clone();
}

std::string tensorString(const torch::Tensor &t) {
  torch::Tensor bytes = t.contiguous();
  const char *data = reinterpret_cast<const char *>(bytes.data_ptr<uint8_t>());
  return std::string(data, data + bytes.numel());
}

/// A short, stable fingerprint of the spec's text (FNV-1a, 64 bits).
std::string specFingerprint(const flowrt_program &program) {
  uint64_t h = 1469598103934665603ull;
  for (const char *c = program.spec_text ? program.spec_text : ""; *c; ++c)
    h = (h ^ static_cast<unsigned char>(*c)) * 1099511628211ull;
  char text[20];
  std::snprintf(text, sizeof(text), "%016llx", static_cast<unsigned long long>(h));
  return text;
}

} // namespace

std::string flowrt::checkpointIdentity(const flowrt_program &program) {
  const flowrt_data_desc &d = program.data;
  std::string id = std::string("flow ") + (program.flow_name ? program.flow_name : "?");
  id += "; data " + std::string(d.generator ? d.generator : "none");
  for (int32_t i = 0; i < d.num_params; ++i)
    id += std::string(i ? ", " : "(") + d.param_names[i] + ": " + c10::str(d.param_values[i]) +
          (i + 1 == d.num_params ? ")" : "");
  if (d.path)
    id += std::string(" \"") + d.path + "\"";
  id += " [" + std::to_string(d.dim) + "]";
  for (int32_t i = 0; i < program.num_models; ++i) {
    const flowrt_model_desc &m = program.models[i];
    id += "; model " + std::string(m.name ? m.name : "?") + " " + (m.kind ? m.kind : "none") +
          " width " + std::to_string(m.width) + " depth " + std::to_string(m.depth) +
          " classes " + std::to_string(m.classes) + " in " + std::to_string(m.in_dim) +
          " out " + std::to_string(m.out_dim);
    if (m.stage) // recorded by reference
      id += std::string(" from stage ") + m.stage;
    else if (isFrozen(m))
      id += std::string(" from ") + (m.path ? m.path : "?");
  }
  return id;
}

void flowrt::saveCheckpoint(const std::string &path, const flowrt_program &program,
                            torch::nn::Module &model, torch::nn::Module *ema,
                            const torch::Tensor *optimizerState, const CheckpointInfo &info) {
  torch::serialize::OutputArchive archive;
  torch::serialize::OutputArchive modelArchive, emaArchive;
  model.save(modelArchive);
  archive.write("model", modelArchive);
  if (ema) {
    ema->save(emaArchive);
    archive.write("ema", emaArchive);
  }
  if (optimizerState)
    archive.write("optimizer_state", optimizerState->cpu());
  archive.write("step", torch::tensor(info.step, torch::kInt64));
  archive.write("elapsed", torch::tensor(info.elapsed, torch::kDouble));
  archive.write("flow_name", stringTensor(program.flow_name ? program.flow_name : ""));
  archive.write("identity", stringTensor(checkpointIdentity(program)));
  archive.write("spec_fingerprint", stringTensor(specFingerprint(program)));
  archive.write("networks", stringTensor(describeNetworks(program)));

  size_t slash = path.find_last_of('/');
  std::string dir = slash == std::string::npos ? "" : path.substr(0, slash);
  std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
  std::string temp =
      joinPath(dir, "." + name + ".tmp." + std::to_string(::getpid()));
  try {
    archive.save_to(temp);
    syncFile(temp);
  } catch (...) {
    std::remove(temp.c_str());
    throw;
  }
  if (std::rename(temp.c_str(), path.c_str()) != 0) {
    std::remove(temp.c_str());
    throw std::runtime_error("cannot write checkpoint " + path);
  }
  // The networks again, as plain JSON beside the checkpoint: flowc reads it
  // when a spec loads this run's network (checkpoint("...")), to check the
  // spec's use where the spec says it.
  std::string networks = joinPath(dir, NetworksFile), networksTemp = networks + ".tmp";
  {
    std::ofstream out(networksTemp);
    out << nlohmann::json::parse(describeNetworks(program)).dump(2) << "\n";
    if (!out)
      throw std::runtime_error("cannot write " + networksTemp);
  }
  if (std::rename(networksTemp.c_str(), networks.c_str()) != 0)
    throw std::runtime_error("cannot write " + networks);
}

CheckpointInfo flowrt::loadCheckpoint(const std::string &path, const flowrt_program &program,
                                      torch::nn::Module &model, torch::nn::Module *ema,
                                      torch::Tensor *optimizerState) {
  CheckpointInfo info;
  try {
    torch::serialize::InputArchive archive;
    archive.load_from(path, torch::Device(torch::kCPU)); // GPU runs' too
    // Checkpoints of older flowc versions carry no identity.
    torch::Tensor identity, fingerprint;
    if (archive.try_read("identity", identity) &&
        tensorString(identity) != checkpointIdentity(program))
      throw std::runtime_error("cannot load checkpoint " + path + ": it was written by " +
                               tensorString(identity) + ", but this program is " +
                               checkpointIdentity(program));
    if (archive.try_read("spec_fingerprint", fingerprint) &&
        tensorString(fingerprint) != specFingerprint(program))
      std::fprintf(stderr, "warning: %s was written by flow '%s' from a spec that differs "
                           "from this program's (the spec.flow beside it is the one it was "
                           "trained with)\n",
                   path.c_str(), program.flow_name ? program.flow_name : "?");
    torch::serialize::InputArchive modelArchive;
    archive.read("model", modelArchive);
    model.load(modelArchive);

    torch::serialize::InputArchive emaArchive;
    info.hasEma = archive.try_read("ema", emaArchive);
    if (ema) {
      if (info.hasEma)
        ema->load(emaArchive);
      else // Runs without EMA sample from the trained weights.
        ema->load(modelArchive);
    }
    if (optimizerState) {
      torch::Tensor state;
      if (!archive.try_read("optimizer_state", state))
        throw std::runtime_error("cannot resume from " + path +
                                 ": it has no optimizer state (written by an older flowc)");
      if (!state.sizes().equals(optimizerState->sizes()))
        throw std::runtime_error("cannot resume from " + path + ": its optimizer state is " +
                                 c10::str(state.sizes()) + " but this optimizer's is " +
                                 c10::str(optimizerState->sizes()));
      optimizerState->copy_(state);
    }
    torch::Tensor step, elapsed, flowName;
    archive.read("step", step);
    archive.read("elapsed", elapsed);
    if (archive.try_read("flow_name", flowName))
      info.flowName = tensorString(flowName);
    info.step = step.item<int64_t>();
    info.elapsed = elapsed.item<double>();
  } catch (const c10::Error &e) {
    throw std::runtime_error("cannot load checkpoint " + path + ": " +
                             e.what_without_backtrace());
  }
  return info;
}

NetworkSet flowrt::loadSamplingNetworks(const flowrt_program &program, const std::string &outDir,
                                        bool raw) {
  std::string dir = stageDirectory(program, program, outDir);
  std::string path = joinPath(dir, CheckpointFile);
  if (!pathExists(path))
    throw std::runtime_error("no checkpoint in " + dir + ": run `train` first");
  NetworkSet model(program), ema(program);
  bool useEma = program.train.ema > 0 && !raw;
  loadCheckpoint(path, program, *model, useEma ? ema.ptr().get() : nullptr, nullptr);
  NetworkSet nets = useEma ? ema : model;
  nets->eval();
  for (auto &p : nets->parameters())
    p.set_requires_grad(false);
  return nets;
}

namespace {
/// A network's signature in words: "(tensor 2, time) -> 2".
std::string signatureText(const std::vector<int32_t> &roles, const std::vector<int64_t> &dims,
                          int64_t out) {
  std::string s = "(";
  for (size_t i = 0; i < roles.size(); ++i)
    s += (i ? ", " : "") + std::string(roles[i] == FLOWRT_INPUT_TIME    ? "time"
                                       : roles[i] == FLOWRT_INPUT_LABEL ? "label"
                                                                        : "tensor " +
                                                                              std::to_string(
                                                                                  dims[i]));
  return s + ") -> " + std::to_string(out);
}

std::vector<int64_t> inputDims(const flowrt_model_desc &m) {
  std::vector<int32_t> roles = inputRoles(m);
  std::vector<int64_t> dims;
  for (size_t i = 0; i < roles.size(); ++i)
    dims.push_back(m.num_inputs > 0 ? m.input_dims[i]
                   : roles[i] == FLOWRT_INPUT_TENSOR ? m.in_dim
                                                     : 1);
  return dims;
}
} // namespace

std::string flowrt::describeNetworks(const flowrt_program &program) {
  nlohmann::ordered_json all = nlohmann::ordered_json::array();
  for (int32_t i = 0; i < program.num_models; ++i) {
    const flowrt_model_desc &m = program.models[i];
    auto str = [](const char *s) { return std::string(s ? s : ""); };
    all.push_back({{"name", str(m.name)},
                   {"kind", str(m.kind)},
                   {"in_dim", m.in_dim},
                   {"out_dim", outputDim(m)},
                   {"roles", inputRoles(m)},
                   {"dims", inputDims(m)},
                   {"width", m.width},
                   {"depth", m.depth},
                   {"activation", str(m.activation)},
                   {"time_features", m.time_features},
                   {"classes", m.classes},
                   {"heads", m.heads},
                   {"patch", m.patch},
                   {"path", str(m.path)},
                   {"in_shape", std::vector<int64_t>(m.in_shape, m.in_shape + m.in_rank)},
                   {"out_shape", std::vector<int64_t>(m.out_shape, m.out_shape + m.out_rank)}});
  }
  return all.dump();
}

Network flowrt::loadFrozenNetwork(const flowrt_program &program, const flowrt_model_desc &desc) {
  std::string path = desc.path ? desc.path : "";
  if (pathExists(joinPath(path, CheckpointFile)))
    path = joinPath(path, CheckpointFile); // a run directory
  std::string spec = std::string("model '") + (desc.name ? desc.name : "?") + "'";
  try {
    torch::serialize::InputArchive archive;
    archive.load_from(path, torch::Device(torch::kCPU));
    torch::Tensor text;
    if (!archive.try_read("networks", text))
      throw std::runtime_error("it does not describe its networks (written by an older flowc)");
    nlohmann::json networks = nlohmann::json::parse(tensorString(text));
    const nlohmann::json *found = nullptr;
    std::string names;
    for (const nlohmann::json &n : networks) {
      names += (names.empty() ? "'" : ", '") + n["name"].get<std::string>() + "'";
      if (desc.checkpoint_model ? n["name"] == desc.checkpoint_model : networks.size() == 1)
        found = &n;
    }
    if (!found)
      throw std::runtime_error(
          desc.checkpoint_model
              ? "it has no network '" + std::string(desc.checkpoint_model) + "' (it has " +
                    names + ")"
              : "it has " + std::to_string(networks.size()) + " networks (" + names +
                    "): name one with checkpoint(\"...\", model: \"NAME\")");
    const nlohmann::json &n = *found;
    // The spec's use against the checkpoint's network.
    std::vector<int32_t> roles = n["roles"].get<std::vector<int32_t>>();
    std::vector<int64_t> dims = n["dims"].get<std::vector<int64_t>>();
    int64_t out = n["out_dim"].get<int64_t>();
    std::string used = signatureText(inputRoles(desc), inputDims(desc), outputDim(desc));
    std::string stored = signatureText(roles, dims, out);
    if (used != stored)
      throw std::runtime_error("network '" + n["name"].get<std::string>() + "' there is " +
                               stored + " but " + spec + " applies it as " + used);
    // Rebuild it from the description and load its weights.
    std::string name = n["name"], kind = n["kind"], activation = n["activation"],
                file = n["path"];
    flowrt_model_desc m{};
    m.name = name.c_str();
    m.kind = kind.c_str();
    m.in_dim = n["in_dim"];
    m.out_dim = out;
    m.num_inputs = static_cast<int32_t>(roles.size());
    m.input_roles = roles.data();
    m.input_dims = dims.data();
    m.width = n["width"];
    m.depth = n["depth"];
    m.activation = activation.c_str();
    m.time_features = n["time_features"];
    m.classes = n["classes"];
    m.heads = n["heads"];
    m.patch = n["patch"];
    m.path = file.empty() ? nullptr : file.c_str();
    std::vector<int64_t> inShape = n.value("in_shape", std::vector<int64_t>{}),
                         outShape = n.value("out_shape", std::vector<int64_t>{});
    m.in_rank = static_cast<int32_t>(inShape.size());
    m.in_shape = inShape.data();
    m.out_rank = static_cast<int32_t>(outShape.size());
    m.out_shape = outShape.data();
    Network net = makeNetwork(program, m);
    torch::serialize::InputArchive weights, one;
    bool ema = !desc.raw_weights && archive.try_read("ema", weights);
    if (!ema)
      archive.read("model", weights);
    weights.read(name, one);
    net->load(one);
    net->eval();
    for (auto &p : net->parameters())
      p.set_requires_grad(false);
    return net;
  } catch (const c10::Error &e) {
    throw std::runtime_error("cannot load " + spec + " from checkpoint " + path + ": " +
                             e.what_without_backtrace());
  } catch (const nlohmann::json::exception &e) {
    throw std::runtime_error("cannot load " + spec + " from checkpoint " + path + ": " + e.what());
  } catch (const std::runtime_error &e) {
    throw std::runtime_error("cannot load " + spec + " from checkpoint " + path + ": " + e.what());
  }
}
