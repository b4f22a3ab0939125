//===- Expressions.cpp - Names and calls in expressions -------------------===//
//
// Resolves the names and calls of flow statements and definition bodies:
// binds each name to a local, a parameter, a constant or a declaration, binds
// the arguments of calls of paths, dists, fns and models to their parameters,
// and reports name, arity and context errors. Built-in calls are resolved in
// BuiltinCalls.cpp; shapes are inferred afterwards (Shapes.cpp).
//
//===----------------------------------------------------------------------===//

#include "Sema.h"

#include <algorithm>
#include <cmath>

using namespace flowc;
using namespace flowc::ast;
using namespace flowc::sema;

void Sema::resolve(Expr *e, Scope &scope) {
  if (!e)
    return;
  switch (e->kind) {
  case Expr::Kind::Number:
    if (!std::isfinite(static_cast<NumberExpr *>(e)->value))
      error(e->loc, "number is out of range");
    return;
  case Expr::Kind::Name:
    resolveName(static_cast<NameExpr &>(*e), scope);
    return;
  case Expr::Kind::Unary:
    resolve(static_cast<UnaryExpr *>(e)->operand.get(), scope);
    return;
  case Expr::Kind::Binary: {
    auto *b = static_cast<BinaryExpr *>(e);
    resolve(b->lhs.get(), scope);
    resolve(b->rhs.get(), scope);
    return;
  }
  case Expr::Kind::Call:
    resolveCall(static_cast<CallExpr &>(*e), scope);
    return;
  case Expr::Kind::List: // a tensor of its elements
    for (auto &el : static_cast<ListExpr *>(e)->elements)
      resolve(el.get(), scope);
    return;
  case Expr::Kind::String:
    error(e->loc, "a string is only allowed as a file path: file(\"...\"), "
                  "torchscript(\"...\") and checkpoint(\"...\")");
    return;
  case Expr::Kind::Index:
    resolveIndex(static_cast<IndexExpr &>(*e), scope);
    return;
  }
}

void Sema::resolveIndex(IndexExpr &index, Scope &scope) {
  resolve(index.base.get(), scope);
  Expr *i = index.index.get();
  if (!i)
    return;
  auto v = evalConstant(i, "an index");
  if (!v)
    return;
  if (!isInteger(*v)) {
    error(i->loc, "index must be an integer but is " + fmt(*v));
    return;
  }
  index.position = static_cast<int64_t>(*v);
  constantIndex.insert(&index);
  infer(i);
}

void Sema::resolveName(NameExpr &name, Scope &scope) {
  Binding &b = name.binding;
  if (scope.locals) {
    auto it = scope.locals->find(name.name);
    if (it != scope.locals->end()) {
      b.kind = Binding::Kind::FlowLocal;
      b.stmt = it->second.stmt;
      b.stmtIndex = it->second.index;
      return;
    }
  }
  if (scope.params)
    for (const Param &p : *scope.params)
      if (p.name == name.name) {
        b.kind = Binding::Kind::PathParam;
        b.param = &p;
        return;
      }
  if (auto c = builtinConstant(name.name)) {
    b.kind = Binding::Kind::Constant;
    b.constant = *c;
    return;
  }
  if (Decl *d = findGlobal(name.name)) {
    if (d->kind == Decl::Kind::Const && static_cast<ConstDecl &>(*d).isTensor()) {
      if (evalTensorConst(static_cast<ConstDecl &>(*d))) { // else reported there
        b.kind = Binding::Kind::Decl;
        b.decl = d;
      }
      return;
    }
    if (d->kind == Decl::Kind::Const) {
      // Reported where the const is declared if it fails.
      if (auto v = evalConstDecl(static_cast<ConstDecl &>(*d))) {
        b.kind = Binding::Kind::Constant;
        b.constant = *v;
      }
      return;
    }
    if (d->kind == Decl::Kind::Data)
      error(name.loc, "cannot use data '" + name.name +
                          "' as a value; draw from it with '~'");
    else
      error(name.loc, std::string("cannot use ") + declKindName(d->kind) +
                          " '" + name.name + "' as a value");
    return;
  }
  if (builtinKind(name.name) != BuiltinKind::None) {
    error(name.loc, "cannot use function '" + name.name + "' as a value");
    return;
  }
  error(name.loc, "use of undefined name '" + name.name + "'");
}

void Sema::resolveArgs(CallExpr &call, Scope &scope) {
  for (Arg &arg : call.args)
    if (!isShapeList(call, arg))
      resolve(arg.value.get(), scope);
}

