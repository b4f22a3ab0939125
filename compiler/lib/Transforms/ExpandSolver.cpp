//===- ExpandSolver.cpp - Tableau to stage kernels and a host step --------===//
//
// For `flow.sample @F with @S`, emits the stage-combination kernels of the
// Butcher tableau S and the host function that interleaves them with network
// evaluations (see Passes.td). Zero tableau entries produce no code and unit
// entries no multiplication, so Euler's update is `x + h * k0`.
//
//===----------------------------------------------------------------------===//
#include "ExprBuilder.h"
#include "Outlining.h"
#include "flowc/Transforms/Passes.h"

namespace flowc {
#define GEN_PASS_DEF_EXPANDSOLVER
#include "flowc/Transforms/Passes.h.inc"
} // namespace flowc

using namespace mlir;
using namespace flowc;
namespace fl = flowc::flow;

namespace {

/// Emits kernel `name(x, k_0..k_{m-1}, h) = x + h * sum_j w[j] k_j`.
void emitCombination(ModuleOp module, StringRef name, RankedTensorType type,
                     ArrayRef<double> w, Location loc) {
  OpBuilder b(module.getBodyRegion());
  b.setInsertionPointToEnd(module.getBody());
  SmallVector<Type> args(w.size() + 1, type);
  args.push_back(b.getF32Type());
  auto fn = func::FuncOp::create(b, loc, name, b.getFunctionType(args, type));
  fn->setAttr(fl::kKernelAttr, b.getUnitAttr());
  SmallVector<bool> uniform(args.size(), false);
  uniform.back() = true;
  fn->setAttr(fl::kUniformArgsAttr, b.getDenseBoolArrayAttr(uniform));
  Block *entry = fn.addEntryBlock();
  b.setInsertionPointToStart(entry);
  ExprBuilder eb(b, loc);
  Value sum;
  for (auto [j, wj] : llvm::enumerate(w))
    sum = eb.add(sum, eb.mul(eb.constantLike(wj, type), entry->getArgument(j + 1)));
  Value h = eb.broadcast(entry->getArguments().back(), type);
  Value next = eb.add(entry->getArgument(0), eb.mul(h, sum));
  func::ReturnOp::create(b, loc, next);
}

struct ExpandSolverPass : flowc::impl::ExpandSolverBase<ExpandSolverPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    for (fl::SampleOp sample : llvm::to_vector(module.getOps<fl::SampleOp>()))
      if (failed(expand(module, sample)))
        return signalPassFailure();
  }

  LogicalResult expand(ModuleOp module, fl::SampleOp sample) {
    Location loc = sample.getLoc();
    auto solver = SymbolTable::lookupNearestSymbolFrom<fl::SolverOp>(
        sample, sample.getSolverAttr());
    auto flowOp = SymbolTable::lookupNearestSymbolFrom<fl::FlowOp>(
        sample, sample.getFlowAttr());
    if (!solver || !flowOp)
      return sample.emitError("unknown solver or flow");
    // The field to integrate: the flow's network, or a closed-form model's
    // velocity kernel.
    auto nets = flowOp.getBody().front().getOps<fl::ApplyNetOp>();
    func::FuncOp velocity;
    if (auto v = sample.getVelocityAttr())
      velocity = SymbolTable::lookupNearestSymbolFrom<func::FuncOp>(sample, v);
    if (nets.empty() && !velocity)
      return sample.emitError("sampling needs the flow to apply a model");
    auto type = cast<RankedTensorType>(
        velocity ? velocity.getResultTypes()[0] : (*nets.begin()).getType());
    std::string prefix = flowOp.getSymName().str();
    unsigned s = solver.getNumStages();
    // Sampling always runs canonical time tau from 0 (source) to 1 (data).
    // A flow declared with reversed time (sigma = 1 - tau) learned
    // v = dx/dsigma, so the field in tau is -v(x, 1 - tau): its network gets
    // 1 - tau and every tableau weight is negated.
    bool reverse = flowOp.getReverseTime();
    double sign = reverse ? -1.0 : 1.0;

    // Stage kernels x_i = x + h sum_j a[i][j] k_j, and the update.
    for (unsigned i = 1; i < s; ++i) {
      SmallVector<double> row;
      for (unsigned j = 0; j < i; ++j)
        row.push_back(sign * solver.getA(i, j));
      emitCombination(module, prefix + "_stage" + std::to_string(i), type, row, loc);
    }
    SmallVector<double> weights;
    for (double w : solver.getB())
      weights.push_back(sign * w);
    emitCombination(module, prefix + "_update", type, weights, loc);

    // Host step: k_i = net(x_i, t + c_i h) between the stage kernels. A
    // network applied to labels takes the samples' labels as a last argument.
    OpBuilder b(module.getContext());
    Type f64 = b.getF64Type(), i64 = b.getI64Type(), f32 = b.getF32Type();
    Type xType = batchedType(type);
    Type tType = batchedType(f32);
    bool labelled = !velocity && (*nets.begin()).getLabel();
    SmallVector<Type> args{xType, f64, f64, i64};
    if (labelled)
      args.push_back(tType);
    func::FuncOp guidance;
    if (auto g = sample.getGuidanceAttr()) {
      guidance = SymbolTable::lookupNearestSymbolFrom<func::FuncOp>(sample, g);
      if (!guidance || !labelled)
        return sample.emitError("guidance needs a network applied to labels");
    }
    func::FuncOp host = createHostFunction(module, prefix + "_solver_step", args,
                                           xType, loc);
    b.setInsertionPointToStart(&host.front());
    Value x = host.getArgument(0), t = host.getArgument(1), h = host.getArgument(2),
          rows = host.getArgument(3);
    Value labels = labelled ? host.getArgument(4) : Value();
    Value h32 = arith::TruncFOp::create(b, loc, f32, h);
    Value w = guidance ? Value(fl::GuidanceScaleOp::create(b, loc, f32)) : Value();
    Value zero = arith::ConstantOp::create(b, loc, b.getI64IntegerAttr(0));
    auto launch = [&](StringRef kernel, ValueRange ks) {
      SmallVector<Value> operands{x};
      operands.append(ks.begin(), ks.end());
      operands.push_back(h32);
      return fl::LaunchOp::create(b, loc, TypeRange{xType},
                                  SymbolRefAttr::get(b.getContext(), kernel), rows,
                                  zero, operands)
          .getResult(0);
    };
    SmallVector<Value> ks;
    for (unsigned i = 0; i < s; ++i) {
      Value xi = i == 0 ? x : launch(prefix + "_stage" + std::to_string(i), ks);
      Value ti = t;
      if (double c = solver.getC()[i]; c != 0) {
        Value ch = arith::MulFOp::create(
            b, loc, arith::ConstantOp::create(b, loc, b.getF64FloatAttr(c)), h);
        ti = arith::AddFOp::create(b, loc, t, ch);
      }
      if (reverse) // the network's time is 1 - tau
        ti = arith::SubFOp::create(
            b, loc, arith::ConstantOp::create(b, loc, b.getF64FloatAttr(1.0)), ti);
      Value tb = fl::FillOp::create(b, loc, tType, ti, rows);
      if (velocity)
        ks.push_back(fl::LaunchOp::create(b, loc, TypeRange{xType},
                                          SymbolRefAttr::get(velocity), rows, zero,
                                          ValueRange{xi, tb})
                         .getResult(0));
      else if (guidance) {
        // Guided: v = g(v_c, v_u, x, t, w), both velocities from one call.
        auto pair = fl::NetGuidedOp::create(b, loc, xType, xType,
                                            (*nets.begin()).getNetworkAttr(), xi, tb,
                                            labels);
        Value t32 = arith::TruncFOp::create(b, loc, f32, ti);
        ks.push_back(fl::LaunchOp::create(
                         b, loc, TypeRange{xType}, SymbolRefAttr::get(guidance), rows,
                         zero, ValueRange{pair.getCond(), pair.getUncond(), xi, t32, w})
                         .getResult(0));
      } else
        ks.push_back(fl::NetOp::create(b, loc, xType, (*nets.begin()).getNetworkAttr(),
                                       xi, tb, labels));
    }
    func::ReturnOp::create(b, loc, launch(prefix + "_update", ks));
    return success();
  }
};

} // namespace
