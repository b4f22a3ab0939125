//===- ExpandSolver.cpp - Tableau to stage kernels and a host step --------===//
//
// For `flow.sample @F`, emits the stage-combination kernels of every Butcher
// tableau of the module and host functions that interleave them with
// evaluations of the flow's field, plus the field alone (see Passes.td).
// Zero tableau entries produce no code and unit entries no multiplication,
// so Euler's update is `x + h * k0`.
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

/// Emits kernel `name(x, k_0..k_{m-1}, h) = x + h * sum_j w[j] k_j`, and
/// with error weights e also returns the error estimate h * sum_j e[j] k_j.
void emitCombination(ModuleOp module, StringRef name, RankedTensorType type,
                     ArrayRef<double> w, Location loc, ArrayRef<double> e = {}) {
  OpBuilder b(module.getBodyRegion());
  b.setInsertionPointToEnd(module.getBody());
  SmallVector<Type> args(w.size() + 1, type);
  args.push_back(b.getF32Type());
  SmallVector<Type> results(e.empty() ? 1 : 2, type);
  auto fn = func::FuncOp::create(b, loc, name, b.getFunctionType(args, results));
  fn->setAttr(fl::kKernelAttr, b.getUnitAttr());
  SmallVector<bool> uniform(args.size(), false);
  uniform.back() = true;
  fn->setAttr(fl::kUniformArgsAttr, b.getDenseBoolArrayAttr(uniform));
  Block *entry = fn.addEntryBlock();
  b.setInsertionPointToStart(entry);
  ExprBuilder eb(b, loc);
  Value h = eb.broadcast(entry->getArguments().back(), type);
  auto combine = [&](ArrayRef<double> weights) {
    Value sum;
    for (auto [j, wj] : llvm::enumerate(weights))
      sum = eb.add(sum, eb.mul(eb.constantLike(wj, type), entry->getArgument(j + 1)));
    return eb.mul(h, sum);
  };
  SmallVector<Value> out{eb.add(entry->getArgument(0), combine(w))};
  if (!e.empty()) {
    Value err = combine(e);
    out.push_back(err ? err : eb.constantLike(0.0, type));
  }
  func::ReturnOp::create(b, loc, out);
}

/// How the sampled flow's velocity is evaluated on the host: its network
/// (with labels, or guided), or a closed-form model's kernel.
struct Field {
  func::FuncOp velocity;  // closed form, else null
  mutable fl::ApplyNetOp net; // network, else null (op accessors are non-const)
  func::FuncOp guidance;  // guided sampling, else null
  bool reverse = false;   // (time: reverse): the network sees 1 - tau
  RankedTensorType type;  // of one sample

  bool labelled() const { return net && net.getLabel(); }

  /// Host ops computing v(x, t) for a batch, t in canonical time (f64).
  Value emit(OpBuilder &b, Location loc, Value x, Value t, Value rows, Value labels,
             Value w) const {
    Type xType = batchedType(type), tType = batchedType(b.getF32Type());
    Value zero = arith::ConstantOp::create(b, loc, b.getI64IntegerAttr(0));
    if (reverse) // the network's time is 1 - tau
      t = arith::SubFOp::create(
          b, loc, arith::ConstantOp::create(b, loc, b.getF64FloatAttr(1.0)), t);
    Value tb = fl::FillOp::create(b, loc, tType, t, rows);
    if (velocity)
      return fl::LaunchOp::create(b, loc, TypeRange{xType}, SymbolRefAttr::get(velocity),
                                  rows, zero, ValueRange{x, tb})
          .getResult(0);
    if (guidance) { // v = g(v_c, v_u, x, t, w), both velocities in one call
      auto pair = fl::NetGuidedOp::create(b, loc, xType, xType, net.getNetworkAttr(),
                                          x, tb, labels);
      Value t32 = arith::TruncFOp::create(b, loc, b.getF32Type(), t);
      return fl::LaunchOp::create(b, loc, TypeRange{xType}, SymbolRefAttr::get(guidance),
                                  rows, zero,
                                  ValueRange{pair.getCond(), pair.getUncond(), x, t32, w})
          .getResult(0);
    }
    return fl::NetOp::create(b, loc, xType, net.getNetworkAttr(), x, tb, labels);
  }
};

