//===- Declarations.cpp - Data, models and definitions --------------------===//
//
// Checks the top-level declarations other than flows, solvers and run
// blocks: data sets (built-in generators, files, tokenizers), networks (mlp,
// unet, dit, torchscript) and closed-form models, and the parameters, defaults
// and `let`s of paths, dists and fns, then the call cycles between
// definitions. Bodies get shapes later, at each call (Shapes.cpp).
//
//===----------------------------------------------------------------------===//

#include "Sema.h"
#include "flowrt/shared.h"

#include <algorithm>
#include <filesystem>

using namespace flowc;
using namespace flowc::ast;
using namespace flowc::sema;


void Sema::checkData(DataDecl &data) {
  CallExpr *src = data.source.get();
  if (!src || !checkedData.insert(&data).second)
    return;
  if (data.isTokenizer) {
    checkTokenizer(data);
    return;
  }
  if (src->callee == "file") {
    checkFileData(data);
    return;
  }
  // The table the runtime's data sets read too (flowrt/shared.h).
  const flowrt::GeneratorInfo *gen = flowrt::findGenerator(src->callee.c_str());
  if (!gen) {
    error(src->calleeLoc, "unknown data generator '" + src->callee + "'");
    return;
  }
  src->binding.kind = Binding::Kind::Builtin;
  std::vector<std::string> names;
  for (auto &p : gen->params)
    names.push_back(p.first);
  ArgBinding bound = bindArgs(*src, names, "'" + src->callee + "'");
  bool ok = bound.ok;
  std::vector<std::pair<std::string, double>> params(gen->params.begin(), gen->params.end());
  for (size_t i = 0; i < names.size(); ++i) {
    const Arg *arg = bound.slots[i];
    if (!arg)
      continue;
    Expr *value = arg->value.get();
    auto v = evalConstant(value, "'" + names[i] + "'");
    if (!v) {
      ok = false;
      continue;
    }
    const std::string &n = names[i];
    std::string bad;
    if (n == "noise" && *v < 0)
      bad = "must be >= 0";
    else if (n == "scale" && *v <= 0)
      bad = "must be > 0";
    else if (n == "factor" && (*v <= 0 || *v >= 1))
      bad = "must be between 0 and 1 (exclusive)";
    else if (n == "test" && *v != 0 && *v != 1)
      bad = "must be 0 (the training images) or 1 (the test images)";
    else if (n == "train" && *v != 0 && *v != 1)
      bad = "must be 0 (all of the set) or 1 (its training split)";
    if (!bad.empty()) {
      error(value->loc, "'" + n + "' " + bad + " but is " + fmt(*v));
      ok = false;
      continue;
    }
    params[i].second = *v;
  }
  data.shape = gen->shape;
  data.dim = Shape::tensor(gen->shape).numElements();
  data.classes = gen->classes;
  data.tokens = gen->tokens;
  data.alphabet = gen->alphabet ? gen->alphabet : "";
  if (ok)
    data.params = std::move(params);
}

void Sema::checkTokenizer(DataDecl &tok) {
  CallExpr &src = *tok.source;
  if (src.callee == "encoder") {
    checkEncoderTokenizer(tok);
    return;
  }
  if (src.callee == "onehot") {
    checkOneHotTokenizer(tok);
    return;
  }
  if (src.callee != "patchify") {
    error(src.calleeLoc, "unknown tokenizer '" + src.callee +
                             "'; expected patchify(DATA, patch: P), onehot(DATA, vocab: V) or "
                             "encoder(DATA, encode: EXPR, decode: EXPR)");
    return;
  }
  src.binding.kind = Binding::Kind::Builtin;
  ArgBinding bound = bindArgs(src, {"data", "patch"}, "'patchify'");
  if (!bound.ok)
    return;
  DataDecl *data = tokenizedData(src, bound.slots[0], "patchify(images, patch: 4)");
  if (!data)
    return;
  Expr *e = bound.slots[0]->value.get();
  if (data->shape.size() != 3) {
    error(e->loc, "patchify takes images [C, H, W]; data '" + data->name +
                      "' has samples of shape " + Shape::tensor(data->shape).str());
    return;
  }
  int64_t patch = 2;
  if (const Arg *a = bound.slots[1]) {
    auto p = evalPositiveInt(a->value.get(), "'patch'");
    if (!p)
      return;
    patch = *p;
  }
  int64_t c = data->shape[0], h = data->shape[1], w = data->shape[2];
  if (h % patch || w % patch) {
    error(bound.slots[1] ? bound.slots[1]->value->loc : src.calleeLoc,
          "a patch of " + std::to_string(patch) + " does not tile data '" + data->name +
              "' of shape " + Shape::tensor(data->shape).str());
    return;
  }
  if (!claimData(tok, *data))
    return;
  tok.patch = patch;
  tok.shape = {(h / patch) * (w / patch), patch * patch * c};
  tok.dim = data->dim;
}

