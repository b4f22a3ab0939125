//===- LanguageTest.cpp - Definitions, consts, closed forms, new syntax ---===//
//
// The language beyond the walking skeleton: path/dist/fn definitions with
// defaults and `let` blocks, `const`, closed-form models, comparisons,
// indexing, the new built-ins and adaptive tableaux. Checks the AST the
// contract (AST.h) promises: bindings, orderedArgs with nullptr for left-out
// defaulted arguments, shapes, evaluated constants; and the exact line:col
// of each new error.
//
//===----------------------------------------------------------------------===//

#include "LangTestUtil.h"

#include <gtest/gtest.h>

using namespace flowc;
using namespace flowc::ast;
using namespace flowc::test;

namespace {

using Errors = std::vector<std::string>;

Errors errorsOf(const std::string &text) {
  Module module;
  CollectingDiagnostics diags;
  bool ok = check(text, module, diags);
  EXPECT_EQ(ok, diags.errors.empty());
  Errors out;
  for (const Error &e : diags.errors)
    out.push_back(std::to_string(e.line) + ":" + std::to_string(e.col) + ": " +
                  e.message);
  return out;
}

/// A flow head (lines 1-6 after `pre`'s lines) and tail shared by snippets.
const std::string head = "data moons = toy.moons()\n"
                         "model v = mlp()\n"
                         "flow f {\n"
                         "  x1 ~ moons\n"
                         "  x0 ~ normal(like: x1)\n"
                         "  t ~ uniform(0, 1)\n";
const std::string tail = "  loss mse(v(x0, t), x1 - x0)\n}\n";

const FlowStmt &stmt(Module &m, size_t i, const char *flow = "f") {
  return *findDecl<FlowDecl>(m, flow)->body[i];
}

TEST(Language, ParsesDefinitionForms) {
  Module module;
  CollectingDiagnostics diags;
  ASSERT_TRUE(parseSource("d.flow",
                          "path p(x0, x1, t, h = 0.5) {\n"
                          "  let a = (1 - t) * x0; let b = t * x1\n"
                          "  a + b + h\n"
                          "}\n"
                          "dist d(m = 0, s = 2) = m + s * normal()\n"
                          "fn f(x) = x\n"
                          "const c = 2 * pi\n"
                          "model u(x, t) { let k = 2; -k * x }\n",
                          module, diags))
      << diags.dump();
  auto *p = findDecl<FunctionDecl>(module, "p");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->kind, Decl::Kind::Path);
  ASSERT_EQ(p->params.size(), 4u);
  EXPECT_FALSE(p->params[2].defaultValue);
  ASSERT_TRUE(p->params[3].defaultValue);
  ASSERT_EQ(p->lets.size(), 2u);
  EXPECT_EQ(p->lets[0]->names[0], "a");
  EXPECT_EQ(p->lets[0]->kind, FlowStmt::Kind::Let);
  EXPECT_EQ(p->lets[1]->nameLocs[0].line, 2u);
  EXPECT_EQ(p->lets[1]->nameLocs[0].col, 29u);
  ASSERT_TRUE(p->body);
  EXPECT_EQ(p->body->loc.line, 3u);
  auto *d = findDecl<FunctionDecl>(module, "d");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->kind, Decl::Kind::Dist);
  EXPECT_TRUE(d->lets.empty());
  EXPECT_EQ(findDecl<FunctionDecl>(module, "f")->kind, Decl::Kind::Fn);
  auto *c = findDecl<ConstDecl>(module, "c");
  ASSERT_TRUE(c && c->value);
  auto *u = findDecl<ModelDecl>(module, "u");
  ASSERT_TRUE(u);
  EXPECT_FALSE(u->network);
  EXPECT_EQ(u->params.size(), 2u);
  EXPECT_EQ(u->lets.size(), 1u);
  EXPECT_TRUE(u->body);
}

