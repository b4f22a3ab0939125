//===- ParserTest.cpp - Grammar, AST builder and syntax errors ------------===//
//
// Parses the running example and small snippets and checks the AST shape
// (declarations, statements, operator precedence, locations), and that syntax
// errors are reported once, at the offending token, with a clean message.
//
//===----------------------------------------------------------------------===//

#include "LangTestUtil.h"

#include <gtest/gtest.h>

using namespace flowc;
using namespace flowc::ast;
using namespace flowc::test;

namespace {

/// Parses `text` and returns the first error ("line:col: message"), or "".
std::string firstSyntaxError(const std::string &text) {
  Module module;
  CollectingDiagnostics diags;
  bool ok = parseSource("s.flow", text, module, diags);
  EXPECT_EQ(ok, diags.errors.empty());
  if (diags.errors.empty())
    return "";
  EXPECT_EQ(diags.errors.size(), 1u) << diags.dump();
  const Error &e = diags.errors[0];
  return std::to_string(e.line) + ":" + std::to_string(e.col) + ": " +
         e.message;
}

/// Parses `let x = <expr>` inside a flow and returns the expression.
ExprPtr parseExpr(const std::string &expr, Module &module) {
  CollectingDiagnostics diags;
  EXPECT_TRUE(parseSource("e.flow", "flow f { x = " + expr + " }", module,
                          diags))
      << diags.dump();
  auto *flow = findDecl<FlowDecl>(module, "f");
  if (!flow || flow->body.empty())
    return nullptr;
  return std::move(flow->body[0]->value);
}

/// Prints an expression in fully parenthesized form.
std::string sexpr(const Expr *e) {
  if (!e)
    return "<null>";
  switch (e->kind) {
  case Expr::Kind::Number: {
    std::ostringstream os;
    os << static_cast<const NumberExpr *>(e)->value;
    return os.str();
  }
  case Expr::Kind::Name:
    return static_cast<const NameExpr *>(e)->name;
  case Expr::Kind::Unary:
    return "(-" + sexpr(static_cast<const UnaryExpr *>(e)->operand.get()) + ")";
  case Expr::Kind::Binary: {
    auto *b = static_cast<const BinaryExpr *>(e);
    return "(" + sexpr(b->lhs.get()) + " " + b->op + " " + sexpr(b->rhs.get()) +
           ")";
  }
  case Expr::Kind::Call: {
    auto *c = static_cast<const CallExpr *>(e);
    std::string out = c->callee + "(";
    for (size_t i = 0; i < c->args.size(); ++i) {
      out += i ? ", " : "";
      if (!c->args[i].name.empty())
        out += c->args[i].name + ": ";
      out += sexpr(c->args[i].value.get());
    }
    return out + ")";
  }
  case Expr::Kind::Index: {
    auto *ix = static_cast<const IndexExpr *>(e);
    return sexpr(ix->base.get()) + "[" + sexpr(ix->index.get()) + "]";
  }
  case Expr::Kind::List: {
    auto *l = static_cast<const ListExpr *>(e);
    std::string out = "[";
    for (size_t i = 0; i < l->elements.size(); ++i)
      out += (i ? ", " : "") + sexpr(l->elements[i].get());
    return out + "]";
  }
  }
  return "?";
}

std::string roundTrip(const std::string &expr) {
  Module module;
  ExprPtr e = parseExpr(expr, module);
  return sexpr(e.get());
}

TEST(Parser, DesignExampleStructure) {
  Module module;
  CollectingDiagnostics diags;
  ASSERT_TRUE(parseSource("moons.flow", designExample(), module, diags))
      << diags.dump();
  ASSERT_EQ(module.decls.size(), 7u);
  const Decl::Kind kinds[] = {Decl::Kind::Data,   Decl::Kind::Model,
                              Decl::Kind::Path,   Decl::Kind::Solver,
                              Decl::Kind::Flow,   Decl::Kind::Train,
                              Decl::Kind::Sample};
  for (size_t i = 0; i < 7; ++i) {
    EXPECT_EQ(module.decls[i]->kind, kinds[i]) << i;
    EXPECT_EQ(module.decls[i]->file, "moons.flow");
  }

  auto *data = findDecl<DataDecl>(module, "moons");
  ASSERT_TRUE(data && data->source);
  EXPECT_EQ(data->loc.line, 2u);
  EXPECT_EQ(data->loc.col, 1u);
  EXPECT_EQ(data->nameLoc.col, 6u);
  EXPECT_EQ(data->source->callee, "toy.moons");
  EXPECT_EQ(data->source->calleeLoc.col, 14u);
  ASSERT_EQ(data->source->args.size(), 1u);
  EXPECT_EQ(data->source->args[0].name, "noise");
  EXPECT_EQ(data->source->args[0].loc.col, 24u);

  auto *model = findDecl<ModelDecl>(module, "v");
  ASSERT_TRUE(model && model->network);
  EXPECT_EQ(sexpr(model->network.get()),
            "mlp(width: 256, depth: 3, act: silu, time: fourier(16))");

  auto *path = findDecl<PathDecl>(module, "linear");
  ASSERT_TRUE(path);
  ASSERT_EQ(path->params.size(), 3u);
  EXPECT_EQ(path->params[2].name, "t");
  EXPECT_EQ(path->params[2].loc.col, 21u);
  EXPECT_EQ(sexpr(path->body.get()), "(((1 - t) * x0) + (t * x1))");
  // A binary expression is located at its operator.
  EXPECT_EQ(path->body->loc.line, 4u);
  EXPECT_EQ(path->body->loc.col, 39u);

  auto *solver = findDecl<SolverDecl>(module, "heun");
  ASSERT_TRUE(solver && solver->tableau);
  EXPECT_EQ(sexpr(solver->tableau.get()),
            "tableau(c: [0, 1], a: [[1]], b: [(1 / 2), (1 / 2)])");

  auto *flow = findDecl<FlowDecl>(module, "moons_rf");
  ASSERT_TRUE(flow);
  ASSERT_EQ(flow->body.size(), 5u);
  const FlowStmt::Kind stmtKinds[] = {FlowStmt::Kind::Draw, FlowStmt::Kind::Draw,
                                      FlowStmt::Kind::Draw, FlowStmt::Kind::Let,
                                      FlowStmt::Kind::Loss};
  const char *names[] = {"x1", "x0", "t", "xt", ""};
  for (size_t i = 0; i < 5; ++i) {
    EXPECT_EQ(flow->body[i]->kind, stmtKinds[i]);
    EXPECT_EQ(flow->body[i]->loc.line, 7u + i);
    EXPECT_EQ(flow->body[i]->loc.col, 3u);
    if (i < 4) {
      ASSERT_EQ(flow->body[i]->names.size(), 1u);
      EXPECT_EQ(flow->body[i]->names[0], names[i]);
    } else {
      EXPECT_TRUE(flow->body[i]->names.empty());
    }
  }
  EXPECT_EQ(sexpr(flow->body[1]->value.get()), "normal(like: x1)");
  EXPECT_EQ(sexpr(flow->body[4]->value.get()), "mse(v(xt, t), ddt(xt))");

  auto *train = static_cast<RunDecl *>(module.decls[5].get());
  EXPECT_EQ(train->name, "moons_rf");
  ASSERT_EQ(train->settings.size(), 5u);
  EXPECT_EQ(train->settings[2].name, "optimizer");
  EXPECT_EQ(sexpr(train->settings[2].value.get()), "adam(lr: 0.001)");
  auto *sample = static_cast<RunDecl *>(module.decls[6].get());
  ASSERT_EQ(sample->settings.size(), 2u);
  EXPECT_EQ(sample->settings[0].name, "solver"); // a keyword as a setting name
  EXPECT_EQ(sexpr(sample->settings[0].value.get()), "heun(steps: 32)");
}

TEST(Parser, Precedence) {
  EXPECT_EQ(roundTrip("1 + 2 * 3"), "(1 + (2 * 3))");
  EXPECT_EQ(roundTrip("1 - 2 - 3"), "((1 - 2) - 3)");
  EXPECT_EQ(roundTrip("8 / 4 / 2"), "((8 / 4) / 2)");
  EXPECT_EQ(roundTrip("-x^2"), "(-(x ^ 2))");
  EXPECT_EQ(roundTrip("a^b^c"), "(a ^ (b ^ c))");
  EXPECT_EQ(roundTrip("2^-1"), "(2 ^ (-1))");
  EXPECT_EQ(roundTrip("-a * b"), "((-a) * b)");
  EXPECT_EQ(roundTrip("(1 - t) * x0"), "((1 - t) * x0)");
  EXPECT_EQ(roundTrip("- - x"), "(-(-x))");
  EXPECT_EQ(roundTrip("2 * x^2 + 1"), "((2 * (x ^ 2)) + 1)");
}

TEST(Parser, Numbers) {
  EXPECT_EQ(roundTrip("1e-3"), "0.001");
  EXPECT_EQ(roundTrip("2.5E2"), "250");
  EXPECT_EQ(roundTrip(".5"), "0.5");
  EXPECT_EQ(roundTrip("3."), "3");
  EXPECT_EQ(roundTrip("0.05"), "0.05");
}

TEST(Parser, CallsListsAndNames) {
  EXPECT_EQ(roundTrip("f(a, b: 2)"), "f(a, b: 2)");
  EXPECT_EQ(roundTrip("f()"), "f()");
  EXPECT_EQ(roundTrip("f(a, )"), "f(a)");
  EXPECT_EQ(roundTrip("toy.moons(noise: 0.1)"), "toy.moons(noise: 0.1)");
  EXPECT_EQ(roundTrip("[]"), "[]");
  EXPECT_EQ(roundTrip("[[1], [0, 1/2],]"), "[[1], [0, (1 / 2)]]");
  EXPECT_EQ(roundTrip("g(data: 1, solver: 2)"), "g(data: 1, solver: 2)");
  Module module;
  ExprPtr e = parseExpr("toy.moons", module);
  ASSERT_TRUE(e && e->kind == Expr::Kind::Name);
  EXPECT_EQ(static_cast<NameExpr &>(*e).name, "toy.moons");
}

TEST(Parser, LocationsOfExpressions) {
  Module module;
  CollectingDiagnostics diags;
  ASSERT_TRUE(parseSource("l.flow", "flow f {\n\tx = -a + f(b: [1])\n}",
                          module, diags));
  auto *flow = findDecl<FlowDecl>(module, "f");
  ASSERT_TRUE(flow && flow->body.size() == 1);
  auto &add = static_cast<BinaryExpr &>(*flow->body[0]->value);
  EXPECT_EQ(add.loc.line, 2u);
  EXPECT_EQ(add.loc.col, 9u); // '+'; a tab counts as one column
  EXPECT_EQ(add.lhs->loc.col, 6u);  // '-'
  EXPECT_EQ(static_cast<UnaryExpr &>(*add.lhs).operand->loc.col, 7u);
  auto &call = static_cast<CallExpr &>(*add.rhs);
  EXPECT_EQ(call.calleeLoc.col, 11u);
  EXPECT_EQ(call.args[0].loc.col, 13u);        // the name `b`
  EXPECT_EQ(call.args[0].value->loc.col, 16u); // '['
  EXPECT_EQ(call.loc.file, "l.flow");
}

TEST(Parser, ImportsCommentsSeparators) {
  Module module;
  CollectingDiagnostics diags;
  ASSERT_TRUE(parseSource("i.flow", R"(
import std.paths  // a line comment
import "my_paths.flow" /* a block
comment */ ;
flow f { x1 ~ moons; x0 ~ normal(like: x1); ; t ~ uniform(0, 1) loss mse(x0, x1) }
model u(x, t) = (1 - x) / (1 - t)
flow g { a, b ~ pairs }
solver euler = tableau(c: [0], a: [], b: [1])
train f { steps: 1, }
train f { }
)",
                          module, diags))
      << diags.dump();
  ASSERT_EQ(module.decls.size(), 8u);
  auto &std = static_cast<ImportDecl &>(*module.decls[0]);
  EXPECT_EQ(std.name, "std.paths");
  EXPECT_FALSE(std.isFile);
  EXPECT_EQ(std.nameLoc.col, 8u);
  auto &file = static_cast<ImportDecl &>(*module.decls[1]);
  EXPECT_EQ(file.name, "my_paths.flow");
  EXPECT_TRUE(file.isFile);
  EXPECT_EQ(findDecl<FlowDecl>(module, "f")->body.size(), 4u);
  auto *closed = findDecl<ModelDecl>(module, "u");
  ASSERT_TRUE(closed);
  EXPECT_FALSE(closed->network);
  EXPECT_EQ(closed->params.size(), 2u);
  EXPECT_EQ(sexpr(closed->body.get()), "((1 - x) / (1 - t))");
  auto *g = findDecl<FlowDecl>(module, "g");
  ASSERT_EQ(g->body.size(), 1u);
  EXPECT_EQ(g->body[0]->names, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(g->body[0]->nameLocs[1].col, 13u);
  EXPECT_EQ(sexpr(findDecl<SolverDecl>(module, "euler")->tableau.get()),
            "tableau(c: [0], a: [], b: [1])");
}

TEST(Parser, SyntaxErrors) {
  EXPECT_EQ(firstSyntaxError("train f { steps: 1 loss }"),
            "1:20: expected ',' or '}' but found 'loss'");
  EXPECT_EQ(firstSyntaxError("flow f { x1 ~ moons\n  5 }"),
            "2:3: expected '}' but found '5'");
  EXPECT_EQ(firstSyntaxError("data x = 5"),
            "1:10: expected a name but found '5'");
  EXPECT_EQ(firstSyntaxError("flow f { x = }"),
            "1:14: expected an expression but found '}'");
  EXPECT_EQ(firstSyntaxError("flow f { x1 ~ moons"),
            "1:20: expected '}' but found end of file");
  EXPECT_EQ(firstSyntaxError("model v = mlp(width: 256 depth: 3)"),
            "1:26: expected ')' but found 'depth'");
  EXPECT_EQ(firstSyntaxError("sample f { n: 2,, }"), "1:17: unexpected ','");
  EXPECT_EQ(firstSyntaxError("foo"), "1:1: expected a declaration but found 'foo'");
  EXPECT_EQ(firstSyntaxError("data $"), "1:6: unexpected character '$'");
  EXPECT_EQ(firstSyntaxError("import \"abc"), "1:8: unterminated string");
  EXPECT_EQ(firstSyntaxError("data m = toy.moons()\n/* abc"),
            "2:1: unterminated block comment");
  EXPECT_EQ(firstSyntaxError("flow f { x, ~ a }"),
            "1:13: expected a name but found '~'");
  EXPECT_EQ(firstSyntaxError("flow f { x = [1, 2 }"),
            "1:20: expected ',' or ']' but found '}'");
  EXPECT_EQ(firstSyntaxError("path p(x) = x ^"),
            "1:16: expected an expression but found end of file");
  EXPECT_EQ(firstSyntaxError("data data = toy.moons()"),
            "1:6: expected a name but found 'data'");
  // Only the first error is reported, and no declarations are added.
  Module module;
  CollectingDiagnostics diags;
  EXPECT_FALSE(parseSource("s.flow", "data a = toy.moons()\ndata = \nflow {",
                           module, diags));
  EXPECT_EQ(diags.errors.size(), 1u);
  EXPECT_TRUE(module.decls.empty());
}

TEST(Parser, PrintsAST) {
  Module module;
  CollectingDiagnostics diags;
  ASSERT_TRUE(check(designExample(), module, diags)) << diags.dump();
  std::string text = printModule(module);
  EXPECT_NE(text.find("Data moons : [2] @test.flow:2:1"), std::string::npos)
      << text;
  EXPECT_NE(text.find("Draw t : scalar (time) @9:3"), std::string::npos)
      << text;
  EXPECT_NE(text.find("Call linear (path) : [2] @10:8"), std::string::npos)
      << text;
  EXPECT_NE(text.find("a = [[], [1]]"), std::string::npos) << text;
  EXPECT_EQ(Shape::scalar().str(), "scalar");
  EXPECT_EQ(Shape::vector(3).str(), "[3]");
  EXPECT_EQ(Shape().str(), "?");
}

} // namespace
