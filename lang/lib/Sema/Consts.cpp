//===- Consts.cpp - Constant expressions ----------------------------------===//
//
// Evaluates the constant arithmetic of settings, parameters, defaults,
// tableaux and shape lists (numbers, pi, e, consts, unary minus, + - * / ^ and
// comparisons), and `const` declarations once each, reporting cycles between
// consts, non-constant values and non-finite results.
//
//===----------------------------------------------------------------------===//

#include "Sema.h"

#include <cmath>

using namespace flowc;
using namespace flowc::ast;
using namespace flowc::sema;

std::optional<double> Sema::evalConstant(Expr *e, const std::string &what) {
  if (!e)
    return std::nullopt;
  switch (e->kind) {
  case Expr::Kind::Number: {
    double v = static_cast<NumberExpr *>(e)->value;
    if (!std::isfinite(v)) {
      error(e->loc, "number is out of range");
      return std::nullopt;
    }
    return v;
  }
  case Expr::Kind::Name: {
    auto *name = static_cast<NameExpr *>(e);
    // A local or parameter of the same name is not a constant.
    if (name->binding.kind == Binding::Kind::FlowLocal ||
        name->binding.kind == Binding::Kind::PathParam)
      break;
    if (auto c = builtinConstant(name->name)) {
      name->binding.kind = Binding::Kind::Constant;
      name->binding.constant = *c;
      return c;
    }
    Decl *d = findGlobal(name->name);
    if (d && d->kind == Decl::Kind::Const && static_cast<ConstDecl &>(*d).isTensor()) {
      error(name->loc, "const '" + name->name + "' is a tensor; " + what + " needs a number");
      return std::nullopt;
    }
    if (d && d->kind == Decl::Kind::Const) {
      auto &cd = static_cast<ConstDecl &>(*d);
      if (constState[&cd] == 1) {
        error(name->loc, "const '" + cd.name + "' is defined in terms of itself");
        constState[&cd] = 3;
        return std::nullopt;
      }
      auto v = evalConstDecl(cd);
      if (v) {
        name->binding.kind = Binding::Kind::Constant;
        name->binding.constant = *v;
      }
      return v;
    }
    break;
  }
  case Expr::Kind::Unary: {
    auto *u = static_cast<UnaryExpr *>(e);
    if (auto v = evalConstant(u->operand.get(), what))
      return -*v;
    return std::nullopt;
  }
  case Expr::Kind::Binary: {
    auto *b = static_cast<BinaryExpr *>(e);
    auto l = evalConstant(b->lhs.get(), what);
    auto r = evalConstant(b->rhs.get(), what);
    if (!l || !r)
      return std::nullopt;
    double v = 0;
    switch (b->op) {
    case '+':
      v = *l + *r;
      break;
    case '-':
      v = *l - *r;
      break;
    case '*':
      v = *l * *r;
      break;
    case '/':
      if (*r == 0) {
        error(b->loc, "division by zero in constant expression");
        return std::nullopt;
      }
      v = *l / *r;
      break;
    case '^':
      v = std::pow(*l, *r);
      break;
    case '<':
      v = *l < *r;
      break;
    case '>':
      v = *l > *r;
      break;
    case 'L':
      v = *l <= *r;
      break;
    case 'G':
      v = *l >= *r;
      break;
    case '=':
      v = *l == *r;
      break;
    case '!':
      v = *l != *r;
      break;
    default:
      return std::nullopt;
    }
    if (!std::isfinite(v)) {
      error(b->loc, "constant expression is not finite");
      return std::nullopt;
    }
    return v;
  }
  default:
    break;
  }
  error(e->loc, "expected a constant number for " + what);
  return std::nullopt;
}