TEST(Language, ComparisonsAndIndexingParse) {
  Module module;
  CollectingDiagnostics diags;
  ASSERT_TRUE(parseSource("e.flow",
                          "flow f { a = 1 + x[0] <= 2 * y[1]\n"
                          "  b = x == 1; c = x != 1; d = -x[1]^2; g = (x < 1) > 0 }",
                          module, diags))
      << diags.dump();
  auto &body = findDecl<FlowDecl>(module, "f")->body;
  auto &a = static_cast<BinaryExpr &>(*body[0]->value);
  EXPECT_EQ(a.op, 'L');
  EXPECT_EQ(a.loc.col, 23u);
  EXPECT_EQ(static_cast<BinaryExpr &>(*a.lhs).op, '+');
  auto &ix = static_cast<IndexExpr &>(*static_cast<BinaryExpr &>(*a.lhs).rhs);
  EXPECT_EQ(ix.kind, Expr::Kind::Index);
  EXPECT_EQ(ix.loc.col, 19u); // the '['
  EXPECT_EQ(static_cast<BinaryExpr &>(*body[1]->value).op, '=');
  EXPECT_EQ(static_cast<BinaryExpr &>(*body[2]->value).op, '!');
  // -x[1]^2 is -((x[1])^2).
  auto &neg = static_cast<UnaryExpr &>(*body[3]->value);
  auto &pow = static_cast<BinaryExpr &>(*neg.operand);
  EXPECT_EQ(pow.op, '^');
  EXPECT_EQ(pow.lhs->kind, Expr::Kind::Index);
  EXPECT_EQ(static_cast<BinaryExpr &>(*body[4]->value).op, '>');

  Module m2;
  CollectingDiagnostics d2;
  EXPECT_FALSE(parseSource("e.flow", "flow f { a = 0 < t <= 1 }", m2, d2));
  ASSERT_EQ(d2.errors.size(), 1u);
  EXPECT_EQ(d2.errors[0].col, 20u);
  EXPECT_EQ(d2.errors[0].message,
            "comparisons cannot be chained; use parentheses, e.g. (a < b) * "
            "(b < c)");
}

TEST(Language, DefaultsFillOrderedArgsWithNull) {
  Module module;
  CollectingDiagnostics diags;
  ASSERT_TRUE(check("fn blend(a, b, w = 0.5) = (1 - w) * a + w * b\n" + head +
                        "  y = blend(x0, x1)\n"
                        "  z = blend(b: x1, a: x0, w: t)\n" + tail,
                    module, diags))
      << diags.dump();
  auto &y = static_cast<CallExpr &>(*stmt(module, 3).value);
  auto *blend = findDecl<FunctionDecl>(module, "blend");
  EXPECT_EQ(y.binding.kind, Binding::Kind::Decl);
  EXPECT_EQ(y.binding.decl, blend);
  ASSERT_EQ(y.orderedArgs.size(), 3u);
  EXPECT_EQ(y.orderedArgs[0], y.args[0].value.get());
  EXPECT_EQ(y.orderedArgs[2], nullptr);
  EXPECT_EQ(y.shape, Shape::vector(2));
  auto &z = static_cast<CallExpr &>(*stmt(module, 4).value);
  EXPECT_EQ(z.orderedArgs[0], z.args[1].value.get());
  EXPECT_EQ(z.orderedArgs[2], z.args[2].value.get());
  // The default is a checked constant expression.
  EXPECT_EQ(blend->params[2].defaultValue->shape, Shape::scalar());
}