bool Sema::claimData(DataDecl &tok, DataDecl &data) {
  if (data.tokenizer) {
    error(tok.nameLoc, "data '" + data.name + "' already has the tokenizer '" +
                           data.tokenizer->name + "'");
    return false;
  }
  data.tokenizer = &tok;
  tok.tokenized = &data;
  tok.classes = data.classes;
  tok.condShape = data.condShape; // conditions pass through unencoded
  return true;
}

std::optional<int64_t> Sema::evalTokenCount(const Arg &arg, const std::string &what) {
  auto v = evalPositiveInt(arg.value.get(), what);
  if (v && *v < 2) {
    error(arg.value->loc, what + " must be at least 2, a choice between tokens");
    return std::nullopt;
  }
  return v;
}

void Sema::checkOneHotTokenizer(DataDecl &tok) {
  CallExpr &src = *tok.source;
  src.binding.kind = Binding::Kind::Builtin;
  ArgBinding bound = bindArgs(src, {"data", "vocab"}, "'onehot'");
  if (!bound.ok)
    return;
  DataDecl *data = tokenizedData(src, bound.slots[0], "onehot(words, vocab: 27)");
  if (!data)
    return;
  // Token data knows its vocabulary; other data must be told it.
  int64_t vocab = data->tokens;
  if (const Arg *a = bound.slots[1]) {
    auto v = evalTokenCount(*a, "'vocab'");
    if (!v)
      return;
    // More ids than the data's are ones the data never takes (a mask).
    if (data->tokens > 0 && *v < data->tokens) {
      error(a->value->loc, "data '" + data->name + "' has " + std::to_string(data->tokens) +
                               " token ids, but 'vocab' is " + std::to_string(*v));
      return;
    }
    vocab = *v;
  } else if (vocab == 0) {
    error(src.calleeLoc, "onehot(...) needs 'vocab', the number of distinct tokens: "
                         "onehot(DATA, vocab: V)");
    return;
  }
  if (!claimData(tok, *data))
    return;
  tok.vocab = vocab;
  tok.shape = data->shape;
  tok.shape.push_back(vocab);
  tok.dim = data->dim * vocab;
}

DataDecl *Sema::tokenizedData(CallExpr &src, const Arg *arg, const std::string &example) {
  Expr *e = arg ? arg->value.get() : nullptr;
  Decl *d = e && e->kind == Expr::Kind::Name ? findGlobal(static_cast<NameExpr *>(e)->name)
                                             : nullptr;
  auto *data = d && d->kind == Decl::Kind::Data ? static_cast<DataDecl *>(d) : nullptr;
  if (!data || data->isTokenizer) {
    error(e ? e->loc : src.calleeLoc, src.callee + "(...) takes a data set as its first "
                                                   "argument, e.g. " + example);
    return nullptr;
  }
  static_cast<NameExpr *>(e)->binding.kind = Binding::Kind::Decl;
  static_cast<NameExpr *>(e)->binding.decl = data;
  checkData(*data);
  return data->dim == 0 ? nullptr : data; // else reported
}

