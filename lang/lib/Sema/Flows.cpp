//===- Flows.cpp - Flow declarations --------------------------------------===//
//
// Checks each flow statement by statement: draws (data, normal, uniform, a
// dist), lets and the loss, each name defined once; then that the flow defines
// its time `t` and source `x0` (or neither: a plain training objective) and
// applies its models, and records which flows train a network.
//
//===----------------------------------------------------------------------===//

#include "Sema.h"

#include <algorithm>

using namespace flowc;
using namespace flowc::ast;
using namespace flowc::sema;

bool Sema::usesNetwork(const Expr *e,
                       const std::map<std::string, FlowLocal> &locals) {
  if (!e)
    return false;
  switch (e->kind) {
  case Expr::Kind::Name: {
    auto &n = static_cast<const NameExpr &>(*e);
    if (n.binding.kind != Binding::Kind::FlowLocal)
      return false;
    auto it = locals.find(n.name);
    return it != locals.end() && it->second.usesNetwork;
  }
  case Expr::Kind::Unary:
    return usesNetwork(static_cast<const UnaryExpr &>(*e).operand.get(),
                       locals);
  case Expr::Kind::Binary: {
    auto &b = static_cast<const BinaryExpr &>(*e);
    return usesNetwork(b.lhs.get(), locals) ||
           usesNetwork(b.rhs.get(), locals);
  }
  case Expr::Kind::Call: {
    auto &c = static_cast<const CallExpr &>(*e);
    if (c.binding.kind == Binding::Kind::Decl && c.binding.decl &&
        c.binding.decl->kind == Decl::Kind::Model &&
        static_cast<const ModelDecl *>(c.binding.decl)->network)
      return true;
    if (c.binding.kind == Binding::Kind::Decl && c.binding.decl &&
        c.binding.decl->kind == Decl::Kind::Data && // T(x1): its encoding's networks
        usesNetwork(static_cast<const DataDecl *>(c.binding.decl)->encode, locals))
      return true;
    for (const Arg &arg : c.args)
      if (usesNetwork(arg.value.get(), locals))
        return true;
    return false;
  }
  case Expr::Kind::Index:
    return usesNetwork(static_cast<const IndexExpr &>(*e).base.get(),
                       locals);
  default:
    return false;
  }
}

void Sema::forEachExpr(const Expr *e, const std::function<void(const Expr &)> &fn) {
  if (!e)
    return;
  fn(*e);
  switch (e->kind) {
  case Expr::Kind::Unary:
    forEachExpr(static_cast<const UnaryExpr &>(*e).operand.get(), fn);
    return;
  case Expr::Kind::Binary:
    forEachExpr(static_cast<const BinaryExpr &>(*e).lhs.get(), fn);
    forEachExpr(static_cast<const BinaryExpr &>(*e).rhs.get(), fn);
    return;
  case Expr::Kind::Index:
    forEachExpr(static_cast<const IndexExpr &>(*e).base.get(), fn);
    return;
  case Expr::Kind::Call:
    for (const Arg &arg : static_cast<const CallExpr &>(*e).args)
      forEachExpr(arg.value.get(), fn);
    return;
  case Expr::Kind::List:
    for (const ExprPtr &el : static_cast<const ListExpr &>(*e).elements)
      forEachExpr(el.get(), fn);
    return;
  default:
    return;
  }
}

void Sema::collectModelCalls(const Expr *e,
                             std::vector<const CallExpr *> &calls) {
  forEachExpr(e, [&](const Expr &sub) {
    if (sub.kind != Expr::Kind::Call)
      return;
    auto &c = static_cast<const CallExpr &>(sub);
    if (c.binding.kind != Binding::Kind::Decl || !c.binding.decl)
      return;
    if (c.binding.decl->kind == Decl::Kind::Model)
      calls.push_back(&c);
    else if (c.binding.decl->kind == Decl::Kind::Data) // T(x1): its encoding's
      collectModelCalls(static_cast<const DataDecl *>(c.binding.decl)->encode, calls);
  });
}