TEST(Language, DistsDrawWithShapes) {
  Module module;
  CollectingDiagnostics diags;
  ASSERT_TRUE(check("dist logit_normal(m = 0, s = 1) = sigmoid(m + s * normal())\n"
                    "dist noise_like(x, s = 1) { let z = normal(like: x); s * z }\n"
                    "dist shifted(k = 3) = 1 - k * uniform()\n"
                    "data moons = toy.moons()\n"
                    "model v = mlp()\n"
                    "flow f {\n"
                    "  x1 ~ moons\n"
                    "  x0 ~ noise_like(x1, s: 2)\n"
                    "  t ~ logit_normal(0, 1)\n"
                    "  w ~ shifted()\n"
                    "  loss mse(v(x0, t), x1 - x0)\n"
                    "}\n",
                    module, diags))
      << diags.dump();
  auto &x0 = stmt(module, 1);
  EXPECT_EQ(x0.shapes[0], Shape::vector(2));
  auto &call = static_cast<CallExpr &>(*x0.value);
  EXPECT_EQ(call.binding.decl, findDecl<FunctionDecl>(module, "noise_like"));
  EXPECT_EQ(stmt(module, 2).shapes[0], Shape::scalar());
  EXPECT_EQ(stmt(module, 3).shapes[0], Shape::scalar());
  EXPECT_EQ(findDecl<FlowDecl>(module, "f")->timeStmt, &stmt(module, 2));
  // normal(like: x) inside the dist: a builtin draw with orderedArgs
  // (mean, std, like).
  auto *nl = findDecl<FunctionDecl>(module, "noise_like");
  auto &draw = static_cast<CallExpr &>(*nl->lets[0]->value);
  EXPECT_EQ(draw.binding.kind, Binding::Kind::Builtin);
  ASSERT_EQ(draw.orderedArgs.size(), 3u);
  EXPECT_EQ(draw.orderedArgs[0], nullptr);
  EXPECT_EQ(draw.orderedArgs[2], draw.args[0].value.get());
  EXPECT_EQ(draw.shape, Shape::vector(2));
  EXPECT_EQ(nl->lets[0]->shapes[0], Shape::vector(2));
  auto &ref = static_cast<NameExpr &>(
      *static_cast<BinaryExpr &>(*nl->body).rhs);
  EXPECT_EQ(ref.binding.kind, Binding::Kind::FlowLocal);
  EXPECT_EQ(ref.binding.stmt, nl->lets[0].get());
}

TEST(Language, DrawRules) {
  EXPECT_EQ(errorsOf("path p(a) = a + normal()\n"
                     "fn g(a) = a * uniform()\n"
                     "dist d(m) = m + normal(m)\n"
                     "dist e2() = normal(like: 1)\n"),
            (Errors{"1:17: path 'p' cannot draw random numbers",
                    "2:15: fn 'g' cannot draw random numbers",
                    "3:24: inside dist 'd', 'normal' takes no arguments "
                    "other than 'like: PARAM'",
                    "4:20: inside dist 'e2', 'normal' takes no arguments "
                    "other than 'like: PARAM'"}));
  EXPECT_EQ(errorsOf("dist d() = normal()\nfn g(x) = x\n" + head +
                     "  a = d()\n  b ~ g(1)\n  c ~ d\n" + tail),
            (Errors{"9:7: cannot call dist 'd' in an expression; draw from "
                    "it with '~'",
                    "10:7: cannot draw from 'g'; fn 'g' is not a dist",
                    "11:7: cannot draw from 'd' without a call; write d()"}));
  // Dists may use other dists, paths and fns.
  EXPECT_EQ(errorsOf("dist d() = normal()\nfn sq(x) = x * x\n"
                     "dist e3(s = 1) = s * sq(d()) + uniform()\n"),
            Errors{});
}

TEST(Language, DefaultsAndArguments) {
  EXPECT_EQ(errorsOf("path p(a = 1, b) = a + b\n"
                     "fn g(x, k = x) = x + k\n"
                     "fn h(x, y = 1 / 0) = x\n"),
            (Errors{"1:15: parameter 'b' needs a default value because it "
                    "follows 'a', which has one",
                    "2:13: expected a constant number for the default of 'k'",
                    "3:15: division by zero in constant expression"}));
  EXPECT_EQ(errorsOf("fn blend(a, b, w = 0.5) = a + w * b\n" + head +
                     "  y = blend(x0)\n  z = blend(x0, x1, 1, 2)\n"
                     "  q = blend(w: 1, b: x1)\n" + tail),
            (Errors{"8:7: fn 'blend' takes 2 to 3 arguments but 1 was given",
                    "9:7: fn 'blend' takes 2 to 3 arguments but 4 were given",
                    "10:7: fn 'blend' is missing argument 'a'"}));
}