void Sema::checkEncoderTokenizer(DataDecl &tok) {
  CallExpr &src = *tok.source;
  src.binding.kind = Binding::Kind::Builtin;
  ArgBinding bound = bindArgs(src, {"data", "encode", "decode", "standardize"}, "'encoder'");
  if (!bound.ok)
    return;
  for (size_t i = 1; i < 3; ++i)
    if (!bound.slots[i]) {
      error(src.calleeLoc, std::string("encoder(...) needs '") + (i == 1 ? "encode" : "decode") +
                               "': encoder(DATA, encode: EXPR of x, decode: EXPR of z)");
      return;
    }
  DataDecl *data =
      tokenizedData(src, bound.slots[0], "encoder(digits, encode: enc(x), decode: dec(z))");
  if (!data)
    return;
  tok.tokenized = data;
  tok.encode = bound.slots[1]->value.get();
  tok.decode = bound.slots[2]->value.get();
  // `decode: FLOW`: a flow decoder, which checkFlowDecoders checks once the
  // flows and sample blocks are.
  if (auto *name = tok.decode->kind == Expr::Kind::Name ? static_cast<NameExpr *>(tok.decode)
                                                          : nullptr)
    if (Decl *d = findGlobal(name->name); d && d->kind == Decl::Kind::Flow) {
      name->binding.kind = Binding::Kind::Decl;
      name->binding.decl = d;
      tok.decoderFlow = static_cast<FlowDecl *>(d);
      tok.decode = nullptr;
    }
  tok.classes = data->classes;
  tok.condShape = data->condShape; // conditions pass through unencoded
  if (const Arg *a = bound.slots[3]) {
    auto *name = a->value->kind == Expr::Kind::Name ? static_cast<NameExpr *>(a->value.get())
                                                    : nullptr;
    tok.standardizeLoc = a->value->loc;
    if (name && (name->name == "channels" || name->name == "all")) {
      name->binding.kind = Binding::Kind::Builtin;
      tok.standardize = name->name == "channels" ? DataDecl::Standardize::Channels
                                                 : DataDecl::Standardize::All;
    } else {
      error(a->value->loc, "'standardize' must be 'channels' (statistics per channel, the "
                           "tokens' first axis) or 'all' (one mean and deviation)");
    }
    if (tok.decoderFlow)
      error(a->value->loc, "a flow decoder's tokens cannot be standardized yet: its encoder "
                           "trains with it, so the tokens have no fixed statistics");
  }
}

void Sema::checkDeterministic(const Expr *e, const std::string &what) {
  forEachExpr(e, [&](const Expr &sub) {
    if (sub.kind != Expr::Kind::Call)
      return;
    auto &call = static_cast<const CallExpr &>(sub);
    BuiltinKind k = builtinKind(call.callee);
    if (call.binding.kind == Binding::Kind::Builtin &&
        (k == BuiltinKind::Normal || k == BuiltinKind::Uniform ||
         k == BuiltinKind::Categorical || k == BuiltinKind::Drop ||
         k == BuiltinKind::Ddt || k == BuiltinKind::Jvp))
      error(call.calleeLoc, what + " cannot use '" + call.callee +
                                "': a tokenizer's encoding and decoding are deterministic");
  });
}

void Sema::checkEncoders() {
  for (Decl *d : logicalOrder) {
    auto *tok = d->kind == Decl::Kind::Data ? static_cast<DataDecl *>(d) : nullptr;
    if (!tok || !tok->isEncoder())
      continue;
    const DataDecl &data = *tok->tokenized;
    unsigned before = diags.errorCount();
    tok->encodeParams.clear();
    tok->encodeParams.push_back(Param{"x", tok->encode->loc, Shape::tensor(data.shape), nullptr});
    Scope encodeScope;
    encodeScope.params = &tok->encodeParams;
    resolve(tok->encode, encodeScope);
    if (diags.errorCount() != before)
      continue;
    checkDeterministic(tok->encode, "'encode'");
    Shape z = infer(tok->encode);
    if (!z.isKnown())
      continue;
    if (!z.isTensor()) {
      error(tok->encode->loc, "'encode' must give a tensor of tokens but gives a scalar");
      continue;
    }
    tok->shape = z.dims;
    tok->dim = z.numElements();
    if (tok->decoderFlow)
      continue;
    tok->decodeParams.clear();
    tok->decodeParams.push_back(Param{"z", tok->decode->loc, z, nullptr});
    Scope decodeScope;
    decodeScope.params = &tok->decodeParams;
    resolve(tok->decode, decodeScope);
    if (diags.errorCount() != before)
      continue;
    checkDeterministic(tok->decode, "'decode'");
    Shape x = infer(tok->decode);
    if (x.isKnown() && x != Shape::tensor(data.shape))
      error(tok->decode->loc, "'decode' gives " + x.str() + " but data '" + data.name +
                                  "' has samples of shape " + Shape::tensor(data.shape).str());
  }
}

