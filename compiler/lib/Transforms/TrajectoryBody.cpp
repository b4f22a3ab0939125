//===- TrajectoryBody.cpp - Whole ODE solves of a block of rows -----------===//
//
// For a block of `lanes` rows, flow.integrate becomes
//
//   for n in 0..steps:                                  t = t0 + n h
//     for i in 0..s:   x_i = x + h sum_{m<i} a_im k_m   (every lane)
//                      k_i = mlp([x_i, time(t + c_i h), class])
//     x += h sum_i b_i k_i
//
// with every buffer a small stack array ([lanes, ...]) allocated once per
// call. The tableau is read at run time, so one kernel serves every
// fixed-step solver. A dense layer is a matrix product over W^T tiled by
// outputs: the tile's accumulators (lanes x vectors) are vector registers
// carried through the loop over inputs, and each row of W^T loaded feeds
// every lane's FMA. On a CPU, 4 lanes x 2 vectors of 8 keep the FMA units
// busy rather than the loads; on a GPU one lane per thread reads the same
// weights as its whole warp. In the first layer only x is multiplied per
// sample: the time features' part (with the bias) is the same for every
// sample at a stage, and the class embedding's part the same for a sample
// all along its trajectory, so both are computed once. The runtime's MLP is the reference: the same
// layer order, Fourier time features and null class.
//
//===----------------------------------------------------------------------===//
#include "TrajectoryBody.h"

#include "KernelBody.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Interfaces/FunctionInterfaces.h"

#include <cmath>

using namespace mlir;
using namespace flowc;
namespace fl = flowc::flow;

MlpLayout flowc::mlpLayout(fl::NetworkOp network) {
  MlpLayout l;
  static_cast<flowrt::MlpLayout &>(l) =
      flowrt::mlpLayout(network.getInDim(), network.getWidth(), network.getDepth(),
                        network.getTimeFeatures(), network.getClasses());
  l.dim = network.getInDim();
  l.timeFeatures = network.getTimeFeatures();
  l.classes = network.getClasses();
  l.activation = network.getActivation().str();
  return l;
}

fl::IntegrateOp flowc::trajectoryOf(func::FuncOp kernel) {
  if (kernel.isExternal())
    return nullptr;
  Block &body = kernel.front();
  if (body.getOperations().size() != 2)
    return nullptr;
  return dyn_cast<fl::IntegrateOp>(body.front());
}

namespace {

/// Accumulator vectors per tile, for all lanes together: 8 leaves room in
/// 16 vector registers for the broadcasts and the row of weights.
constexpr int64_t kAccumulators = 8;

class TrajectoryEmitter {
public:
  TrajectoryEmitter(OpBuilder &b, Location loc, const MlpLayout &layout, int64_t lanes,
                    Value weights)
      : b(b), loc(loc), L(layout), lanes(lanes), weights(weights) {}

  Value index(int64_t v) { return arith::ConstantIndexOp::create(b, loc, v); }
  Value f32(double v) { return arith::ConstantOp::create(b, loc, b.getF32FloatAttr(float(v))); }
  Value add(Value x, Value y) { return arith::AddFOp::create(b, loc, x, y); }
  Value mul(Value x, Value y) { return arith::MulFOp::create(b, loc, x, y); }
  Value addi(Value x, Value y) { return arith::AddIOp::create(b, loc, x, y); }
  Value muli(Value x, Value y) { return arith::MulIOp::create(b, loc, x, y); }
  Value addi(Value x, int64_t y) { return y == 0 ? x : addi(x, index(y)); }
  Value load(Value mem, Value i) { return memref::LoadOp::create(b, loc, mem, ValueRange{i}); }
  void store(Value v, Value mem, Value i) {
    memref::StoreOp::create(b, loc, v, mem, ValueRange{i});
  }
  Value toIndex(Value f) { // a small non-negative count held in an f32
    Value i = arith::FPToSIOp::create(b, loc, b.getI64Type(), f);
    return arith::IndexCastOp::create(b, loc, b.getIndexType(), i);
  }