void Sema::resolveCall(CallExpr &call, Scope &scope) {
  resolveArgs(call, scope);
  bool isLocal = scope.locals && scope.locals->count(call.callee);
  bool isParam = false;
  if (scope.params)
    for (const Param &p : *scope.params)
      isParam |= p.name == call.callee;
  if (isLocal || isParam || builtinConstant(call.callee)) {
    error(call.calleeLoc, "'" + call.callee + "' is not a function");
    return;
  }
  if (Decl *d = findGlobal(call.callee)) {
    switch (d->kind) {
    case Decl::Kind::Path:
    case Decl::Kind::Fn:
      resolveDefCall(call, static_cast<FunctionDecl &>(*d), scope);
      return;
    case Decl::Kind::Dist:
      // A dist is a draw: allowed inside another dist, else only on the
      // right of `~`.
      if (scope.def && scope.def->kind == Decl::Kind::Dist) {
        resolveDefCall(call, static_cast<FunctionDecl &>(*d), scope);
        return;
      }
      if (scope.def) {
        error(call.calleeLoc,
              describe(*scope.def) + " cannot draw random numbers");
        return;
      }
      error(call.calleeLoc, "cannot call dist '" + call.callee +
                                "' in an expression; draw from it with '~'");
      return;
    case Decl::Kind::Model:
      resolveModelCall(call, static_cast<ModelDecl &>(*d), scope);
      return;
    case Decl::Kind::Data:
      resolveTokenizerCall(call, static_cast<DataDecl &>(*d), scope);
      return;
    default:
      error(call.calleeLoc, "'" + call.callee + "' is not a function");
      return;
    }
  }
  if (const BuiltinFunction *fn = lookupBuiltin(call.callee)) {
    resolveBuiltinCall(call, *fn, scope);
    return;
  }
  error(call.calleeLoc, "unknown function '" + call.callee + "'");
}

void Sema::resolveTokenizerCall(CallExpr &call, DataDecl &tok, Scope &scope) {
  if (!tok.isEncoder()) {
    error(call.calleeLoc, "cannot call data '" + call.callee + "'; draw from it with '~'" +
                              (tok.isTokenizer ? "" : " (an encoder tokenizer may be applied "
                                                      "to a data point: T(x1))"));
    return;
  }
  if (!scope.flow) {
    error(call.calleeLoc, "tokenizer '" + tok.name +
                              "' is applied to data points in a flow's body, not here");
    return;
  }
  if (call.args.size() != 1 || !call.args[0].name.empty()) {
    error(call.calleeLoc, "tokenizer '" + tok.name + "' takes one data point: " + tok.name +
                              "(x1), the tokens of x1");
    return;
  }
  call.binding.kind = Binding::Kind::Decl;
  call.binding.decl = &tok;
  // Statistics taken as a flow starts need an encoder fixed by then: a
  // flow that applies the tokenizer trains through it.
  if (tok.standardize != DataDecl::Standardize::None && !tok.decoderFlow)
    error(call.calleeLoc, "tokenizer '" + tok.name + "' standardizes its tokens, so flows draw "
                          "from it (x1 ~ " + tok.name + ") rather than apply it");
}

const DataDecl *Sema::drawnData(const Expr *value) {
  if (!value || value->kind != Expr::Kind::Name)
    return nullptr;
  auto &name = static_cast<const NameExpr &>(*value);
  if (name.binding.kind != Binding::Kind::Decl || !name.binding.decl ||
      name.binding.decl->kind != Decl::Kind::Data)
    return nullptr;
  return static_cast<const DataDecl *>(name.binding.decl);
}

int64_t Sema::labelClasses(const Expr *e) {
  if (!e)
    return 0;
  if (e->kind == Expr::Kind::Call) {
    auto &call = static_cast<const CallExpr &>(*e);
    if (call.callee == "drop" && call.binding.kind == Binding::Kind::Builtin &&
        !call.args.empty())
      return labelClasses(call.args[0].value.get());
    return 0;
  }
  if (e->kind != Expr::Kind::Name)
    return 0;
  const Binding &b = static_cast<const NameExpr &>(*e).binding;
  if (b.kind != Binding::Kind::FlowLocal || !b.stmt)
    return 0;
  if (b.stmt->kind == FlowStmt::Kind::Draw) {
    const DataDecl *data = drawnData(b.stmt->value.get());
    return data && data->drawn(b.stmtIndex) == DataDecl::Drawn::Label ? data->classes : 0;
  }
  if (b.stmt->kind == FlowStmt::Kind::Let)
    return labelClasses(b.stmt->value.get());
  return 0;
}

const DataDecl *Sema::conditionOf(const Expr *e) {
  if (!e)
    return nullptr;
  if (e->kind == Expr::Kind::Call) {
    auto &call = static_cast<const CallExpr &>(*e);
    if (call.callee == "drop" && call.binding.kind == Binding::Kind::Builtin &&
        !call.args.empty())
      return conditionOf(call.args[0].value.get());
    return nullptr;
  }
  if (e->kind != Expr::Kind::Name)
    return nullptr;
  const Binding &b = static_cast<const NameExpr &>(*e).binding;
  if (b.kind != Binding::Kind::FlowLocal || !b.stmt)
    return nullptr;
  if (b.stmt->kind == FlowStmt::Kind::Draw) {
    const DataDecl *data = drawnData(b.stmt->value.get());
    return data && data->drawn(b.stmtIndex) == DataDecl::Drawn::Condition ? data : nullptr;
  }
  if (b.stmt->kind == FlowStmt::Kind::Let)
    return conditionOf(b.stmt->value.get());
  return nullptr;
}