std::set<std::string> Sema::drawOnlyValues(const FlowDecl &flow) {
  // The names on the path: those the source and time statements bind, and
  // every value computed from one of them.
  std::set<std::string> onPath, fromDraw;
  for (const auto &stmt : flow.body) {
    if (!stmt || stmt->kind == FlowStmt::Kind::Loss)
      continue;
    bool dependent = stmt.get() == flow.sourceStmt || stmt.get() == flow.timeStmt;
    forEachExpr(stmt->value.get(), [&](const Expr &e) {
      dependent |= e.kind == Expr::Kind::Name &&
                   onPath.count(static_cast<const NameExpr &>(e).name) > 0;
    });
    for (const std::string &n : stmt->names)
      (dependent ? onPath : fromDraw).insert(n);
  }
  for (const std::string &n : onPath)
    fromDraw.erase(n);
  return fromDraw;
}

void Sema::checkFlowModel(FlowDecl &flow) {
  std::vector<const CallExpr *> calls;
  for (auto &stmt : flow.body)
    if (stmt)
      collectModelCalls(stmt->value.get(), calls);
  std::vector<const ModelDecl *> models;
  const CallExpr *closedFormCall = nullptr;
  for (const CallExpr *call : calls) {
    auto *m = static_cast<const ModelDecl *>(call->binding.decl);
    if (!m->network && !closedFormCall)
      closedFormCall = call;
    if (std::find(models.begin(), models.end(), m) == models.end())
      models.push_back(m);
  }
  if (models.empty()) {
    // A flow with a loss gets "loss of flow 'f' uses no network" instead.
    if (!flow.lossStmt)
      error(flow.nameLoc, "flow '" + flow.name +
                              "' applies no model; a flow must apply a network "
                              "or a closed-form model");
    return;
  }
  // A closed-form model is the whole field: sampling integrates it.
  if (closedFormCall && models.size() > 1) {
    const ModelDecl *other = models[0] == closedFormCall->binding.decl ? models[1] : models[0];
    error(closedFormCall->calleeLoc,
          "flow '" + flow.name + "' applies closed-form model '" + closedFormCall->callee +
              "' and model '" + other->name +
              "'; a closed-form model is the only model of its flow");
    return;
  }
  flowModels[&flow] = models;
  if (closedFormCall) {
    closedFormFlows.insert(&flow);
    return;
  }
  flowsWithNetwork.insert(&flow);
  if (!flow.lossStmt)
    error(flow.nameLoc, "flow '" + flow.name + "' applies network '" + models[0]->name +
                            "' but has no loss");
  else if (std::all_of(models.begin(), models.end(), [](const ModelDecl *m) { return m->frozen; }))
    error(flow.nameLoc, "flow '" + flow.name + "' trains no network: '" + models[0]->name +
                            "' is frozen (another run's, checkpoint(...), or torchscript(..., "
                            "frozen: 1)); a flow with a loss needs a network to train");
}

bool Sema::takesDerivatives(const FlowDecl &flow) {
  bool found = false;
  for (const auto &stmt : flow.body)
    if (stmt)
      forEachExpr(stmt->value.get(), [&](const Expr &e) {
        if (e.kind == Expr::Kind::Call) {
          BuiltinKind k = builtinKind(static_cast<const CallExpr &>(e).callee);
          found |= k == BuiltinKind::Ddt || k == BuiltinKind::Jvp;
        }
      });
  return found;
}

void Sema::checkStopGradients(const FlowDecl &flow, const Expr *e,
                              const std::map<std::string, FlowLocal> &locals) {
  // sg(v) is a constant to every derivative: the loss's gradient and the
  // flow's own ddt and jvp (sg(t + (1 - t) r) has ddt 0). Without either
  // it changes nothing.
  if (takesDerivatives(flow))
    return;
  forEachExpr(e, [&](const Expr &sub) {
    if (sub.kind != Expr::Kind::Call)
      return;
    auto &call = static_cast<const CallExpr &>(sub);
    if (call.callee == "sg" && call.binding.kind == Binding::Kind::Builtin &&
        call.args.size() == 1 && !usesNetwork(call.args[0].value.get(), locals))
      error(call.calleeLoc, "sg(...) stops nothing here: its argument depends on no network "
                            "and the flow takes no ddt or jvp, so no derivative flows "
                            "through it");
  });
}