struct ExpandSolverPass : flowc::impl::ExpandSolverBase<ExpandSolverPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    for (fl::SampleOp sample : llvm::to_vector(module.getOps<fl::SampleOp>()))
      if (failed(expand(module, sample)))
        return signalPassFailure();
  }

  /// Host function arguments: (x, t, h, rows[, labels]) or, for the
  /// velocity, (x, t, rows[, labels]).
  func::FuncOp hostFunction(ModuleOp module, StringRef name, const Field &field,
                            bool withStep, TypeRange results, Location loc) {
    OpBuilder b(module.getContext());
    Type f64 = b.getF64Type();
    SmallVector<Type> args{batchedType(field.type), f64};
    if (withStep)
      args.push_back(f64);
    args.push_back(b.getI64Type());
    if (field.labelled())
      args.push_back(batchedType(b.getF32Type()));
    return createHostFunction(module, name, args, results, loc);
  }

  LogicalResult expand(ModuleOp module, fl::SampleOp sample) {
    Location loc = sample.getLoc();
    auto flowOp = SymbolTable::lookupNearestSymbolFrom<fl::FlowOp>(
        sample, sample.getFlowAttr());
    if (!flowOp || !SymbolTable::lookupNearestSymbolFrom<fl::SolverOp>(
                       sample, sample.getSolverAttr()))
      return sample.emitError("unknown solver or flow");
    // The field to integrate: the flow's network, or a closed-form model's
    // velocity kernel.
    Field field;
    auto nets = flowOp.getBody().front().getOps<fl::ApplyNetOp>();
    if (auto v = sample.getVelocityAttr())
      field.velocity = SymbolTable::lookupNearestSymbolFrom<func::FuncOp>(sample, v);
    else if (!nets.empty())
      field.net = *nets.begin();
    if (!field.net && !field.velocity)
      return sample.emitError("sampling needs the flow to apply a model");
    field.type = cast<RankedTensorType>(field.velocity ? field.velocity.getResultTypes()[0]
                                                       : field.net.getType());
    if (auto g = sample.getGuidanceAttr()) {
      field.guidance = SymbolTable::lookupNearestSymbolFrom<func::FuncOp>(sample, g);
      if (!field.guidance || !field.labelled())
        return sample.emitError("guidance needs a network applied to labels");
    }
    // Sampling always runs canonical time tau from 0 (source) to 1 (data).
    // A flow declared with reversed time (sigma = 1 - tau) learned
    // v = dx/dsigma, so the field in tau is -v(x, 1 - tau): its network gets
    // 1 - tau and every tableau weight is negated.
    field.reverse = flowOp.getReverseTime();
    std::string prefix = flowOp.getSymName().str();
    Type xType = batchedType(field.type);

    // The velocity alone, for step-size selection and likelihoods.
    {
      func::FuncOp host = hostFunction(module, prefix + "_velocity", field,
                                       /*withStep=*/false, {xType}, loc);
      OpBuilder b = OpBuilder::atBlockBegin(&host.front());
      Value labels = field.labelled() ? host.getArgument(3) : Value();
      Value w = field.guidance ? Value(fl::GuidanceScaleOp::create(b, loc, b.getF32Type()))
                               : Value();
      Value v = field.emit(b, loc, host.getArgument(0), host.getArgument(1),
                           host.getArgument(2), labels, w);
      if (field.reverse)
        v = arith::NegFOp::create(b, loc, v);
      func::ReturnOp::create(b, loc, v);
    }
    // A closed-form field's Jacobian-vector product, for divergences:
    // F_jvp(x, t, e, rows) = J e of the canonical field.
    if (field.velocity) {
      std::string name = field.velocity.getSymName().str();
      name = name.substr(0, name.size() - strlen("_velocity")) + "_jvp";
      if (auto jvp = module.lookupSymbol<func::FuncOp>(name)) {
        OpBuilder b(module.getContext());
        Type f64 = b.getF64Type();
        func::FuncOp host = createHostFunction(module, prefix + "_jvp",
                                               {xType, f64, xType, b.getI64Type()},
                                               {xType}, loc);
        b.setInsertionPointToStart(&host.front());
        Value t = host.getArgument(1), rows = host.getArgument(3);
        if (field.reverse)
          t = arith::SubFOp::create(
              b, loc, arith::ConstantOp::create(b, loc, b.getF64FloatAttr(1.0)), t);
        Value tb = fl::FillOp::create(b, loc, batchedType(b.getF32Type()), t, rows);
        Value zero = arith::ConstantOp::create(b, loc, b.getI64IntegerAttr(0));
        Value s0 = arith::ConstantOp::create(b, loc, b.getF32FloatAttr(0.0f));
        Value je = fl::LaunchOp::create(b, loc, TypeRange{xType}, SymbolRefAttr::get(jvp),
                                        rows, zero,
                                        ValueRange{host.getArgument(0), tb,
                                                   host.getArgument(2), s0})
                       .getResult(0);
        if (field.reverse)
          je = arith::NegFOp::create(b, loc, je);
        func::ReturnOp::create(b, loc, je);
      }
    }
    // Every solver of the module, so that `sample --solver NAME` can choose.
    for (auto solver : llvm::to_vector(module.getOps<fl::SolverOp>()))
      expandSolver(module, solver, field, prefix + "_" + solver.getSymName().str(), loc);
    return success();
  }

  void expandSolver(ModuleOp module, fl::SolverOp solver, const Field &field,
                    const std::string &prefix, Location loc) {
    unsigned s = solver.getNumStages();
    double sign = field.reverse ? -1.0 : 1.0;
    // Stage kernels x_i = x + h sum_j a[i][j] k_j, and the update (with the
    // error estimate of an adaptive tableau).
    for (unsigned i = 1; i < s; ++i) {
      SmallVector<double> row;
      for (unsigned j = 0; j < i; ++j)
        row.push_back(sign * solver.getA(i, j));
      emitCombination(module, prefix + "_stage" + std::to_string(i), field.type, row, loc);
    }
    SmallVector<double> weights, errorWeights;
    for (double w : solver.getB())
      weights.push_back(sign * w);
    if (auto bErr = solver.getBErr())
      for (auto [b, e] : llvm::zip(solver.getB(), *bErr))
        errorWeights.push_back(sign * (b - e));
    emitCombination(module, prefix + "_update", field.type, weights, loc, errorWeights);

    // Host step: k_i = v(x_i, t + c_i h) between the stage kernels; returns
    // x' (and the error estimate).
    Type xType = batchedType(field.type);
    SmallVector<Type> results(errorWeights.empty() ? 1 : 2, xType);
    func::FuncOp host = hostFunction(module, prefix + "_step", field, /*withStep=*/true,
                                     results, loc);
    OpBuilder b = OpBuilder::atBlockBegin(&host.front());
    Value x = host.getArgument(0), t = host.getArgument(1), h = host.getArgument(2),
          rows = host.getArgument(3);
    Value labels = field.labelled() ? host.getArgument(4) : Value();
    Value h32 = arith::TruncFOp::create(b, loc, b.getF32Type(), h);
    Value zero = arith::ConstantOp::create(b, loc, b.getI64IntegerAttr(0));
    Value w = field.guidance ? Value(fl::GuidanceScaleOp::create(b, loc, b.getF32Type()))
                             : Value();
    auto launch = [&](StringRef kernel, ValueRange ks, TypeRange types) {
      SmallVector<Value> operands{x};
      operands.append(ks.begin(), ks.end());
      operands.push_back(h32);
      return fl::LaunchOp::create(b, loc, types, SymbolRefAttr::get(b.getContext(), kernel),
                                  rows, zero, operands)
          .getResults();
    };
    SmallVector<Value> ks;
    for (unsigned i = 0; i < s; ++i) {
      Value xi = i == 0 ? x : launch(prefix + "_stage" + std::to_string(i), ks, {xType})[0];
      Value ti = t;
      if (double c = solver.getC()[i]; c != 0) {
        Value ch = arith::MulFOp::create(
            b, loc, arith::ConstantOp::create(b, loc, b.getF64FloatAttr(c)), h);
        ti = arith::AddFOp::create(b, loc, t, ch);
      }
      ks.push_back(field.emit(b, loc, xi, ti, rows, labels, w));
    }
    func::ReturnOp::create(b, loc, launch(prefix + "_update", ks, results));
  }
};

} // namespace