  /// A buffer of n floats, allocated once in the function's entry block: an
  /// alloca inside the loop over rows would grow the stack with every row.
  Value buffer(int64_t n) {
    Operation *fn = b.getInsertionBlock()->getParentOp();
    while (!isa<FunctionOpInterface>(fn))
      fn = fn->getParentOp();
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(&fn->getRegion(0).front());
    return memref::AllocaOp::create(b, loc, MemRefType::get({n}, b.getF32Type()));
  }

  /// The same storage as a flat memref<lanes * cols x f32>, for mlp().
  Value flatten(Value rows) {
    auto type = cast<MemRefType>(rows.getType());
    int64_t cols = type.getDimSize(1);
    auto source = rows.getDefiningOp<memref::CastOp>().getSource();
    int64_t n = cast<MemRefType>(source.getType()).getDimSize(0) * cols;
    return memref::CollapseShapeOp::create(b, loc, MemRefType::get({n}, b.getF32Type()), source,
                                           ArrayRef<ReassociationIndices>{{0, 1}});
  }

  /// for v in [from, to): body(v)
  void loop(Value from, Value to, llvm::function_ref<void(Value)> body) {
    auto forOp = scf::ForOp::create(b, loc, from, to, index(1));
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPoint(forOp.getBody()->getTerminator());
    body(forOp.getInductionVar());
  }
  void loop(int64_t n, llvm::function_ref<void(Value)> body) { loop(index(0), index(n), body); }

  /// Copies the class embedding row of `label` (-1 or out of range: the null
  /// row) to in[at, at + embedDim).
  void classEmbedding(Value label, Value in, Value at) {
    Type i64 = b.getI64Type();
    Value k = arith::FPToSIOp::create(b, loc, i64, math::RoundOp::create(b, loc, label));
    Value zero = arith::ConstantOp::create(b, loc, b.getI64IntegerAttr(0));
    Value classes = arith::ConstantOp::create(b, loc, b.getI64IntegerAttr(L.classes));
    Value valid = arith::AndIOp::create(
        b, loc, arith::CmpIOp::create(b, loc, arith::CmpIPredicate::sge, k, zero),
        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt, k, classes));
    k = arith::SelectOp::create(b, loc, valid, k, classes);
    Value row = addi(index(L.embeddingOffset),
                     muli(arith::IndexCastOp::create(b, loc, b.getIndexType(), k),
                          index(L.embedDim)));
    loop(L.embedDim, [&](Value e) { store(load(weights, addi(row, e)), in, addi(at, e)); });
  }

  /// Writes the network's time inputs for time t to in[at, ...) of every
  /// lane: t itself, or [sin(2 pi f t)..., cos(2 pi f t)...] for f = 1..F/2,
  /// computed as the runtime does, (2 pi t) f, as one vector each.
  void timeFeatures(Value t, Value in, int64_t at, int64_t stride) {
    if (L.timeFeatures == 0) {
      for (int64_t q = 0; q < lanes; ++q)
        store(t, in, index(at + q * stride));
      return;
    }
    int64_t half = L.timeFeatures / 2;
    auto vecType = VectorType::get({half}, b.getF32Type());
    SmallVector<float> f;
    for (double fi : flowrt::fourierFrequencies(L.timeFeatures))
      f.push_back(float(fi));
    Value freqs = arith::ConstantOp::create(b, loc, DenseElementsAttr::get(vecType, ArrayRef(f)));
    Value angle = mul(vector::BroadcastOp::create(b, loc, vecType, mul(f32(2 * M_PI), t)), freqs);
    Value sines = math::SinOp::create(b, loc, angle), cosines = math::CosOp::create(b, loc, angle);
    for (int64_t q = 0; q < lanes; ++q) {
      vector::StoreOp::create(b, loc, sines, in, ValueRange{index(at + q * stride)});
      vector::StoreOp::create(b, loc, cosines, in, ValueRange{index(at + q * stride + half)});
    }
  }

