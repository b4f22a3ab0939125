//===- RunSettings.cpp - Train and sample blocks --------------------------===//
//
// Checks train and sample blocks against their flow: each setting's name and
// value (steps, batch, lr, ema, seed, n, solver, tolerances, label), the
// optimizer fn and the fns that update its state (std.optimizers), and the
// guidance fn of a sample block, whose body must return a velocity.
//
//===----------------------------------------------------------------------===//

#include "Sema.h"

#include <algorithm>

using namespace flowc;
using namespace flowc::ast;
using namespace flowc::sema;

/// The parameters of an optimizer fn that the trainer supplies: the
/// parameter p, its gradient g, the step number and the learning rate.
static bool isTrainerSupplied(const std::string &param) {
  return param == "p" || param == "g" || param == "step" || param == "lr";
}

void Sema::checkRun(RunDecl &run) {
  bool isTrain = run.kind == Decl::Kind::Train;
  Decl *target = findGlobal(run.name);
  if (!target)
    error(run.nameLoc, "unknown flow '" + run.name + "'");
  else if (target->kind != Decl::Kind::Flow)
    error(run.nameLoc, "'" + run.name + "' is not a flow");
  else
    run.flow = static_cast<FlowDecl *>(target);
  // A closed-form flow only samples; a training objective only trains.
  if (isTrain && run.flow && closedFormFlows.count(run.flow))
    error(run.nameLoc, "flow '" + run.name + "' has no network to train");
  if (!isTrain && run.flow && run.flow->objective) {
    for (const ModelDecl *m : flowModels[run.flow])
      if (m->network && m->network->callee == "tarflow") {
        run.invertedModel = m;
        checkInversionSettings(run, *m);
        return;
      }
    error(run.nameLoc, "flow '" + run.name + "' is a training objective (it defines no time "
                       "'t' and no source 'x0'): it has nothing to sample");
    return;
  }
  const Setting *v = run.find("velocity"), *map = run.find("map");
  if ((v && (isTrain || !v->value)) || (map && (isTrain || !map->value)))
    ; // reported as an unknown setting below
  else if (v && map)
    error(map->loc, "a sample block has either 'velocity' (a field a solver integrates) or "
                    "'map' (a flow map's step), not both");
  else if (v && run.flow)
    checkSampledExpr(run, *v->value, /*map=*/false);
  else if (map && run.flow)
    checkSampledExpr(run, *map->value, /*map=*/true);
  else if (!isTrain && run.flow)
    sampledNetwork(run);

  const Setting *solverStepsFrom = nullptr;
  forEachSetting(run, [&](Setting &s, Expr *value, const std::string &what) {
    if (s.name == "seed") {
      if (auto v = evalInteger(value, what, 0, "a non-negative integer"))
        run.numbers["seed"] = static_cast<double>(*v);
    } else if (isTrain && (s.name == "steps" || s.name == "batch")) {
      if (auto v = evalPositiveInt(value, what))
        run.numbers[s.name] = static_cast<double>(*v);
    } else if (isTrain && s.name == "lr") {
      if (auto v = evalLearningRate(value))
        setLearningRate(run, *v, s.loc);
    } else if (isTrain && s.name.rfind("lr_", 0) == 0 && s.name.size() > 3) {
      // One network's own learning rate, as a PyTorch parameter group's.
      std::string name = s.name.substr(3);
      const ModelDecl *model = nullptr;
      if (run.flow && flowModels.count(run.flow))
        for (const ModelDecl *m : flowModels[run.flow])
          if (m->name == name && m->network && !m->frozen)
            model = m;
      if (!model)
        error(s.loc, "'" + s.name + "' sets the learning rate of a network the flow trains, "
                         "but flow '" + run.name + "' trains no network '" + name + "'");
      else if (auto v = evalLearningRate(value))
        run.networkLr[name] = *v;
    } else if (isTrain && s.name == "ema") {
      if (auto v = evalConstant(value, what)) {
        if (*v < 0 || *v >= 1)
          error(value->loc, "'ema' must be in [0, 1) but is " + fmt(*v));
        else
          run.numbers["ema"] = *v;
      }
    } else if (isTrain && s.name == "optimizer") {
      // checked after the loop, which may still set lr
    } else if (!isTrain && (s.name == "steps" || s.name == "n")) {
      if (auto v = evalPositiveInt(value, what)) {
        if (s.name == "steps" && run.numbers.count("steps"))
          error(s.loc, "solver steps are given twice");
        else
          run.numbers[s.name] = static_cast<double>(*v);
        if (s.name == "steps")
          solverStepsFrom = &s;
      }
    } else if (!isTrain && s.name == "solver") {
      checkSolverSetting(run, *value, solverStepsFrom);
    } else if (!isTrain && s.name == "times") {
      checkTimeGrid(run, *value);
    } else if (!isTrain && (s.name == "from" || s.name == "to")) {
      // The time range (0 the source, 1 the data); to < from: backwards.
      if (auto v = evalConstant(value, what)) {
        if (!(*v >= 0 && *v <= 1))
          error(value->loc, what + " (a time) must be in [0, 1] but is " + fmt(*v));
        else
          run.numbers[s.name] = *v;
      }
    } else if (!isTrain && (s.name == "rtol" || s.name == "atol")) {
      if (auto v = evalConstant(value, what)) {
        if (!(*v > 0))
          error(value->loc, what + " must be a positive number but is " + fmt(*v));
        else
          run.numbers[s.name] = *v;
      }
    } else if (!isTrain && (s.name == "adaptive_guidance" || s.name == "guidance_momentum")) {
      // Checked against `guidance` after the loop.
      bool threshold = s.name == "adaptive_guidance";
      if (auto v = evalConstant(value, what)) {
        if (threshold ? !(*v > 0 && *v <= 1) : !(*v > -1 && *v < 1))
          error(value->loc, what + (threshold ? " (a cosine threshold) must be in (0, 1]"
                                              : " must be in (-1, 1)") +
                                " but is " + fmt(*v));
        else
          run.numbers[s.name] = *v;
      }
    } else if (!isTrain && (s.name == "velocity" || s.name == "map")) {
      // checked before the loop
    } else if (!isTrain && (s.name == "label" || s.name == "guidance")) {
      const ModelDecl *model = conditionalModel(run, s);
      if (model && s.name == "label") {
        if (auto v = evalInteger(value, "'label'", 0, "a non-negative integer")) {
          if (*v >= model->classes)
            error(value->loc, "'label' must be a class of 0.." +
                                  std::to_string(model->classes - 1) +
                                  " but is " + std::to_string(*v));
          else
            run.label = *v;
        }
      } else if (model) {
        checkGuidance(run, *value);
      }
    } else {
      error(s.loc, "unknown setting '" + s.name + "' in " +
                       (isTrain ? "train" : "sample") + " block");
    }
  });
  if (isTrain && run.flow)
    checkOptimizer(run, run.find("optimizer"));
  if (!isTrain && run.find("map"))
    checkMapSettings(run);
  // Without `solver:`, the sampler integrates with std.solvers' euler.
  else if (!isTrain && run.flow && !run.find("solver")) {
    Decl *euler = findGlobal("euler");
    if (!euler || euler->kind != Decl::Kind::Solver)
      error(run.loc, "no solver given and 'euler' is not defined (import "
                     "std.solvers)");
  }
  if (const Setting *to = run.find("to");
      to && run.numbers.count("to") && run.number("from", 0) == run.number("to", 1))
    error(to->loc, "the time range is empty: 'from' and 'to' are both " +
                       fmt(run.number("to", 1)));
  for (const char *name : {"adaptive_guidance", "guidance_momentum"})
    if (const Setting *s = run.find(name); s && !run.find("guidance"))
      error(s->loc, std::string("'") + name + "' needs a guidance fn in the same block, "
                                              "e.g. guidance: cfg(w: 2)");
}

