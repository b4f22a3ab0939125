//===- MLIRGen.h - AST to flow dialect --------------------------*- C++ -*-===//
#ifndef FLOWC_MLIRGEN_MLIRGEN_H
#define FLOWC_MLIRGEN_MLIRGEN_H

#include "flowc/Lang/AST.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"

namespace flowc {
/// Emits the flow dialect for a module that passed Sema. Path definitions are
/// inlined at their call sites. Returns null after reporting an error.
mlir::OwningOpRef<mlir::ModuleOp> mlirGen(mlir::MLIRContext &context,
                                          const ast::Module &module);
} // namespace flowc

#endif