std::optional<double> Sema::evalConstDecl(ConstDecl &c) {
  int &state = constState[&c];
  if (state == 2)
    return c.number;
  if (state != 0)
    return std::nullopt;
  if (constDepth >= kMaxCallDepth) {
    error(c.nameLoc, "const '" + c.name + "' is defined through more than " +
                         std::to_string(kMaxCallDepth) + " other consts");
    state = 3;
    return std::nullopt;
  }
  state = 1;
  ++constDepth;
  auto v = evalConstant(c.value.get(), "const '" + c.name + "'");
  --constDepth;
  // The state may have been set to failed by a cycle through this const.
  int &after = constState[&c];
  if (v && after == 1) {
    c.number = *v;
    after = 2;
    infer(c.value.get());
    return v;
  }
  after = 3;
  return std::nullopt;
}

bool Sema::evalTensorConst(ConstDecl &c) {
  int &state = constState[&c];
  if (state == 2 || state == 3)
    return state == 2;
  state = 3; // a tensor const names no other tensor const, so no cycles
  std::vector<double> values;
  std::optional<std::vector<int64_t>> shape =
      evalConstantList(c.value.get(), "const '" + c.name + "'", values);
  if (!shape)
    return false;
  c.shape = *shape;
  c.values = std::move(values);
  state = 2;
  return true;
}

std::optional<std::vector<int64_t>> Sema::evalConstantList(Expr *e, const std::string &what,
                                                           std::vector<double> &values) {
  if (e->kind != Expr::Kind::List) {
    auto v = evalConstant(e, what);
    if (!v)
      return std::nullopt;
    values.push_back(*v);
    return std::vector<int64_t>{};
  }
  auto &list = static_cast<ListExpr &>(*e);
  if (list.elements.empty()) {
    error(e->loc, "an empty list has no shape");
    return std::nullopt;
  }
  std::optional<std::vector<int64_t>> inner;
  for (auto &el : list.elements) {
    auto s = evalConstantList(el.get(), what, values);
    if (!s)
      return std::nullopt;
    if (inner && *inner != *s) {
      error(el->loc, "the elements of a list must have one shape, but this one is " +
                         Shape::tensor(*s).str() + " and the first " +
                         Shape::tensor(*inner).str());
      return std::nullopt;
    }
    inner = s;
  }
  std::vector<int64_t> shape{static_cast<int64_t>(list.elements.size())};
  shape.insert(shape.end(), inner->begin(), inner->end());
  return shape;
}

std::optional<int64_t> Sema::evalInteger(Expr *e, const std::string &what,
                                         int64_t min, const char *description) {
  auto v = evalConstant(e, what);
  if (!v)
    return std::nullopt;
  if (!isInteger(*v) || *v < static_cast<double>(min)) {
    error(e->loc, what + " must be " + description + " but is " + fmt(*v));
    return std::nullopt;
  }
  return static_cast<int64_t>(*v);
}

std::optional<int64_t> Sema::evalPositiveInt(Expr *e, const std::string &what) {
  return evalInteger(e, what, 1, "a positive integer");
}

std::optional<std::vector<double>> Sema::evalList(Expr *e,
                                                  const std::string &what,
                                                  const char *listMessage) {
  if (!e || e->kind != Expr::Kind::List) {
    if (e)
      error(e->loc, listMessage);
    return std::nullopt;
  }
  std::vector<double> values;
  bool ok = true;
  for (auto &el : static_cast<ListExpr &>(*e).elements) {
    auto v = evalConstant(el.get(), what);
    ok &= v.has_value();
    values.push_back(v.value_or(0));
  }
  if (!ok)
    return std::nullopt;
  return values;
}

std::optional<std::vector<int64_t>> Sema::evalShapeList(Expr *e,
                                                        const std::string &what) {
  auto *list = e && e->kind == Expr::Kind::List ? static_cast<ListExpr *>(e) : nullptr;
  if (!list || list->elements.empty()) {
    error(e ? e->loc : Location(), what + " must be a list of positive "
                                           "integers, e.g. [3, 4]");
    return std::nullopt;
  }
  std::vector<int64_t> dims;
  for (auto &element : list->elements) {
    auto d = evalPositiveInt(element.get(), "a dimension of " + what);
    if (!d)
      return std::nullopt;
    dims.push_back(*d);
  }
  return dims;
}