void Sema::checkFlowOptions(FlowDecl &flow) {
  std::set<std::string> seen;
  for (Setting &option : flow.options) {
    if (!seen.insert(option.name).second) {
      error(option.loc, "duplicate option '" + option.name + "'");
      continue;
    }
    if (option.name != "time") {
      error(option.loc, "unknown option '" + option.name + "' for flow '" +
                            flow.name + "'; expected time: forward or reverse");
      continue;
    }
    auto *value = dynamic_cast<NameExpr *>(option.value.get());
    if (!value || (value->name != "forward" && value->name != "reverse")) {
      error(option.value ? option.value->loc : option.loc,
            "'time' must be forward (t = 0 source, t = 1 data) or reverse "
            "(t = 1 source, t = 0 data)");
      continue;
    }
    value->binding.kind = Binding::Kind::Builtin;
    flow.reverseTime = value->name == "reverse";
  }
}

void Sema::checkFlow(FlowDecl &flow) {
  checkFlowOptions(flow);
  std::map<std::string, FlowLocal> locals;
  Scope scope;
  scope.flow = &flow;
  scope.locals = &locals;
  for (auto &stmtPtr : flow.body) {
    if (!stmtPtr)
      continue;
    FlowStmt &stmt = *stmtPtr;
    stmt.shapes.assign(stmt.names.size(), Shape());
    bool network = false;
    switch (stmt.kind) {
    case FlowStmt::Kind::Draw:
      if (!stmt.shapes.empty())
        stmt.shapes[0] = checkDraw(stmt.value.get(), scope);
      if (stmt.names.size() > 1 && stmt.nameLocs.size() > 1)
        checkLabelledDraw(stmt);
      break;
    case FlowStmt::Kind::Let:
      resolve(stmt.value.get(), scope);
      if (!stmt.shapes.empty())
        stmt.shapes[0] = infer(stmt.value.get());
      network = usesNetwork(stmt.value.get(), locals);
      break;
    case FlowStmt::Kind::Loss:
      if (!flow.lossStmt)
        flow.lossStmt = &stmt;
      flow.losses.push_back(&stmt);
      checkLoss(stmt, scope);
      checkStopGradients(flow, stmt.value.get(), locals);
      continue; // a loss's name is not a variable
    }
    if (stmt.kind == FlowStmt::Kind::Let)
      checkStopGradients(flow, stmt.value.get(), locals);
    for (size_t i = 0; i < stmt.names.size() && i < stmt.nameLocs.size();
         ++i)
      defineLocal(stmt, i, network, locals);
  }

  // A flow with neither time nor source is a plain training objective (an
  // autoencoder's): it trains, it has no path to sample.
  auto t = locals.find("t");
  flow.objective = t == locals.end() && !locals.count("x0");
  if (flow.objective) {
    // ddt and jvp say for themselves that they need `t`.
  } else if (t == locals.end()) {
    error(flow.nameLoc,
          "flow '" + flow.name + "' defines no time variable 't'");
  } else {
    flow.timeStmt = t->second.stmt;
    Shape s = t->second.stmt->shapes[t->second.index];
    if (s.isKnown() && !s.isScalar())
      error(t->second.stmt->nameLocs[t->second.index],
            "time variable 't' must be a scalar but is " + s.str());
  }
  auto x0 = locals.find("x0");
  if (x0 == locals.end()) {
    if (!flow.objective)
      error(flow.nameLoc, "flow '" + flow.name + "' defines no source 'x0'");
  } else {
    flow.sourceStmt = x0->second.stmt;
    const Location &at = x0->second.stmt->nameLocs[x0->second.index];
    Shape s = x0->second.stmt->shapes[x0->second.index];
    // x0 ~ DIST, or x0 = EXPR (a learned or data-dependent source: the
    // compiler checks that sampling can evaluate it).
    if (s.isKnown() && !s.isTensor()) // samplers start from a batch of x0
      error(at, "source 'x0' must be a tensor but is scalar");
  }
  nameLosses(flow);
  checkFlowModel(flow);
}