TEST(Language, LetBlocks) {
  EXPECT_EQ(errorsOf("path p(x0, x1, t) {\n"
                     "  let a = b\n"
                     "  let b = 1\n"
                     "  let b = 2\n"
                     "  let t = 3\n"
                     "  let exp = 4\n"
                     "  let p = 5\n"
                     "  a\n"
                     "}\n"),
            (Errors{"2:11: use of undefined name 'b'",
                    "4:7: redefinition of 'b'", "5:7: redefinition of 't'",
                    "6:7: cannot redefine built-in 'exp'",
                    "7:7: redefinition of 'p'"}));
  // Shapes inside a let block follow each call.
  Module module;
  CollectingDiagnostics diags;
  ASSERT_TRUE(check("fn g(x) { let y = 2 * x; y + 1 }\n" + head +
                        "  a = g(t)\n  b = g(x1)\n" + tail,
                    module, diags))
      << diags.dump();
  EXPECT_EQ(stmt(module, 3).shapes[0], Shape::scalar());
  EXPECT_EQ(stmt(module, 4).shapes[0], Shape::vector(2));
}

TEST(Language, Consts) {
  Module module;
  CollectingDiagnostics diags;
  ASSERT_TRUE(check("const half = 1 / 2\nconst k = 2 * later + half\n"
                    "const later = pi\n"
                    "data moons = toy.moons(noise: half / 10)\n" +
                        std::string("model v = mlp(width: 2 ^ 5)\n") +
                        "flow f {\n  x1 ~ moons\n  x0 ~ normal(like: x1)\n"
                        "  t ~ uniform(0, half)\n  y = k * x1\n" + tail +
                        "train f { steps: 10 * 10 }\n",
                    module, diags))
      << diags.dump();
  EXPECT_DOUBLE_EQ(findDecl<ConstDecl>(module, "k")->number,
                   2 * 3.14159265358979323846 + 0.5);
  EXPECT_DOUBLE_EQ(findDecl<DataDecl>(module, "moons")->params[0].second, 0.05);
  EXPECT_EQ(findDecl<ModelDecl>(module, "v")->width, 32);
  auto &y = static_cast<BinaryExpr &>(*stmt(module, 3).value);
  auto &kRef = static_cast<NameExpr &>(*y.lhs);
  EXPECT_EQ(kRef.binding.kind, Binding::Kind::Constant);
  EXPECT_DOUBLE_EQ(kRef.binding.constant, 2 * 3.14159265358979323846 + 0.5);
  EXPECT_EQ(findDecl<RunDecl>(module, "f")->number("steps", 0), 100);

  EXPECT_EQ(errorsOf("const a = b\nconst b = a + 1\nconst c = sqrt(2)\n"
                     "const d = (1 < 2) + (2 == 2) + (3 != 3)\n"
                     "const ee = 1\nconst ee = 2\n"),
            (Errors{"6:7: redefinition of 'ee'",
                    "2:11: const 'a' is defined in terms of itself",
                    "3:11: expected a constant number for const 'c'"}));
  Module m2;
  CollectingDiagnostics d2;
  ASSERT_TRUE(check("const d = (1 < 2) + (2 >= 2) + (3 != 3) + (1 <= 0)", m2,
                    d2));
  EXPECT_EQ(findDecl<ConstDecl>(m2, "d")->number, 2);
}

