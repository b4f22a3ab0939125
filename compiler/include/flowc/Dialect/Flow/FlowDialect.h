//===- FlowDialect.h - The flow dialect -------------------------*- C++ -*-===//
#ifndef FLOWC_DIALECT_FLOW_FLOWDIALECT_H
#define FLOWC_DIALECT_FLOW_FLOWDIALECT_H

#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Dialect.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/RegionKindInterface.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Interfaces/InferTypeOpInterface.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#include "flowc/Dialect/Flow/FlowDialect.h.inc"

namespace mlir::func {
class FuncOp;
} // namespace mlir::func

#define GET_OP_CLASSES
#include "flowc/Dialect/Flow/FlowOps.h.inc"

namespace flowc::flow {
/// Attribute names marking outlined functions.
inline constexpr llvm::StringLiteral kKernelAttr = "flow.kernel";
inline constexpr llvm::StringLiteral kHostAttr = "flow.host";
/// On region kernels: one bool per argument, true for the arguments that get
/// an adjoint (the loss's gradient reaches them); the kernel then has a
/// reverse-mode kernel, named by the `vjp` of its launches.
inline constexpr llvm::StringLiteral kGradArgsAttr = "flow.grad_args";
/// On kernels: one bool per argument, true for launch-uniform scalars (such as
/// a solver's step size) and flat buffers (network weights) rather than
/// per-sample values.
inline constexpr llvm::StringLiteral kUniformArgsAttr = "flow.uniform_args";
/// On kernels: the kernel draws random numbers.
inline constexpr llvm::StringLiteral kDrawsAttr = "flow.draws";
/// On kernels: rows are independent and nothing depends on the row index
/// (no draws), so the host may run row ranges on several threads.
inline constexpr llvm::StringLiteral kParallelRowsAttr = "flow.parallel_rows";
/// On flow.launch: for each result, the operand it overwrites. The kernel
/// must read a row's inputs before writing its results (all per-sample values
/// scalar), as an optimizer update over a flat parameter buffer does.
inline constexpr llvm::StringLiteral kInPlaceAttr = "flow.in_place";
/// On kernels: on a GPU the launch-uniform f32 arguments are read from
/// device memory (one memref<1xf32> each), not passed by value, so a launch
/// captured in a CUDA graph sees the values the runtime writes before each
/// replay (the optimizer's learning rate and step, the EMA's decay).
inline constexpr llvm::StringLiteral kUniformsInMemoryAttr = "flow.uniforms_in_memory";

/// On host functions that sampling calls: the arguments that take each
/// sample's condition, "label" (class labels, [rows, 1]) or "cond"
/// (condition tensors, [rows, C]). They come last, the label first.
inline constexpr llvm::StringLiteral kConditionAttr = "flow.condition";

/// The conditions a host function takes (or a field, a source).
struct Conditions {
  bool label = false;
  bool cond = false;
  bool any() const { return label || cond; }
  unsigned size() const { return unsigned(label) + unsigned(cond); }
};
/// The conditions `fn` takes: its arguments marked kConditionAttr.
Conditions takenConditions(mlir::func::FuncOp fn);
/// Marks the last `c.size()` arguments of `fn` as its conditions.
void markConditions(mlir::func::FuncOp fn, Conditions c);

/// Whether `op` draws random numbers (normal, uniform, categorical): a leaf
/// of differentiation and a reason for a kernel to take the step counter.
bool isDraw(mlir::Operation *op);

/// The host type of a per-sample type, what a flow.launch passes for a
/// per-sample kernel argument: f32 -> tensor<?x1xf32>, tensor<D1 x ... x
/// f32> -> tensor<? x (D1 * ...) x f32>.
mlir::Type batchedType(mlir::Type sampleType);

/// The number of state buffers of a `flow.train`'s verified
/// `optimizer_step(p, g, state..., lr, step, rows)`.
int64_t optimizerStateCount(mlir::FunctionType optimizerStep);
} // namespace flowc::flow

#endif