void Sema::forEachSetting(
    RunDecl &run, const std::function<void(Setting &, Expr *, const std::string &)> &check) {
  std::set<std::string> seen;
  for (Setting &s : run.settings) {
    if (!seen.insert(s.name).second)
      error(s.loc, "duplicate setting '" + s.name + "'");
    else if (s.value)
      check(s, s.value.get(), "'" + s.name + "'");
  }
}

void Sema::checkInversionSettings(RunDecl &run, const ModelDecl &nf) {
  forEachSetting(run, [&](Setting &s, Expr *value, const std::string &what) {
    bool labelled = s.name == "label" || s.name == "guidance";
    if (labelled && nf.classes == 0) {
      error(s.loc, what + " needs a class-conditional flow, but '" + nf.name +
                       "' is applied without a label");
    } else if (s.name == "n" || s.name == "jacobi_block") {
      if (auto v = evalPositiveInt(value, what))
        run.numbers[s.name] = static_cast<double>(*v);
    } else if (s.name == "seed" || s.name == "label") {
      int64_t most = s.name == "label" ? nf.classes - 1 : INT64_MAX;
      if (auto v = evalInteger(value, what, 0, "a non-negative integer")) {
        if (*v > most)
          error(value->loc, "'label' must be a class of 0.." + std::to_string(most) +
                                " but is " + std::to_string(*v));
        else if (s.name == "label")
          run.label = *v;
        else
          run.numbers["seed"] = static_cast<double>(*v);
      }
    } else if (s.name == "guidance" || s.name == "jacobi" || s.name == "denoise") {
      // guidance: the weight w on (mu, alpha); jacobi: a tolerance; denoise:
      // the training noise's deviation.
      bool weight = s.name == "guidance";
      if (auto v = evalConstant(value, what + (weight ? " (a guidance weight)" : ""))) {
        if (weight ? !(*v >= 0) : !(*v > 0))
          error(value->loc, what + " must be a " + (weight ? "non-negative" : "positive") +
                                " number but is " + fmt(*v));
        else
          run.numbers[s.name] = *v;
      }
    } else {
      error(s.loc, "unknown setting '" + s.name + "' in the sample block of a normalizing "
                   "flow (it has n, seed, label, guidance, jacobi, jacobi_block, denoise)");
    }
  });
  if (const Setting *s = run.find("jacobi_block"); s && !run.find("jacobi"))
    error(s->loc, "'jacobi_block' needs 'jacobi' (a tolerance) in the same block");
}

