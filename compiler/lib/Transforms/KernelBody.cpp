//===- KernelBody.cpp - Scalarize a per-sample kernel body ----------------===//
//
// A kernel body computes one sample on `f32` and `tensor<D x f32>` values.
// For one row this emits:
//   1. every per-sample scalar once, in program order (a `flow.mean` becomes
//      an scf.for over features with an accumulator);
//   2. one fused scf.for over features that stores every vector result.
// Vector values are never materialised: inside a feature loop, element j of a
// value is rebuilt from its def chain (loads, broadcasts, draws, elementwise
// ops), memoised per loop. Draws are pure functions of their counter, so
// rebuilding them in another loop gives the same numbers.
//
//===----------------------------------------------------------------------===//
#include "KernelBody.h"

#include "Philox.h"
#include "flowc/Dialect/Flow/FlowDialect.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"

#include <limits>

using namespace mlir;
using namespace flowc;
namespace fl = flowc::flow;

namespace {

bool isUniformArg(func::FuncOp kernel, unsigned i) {
  auto attr = kernel->getAttrOfType<DenseBoolArrayAttr>(fl::kUniformArgsAttr);
  return attr && i < attr.size() && attr[i];
}

MemRefType rowsMemRef(Type sampleType) {
  auto f32 = Float32Type::get(sampleType.getContext());
  int64_t cols = 1;
  if (auto t = dyn_cast<RankedTensorType>(sampleType))
    cols = t.getDimSize(0);
  return MemRefType::get({ShapedType::kDynamic, cols}, f32);
}

class RowEmitter {
public:
  RowEmitter(OpBuilder &b, func::FuncOp kernel, Value row, ValueRange lowered)
      : b(b), kernel(kernel), row(row), loc(kernel.getLoc()) {
    seed = lowered[1];
    step = lowered[2];
    unsigned numArgs = kernel.getNumArguments();
    args.assign(lowered.begin() + 3, lowered.begin() + 3 + numArgs);
    results.assign(lowered.begin() + 3 + numArgs, lowered.end());
  }

  LogicalResult run() {
    Block &body = kernel.front();
    // Per-sample scalar arguments are loaded once per row.
    for (BlockArgument arg : body.getArguments())
      if (!isa<RankedTensorType>(arg.getType()) && !isUniformArg(kernel, arg.getArgNumber()))
        scalars[arg] = memref::LoadOp::create(b, loc, args[arg.getArgNumber()],
                                              ValueRange{row, index(0)});
    for (Operation &op : body.without_terminator()) {
      if (auto softmax = dyn_cast<fl::SoftmaxOp>(op))
        if (failed(emitSoftmaxStatistics(softmax)))
          return failure();
      for (Value r : op.getResults())
        if (!isa<RankedTensorType>(r.getType())) {
          Value s = emitScalar(&op);
          if (!s)
            return failure();
          scalars[r] = s;
        }
    }
    auto ret = cast<func::ReturnOp>(body.getTerminator());
    Value zero = index(0);
    SmallVector<std::pair<unsigned, Value>> vectorResults;
    for (auto [i, v] : llvm::enumerate(ret.getOperands())) {
      if (v.getType().isF32())
        memref::StoreOp::create(b, loc, scalar(v), results[i], ValueRange{row, zero});
      else
        vectorResults.push_back({unsigned(i), v});
    }
    // One fused feature loop per distinct width (normally just one).
    while (!vectorResults.empty()) {
      int64_t d = cast<RankedTensorType>(vectorResults.front().second.getType()).getDimSize(0);
      auto loop = scf::ForOp::create(b, loc, zero, index(d), index(1));
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPoint(loop.getBody()->getTerminator());
      llvm::DenseMap<Value, Value> cache;
      Value j = loop.getInductionVar();
      SmallVector<std::pair<unsigned, Value>> rest;
      for (auto [i, v] : vectorResults) {
        if (cast<RankedTensorType>(v.getType()).getDimSize(0) != d) {
          rest.push_back({i, v});
          continue;
        }
        Value e = element(v, j, cache);
        if (!e)
          return failure();
        memref::StoreOp::create(b, loc, e, results[i], ValueRange{row, j});
      }
      vectorResults = std::move(rest);
    }
    return success();
  }

private:
  OpBuilder &b;
  func::FuncOp kernel;
  Value row, seed, step;
  Location loc;
  SmallVector<Value> args, results;
  llvm::DenseMap<Value, Value> scalars;
  llvm::DenseMap<Operation *, std::pair<Value, Value>> softmaxStatistics;

