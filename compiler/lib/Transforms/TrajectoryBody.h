//===- TrajectoryBody.h - Whole ODE solves of a block of rows ---*- C++ -*-===//
//
// Lowers a trajectory kernel (a body that is one flow.integrate) for a block
// of rows: the solver's step loop with the MLP evaluated in the kernel
// (matrix products on vector registers), so a whole trajectory is one kernel
// launch. The CPU lowering runs blocks of several rows, so every weight
// loaded feeds several rows' FMAs; the GPU lowering one row per thread.
//
//===----------------------------------------------------------------------===//
#ifndef FLOWC_TRANSFORMS_TRAJECTORYBODY_H
#define FLOWC_TRANSFORMS_TRAJECTORYBODY_H

#include "flowc/Dialect/Flow/FlowDialect.h"
#include "flowrt/shared.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"

namespace flowc {

/// An MLP network as a trajectory kernel evaluates it: its sizes and
/// activation, and where each parameter sits in the flat buffer of
/// flowrt_net_weights (flowrt::MlpLayout, the layout the runtime packs).
struct MlpLayout : flowrt::MlpLayout {
  int64_t dim = 0, timeFeatures = 0, classes = 0;
  std::string activation;
};

/// The layout of `network` (an "mlp"), as the runtime packs it.
MlpLayout mlpLayout(flow::NetworkOp network);

/// The flow.integrate of a trajectory kernel (its body is that one op), or
/// null for other kernels.
flow::IntegrateOp trajectoryOf(mlir::func::FuncOp kernel);

/// Emits, at `b`'s insertion point, the whole trajectories of rows
/// [row, row + lanes) of trajectory kernel `kernel`, reading and writing the
/// lowered kernel's arguments `loweredArgs` (see loweredKernelArgTypes).
mlir::LogicalResult emitTrajectoryRows(mlir::OpBuilder &b, mlir::func::FuncOp kernel,
                                       mlir::Value row, int64_t lanes,
                                       mlir::ValueRange loweredArgs);

/// Row `row` of any kernel: a trajectory kernel's whole solve
/// (emitTrajectoryRows, one lane), any other through emitKernelRow.
mlir::LogicalResult emitAnyKernelRow(mlir::OpBuilder &b, mlir::func::FuncOp kernel,
                                     mlir::Value row, mlir::ValueRange loweredArgs);

} // namespace flowc

#endif