ArgBinding Sema::bindArgs(const CallExpr &call,
                          const std::vector<std::string> &params,
                          const std::string &callee) {
  ArgumentMessages messages;
  messages.unknown = [&](const std::string &n) {
    return "unknown parameter '" + n + "' for " + callee;
  };
  messages.twice = [&](const std::string &n) {
    return "parameter '" + n + "' of " + callee + " is given twice";
  };
  messages.tooManyPositional = [&](size_t given) {
    return callee + " takes at most " +
           plural(params.size(), "argument", "arguments") + " but " +
           std::to_string(given) + (given == 1 ? " was" : " were") + " given";
  };
  ArgBinding result;
  result.ok = bindArguments(call, params, params.size(), messages, result.slots);
  return result;
}

bool Sema::bindArguments(const CallExpr &call,
                         const std::vector<std::string> &params,
                         size_t maxPositional, const ArgumentMessages &messages,
                         std::vector<const Arg *> &slots) {
  slots.assign(params.size(), nullptr);
  size_t positional = 0, numPositional = 0;
  for (const Arg &arg : call.args)
    numPositional += arg.name.empty();
  bool ok = true, sawNamed = false;
  for (const Arg &arg : call.args) {
    size_t slot = 0;
    if (arg.name.empty()) {
      if (sawNamed) {
        error(arg.loc, "positional argument after named argument");
        ok = false;
        continue;
      }
      slot = positional++;
      if (slot >= maxPositional) {
        if (slot == maxPositional && messages.tooManyPositional)
          error(call.calleeLoc, messages.tooManyPositional(numPositional));
        ok = false;
        continue;
      }
    } else {
      sawNamed = true;
      auto it = std::find(params.begin(), params.end(), arg.name);
      if (it == params.end()) {
        error(arg.loc, messages.unknown(arg.name));
        ok = false;
        continue;
      }
      slot = static_cast<size_t>(it - params.begin());
    }
    if (slots[slot]) {
      error(arg.loc, messages.twice(params[slot]));
      ok = false;
      continue;
    }
    slots[slot] = &arg;
  }
  return ok;
}

void Sema::resolveDefCall(CallExpr &call, FunctionDecl &def, Scope &scope) {
  std::string callee = describe(def);
  size_t total = def.params.size(), required = 0;
  for (const Param &p : def.params)
    required += !p.defaultValue;
  if (call.args.size() > total || call.args.size() < required) {
    std::string takes =
        required == total
            ? plural(total, "argument", "arguments")
            : std::to_string(required) + " to " + std::to_string(total) +
                  " arguments";
    error(call.calleeLoc, callee + " takes " + takes + " but " +
                              std::to_string(call.args.size()) +
                              (call.args.size() == 1 ? " was" : " were") +
                              " given");
    return;
  }
  std::vector<std::string> names;
  for (const Param &p : def.params)
    names.push_back(p.name);
  ArgumentMessages messages;
  messages.unknown = [&](const std::string &n) {
    return callee + " has no parameter '" + n + "'";
  };
  messages.twice = [&](const std::string &n) {
    return "parameter '" + n + "' of " + callee + " is given twice";
  };
  std::vector<const Arg *> slots;
  bool ok = bindArguments(call, names, total, messages, slots);
  if (!ok)
    return;
  for (size_t i = 0; i < total; ++i)
    if (!slots[i] && !def.params[i].defaultValue) {
      error(call.calleeLoc, callee + " is missing argument '" +
                                def.params[i].name + "'");
      ok = false;
    }
  if (!ok)
    return;
  call.binding.kind = Binding::Kind::Decl;
  call.binding.decl = &def;
  call.orderedArgs.clear();
  for (const Arg *arg : slots)
    call.orderedArgs.push_back(arg ? arg->value.get() : nullptr);
  if (isFunctionDecl(scope.def))
    defCallees[static_cast<FunctionDecl *>(scope.def)].push_back(
        {&def, &call});
}

void Sema::resolveModelCall(CallExpr &call, ModelDecl &model, Scope &scope) {
  if (scope.def) {
    error(call.calleeLoc, "cannot call model '" + model.name + "' inside a " +
                              declKindName(scope.def->kind));
    return;
  }
  bool ok = true;
  for (const Arg &arg : call.args)
    if (!arg.name.empty()) {
      error(arg.loc, "arguments of model '" + model.name +
                         "' cannot be named");
      ok = false;
    }
  size_t given = call.args.size();
  // A network takes any arguments (their roles come from their shapes); a
  // closed-form model is v(x, t).
  if (ok && (model.network ? given == 0 : given != 2)) {
    error(call.calleeLoc, "model '" + model.name + "' takes " +
                              (model.network ? "at least 1 argument (x, t, ...)"
                                             : "2 arguments (x, t)") +
                              " but " + std::to_string(given) +
                              (given == 1 ? " was" : " were") + " given");
    ok = false;
  }
  if (!ok)
    return;
  call.binding.kind = Binding::Kind::Decl;
  call.binding.decl = &model;
  for (const Arg &arg : call.args)
    call.orderedArgs.push_back(arg.value.get());
}
