//===- BuiltinCalls.cpp - Calls of built-in functions ---------------------===//
//
// Resolves and infers the shapes of calls of the built-in functions of the
// shared table (flowc/Lang/Builtins.h): their arity, the constant arguments
// some take (an axis, a shape list, a length, a probability), where each may
// appear, and each kind's shape rule.
//
//===----------------------------------------------------------------------===//

#include "Sema.h"

using namespace flowc;
using namespace flowc::ast;
using namespace flowc::sema;

bool Sema::isShapeList(const CallExpr &call, const Arg &arg) {
  if (!arg.value || arg.value->kind != Expr::Kind::List)
    return false;
  BuiltinKind fn = builtinKind(call.callee);
  if (fn == BuiltinKind::Reshape)
    return &arg == &call.args.back() && call.args.size() == 2;
  return (fn == BuiltinKind::Normal || fn == BuiltinKind::Uniform) &&
         arg.name == "shape";
}

bool Sema::checkBuiltinArity(CallExpr &call, int arity) {
  auto n = static_cast<size_t>(arity);
  bool ok = true;
  for (const Arg &arg : call.args)
    if (!arg.name.empty()) {
      error(arg.loc, "'" + call.callee + "' does not take named arguments");
      ok = false;
    }
  if (ok && call.args.size() != n) {
    error(call.calleeLoc, "'" + call.callee + "' takes " +
                              plural(n, "argument", "arguments") + " but " +
                              std::to_string(call.args.size()) +
                              (call.args.size() == 1 ? " was" : " were") +
                              " given");
    ok = false;
  }
  return ok;
}

void Sema::resolveBuiltinCall(CallExpr &call, const BuiltinFunction &fn,
                              Scope &scope) {
  switch (fn.kind) {
  case BuiltinKind::Reduce:
  case BuiltinKind::Softmax:
  case BuiltinKind::CrossEntropy:
    if (call.args.size() > static_cast<size_t>(fn.arity)) {
      resolveAxis(call, fn.arity);
      return;
    }
    [[fallthrough]];
  case BuiltinKind::Math:
  case BuiltinKind::MinMax:
  case BuiltinKind::Where:
  case BuiltinKind::Clamp:
    if (checkBuiltinArity(call, fn.arity))
      call.binding.kind = Binding::Kind::Builtin;
    return;
  case BuiltinKind::Reshape:
    if (!checkBuiltinArity(call, fn.arity))
      return;
    if (auto dims = evalShapeList(call.args[1].value.get(), "the shape of 'reshape'")) {
      call.constantArgs.assign(dims->begin(), dims->end());
      call.binding.kind = Binding::Kind::Builtin;
    }
    return;
  case BuiltinKind::OneHot:
    if (!checkBuiltinArity(call, fn.arity))
      return;
    if (auto n = evalPositiveInt(call.args[1].value.get(),
                                 "the length of 'one_hot'")) {
      call.binding.kind = Binding::Kind::Builtin;
      oneHotLength[&call] = *n;
    }
    return;
  case BuiltinKind::Drop:
    resolveDrop(call, fn, scope);
    return;
  case BuiltinKind::Concat:
  case BuiltinKind::Stack:
    resolveJoin(call, scope);
    return;
  case BuiltinKind::Jvp: {
    if (!scope.flow || scope.def) {
      error(call.calleeLoc, "'jvp' can only be used inside a flow");
      return;
    }
    if (!checkBuiltinArity(call, fn.arity))
      return;
    auto *wrt = call.args[1].value && call.args[1].value->kind == Expr::Kind::Name
                    ? static_cast<NameExpr *>(call.args[1].value.get())
                    : nullptr;
    if (!wrt || wrt->binding.kind != Binding::Kind::FlowLocal) {
      error(call.args[1].value ? call.args[1].value->loc : call.calleeLoc,
            "the second argument of 'jvp' must be a name the flow binds, as x in "
            "jvp(X(x, t), x, v)");
      return;
    }
    call.binding.kind = Binding::Kind::Builtin;
    return;
  }
  case BuiltinKind::Ddt:
    if (!scope.flow) {
      error(call.calleeLoc, "'ddt' can only be used inside a flow");
      return;
    }
    if (!scope.locals || !scope.locals->count("t")) {
      error(call.calleeLoc,
            "'ddt' needs the time variable 't' defined earlier in flow '" +
                scope.flow->name + "'");
      return;
    }
    if (checkBuiltinArity(call, fn.arity))
      call.binding.kind = Binding::Kind::Builtin;
    return;
  case BuiltinKind::Normal:
  case BuiltinKind::Uniform:
    if (scope.def && scope.def->kind == Decl::Kind::Dist) {
      resolveStandardDraw(call, scope);
      return;
    }
    if (scope.def) {
      error(call.calleeLoc,
            describe(*scope.def) + " cannot draw random numbers");
      return;
    }
    // In a flow, a draw inside an expression: `0.2 * normal(like: x1)`.
    checkDistribution(call, scope);
    return;
  case BuiltinKind::Categorical:
    resolveCategorical(call, scope);
    return;
  case BuiltinKind::Mse:
    if (checkBuiltinArity(call, fn.arity))
      call.binding.kind = Binding::Kind::Builtin;
    return;
  case BuiltinKind::None:
    break;
  }
  error(call.calleeLoc, "unknown function '" + call.callee + "'");
}

