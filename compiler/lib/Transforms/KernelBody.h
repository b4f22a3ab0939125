//===- KernelBody.h - One row of a per-sample kernel, as loops --*- C++ -*-===//
//
// Shared by the CPU and GPU lowerings: both iterate over rows (a loop or a
// thread index) and emit the same per-row code, so a kernel computes the same
// numbers on both. The bottom layer of the kernel lowering: TrajectoryBody
// builds on it (a guidance kernel inside a trajectory), never the reverse.
//
//===----------------------------------------------------------------------===//
#ifndef FLOWC_TRANSFORMS_KERNELBODY_H
#define FLOWC_TRANSFORMS_KERNELBODY_H

#include "mlir/Dialect/Func/IR/FuncOps.h"

namespace flowc {

/// Argument types of a lowered kernel: (n: i64, seed: i64, step: i64, one per
/// kernel argument: memref<?xDxf32> / memref<?x1xf32> for per-sample values,
/// f32 or i64 for uniform scalars, memref<?xf32> for uniform flat buffers;
/// then one memref per result).
llvm::SmallVector<mlir::Type> loweredKernelArgTypes(mlir::func::FuncOp kernel);

/// Emits, at `b`'s insertion point, the code computing row `row` (an index) of
/// `kernel`, whose body is per-sample arith/math/flow ops (not a trajectory
/// kernel: see emitAnyKernelRow). `loweredArgs` are the lowered function's
/// arguments in the order of loweredKernelArgTypes.
mlir::LogicalResult emitKernelRow(mlir::OpBuilder &b, mlir::func::FuncOp kernel,
                                  mlir::Value row, mlir::ValueRange loweredArgs);

/// Whether `kernel` draws noise, i.e. reads its random-number counter.
bool kernelDraws(mlir::func::FuncOp kernel);

/// Collects the kernels of `module` (func.func marked flow.kernel).
llvm::SmallVector<mlir::func::FuncOp> collectKernels(mlir::ModuleOp module);

/// Erases everything in `module` but the given ops.
void eraseAllBut(mlir::ModuleOp module, llvm::ArrayRef<mlir::Operation *> keep);

} // namespace flowc

#endif