TEST(Language, ClosedFormModels) {
  Module module;
  CollectingDiagnostics diags;
  ASSERT_TRUE(check("data moons = toy.moons()\n"
                    "fn shrink(x, t) = -x / (1 + t)\n"
                    "model u(x, t) { let s = shrink(x, t); s + 0 * x[1] }\n"
                    "flow g {\n  x1 ~ moons\n  x0 ~ normal(like: x1)\n"
                    "  t ~ uniform()\n  y = u(x0, t)\n}\n"
                    "sample g { n: 10 }\n"
                    // The default solver (std.solvers defines it so).
                    "solver euler = tableau(c: [0], a: [], b: [1])\n",
                    module, diags))
      << diags.dump();
  auto &call = static_cast<CallExpr &>(*stmt(module, 3, "g").value);
  auto *u = findDecl<ModelDecl>(module, "u");
  EXPECT_EQ(call.binding.decl, u);
  ASSERT_EQ(call.orderedArgs.size(), 2u);
  EXPECT_EQ(call.shape, Shape::vector(2));
  EXPECT_EQ(u->params[0].shape, Shape::vector(2));
  EXPECT_EQ(u->params[1].shape, Shape::scalar());
  EXPECT_EQ(u->lets[0]->shapes[0], Shape::vector(2));
  EXPECT_EQ(findDecl<FlowDecl>(module, "g")->lossStmt, nullptr);

  const std::string flowG = "data moons = toy.moons()\nflow g {\n  x1 ~ moons\n"
                            "  x0 ~ normal(like: x1)\n  t ~ uniform()\n";
  EXPECT_EQ(errorsOf("model u(x, t) = sum(x)\n" + flowG + "  y = u(x0, t)\n}\n"),
            Errors{"7:7: model 'u' returns scalar but its input x is [2]; a "
                   "velocity has the shape of x"});
  EXPECT_EQ(errorsOf("model u(x, t) = x * normal()\nmodel w(x) = x\n"
                     "model z(x, t = 1) = x\nmodel v = mlp()\n"
                     "model q(x, t) = v(x, t)\n"),
            (Errors{"1:21: model 'u' cannot draw random numbers",
                    "2:7: closed-form model 'w' takes 2 parameters (x, t) "
                    "but has 1",
                    "3:12: parameters of model 'z' cannot have default values",
                    "5:17: cannot call model 'v' inside a model"}));
  // A closed-form flow cannot be trained, and its loss would use no network.
  EXPECT_EQ(errorsOf("model u(x, t) = -x\n" + flowG +
                     "  y = u(x0, t)\n}\ntrain g {}\n"),
            Errors{"9:7: flow 'g' has no network to train"});
  EXPECT_EQ(errorsOf("model u(x, t) = -x\n" + flowG +
                     "  loss mse(u(x0, t), x1)\n}\n"),
            Errors{"7:3: loss of flow 'g' uses no network"});
}

// A network's signature: roles from what the arguments are, the output's
// shape from `out:` or the first tensor.
TEST(Language, NetworkSignatures) {
  std::string labelled = "data moons = toy.moons()\n"
                         "model v = mlp()\n"
                         "flow f {\n"
                         "  x1, y ~ moons\n"
                         "  x0 ~ normal(like: x1)\n"
                         "  t ~ uniform(0, 1)\n";
  Module module;
  CollectingDiagnostics diags;
  ASSERT_TRUE(check("model m = mlp(out: [3])\n" + labelled +
                        "  a = m(y)\n  loss mse(v(x0, t, t, a), x1 - x0)\n}\n",
                    module, diags))
      << diags.dump();
  const auto *m = findDecl<ModelDecl>(module, "m");
  const auto *v = findDecl<ModelDecl>(module, "v");
  ASSERT_TRUE(m && v);
  using Role = ModelDecl::Input::Role;
  ASSERT_EQ(1u, m->inputs.size());
  EXPECT_EQ(Role::Label, m->inputs[0].role);
  EXPECT_EQ(2, m->classes);
  EXPECT_EQ(0, m->inputDim);
  EXPECT_EQ(3, m->outputDim);
  EXPECT_FALSE(m->isVelocitySignature());
  ASSERT_EQ(4u, v->inputs.size());
  EXPECT_EQ(Role::Time, v->inputs[2].role);
  EXPECT_EQ(Role::Tensor, v->inputs[3].role);
  EXPECT_EQ(5, v->inputDim); // x0 and a
  EXPECT_EQ(2, v->outputDim);
  EXPECT_FALSE(v->isVelocitySignature());
  EXPECT_EQ(errorsOf("model m = mlp()\n" + labelled + "  a = m(y)\n" + tail),
            Errors{"8:7: model 'm' takes no tensor, so its output shape must be given: "
                   "mlp(..., out: [D])"});
  EXPECT_EQ(errorsOf("model m = mlp(out: [2, 0])\n" + head + tail),
            Errors{"1:24: a dimension of 'out' must be a positive integer but is 0"});
}