void Sema::resolveCategorical(CallExpr &call, Scope &scope) {
  if (scope.def || !scope.flow) {
    error(call.calleeLoc, (scope.def ? describe(*scope.def) : std::string("a constant")) +
                              " cannot draw random numbers");
    return;
  }
  // categorical(w): weights along the last axis; categorical(like: x):
  // equal weights in x's shape; categorical(w, like: x): w broadcast to it.
  size_t n = call.args.size();
  bool ok = n == 1 ? call.args[0].name.empty() || call.args[0].name == "like"
                   : n == 2 && call.args[0].name.empty() && call.args[1].name == "like";
  if (!ok) {
    error(call.calleeLoc, "'categorical' takes the weights of its classes along the last "
                          "axis, categorical(w), a shape, categorical(like: x), or both, "
                          "categorical(w, like: x)");
    return;
  }
  call.binding.kind = Binding::Kind::Builtin;
}

void Sema::resolveJoin(CallExpr &call, Scope &scope) {
  (void)scope; // the arguments are resolved by resolveArgs
  bool ok = true;
  size_t values = 0;
  const Arg *axis = nullptr;
  for (const Arg &arg : call.args) {
    if (arg.name.empty() && !axis) {
      ++values;
    } else if (arg.name == "axis" && !axis) {
      axis = &arg;
    } else {
      error(arg.loc, "'" + call.callee + "' takes values, then 'axis' as its only named "
                                         "argument");
      ok = false;
    }
  }
  if (ok && values == 0) {
    error(call.calleeLoc, "'" + call.callee + "' needs at least one value");
    ok = false;
  }
  double k = 0;
  if (ok && axis) {
    auto v = evalConstant(axis->value.get(), "an axis");
    if (!v)
      return;
    if (!isInteger(*v)) {
      error(axis->value->loc, "axis must be an integer but is " + fmt(*v));
      return;
    }
    k = *v;
  }
  if (!ok)
    return;
  call.constantArgs = {k};
  call.binding.kind = Binding::Kind::Builtin;
}

void Sema::resolveAxis(CallExpr &call, int values) {
  auto n = static_cast<size_t>(values);
  if (call.args.size() > n + 1) {
    error(call.calleeLoc, "'" + call.callee + "' takes " + std::to_string(n) + " or " +
                              std::to_string(n + 1) + " arguments (" +
                              (n == 1 ? "x" : "logits, target") + ", axis) but " +
                              std::to_string(call.args.size()) + " were given");
    return;
  }
  bool ok = true;
  for (size_t i = 0; i < n; ++i)
    if (!call.args[i].name.empty()) {
      error(call.args[i].loc, "'" + call.callee + "' takes 'axis' as its only named argument");
      ok = false;
    }
  for (size_t i = n; i < call.args.size(); ++i) {
    const Arg &arg = call.args[i];
    if (!arg.name.empty() && arg.name != "axis") {
      error(arg.loc, "'" + call.callee + "' takes 'axis' as its only named argument");
      ok = false;
    }
  }
  if (!ok)
    return;
  Expr *axis = call.args[n].value.get();
  auto v = evalConstant(axis, "an axis");
  if (!v)
    return;
  if (!isInteger(*v)) {
    error(axis->loc, "axis must be an integer but is " + fmt(*v));
    return;
  }
  call.constantArgs = {*v};
  call.binding.kind = Binding::Kind::Builtin;
}

void Sema::resolveDrop(CallExpr &call, const BuiltinFunction &fn,
                       Scope &scope) {
  if (scope.def) {
    error(call.calleeLoc, describe(*scope.def) + " cannot draw random numbers");
    return;
  }
  if (!checkBuiltinArity(call, fn.arity))
    return;
  Expr *label = call.args[0].value.get();
  if (label && labelClasses(label) == 0 && !conditionOf(label)) {
    error(label->loc, "first argument of 'drop' must be a class label or a condition drawn "
                      "with the data, as y in 'x1, y ~ moons'");
    return;
  }
  Expr *prob = call.args[1].value.get();
  auto p = evalConstant(prob, "the probability of 'drop'");
  if (!p)
    return;
  if (*p < 0 || *p > 1) {
    error(prob->loc,
          "the probability of 'drop' must be in [0, 1] but is " + fmt(*p));
    return;
  }
  call.constantArgs = {*p};
  call.binding.kind = Binding::Kind::Builtin;
}

