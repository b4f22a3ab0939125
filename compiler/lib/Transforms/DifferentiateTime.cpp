//===- DifferentiateTime.cpp - Symbolic d/dt of path expressions ----------===//
//
// Replaces every `flow.ddt %y wrt %t` by the forward-mode derivative of %y's
// def chain with respect to %t (see Passes.td for the rules). Derivatives that
// are identically zero are represented by a null Value while building, so
// constant factors and unrelated draws vanish instead of producing `0 * x`.
//
//===----------------------------------------------------------------------===//
#include "flowc/Dialect/Flow/FlowDialect.h"
#include "flowc/Transforms/Passes.h"
#include "ExprBuilder.h"

#include "mlir/IR/Matchers.h"

namespace flowc {
#define GEN_PASS_DEF_DIFFERENTIATETIME
#include "flowc/Transforms/Passes.h.inc"
} // namespace flowc

using namespace mlir;
using namespace flowc;
namespace fl = flowc::flow;

namespace {

/// Forward-mode tangents of values with respect to one value (the time for
/// ddt, any flow value for jvp) moving along `seed`.
class TimeDerivative {
public:
  TimeDerivative(OpBuilder &b, Location loc, Value time, Value seed = Value())
      : ab(b, loc), time(time), seed(seed) {}

  /// d(v)/dt, or null when it is identically zero. Fails (after reporting) on
  /// an op without a derivative rule.
  FailureOr<Value> get(Value v) {
    if (v == time)
      return seed ? seed : ab.constantLike(1.0, v.getType());
    auto it = cache.find(v);
    if (it != cache.end())
      return it->second;
    FailureOr<Value> d = compute(v);
    if (succeeded(d))
      cache[v] = *d;
    return d;
  }

private:
  ExprBuilder ab;
  Value time, seed;
  llvm::DenseMap<Value, Value> cache;