TEST(Language, ModelsPerFlow) {
  // Any number of networks; a closed-form model is a flow's only model.
  EXPECT_EQ(errorsOf("model w = mlp()\n" + head + "  a = v(x0, t) + w(x0, t)\n" +
                     tail),
            Errors{});
  EXPECT_EQ(errorsOf("model u(x, t) = -x\n" + head + "  a = v(x0, t) + u(x0, t)\n" +
                     tail),
            Errors{"8:18: flow 'f' applies closed-form model 'u' and model 'v'; a "
                   "closed-form model is the only model of its flow"});
  EXPECT_EQ(errorsOf("data moons = toy.moons()\nmodel v = mlp()\nflow f {\n"
                     "  x1 ~ moons\n  x0 ~ normal(like: x1)\n  t ~ uniform()\n"
                     "  y = v(x0, t)\n}\n"),
            Errors{"3:6: flow 'f' applies network 'v' but has no loss"});
  EXPECT_EQ(errorsOf("data moons = toy.moons()\nflow f {\n"
                     "  x1 ~ moons\n  x0 ~ normal(like: x1)\n  t ~ uniform()\n}\n"),
            Errors{"2:6: flow 'f' applies no model; a flow must apply a network "
                   "or a closed-form model"});
  // Applying the same network twice is left to the compiler.
  EXPECT_EQ(errorsOf(head + "  a = v(x0, t)\n  loss mse(v(a, t), x1)\n}\n"),
            Errors{});
}

TEST(Language, IndexingAndComparisons) {
  Module module;
  CollectingDiagnostics diags;
  ASSERT_TRUE(check("const k = 1\n" + head +
                        "  a = x1[0] + x1[k]\n  b = x1 > 0\n  c = t <= 0.5\n" +
                        tail,
                    module, diags))
      << diags.dump();
  auto &sum = static_cast<BinaryExpr &>(*stmt(module, 3).value);
  auto &i0 = static_cast<IndexExpr &>(*sum.lhs);
  auto &ik = static_cast<IndexExpr &>(*sum.rhs);
  EXPECT_EQ(i0.position, 0);
  EXPECT_EQ(ik.position, 1);
  EXPECT_EQ(i0.shape, Shape::scalar());
  EXPECT_EQ(stmt(module, 4).shapes[0], Shape::vector(2));
  EXPECT_EQ(stmt(module, 5).shapes[0], Shape::scalar());

  EXPECT_EQ(errorsOf(head + "  a = x1[5]\n  b = t[0]\n  c = x1[t]\n"
                            "  d = x1[0.5]\n  e2 = x1 < one_hot(0, 3)\n" + tail),
            (Errors{"7:10: index 5 is out of range for [2]",
                    "8:8: cannot index a scalar",
                    "9:10: expected a constant number for an index",
                    "10:10: index must be an integer but is 0.5",
                    "11:11: shape mismatch: [2] and [3]"}));
  EXPECT_EQ(errorsOf("fn third(x) = x[2]\n" + head + "  a = third(x1)\n" + tail),
            Errors{"8:7: in fn 'third': index 2 is out of range for [2]"});
}

TEST(Language, NewBuiltins) {
  Module module;
  CollectingDiagnostics diags;
  ASSERT_TRUE(check(head +
                        "  a = sum(x1) + mean(x1) + norm(x1)\n"
                        "  b = softmax(x1)\n"
                        "  c = where(t > 0.5, x1, 0)\n"
                        "  d = clamp(t, 0, 1) + min(t, 1) + max(0, t)\n"
                        "  e2 = one_hot(1, 4)\n"
                        "  g = log1p(x1) + expm1(t)\n" +
                        tail,
                    module, diags))
      << diags.dump();
  EXPECT_EQ(stmt(module, 3).shapes[0], Shape::scalar());
  EXPECT_EQ(stmt(module, 4).shapes[0], Shape::vector(2));
  EXPECT_EQ(stmt(module, 5).shapes[0], Shape::vector(2));
  EXPECT_EQ(stmt(module, 6).shapes[0], Shape::scalar());
  EXPECT_EQ(stmt(module, 7).shapes[0], Shape::vector(4));
  EXPECT_EQ(stmt(module, 8).shapes[0], Shape::vector(2));

  EXPECT_EQ(errorsOf(head + "  a = sum(t)\n  b = where(t, 1)\n  c = min(1)\n"
                            "  d = one_hot(x1, 2)\n  e2 = one_hot(0, 0)\n"
                            "  g = clamp(x1, 0, one_hot(0, 3))\n"
                            "  h = norm(x1, 2)\n" + tail),
            (Errors{"7:7: 'sum' needs a tensor but its argument is a scalar",
                    "8:7: 'where' takes 3 arguments but 2 were given",
                    "9:7: 'min' takes 2 arguments but 1 was given",
                    "10:15: first argument of 'one_hot' must be a scalar but "
                    "is [2]",
                    "11:19: the length of 'one_hot' must be a positive "
                    "integer but is 0",
                    "12:7: shape mismatch in 'clamp': [2] and [3]",
                    "13:16: axis 2 is out of range for [2]"}));
  EXPECT_EQ(errorsOf("path sum(x) = x\nconst max = 1\nfn f(exp) = exp\n"),
            (Errors{"1:6: cannot redefine built-in 'sum'",
                    "2:7: cannot redefine built-in 'max'",
                    "3:6: cannot redefine built-in 'exp'"}));
}

