//===- DifferentiateRegions.cpp - Reverse mode for region kernels ---------===//
//
// For each kernel K(a...) -> (r...) marked `flow.grad_args`, emits
// K_grad(a..., dr...) -> (da_i for each marked a_i): the vector-Jacobian
// product of the kernel for per-sample output adjoints dr. The primal ops
// are cloned (recomputed in the same fused kernel, cheaper than storing
// them), then adjoints are accumulated over the ops in reverse order. A null
// adjoint is an exact zero.
//
//===----------------------------------------------------------------------===//
#include "ExprBuilder.h"
#include "flowc/Transforms/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"

namespace flowc {
#define GEN_PASS_DEF_DIFFERENTIATEREGIONS
#include "flowc/Transforms/Passes.h.inc"
} // namespace flowc

using namespace mlir;
using namespace flowc;
namespace fl = flowc::flow;

namespace {

/// Adds the contributions of `op`'s result adjoint to its operands' adjoints.
LogicalResult propagate(Operation *op, ExprBuilder &eb,
                        llvm::DenseMap<Value, Value> &adj) {
  if (op->getNumResults() != 1)
    return success();
  Value r = op->getResult(0);
  Value ar = adj.lookup(r);
  if (!ar || fl::isDraw(op) ||
      isa<arith::ConstantOp, fl::OneHotOp, arith::CmpFOp, arith::UIToFPOp,
          math::RoundEvenOp, math::FloorOp, fl::StopGradientOp>(op))
    return success(); // leaves, piecewise-constant functions, stop-gradients
  auto acc = [&](Value x, Value contribution) {
    adj[x] = eb.add(adj.lookup(x), contribution);
  };
  auto x = [&](unsigned i) { return op->getOperand(i); };
  if (isa<arith::AddFOp>(op)) {
    acc(x(0), ar);
    acc(x(1), ar);
  } else if (isa<arith::SubFOp>(op)) {
    acc(x(0), ar);
    acc(x(1), eb.neg(ar));
  } else if (isa<arith::NegFOp>(op)) {
    acc(x(0), eb.neg(ar));
  } else if (isa<arith::MulFOp>(op)) {
    acc(x(0), eb.mul(ar, x(1)));
    acc(x(1), eb.mul(ar, x(0)));
  } else if (isa<arith::DivFOp>(op)) { // r = a / b: da = ar / b, db = -ar r / b
    acc(x(0), eb.div(ar, x(1)));
    acc(x(1), eb.neg(eb.div(eb.mul(ar, r), x(1))));
  } else if (isa<arith::SelectOp>(op)) { // to the chosen side
    acc(x(1), eb.select(x(0), ar, Value()));
    acc(x(2), eb.select(x(0), Value(), ar));
  } else if (isa<arith::MinimumFOp, arith::MaximumFOp>(op)) {
    auto p = isa<arith::MinimumFOp>(op) ? arith::CmpFPredicate::OLE
                                       : arith::CmpFPredicate::OGE;
    Value first = eb.compare(p, x(0), x(1));
    acc(x(0), eb.select(first, ar, Value()));
    acc(x(1), eb.select(first, Value(), ar));
  } else if (isa<math::Log1pOp>(op)) {
    Value one = eb.constantLike(1.0, r.getType());
    acc(x(0), eb.div(ar, eb.add(one, x(0))));
  } else if (isa<math::ExpM1Op>(op)) {
    Value one = eb.constantLike(1.0, r.getType());
    acc(x(0), eb.mul(ar, eb.add(r, one)));
  } else if (isa<fl::SumOp>(op)) { // broadcast
    acc(x(0), eb.broadcast(ar, x(0).getType()));
  } else if (auto e = dyn_cast<fl::ExtractOp>(op)) { // ar at `position`
    auto type = cast<RankedTensorType>(x(0).getType());
    auto f32 = eb.builder().getF32Type();
    int64_t n = type.getDimSize(0);
    Value position = eb.constantLike(double(e.getPosition()), f32);
    Value mask = fl::OneHotOp::create(eb.builder(), e.getLoc(),
                                      RankedTensorType::get({n}, f32), position);
    if (type.getRank() == 1) {
      acc(x(0), eb.mul(eb.broadcast(ar, type), mask));
    } else { // a slice: [1, d...] and [n, 1...] both expanded to [n, d...]
      SmallVector<int64_t> rowShape{1}, maskShape(type.getRank(), 1);
      rowShape.append(type.getShape().begin() + 1, type.getShape().end());
      maskShape[0] = n;
      Value row = eb.reshape(ar, RankedTensorType::get(rowShape, f32));
      Value column = eb.reshape(mask, RankedTensorType::get(maskShape, f32));
      acc(x(0), eb.mul(eb.broadcast(row, type), eb.broadcast(column, type)));
    }
  } else if (auto ex = dyn_cast<fl::ExpandOp>(op)) { // the transpose: sum back
    acc(x(0), eb.reduceTo(ar, ex.getInput().getType()));
  } else if (auto red = dyn_cast<fl::ReduceToOp>(op)) { // copy back out
    acc(x(0), eb.broadcast(ar, red.getInput().getType()));
  } else if (auto re = dyn_cast<fl::ReshapeOp>(op)) {
    acc(x(0), eb.reshape(ar, re.getInput().getType()));
  } else if (auto c = dyn_cast<fl::ConcatOp>(op)) { // each input its slice
    int64_t offset = 0;
    for (Value in : c.getInputs()) {
      acc(in, eb.slice(ar, c.getAxis(), offset, in.getType()));
      offset += cast<RankedTensorType>(in.getType()).getDimSize(c.getAxis());
    }
  } else if (auto s = dyn_cast<fl::SliceOp>(op)) { // zeros around the slice
    auto in = s.getInput().getType();
    int64_t axis = s.getAxis(), before = s.getOffset(),
            after = in.getDimSize(axis) - before - s.getType().getDimSize(axis);
    auto part = [&](int64_t n) {
      SmallVector<int64_t> dims(in.getShape());
      dims[axis] = n;
      return RankedTensorType::get(dims, in.getElementType());
    };
    SmallVector<Value> parts;
    SmallVector<Type> types;
    for (auto [n, v] : {std::pair<int64_t, Value>{before, Value()}, {0, ar}, {after, Value()}}) {
      if (v || n > 0) {
        parts.push_back(v);
        types.push_back(v ? v.getType() : Type(part(n)));
      }
    }
    acc(x(0), eb.concat(parts, types, axis, in));
  } else if (auto sm = dyn_cast<fl::SoftmaxOp>(op)) { // s (ar - sum(ar s)) along the axis
    Value ars = eb.mul(ar, r);
    Value centered = eb.sub(ar, eb.sumAlong(ars, sm.getAxis()));
    acc(x(0), eb.mul(r, centered));
  } else if (isa<math::ExpOp>(op)) {
    acc(x(0), eb.mul(ar, r));
  } else if (isa<math::LogOp>(op)) {
    acc(x(0), eb.div(ar, x(0)));
  } else if (isa<math::SinOp>(op)) {
    acc(x(0), eb.mul(ar, eb.cos(x(0))));
  } else if (isa<math::CosOp>(op)) {
    acc(x(0), eb.neg(eb.mul(ar, eb.sin(x(0)))));
  } else if (isa<math::SqrtOp>(op)) {
    Value two = eb.constantLike(2.0, r.getType());
    acc(x(0), eb.div(ar, eb.mul(two, r)));
  } else if (isa<math::TanhOp>(op)) {
    Value one = eb.constantLike(1.0, r.getType());
    acc(x(0), eb.mul(ar, eb.sub(one, eb.mul(r, r))));
  } else if (isa<math::ErfOp>(op)) { // 2/sqrt(pi) exp(-a^2)
    Value slope = eb.constantLike(M_2_SQRTPI, r.getType());
    acc(x(0), eb.mul(ar, eb.mul(slope, eb.exp(eb.neg(eb.mul(x(0), x(0)))))));
  } else if (isa<math::AbsFOp>(op)) {
    acc(x(0), eb.mul(ar, eb.sign(x(0))));
  } else if (auto bc = dyn_cast<fl::BroadcastOp>(op)) { // sum over features
    int64_t d = bc.getType().getNumElements();
    Value sum = eb.mean(ar);
    acc(x(0), eb.mul(sum, eb.constantLike(double(d), x(0).getType())));
  } else if (auto mean = dyn_cast<fl::MeanOp>(op)) { // broadcast / D
    auto type = mean.getInput().getType();
    Value width = eb.constantLike(double(type.getNumElements()), ar.getType());
    acc(x(0), eb.broadcast(eb.div(ar, width), type));
  } else {
    return op->emitError("no reverse-mode rule for '") << op->getName() << "'";
  }
  return success();
}

struct DifferentiateRegionsPass
    : flowc::impl::DifferentiateRegionsBase<DifferentiateRegionsPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    SmallVector<func::FuncOp> kernels;
    for (auto fn : module.getOps<func::FuncOp>())
      if (fn->hasAttr(fl::kGradArgsAttr))
        kernels.push_back(fn);
    for (func::FuncOp k : kernels)
      if (failed(differentiate(module, k)))
        return signalPassFailure();
  }

  LogicalResult differentiate(ModuleOp module, func::FuncOp kernel) {
    Location loc = kernel.getLoc();
    ArrayRef<bool> grad = kernel->getAttrOfType<DenseBoolArrayAttr>(fl::kGradArgsAttr);
    FunctionType type = kernel.getFunctionType();
    if (grad.size() != type.getNumInputs())
      return kernel.emitError("needs one ") << fl::kGradArgsAttr << " entry per argument";
    OpBuilder b(module.getBodyRegion());
    b.setInsertionPointAfter(kernel);
    SmallVector<Type> argTypes(type.getInputs()), adjointTypes;
    argTypes.append(type.getResults().begin(), type.getResults().end());
    for (auto [i, t] : llvm::enumerate(type.getInputs()))
      if (grad[i])
        adjointTypes.push_back(t);
    auto vjp = func::FuncOp::create(b, loc, (kernel.getSymName() + "_grad").str(),
                                    b.getFunctionType(argTypes, adjointTypes));
    vjp->setAttr(fl::kKernelAttr, b.getUnitAttr());
    Block *entry = vjp.addEntryBlock();
    b.setInsertionPointToStart(entry);

    // Primal: clone the kernel body.
    unsigned numArgs = type.getNumInputs();
    IRMapping map;
    map.map(kernel.getArguments(), entry->getArguments().take_front(numArgs));
    SmallVector<Operation *> primal;
    SmallVector<Value> results;
    for (Operation &op : kernel.front()) {
      if (auto ret = dyn_cast<func::ReturnOp>(op)) {
        for (Value r : ret.getOperands())
          results.push_back(map.lookupOrDefault(r));
        continue;
      }
      primal.push_back(b.clone(op, map));
    }
    // Adjoint: seed each result with its incoming adjoint, sweep in reverse.
    ExprBuilder eb(b, loc);
    llvm::DenseMap<Value, Value> adj;
    for (auto [r, dr] : llvm::zip(results, entry->getArguments().drop_front(numArgs)))
      adj[r] = eb.add(adj.lookup(r), dr);
    for (Operation *op : llvm::reverse(primal))
      if (failed(propagate(op, eb, adj)))
        return failure();
    SmallVector<Value> adjoints;
    for (unsigned i = 0; i < numArgs; ++i) {
      if (!grad[i])
        continue;
      Value da = adj.lookup(entry->getArgument(i));
      adjoints.push_back(da ? da : eb.constantLike(0.0, type.getInput(i)));
    }
    func::ReturnOp::create(b, loc, adjoints);
    // Every launch of this kernel differentiates through the new one.
    module.walk([&](fl::LaunchOp launch) {
      if (launch.getKernel() == kernel.getSymName())
        launch.setVjpAttr(FlatSymbolRefAttr::get(vjp.getSymNameAttr()));
    });
    return success();
  }
};

} // namespace