  Value activate(Value v) {
    auto splat = [&](double c) {
      return arith::ConstantOp::create(
          b, loc,
          DenseElementsAttr::get(cast<ShapedType>(v.getType()), b.getF32FloatAttr(float(c))));
    };
    if (L.activation == "relu")
      return arith::MaximumFOp::create(b, loc, v, splat(0.0));
    if (L.activation == "tanh")
      return math::TanhOp::create(b, loc, v);
    if (L.activation == "gelu") // exact, as torch: x/2 (1 + erf(x / sqrt 2))
      return mul(mul(splat(0.5), v),
                 add(splat(1.0), math::ErfOp::create(b, loc, mul(v, splat(M_SQRT1_2)))));
    // silu: x / (1 + exp(-x))
    Value e = math::ExpOp::create(b, loc, arith::NegFOp::create(b, loc, v));
    return arith::DivFOp::create(b, loc, v, add(splat(1.0), e));
  }

  /// The first value of an accumulator: lane q, outputs [o, o + width).
  using Init = llvm::function_ref<Value(int64_t q, Value o, VectorType type)>;

  /// The bias of layer l as every accumulator's first value.
  Value biasInit(unsigned l, Value o, VectorType type) {
    return vector::LoadOp::create(b, loc, type, weights, ValueRange{addi(o, L.biasOffset[l])});
  }

  /// Outputs [o0, o0 + vectors * width) of layer l for `rows` lanes, over
  /// the layer's inputs [from, to): out[q * outStride + o] = act(init(q, o)
  /// + sum_i in[q * inStride + i] W^T[i][o]).
  void denseTile(unsigned l, int64_t rows, Value in, int64_t inStride, int64_t from,
                 int64_t to, Init init, Value out, Value outBase, int64_t outStride, Value o0,
                 int64_t vectors, int64_t width, bool act) {
    auto vecType = VectorType::get({width}, b.getF32Type());
    int64_t nOut = L.out[l];
    SmallVector<Value> first;
    for (int64_t q = 0; q < rows; ++q)
      for (int64_t k = 0; k < vectors; ++k)
        first.push_back(init(q, addi(o0, k * width), vecType));
    auto forOp = scf::ForOp::create(
        b, loc, index(from), index(to), index(1), first,
        [&](OpBuilder &nb, Location, Value i, ValueRange acc) {
          OpBuilder::InsertionGuard guard(b);
          b.setInsertionPointToEnd(nb.getInsertionBlock());
          Value row = addi(muli(i, index(nOut)), addi(o0, L.weightOffset[l]));
          SmallVector<Value> w, x, next;
          for (int64_t k = 0; k < vectors; ++k)
            w.push_back(vector::LoadOp::create(b, loc, vecType, weights,
                                               ValueRange{addi(row, k * width)}));
          for (int64_t q = 0; q < rows; ++q)
            x.push_back(vector::BroadcastOp::create(b, loc, vecType,
                                                    load(in, addi(i, q * inStride))));
          for (int64_t q = 0; q < rows; ++q)
            for (int64_t k = 0; k < vectors; ++k)
              next.push_back(
                  vector::FMAOp::create(b, loc, x[q], w[k], acc[q * vectors + k]));
          scf::YieldOp::create(b, loc, next);
        });
    for (int64_t q = 0; q < rows; ++q)
      for (int64_t k = 0; k < vectors; ++k) {
        Value v = forOp.getResult(q * vectors + k);
        vector::StoreOp::create(b, loc, act ? activate(v) : v, out,
                                ValueRange{addi(addi(outBase, o0), q * outStride + k * width)});
      }
  }

  /// Layer l over inputs [from, to) for `rows` lanes, tile by tile.
  void dense(unsigned l, int64_t rows, Value in, int64_t inStride, int64_t from, int64_t to,
             Init init, Value out, Value outBase, int64_t outStride, bool act) {
    int64_t nOut = L.out[l];
    int64_t width = nOut % 8 == 0 ? 8 : nOut % 4 == 0 ? 4 : nOut % 2 == 0 ? 2 : 1;
    int64_t perTile = std::max<int64_t>(1, kAccumulators / rows);
    int64_t tile = perTile * width, full = nOut / tile, tail = nOut % tile;
    auto emit = [&](Value o0, int64_t vectors) {
      denseTile(l, rows, in, inStride, from, to, init, out, outBase, outStride, o0, vectors,
                width, act);
    };
    if (full == 1)
      emit(index(0), perTile);
    else if (full > 1)
      loop(full, [&](Value t) { emit(muli(t, index(tile)), perTile); });
    if (tail)
      emit(index(full * tile), tail / width);
  }

