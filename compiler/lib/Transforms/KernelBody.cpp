//===- KernelBody.cpp - Scalarize a per-sample kernel body ----------------===//
//
// A kernel body computes one sample on `f32` and `tensor<D x f32>` values.
// For one row this emits:
//   1. every per-sample scalar once, in program order (a `flow.mean` becomes
//      an scf.for over features with an accumulator);
//   2. one fused scf.for over features that stores every vector result.
// Vector values are mostly not materialised: inside a feature loop, element j
// of a value is rebuilt from its def chain (loads, broadcasts, draws,
// elementwise ops), memoised per loop. Draws are pure functions of their
// counter, so rebuilding them in another loop gives the same numbers. A
// tensor of higher rank is one flat row-major row: j is its flat index, and
// the shape ops (expand, reduce_to, reshape, extract) map it to their
// input's indices. The ops whose element costs a loop (reduce_to, a softmax
// along an axis of a matrix, a categorical draw) are the exception: each is computed once per
// row into a small stack buffer, in program order, so that chains of them
// (a softmax's derivative sums over a softmax) cost a loop each rather than
// a loop per element of every user.
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
    cols = t.getNumElements();
  return MemRefType::get({ShapedType::kDynamic, cols}, f32);
}

/// Elements already built in the current loop, by (value, flat index): the
/// shape ops read their input at other indices than the loop's.
using ElementCache = llvm::DenseMap<std::pair<Value, Value>, Value>;

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
        if (softmax.getType().getRank() == 1 && failed(emitSoftmaxStatistics(softmax)))
          return failure();
      if (isLoopPerElement(&op) && failed(materialize(op.getResult(0))))
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
      int64_t d = cast<RankedTensorType>(vectorResults.front().second.getType()).getNumElements();
      auto loop = scf::ForOp::create(b, loc, zero, index(d), index(1));
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPoint(loop.getBody()->getTerminator());
      ElementCache cache;
      Value j = loop.getInductionVar();
      SmallVector<std::pair<unsigned, Value>> rest;
      for (auto [i, v] : vectorResults) {
        if (cast<RankedTensorType>(v.getType()).getNumElements() != d) {
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
  /// Values computed once per row into a buffer (see materialize).
  llvm::DenseMap<Value, Value> materialized;
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
      int64_t d = cast<RankedTensorType>(input.getType()).getNumElements();
      Value dv = arith::ConstantOp::create(b, loc, b.getF32FloatAttr(float(d)));
      return arith::DivFOp::create(b, loc, sum, dv);
    }
    if (auto sg = dyn_cast<fl::StopGradientOp>(op)) // derivatives are done
      return scalar(sg.getInput());
    if (auto extract = dyn_cast<fl::ExtractOp>(op)) {
      ElementCache cache;
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

  /// Whether an element of `op`'s result costs a loop over its input.
  static bool isLoopPerElement(Operation *op) {
    if (auto softmax = dyn_cast<fl::SoftmaxOp>(op))
      return softmax.getType().getRank() > 1;
    return isa<fl::ReduceToOp, fl::CategoricalOp>(op);
  }

  /// Computes every element of `v` once for this row into a stack buffer
  /// (allocated in the function's entry block: an alloca inside the loop
  /// over rows would grow the stack with every row), which element() then
  /// reads.
  LogicalResult materialize(Value v) {
    int64_t n = cast<RankedTensorType>(v.getType()).getNumElements();
    Operation *fn = b.getInsertionBlock()->getParentOp();
    while (!isa<FunctionOpInterface>(fn))
      fn = fn->getParentOp();
    Value buffer;
    {
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(&fn->getRegion(0).front());
      buffer = memref::AllocaOp::create(b, loc, MemRefType::get({n}, b.getF32Type()));
    }
    if (auto softmax = v.getDefiningOp<fl::SoftmaxOp>()) {
      if (failed(materializeSoftmax(softmax, buffer)))
        return failure();
    } else if (auto categorical = v.getDefiningOp<fl::CategoricalOp>()) {
      if (failed(materializeCategorical(categorical, buffer)))
        return failure();
    } else {
      auto loop = scf::ForOp::create(b, loc, index(0), index(n), index(1));
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPoint(loop.getBody()->getTerminator());
      ElementCache cache;
      Value e = element(v, loop.getInductionVar(), cache);
      if (!e)
        return failure();
      memref::StoreOp::create(b, loc, e, buffer, ValueRange{loop.getInductionVar()});
    }
    materialized[v] = buffer;
    return success();
  }

  /// A softmax along an axis of a matrix or higher, slice by slice: the max
  /// m and the sum s of exp(x - m) once per slice along the axis, then
  /// exp(x - m) / s for each of its elements (per element statistics would
  /// cost the axis's length squared exps per slice).
  LogicalResult materializeSoftmax(fl::SoftmaxOp op, Value buffer) {
    auto type = op.getType();
    int64_t axis = op.getAxis(), n = type.getDimSize(axis);
    SmallVector<int64_t> slices(type.getShape());
    slices[axis] = 1;
    auto outer = scf::ForOp::create(b, loc, index(0), index(type.getNumElements() / n),
                                    index(1));
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPoint(outer.getBody()->getTerminator());
    SmallVector<Value> idx = unravel(outer.getInductionVar(), slices);
    // Flat index of the slice's element i along the axis.
    auto at = [&](Value i) {
      SmallVector<Value> k(idx);
      k[axis] = i;
      return ravel(k, type.getShape());
    };
    auto fold = [&](float init, auto combine) -> Value {
      Value start = arith::ConstantOp::create(b, loc, b.getF32FloatAttr(init));
      auto loop = scf::ForOp::create(b, loc, index(0), index(n), index(1), ValueRange{start});
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(loop.getBody());
      ElementCache cache; // a fresh element per iteration
      Value x = element(op.getInput(), at(loop.getInductionVar()), cache);
      scf::YieldOp::create(b, loc, x ? combine(loop.getRegionIterArg(0), x)
                                     : loop.getRegionIterArg(0));
      return x ? loop.getResult(0) : Value();
    };
    Value m = fold(-std::numeric_limits<float>::infinity(), [&](Value acc, Value x) -> Value {
      return arith::MaximumFOp::create(b, loc, acc, x);
    });
    if (!m)
      return failure();
    Value s = fold(0.0f, [&](Value acc, Value x) -> Value {
      Value ex = math::ExpOp::create(b, loc, arith::SubFOp::create(b, loc, x, m));
      return arith::AddFOp::create(b, loc, acc, ex);
    });
    if (!s)
      return failure();
    auto write = scf::ForOp::create(b, loc, index(0), index(n), index(1));
    b.setInsertionPoint(write.getBody()->getTerminator());
    Value flat = at(write.getInductionVar());
    ElementCache cache;
    Value x = element(op.getInput(), flat, cache);
    if (!x)
      return failure();
    Value ex = math::ExpOp::create(b, loc, arith::SubFOp::create(b, loc, x, m));
    memref::StoreOp::create(b, loc, arith::DivFOp::create(b, loc, ex, s), buffer,
                            ValueRange{flat});
    return success();
  }

  /// A one-hot draw along the last axis, slice by slice: the weights' total,
  /// one uniform u per slice (keyed by the slice's index), then the first
  /// index k with a positive weight whose cumulative weight reaches u times
  /// the total. Requiring w_k > 0 keeps rounding at u near 0 or 1 from
  /// picking an index of weight 0.
  LogicalResult materializeCategorical(fl::CategoricalOp op, Value buffer) {
    auto type = op.getType();
    int64_t n = type.getShape().back();
    auto outer = scf::ForOp::create(b, loc, index(0), index(type.getNumElements() / n),
                                    index(1));
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPoint(outer.getBody()->getTerminator());
    Value slice = outer.getInductionVar();
    Value base = arith::MulIOp::create(b, loc, slice, index(n));
    Value zero = arith::ConstantOp::create(b, loc, b.getF32FloatAttr(0.0f));
    Value total;
    {
      auto sum = scf::ForOp::create(b, loc, index(0), index(n), index(1), ValueRange{zero});
      OpBuilder::InsertionGuard inner(b);
      b.setInsertionPointToStart(sum.getBody());
      ElementCache cache;
      Value w = element(op.getWeights(),
                        arith::AddIOp::create(b, loc, base, sum.getInductionVar()), cache);
      if (!w)
        return failure();
      scf::YieldOp::create(b, loc,
                           arith::AddFOp::create(b, loc, sum.getRegionIterArg(0), w).getResult());
      total = sum.getResult(0);
    }
    Value u = emitUniform(b, loc, row, slice, op.getStream(), step, seed);
    Value target = arith::MulFOp::create(b, loc, u, total);
    Value notYet = arith::ConstantOp::create(b, loc, b.getBoolAttr(false));
    auto pick = scf::ForOp::create(b, loc, index(0), index(n), index(1),
                                   ValueRange{zero, notYet});
    b.setInsertionPointToStart(pick.getBody());
    Value flat = arith::AddIOp::create(b, loc, base, pick.getInductionVar());
    ElementCache cache;
    Value w = element(op.getWeights(), flat, cache);
    if (!w)
      return failure();
    Value cum = arith::AddFOp::create(b, loc, pick.getRegionIterArg(0), w);
    Value done = pick.getRegionIterArg(1);
    Value here = arith::AndIOp::create(
        b, loc,
        arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OGT, w, zero),
        arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OGE, cum, target));
    Value chosen = arith::AndIOp::create(
        b, loc, here,
        arith::XOrIOp::create(b, loc, done,
                              arith::ConstantOp::create(b, loc, b.getBoolAttr(true))));
    memref::StoreOp::create(b, loc, arith::UIToFPOp::create(b, loc, b.getF32Type(), chosen),
                            buffer, ValueRange{flat});
    scf::YieldOp::create(b, loc, ValueRange{cum, arith::OrIOp::create(b, loc, done, chosen)});
    return success();
  }

  /// Folds `combine` over the features of `input` in an scf.for at row level.
  Value reduce(Value input, float init,
               llvm::function_ref<Value(Value, Value)> combine) {
    int64_t d = cast<RankedTensorType>(input.getType()).getNumElements();
    Value start = arith::ConstantOp::create(b, loc, b.getF32FloatAttr(init));
    auto loop =
        scf::ForOp::create(b, loc, index(0), index(d), index(1), ValueRange{start});
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(loop.getBody());
    ElementCache cache;
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

  /// Row-major indices of flat index j in `shape` (innermost last).
  SmallVector<Value> unravel(Value j, ArrayRef<int64_t> shape) {
    SmallVector<Value> idx(shape.size());
    for (int64_t k = shape.size() - 1; k >= 0; --k) {
      idx[k] = arith::RemUIOp::create(b, loc, j, index(shape[k]));
      j = arith::DivUIOp::create(b, loc, j, index(shape[k]));
    }
    return idx;
  }
  Value ravel(ArrayRef<Value> idx, ArrayRef<int64_t> shape) {
    Value flat = index(0);
    for (auto [i, n] : llvm::zip(idx, shape))
      flat = arith::AddIOp::create(b, loc, arith::MulIOp::create(b, loc, flat, index(n)), i);
    return flat;
  }

  /// The flat index in `from` that `flow.expand` copies to flat index j of
  /// `to`: axes align at the end; size-1 axes of `from` take index 0.
  Value expandSource(RankedTensorType from, RankedTensorType to, Value j) {
    SmallVector<Value> idx = unravel(j, to.getShape());
    int64_t offset = to.getRank() - from.getRank();
    SmallVector<Value> src;
    for (int64_t k = 0; k < from.getRank(); ++k)
      src.push_back(from.getDimSize(k) == 1 ? index(0) : idx[offset + k]);
    return ravel(src, from.getShape());
  }

  /// Element j of `flow.reduce_to`: the sum over the input elements that
  /// expand copies from j, enumerated by m over the summed axes.
  Value reduceTo(fl::ReduceToOp op, Value j) {
    auto in = op.getInput().getType();
    auto out = op.getType();
    int64_t offset = in.getRank() - out.getRank();
    SmallVector<Value> outIdx = unravel(j, out.getShape());
    SmallVector<int64_t> summed; // axes of the input that are summed over
    for (int64_t k = 0; k < in.getRank(); ++k)
      if (k < offset || out.getDimSize(k - offset) == 1)
        summed.push_back(k);
    int64_t count = in.getNumElements() / out.getNumElements();
    Value start = arith::ConstantOp::create(b, loc, b.getF32FloatAttr(0.0f));
    auto loop = scf::ForOp::create(b, loc, index(0), index(count), index(1),
                                   ValueRange{start});
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(loop.getBody());
    SmallVector<int64_t> summedShape;
    for (int64_t k : summed)
      summedShape.push_back(in.getDimSize(k));
    SmallVector<Value> mIdx = unravel(loop.getInductionVar(), summedShape);
    SmallVector<Value> src(in.getRank());
    for (auto [n, k] : llvm::enumerate(summed))
      src[k] = mIdx[n];
    for (int64_t k = 0; k < in.getRank(); ++k)
      if (!src[k])
        src[k] = outIdx[k - offset];
    ElementCache cache; // a fresh element per iteration
    Value e = element(op.getInput(), ravel(src, in.getShape()), cache);
    if (!e)
      return nullptr;
    scf::YieldOp::create(b, loc, arith::AddFOp::create(b, loc, loop.getRegionIterArg(0), e).getResult());
    return loop.getResult(0);
  }

  /// Element j of a dense constant: the splat, or a chain of selects on j
  /// (tensor constants are small; no table in memory, so CPU and GPU alike).
  Value constantElement(DenseElementsAttr dense, Value j) {
    if (dense.isSplat())
      return arith::ConstantOp::create(b, loc, dense.getSplatValue<FloatAttr>());
    auto values = llvm::to_vector(dense.getValues<FloatAttr>());
    Value e = arith::ConstantOp::create(b, loc, values.front());
    for (auto [k, v] : llvm::enumerate(llvm::drop_begin(values))) {
      Value here = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, j, index(k + 1));
      e = arith::SelectOp::create(b, loc, here, arith::ConstantOp::create(b, loc, v), e);
    }
    return e;
  }

  /// Element j of a concat: each input's element at j's index along the
  /// axis less the input's offset (clamped into the input, so every read
  /// is in bounds), the last input whose offset j has reached chosen by
  /// selects. Draws are pure, so computing an unchosen element is harmless.
  Value concatElement(fl::ConcatOp cat, Value j, ElementCache &cache) {
    int64_t axis = cat.getAxis();
    SmallVector<Value> idx = unravel(j, cat.getType().getShape());
    Value along = idx[axis];
    Value e;
    int64_t offset = 0;
    for (Value in : cat.getInputs()) {
      auto type = cast<RankedTensorType>(in.getType());
      int64_t n = type.getDimSize(axis);
      Value local = arith::SubIOp::create(b, loc, arith::MaxUIOp::create(b, loc, along,
                                                                         index(offset)),
                                          index(offset));
      SmallVector<Value> at(idx);
      at[axis] = arith::MinUIOp::create(b, loc, local, index(n - 1));
      Value ei = element(in, ravel(at, type.getShape()), cache);
      if (!ei)
        return nullptr;
      if (!e) {
        e = ei;
      } else {
        Value reached =
            arith::CmpIOp::create(b, loc, arith::CmpIPredicate::uge, along, index(offset));
        e = arith::SelectOp::create(b, loc, reached, ei, e);
      }
      offset += n;
    }
    return e;
  }

  /// Element j of a per-sample vector (or a scalar, for broadcast operands).
  Value element(Value v, Value j, ElementCache &cache) {
    if (!isa<RankedTensorType>(v.getType()))
      return scalar(v);
    if (Value hit = cache.lookup({v, j}))
      return hit;
    Value e;
    if (Value buffer = materialized.lookup(v)) {
      e = memref::LoadOp::create(b, loc, buffer, ValueRange{j});
    } else if (auto arg = dyn_cast<BlockArgument>(v)) {
      e = memref::LoadOp::create(b, loc, args[arg.getArgNumber()], ValueRange{row, j});
    } else {
      Operation *op = v.getDefiningOp();
      if (auto c = dyn_cast<arith::ConstantOp>(op)) {
        auto dense = dyn_cast<DenseElementsAttr>(c.getValue());
        if (!dense) {
          op->emitError("a tensor constant in a kernel must be dense");
          return nullptr;
        }
        e = constantElement(dense, j);
      } else if (auto cat = dyn_cast<fl::ConcatOp>(op)) {
        e = concatElement(cat, j, cache);
      } else if (auto sl = dyn_cast<fl::SliceOp>(op)) {
        SmallVector<Value> idx = unravel(j, sl.getType().getShape());
        int64_t axis = sl.getAxis();
        idx[axis] = arith::AddIOp::create(b, loc, idx[axis], index(sl.getOffset()));
        e = element(sl.getInput(), ravel(idx, sl.getInput().getType().getShape()), cache);
      } else if (auto bc = dyn_cast<fl::BroadcastOp>(op)) {
        e = scalar(bc.getInput());
      } else if (auto n = dyn_cast<fl::NormalOp>(op)) {
        e = emitNormal(b, loc, row, j, n.getStream(), step, seed);
      } else if (auto u = dyn_cast<fl::UniformOp>(op)) {
        e = emitUniform(b, loc, row, j, u.getStream(), step, seed);
      } else if (auto softmax = dyn_cast<fl::SoftmaxOp>(op)) {
        // A vector's statistics are computed once per row; a softmax
        // along an axis of a matrix is materialized (materializeSoftmax).
        auto [m, sum] = softmaxStatistics.lookup(softmax);
        Value x = element(softmax.getInput(), j, cache);
        if (!x)
          return nullptr;
        Value ex = math::ExpOp::create(b, loc, arith::SubFOp::create(b, loc, x, m));
        e = arith::DivFOp::create(b, loc, ex, sum);
      } else if (auto ex = dyn_cast<fl::ExpandOp>(op)) {
        e = element(ex.getInput(), expandSource(ex.getInput().getType(), ex.getType(), j),
                    cache);
      } else if (auto red = dyn_cast<fl::ReduceToOp>(op)) {
        e = reduceTo(red, j);
      } else if (auto re = dyn_cast<fl::ReshapeOp>(op)) {
        e = element(re.getInput(), j, cache); // the same flat row
      } else if (auto sg = dyn_cast<fl::StopGradientOp>(op)) {
        e = element(sg.getInput(), j, cache); // derivatives are done
      } else if (auto ext = dyn_cast<fl::ExtractOp>(op)) { // a slice
        int64_t inner = cast<RankedTensorType>(ext.getType()).getNumElements();
        Value start = index(ext.getPosition() * inner);
        e = element(ext.getInput(), arith::AddIOp::create(b, loc, start, j), cache);
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
    cache[{v, j}] = e;
    return e;
  }
};

} // namespace

SmallVector<Type> flowc::loweredKernelArgTypes(func::FuncOp kernel) {
  Builder b(kernel.getContext());
  SmallVector<Type> types(3, b.getI64Type());
  for (auto [i, t] : llvm::enumerate(kernel.getArgumentTypes()))
    types.push_back(!isUniformArg(kernel, i) ? rowsMemRef(t)
                    : isa<RankedTensorType>(t)
                        ? MemRefType::get({ShapedType::kDynamic}, b.getF32Type())
                        : t);
  for (Type t : kernel.getResultTypes())
    types.push_back(rowsMemRef(t));
  return types;
}

LogicalResult flowc::emitKernelRow(OpBuilder &b, func::FuncOp kernel, Value row,
                                   ValueRange loweredArgs) {
  return RowEmitter(b, kernel, row, loweredArgs).run();
}

bool flowc::kernelDraws(func::FuncOp kernel) {
  return kernel
      .walk([](Operation *op) {
        return fl::isDraw(op) ? WalkResult::interrupt() : WalkResult::advance();
      })
      .wasInterrupted();
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
