//===- ExprBuilder.h - Elementwise arithmetic with symbolic zeros -*- C++ -*-===//
//
// A small builder for the derivative and solver passes: it creates arith/math
// ops on f32 or per-sample tensors, treats a null Value as an exact zero, and
// folds multiplications by the constants 0, 1 and -1, so that generated
// derivatives stay as short as a person would write them (ddt of the linear
// path is `x1 - x0`, not `-1 * x0 + 1 * x1 + 0 * t`).
//
//===----------------------------------------------------------------------===//
#ifndef FLOWC_TRANSFORMS_EXPRBUILDER_H
#define FLOWC_TRANSFORMS_EXPRBUILDER_H

#include "flowc/Dialect/Flow/FlowDialect.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/IR/Builders.h"

#include <optional>

namespace flowc {

class ExprBuilder {
public:
  ExprBuilder(mlir::OpBuilder &b, mlir::Location loc) : b(b), loc(loc) {}

  /// A constant of `type` (f32, or a splat per-sample tensor).
  mlir::Value constantLike(double v, mlir::Type type) {
    if (auto t = mlir::dyn_cast<mlir::RankedTensorType>(type))
      return mlir::arith::ConstantOp::create(
          b, loc, mlir::DenseElementsAttr::get(t, b.getF32FloatAttr(float(v))));
    return mlir::arith::ConstantOp::create(b, loc, b.getF32FloatAttr(float(v)));
  }

  /// The constant value of `v` if it is a float constant, a splat, or the
  /// broadcast of a constant.
  static std::optional<double> constantOf(mlir::Value v) {
    if (!v)
      return 0.0;
    if (auto bc = v.getDefiningOp<flow::BroadcastOp>())
      return constantOf(bc.getInput());
    auto c = v.getDefiningOp<mlir::arith::ConstantOp>();
    if (!c)
      return std::nullopt;
    if (auto f = mlir::dyn_cast<mlir::FloatAttr>(c.getValue()))
      return f.getValueAsDouble();
    if (auto d = mlir::dyn_cast<mlir::DenseElementsAttr>(c.getValue()))
      if (d.isSplat())
        return d.getSplatValue<llvm::APFloat>().convertToDouble();
    return std::nullopt;
  }

  /// Brings a scalar, or a tensor of a shape that broadcasts, to `to`; a
  /// null stays null.
  mlir::Value broadcast(mlir::Value v, mlir::Type to) {
    if (!v || v.getType() == to)
      return v;
    if (mlir::isa<mlir::RankedTensorType>(v.getType()))
      return flow::ExpandOp::create(b, loc, to, v);
    return flow::BroadcastOp::create(b, loc, to, v);
  }
  /// Sums a tensor down to a shape that broadcasts to it.
  mlir::Value reduceTo(mlir::Value v, mlir::Type to) {
    if (!v || v.getType() == to)
      return v;
    return flow::ReduceToOp::create(b, loc, to, v);
  }
  mlir::Value reshape(mlir::Value v, mlir::Type to) {
    if (!v || v.getType() == to)
      return v;
    return flow::ReshapeOp::create(b, loc, to, v);
  }