void Sema::checkTimeGrid(RunDecl &run, Expr &value) {
  run.gridParams.clear();
  run.gridParams.push_back(Param{"u", value.loc, Shape::scalar(), nullptr});
  Scope scope;
  scope.params = &run.gridParams;
  unsigned before = diags.errorCount();
  resolve(&value, scope);
  if (diags.errorCount() != before)
    return;
  bool ok = true;
  forEachExpr(&value, [&](const Expr &e) {
    auto *call = e.kind == Expr::Kind::Call ? static_cast<const CallExpr *>(&e) : nullptr;
    BuiltinKind k = call ? builtinKind(call->callee) : BuiltinKind::None;
    bool draws = call && call->binding.kind == Binding::Kind::Builtin &&
                 (k == BuiltinKind::Normal || k == BuiltinKind::Uniform ||
                  k == BuiltinKind::Categorical || k == BuiltinKind::Drop);
    bool network = call && call->binding.kind == Binding::Kind::Decl && call->binding.decl &&
                   call->binding.decl->kind == Decl::Kind::Model;
    if (draws || network) {
      error(call->calleeLoc, "'times' is a fn of u alone, the grid's position in [0, 1]: it "
                             "cannot " + std::string(draws ? "draw" : "apply a network"));
      ok = false;
    }
  });
  if (!ok)
    return;
  Shape s = infer(&value);
  if (!s.isKnown())
    return;
  if (!s.isScalar()) {
    error(value.loc, "'times' is a time, a scalar, but is " + s.str());
    return;
  }
  run.times = &value;
}

