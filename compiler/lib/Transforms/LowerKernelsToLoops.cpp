//===- LowerKernelsToLoops.cpp - Kernels to CPU loops ---------------------===//
//
// Each per-sample kernel becomes a function over a batch: an scf.for over rows
// around the row code of KernelBody. The module is left with these functions
// only, ready for the LLVM lowering and an object file.
//
//===----------------------------------------------------------------------===//
#include "KernelBody.h"
#include "flowc/Transforms/Passes.h"

namespace flowc {
#define GEN_PASS_DEF_LOWERKERNELSTOLOOPS
#include "flowc/Transforms/Passes.h.inc"
} // namespace flowc

using namespace mlir;
using namespace flowc;

namespace {

struct LowerKernelsToLoopsPass
    : flowc::impl::LowerKernelsToLoopsBase<LowerKernelsToLoopsPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    SmallVector<Operation *> lowered;
    for (func::FuncOp kernel : collectKernels(module)) {
      OpBuilder b(module.getBodyRegion());
      b.setInsertionPointToEnd(module.getBody());
      Location loc = kernel.getLoc();
      auto fn = func::FuncOp::create(
          b, loc, kernel.getSymName(),
          b.getFunctionType(loweredKernelArgTypes(kernel), {}));
      Block *entry = fn.addEntryBlock();
      b.setInsertionPointToStart(entry);
      Value n = arith::IndexCastOp::create(b, loc, b.getIndexType(), fn.getArgument(0));
      Value zero = arith::ConstantIndexOp::create(b, loc, 0);
      Value one = arith::ConstantIndexOp::create(b, loc, 1);
      auto rows = scf::ForOp::create(b, loc, zero, n, one);
      func::ReturnOp::create(b, loc);
      b.setInsertionPoint(rows.getBody()->getTerminator());
      if (failed(emitKernelRow(b, kernel, rows.getInductionVar(), entry->getArguments())))
        return signalPassFailure();
      lowered.push_back(fn);
    }
    // The lowered functions take the kernels' names.
    for (func::FuncOp kernel : collectKernels(module))
      kernel.erase();
    eraseAllBut(module, lowered);
  }
};

} // namespace