void Sema::checkFlowDecoders() {
  for (Decl *d : logicalOrder) {
    auto *tok = d->kind == Decl::Kind::Data ? static_cast<DataDecl *>(d) : nullptr;
    if (!tok || !tok->decoderFlow || tok->shape.empty())
      continue;
    const FlowDecl &flow = *tok->decoderFlow;
    const std::string usage = "; e.g. z = " + tok->name + "(x1) in the flow and sample " +
                              flow.name + " { velocity: v(x, t, z) }";
    Location at = tok->source->args.back().value->loc;
    const FlowStmt *source = flow.sourceStmt;
    if (!source || source->shapes.empty() || !source->shapes[0].isKnown()) {
      if (flow.objective)
        error(at, "tokenizer '" + tok->name + "' decodes with flow '" + flow.name +
                      "', which has no source to sample from");
      continue; // else the flow's own errors say why
    }
    if (source->shapes[0] != Shape::tensor(tok->tokenized->shape)) {
      error(at, "flow '" + flow.name + "' samples points of shape " + source->shapes[0].str() +
                    ", but its tokenizer '" + tok->name + "' decodes to data '" +
                    tok->tokenized->name + "' of shape " +
                    Shape::tensor(tok->tokenized->shape).str());
      continue;
    }
    const RunDecl *sample = nullptr;
    for (Decl *r : logicalOrder)
      if (r->kind == Decl::Kind::Sample && static_cast<RunDecl *>(r)->flow == &flow)
        sample = static_cast<RunDecl *>(r);
    if (!sample || !sample->conditionComputed) {
      error(at, "tokenizer '" + tok->name + "' decodes by sampling flow '" + flow.name +
                    "', whose sample block must take the tokens as its condition" + usage);
      continue;
    }
    if (sample->velocityConditionShape != tok->shape)
      error(sample->find("velocity")->loc,
            "the condition '" + sample->velocityCondition + "' is " +
                Shape::tensor(sample->velocityConditionShape).str() + ", but tokenizer '" +
                tok->name + "', which flow '" + flow.name + "' decodes, gives tokens of " +
                Shape::tensor(tok->shape).str());
  }
}

void Sema::checkStandardizedTokens() {
  for (Decl *d : logicalOrder) {
    auto *tok = d->kind == Decl::Kind::Data ? static_cast<DataDecl *>(d) : nullptr;
    if (!tok || tok->standardize == DataDecl::Standardize::None || tok->decoderFlow)
      continue;
    std::vector<const CallExpr *> encoders;
    collectModelCalls(tok->encode, encoders);
    // The networks each train block trains, in the spec's order: the first
    // flow drawing from the tokenizer takes the statistics as it starts,
    // so by then its encoder must be frozen or trained by an earlier stage.
    std::set<const ModelDecl *> earlier;
    const FlowDecl *fitter = nullptr;
    for (Decl *r : logicalOrder) {
      auto *run = r->kind == Decl::Kind::Train ? static_cast<RunDecl *>(r) : nullptr;
      if (!run || !run->flow)
        continue;
      if (run->flow->encoder == tok && !fitter) {
        fitter = run->flow;
        for (const CallExpr *call : encoders) {
          auto *m = static_cast<const ModelDecl *>(call->binding.decl);
          if (!m->frozen && !earlier.count(m))
            error(call->calleeLoc,
                  "tokenizer '" + tok->name + "' standardizes its tokens with statistics "
                  "that flow '" + fitter->name + "' takes from its data as it starts "
                  "training, but that flow trains '" + m->name + "' itself; train '" +
                  m->name + "' in an earlier train block, or load it frozen");
        }
      }
      auto it = flowModels.find(run->flow);
      if (it != flowModels.end())
        earlier.insert(it->second.begin(), it->second.end());
      if (run->flow->encoder) {
        std::vector<const CallExpr *> drawn;
        collectModelCalls(run->flow->encoder->encode, drawn);
        for (const CallExpr *call : drawn)
          earlier.insert(static_cast<const ModelDecl *>(call->binding.decl));
      }
    }
    if (!fitter)
      error(tok->standardizeLoc, "tokenizer '" + tok->name + "' standardizes its tokens with "
                                 "statistics from its data, which the first trained flow "
                                 "drawing from it takes, but no train block trains a flow "
                                 "that draws from '" + tok->name + "'");
  }
}