void Sema::checkSampledExpr(RunDecl &run, Expr &value, bool map) {
  const FlowDecl &flow = *run.flow;
  if (!flow.sourceStmt || flow.sourceStmt->shapes.empty() ||
      !flow.sourceStmt->shapes[0].isKnown())
    return; // the flow's own errors say why
  Shape x = flow.sourceStmt->shapes[0];
  const std::string what = map ? "'map'" : "'velocity'";
  run.fieldParams.clear();
  run.fieldParams.push_back(Param{"x", value.loc, x, nullptr});
  run.fieldParams.push_back(Param{"t", value.loc, Shape::scalar(), nullptr});
  if (map)
    run.fieldParams.push_back(Param{"dt", value.loc, Shape::scalar(), nullptr});
  const std::string bound = map ? "x, t, dt" : "x, t";
  // The flow's label and condition (drawn with its data), by their names:
  // what sampling supplies (--label, --cond). Any other name of the flow is
  // computed in training, which sampling does not run.
  std::map<std::string, FlowLocal> &locals = velocityLocals[&run];
  std::set<std::string> computed;
  for (const auto &stmt : flow.body) {
    if (!stmt)
      continue;
    const DataDecl *data =
        stmt->kind == FlowStmt::Kind::Draw ? drawnData(stmt->value.get()) : nullptr;
    for (size_t i = 0; i < stmt->names.size(); ++i) {
      if (data && i > 0 && data->drawn(i) != DataDecl::Drawn::None)
        locals[stmt->names[i]] = FlowLocal{stmt.get(), static_cast<unsigned>(i), false};
      else if (stmt->kind != FlowStmt::Kind::Loss)
        computed.insert(stmt->names[i]);
    }
  }
  std::string supplied;
  for (auto &[name, local] : locals)
    supplied += ", '" + name + "'";
  // A value computed from the draw alone, not from the source or the time
  // (a flow decoder's tokens, T(x1)), is a condition sampling is given;
  // the data's label and condition (dropped or not) it takes by their names.
  std::set<std::string> fromDraw = drawOnlyValues(flow);
  std::map<std::string, const FlowStmt *> givens;
  for (const auto &stmt : flow.body)
    if (stmt && stmt->kind == FlowStmt::Kind::Let && fromDraw.count(stmt->names[0]) &&
        !conditionOf(stmt->value.get()) && labelClasses(stmt->value.get()) == 0)
      givens[stmt->names[0]] = stmt.get();
  bool cannotSupply = false;
  std::string given;
  forEachExpr(&value, [&](const Expr &e) {
    auto *n = e.kind == Expr::Kind::Name ? static_cast<const NameExpr *>(&e) : nullptr;
    if (!n || n->name == "x" || n->name == "t" || (map && n->name == "dt") ||
        !computed.count(n->name) || locals.count(n->name) || n->name == given)
      return;
    if (givens.count(n->name) && given.empty()) {
      given = n->name;
      return;
    }
    error(n->loc, what + " cannot use '" + n->name + "': sampling supplies " + bound +
                      supplied +
                      (given.empty() ? ", one value the flow computes from its draw alone"
                                     : ", the condition '" + given + "'") +
                      " and nothing else the flow computes in training");
    cannotSupply = true;
  });
  if (cannotSupply)
    return;
  if (!given.empty())
    locals[given] = FlowLocal{givens[given], 0, false};
  Scope scope;
  scope.params = &run.fieldParams;
  scope.flow = const_cast<FlowDecl *>(&flow);
  scope.locals = &locals;
  unsigned before = diags.errorCount();
  resolve(&value, scope);
  if (diags.errorCount() != before)
    return;
  // Deterministic, over the flow's trained networks, x, t and the label.
  auto models = flowModels.find(&flow);
  bool ok = true;
  forEachExpr(&value, [&](const Expr &e) {
    if (e.kind == Expr::Kind::Name) {
      auto &n = static_cast<const NameExpr &>(e);
      if (n.binding.kind != Binding::Kind::FlowLocal)
        return;
      bool condition = n.name == given || conditionOf(&n);
      if (condition && !run.velocityCondition.empty() && run.velocityCondition != n.name) {
        error(n.loc, what + " takes one condition, '" + run.velocityCondition + "' or '" +
                         n.name + "', not both");
        ok = false;
      }
      (condition ? run.velocityCondition : run.velocityLabel) = n.name;
      return;
    }
    if (e.kind != Expr::Kind::Call || !ok)
      return;
    auto &call = static_cast<const CallExpr &>(e);
    BuiltinKind kind = builtinKind(call.callee);
    // A map's step may draw (a CTMC sampler's jumps); a field is a function.
    bool draw = kind == BuiltinKind::Normal || kind == BuiltinKind::Uniform ||
                kind == BuiltinKind::Categorical;
    if (call.binding.kind == Binding::Kind::Builtin &&
        ((draw && !map) || kind == BuiltinKind::Drop || kind == BuiltinKind::Ddt)) {
      error(call.calleeLoc, what + " cannot use '" + call.callee + "': " +
                                (map ? "drop and ddt belong to training, not to a map's step"
                                     : "the sampled field is a function of x and t"));
      ok = false;
    } else if (call.binding.kind == Binding::Kind::Decl && call.binding.decl &&
               call.binding.decl->kind == Decl::Kind::Model &&
               static_cast<const ModelDecl *>(call.binding.decl)->network &&
               (models == flowModels.end() ||
                std::find(models->second.begin(), models->second.end(), call.binding.decl) ==
                    models->second.end())) {
      error(call.calleeLoc, what + " applies network '" + call.callee + "', which flow '" +
                                flow.name + "' does not apply");
      ok = false;
    }
  });
  if (!ok)
    return;
  Shape v = infer(&value);
  if (!v.isKnown())
    return;
  if (v != x && (map || !v.isScalar())) {
    error(value.loc, what + " is " + v.str() + " but the flow's samples x are " + x.str());
    return;
  }
  if (!run.velocityCondition.empty()) {
    const FlowLocal &c = locals[run.velocityCondition];
    Shape shape = c.stmt->shapes[c.index];
    if (!shape.isTensor()) {
      error(value.loc, what + " takes '" + run.velocityCondition +
                           "' as its condition, which must be a tensor but is " + shape.str());
      return;
    }
    run.velocityConditionShape = shape.dims;
    run.conditionComputed = run.velocityCondition == given;
  }
  (map ? run.map : run.velocity) = &value;
}