void Sema::resolveStandardDraw(CallExpr &call, Scope &scope) {
  const Expr *like = nullptr;
  for (const Arg &arg : call.args) {
    const Expr *v = arg.value.get();
    bool namesParam =
        v && v->kind == Expr::Kind::Name &&
        static_cast<const NameExpr *>(v)->binding.kind ==
            Binding::Kind::PathParam;
    if (arg.name != "like" || !namesParam || like) {
      error(arg.loc, "inside " + describe(*scope.def) + ", '" +
                         call.callee +
                         "' takes no arguments other than 'like: PARAM'");
      return;
    }
    like = v;
  }
  call.binding.kind = Binding::Kind::Builtin;
  call.orderedArgs = {nullptr, nullptr, like};
}

Shape Sema::inferBuiltin(CallExpr &call) {
  std::vector<Shape> in;
  for (const Arg &arg : call.args) {
    if (isShapeList(call, arg)) { // a constant, not a per-sample value
      in.push_back(Shape());
      continue;
    }
    if (!arg.value || !arg.value->shape.isKnown())
      return Shape();
    in.push_back(arg.value->shape);
  }
  const std::string &name = call.callee;
  switch (builtinKind(name)) {
  case BuiltinKind::Normal:
  case BuiltinKind::Uniform:
    if (call.orderedArgs.size() == 4) // in a flow (checkDistribution's)
      return call.shape;
    // inside a dist: standard draws
    if (call.orderedArgs.size() == 3 && call.orderedArgs[2])
      return call.orderedArgs[2]->shape;
    return Shape::scalar();
  case BuiltinKind::Math:
  case BuiltinKind::Ddt:
    return in.size() == 1 ? in[0] : Shape();
  case BuiltinKind::Categorical: { // one-hot, the shape of like (else of the weights)
    if (in.empty())
      return Shape();
    Shape drawn = in.back();
    if (!drawn.isTensor()) {
      shapeError(call.calleeLoc, "'categorical' draws along the last axis of a tensor but its "
                                 "argument is a scalar");
      return Shape();
    }
    auto b = in.size() == 2 ? broadcast(drawn, in[0]) : std::optional<Shape>(drawn);
    if (!b || *b != drawn) {
      shapeError(call.args[0].value->loc, "the weights of 'categorical' are " + in[0].str() +
                                              ", which does not broadcast to 'like' " +
                                              drawn.str());
      return Shape();
    }
    return drawn;
  }
  case BuiltinKind::Jvp: // the tangent has the shape of what it moves
    if (in.size() != 3)
      return Shape();
    if (in[1] != in[2]) {
      shapeError(call.args[2].value->loc, "the tangent of 'jvp' must have the shape of " +
                                              in[1].str() + " but is " + in[2].str());
      return Shape();
    }
    return in[0];
  case BuiltinKind::Reduce:
  case BuiltinKind::Softmax: {
    bool softmax = builtinKind(name) == BuiltinKind::Softmax;
    if (in.empty())
      return Shape();
    if (!in[0].isTensor()) {
      shapeError(call.calleeLoc,
                 "'" + name + "' needs a tensor but its argument is " +
                     (in[0].isScalar() ? std::string("a scalar") : in[0].str()));
      return Shape();
    }
    if (call.constantArgs.empty()) // over every element (softmax: its last axis)
      return softmax ? in[0] : Shape::scalar();
    // Over one axis: that axis goes.
    int64_t rank = static_cast<int64_t>(in[0].rank());
    auto axis = static_cast<int64_t>(call.constantArgs[0]);
    if (axis < -rank || axis >= rank) {
      shapeError(call.args[1].value->loc, "axis " + std::to_string(axis) +
                                              " is out of range for " + in[0].str());
      return Shape();
    }
    // The axis as written stays in constantArgs: a definition's body is
    // checked once per shape of its arguments, and ranks may differ.
    if (axis < 0)
      axis += rank;
    if (softmax) // along the axis, the shape kept
      return in[0];
    std::vector<int64_t> dims = in[0].dims;
    dims.erase(dims.begin() + axis);
    return Shape::tensor(dims);
  }
  case BuiltinKind::Reshape: {
    if (in.size() != 2 || call.constantArgs.empty())
      return Shape();
    std::vector<int64_t> dims(call.constantArgs.begin(), call.constantArgs.end());
    Shape to = Shape::tensor(dims);
    if (!in[0].isTensor() || in[0].numElements() != to.numElements()) {
      shapeError(call.calleeLoc, "cannot reshape " + in[0].str() + " into " + to.str() +
                                     ": they have different numbers of elements");
      return Shape();
    }
    return to;
  }
  case BuiltinKind::Where:
  case BuiltinKind::Clamp:
  case BuiltinKind::MinMax: {
    Shape result = Shape::scalar();
    for (const Shape &s : in) {
      auto b = broadcast(result, s);
      if (!b) {
        shapeError(call.calleeLoc, "shape mismatch in '" + name + "': " +
                                       result.str() + " and " + s.str());
        return Shape();
      }
      result = *b;
    }
    return result;
  }
  case BuiltinKind::OneHot: {
    auto it = oneHotLength.find(&call);
    if (in.size() != 2 || it == oneHotLength.end())
      return Shape();
    if (!in[0].isScalar()) {
      shapeError(call.args[0].value->loc,
                 "first argument of 'one_hot' must be a scalar but is " +
                     in[0].str());
      return Shape();
    }
    return Shape::vector(it->second);
  }
  case BuiltinKind::Drop: // a label (scalar) or a condition (its shape)
    return in.size() == 2 ? in[0] : Shape();
  case BuiltinKind::Concat:
  case BuiltinKind::Stack:
    return inferJoin(call, in);
  case BuiltinKind::CrossEntropy: { // logits and target of one shape, classes along the axis
    if (in.size() < 2)
      return Shape();
    if (!in[0].isTensor() || in[0] != in[1]) {
      shapeError(call.calleeLoc, "'cross_entropy' needs logits and a target of one tensor "
                                 "shape, but they are " + in[0].str() + " and " + in[1].str());
      return Shape();
    }
    auto rank = static_cast<int64_t>(in[0].rank());
    if (!call.constantArgs.empty()) {
      auto axis = static_cast<int64_t>(call.constantArgs[0]);
      if (axis < -rank || axis >= rank) {
        shapeError(call.args[2].value->loc, "axis " + std::to_string(axis) +
                                                " is out of range for " + in[0].str());
        return Shape();
      }
    }
    return Shape::scalar();
  }
  case BuiltinKind::Mse: // mean over features of (a - b)^2
    if (in.size() != 2)
      return Shape();
    if (in[0] != in[1]) {
      shapeError(call.calleeLoc, "'mse' arguments have different shapes: " + in[0].str() +
                                     " and " + in[1].str());
      return Shape();
    }
    return Shape::scalar();
  default:
    return Shape();
  }
}