std::optional<std::string> Sema::filePath(const Arg *arg, const std::string &what,
                                          const char *inDirectory) {
  Expr *e = arg ? arg->value.get() : nullptr;
  if (!e || e->kind != Expr::Kind::String) {
    error(e ? e->loc : Location(), what + " must be a file path in quotes, e.g. \"data/x.npy\"");
    return std::nullopt;
  }
  std::filesystem::path name(static_cast<StringExpr *>(e)->value);
  std::filesystem::path dir = std::filesystem::path(e->loc.file).parent_path();
  std::filesystem::path path = name.is_absolute() || e->loc.file == "<stdin>" ? name : dir / name;
  std::error_code ec;
  if (inDirectory && std::filesystem::is_directory(path, ec))
    path /= inDirectory;
  if (!std::filesystem::is_regular_file(path, ec)) {
    error(e->loc, "cannot find file '" + name.string() + "'" +
                      (name.is_absolute() ? "" : " (looked for " + path.string() + ")"));
    return std::nullopt;
  }
  return std::filesystem::absolute(path, ec).lexically_normal().string();
}

void Sema::checkFileData(DataDecl &data) {
  CallExpr &src = *data.source;
  src.binding.kind = Binding::Kind::Builtin;
  ArgBinding bound =
      bindArgs(src, {"path", "shape", "labels", "classes", "cond", "cond_shape", "tokens"},
               "'file'");
  if (!bound.ok)
    return;
  if (!bound.slots[0]) {
    error(src.calleeLoc, "file(...) needs the path of the data, e.g. file(\"x.npy\", shape: [2])");
    return;
  }
  auto path = filePath(bound.slots[0], "the first argument of file(...)");
  if (!bound.slots[1]) {
    error(src.calleeLoc, "file(...) needs the shape of one sample, e.g. "
                         "file(\"x.npy\", shape: [2])");
    return;
  }
  auto shape = evalShapeList(bound.slots[1]->value.get(), "'shape'");
  std::optional<std::string> labels;
  int64_t classes = 0;
  if (bound.slots[2]) {
    labels = filePath(bound.slots[2], "'labels'");
    if (!bound.slots[3]) {
      error(bound.slots[2]->loc, "labels need their number of classes, e.g. classes: 10");
      return;
    }
  }
  if (const Arg *a = bound.slots[3]) {
    if (!bound.slots[2]) {
      error(a->loc, "'classes' needs a labels file: labels: \"y.npy\"");
      return;
    }
    auto k = evalPositiveInt(a->value.get(), "'classes'");
    if (!k)
      return;
    classes = *k;
  }
  // A condition per sample: its file and its shape, both or neither.
  std::optional<std::string> cond;
  std::optional<std::vector<int64_t>> condShape;
  const Arg *condArg = bound.slots[4], *condShapeArg = bound.slots[5];
  if (condArg && !condShapeArg) {
    error(condArg->loc, "a condition needs its shape, e.g. cond_shape: [2]");
    return;
  }
  if (condShapeArg && !condArg) {
    error(condShapeArg->loc, "'cond_shape' needs a condition file: cond: \"c.npy\"");
    return;
  }
  if (condArg) {
    cond = filePath(condArg, "'cond'");
    condShape = evalShapeList(condShapeArg->value.get(), "'cond_shape'");
    if (!cond || !condShape)
      return;
  }
  // Token ids 0 .. V - 1: a choice between at least two.
  int64_t tokens = 0;
  if (const Arg *a = bound.slots[6]) {
    auto v = evalTokenCount(*a, "'tokens'");
    if (!v)
      return;
    tokens = *v;
  }
  if (!path || !shape || (bound.slots[2] && !labels))
    return;
  data.tokens = tokens;
  data.condPath = cond.value_or("");
  data.condShape = condShape.value_or(std::vector<int64_t>{});
  data.path = *path;
  data.labelsPath = labels.value_or("");
  data.shape = *shape;
  data.dim = Shape::tensor(*shape).numElements();
  data.classes = classes;
}

