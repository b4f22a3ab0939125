//===- Partition.h - A per-sample body cut at its network applications -*- C++ -*-===//
//
// A flow body (and a sampled field or a source written as an expression)
// is a dataflow graph of per-sample values whose only opaque nodes are
// network applications (a network's output, or its Jacobian-vector product
// for ddt). FlowGraph gives every op a level, its network depth: data,
// draws and constants are 0; an application's result is one more than its
// deepest argument; any other op is as deep as its deepest
// operand. The non-network ops of one level form a region, one kernel; the
// host runs region 0, the applications of level 1, region 1, and so on
// (outlineGraph writes that schedule). Draws have no operands, so only
// region 0 draws.
//
//===----------------------------------------------------------------------===//
#ifndef FLOWC_TRANSFORMS_PARTITION_H
#define FLOWC_TRANSFORMS_PARTITION_H

#include "flowc/Dialect/Flow/FlowDialect.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/IRMapping.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/DenseSet.h"

namespace flowc {

/// A constant, or a value computed from constants alone by pure ops (a
/// constant broadcast to a tensor, the halves of a tensor of levels):
/// recomputed in the kernel that uses it rather than passed in a buffer.
bool isConstantValue(mlir::Value v);

/// A network application: flow.apply_net, or flow.apply_net_jvp (its
/// Jacobian-vector product), which the host runs with LibTorch.
bool isNetworkApplication(mlir::Operation *op);

/// What the host runs between kernels: a network application, or a batch
/// average (flow.batch_average), which is not per sample.
bool isHostApplication(mlir::Operation *op);

/// One level of a partition: its kernel computes `outputs` from `inputs`.
struct GraphRegion {
  unsigned level;
  llvm::SmallVector<mlir::Value> inputs, outputs;
  mlir::func::FuncOp kernel;
};

class FlowGraph {
public:
  explicit FlowGraph(mlir::Block &body);

  /// Whether the loss's gradient reaches `v`: it depends on a network
  /// output, not through flow.sg.
  bool carriesGradient(mlir::Value v) const { return gradient.contains(v); }

  /// Whether the loss's gradient reaches `v`: some chain of its users ends
  /// in the loss without passing flow.sg (else `v` is a constant to
  /// training, as MeanFlow's target is).
  bool lossGradientReaches(mlir::Value v) const;

  /// The deepest level: the most applications on any chain of values.
  unsigned deepestLevel() const { return depth; }

  /// The network applications of `level` (flow.apply_net and
  /// flow.apply_net_jvp), in program order.
  llvm::SmallVector<mlir::Operation *> applicationsAt(unsigned level) const;

  /// One region per level that computes something used elsewhere. Inputs
  /// are the data as drawn, then the rest in order of first use; outputs
  /// are in order of their users (so the path kernel returns the network's
  /// inputs first). Constants are recomputed where they are used, never
  /// passed.
  llvm::SmallVector<GraphRegion> regions() const;

private:
  mlir::Block &body;
  llvm::DenseMap<mlir::Operation *, unsigned> levels;
  llvm::DenseSet<mlir::Value> gradient;
  unsigned depth = 0;

  /// The ops a region's kernel computes: not applications, data draws or
  /// markers.
  bool inRegion(mlir::Operation *op, unsigned level) const;
};

/// Outlines each region of `graph` (cut from `body`) as a kernel named
/// `kernelName(level)`, and writes at `b`'s insertion point the host
/// schedule: level by level, the region's flow.launch over `rows` with
/// counter `step`, then the network applications one level deeper as
/// flow.net. `onHost` maps per-sample values to their batches: the caller
/// binds the body's leaves (arguments, data draws); the schedule adds
/// everything it computes. Returns the regions, kernels set, or failure
/// (reported).
mlir::FailureOr<llvm::SmallVector<GraphRegion>>
outlineGraph(mlir::ModuleOp module, mlir::Block &body, const FlowGraph &graph,
             llvm::function_ref<std::string(unsigned level)> kernelName, mlir::OpBuilder &b,
             mlir::Location loc, mlir::Value rows, mlir::Value step, mlir::IRMapping &onHost);

} // namespace flowc

#endif