void Sema::checkMapSettings(RunDecl &run) {
  for (const char *name : {"solver", "rtol", "atol", "adaptive_guidance", "guidance_momentum"})
    if (const Setting *s = run.find(name))
      error(s->loc, std::string("'") + name + "' does not apply to a map sampler: 'map' takes "
                                              "'steps' equal steps of its own");
  if (!run.map || !run.guidance)
    return;
  // Guidance acts on each application of a conditional network to the
  // flow's label: the network at the label and at the null class, combined.
  Shape x = run.fieldParams[0].shape;
  bool guided = false;
  forEachExpr(run.map, [&](const Expr &e) {
    auto *call = e.kind == Expr::Kind::Call ? static_cast<const CallExpr *>(&e) : nullptr;
    auto *model = call && call->binding.kind == Binding::Kind::Decl && call->binding.decl &&
                          call->binding.decl->kind == Decl::Kind::Model
                      ? static_cast<const ModelDecl *>(call->binding.decl)
                      : nullptr;
    if (!model || !model->network || model->classes == 0 || call->args.empty())
      return;
    auto *label = dynamic_cast<const NameExpr *>(call->args.back().value.get());
    if (!label || label->name != run.velocityLabel)
      return;
    guided = true;
    if (Shape v = infer(const_cast<CallExpr *>(call)); v.isKnown() && v != x)
      error(call->calleeLoc, "guidance combines network '" + model->name + "' at the label " +
                                 "and at the null class, but its output is " + v.str() +
                                 ", not the samples' " + x.str());
  });
  if (!guided)
    error(run.find("guidance")->loc,
          "'guidance' needs the map to apply a conditional network to the flow's label '" +
              (run.velocityLabel.empty() ? std::string("y") : run.velocityLabel) + "'");
}

const ModelDecl *Sema::sampledNetwork(const RunDecl &run) {
  auto it = flowModels.find(run.flow);
  if (it == flowModels.end() || closedFormFlows.count(run.flow))
    return nullptr;
  // The flow's velocity network: of several networks (an encoder that
  // another stage trains, say), the one with a velocity's signature.
  std::vector<const ModelDecl *> models = it->second;
  std::vector<const ModelDecl *> velocities;
  for (const ModelDecl *m : models)
    if (m->network && m->isVelocitySignature())
      velocities.push_back(m);
  if (models.size() > 1 && velocities.size() == 1)
    models = velocities;
  if (models.size() > 1) {
    std::string names;
    for (const ModelDecl *m : models)
      names += (names.empty() ? "'" : ", '") + m->name + "'";
    error(run.nameLoc, "flow '" + run.flow->name + "' applies " +
                           std::to_string(models.size()) + " networks (" + names +
                           "); sampling integrates the velocity of a flow that applies one");
    return nullptr;
  }
  if (!models[0]->inputs.empty() && !models[0]->isVelocitySignature()) {
    error(run.nameLoc, "sampling integrates network '" + models[0]->name +
                           "' of flow '" + run.flow->name +
                           "', but it is not a velocity v(x, t) or v(x, t, label) of x's shape");
    return nullptr;
  }
  const_cast<RunDecl &>(run).sampledModel = models[0];
  return models[0];
}