  Value index(int64_t v) { return arith::ConstantIndexOp::create(b, loc, v); }

  /// A per-sample scalar of the kernel, at row level.
  Value scalar(Value v) {
    if (auto arg = dyn_cast<BlockArgument>(v))
      if (isUniformArg(kernel, arg.getArgNumber()))
        return args[arg.getArgNumber()];
    return scalars.lookup(v);
  }

  /// Clones an elementwise arith/math op on scalar operands.
  Value cloneElementwise(Operation *op, ValueRange operands) {
    OperationState state(op->getLoc(), op->getName());
    state.addOperands(operands);
    state.addTypes(getElementTypeOrSelf(op->getResult(0).getType()));
    state.addAttributes(op->getAttrs());
    return b.create(state)->getResult(0);
  }

  bool isElementwise(Operation *op) {
    return op->hasTrait<OpTrait::Elementwise>() && op->getNumResults() == 1 &&
           (isa<arith::ArithDialect, math::MathDialect>(op->getDialect()));
  }

  Value emitScalar(Operation *op) {
    Value zero = index(0);
    if (auto c = dyn_cast<arith::ConstantOp>(op))
      return b.clone(*op)->getResult(0);
    if (auto n = dyn_cast<fl::NormalOp>(op))
      return emitNormal(b, loc, row, zero, n.getStream(), step, seed);
    if (auto u = dyn_cast<fl::UniformOp>(op))
      return emitUniform(b, loc, row, zero, u.getStream(), step, seed);
    if (isa<fl::MeanOp, fl::SumOp>(op)) {
      Value input = op->getOperand(0);
      Value sum = reduce(input, 0.0f, [&](Value acc, Value e) {
        return arith::AddFOp::create(b, loc, acc, e);
      });
      if (!sum || isa<fl::SumOp>(op))
        return sum;
      int64_t d = cast<RankedTensorType>(input.getType()).getDimSize(0);
      Value dv = arith::ConstantOp::create(b, loc, b.getF32FloatAttr(float(d)));
      return arith::DivFOp::create(b, loc, sum, dv);
    }
    if (auto extract = dyn_cast<fl::ExtractOp>(op)) {
      llvm::DenseMap<Value, Value> cache;
      return element(extract.getInput(), index(extract.getPosition()), cache);
    }
    if (isElementwise(op)) {
      SmallVector<Value> operands;
      for (Value o : op->getOperands())
        operands.push_back(scalar(o));
      return cloneElementwise(op, operands);
    }
    op->emitError("cannot lower '") << op->getName() << "' in a kernel";
    return nullptr;
  }

  /// Folds `combine` over the features of `input` in an scf.for at row level.
  Value reduce(Value input, float init,
               llvm::function_ref<Value(Value, Value)> combine) {
    int64_t d = cast<RankedTensorType>(input.getType()).getDimSize(0);
    Value start = arith::ConstantOp::create(b, loc, b.getF32FloatAttr(init));
    auto loop =
        scf::ForOp::create(b, loc, index(0), index(d), index(1), ValueRange{start});
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(loop.getBody());
    llvm::DenseMap<Value, Value> cache;
    Value e = element(input, loop.getInductionVar(), cache);
    if (!e)
      return nullptr;
    scf::YieldOp::create(b, loc, combine(loop.getRegionIterArg(0), e));
    return loop.getResult(0);
  }

  /// Per row: m = max_j x_j and s = sum_j exp(x_j - m); element j of the
  /// softmax is then exp(x_j - m) / s.
  LogicalResult emitSoftmaxStatistics(fl::SoftmaxOp op) {
    Value x = op.getInput();
    Value m = reduce(x, -std::numeric_limits<float>::infinity(),
                     [&](Value acc, Value e) {
                       return arith::MaximumFOp::create(b, loc, acc, e);
                     });
    if (!m)
      return failure();
    Value s = reduce(x, 0.0f, [&](Value acc, Value e) {
      Value shifted = arith::SubFOp::create(b, loc, e, m);
      return arith::AddFOp::create(b, loc, acc, math::ExpOp::create(b, loc, shifted));
    });
    if (!s)
      return failure();
    softmaxStatistics[op] = {m, s};
    return success();
  }

