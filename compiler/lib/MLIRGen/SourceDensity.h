//===- SourceDensity.h - A flow source's closed-form density -----*- C++ -*-===//
//
// Part of MLIRGen: what the AST says of a flow's source that likelihoods
// need, read from constant expressions rather than generated as IR.
//
//===----------------------------------------------------------------------===//
#ifndef FLOWC_MLIRGEN_SOURCEDENSITY_H
#define FLOWC_MLIRGEN_SOURCEDENSITY_H

#include "flowc/Lang/AST.h"

#include <optional>
#include <string>

namespace flowc {

/// The value of a number, a constant's name or its negation.
std::optional<double> constantValue(const ast::Expr *e);

/// A source with a closed-form density: "normal" (mean, std) or "uniform"
/// (low, high) in every feature.
struct SourceDensity {
  std::string kind;
  double p0, p1;
};

/// The flow's source density when its `x0` is normal(m, s) or uniform(a, b)
/// with constant parameters (defaults 0, 1); none otherwise.
std::optional<SourceDensity> sourceDensity(const ast::FlowDecl *flow);

} // namespace flowc

#endif