const ModelDecl *Sema::conditionalModel(const RunDecl &run, const Setting &s) {
  if (!run.flow || !flowModels.count(run.flow))
    return nullptr;
  if (run.find("map")) {
    // A map's label, and guidance of its applications to it (checked in
    // checkMapSettings).
    if (!run.velocityLabel.empty())
      for (const ModelDecl *m : flowModels[run.flow])
        if (m->classes > 0) // the label's classes are the data's
          return m;
    error(s.loc, "'" + s.name + "' needs a 'map' that uses the flow's label");
    return nullptr;
  }
  if (run.find("velocity")) {
    // `label:` picks the label of a field that takes one; guidance needs
    // the flow's one conditional network.
    if (s.name == "label" && !run.velocityLabel.empty())
      for (const ModelDecl *m : flowModels[run.flow])
        if (m->classes > 0) // the label's classes are the data's
          return m;
    error(s.loc, "'" + s.name + "' needs " +
                     (s.name == "label" ? std::string("a 'velocity' that uses the flow's label")
                                        : std::string("the flow's network, not 'velocity'")));
    return nullptr;
  }
  const ModelDecl *model = run.sampledModel;
  if (!model || !model->network || model->classes == 0) {
    error(s.loc, "'" + s.name + "' needs a network applied to a label, "
                                "as v(xt, t, y); flow '" +
                     run.flow->name + "' has none");
    return nullptr;
  }
  return model;
}

void Sema::checkGuidance(RunDecl &run, Expr &value) {
  CallExpr *call = value.kind == Expr::Kind::Call
                       ? static_cast<CallExpr *>(&value)
                       : nullptr;
  std::string name = call ? call->callee
                     : value.kind == Expr::Kind::Name
                         ? static_cast<NameExpr &>(value).name
                         : std::string();
  Location at = call ? call->calleeLoc : value.loc;
  Decl *d = name.empty() ? nullptr : findGlobal(name);
  if (!d || d->kind != Decl::Kind::Fn) {
    error(at, name.empty() || !d
                  ? "expected a guidance fn, e.g. cfg(w: 2) (import "
                    "std.guidance)"
                  : "'" + name + "' is not a fn; guidance is a fn such as "
                                 "cfg (import std.guidance)");
    return;
  }
  auto &fn = static_cast<FunctionDecl &>(*d);
  if (fn.params.size() < 2) {
    error(at, "guidance fn '" + name + "' must take the conditional and "
                                       "unconditional velocities as its "
                                       "first two parameters");
    return;
  }
  auto isSupplied = [&](size_t i) {
    return i < 2 || fn.params[i].name == "x" || fn.params[i].name == "t";
  };
  std::map<std::string, double> given;
  bool ok = true;
  if (call)
    for (Arg &arg : call->args) {
      auto param = std::find_if(fn.params.begin(), fn.params.end(),
                                [&](const Param &p) { return p.name == arg.name; });
      if (arg.name.empty()) {
        error(arg.loc, "arguments of guidance fn '" + name + "' must be named");
        ok = false;
      } else if (param == fn.params.end()) {
        error(arg.loc, "fn '" + name + "' has no parameter '" + arg.name + "'");
        ok = false;
      } else if (isSupplied(param - fn.params.begin())) {
        error(arg.loc, "parameter '" + arg.name + "' of guidance fn '" + name +
                           "' is given by the sampler");
        ok = false;
      } else if (auto v = evalConstant(arg.value.get(), "'" + arg.name + "'")) {
        if (!given.emplace(arg.name, *v).second) {
          error(arg.loc, "parameter '" + arg.name + "' of fn '" + name +
                             "' is given twice");
          ok = false;
        }
      } else {
        ok = false;
      }
    }
  // Every other parameter: given, or its default.
  Shape x = run.flow && run.flow->sourceStmt && !run.flow->sourceStmt->shapes.empty()
                ? run.flow->sourceStmt->shapes[0]
                : Shape();
  for (size_t i = 0; i < fn.params.size(); ++i) {
    Param &p = fn.params[i];
    p.shape = i < 2 || p.name == "x" ? x : Shape::scalar();
    if (isSupplied(i))
      continue;
    auto it = given.find(p.name);
    std::optional<double> v;
    if (it != given.end())
      v = it->second;
    else if (p.defaultValue)
      v = evalConstant(p.defaultValue.get(), "the default of '" + p.name + "'");
    if (!v) {
      if (!p.defaultValue) {
        error(at, "guidance fn '" + name + "' is missing argument '" + p.name + "'");
        ok = false;
      }
      continue;
    }
    if (p.name == "w") {
      run.guidanceScale = *v;
      run.guidanceHasScale = true;
    } else {
      run.guidanceConstants[p.name] = *v;
    }
  }
  if (!ok || !x.isKnown() || recursiveDefs.count(&fn))
    return;
  // The body's shape with these parameters: a velocity, like x.
  CallExpr site(value.loc, name);
  site.calleeLoc = at;
  Shape result = inferBody(site, fn, fn.lets, fn.body.get());
  if (!result.isKnown())
    return;
  if (result != x) {
    error(at, "guidance fn '" + name + "' returns " + result.str() +
                  " but the velocity is " + x.str());
    return;
  }
  run.guidance = &fn;
}

