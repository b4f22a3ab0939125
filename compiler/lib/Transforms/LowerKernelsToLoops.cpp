//===- LowerKernelsToLoops.cpp - Kernels to CPU loops ---------------------===//
//
// Each per-sample kernel becomes a function over a batch: an scf.for over rows
// around the row code of KernelBody. The module is left with these functions
// only, ready for the LLVM lowering and an object file.
//
//===----------------------------------------------------------------------===//
#include "KernelBody.h"
#include "TrajectoryBody.h"
#include "flowc/Transforms/Passes.h"

#include "mlir/Dialect/Math/Transforms/Approximation.h"
#include "mlir/Dialect/Math/Transforms/Passes.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace flowc {
#define GEN_PASS_DEF_LOWERKERNELSTOLOOPS
#include "flowc/Transforms/Passes.h.inc"
} // namespace flowc

using namespace mlir;
using namespace flowc;

namespace {

/// Rows per block of a trajectory kernel: with 2 vectors of 8 outputs per
/// lane, each row of weights loaded feeds 8 FMAs.
constexpr int64_t kTrajectoryLanes = 4;

struct LowerKernelsToLoopsPass
    : flowc::impl::LowerKernelsToLoopsBase<LowerKernelsToLoopsPass> {
  /// Vector exp/tanh/erf/sin/cos (the inlined network's activations and time
  /// features) as polynomials:
  /// LLVM would otherwise call scalar libm once per lane. Scalar math keeps
  /// libm, so the other kernels' numbers do not change.
  void approximateVectorMath(ModuleOp module) {
    SmallVector<Operation *> ops;
    module.walk([&](Operation *op) {
      if (isa<math::ExpOp, math::TanhOp, math::ErfOp, math::SinOp, math::CosOp>(op) &&
          isa<VectorType>(op->getResult(0).getType()))
        ops.push_back(op);
    });
    if (ops.empty())
      return;
    RewritePatternSet patterns(module.getContext());
    populateMathPolynomialApproximationPatterns(
        patterns, [](StringRef name) {
          return llvm::is_contained({"math.exp", "math.tanh", "math.erf", "math.sin", "math.cos"},
                                    name);
        });
    (void)applyOpPatternsGreedily(ops, std::move(patterns),
                                  GreedyRewriteConfig().setStrictness(
                                      GreedyRewriteStrictness::ExistingAndNewOps));
    // The polynomials use math.fma, an exactly fused operation: on a CPU
    // without FMA (the portable x86-64 objects of --emit-project) it becomes
    // a software fmaf call per lane. A contractable multiply-add is fused
    // where the CPU has FMA and is two instructions where it does not.
    SmallVector<math::FmaOp> fmas;
    module.walk([&](math::FmaOp fma) {
      if (isa<VectorType>(fma.getType()))
        fmas.push_back(fma);
    });
    auto contract = arith::FastMathFlagsAttr::get(module.getContext(),
                                                  arith::FastMathFlags::contract);
    for (math::FmaOp fma : fmas) {
      OpBuilder b(fma);
      Value product = arith::MulFOp::create(b, fma.getLoc(), fma.getA(), fma.getB(), contract);
      fma.replaceAllUsesWith(
          arith::AddFOp::create(b, fma.getLoc(), product, fma.getC(), contract).getResult());
      fma.erase();
    }
  }

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
      func::ReturnOp::create(b, loc);
      b.setInsertionPoint(entry->getTerminator());
      Value start = zero;
      if (trajectoryOf(kernel)) {
        // Blocks of kTrajectoryLanes rows share every weight load, then the
        // remaining rows one by one.
        Value lanes = arith::ConstantIndexOp::create(b, loc, kTrajectoryLanes);
        start = arith::SubIOp::create(b, loc, n, arith::RemUIOp::create(b, loc, n, lanes));
        auto blocks = scf::ForOp::create(b, loc, zero, start, lanes);
        OpBuilder::InsertionGuard guard(b);
        b.setInsertionPoint(blocks.getBody()->getTerminator());
        if (failed(emitTrajectoryRows(b, kernel, blocks.getInductionVar(), kTrajectoryLanes,
                                      entry->getArguments())))
          return signalPassFailure();
      }
      auto rows = scf::ForOp::create(b, loc, start, n, one);
      b.setInsertionPoint(rows.getBody()->getTerminator());
      if (failed(emitAnyKernelRow(b, kernel, rows.getInductionVar(), entry->getArguments())))
        return signalPassFailure();
      lowered.push_back(fn);
    }
    approximateVectorMath(module);
    // The lowered functions take the kernels' names.
    for (func::FuncOp kernel : collectKernels(module))
      kernel.erase();
    eraseAllBut(module, lowered);
  }
};

} // namespace
