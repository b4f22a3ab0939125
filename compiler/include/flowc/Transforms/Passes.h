//===- Passes.h - flowc passes ----------------------------------*- C++ -*-===//
#ifndef FLOWC_TRANSFORMS_PASSES_H
#define FLOWC_TRANSFORMS_PASSES_H

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"

namespace flowc {

#define GEN_PASS_DECL
#include "flowc/Transforms/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "flowc/Transforms/Passes.h.inc"

} // namespace flowc

#endif // FLOWC_TRANSFORMS_PASSES_H