  /// The first layer's inputs are x (per sample), the time features (the
  /// same for every sample at a stage) and the class embedding (the same
  /// for a sample all along its trajectory). So the time part, with the
  /// bias, is computed once per stage for the block (`timeBias`), the class
  /// part once per trajectory (`classPart`, see classProduct), and only x
  /// is multiplied per sample and stage.
  void firstLayer(Value in, Value timeBias, Value classPart, Value out, int64_t outStride) {
    int64_t inWidth = L.in.front(), d = L.dim, w = L.out.front();
    int64_t timeWidth = std::max<int64_t>(L.timeFeatures, 1);
    auto bias = [&](int64_t, Value o, VectorType type) { return biasInit(0, o, type); };
    dense(0, 1, in, inWidth, d, d + timeWidth, bias, timeBias, index(0), 0, false);
    auto init = [&](int64_t q, Value o, VectorType type) -> Value {
      Value v = vector::LoadOp::create(b, loc, type, timeBias, ValueRange{o});
      if (!classPart)
        return v;
      return add(v, vector::LoadOp::create(b, loc, type, classPart, ValueRange{addi(o, q * w)}));
    };
    dense(0, lanes, in, inWidth, 0, d, init, out, index(0), outStride, true);
  }

  /// classPart[q][o] = sum_e embedding_q[e] W^T[class inputs + e][o] for
  /// every lane, from the class embeddings already in `in`.
  void classProduct(Value in, Value classPart) {
    int64_t from = L.dim + std::max<int64_t>(L.timeFeatures, 1);
    auto zero = [&](int64_t, Value, VectorType type) -> Value {
      return arith::ConstantOp::create(
          b, loc, DenseElementsAttr::get(cast<ShapedType>(type), b.getF32FloatAttr(0.0f)));
    };
    dense(0, lanes, in, L.in.front(), from, from + L.embedDim, zero, classPart, index(0),
          L.out.front(), false);
  }

  /// out[outBase + q * dim + j] = mlp(in of lane q)[j].
  void mlp(Value in, Value timeBias, Value classPart, Value hiddenA, Value hiddenB,
           int64_t hidden, Value out, Value outBase) {
    firstLayer(in, timeBias, classPart, hiddenA, hidden);
    Value src = hiddenA;
    unsigned layers = L.in.size();
    for (unsigned l = 1; l < layers; ++l) {
      bool last = l + 1 == layers;
      Value dst = last ? out : (l % 2 == 0 ? hiddenA : hiddenB);
      auto bias = [&](int64_t, Value o, VectorType type) { return biasInit(l, o, type); };
      dense(l, lanes, src, hidden, 0, L.in[l], bias, dst, last ? outBase : index(0),
            last ? L.dim : hidden, !last);
      src = dst;
    }
  }

private:
  OpBuilder &b;
  Location loc;
  const MlpLayout &L;
  int64_t lanes;
  Value weights;
};

} // namespace

