//===- SourceDensity.cpp - A flow source's closed-form density ------------===//
//
// See SourceDensity.h.
//
//===----------------------------------------------------------------------===//
#include "SourceDensity.h"

#include "flowc/Lang/Builtins.h"

using namespace flowc;

std::optional<double> flowc::constantValue(const ast::Expr *e) {
  if (auto *n = dynamic_cast<const ast::NumberExpr *>(e))
    return n->value;
  if (auto *n = dynamic_cast<const ast::NameExpr *>(e))
    if (n->binding.kind == ast::Binding::Kind::Constant)
      return n->binding.constant;
  if (auto *u = dynamic_cast<const ast::UnaryExpr *>(e))
    if (auto v = constantValue(u->operand.get()))
      return -*v;
  return std::nullopt;
}

std::optional<SourceDensity> flowc::sourceDensity(const ast::FlowDecl *flow) {
  auto *call = flow && flow->sourceStmt
                   ? dynamic_cast<const ast::CallExpr *>(flow->sourceStmt->value.get())
                   : nullptr;
  BuiltinKind kind = call ? builtinKind(call->callee) : BuiltinKind::None;
  if ((kind != BuiltinKind::Normal && kind != BuiltinKind::Uniform) ||
      call->binding.kind != ast::Binding::Kind::Builtin || call->orderedArgs.size() < 2)
    return std::nullopt;
  std::optional<double> p0 = 0.0, p1 = 1.0;
  if (call->orderedArgs[0])
    p0 = constantValue(call->orderedArgs[0]);
  if (call->orderedArgs[1])
    p1 = constantValue(call->orderedArgs[1]);
  if (!p0 || !p1)
    return std::nullopt;
  return SourceDensity{call->callee, *p0, *p1};
}
