//===- RobustnessTest.cpp - Malformed specs never crash the front end -----===//
//
// Feeds ~200 mutated and truncated versions of a valid spec through parse and
// Sema: none may crash, and each one that differs from a known-valid variant
// must either be accepted or report at least one error — a rejected spec that
// reports nothing would leave the user with no message. Mutations that are
// certainly invalid (truncation inside a declaration, deleting a closing
// brace) must report an error.
//
//===----------------------------------------------------------------------===//

#include "LangTestUtil.h"

#include <gtest/gtest.h>

#include <random>

using namespace flowc;
using namespace flowc::test;

namespace {

/// Runs the front end; returns whether the spec was accepted. Checks that a
/// rejection always comes with an error.
bool accepts(const std::string &text) {
  ast::Module module;
  CollectingDiagnostics diags;
  MemoryLoader loader;
  bool ok = check(text, module, diags, loader);
  EXPECT_EQ(ok, diags.errors.empty()) << text << "\n" << diags.dump();
  (void)printModule(module); // printing a half-checked AST must not crash
  return ok;
}

TEST(Robustness, MutatedSpecsNeverCrash) {
  const std::string valid = designExample();
  ASSERT_TRUE(accepts(valid));

  std::mt19937 rng(1234);
  const std::vector<std::string> junk = {
      "{", "}", "(", ")", "[", "]", ",", ":", "~", "=", "-", "^", "/",
      "loss", "flow", "x0", "t", "1e999", "0", "$", "\"", "/*", ".", "mse",
      "ddt", "moons", "v", "linear", "heun", "2.5", "import", ";"};
  auto pick = [&](size_t n) {
    return std::uniform_int_distribution<size_t>(0, n - 1)(rng);
  };

  int rejected = 0;
  for (int i = 0; i < 200; ++i) {
    std::string text = valid;
    switch (i % 5) {
    case 0: // truncate
      text = text.substr(0, pick(text.size()));
      break;
    case 1: // delete a span
    {
      size_t at = pick(text.size());
      text.erase(at, 1 + pick(8));
      break;
    }
    case 2: // insert a token
      text.insert(pick(text.size()), " " + junk[pick(junk.size())] + " ");
      break;
    case 3: // replace a character
      text[pick(text.size())] = "{}()[],:~=-^+*/0x;\"$"[pick(20)];
      break;
    case 4: // swap two lines
    {
      std::vector<std::string> lines;
      size_t start = 0;
      for (size_t nl; (nl = text.find('\n', start)) != std::string::npos;
           start = nl + 1)
        lines.push_back(text.substr(start, nl - start));
      std::swap(lines[pick(lines.size())], lines[pick(lines.size())]);
      text.clear();
      for (auto &l : lines)
        text += l + "\n";
      break;
    }
    }
    rejected += !accepts(text);
  }
  // Most mutations break the spec.
  EXPECT_GT(rejected, 100);
}

/// A spec that uses every construct of the full language (definitions with
/// defaults and lets, dists, consts, closed forms, comparisons, indexing,
/// the new built-ins, adaptive tableaux).
const char *fullLanguageSpec() {
  return R"(const half_pi = pi / 2
data moons = toy.moons(noise: 0.05)
model v = mlp(width: 64)
model u(x, t) { let s = -x / (1 + t); s + 0 * x[0] }
fn softplus(x) = log(1 + exp(x))
path trig(x0, x1, t, h = 0.1) {
  let base = cos(half_pi * t) * x0 + sin(half_pi * t) * x1
  base + h * t * (1 - t) * (x1 - x0)
}
dist logit_normal(m = 0, s = 1) = sigmoid(m + s * normal())
dist gauss_like(x, s = 1) = s * normal(like: x)
flow f {
  x1 ~ moons
  x0 ~ gauss_like(x1)
  t ~ logit_normal(0, s: 1)
  xt = trig(x0, x1, t)
  a = sum(x1) + mean(x1) * norm(x1) + x1[1] + softplus(t)
  b = where(t >= 0.5, softmax(x1), one_hot(1, 2)) + clamp(a, -1, 1) + min(t, max(a, 0))
  loss mse(v(xt, t), ddt(xt) + 0 * (b != 0))
}
flow g { x1 ~ moons; x0 ~ normal(like: x1); t ~ uniform(); y = u(x0, t) }
solver bs3 = tableau(c: [0, 1/2, 3/4, 1], a: [[1/2], [0, 3/4], [2/9, 1/3, 4/9]],
                     b: [2/9, 1/3, 4/9, 0], b_err: [7/24, 1/4, 1/3, 1/8], order: 3)
train f { steps: 10 }
sample f { solver: bs3(steps: 4) }
sample g { solver: bs3 }
)";
}