void Sema::checkModel(ModelDecl &model) {
  if (!model.network) {
    checkClosedFormModel(model);
    return;
  }
  CallExpr &net = *model.network;
  if (net.callee == "unet" || net.callee == "dit") {
    checkImageNetwork(model);
    return;
  }
  if (net.callee == "conv") {
    checkConvNetwork(model);
    return;
  }
  if (net.callee == "tarflow") {
    checkTarFlowNetwork(model);
    return;
  }
  if (net.callee == "torchscript") {
    // A module saved from PyTorch (torch.jit.script(m).save("v.pt")); its
    // forward takes the arguments the flow applies it to, each [n, features]
    // (times and labels [n, 1]), and returns `out:` (default: the first
    // tensor argument's shape).
    net.binding.kind = Binding::Kind::Builtin;
    ArgBinding bound = bindArgs(net, {"path", "out", "frozen"}, "'torchscript'");
    if (!bound.ok)
      return;
    if (const Arg *a = bound.slots[1])
      if (auto dims = evalShapeList(a->value.get(), "'out'"))
        model.outShape = *dims;
    // frozen: 1 keeps the saved weights: never trained (a user's VAE).
    if (const Arg *a = bound.slots[2])
      if (auto v = evalInteger(a->value.get(), "'frozen'", 0, "0 or 1"))
        model.frozen = *v != 0;
    if (!bound.slots[0]) {
      error(net.calleeLoc, "torchscript(...) needs the module's file, e.g. torchscript(\"v.pt\")");
      return;
    }
    if (auto path = filePath(bound.slots[0], "the argument of torchscript(...)"))
      model.path = *path;
    return;
  }
  if (net.callee == "checkpoint") {
    // Another run's network, frozen: its architecture and weights come from
    // the checkpoint when the program starts (which checks its signature).
    net.binding.kind = Binding::Kind::Builtin;
    ArgBinding bound = bindArgs(net, {"path", "model", "weights"}, "'checkpoint'");
    if (!bound.ok)
      return;
    model.frozen = true;
    if (!bound.slots[0]) {
      error(net.calleeLoc, "checkpoint(...) needs the checkpoint's file or run directory, e.g. "
                           "checkpoint(\"runs/moons_rf/checkpoint.pt\")");
      return;
    }
    if (auto path = filePath(bound.slots[0], "the checkpoint", "checkpoint.pt"))
      model.path = *path;
    if (const Arg *a = bound.slots[1]) {
      if (a->value && a->value->kind == Expr::Kind::String)
        model.checkpointModel = static_cast<const StringExpr &>(*a->value).value;
      else
        error(a->loc, "'model' of checkpoint(...) must be a network's name in quotes");
    }
    if (const Arg *a = bound.slots[2]) {
      auto *name = a->value && a->value->kind == Expr::Kind::Name
                       ? static_cast<NameExpr *>(a->value.get())
                       : nullptr;
      if (name && (name->name == "raw" || name->name == "ema")) {
        name->binding.kind = Binding::Kind::Builtin;
        model.rawWeights = name->name == "raw";
      } else {
        error(a->loc, "'weights' of checkpoint(...) must be ema or raw");
      }
    }
    return;
  }
  if (net.callee != "mlp") {
    error(net.calleeLoc, "unknown network '" + net.callee +
                             "'; expected mlp(...), unet(...), dit(...), conv(...), "
                             "tarflow(...), torchscript(...) or checkpoint(...)");
    return;
  }
  net.binding.kind = Binding::Kind::Builtin;
  ArgBinding bound =
      bindArgs(net, {"width", "depth", "act", "time", "out"}, "'mlp'");
  if (const Arg *a = bound.slots[0])
    if (auto v = evalPositiveInt(a->value.get(), "'width'"))
      model.width = *v;
  if (const Arg *a = bound.slots[1])
    if (auto v = evalPositiveInt(a->value.get(), "'depth'"))
      model.depth = *v;
  if (const Arg *a = bound.slots[2])
    checkActivation(a->value.get(), model);
  if (const Arg *a = bound.slots[3])
    checkTimeEmbedding(a->value.get(), model);
  if (const Arg *a = bound.slots[4])
    if (auto dims = evalShapeList(a->value.get(), "'out'"))
      model.outShape = *dims;
}

void Sema::checkActivation(Expr *value, ModelDecl &model) {
  auto *name = value && value->kind == Expr::Kind::Name ? static_cast<NameExpr *>(value)
                                                        : nullptr;
  static const std::set<std::string> acts = {"silu", "relu", "tanh", "gelu"};
  if (name && acts.count(name->name)) {
    name->binding.kind = Binding::Kind::Builtin;
    model.activation = name->name;
  } else if (value) {
    std::string shown = name ? name->name
                        : value->kind == Expr::Kind::Call ? static_cast<CallExpr *>(value)->callee
                                                          : std::string("expression");
    error(value->loc, "unknown activation '" + shown + "'; expected silu, relu, tanh or gelu");
  }
}