LogicalResult flowc::emitTrajectoryRows(OpBuilder &b, func::FuncOp kernel, Value row,
                                        int64_t lanes, ValueRange loweredArgs) {
  fl::IntegrateOp op = trajectoryOf(kernel);
  Location loc = op.getLoc();
  auto network = SymbolTable::lookupNearestSymbolFrom<fl::NetworkOp>(op, op.getNetworkAttr());
  if (!network || network.getKind() != "mlp")
    return op.emitError("flow.integrate needs an mlp network");
  MlpLayout L = mlpLayout(network);
  int64_t d = L.dim;
  if (cast<RankedTensorType>(op.getX().getType()).getNumElements() != d)
    return op.emitError("flow.integrate: the state has another size than the network");
  // The lowered kernel's arguments: (n, seed, step, one per kernel argument,
  // the result).
  auto lowered = [&](Value v) {
    return loweredArgs[3 + cast<BlockArgument>(v).getArgNumber()];
  };
  Value xIn = lowered(op.getX()), weights = lowered(op.getWeights()),
        tableau = lowered(op.getTableau()), t0 = lowered(op.getT0()), h = lowered(op.getH()),
        steps = lowered(op.getSteps());
  Value labels = op.getLabel() ? lowered(op.getLabel()) : Value();
  Value xOut = loweredArgs[3 + kernel.getNumArguments()];

  TrajectoryEmitter e(b, loc, L, lanes, weights);
  int64_t inWidth = L.in.front(), maxStages = op.getMaxStages();
  int64_t hidden = 1;
  for (int64_t w : L.out)
    hidden = std::max(hidden, w);
  Value state = e.buffer(lanes * d), in = e.buffer(lanes * inWidth),
        hiddenA = e.buffer(lanes * hidden), hiddenB = e.buffer(lanes * hidden),
        k = e.buffer(maxStages * lanes * d), timeBias = e.buffer(L.out.front());
  Value classPart = labels ? e.buffer(lanes * L.out.front()) : Value();
  int64_t timeAt = d, classAt = d + std::max<int64_t>(L.timeFeatures, 1);
  Value zero = e.index(0);
  // Guidance: the null class's part of the first layer too.
  func::FuncOp guidance;
  Value nullPart;
  if (auto g = op.getGuidanceAttr()) {
    guidance = SymbolTable::lookupNearestSymbolFrom<func::FuncOp>(op, g);
    if (!guidance || !labels)
      return op.emitError("flow.integrate: guidance needs its kernel and labels");
    nullPart = e.buffer(lanes * L.out.front());
    for (int64_t q = 0; q < lanes; ++q)
      e.classEmbedding(e.f32(-1.0), in, e.index(q * inWidth + classAt));
    e.classProduct(in, nullPart);
  }
  for (int64_t q = 0; q < lanes; ++q) {
    Value r = e.addi(row, q);
    e.loop(d, [&](Value j) {
      e.store(memref::LoadOp::create(b, loc, xIn, ValueRange{r, j}), state, e.addi(j, q * d));
    });
    if (labels)
      e.classEmbedding(memref::LoadOp::create(b, loc, labels, ValueRange{r, zero}), in,
                       e.index(q * inWidth + classAt));
  }
  if (labels)
    e.classProduct(in, classPart);
  // Guidance's operands and result as [lanes, d] (and [lanes, 1]) rows, the
  // form its kernel's row code reads and writes.
  auto rowsBuffer = [&](int64_t cols) -> Value {
    auto type = MemRefType::get({lanes, cols}, b.getF32Type());
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPoint(state.getDefiningOp());
    Value buffer = memref::AllocaOp::create(b, loc, type);
    return memref::CastOp::create(
        b, loc, MemRefType::get({ShapedType::kDynamic, cols}, b.getF32Type()), buffer);
  };
  Value vCond, vUncond, xRows, tRows, gOut;
  if (guidance) {
    vCond = rowsBuffer(d), vUncond = rowsBuffer(d), xRows = rowsBuffer(d);
    tRows = rowsBuffer(1), gOut = rowsBuffer(d);
  }
  // The tableau: s, c[s], a[s][s], b[s].
  Value s = e.toIndex(e.load(tableau, zero));
  auto c = [&](Value i) { return e.load(tableau, e.addi(i, 1)); };
  auto a = [&](Value i, Value m) {
    return e.load(tableau, e.addi(e.addi(e.addi(e.muli(i, s), m), s), 1));
  };
  auto bWeight = [&](Value i) {
    return e.load(tableau, e.addi(e.addi(e.addi(e.muli(s, s), s), i), 1));
  };
  // k_m of lane q, feature j.
  auto kAt = [&](Value m, int64_t q, Value j) {
    return e.addi(e.addi(e.muli(m, e.index(lanes * d)), j), q * d);
  };
  // sum_{m < count} weight(m) k_m for lane q, feature j.
  auto combination = [&](Value count, llvm::function_ref<Value(Value)> weight, int64_t q,
                         Value j) {
    Value start = e.f32(0.0);
    auto sum = scf::ForOp::create(
        b, loc, zero, count, e.index(1), ValueRange{start},
        [&](OpBuilder &nb, Location, Value m, ValueRange acc) {
          OpBuilder::InsertionGuard guard(b);
          b.setInsertionPointToEnd(nb.getInsertionBlock());
          scf::YieldOp::create(b, loc, e.add(acc[0], e.mul(weight(m), e.load(k, kAt(m, q, j)))));
        });
    return sum.getResult(0);
  };
  Value hs = op.getReverse() ? Value(arith::NegFOp::create(b, loc, h)) : h;

  LogicalResult status = success();
  Value stepsIndex = arith::IndexCastOp::create(b, loc, b.getIndexType(), steps);
  e.loop(zero, stepsIndex, [&](Value n) {
    Value nf = arith::SIToFPOp::create(b, loc, b.getF32Type(),
                                       arith::IndexCastOp::create(b, loc, b.getI64Type(), n));
    Value t = e.add(t0, e.mul(nf, h));
    e.loop(zero, s, [&](Value i) {
      // The stage's input x_i = x + h sum_{m<i} a_im k_m goes to in[q][0, d).
      for (int64_t q = 0; q < lanes; ++q)
        e.loop(d, [&](Value j) {
          Value sum = combination(i, [&](Value m) { return a(i, m); }, q, j);
          Value x = e.load(state, e.addi(j, q * d));
          e.store(e.add(x, e.mul(hs, sum)), in, e.addi(j, q * inWidth));
        });
      Value ti = e.add(t, e.mul(c(i), h));
      if (op.getReverse())
        ti = arith::SubFOp::create(b, loc, e.f32(1.0), ti);
      e.timeFeatures(ti, in, timeAt, inWidth);
      Value kBase = e.muli(i, e.index(lanes * d));
      if (!guidance) {
        e.mlp(in, timeBias, classPart, hiddenA, hiddenB, hidden, k, kBase);
        return;
      }
      // k_i = g(v(x_i, t, y), v(x_i, t, null), x_i, t, w), lane by lane.
      e.mlp(in, timeBias, classPart, hiddenA, hiddenB, hidden, e.flatten(vCond), zero);
      e.mlp(in, timeBias, nullPart, hiddenA, hiddenB, hidden, e.flatten(vUncond), zero);
      for (int64_t q = 0; q < lanes; ++q) {
        Value lane = e.index(q);
        memref::StoreOp::create(b, loc, ti, tRows, ValueRange{lane, zero});
        e.loop(d, [&](Value j) {
          memref::StoreOp::create(b, loc, e.load(in, e.addi(j, q * inWidth)), xRows,
                                  ValueRange{lane, j});
        });
      }
      Value i64Zero = arith::ConstantOp::create(b, loc, b.getI64IntegerAttr(0));
      Value lanesI64 = arith::ConstantOp::create(b, loc, b.getI64IntegerAttr(lanes));
      SmallVector<Value> args{lanesI64, i64Zero, i64Zero, vCond, vUncond, xRows, tRows,
                              lowered(op.getW()), gOut};
      for (int64_t q = 0; q < lanes; ++q) {
        if (failed(emitKernelRow(b, guidance, e.index(q), args))) {
          status = failure();
          return;
        }
        e.loop(d, [&](Value j) {
          e.store(memref::LoadOp::create(b, loc, gOut, ValueRange{e.index(q), j}), k,
                  e.addi(e.addi(kBase, j), q * d));
        });
      }
    });
    // x += h sum_i b_i k_i
    for (int64_t q = 0; q < lanes; ++q)
      e.loop(d, [&](Value j) {
        Value sum = combination(s, bWeight, q, j);
        Value at = e.addi(j, q * d);
        e.store(e.add(e.load(state, at), e.mul(hs, sum)), state, at);
      });
  });
  for (int64_t q = 0; q < lanes; ++q) {
    Value r = e.addi(row, q);
    e.loop(d, [&](Value j) {
      memref::StoreOp::create(b, loc, e.load(state, e.addi(j, q * d)), xOut, ValueRange{r, j});
    });
  }
  return status;
}

LogicalResult flowc::emitAnyKernelRow(OpBuilder &b, func::FuncOp kernel, Value row,
                                      ValueRange loweredArgs) {
  if (trajectoryOf(kernel))
    return emitTrajectoryRows(b, kernel, row, /*lanes=*/1, loweredArgs);
  return emitKernelRow(b, kernel, row, loweredArgs);
}
