//===- Outlining.h - Shared helpers for outlining kernels -------*- C++ -*-===//
#ifndef FLOWC_TRANSFORMS_OUTLINING_H
#define FLOWC_TRANSFORMS_OUTLINING_H

#include "flowc/Dialect/Flow/FlowDialect.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"

namespace flowc {

using flow::batchedType;

/// Creates `func.func @name(inputs' types) -> outputs' types` marked as a
/// kernel at the end of `module`, holding clones of the ops of `body` that
/// compute `outputs` from `inputs` (in program order). Reports an error and
/// returns null if the slice reaches a data draw or a network application not
/// listed in `inputs`.
mlir::func::FuncOp outlineKernel(mlir::ModuleOp module, mlir::Block &body,
                                 llvm::StringRef name, mlir::ValueRange inputs,
                                 mlir::ValueRange outputs, mlir::Location loc);

/// Creates an empty host function `@name(argTypes) -> resultTypes` at the end
/// of `module`, with its entry block.
mlir::func::FuncOp createHostFunction(mlir::ModuleOp module, llvm::StringRef name,
                                      mlir::TypeRange argTypes,
                                      mlir::TypeRange resultTypes,
                                      mlir::Location loc);

} // namespace flowc

#endif
