//===- FrozenNetworks.h - A frozen network's use against its run --*- C++ -*-===//
//
// Part of MLIRGen: a `checkpoint("...")` network's signature as the spec
// applies it, against the description its run writes beside every
// checkpoint (networks.json).
//
//===----------------------------------------------------------------------===//
#ifndef FLOWC_MLIRGEN_FROZENNETWORKS_H
#define FLOWC_MLIRGEN_FROZENNETWORKS_H

#include "flowc/Lang/AST.h"

#include "mlir/IR/Location.h"
#include "mlir/Support/LogicalResult.h"
#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"

namespace flowc {

/// A frozen network's use (its IR roles and input dims, and m.outputDim)
/// against the description its run keeps beside the checkpoint
/// (networks.json, written with every checkpoint): a mismatch, or a
/// network the checkpoint lacks, is an error at `at` (the checkpoint's
/// path). Without the file (an older run) the program checks the same when
/// it loads the weights.
mlir::LogicalResult checkFrozenNetwork(const ast::ModelDecl &m,
                                       llvm::ArrayRef<llvm::StringRef> roles,
                                       llvm::ArrayRef<int64_t> dims, mlir::Location at);

} // namespace flowc

#endif
