//===- SemaTest.cpp - Semantic analysis of .flow specs --------------------===//
//
// Checks what Sema annotates (bindings, shapes, flow roles, evaluated
// settings and tableaux), the exact message and line:col of its errors, the
// flow rules (ddt, loss, t and x0), tableau checks, and imports (std modules,
// quoted files, cycles, the real stdlib/).
//
//===----------------------------------------------------------------------===//

#include "LangTestUtil.h"
#include "flowc/Lang/Builtins.h"

#include <gtest/gtest.h>

using namespace flowc;
using namespace flowc::ast;
using namespace flowc::test;

namespace {

/// Runs parse + Sema on `text`; returns all errors as "line:col: message".
std::vector<std::string> errorsOf(const std::string &text) {
  Module module;
  CollectingDiagnostics diags;
  bool ok = check(text, module, diags);
  EXPECT_EQ(ok, diags.errors.empty());
  std::vector<std::string> out;
  for (const Error &e : diags.errors)
    out.push_back(std::to_string(e.line) + ":" + std::to_string(e.col) + ": " +
                  e.message);
  return out;
}

using Errors = std::vector<std::string>;

/// Data, a model and a path shared by the flow snippets below (3 lines).
const std::string prelude = "data moons = toy.moons()\n"
                            "model v = mlp()\n"
                            "path linear(x0, x1, t) = (1 - t) * x0 + t * x1\n";

TEST(Sema, DesignExampleShapesAndBindings) {
  Module module;
  CollectingDiagnostics diags;
  ASSERT_TRUE(check(designExample(), module, diags)) << diags.dump();

  auto *data = findDecl<DataDecl>(module, "moons");
  EXPECT_EQ(data->dim, 2);
  ASSERT_EQ(data->params.size(), 1u);
  EXPECT_EQ(data->params[0].first, "noise");
  EXPECT_DOUBLE_EQ(data->params[0].second, 0.05);

  auto *model = findDecl<ModelDecl>(module, "v");
  EXPECT_EQ(model->width, 256);
  EXPECT_EQ(model->depth, 3);
  EXPECT_EQ(model->activation, "silu");
  EXPECT_EQ(model->timeFeatures, 16);

  auto *flow = findDecl<FlowDecl>(module, "moons_rf");
  ASSERT_TRUE(flow);
  auto &body = flow->body;
  EXPECT_EQ(body[0]->shapes[0], Shape::vector(2)); // x1
  EXPECT_EQ(body[1]->shapes[0], Shape::vector(2)); // x0
  EXPECT_EQ(body[2]->shapes[0], Shape::scalar());  // t
  EXPECT_EQ(body[3]->shapes[0], Shape::vector(2)); // xt
  EXPECT_EQ(flow->sourceStmt, body[1].get());
  EXPECT_EQ(flow->timeStmt, body[2].get());
  EXPECT_EQ(flow->lossStmt, body[4].get());

  auto &x1Ref = static_cast<NameExpr &>(*body[0]->value);
  EXPECT_EQ(x1Ref.binding.kind, Binding::Kind::Decl);
  EXPECT_EQ(x1Ref.binding.decl, data);

  auto &normal = static_cast<CallExpr &>(*body[1]->value);
  EXPECT_EQ(normal.binding.kind, Binding::Kind::Builtin);
  EXPECT_EQ(normal.shape, Shape::vector(2));
  ASSERT_EQ(normal.orderedArgs.size(), 4u); // mean, std, like, shape
  EXPECT_EQ(normal.orderedArgs[0], nullptr);
  EXPECT_EQ(normal.orderedArgs[2], normal.args[0].value.get());

  auto &call = static_cast<CallExpr &>(*body[3]->value);
  auto *path = findDecl<PathDecl>(module, "linear");
  EXPECT_EQ(call.binding.kind, Binding::Kind::Decl);
  EXPECT_EQ(call.binding.decl, path);
  EXPECT_EQ(call.shape, Shape::vector(2));
  ASSERT_EQ(call.orderedArgs.size(), 3u);
  EXPECT_EQ(call.orderedArgs[1], call.args[1].value.get());
  auto &x0 = static_cast<const NameExpr &>(*call.orderedArgs[0]);
  EXPECT_EQ(x0.binding.kind, Binding::Kind::FlowLocal);
  EXPECT_EQ(x0.binding.stmt, body[1].get());
  // Path parameters and body carry the shapes of the (last) call site.
  EXPECT_EQ(path->params[0].shape, Shape::vector(2));
  EXPECT_EQ(path->params[2].shape, Shape::scalar());
  EXPECT_EQ(path->body->shape, Shape::vector(2));
  auto &tParam = static_cast<NameExpr &>(
      *static_cast<BinaryExpr &>(
           *static_cast<BinaryExpr &>(*path->body).rhs)
           .lhs);
  EXPECT_EQ(tParam.binding.kind, Binding::Kind::PathParam);
  EXPECT_EQ(tParam.binding.param, &path->params[2]);

  auto &mse = static_cast<CallExpr &>(*body[4]->value);
  EXPECT_EQ(mse.shape, Shape::scalar());
  auto &vCall = static_cast<CallExpr &>(*mse.args[0].value);
  EXPECT_EQ(vCall.binding.decl, model);
  EXPECT_EQ(vCall.shape, Shape::vector(2));
  EXPECT_EQ(mse.args[1].value->shape, Shape::vector(2)); // ddt(xt)

  auto *solver = findDecl<SolverDecl>(module, "heun");
  EXPECT_EQ(solver->c, (std::vector<double>{0, 1}));
  EXPECT_EQ(solver->b, (std::vector<double>{0.5, 0.5}));
  ASSERT_EQ(solver->a.size(), 2u);
  EXPECT_TRUE(solver->a[0].empty());
  EXPECT_EQ(solver->a[1], (std::vector<double>{1}));

  auto *train = static_cast<RunDecl *>(module.decls[5].get());
  EXPECT_EQ(train->flow, flow);
  EXPECT_EQ(train->number("steps", 0), 20000);
  EXPECT_EQ(train->number("batch", 0), 4096);
  EXPECT_DOUBLE_EQ(train->number("lr", 0), 1e-3);
  EXPECT_DOUBLE_EQ(train->number("ema", 0), 0.999);
  EXPECT_EQ(train->number("seed", -1), 0);
  auto *sample = static_cast<RunDecl *>(module.decls[6].get());
  EXPECT_EQ(sample->flow, flow);
  EXPECT_EQ(sample->solver, solver);
  EXPECT_EQ(sample->number("steps", 0), 32);
  EXPECT_EQ(sample->number("n", 0), 50000);
}

TEST(Sema, ErrorLocations) {
  EXPECT_EQ(errorsOf(prelude + "flow f {\n"
                               "  x1 ~ moons\n"
                               "  x0 ~ normal(like: x1)\n"
                               "  t ~ uniform(0, 1)\n"
                               "  xt = linear(x0, x9, t)\n"
                               "  loss mse(v(xt, t), ddt(xt))\n"
                               "}\n"),
            Errors{"8:19: use of undefined name 'x9'"});
  EXPECT_EQ(errorsOf(prelude + "flow f {\n"
                               "  x1 ~ moons\n"
                               "  x0 ~ normal(like: x1)\n"
                               "  t ~ uniform(0, 1)\n"
                               "  xt = linear(x0, x1)\n"
                               "  loss mse(v(x0, t), x1)\n"
                               "}\n"),
            Errors{"8:8: path 'linear' takes 3 arguments but 2 were given"});
  EXPECT_EQ(errorsOf("data a = toy.x()\n  data b = toy.moons(foo: 1)"),
            (Errors{"1:10: unknown data generator 'toy.x'",
                    "2:22: unknown parameter 'foo' for 'toy.moons'"}));
  EXPECT_EQ(errorsOf("path linear(a) = a\npath linear(b) = b"),
            Errors{"2:6: redefinition of 'linear'"});
  EXPECT_EQ(errorsOf("flow f {}\ntrain f { steps: 10, foo: 1 }"),
            (Errors{"1:6: flow 'f' applies no model; a flow must apply a network "
                    "or a closed-form model",
                    "2:22: unknown setting 'foo' in train block"}));
}

TEST(Sema, NamedPathArguments) {
  Module module;
  CollectingDiagnostics diags;
  ASSERT_TRUE(check(prelude + "flow f {\n"
                              "  x1 ~ moons\n"
                              "  x0 ~ normal(like: x1)\n"
                              "  t ~ uniform(0, 1)\n"
                              "  xt = linear(t: t, x0: x0, x1: x1)\n"
                              "  loss mse(v(xt, t), ddt(xt))\n"
                              "}\n",
                    module, diags))
      << diags.dump();
  auto &call = static_cast<CallExpr &>(
      *findDecl<FlowDecl>(module, "f")->body[3]->value);
  ASSERT_EQ(call.orderedArgs.size(), 3u);
  EXPECT_EQ(call.orderedArgs[0], call.args[1].value.get());
  EXPECT_EQ(call.orderedArgs[1], call.args[2].value.get());
  EXPECT_EQ(call.orderedArgs[2], call.args[0].value.get());
  EXPECT_EQ(call.shape, Shape::vector(2));

  EXPECT_EQ(errorsOf("path p(a, b) = a + b\nflow f { x0 ~ normal(shape: [2])\n"
                     "  y = p(a: 1, a: 2)\n  z = p(b: 1, 2) }"),
            (Errors{"3:15: parameter 'a' of path 'p' is given twice",
                    "4:15: positional argument after named argument",
                    "2:6: flow 'f' defines no time variable 't'",
                    "2:6: flow 'f' applies no model; a flow must apply a network "
                   "or a closed-form model"}));
}

/// The built-ins of vectors in and out take the number of arguments the
/// language reference gives (docs/language.md): Sema, which takes arities
/// from the shared table (Builtins.h), accepts that many and rejects one more
/// with that count. Every such row of the table is listed here.
TEST(Sema, BuiltinArities) {
  const std::map<std::string, int> documented = {
      {"exp", 1},  {"log", 1},     {"sin", 1},  {"cos", 1},   {"tan", 1},
      {"sqrt", 1}, {"tanh", 1},    {"erf", 1},  {"abs", 1},  {"log1p", 1}, {"expm1", 1},
      {"sigmoid", 1}, {"round", 1}, {"floor", 1}, {"min", 2}, {"max", 2}, {"where", 3},
      {"clamp", 3}, {"sg", 1}, {"batch_mean", 1}};
  // (softmax, like sum, takes an optional axis: see TensorShapes.)
  for (const BuiltinFunction &fn : builtinFunctions())
    if (fn.kind == BuiltinKind::Math ||
        fn.kind == BuiltinKind::MinMax || fn.kind == BuiltinKind::Where ||
        fn.kind == BuiltinKind::Clamp)
      EXPECT_TRUE(documented.count(fn.name)) << fn.name;
  const std::string head = prelude + "flow f {\n"
                                     "  x1 ~ moons\n"
                                     "  x0 ~ normal(like: x1)\n"
                                     "  t ~ uniform(0, 1)\n";
  const std::string tail = "  loss mse(v(x0, t), x1)\n}\n";
  for (const auto &[name, arity] : documented) {
    ASSERT_TRUE(lookupBuiltin(name)) << name;
    // sg of a value no network reaches is an error of its own (below).
    std::string args = name == "sg" ? "v(x0, t)" : "x1";
    for (int i = 1; i < arity; ++i)
      args += ", x1";
    EXPECT_EQ(errorsOf(head + "  y = " + name + "(" + args + ")\n" + tail), Errors{})
        << name;
    EXPECT_EQ(errorsOf(head + "  y = " + name + "(" + args + ", x1)\n" + tail),
              Errors{"8:7: '" + name + "' takes " + std::to_string(arity) +
                     (arity == 1 ? " argument" : " arguments") + " but " +
                     std::to_string(arity + 1) + " were given"})
        << name;
  }
}

TEST(Sema, StopGradientWhereNothingFlows) {
  const std::string head = prelude + "flow f {\n"
                                     "  x1 ~ moons\n"
                                     "  x0 ~ normal(like: x1)\n"
                                     "  t ~ uniform(0, 1)\n";
  EXPECT_EQ(errorsOf(head + "  a = sg(x1 - x0)\n  loss mse(v(x0, t), a)\n}\n"),
            Errors{"8:7: sg(...) stops nothing here: its argument depends on no network and "
                   "the flow takes no ddt or jvp, so no derivative flows through it"});
  EXPECT_EQ(errorsOf(head + "  a = v(x0, t)\n  loss mse(v(x0 + sg(a), t), x1)\n}\n"),
            Errors{});
  // With a ddt, sg of a time-dependent value stops its time derivative
  // (MeanFlow's end time); `e` shadows the built-in constant.
  EXPECT_EQ(errorsOf(head + "  e = sg(t + (1 - t) * 0.5)\n"
                            "  loss mse(v(x0, e) + ddt(t * x1), x1)\n}\n"),
            Errors{});
}

TEST(Sema, ShapeRules) {
  const std::string head = prelude + "flow f {\n"
                                     "  x1 ~ moons\n"
                                     "  x0 ~ normal(like: x1)\n"
                                     "  t ~ uniform(0, 1)\n";
  const std::string tail = "  loss mse(v(x0, t), x1)\n}\n";
  // Broadcasting of scalars, math functions and constants.
  {
    Module module;
    CollectingDiagnostics diags;
    ASSERT_TRUE(check(head +
                          "  a = 2 * x1 + t\n"
                          "  b = exp(-t^2) * sin(pi * x1) + e\n"
                          "  c = 0.5 * uniform(like: x1)\n" // a draw inside an expression
                          + tail,
                      module, diags));
    auto *flow = findDecl<FlowDecl>(module, "f");
    EXPECT_EQ(flow->body[3]->shapes[0], Shape::vector(2));
    EXPECT_EQ(flow->body[4]->shapes[0], Shape::vector(2));
    EXPECT_EQ(flow->body[5]->shapes[0], Shape::vector(2));
    EXPECT_EQ(diags.dump(), "");
  }
  EXPECT_EQ(errorsOf(head + "  s ~ normal(mean: x1, like: t)\n" + tail),
            Errors{"8:20: shape mismatch: [2] and scalar"});
  EXPECT_EQ(errorsOf(head + "  s ~ normal(x1, 1)\n  u ~ uniform(like: t)\n" +
                     tail),
            Errors{});
  EXPECT_EQ(errorsOf(head + "  y = t ^ x1\n" + tail),
            Errors{"8:9: exponent must be a scalar but is [2]"});
  EXPECT_EQ(errorsOf(head + "  y = v(t, x1)\n" + tail),
            Errors{"9:14: model 'v' is applied to (tensor [2], time) here but to "
                   "(time, tensor [2]) elsewhere; a network takes arguments of one "
                   "signature"});
  // Shape errors inside a path body are reported at the call in the flow.
  EXPECT_EQ(errorsOf(head + "  y = linear(x0, x1, x1) ^ x1\n" + tail),
            Errors{"8:26: exponent must be a scalar but is [2]"});
  EXPECT_EQ(errorsOf("path sq(a, b) = a ^ b\n" + head +
                     "  y = sq(x0, x1)\n" + tail),
            Errors{"9:7: in path 'sq': exponent must be a scalar but is [2]"});
  EXPECT_EQ(errorsOf(head + "  y = x1 ~ 2\n" + tail).size(), 1u); // syntax
}

TEST(Sema, DdtAndLossRules) {
  const std::string draws = prelude + "flow f {\n"
                                      "  x1 ~ moons\n"
                                      "  x0 ~ normal(like: x1)\n";
  EXPECT_EQ(errorsOf(draws + "  u = ddt(x1)\n  t ~ uniform(0, 1)\n"
                             "  loss mse(v(x0, t), u)\n}"),
            Errors{"7:7: 'ddt' needs the time variable 't' defined earlier "
                   "in flow 'f'"});
  EXPECT_EQ(errorsOf("path p(x) = ddt(x)"),
            Errors{"1:13: 'ddt' can only be used inside a flow"});
  EXPECT_EQ(errorsOf(draws + "  t ~ uniform(0, 1)\n  loss mse(x1, ddt(x1))\n}"),
            Errors{"8:3: loss of flow 'f' uses no network"});
  // The network may be reached through a local.
  EXPECT_EQ(errorsOf(draws + "  t ~ uniform(0, 1)\n  p = 2 * v(x0, t)\n"
                             "  q = p + 1\n  loss mse(x1, q)\n}"),
            Errors{});
  EXPECT_EQ(errorsOf(draws + "  t ~ uniform(0, 1)\n  loss mse(v(x0, t), t)\n}"),
            Errors{"8:8: 'mse' arguments have different shapes: [2] and "
                   "scalar"});
  EXPECT_EQ(errorsOf(draws + "  t ~ uniform(0, 1)\n  loss mse(v(x0, t))\n}"),
            Errors{"8:8: 'mse' takes 2 arguments but 1 was given"});
  EXPECT_EQ(errorsOf(draws + "  t ~ uniform(0, 1)\n  loss v(x0, t)\n}"),
            Errors{"8:8: a loss must be a scalar per sample, but this is [2]; reduce it, "
                   "e.g. with mean(...) or mse(a, b)"});
  // Any scalar expression of a network is a loss; several add up.
  EXPECT_EQ(errorsOf(draws + "  t ~ uniform(0, 1)\n  loss mean(v(x0, t)^2)\n"
                             "  loss mse(v(x0, t), x1)\n}"),
            Errors{});
  EXPECT_EQ(errorsOf(draws + "  t ~ uniform(0, 1)\n  loss a = mse(v(x0, t), x1)\n"
                             "  loss a = mse(v(x1, t), x0)\n}"),
            Errors{"9:8: flow 'f' has two losses named 'a'"});
  EXPECT_EQ(errorsOf(draws + "  t ~ uniform(0, 1)\n  loss reg = mean(x0)\n"
                             "  loss mse(v(x0, t), x1)\n}"),
            Errors{"8:3: loss 'reg' of flow 'f' uses no network"});
  // mse is an ordinary function now, and a loss's name is not a variable.
  EXPECT_EQ(errorsOf(draws + "  t ~ uniform(0, 1)\n  y = mse(x0, x1)\n"
                             "  loss mse(v(x0, t), x1) + y\n}"),
            Errors{});
  EXPECT_EQ(errorsOf(draws + "  t ~ uniform(0, 1)\n  loss a = mse(v(x0, t), x1)\n"
                             "  loss b = a\n}"),
            Errors{"9:12: use of undefined name 'a'"});
  EXPECT_EQ(errorsOf(draws + "  t = x1\n  loss mse(v(x0, 1), x1)\n}"),
            Errors{"7:3: time variable 't' must be a scalar but is [2]"});
  // A source may be an expression (x0 = EXPR); that sampling can evaluate
  // it (no data points, no time) is the compiler's check.
  EXPECT_EQ(errorsOf(prelude + "flow f {\n  x1 ~ moons\n  x0 = x1\n"
                               "  t ~ uniform(0, 1)\n  loss mse(v(x0, t), x1)\n}"),
            Errors{});
  EXPECT_EQ(errorsOf(draws + "  t, s ~ uniform(0, 1)\n  loss mse(v(x0, 1), x1)\n}"),
            Errors{"7:6: only a data set draws several values (a point and its "
                   "label or condition), as in 'x1, y ~ moons'"});
}

// Labels: `x1, y ~ data` gives a scalar label with the data set's classes;
// networks take it as a third argument, drop() hides it with probability p.
TEST(Sema, LabelsAndConditionDropout) {
  const std::string prelude = "data moons = toy.moons()\nmodel v = mlp()\n";
  auto flowWith = [&](const std::string &stmts) {
    return prelude + "flow f {\n  x1, y ~ moons\n  x0 ~ normal(like: x1)\n"
                     "  t ~ uniform(0, 1)\n" + stmts + "}\n";
  };
  EXPECT_EQ(errorsOf(flowWith("  loss mse(v(x0, t, drop(y, 0.1)), x1)\n")), Errors{});
  EXPECT_EQ(errorsOf(flowWith("  c = drop(y, 0.2)\n  loss mse(v(x0, t, c), x1)\n")),
            Errors{});
  // A scalar that is no label is a time: v(x, s, t) has two.
  EXPECT_EQ(errorsOf(flowWith("  loss mse(v(x0, t, t), x1)\n")), Errors{});
  EXPECT_EQ(errorsOf(flowWith("  loss mse(v(x0, t, drop(t, 0.1)), x1)\n")),
            Errors{"7:26: first argument of 'drop' must be a class label or a condition "
                   "drawn with the data, as y in 'x1, y ~ moons'"});
  EXPECT_EQ(errorsOf(flowWith("  loss mse(v(x0, t, drop(y, 1.5)), x1)\n")),
            Errors{"7:29: the probability of 'drop' must be in [0, 1] but is 1.5"});
  EXPECT_EQ(errorsOf(flowWith("  loss mse(v(x0, t, y, y), x1)\n")),
            Errors{"7:24: model 'v' takes at most one class label"});
  // and no cascade about the loss
  EXPECT_EQ(errorsOf(flowWith("  a = v(x0, t, y)\n  loss mse(v(x0, t), x1)\n")),
            Errors{"8:12: model 'v' is applied to (tensor [2], time) here but to "
                   "(tensor [2], time, label of 2 classes) elsewhere; a network takes "
                   "arguments of one signature"});
  EXPECT_EQ(errorsOf(prelude + "flow f {\n  x1, y, z ~ moons\n}\n"),
            (Errors{"4:10: data 'moons' gives a point and its label: at most 2 names",
                   "3:6: flow 'f' applies no model; a flow must apply a network "
                   "or a closed-form model"}));
  EXPECT_EQ(errorsOf("fn f(y) = drop(y, 0.1)\n"),
            Errors{"1:11: fn 'f' cannot draw random numbers"});
}

TEST(Sema, NameErrors) {
  const std::string head = prelude + "flow f {\n"
                                     "  x1 ~ moons\n"
                                     "  x0 ~ normal(like: x1)\n"
                                     "  t ~ uniform(0, 1)\n";
  const std::string tail = "  loss mse(v(x0, t), x1)\n}\n";
  EXPECT_EQ(errorsOf(head + "  y = foo(x1) + moons + v + x1(2) + exp\n" + tail),
            (Errors{"8:7: unknown function 'foo'",
                    "8:17: cannot use data 'moons' as a value; draw from it "
                    "with '~'",
                    "8:25: cannot use model 'v' as a value",
                    "8:29: 'x1' is not a function",
                    "8:37: cannot use function 'exp' as a value"}));
  EXPECT_EQ(errorsOf(head + "  x1 ~ moons\n  exp = 1\n  linear = 2\n" + tail),
            (Errors{"8:3: redefinition of 'x1'",
                    "9:3: cannot redefine built-in 'exp'",
                    "10:3: redefinition of 'linear'"}));
  EXPECT_EQ(errorsOf(head + "  a ~ linear(x0, x1, t)\n  b ~ x1\n  c ~ 1 + 2\n"
                            "  d ~ nothing\n" +
                     tail),
            (Errors{"8:7: cannot draw from 'linear'; path 'linear' is not "
                    "a dist",
                    "9:7: cannot draw from 'x1'",
                    "10:9: cannot draw from an expression; expected data, a "
                    "dist, normal(...) or uniform(...)",
                    "11:7: use of undefined name 'nothing'"}));
  EXPECT_EQ(errorsOf(head + "  a ~ normal(1, 2, 3)\n  b ~ uniform(low: 0, "
                            "lo: 1)\n" +
                     tail),
            (Errors{"8:7: 'normal' takes at most 2 positional arguments but "
                    "3 were given",
                    "9:23: unknown argument 'lo' for 'uniform'"}));
  EXPECT_EQ(errorsOf(head + "  y = 1e999 * x1\n" + tail),
            Errors{"8:7: number is out of range"});
  EXPECT_EQ(errorsOf("path p(x, x) = v(x, 1) + q\nmodel v = mlp()"),
            (Errors{"1:11: duplicate parameter 'x'",
                    "1:16: cannot call model 'v' inside a path",
                    "1:26: use of undefined name 'q'"}));
  EXPECT_EQ(errorsOf("path a(x) = b(x)\npath b(x) = 2 * a(x)\npath c(x) = c(x)"),
            (Errors{"2:17: path 'b' calls itself through 'a'",
                    "3:13: path 'c' calls itself"}));
}

TEST(Sema, DataAndModelSettings) {
  Module module;
  CollectingDiagnostics diags;
  ASSERT_TRUE(check("data a = toy.eight_gaussians(noise: 1/2 - 0.25)\n"
                    "data b = toy.circles(0.1)\n"
                    "data c = toy.checkerboard()\n"
                    "model m = mlp(act: gelu)\n",
                    module, diags))
      << diags.dump();
  auto *a = findDecl<DataDecl>(module, "a");
  ASSERT_EQ(a->params.size(), 2u);
  EXPECT_EQ(a->params[0], (std::pair<std::string, double>{"scale", 4}));
  EXPECT_EQ(a->params[1], (std::pair<std::string, double>{"noise", 0.25}));
  auto *b = findDecl<DataDecl>(module, "b");
  EXPECT_EQ(b->params[0].second, 0.1);
  EXPECT_EQ(b->params[1].second, 0.8); // scikit-learn's make_circles default
  EXPECT_EQ(findDecl<DataDecl>(module, "c")->dim, 2);
  auto *m = findDecl<ModelDecl>(module, "m");
  EXPECT_EQ(m->width, 128);
  EXPECT_EQ(m->depth, 3);
  EXPECT_EQ(m->activation, "gelu");
  EXPECT_EQ(m->timeFeatures, 16);

  EXPECT_EQ(errorsOf("data a = toy.moons(noise: -0.1)\n"
                     "data b = toy.moons(noise: x)\n"
                     "data c = toy.moons(noise: 1/0)\n"
                     "data d = toy.moons(1, 2)\n"),
            (Errors{"1:27: 'noise' must be >= 0 but is -0.1",
                    "2:27: expected a constant number for 'noise'",
                    "3:28: division by zero in constant expression",
                    "4:10: 'toy.moons' takes at most 1 argument but 2 were "
                    "given"}));
  EXPECT_EQ(errorsOf("model a = mlp(width: 2.5, depth: 0, act: swish)\n"
                     "model b = mlp(time: fourier(16, 2), bar: 1)\n"
                     "model c = mlp(time: sinusoid(16))\n"
                     "model d(x, t, s) = x\n"
                     "model e2 = cnn()\n"),
            (Errors{"1:22: 'width' must be a positive integer but is 2.5",
                    "1:34: 'depth' must be a positive integer but is 0",
                    "1:42: unknown activation 'swish'; expected silu, relu, "
                    "tanh or gelu",
                    "2:37: unknown parameter 'bar' for 'mlp'",
                    "2:21: 'fourier' takes 1 argument but 2 were given",
                    "3:21: 'time' must be fourier(K)",
                    "4:7: closed-form model 'd' takes 2 parameters (x, t) but "
                    "has 3",
                    "5:12: unknown network 'cnn'; expected mlp(...), unet(...), dit(...), "
                    "conv(...), tarflow(...), torchscript(...) or checkpoint(...)"}));
}

TEST(Sema, Tableaux) {
  Module module;
  CollectingDiagnostics diags;
  ASSERT_TRUE(check("solver rk4 = tableau(c: [0, 1/2, 1/2, 1],\n"
                    "  a: [[1/2], [0, 1/2], [0, 0, 1]],\n"
                    "  b: [1/6, 1/3, 1/3, 1/6])\n"
                    "solver euler = tableau(c: [0], a: [], b: [1])\n",
                    module, diags))
      << diags.dump();
  auto *rk4 = findDecl<SolverDecl>(module, "rk4");
  ASSERT_EQ(rk4->a.size(), 4u);
  for (size_t i = 0; i < 4; ++i)
    EXPECT_EQ(rk4->a[i].size(), i);
  EXPECT_DOUBLE_EQ(rk4->b[0], 1.0 / 6);
  auto *euler = findDecl<SolverDecl>(module, "euler");
  EXPECT_EQ(euler->c, std::vector<double>{0});
  EXPECT_EQ(euler->a.size(), 1u);

  EXPECT_EQ(
      errorsOf("solver s = tableau(c: [0, 1/2, 1/2], a: [[1/2], [0.4, 0]], "
               "b: [1/4, 1/4, 1/2])"),
      Errors{"1:49: row 2 of 'a' sums to 0.4 but c is 0.5"});
  EXPECT_EQ(errorsOf("solver s = tableau(c: [0, 1], a: [[1]], b: [1/2, 1/2, 0])"),
            Errors{"1:44: 'b' has 3 entries but 'c' has 2"});
  EXPECT_EQ(errorsOf("solver s = tableau(c: [0, 1], a: [[1]], b: [0.5, 0.4])"),
            Errors{"1:44: entries of 'b' sum to 0.9 but must sum to 1"});
  EXPECT_EQ(errorsOf("solver s = tableau(c: [1], a: [], b: [1])"),
            Errors{"1:24: c[0] must be 0 but is 1"});
  EXPECT_EQ(errorsOf("solver s = tableau(c: [0, 1], a: [], b: [1/2, 1/2])"),
            Errors{"1:34: 'a' has 0 rows but needs 1 (one fewer than 'c' has "
                   "entries)"});
  EXPECT_EQ(errorsOf("solver s = tableau(c: [0, 1, 1], a: [[1], [1]], "
                     "b: [1/2, 1/4, 1/4])"),
            Errors{"1:43: row 2 of 'a' has 1 entry but needs 2"});
  EXPECT_EQ(errorsOf("solver s = tableau(c: [], a: [], b: [])"),
            Errors{"1:23: 'c' must not be empty"});
  EXPECT_EQ(errorsOf("solver s = tableau(c: 0, a: [1], b: [x])"),
            (Errors{"1:23: 'c' must be a list of numbers",
                    "1:38: expected a constant number for 'b'",
                    "1:30: row 1 of 'a' must be a list"}));
  EXPECT_EQ(errorsOf("solver s = tableau(c: [0], a: [])"),
            Errors{"1:12: 'tableau' is missing 'b'"});
  EXPECT_EQ(errorsOf("solver s = tableau([0], a: [], b: [1])"),
            Errors{"1:20: arguments of 'tableau' must be named c, a and b "
                   "(and b_err, order)"});
  EXPECT_EQ(errorsOf("solver s = rk(4)"),
            Errors{"1:12: unknown solver form 'rk'; expected tableau(c: ..., "
                   "a: ..., b: ...)"});
}

TEST(Sema, RunSettings) {
  const std::string spec = prelude + "solver euler = tableau(c: [0], a: [], b: [1])\n"
                                     "flow f {\n"
                                     "  x1 ~ moons\n"
                                     "  x0 ~ normal(like: x1)\n"
                                     "  t ~ uniform(0, 1)\n"
                                     "  loss mse(v(x0, t), x1 - x0)\n"
                                     "}\n"; // 10 lines
  EXPECT_EQ(errorsOf(spec + "train f { lr: 2e-4, steps: 1e3, seed: 7 }\n"
                            "sample f { solver: euler, steps: 8, n: 10 }"),
            Errors{});
  EXPECT_EQ(errorsOf(spec + "train g { }\ntrain v { }"),
            (Errors{"11:7: unknown flow 'g'", "12:7: 'v' is not a flow"}));
  EXPECT_EQ(errorsOf(spec + "train f { steps: 2.5, batch: 0, ema: 1, seed: -1, "
                            "steps: 3 }"),
            (Errors{"11:18: 'steps' must be a positive integer but is 2.5",
                    "11:30: 'batch' must be a positive integer but is 0",
                    "11:38: 'ema' must be in [0, 1) but is 1",
                    "11:47: 'seed' must be a non-negative integer but is -1",
                    "11:51: duplicate setting 'steps'"}));
  EXPECT_EQ(errorsOf(spec + "train f { optimizer: lion(lr: 1) }\n"
                            "train f { optimizer: adam(lr: 1e-3), lr: 1e-3 }\n"
                            "train f { optimizer: adam(beta: 1), lr: 0 }"),
            (Errors{"11:22: unknown optimizer 'lion'; expected a fn such as adam(lr: ...) "
                    "or adamw (std.optimizers)",
                    "12:7: flow 'f' already has a train block",
                    "12:27: learning rate is given twice",
                    "13:7: flow 'f' already has a train block",
                    "13:41: 'lr' must be a positive number but is 0",
                    "13:27: optimizer 'adam' has no setting 'beta'"}));
  // Optimizers of std.optimizers (imported by the train block) and the
  // spec's own: a fn for the new parameter and one per state variable.
  EXPECT_EQ(errorsOf(spec + "train f { optimizer: adamw(wd: 0.1, b2: 0.95) }"), Errors{});
  EXPECT_EQ(errorsOf(spec + "train f { optimizer: sgd(mu: 0.9, lr: 0.1) }"), Errors{});
  EXPECT_EQ(errorsOf(spec + "fn signs(p, g, m, lr = 1e-4, b = 0.9) = "
                            "p - lr * (b * m + (1 - b) * g) / (abs(b * m + (1 - b) * g) + 1e-12)\n"
                            "fn signs_m(g, m, b) = b * m + (1 - b) * g\n"
                            "train f { optimizer: signs(b: 0.8) }"),
            Errors{});
  EXPECT_EQ(errorsOf(spec + "fn o(p, g, s, lr = 1) = p - lr * g * s\n"
                            "train f { optimizer: o }"),
            (Errors{"12:22: optimizer 'o' has state 's' (a parameter without a default) "
                    "but no fn 'o_s' that updates it"}));
  EXPECT_EQ(errorsOf(spec + "fn o(p, g, lr = 1) = p - lr * g\n"
                            "train f { optimizer: o(1) }"),
            (Errors{"12:24: arguments of optimizer 'o' must be named"}));
  // An optimizer gives each parameter one new value, not a list of them.
  EXPECT_EQ(errorsOf(spec + "fn o(p, g, lr = 1) = [p, g]\n"
                            "train f { optimizer: o }"),
            (Errors{"12:22: optimizer fn 'o' returns [2] but must return a scalar (it updates "
                    "one parameter)"}));
  EXPECT_EQ(errorsOf(spec + "fn o(p, g, q, lr = 1) = p - lr * g\nfn o_q(q, x) = q + x\n"
                            "train f { optimizer: o(q: 2) }"),
            (Errors{"13:24: 'q' of optimizer 'o' is given by the trainer, not a setting"}));
  EXPECT_EQ(errorsOf(spec + "fn o(p, g, q, lr = 1) = p - lr * g\nfn o_q(q, x) = q + x\n"
                            "train f { optimizer: o }"),
            (Errors{"13:22: parameter 'x' of fn 'o_q' is not one the optimizer binds "
                    "(p, g, step, lr, its state or settings of 'o')"}));
  EXPECT_EQ(errorsOf(spec + "fn o(p, g, lr = 1) = p * one_hot(0, 2)\n"
                            "train f { optimizer: o }"),
            (Errors{"12:22: optimizer fn 'o' returns [2] but must return a scalar "
                    "(it updates one parameter)"}));
  EXPECT_EQ(errorsOf(spec + "sample f { solver: heun, n: 1.5, foo: 2 }\n"
                            "sample f { solver: v }\n"
                            "sample f { solver: euler(steps: 0) }\n"
                            "sample f { steps: 2, solver: euler(steps: 3) }"),
            (Errors{"11:20: unknown solver 'heun'",
                    "11:29: 'n' must be a positive integer but is 1.5",
                    "11:34: unknown setting 'foo' in sample block",
                    "12:8: flow 'f' already has a sample block",
                    "12:20: 'v' is not a solver",
                    "13:8: flow 'f' already has a sample block",
                    "13:33: 'steps' must be a positive integer but is 0",
                    "14:8: flow 'f' already has a sample block",
                    "14:12: solver steps are given twice"}));
}

TEST(Sema, Imports) {
  MemoryLoader loader;
  loader.stdlibDir = "/lib";
  loader.files["/lib/std/paths.flow"] =
      "path linear(x0, x1, t) = (1 - t) * x0 + t * x1\n";
  loader.files["/lib/std/solvers.flow"] =
      "import std.paths // imported twice: loaded once\n"
      "solver euler = tableau(c: [0], a: [], b: [1])\n";
  loader.files["/specs/sub/data.flow"] =
      "import \"../main.flow\" // a cycle back to the main file\n"
      "data moons = toy.moons()\n";
  Module module;
  CollectingDiagnostics diags;
  ASSERT_TRUE(check("import std.paths\n"
                    "import std.solvers\n"
                    "import \"sub/data.flow\"\n"
                    "model v = mlp()\n"
                    "flow f {\n"
                    "  x1 ~ moons\n"
                    "  x0 ~ normal(like: x1)\n"
                    "  t ~ uniform(0, 1)\n"
                    "  loss mse(v(linear(x0, x1, t), t), x1 - x0)\n"
                    "}\n"
                    "sample f { solver: euler }\n",
                    module, diags, loader, "/specs/main.flow"))
      << diags.dump();
  EXPECT_EQ(loader.loaded, (std::vector<std::string>{"/lib/std/paths.flow",
                                                      "/lib/std/solvers.flow",
                                                      "/specs/sub/data.flow"}));
  auto *path = findDecl<PathDecl>(module, "linear");
  ASSERT_TRUE(path);
  EXPECT_EQ(path->file, "/lib/std/paths.flow");
  EXPECT_EQ(path->loc.file, "/lib/std/paths.flow");
  EXPECT_EQ(findDecl<DataDecl>(module, "moons")->file, "/specs/sub/data.flow");

  // Missing modules, and a redefinition across files reported at the user's
  // declaration (the import comes first).
  Module m2;
  CollectingDiagnostics d2;
  EXPECT_FALSE(check("import std.nope\nimport \"gone.flow\"\nimport std.paths\n"
                     "path linear(a) = a\n",
                     m2, d2, loader, "/specs/main.flow"));
  EXPECT_EQ(d2.dump(),
            "/specs/main.flow:1:8: cannot find module 'std.nope'\n"
            "/specs/main.flow:2:8: cannot find file 'gone.flow'\n"
            "/specs/main.flow:4:6: redefinition of 'linear'\n");

  // A syntax error inside an imported file is reported in that file.
  loader.files["/lib/std/broken.flow"] = "path p(x) = x +\n";
  Module m3;
  CollectingDiagnostics d3;
  EXPECT_FALSE(check("import std.broken\n", m3, d3, loader, "/specs/main.flow"));
  EXPECT_EQ(d3.dump(), "/lib/std/broken.flow:2:1: expected an expression but "
                       "found end of file\n");
}

TEST(Sema, StandardLibraryFiles) {
  MemoryLoader loader;
  loader.useDisk = true;
  loader.stdlibDir = sourceDir() + "/stdlib";
  Module module;
  CollectingDiagnostics diags;
  ASSERT_TRUE(check("import std.paths\nimport std.solvers\n"
                    "data moons = toy.moons(noise: 0.05)\n"
                    "model v = mlp(width: 256, depth: 3, act: silu, time: "
                    "fourier(16))\n"
                    "flow moons_rf {\n"
                    "  x1 ~ moons\n"
                    "  x0 ~ normal(like: x1)\n"
                    "  t  ~ uniform(0, 1)\n"
                    "  xt = linear(x0, x1, t)\n"
                    "  loss mse(v(xt, t), ddt(xt))\n"
                    "}\n"
                    "sample moons_rf { solver: heun(steps: 32), n: 50000 }\n",
                    module, diags, loader, "moons.flow"))
      << diags.dump();
  for (const char *name : {"euler", "midpoint", "heun", "rk4"}) {
    auto *s = findDecl<SolverDecl>(module, name);
    ASSERT_TRUE(s) << name;
    EXPECT_EQ(s->a.size(), s->c.size()) << name;
    EXPECT_EQ(s->b.size(), s->c.size()) << name;
    EXPECT_FALSE(s->c.empty()) << name;
  }
  EXPECT_EQ(findDecl<SolverDecl>(module, "rk4")->c.size(), 4u);
  EXPECT_EQ(findDecl<SolverDecl>(module, "midpoint")->a[1],
            std::vector<double>{0.5});
  ASSERT_TRUE(findDecl<PathDecl>(module, "linear"));
}

} // namespace