TEST(Language, CallCyclesAcrossKinds) {
  EXPECT_EQ(errorsOf("fn a(x) = b(x)\npath b(x) = c(x)\nfn c(x) = a(x)\n"
                     "dist self() = self() + normal()\n"),
            (Errors{"3:11: fn 'c' calls itself through 'a'",
                    "4:15: dist 'self' calls itself"}));
  // A path cannot draw, so a path calling a dist is not a call edge.
  EXPECT_EQ(errorsOf("dist d() = normal()\npath p(x) = x + d()\n"),
            Errors{"2:17: path 'p' cannot draw random numbers"});
}

TEST(Language, AdaptiveTableaux) {
  Module module;
  CollectingDiagnostics diags;
  ASSERT_TRUE(check("solver bs3 = tableau(c: [0, 1/2, 3/4, 1], a: [[1/2], "
                    "[0, 3/4], [2/9, 1/3, 4/9]], b: [2/9, 1/3, 4/9, 0], "
                    "b_err: [7/24, 1/4, 1/3, 1/8], order: 3)\n"
                    "solver heun = tableau(c: [0, 1], a: [[1]], b: [1/2, 1/2])\n",
                    module, diags))
      << diags.dump();
  auto *bs3 = findDecl<SolverDecl>(module, "bs3");
  ASSERT_EQ(bs3->bErr.size(), 4u);
  EXPECT_DOUBLE_EQ(bs3->bErr[0], 7.0 / 24);
  EXPECT_EQ(bs3->order, 3);
  auto *heun = findDecl<SolverDecl>(module, "heun");
  EXPECT_TRUE(heun->bErr.empty());
  EXPECT_EQ(heun->order, 0);
  const std::string c = "solver s = tableau(c: [0, 1], a: [[1]], b: [1/2, 1/2], ";
  EXPECT_EQ(errorsOf(c + "b_err: [0.5, 0.4])"),
            Errors{"1:63: entries of 'b_err' sum to 0.9 but must sum to 1"});
  EXPECT_EQ(errorsOf(c + "b_err: [1])"),
            Errors{"1:63: 'b_err' has 1 entry but 'b' has 2"});
  EXPECT_EQ(errorsOf(c + "order: 1.5)"),
            Errors{"1:63: 'order' must be a positive integer but is 1.5"});
}

TEST(Language, PrinterShowsNewNodes) {
  Module module;
  CollectingDiagnostics diags;
  ASSERT_TRUE(check("const k = 2\nfn f(x, s = 1) { let y = s * x; y[0] <= k }\n"
                    "solver eu = tableau(c: [0], a: [], b: [1], b_err: [1], "
                    "order: 1)\n",
                    module, diags))
      << diags.dump();
  std::string text = printModule(module);
  for (const char *want :
       {"Const k = 2 @", "Fn f(x, s = ...) @", "Default s @2:9",
        "Let y @2:18", "Binary <= @2:38", "Index [0] @2:34", "b_err = [1]",
        "order = 1"})
    EXPECT_NE(text.find(want), std::string::npos) << want << "\n" << text;
}

} // namespace