  FailureOr<Value> compute(Value v) {
    Operation *op = v.getDefiningOp();
    // Leaves, piecewise-constant functions (comparisons, one_hot, round,
    // floor) and stop-gradients.
    if (!op || fl::isDraw(op) ||
        isa<arith::ConstantOp, fl::DrawDataOp, fl::OneHotOp, arith::CmpFOp,
            arith::UIToFPOp, math::RoundEvenOp, math::FloorOp, fl::StopGradientOp>(op))
      return Value();
    if (auto net = dyn_cast<fl::ApplyNetOp>(op)) {
      // Through a network: its Jacobian-vector product with its arguments'
      // tangents (zeros for the arguments that do not move with t), which
      // the runtime computes with autograd.
      SmallVector<Value> tangents;
      bool moves = false;
      for (Value arg : net.getArgs()) {
        FailureOr<Value> d = get(arg);
        if (failed(d))
          return failure();
        moves |= static_cast<bool>(*d);
        tangents.push_back(*d ? *d : ab.constantLike(0.0, arg.getType()));
      }
      if (!moves)
        return Value();
      return Value(fl::ApplyNetJvpOp::create(ab.builder(), net.getLoc(), net.getType(),
                                             net.getNetworkAttr(), net.getArgs(), tangents));
    }
    SmallVector<Value> d;
    for (Value operand : op->getOperands()) {
      FailureOr<Value> dop = get(operand);
      if (failed(dop))
        return failure();
      d.push_back(*dop);
    }
    auto in = [&](unsigned i) { return op->getOperand(i); };
    Value r = op->getResult(0);
    if (isa<fl::BatchAverageOp>(op)) // linear: the batch mean of the tangent
      return Value(fl::BatchAverageOp::create(ab.builder(), op->getLoc(), d[0]));
    if (isa<arith::AddFOp>(op))
      return ab.add(d[0], d[1]);
    if (isa<arith::SubFOp>(op))
      return ab.sub(d[0], d[1]);
    if (isa<arith::NegFOp>(op))
      return ab.neg(d[0]);
    // Operands are built in separate statements so the IR's order does not
    // depend on the C++ compiler's argument evaluation order.
    if (isa<arith::MulFOp>(op)) { // da*b + a*db
      Value l = ab.mul(d[0], in(1));
      Value r = ab.mul(in(0), d[1]);
      return ab.add(l, r);
    }
    if (isa<arith::DivFOp>(op)) { // da/b - a*db/b^2
      Value l = ab.div(d[0], in(1));
      Value num = ab.mul(in(0), d[1]);
      Value r = num ? ab.div(num, ab.mul(in(1), in(1))) : Value();
      return ab.sub(l, r);
    }
    if (isa<fl::BroadcastOp>(op))
      return d[0] ? ab.broadcast(d[0], r.getType()) : Value();
    if (isa<fl::MeanOp>(op))
      return d[0] ? ab.mean(d[0]) : Value();
    if (isa<fl::SumOp>(op))
      return d[0] ? ab.sum(d[0]) : Value();
    if (auto e = dyn_cast<fl::ExtractOp>(op))
      return d[0] ? ab.extract(d[0], e.getPosition()) : Value();
    if (isa<fl::ExpandOp>(op))
      return d[0] ? ab.broadcast(d[0], r.getType()) : Value();
    if (isa<fl::ReduceToOp>(op))
      return d[0] ? ab.reduceTo(d[0], r.getType()) : Value();
    if (isa<fl::ReshapeOp>(op))
      return d[0] ? ab.reshape(d[0], r.getType()) : Value();
    if (auto c = dyn_cast<fl::ConcatOp>(op))
      return ab.concat(d, SmallVector<Type>(c.getInputs().getTypes()), c.getAxis(), r.getType());
    if (auto s = dyn_cast<fl::SliceOp>(op))
      return ab.slice(d[0], s.getAxis(), s.getOffset(), r.getType());
    if (isa<arith::SelectOp>(op))
      return ab.select(in(0), d[1], d[2]);
    if (isa<arith::MinimumFOp, arith::MaximumFOp>(op)) { // the chosen side's
      auto p = isa<arith::MinimumFOp>(op) ? arith::CmpFPredicate::OLE
                                         : arith::CmpFPredicate::OGE;
      Value first = ab.compare(p, in(0), in(1));
      return ab.select(first, d[0], d[1]);
    }
    if (auto sm = dyn_cast<fl::SoftmaxOp>(op); sm && d[0]) { // s (dx - sum(s dx)) along the axis
      Value sdx = ab.mul(r, d[0]);
      Value centered = ab.sub(d[0], ab.sumAlong(sdx, sm.getAxis()));
      return ab.mul(r, centered);
    }
    if (!d[0] && (op->getNumOperands() == 1 || !d[1]))
      return Value(); // a function of constants in t
    if (isa<math::ExpOp>(op))
      return ab.mul(r, d[0]);
    if (isa<math::LogOp>(op))
      return ab.div(d[0], in(0));
    if (isa<math::Log1pOp>(op)) { // da / (1 + a)
      Value one = ab.constantLike(1.0, r.getType());
      return ab.div(d[0], ab.add(one, in(0)));
    }
    if (isa<math::ExpM1Op>(op)) { // (expm1(a) + 1) da
      Value one = ab.constantLike(1.0, r.getType());
      return ab.mul(ab.add(r, one), d[0]);
    }
    Type type = r.getType();
    if (isa<math::SinOp>(op))
      return ab.mul(ab.cos(in(0)), d[0]);
    if (isa<math::CosOp>(op))
      return ab.neg(ab.mul(ab.sin(in(0)), d[0]));
    if (isa<math::TanOp>(op)) { // (1 + tan^2) da
      Value one = ab.constantLike(1.0, type);
      return ab.mul(ab.add(one, ab.mul(r, r)), d[0]);
    }
    if (isa<math::SqrtOp>(op)) { // da / (2 sqrt a)
      Value two = ab.constantLike(2.0, type);
      return ab.div(d[0], ab.mul(two, r));
    }
    if (isa<math::TanhOp>(op)) { // (1 - tanh^2) da
      Value one = ab.constantLike(1.0, type);
      return ab.mul(ab.sub(one, ab.mul(r, r)), d[0]);
    }
    if (isa<math::ErfOp>(op)) { // 2/sqrt(pi) exp(-a^2) da
      Value slope = ab.constantLike(M_2_SQRTPI, type);
      return ab.mul(ab.mul(slope, ab.exp(ab.neg(ab.mul(in(0), in(0))))), d[0]);
    }
    if (isa<math::AbsFOp>(op))
      return ab.mul(ab.sign(in(0)), d[0]);
    if (isa<math::PowFOp>(op) && !d[1]) { // b a^(b-1) da, defined at a = 0
      Value one = ab.constantLike(1.0, type);
      Value power = ab.pow(in(0), ab.sub(in(1), one));
      Value factor = ab.mul(in(1), power);
      return ab.mul(factor, d[0]);
    }
    if (isa<math::PowFOp>(op)) { // a^b (db log a + b da / a)
      Value l = d[1] ? ab.mul(d[1], ab.log(in(0))) : Value();
      Value bda = ab.mul(in(1), d[0]);
      Value q = bda ? ab.div(bda, in(0)) : Value();
      return ab.mul(r, ab.add(l, q));
    }
    op->emitError("ddt: no derivative rule for '") << op->getName() << "'";
    return failure();
  }
};

struct DifferentiateTimePass
    : flowc::impl::DifferentiateTimeBase<DifferentiateTimePass> {
  void runOnOperation() override {
    SmallVector<Operation *> ddts;
    getOperation().walk([&](Operation *op) {
      if (isa<fl::DdtOp, fl::JvpOp>(op))
        ddts.push_back(op);
    });
    // Program order: an inner ddt is replaced before an outer one sees it.
    for (Operation *op : ddts) {
      OpBuilder b(op);
      auto jvp = dyn_cast<fl::JvpOp>(op);
      auto ddt = dyn_cast<fl::DdtOp>(op);
      TimeDerivative derivative(b, op->getLoc(), jvp ? jvp.getWrt() : ddt.getTime(),
                                jvp ? jvp.getTangent() : Value());
      FailureOr<Value> d = derivative.get(op->getOperand(0));
      if (failed(d))
        return signalPassFailure();
      Type type = op->getResult(0).getType();
      Value result = *d ? *d : ExprBuilder(b, op->getLoc()).constantLike(0.0, type);
      op->getResult(0).replaceAllUsesWith(result);
      op->erase();
    }
  }
};

} // namespace
