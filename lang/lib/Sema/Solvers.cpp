//===- Solvers.cpp - Butcher tableaux -------------------------------------===//
//
// Checks `solver NAME = tableau(c: ..., a: ..., b: ...)` (and the embedded
// weights b_err and order of adaptive methods): c starts at 0, row k of a has
// k entries summing to c[k], b (and b_err) sum to 1. Fills the SolverDecl's
// numbers for MLIRGen.
//
//===----------------------------------------------------------------------===//

#include "Sema.h"

#include <algorithm>
#include <cmath>

using namespace flowc;
using namespace flowc::ast;
using namespace flowc::sema;

void Sema::checkSolver(SolverDecl &solver) {
  CallExpr *tab = solver.tableau.get();
  if (!tab)
    return;
  if (tab->callee != "tableau") {
    error(tab->calleeLoc,
          "unknown solver form '" + tab->callee +
              "'; expected tableau(c: ..., a: ..., b: ...)");
    return;
  }
  tab->binding.kind = Binding::Kind::Builtin;
  bool ok = true;
  for (const Arg &arg : tab->args)
    if (arg.name.empty()) {
      error(arg.loc, "arguments of 'tableau' must be named c, a and b "
                     "(and b_err, order)");
      ok = false;
    }
  if (!ok)
    return;
  ArgBinding bound =
      bindArgs(*tab, {"c", "a", "b", "b_err", "order"}, "'tableau'");
  if (!bound.ok)
    return;
  for (size_t i = 0; i < 3; ++i)
    if (!bound.slots[i]) {
      error(tab->calleeLoc, std::string("'tableau' is missing '") +
                                "cab"[i] + "'");
      ok = false;
    }
  if (!ok)
    return;
  Expr *cExpr = bound.slots[0]->value.get();
  Expr *aExpr = bound.slots[1]->value.get();
  Expr *bExpr = bound.slots[2]->value.get();
  auto c = evalList(cExpr, "'c'", "'c' must be a list of numbers");
  auto b = evalList(bExpr, "'b'", "'b' must be a list of numbers");
  if (c && c->empty()) {
    error(cExpr->loc, "'c' must not be empty");
    return;
  }
  std::vector<std::vector<double>> a(1);
  bool aOk = checkTableauRows(aExpr, c, a);
  if (!c || !b || !aOk)
    return;
  size_t s = c->size();
  auto &cList = static_cast<ListExpr &>(*cExpr);
  if ((*c)[0] != 0) {
    error(cList.elements[0]->loc, "c[0] must be 0 but is " + fmt((*c)[0]));
    ok = false;
  }
  if (b->size() != s) {
    error(bExpr->loc, "'b' has " + plural(b->size(), "entry", "entries") +
                          " but 'c' has " + std::to_string(s));
    ok = false;
  } else {
    double sum = 0;
    for (double v : *b)
      sum += v;
    if (std::fabs(sum - 1) > 1e-9) {
      error(bExpr->loc,
            "entries of 'b' sum to " + fmt(sum) + " but must sum to 1");
      ok = false;
    }
  }
  // Adaptive methods: embedded weights b_err and the order p.
  std::vector<double> bErr;
  if (const Arg *arg = bound.slots[3]) {
    Expr *e = arg->value.get();
    auto v = evalList(e, "'b_err'", "'b_err' must be a list of numbers");
    if (!v) {
      ok = false;
    } else if (v->size() != b->size()) {
      error(e->loc, "'b_err' has " + plural(v->size(), "entry", "entries") +
                        " but 'b' has " + std::to_string(b->size()));
      ok = false;
    } else {
      double sum = 0;
      for (double x : *v)
        sum += x;
      if (std::fabs(sum - 1) > 1e-9) {
        error(e->loc, "entries of 'b_err' sum to " + fmt(sum) +
                          " but must sum to 1");
        ok = false;
      }
      bErr = std::move(*v);
    }
  }
  int64_t order = 0;
  if (const Arg *arg = bound.slots[4]) {
    if (auto v = evalPositiveInt(arg->value.get(), "'order'"))
      order = *v;
    else
      ok = false;
  }
  if (!ok || a.size() != s)
    return;
  solver.c = std::move(*c);
  solver.b = std::move(*b);
  solver.a = std::move(a);
  solver.bErr = std::move(bErr);
  solver.order = order;
}

bool Sema::checkTableauRows(Expr *aExpr,
                            const std::optional<std::vector<double>> &c,
                            std::vector<std::vector<double>> &rows) {
  if (!aExpr)
    return false;
  if (aExpr->kind != Expr::Kind::List) {
    error(aExpr->loc, "'a' must be a list of rows");
    return false;
  }
  auto &aList = static_cast<ListExpr &>(*aExpr);
  bool ok = true;
  for (size_t k = 1; k <= aList.elements.size(); ++k) {
    Expr *row = aList.elements[k - 1].get();
    if (!row)
      return false;
    std::string rowName = "row " + std::to_string(k) + " of 'a'";
    auto values = evalList(row, "'a'", (rowName + " must be a list").c_str());
    if (!values) {
      ok = false;
      continue;
    }
    rows.push_back(*values);
  }
  if (!ok || !c || c->empty())
    return false;
  size_t s = c->size();
  if (aList.elements.size() != s - 1) {
    error(aExpr->loc, "'a' has " +
                          plural(aList.elements.size(), "row", "rows") +
                          " but needs " + std::to_string(s - 1) +
                          " (one fewer than 'c' has entries)");
    return false;
  }
  for (size_t k = 1; k < s; ++k) {
    const Location &loc = aList.elements[k - 1]->loc;
    std::string rowName = "row " + std::to_string(k) + " of 'a'";
    if (rows[k].size() != k) {
      error(loc, rowName + " has " +
                     plural(rows[k].size(), "entry", "entries") +
                     " but needs " + std::to_string(k));
      ok = false;
      continue;
    }
    double sum = 0;
    for (double v : rows[k])
      sum += v;
    if (std::fabs(sum - (*c)[k]) > 1e-9 * std::max(1.0, std::fabs((*c)[k]))) {
      error(loc, rowName + " sums to " + fmt(sum) + " but c is " +
                     fmt((*c)[k]));
      ok = false;
    }
  }
  return ok;
}