  mlir::Value add(mlir::Value x, mlir::Value y) {
    if (!x) return y;
    if (!y) return x;
    unify(x, y);
    if (auto n = x.getDefiningOp<mlir::arith::NegFOp>()) // -a + y = y - a
      return mlir::arith::SubFOp::create(b, loc, y, n.getOperand());
    if (auto n = y.getDefiningOp<mlir::arith::NegFOp>()) // x + -a = x - a
      return mlir::arith::SubFOp::create(b, loc, x, n.getOperand());
    return mlir::arith::AddFOp::create(b, loc, x, y);
  }
  mlir::Value sub(mlir::Value x, mlir::Value y) {
    if (!y) return x;
    if (!x) return neg(y);
    unify(x, y);
    return mlir::arith::SubFOp::create(b, loc, x, y);
  }
  mlir::Value neg(mlir::Value x) {
    if (!x) return x;
    if (auto n = x.getDefiningOp<mlir::arith::NegFOp>())
      return n.getOperand();
    if (auto c = constantOf(x); c && !x.getDefiningOp<flow::BroadcastOp>())
      return constantLike(-*c, x.getType());
    return mlir::arith::NegFOp::create(b, loc, x);
  }
  mlir::Value mul(mlir::Value x, mlir::Value y) {
    if (!x || !y) return nullptr;
    for (int i = 0; i < 2; ++i, std::swap(x, y)) {
      auto c = constantOf(x);
      if (!c) continue;
      if (*c == 0) return nullptr;
      if (*c == 1) return widen(y, x.getType());
      if (*c == -1) return neg(widen(y, x.getType()));
    }
    unify(x, y);
    return mlir::arith::MulFOp::create(b, loc, x, y);
  }
  mlir::Value div(mlir::Value x, mlir::Value y) {
    if (!x) return nullptr;
    if (auto c = constantOf(y); c && *c == 1)
      return widen(x, y.getType());
    unify(x, y);
    return mlir::arith::DivFOp::create(b, loc, x, y);
  }
  mlir::Value mean(mlir::Value x) {
    return flow::MeanOp::create(b, loc, b.getF32Type(), x);
  }
  mlir::Value sum(mlir::Value x) {
    return flow::SumOp::create(b, loc, b.getF32Type(), x);
  }
  /// The sums of `x` along `axis`, repeated along it (x's shape): for a
  /// vector, its sum everywhere.
  mlir::Value sumAlong(mlir::Value x, int64_t axis) {
    auto type = mlir::cast<mlir::RankedTensorType>(x.getType());
    if (type.getRank() == 1)
      return broadcast(sum(x), type);
    llvm::SmallVector<int64_t> kept(type.getShape());
    kept[axis] = 1;
    return broadcast(reduceTo(x, mlir::RankedTensorType::get(kept, type.getElementType())),
                     type);
  }
  mlir::Value extract(mlir::Value x, int64_t position) {
    return flow::ExtractOp::create(b, loc, x, position);
  }
  /// `parts` joined along `axis` into `type`; a null part is zeros of
  /// `types[i]`, and all null is null.
  mlir::Value concat(llvm::ArrayRef<mlir::Value> parts, llvm::ArrayRef<mlir::Type> types,
                     int64_t axis, mlir::Type type) {
    if (llvm::all_of(parts, [](mlir::Value v) { return !v; }))
      return nullptr;
    llvm::SmallVector<mlir::Value> inputs;
    for (auto [v, t] : llvm::zip(parts, types))
      inputs.push_back(v ? v : constantLike(0.0, t));
    return flow::ConcatOp::create(b, loc, type, inputs, axis);
  }
  /// Entries offset.. of `x` along `axis`, of type `to`; a null stays null.
  mlir::Value slice(mlir::Value x, int64_t axis, int64_t offset, mlir::Type to) {
    if (!x)
      return nullptr;
    return flow::SliceOp::create(b, loc, to, x, axis, offset);
  }
  /// where(cond, x, y) with an i1 condition; a null side is a zero.
  mlir::Value select(mlir::Value cond, mlir::Value x, mlir::Value y) {
    if (!x && !y)
      return nullptr;
    mlir::Type type = x ? x.getType() : y.getType();
    if (!x) x = constantLike(0.0, type);
    if (!y) y = constantLike(0.0, type);
    return mlir::arith::SelectOp::create(b, loc, cond, x, y);
  }
  mlir::Value compare(mlir::arith::CmpFPredicate p, mlir::Value x, mlir::Value y) {
    return mlir::arith::CmpFOp::create(b, loc, p, x, y);
  }
  mlir::Value sin(mlir::Value x) { return mlir::math::SinOp::create(b, loc, x); }
  mlir::Value sqrt(mlir::Value x) { return mlir::math::SqrtOp::create(b, loc, x); }
  mlir::Value abs(mlir::Value x) { return mlir::math::AbsFOp::create(b, loc, x); }
  mlir::Value min(mlir::Value x, mlir::Value y) {
    unify(x, y);
    return mlir::arith::MinimumFOp::create(b, loc, x, y);
  }
  mlir::Value max(mlir::Value x, mlir::Value y) {
    unify(x, y);
    return mlir::arith::MaximumFOp::create(b, loc, x, y);
  }
  /// Logical and of two i1 values.
  mlir::Value andI(mlir::Value x, mlir::Value y) {
    return mlir::arith::AndIOp::create(b, loc, x, y);
  }
  mlir::Value cos(mlir::Value x) { return mlir::math::CosOp::create(b, loc, x); }
  mlir::Value log(mlir::Value x) { return mlir::math::LogOp::create(b, loc, x); }
  mlir::Value exp(mlir::Value x) { return mlir::math::ExpOp::create(b, loc, x); }
  mlir::Value pow(mlir::Value x, mlir::Value y) {
    unify(x, y);
    return mlir::math::PowFOp::create(b, loc, x, y);
  }
  /// sign(x) as copysign(1, x).
  mlir::Value sign(mlir::Value x) {
    return mlir::math::CopySignOp::create(b, loc, constantLike(1.0, x.getType()), x);
  }

  mlir::OpBuilder &builder() { return b; }

private:
  mlir::OpBuilder &b;
  mlir::Location loc;

  /// Keeps the wider (vector) type when an operand is dropped by folding.
  mlir::Value widen(mlir::Value v, mlir::Type other) {
    if (mlir::isa<mlir::RankedTensorType>(other))
      return broadcast(v, other);
    return v;
  }
  void unify(mlir::Value &x, mlir::Value &y) {
    x = widen(x, y.getType());
    y = widen(y, x.getType());
  }
};

} // namespace flowc

#endif