void Sema::defineLocal(const FlowStmt &stmt, size_t i, bool network,
                       std::map<std::string, FlowLocal> &locals) {
  const std::string &name = stmt.names[i];
  const Location &loc = stmt.nameLocs[i];
  if (isBuiltinFunctionName(name)) {
    error(loc, "cannot redefine built-in '" + name + "'");
    return;
  }
  if (locals.count(name) || findGlobal(name)) {
    error(loc, "redefinition of '" + name + "'");
    return;
  }
  locals[name] = FlowLocal{&stmt, static_cast<unsigned>(i), network};
}

void Sema::checkLabelledDraw(FlowStmt &stmt) {
  const DataDecl *data = drawnData(stmt.value.get());
  if (!data) {
    if (stmt.shapes[0].isKnown())
      error(stmt.nameLocs[1], "only a data set draws several values (a point and its "
                              "label or condition), as in 'x1, y ~ moons'");
    return;
  }
  if (stmt.nameLocs.size() > data->drawnValues()) {
    static const char *const gives[] = {"a point", "a point and its label",
                                        "a point, its label and its condition"};
    std::string what = data->classes == 0 && !data->condShape.empty()
                           ? "a point and its condition"
                           : gives[data->drawnValues() - 1];
    error(stmt.nameLocs[data->drawnValues()],
          "data '" + data->name + "' gives " + what + ": at most " +
              plural(data->drawnValues(), "name", "names"));
    return;
  }
  for (size_t i = 1; i < stmt.names.size(); ++i)
    stmt.shapes[i] = data->drawn(i) == DataDecl::Drawn::Label ? Shape::scalar()
                                                              : Shape::tensor(data->condShape);
}

Shape Sema::checkDraw(Expr *value, Scope &scope) {
  if (!value)
    return Shape();
  if (value->kind == Expr::Kind::Name) {
    auto &name = static_cast<NameExpr &>(*value);
    Decl *d = findGlobal(name.name);
    if (d && d->kind == Decl::Kind::Data &&
        !(scope.locals && scope.locals->count(name.name))) {
      name.binding.kind = Binding::Kind::Decl;
      name.binding.decl = d;
      auto &data = static_cast<DataDecl &>(*d);
      if (data.tokenizer)
        error(name.loc, "data '" + data.name + "' has the tokenizer '" +
                            data.tokenizer->name + "': draw from it instead");
      if (data.decoderFlow)
        error(name.loc, "not yet: a flow over the tokens of '" + data.name +
                            "', which flow '" + data.decoderFlow->name +
                            "' decodes (a flow decoder decodes by sampling, which a sampled "
                            "flow's samples do not run through yet)");
      else if (data.isEncoder() && scope.flow) {
        if (scope.flow->encoder && scope.flow->encoder != &data)
          error(name.loc, "flow '" + scope.flow->name + "' already draws from tokenizer '" +
                              scope.flow->encoder->name + "'; its samples decode with one");
        scope.flow->encoder = &data;
      }
      name.shape = data.dim > 0 ? Shape::tensor(data.shape) : Shape();
      return name.shape;
    }
    bool isLocal = scope.locals && scope.locals->count(name.name);
    bool known = d || isBuiltinName(name.name) || isLocal;
    if (!known)
      error(name.loc, "use of undefined name '" + name.name + "'");
    else if (d && d->kind == Decl::Kind::Dist && !isLocal)
      error(name.loc, "cannot draw from '" + name.name +
                          "' without a call; write " + name.name + "()");
    else
      error(name.loc, "cannot draw from '" + name.name + "'");
    return Shape();
  }
  if (value->kind == Expr::Kind::Call) {
    auto &call = static_cast<CallExpr &>(*value);
    bool isLocal = scope.locals && scope.locals->count(call.callee);
    Decl *d = isLocal ? nullptr : findGlobal(call.callee);
    if (d && d->kind == Decl::Kind::Dist) {
      // A user-defined distribution: its arguments are flow expressions.
      resolveArgs(call, scope);
      resolveDefCall(call, static_cast<FunctionDecl &>(*d), scope);
      return infer(&call);
    }
    BuiltinKind fn = builtinKind(call.callee);
    if (!d && !isLocal &&
        (fn == BuiltinKind::Normal || fn == BuiltinKind::Uniform))
      return checkDistribution(call, scope);
    if (d && d->kind != Decl::Kind::Data)
      error(call.calleeLoc, "cannot draw from '" + call.callee + "'; " +
                                describe(*d) + " is not a dist");
    else
      error(call.calleeLoc, "cannot draw from '" + call.callee + "'");
    return Shape();
  }
  error(value->loc, "cannot draw from an expression; expected data, a dist, "
                    "normal(...) or uniform(...)");
  return Shape();
}