void Sema::checkConvNetwork(ModelDecl &model) {
  // An image to an image of another size: its argument's shape is checked
  // where it is applied (inferNetworkCall), `out:` here.
  CallExpr &net = *model.network;
  net.binding.kind = Binding::Kind::Builtin;
  model.width = 32;
  model.depth = 1;
  ArgBinding bound = bindArgs(net, {"width", "depth", "act", "out"}, "'conv'");
  if (!bound.ok)
    return;
  for (size_t i = 0; i < 2; ++i)
    if (const Arg *a = bound.slots[i])
      if (auto v = evalPositiveInt(a->value.get(), i == 0 ? "'width'" : "'depth'"))
        (i == 0 ? model.width : model.depth) = *v;
  if (const Arg *a = bound.slots[2])
    checkActivation(a->value.get(), model);
  const Arg *out = bound.slots[3];
  if (!out) {
    error(net.calleeLoc, "conv(...) needs the image it gives, e.g. conv(width: 32, out: [4, 7, 7])");
    return;
  }
  if (auto dims = evalShapeList(out->value.get(), "'out'")) {
    if (dims->size() != 3)
      error(out->value->loc, "conv's 'out' must be an image [C, H, W] but is " +
                                 Shape::tensor(*dims).str());
    else
      model.outShape = *dims;
  }
}

void Sema::checkImageNetwork(ModelDecl &model) {
  CallExpr &net = *model.network;
  bool unet = net.callee == "unet";
  net.binding.kind = Binding::Kind::Builtin;
  model.width = unet ? 32 : 96;
  model.depth = unet ? 2 : 4;
  model.heads = unet ? 0 : 4;
  model.patch = unet ? 0 : 2;
  std::vector<std::string> names = {"width", "depth", "time"};
  if (!unet)
    names.insert(names.end(), {"heads", "patch"});
  ArgBinding bound = bindArgs(net, names, "'" + net.callee + "'");
  int64_t *fields[] = {&model.width, &model.depth, nullptr, &model.heads, &model.patch};
  for (size_t i = 0; i < names.size(); ++i)
    if (const Arg *a = bound.slots[i]) {
      if (!fields[i])
        checkTimeEmbedding(a->value.get(), model);
      else if (auto v = evalPositiveInt(a->value.get(), "'" + names[i] + "'"))
        *fields[i] = *v;
    }
  if (unet && model.width % 8)
    error(net.calleeLoc, "unet's width (base channels) must be a multiple of 8 but is " +
                             std::to_string(model.width));
  if (!unet && model.width % model.heads)
    error(net.calleeLoc, "dit's width " + std::to_string(model.width) +
                             " must be a multiple of its heads " + std::to_string(model.heads));
}

void Sema::checkTarFlowNetwork(ModelDecl &model) {
  // A normalizing flow: applied as nf(x) or nf(x, label), its value is
  // log p(x) in nats (a scalar); see inferTarFlowCall.
  CallExpr &net = *model.network;
  net.binding.kind = Binding::Kind::Builtin;
  model.blocks = 4;
  model.width = 128;
  model.depth = 2;
  model.heads = 4;
  model.patch = 2;
  model.timeFeatures = 0;
  model.deep = 0;
  std::vector<std::string> names = {"blocks", "width", "depth", "heads", "patch", "deep"};
  ArgBinding bound = bindArgs(net, names, "'tarflow'");
  int64_t *fields[] = {&model.blocks, &model.width, &model.depth,
                       &model.heads,  &model.patch, &model.deep};
  for (size_t i = 0; i < names.size(); ++i)
    if (const Arg *a = bound.slots[i])
      if (auto v = evalPositiveInt(a->value.get(), "'" + names[i] + "'"))
        *fields[i] = *v;
  if (model.width % model.heads)
    error(net.calleeLoc, "tarflow's width " + std::to_string(model.width) +
                             " must be a multiple of its heads " + std::to_string(model.heads));
}

void Sema::checkTimeEmbedding(Expr *value, ModelDecl &model) {
  if (!value)
    return;
  if (value->kind != Expr::Kind::Call ||
      static_cast<CallExpr *>(value)->callee != "fourier") {
    error(value->loc, "'time' must be fourier(K)");
    return;
  }
  auto &call = static_cast<CallExpr &>(*value);
  call.binding.kind = Binding::Kind::Builtin;
  if (call.args.size() != 1) {
    error(call.calleeLoc, "'fourier' takes 1 argument but " +
                              std::to_string(call.args.size()) +
                              (call.args.size() == 1 ? " was" : " were") +
                              " given");
    return;
  }
  // Features come in sin/cos pairs, one pair per frequency.
  if (auto v = evalInteger(call.args[0].value.get(),
                           "number of Fourier features", 1,
                           "a positive integer")) {
    if (*v % 2)
      error(call.args[0].value->loc,
            "number of Fourier features must be even (sin/cos pairs) but is " +
                std::to_string(*v));
    model.timeFeatures = *v;
  }
}

