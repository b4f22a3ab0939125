//===- Declarations.h - Ops of a spec's declarations ------------*- C++ -*-===//
//
// Part of MLIRGen: the module-level ops of a spec's declarations (data sets,
// solvers, networks), each read from its checked AST node alone.
//
//===----------------------------------------------------------------------===//
#ifndef FLOWC_MLIRGEN_DECLARATIONS_H
#define FLOWC_MLIRGEN_DECLARATIONS_H

#include "flowc/Lang/AST.h"

#include "mlir/IR/Builders.h"

namespace flowc {

/// The MLIR location of a spec location.
mlir::Location toLocation(mlir::OpBuilder &builder, const ast::Location &l);

/// `flow.data` for a data set, or for a runtime tokenizer (patchify) the
/// data set it encodes plus the encoding; nothing for a data set drawn only
/// through such a tokenizer, or for an encoder tokenizer (whose flows draw
/// the data it encodes and compute the encoding themselves).
void genDataOp(mlir::OpBuilder &builder, const ast::DataDecl &data);

/// `flow.invert`: the sample block of a flow that trains a normalizing flow
/// (Sema's `invertedModel`), its settings or their defaults (1000 samples,
/// classes balanced, token by token, no guidance or denoising).
void genInvertOp(mlir::OpBuilder &builder, const ast::RunDecl &run);

/// `flow.solver`: a Butcher tableau.
void genSolverOp(mlir::OpBuilder &builder, const ast::SolverDecl &solver);

/// `flow.network` for a network that flows apply, with the signature Sema
/// recorded; a frozen one (checkpoint(...)) checked against its run.
mlir::LogicalResult genNetworkOp(mlir::OpBuilder &builder, const ast::ModelDecl &model);

/// The `standardize` network of a tokenizer with `standardize:` (or, with
/// `inverse`, its `unstandardize` network): "T:standardize", a name no
/// spec's model can take.
std::string standardizeNetworkName(const ast::DataDecl &tok, bool inverse);

/// `flow.network` for both of them: x of the tokens' shape to x, with the
/// statistics' layout as in_shape ([C, rest] per channel, [1, all] for one
/// mean and deviation).
void genStandardizeNetworkOps(mlir::OpBuilder &builder, const ast::DataDecl &tok);

} // namespace flowc

#endif // FLOWC_MLIRGEN_DECLARATIONS_H