std::optional<double> Sema::evalLearningRate(Expr *value) {
  auto v = evalConstant(value, "'lr'");
  if (v && *v <= 0) {
    error(value->loc, "'lr' must be a positive number but is " + fmt(*v));
    return std::nullopt;
  }
  return v;
}

void Sema::setLearningRate(RunDecl &run, double lr, const Location &loc) {
  if (run.numbers.count("lr")) {
    error(loc, "learning rate is given twice");
    return;
  }
  run.numbers["lr"] = lr;
}

void Sema::checkOptimizer(RunDecl &run, const Setting *setting) {
  Expr *value = setting ? setting->value.get() : nullptr;
  CallExpr *call = value && value->kind == Expr::Kind::Call
                       ? static_cast<CallExpr *>(value)
                       : nullptr;
  std::string name = optimizerName(run);
  Location at = call ? call->calleeLoc : value ? value->loc : run.nameLoc;
  Decl *d = name.empty() ? nullptr : findGlobal(name);
  if (!d || d->kind != Decl::Kind::Fn) {
    error(at, name.empty() || !d
                  ? "unknown optimizer '" + (name.empty() ? "expression" : name) +
                        "'; expected a fn such as adam(lr: ...) or adamw "
                        "(std.optimizers)"
                  : "'" + name + "' is not a fn; an optimizer is a fn such as "
                                 "adam (std.optimizers)");
    return;
  }
  auto &fn = static_cast<FunctionDecl &>(*d);
  if (value && value->kind == Expr::Kind::Name) {
    auto &n = static_cast<NameExpr &>(*value);
    n.binding.kind = Binding::Kind::Decl;
    n.binding.decl = &fn;
  } else if (call) {
    call->binding.kind = Binding::Kind::Decl;
    call->binding.decl = &fn;
  }
  // The fn's parameters: supplied by the trainer, state, or settings.
  std::set<std::string> state;
  for (const Param &p : fn.params)
    if (!isTrainerSupplied(p.name) && !p.defaultValue)
      state.insert(p.name);
  if (std::none_of(fn.params.begin(), fn.params.end(),
                   [](const Param &p) { return p.name == "p"; })) {
    error(at, "optimizer fn '" + name + "' must take the parameter as 'p'");
    return;
  }
  std::map<std::string, double> constants;
  bool ok = bindOptimizerSettings(run, fn, call, state, constants);
  // Each state variable's update fn, and every fn's parameters bound by
  // name to what the trainer knows.
  std::vector<std::pair<std::string, const FunctionDecl *>> updates;
  for (const std::string &s : state) {
    Decl *u = findGlobal(name + "_" + s);
    if (!u || u->kind != Decl::Kind::Fn) {
      error(at, "optimizer '" + name + "' has state '" + s +
                    "' (a parameter without a default) but no fn '" + name + "_" +
                    s + "' that updates it");
      ok = false;
      continue;
    }
    updates.push_back({s, static_cast<const FunctionDecl *>(u)});
  }
  if (!ok)
    return;
  if (!checkOptimizerBody(fn, name, at, state, constants))
    return;
  for (auto &[s, u] : updates)
    if (!checkOptimizerBody(const_cast<FunctionDecl &>(*u), name, at, state,
                            constants))
      return;
  run.optimizer = &fn;
  run.optimizerState = std::move(updates);
  run.optimizerConstants = std::move(constants);
}