void Sema::checkClosedFormModel(ModelDecl &model) {
  checkParamNames(model.params);
  for (const Param &p : model.params)
    if (p.defaultValue) {
      error(p.loc, "parameters of model '" + model.name +
                       "' cannot have default values");
      badModels.insert(&model);
    }
  if (model.params.size() != 2) {
    error(model.nameLoc, "closed-form model '" + model.name +
                             "' takes 2 parameters (x, t) but has " +
                             std::to_string(model.params.size()));
    badModels.insert(&model);
  }
  checkBody(model, model.params, model.lets, model.body.get());
}

void Sema::checkParamNames(const std::vector<Param> &params) {
  std::set<std::string> seen;
  for (const Param &p : params) {
    if (isBuiltinFunctionName(p.name))
      error(p.loc, "cannot redefine built-in '" + p.name + "'");
    else if (!seen.insert(p.name).second)
      error(p.loc, "duplicate parameter '" + p.name + "'");
  }
}

void Sema::checkFunction(FunctionDecl &fn) {
  checkParamNames(fn.params);
  // Defaults: constants, and only on trailing parameters.
  const Param *firstDefault = nullptr;
  for (Param &p : fn.params) {
    if (p.defaultValue) {
      if (!firstDefault)
        firstDefault = &p;
      if (evalConstant(p.defaultValue.get(),
                       "the default of '" + p.name + "'"))
        infer(p.defaultValue.get());
    } else if (firstDefault) {
      error(p.loc, "parameter '" + p.name +
                       "' needs a default value because it follows '" +
                       firstDefault->name + "', which has one");
    }
  }
  checkBody(fn, fn.params, fn.lets, fn.body.get());
}

void Sema::checkBody(Decl &def, std::vector<Param> &params,
                     std::vector<std::unique_ptr<FlowStmt>> &lets, Expr *body) {
  auto &locals = defLets[&def];
  Scope scope;
  scope.def = &def;
  scope.params = &params;
  scope.locals = &locals;
  for (auto &let : lets) {
    if (!let || let->names.empty() || let->nameLocs.empty())
      continue;
    let->shapes.assign(1, Shape());
    resolve(let->value.get(), scope);
    const std::string &name = let->names[0];
    const Location &loc = let->nameLocs[0];
    bool isParam = false;
    for (const Param &p : params)
      isParam |= p.name == name;
    if (isBuiltinFunctionName(name))
      error(loc, "cannot redefine built-in '" + name + "'");
    // A let may shadow a global (as a parameter may), so a user's names
    // never break a definition they import; not the definition itself.
    else if (isParam || locals.count(name) || name == def.name)
      error(loc, "redefinition of '" + name + "'");
    else
      locals[name] = FlowLocal{let.get(), 0, false};
  }
  resolve(body, scope);
}

void Sema::checkCallCycles() {
  enum class Color { White, Gray, Black };
  std::map<FunctionDecl *, Color> color;
  std::vector<FunctionDecl *> stack;
  std::function<void(FunctionDecl *)> visit = [&](FunctionDecl *p) {
    // Deeper chains are visited from their own roots (recursion bound);
    // a cycle longer than this is caught by the depth bound of inference.
    if (stack.size() >= kMaxCallDepth)
      return;
    color[p] = Color::Gray;
    stack.push_back(p);
    for (auto &[callee, site] : defCallees[p]) {
      Color c = color[callee];
      if (c == Color::Gray) {
        auto it = std::find(stack.begin(), stack.end(), callee);
        for (auto j = it; j != stack.end(); ++j)
          recursiveDefs.insert(*j);
        if (callee == p)
          error(site->calleeLoc, describe(*p) + " calls itself");
        else
          error(site->calleeLoc, describe(*p) + " calls itself through '" +
                                     callee->name + "'");
      } else if (c == Color::White) {
        visit(callee);
      }
    }
    stack.pop_back();
    color[p] = Color::Black;
  };
  for (Decl *d : logicalOrder)
    if (isFunctionDecl(d)) {
      auto *p = static_cast<FunctionDecl *>(d);
      if (color[p] == Color::White)
        visit(p);
    }
}