Shape Sema::checkDistribution(CallExpr &call, Scope &scope) {
  bool isNormal = call.callee == "normal";
  std::vector<std::string> params =
      isNormal ? std::vector<std::string>{"mean", "std", "like", "shape"}
               : std::vector<std::string>{"low", "high", "like", "shape"};
  ArgumentMessages messages;
  messages.unknown = [&](const std::string &n) {
    return "unknown argument '" + n + "' for '" + call.callee + "'";
  };
  messages.twice = [&](const std::string &n) {
    return "argument '" + n + "' of '" + call.callee + "' is given twice";
  };
  messages.tooManyPositional = [&](size_t given) {
    return "'" + call.callee + "' takes at most 2 positional arguments but " +
           std::to_string(given) + " were given";
  };
  std::vector<const Arg *> slots;
  bool ok = bindArguments(call, params, 2, messages, slots);
  // Check every argument expression, even after an error above.
  resolveArgs(call, scope);
  for (Arg &arg : call.args)
    if (!isShapeList(call, arg))
      infer(arg.value.get());
  if (!ok)
    return Shape();
  call.binding.kind = Binding::Kind::Builtin;
  call.orderedArgs.clear();
  for (const Arg *a : slots)
    call.orderedArgs.push_back(a ? a->value.get() : nullptr);

  // The drawn shape: that of `like` or `shape`, else the broadcast of the
  // parameters.
  Shape result = Shape::scalar();
  if (slots[2] && slots[3]) {
    error(slots[3]->loc, "give 'like' or 'shape' to '" + call.callee + "', not both");
    return Shape();
  }
  if (slots[2]) {
    result = slots[2]->value ? slots[2]->value->shape : Shape();
    if (!result.isKnown())
      return Shape();
  }
  if (slots[3]) {
    auto dims = evalShapeList(slots[3]->value.get(), "'shape'");
    if (!dims)
      return Shape();
    result = Shape::tensor(*dims);
  }
  for (size_t i = 0; i < 2; ++i) {
    if (!slots[i] || !slots[i]->value)
      continue;
    Shape s = slots[i]->value->shape;
    if (!s.isKnown())
      return Shape();
    auto b = broadcast(result, s);
    if (!b || ((slots[2] || slots[3]) && *b != result)) {
      error(slots[i]->value->loc,
            "shape mismatch: " + s.str() + " and " + result.str());
      return Shape();
    }
    result = *b;
  }
  call.shape = result;
  return result;
}

void Sema::checkLoss(FlowStmt &stmt, Scope &scope) {
  Expr *value = stmt.value.get();
  if (!value)
    return;
  resolve(value, scope);
  Shape shape = infer(value);
  std::string what = stmt.names.empty() ? "loss" : "loss '" + stmt.names[0] + "'";
  if (shape.isKnown() && !shape.isScalar())
    error(value->loc, "a " + what + " must be a scalar per sample, but this is " +
                          shape.str() + "; reduce it, e.g. with mean(...) or mse(a, b)");
  if (shape.isKnown() && !usesNetwork(value, *scope.locals)) // else reported
    error(stmt.loc, what + " of flow '" + scope.flow->name + "' uses no network");
}

/// Names the unnamed losses ("loss" alone, "loss_<k>" for the k-th of
/// several) and reports a name used twice.
void Sema::nameLosses(FlowDecl &flow) {
  std::set<std::string> seen;
  for (size_t k = 0; k < flow.losses.size(); ++k) {
    auto &stmt = const_cast<FlowStmt &>(*flow.losses[k]);
    if (stmt.names.empty()) {
      stmt.names.push_back(flow.losses.size() == 1 ? "loss" : "loss_" + std::to_string(k + 1));
      stmt.nameLocs.push_back(stmt.loc);
    }
    if (!seen.insert(stmt.names[0]).second)
      error(stmt.nameLocs[0], "flow '" + flow.name + "' has two losses named '" +
                                  stmt.names[0] + "'");
  }
}