bool Sema::bindOptimizerSettings(RunDecl &run, FunctionDecl &fn,
                                 CallExpr *call,
                                 const std::set<std::string> &state,
                                 std::map<std::string, double> &constants) {
  const std::string &name = fn.name;
  bool ok = true;
  // Settings given in the call: constants for parameters with defaults.
  std::map<std::string, double> given;
  if (call)
    for (Arg &arg : call->args) {
      auto param = std::find_if(fn.params.begin(), fn.params.end(),
                                [&](const Param &p) { return p.name == arg.name; });
      if (arg.name.empty()) {
        error(arg.loc, "arguments of optimizer '" + name + "' must be named");
        ok = false;
      } else if (param == fn.params.end()) {
        error(arg.loc, "optimizer '" + name + "' has no setting '" + arg.name + "'");
        ok = false;
      } else if (arg.name == "lr") {
        if (auto v = evalLearningRate(arg.value.get()))
          setLearningRate(run, *v, arg.loc);
      } else if (isTrainerSupplied(arg.name) || state.count(arg.name)) {
        error(arg.loc, "'" + arg.name + "' of optimizer '" + name +
                           "' is given by the trainer, not a setting");
        ok = false;
      } else if (auto v = evalConstant(arg.value.get(), "'" + arg.name + "'")) {
        if (!given.emplace(arg.name, *v).second) {
          error(arg.loc, "setting '" + arg.name + "' is given twice");
          ok = false;
        }
      } else {
        ok = false;
      }
    }
  // Every other parameter with a default: given, or its default.
  for (const Param &p : fn.params) {
    if (p.name == "lr" && p.defaultValue && !run.numbers.count("lr"))
      if (auto v = evalLearningRate(p.defaultValue.get()))
        run.numbers["lr"] = *v;
    if (isTrainerSupplied(p.name) || state.count(p.name))
      continue;
    auto it = given.find(p.name);
    std::optional<double> v =
        it != given.end() ? std::optional<double>(it->second)
                          : evalConstant(p.defaultValue.get(),
                                         "the default of '" + p.name + "'");
    if (!v)
      ok = false;
    else
      constants[p.name] = *v;
  }
  return ok;
}

bool Sema::checkOptimizerBody(FunctionDecl &f, const std::string &optimizer,
                              const Location &at,
                              const std::set<std::string> &state,
                              const std::map<std::string, double> &constants) {
  for (Param &p : f.params) {
    if (!isTrainerSupplied(p.name) && !state.count(p.name) &&
        !constants.count(p.name) && !p.defaultValue) {
      error(at, "parameter '" + p.name + "' of fn '" + f.name +
                    "' is not one the optimizer binds (p, g, step, lr, its "
                    "state or settings of '" + optimizer + "')");
      return false;
    }
    p.shape = Shape::scalar();
  }
  if (recursiveDefs.count(&f))
    return false;
  CallExpr site(at, f.name);
  site.calleeLoc = at;
  Shape result = inferBody(site, f, f.lets, f.body.get());
  if (!result.isKnown())
    return false;
  if (!result.isScalar()) {
    error(at, "optimizer fn '" + f.name + "' returns " + result.str() +
                  " but must return a scalar (it updates one parameter)");
    return false;
  }
  return true;
}

void Sema::checkSolverSetting(RunDecl &run, Expr &value,
                              const Setting *stepsSetting) {
  std::string name;
  CallExpr *call = nullptr;
  Binding *binding = nullptr;
  if (value.kind == Expr::Kind::Name) {
    name = static_cast<NameExpr &>(value).name;
    binding = &static_cast<NameExpr &>(value).binding;
  } else if (value.kind == Expr::Kind::Call) {
    call = &static_cast<CallExpr &>(value);
    name = call->callee;
    binding = &call->binding;
  } else {
    error(value.loc, "expected a solver name, e.g. heun or heun(steps: 32)");
    return;
  }
  Decl *d = findGlobal(name);
  if (!d) {
    error(value.loc, "unknown solver '" + name + "'");
    return;
  }
  if (d->kind != Decl::Kind::Solver) {
    error(value.loc, "'" + name + "' is not a solver");
    return;
  }
  binding->kind = Binding::Kind::Decl;
  binding->decl = d;
  run.solver = static_cast<SolverDecl *>(d);
  if (!call)
    return;
  ArgBinding bound = bindArgs(*call, {"steps"}, "solver '" + name + "'");
  if (const Arg *steps = bound.slots[0])
    if (auto v = evalPositiveInt(steps->value.get(), "'steps'")) {
      if (run.numbers.count("steps"))
        error(stepsSetting ? stepsSetting->loc : steps->loc,
              "solver steps are given twice");
      else
        run.numbers["steps"] = static_cast<double>(*v);
    }
}