TEST(Robustness, MutatedFullLanguageSpecsNeverCrash) {
  const std::string valid = fullLanguageSpec();
  ASSERT_TRUE(accepts(valid));
  std::mt19937 rng(4321);
  const std::vector<std::string> junk = {
      "{", "}", "(", ")", "[", "]", ",", ":", "~", "=", "-", "<", "<=", "==",
      "!=", "let", "fn", "dist", "const", "path", "model", "x[0]", "[9]",
      "normal()", "uniform(like: x)", "u(x0, t)", "v(x0, t)", "half_pi",
      "trig", "softplus(", "one_hot(1, 0)", "sum(t)", "= 1", "t", "x1", ";"};
  auto pick = [&](size_t n) {
    return std::uniform_int_distribution<size_t>(0, n - 1)(rng);
  };
  int rejected = 0;
  for (int i = 0; i < 300; ++i) {
    std::string text = valid;
    switch (i % 4) {
    case 0:
      text = text.substr(0, pick(text.size()));
      break;
    case 1:
      text.erase(pick(text.size()), 1 + pick(12));
      break;
    case 2:
      text.insert(pick(text.size()), " " + junk[pick(junk.size())] + " ");
      break;
    case 3:
      text[pick(text.size())] = "{}()[],:~=-<>!0x;"[pick(17)];
      break;
    }
    rejected += !accepts(text);
  }
  EXPECT_GT(rejected, 100);
}

// Regression: each definition calling the previous one twice made Sema
// re-check bodies 2^N times (flowc hung on N = 30). Bodies are now checked
// once per combination of parameter shapes, and errors found inside them are
// still reported at every outermost call.
TEST(Robustness, DefinitionCallTreesAreNotExponential) {
  std::string text = "fn a0(x) = x + 1\n";
  for (int i = 1; i <= 60; ++i)
    text += "fn a" + std::to_string(i) + "(x) = a" + std::to_string(i - 1) +
            "(x) + a" + std::to_string(i - 1) + "(x)\n";
  std::string flow = "data moons = toy.moons()\nmodel v = mlp()\nflow f {\n"
                     "  x1 ~ moons\n  x0 ~ normal(like: x1)\n  t ~ uniform()\n"
                     "  y = a60(t) + a60(x1)\n  loss mse(v(x0, t), x1)\n}\n";
  EXPECT_TRUE(accepts(text + flow));
  // An error deep inside is reported at each outermost call, once each,
  // also where the body's check comes from the cache.
  ast::Module module;
  CollectingDiagnostics diags;
  EXPECT_FALSE(check("fn bad(x) = x[3]\nfn b1(x) = bad(x) + bad(x)\n"
                     "data moons = toy.moons()\nmodel v = mlp()\nflow g {\n"
                     "  x1 ~ moons\n  x0 ~ normal(like: x1)\n"
                     "  t ~ uniform()\n  y = b1(x1)\n  z = b1(x1)\n"
                     "  loss mse(v(x0, t), x1)\n}\n",
                     module, diags));
  EXPECT_EQ(diags.dump(),
            "test.flow:9:7: in fn 'b1': index 3 is out of range for [2]\n"
            "test.flow:10:7: in fn 'b1': index 3 is out of range for [2]\n");
}