Shape Sema::inferJoin(CallExpr &call, const std::vector<Shape> &in) {
  bool stack = builtinKind(call.callee) == BuiltinKind::Stack;
  std::vector<Shape> values;
  for (size_t i = 0; i < call.args.size() && i < in.size(); ++i)
    if (call.args[i].name.empty())
      values.push_back(in[i]);
  if (values.empty() || call.constantArgs.empty())
    return Shape();
  const Shape &first = values[0];
  int64_t rank = static_cast<int64_t>(first.rank()) + (stack ? 1 : 0);
  if (!stack && first.isScalar()) {
    shapeError(call.args[0].value->loc,
               "'concat' joins tensors along an axis, but this is a scalar (stack joins "
               "scalars)");
    return Shape();
  }
  auto axis = static_cast<int64_t>(call.constantArgs[0]);
  if (axis < -rank || axis >= rank) {
    const Arg &a = call.args.back();
    shapeError(a.value ? a.value->loc : call.calleeLoc,
               "axis " + std::to_string(axis) + " is out of range for " +
                   (stack ? "values " + first.str() + " stacked" : first.str()));
    return Shape();
  }
  if (axis < 0)
    axis += rank;
  std::vector<int64_t> dims = first.dims;
  for (size_t i = 1; i < values.size(); ++i) {
    const Shape &s = values[i];
    bool fits = stack ? s == first : s.rank() == first.rank();
    for (int64_t k = 0; fits && !stack && k < static_cast<int64_t>(s.rank()); ++k)
      fits = k == axis || s.dims[k] == first.dims[k];
    if (!fits) {
      shapeError(call.args[i].value->loc,
                 "'" + call.callee + "' needs " +
                     (stack ? std::string("values of one shape")
                            : "tensors equal but along axis " + std::to_string(axis)) +
                     ", but this is " + s.str() + " and the first " + first.str());
      return Shape();
    }
    if (!stack)
      dims[axis] += s.dims[axis];
  }
  if (stack)
    dims.insert(dims.begin() + axis, static_cast<int64_t>(values.size()));
  return Shape::tensor(dims);
}
