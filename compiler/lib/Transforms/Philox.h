//===- Philox.h - Counter-based random numbers in generated code -*- C++ -*-===//
//
// Emits Philox 4x32-10 (Salmon et al., "Parallel random numbers: as easy as
// 1, 2, 3", SC'11; the generator behind cuRAND's and PyTorch's CUDA draws) as
// plain arith ops, so that every kernel, CPU or GPU, draws the same numbers
// for the same (seed, step, row, column, stream) without a noise tensor.
//
// Counter = (row, column, stream, step), key = (seed low, seed high).
// uniform = (x0 >> 8) * 2^-24 in [0, 1);
// normal  = sqrt(-2 log u1) cos(2 pi u2) (Box-Muller) with
//           u1 = ((x0 >> 8) + 1) * 2^-24 in (0, 1], u2 = (x1 >> 8) * 2^-24.
//
//===----------------------------------------------------------------------===//
#ifndef FLOWC_TRANSFORMS_PHILOX_H
#define FLOWC_TRANSFORMS_PHILOX_H

#include "mlir/IR/Builders.h"

namespace flowc {

/// The four 32-bit outputs of Philox 4x32-10 for the given counter and key.
/// `row` and `column` are index values, `seed` and `step` i64.
std::array<mlir::Value, 4> emitPhilox(mlir::OpBuilder &b, mlir::Location loc,
                                      mlir::Value row, mlir::Value column,
                                      int64_t stream, mlir::Value step,
                                      mlir::Value seed);

/// A standard uniform f32 in [0, 1).
mlir::Value emitUniform(mlir::OpBuilder &b, mlir::Location loc, mlir::Value row,
                        mlir::Value column, int64_t stream, mlir::Value step,
                        mlir::Value seed);

/// A standard normal f32 (Box-Muller on the first two outputs).
mlir::Value emitNormal(mlir::OpBuilder &b, mlir::Location loc, mlir::Value row,
                       mlir::Value column, int64_t stream, mlir::Value step,
                       mlir::Value seed);

} // namespace flowc

#endif