  /// Element j of a per-sample vector (or a scalar, for broadcast operands).
  Value element(Value v, Value j, llvm::DenseMap<Value, Value> &cache) {
    if (!isa<RankedTensorType>(v.getType()))
      return scalar(v);
    if (Value hit = cache.lookup(v))
      return hit;
    Value e;
    if (auto arg = dyn_cast<BlockArgument>(v)) {
      e = memref::LoadOp::create(b, loc, args[arg.getArgNumber()], ValueRange{row, j});
    } else {
      Operation *op = v.getDefiningOp();
      if (auto c = dyn_cast<arith::ConstantOp>(op)) {
        auto dense = dyn_cast<DenseElementsAttr>(c.getValue());
        if (!dense || !dense.isSplat()) {
          op->emitError("only splat vector constants are supported in kernels");
          return nullptr;
        }
        e = arith::ConstantOp::create(b, loc, dense.getSplatValue<FloatAttr>());
      } else if (auto bc = dyn_cast<fl::BroadcastOp>(op)) {
        e = scalar(bc.getInput());
      } else if (auto n = dyn_cast<fl::NormalOp>(op)) {
        e = emitNormal(b, loc, row, j, n.getStream(), step, seed);
      } else if (auto u = dyn_cast<fl::UniformOp>(op)) {
        e = emitUniform(b, loc, row, j, u.getStream(), step, seed);
      } else if (auto softmax = dyn_cast<fl::SoftmaxOp>(op)) {
        auto [m, sum] = softmaxStatistics.lookup(softmax);
        Value x = element(softmax.getInput(), j, cache);
        if (!x)
          return nullptr;
        Value ex = math::ExpOp::create(b, loc, arith::SubFOp::create(b, loc, x, m));
        e = arith::DivFOp::create(b, loc, ex, sum);
      } else if (auto hot = dyn_cast<fl::OneHotOp>(op)) {
        Value k = scalar(hot.getIndex());
        Value jf = arith::SIToFPOp::create(
            b, loc, b.getF32Type(),
            arith::IndexCastOp::create(b, loc, b.getI64Type(), j));
        Value same = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OEQ, k, jf);
        e = arith::UIToFPOp::create(b, loc, b.getF32Type(), same);
      } else if (isElementwise(op)) {
        SmallVector<Value> operands;
        for (Value o : op->getOperands()) {
          Value oe = element(o, j, cache);
          if (!oe)
            return nullptr;
          operands.push_back(oe);
        }
        e = cloneElementwise(op, operands);
      } else {
        op->emitError("cannot lower '") << op->getName() << "' in a kernel";
        return nullptr;
      }
    }
    cache[v] = e;
    return e;
  }
};

} // namespace

SmallVector<Type> flowc::loweredKernelArgTypes(func::FuncOp kernel) {
  Builder b(kernel.getContext());
  SmallVector<Type> types(3, b.getI64Type());
  for (auto [i, t] : llvm::enumerate(kernel.getArgumentTypes()))
    types.push_back(isUniformArg(kernel, i) ? t : rowsMemRef(t));
  for (Type t : kernel.getResultTypes())
    types.push_back(rowsMemRef(t));
  return types;
}

LogicalResult flowc::emitKernelRow(OpBuilder &b, func::FuncOp kernel, Value row,
                                   ValueRange loweredArgs) {
  return RowEmitter(b, kernel, row, loweredArgs).run();
}

SmallVector<func::FuncOp> flowc::collectKernels(ModuleOp module) {
  SmallVector<func::FuncOp> kernels;
  for (auto fn : module.getOps<func::FuncOp>())
    if (fn->hasAttr(fl::kKernelAttr))
      kernels.push_back(fn);
  return kernels;
}

void flowc::eraseAllBut(ModuleOp module, ArrayRef<Operation *> keep) {
  llvm::DenseSet<Operation *> kept(keep.begin(), keep.end());
  for (Operation &op : llvm::make_early_inc_range(*module.getBody()))
    if (!kept.contains(&op))
      op.erase();
}