// Regression: a chain of 50000 fns, each calling the previous one, overflowed
// the stack (Sema recursed once per level, in the cycle check and in shape
// inference). Chains are bounded at 256 levels, with an error; so are consts
// defined through each other.
TEST(Robustness, LongDefinitionChainsDoNotOverflowTheStack) {
  const int n = 50000;
  std::string text = "fn a0(x) = x + 1\n";
  for (int i = 1; i < n; ++i)
    text += "fn a" + std::to_string(i) + "(x) = a" + std::to_string(i - 1) +
            "(x)\n";
  text += "data moons = toy.moons()\nmodel v = mlp()\nflow f {\n"
          "  x1 ~ moons\n  x0 ~ normal(like: x1)\n  t ~ uniform()\n"
          "  y = a" + std::to_string(n - 1) + "(t)\n"
          "  loss mse(v(x0, t), x1)\n}\n";
  ast::Module module;
  CollectingDiagnostics diags;
  EXPECT_FALSE(check(text, module, diags));
  ASSERT_EQ(diags.errors.size(), 1u) << diags.dump();
  EXPECT_EQ(diags.errors[0].message,
            "in fn 'a49999': definitions call each other more than 256 "
            "levels deep");
  // 300 levels of consts, each defined through the next one.
  std::string consts;
  for (int i = 0; i < 300; ++i)
    consts += "const c" + std::to_string(i) + " = c" + std::to_string(i + 1) +
              " + 1\n";
  consts += "const c300 = 0\n";
  EXPECT_FALSE(accepts(consts));
  // 200 levels are fine.
  std::string shortChain = "fn a0(x) = x + 1\n";
  for (int i = 1; i < 200; ++i)
    shortChain += "fn a" + std::to_string(i) + "(x) = a" +
                  std::to_string(i - 1) + "(x)\n";
  EXPECT_TRUE(accepts(shortChain +
                      "data moons = toy.moons()\nmodel v = mlp()\nflow f {\n"
                      "  x1 ~ moons\n  x0 ~ normal(like: x1)\n"
                      "  t ~ uniform()\n  loss mse(v(x0, t), a199(x1))\n}\n"));
}

TEST(Robustness, CertainlyInvalidSpecsReportErrors) {
  const std::string valid = designExample();
  int cases = 0;
  // Truncating right after each `{` or `(` leaves something unclosed.
  for (size_t i = 0; i < valid.size(); ++i)
    if (valid[i] == '{' || valid[i] == '(' || valid[i] == '[') {
      EXPECT_FALSE(accepts(valid.substr(0, i + 1))) << i;
      ++cases;
    }
  // Dropping any closing bracket breaks nesting.
  for (size_t i = 0; i < valid.size(); ++i)
    if (valid[i] == '}' || valid[i] == ')' || valid[i] == ']') {
      std::string text = valid;
      text.erase(i, 1);
      EXPECT_FALSE(accepts(text)) << i;
      ++cases;
    }
  // Removing each flow statement breaks a flow rule or a later use.
  const char *stmts[] = {"  x1 ~ moons\n", "  x0 ~ normal(like: x1)\n",
                         "  t  ~ uniform(0, 1)\n",
                         "  xt = linear(x0, x1, t)\n",
                         "  loss mse(v(xt, t), ddt(xt))\n"};
  for (const char *stmt : stmts) {
    std::string text = valid;
    size_t at = text.find(stmt);
    ASSERT_NE(at, std::string::npos) << stmt;
    text.erase(at, std::string(stmt).size());
    EXPECT_FALSE(accepts(text)) << stmt;
    ++cases;
  }
  EXPECT_GT(cases, 30);
}

TEST(Robustness, OddInputs) {
  EXPECT_TRUE(accepts(""));
  EXPECT_TRUE(accepts("// only a comment"));
  EXPECT_FALSE(accepts(std::string(1, '\0')));
  EXPECT_FALSE(accepts("\xff\xfe flow"));
  EXPECT_FALSE(accepts("flow f { x = " + std::string(200, '(') + "1" +
                       std::string(200, ')') + " }"));
  EXPECT_FALSE(accepts("train f { steps: 1 }\nsample f { solver: f }"));
  // Nesting and expression length are bounded, so nothing overflows the
  // stack (the parser, Sema and the AST destructors all recurse).
  EXPECT_FALSE(accepts("flow f { x = " + std::string(100000, '(') + "1" +
                       std::string(100000, ')') + " }"));
  std::string minus, plus = "1";
  for (int i = 0; i < 100000; ++i) {
    minus += "- ";
    plus += " + 1";
  }
  EXPECT_FALSE(accepts("flow f { x = " + minus + "1 }"));
  EXPECT_FALSE(accepts("flow f { x = " + plus + " }"));
  EXPECT_FALSE(accepts("flow f { x = 1" + std::string(100000, '^') + " }"));
  // Big but reasonable expressions still parse.
  std::string sum = "1";
  for (int i = 0; i < 2000; ++i)
    sum += " + t";
  ast::Module module;
  CollectingDiagnostics diags;
  EXPECT_TRUE(parseSource("big.flow", "path p(t) = " + sum, module, diags))
      << diags.dump();
  EXPECT_FALSE(accepts("flow f { t ~ uniform(like: t) }"));
  EXPECT_FALSE(accepts("path p() = p()\nflow f { y = p() }"));
}

} // namespace
