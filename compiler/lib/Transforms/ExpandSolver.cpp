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
#include "TrajectoryBody.h"
#include "flowc/Transforms/Passes.h"

namespace flowc {
#define GEN_PASS_DEF_EXPANDSOLVER
#include "flowc/Transforms/Passes.h.inc"
} // namespace flowc

using namespace mlir;
using namespace flowc;
namespace fl = flowc::flow;

namespace {

/// The largest MLP (in parameters) whose whole trajectory runs as one
/// kernel: 2^19 floats are 2 MiB, about one CPU core's L2 cache. Each row
/// of that kernel is a chain of matrix-vector products that reads every
/// weight once per stage; beyond this size the weights stream from DRAM
/// for every row, a GPU thread's activations spill, and LibTorch's batched
/// GEMMs (the per-step path) are faster.
constexpr int64_t kTrajectoryMaxWeights = int64_t(1) << 19;

/// A kernel of per-sample arguments, some of them launch-uniform, built by
/// `body` from the entry block's arguments.
func::FuncOp emitKernel(ModuleOp module, StringRef name, ArrayRef<Type> args,
                        ArrayRef<bool> uniform, ArrayRef<Type> results, Location loc,
                        llvm::function_ref<SmallVector<Value>(ExprBuilder &, Block *)> body) {
  OpBuilder b(module.getBodyRegion());
  b.setInsertionPointToEnd(module.getBody());
  auto fn = func::FuncOp::create(b, loc, name, b.getFunctionType(args, results));
  fn->setAttr(fl::kKernelAttr, b.getUnitAttr());
  if (llvm::is_contained(uniform, true))
    fn->setAttr(fl::kUniformArgsAttr, b.getDenseBoolArrayAttr(uniform));
  Block *entry = fn.addEntryBlock();
  b.setInsertionPointToStart(entry);
  ExprBuilder eb(b, loc);
  func::ReturnOp::create(b, loc, body(eb, entry));
  return fn;
}

/// h * sum_j w[j] k_j for k_j = args[first + j] (null when all w are 0).
Value combination(ExprBuilder &eb, Block *entry, unsigned first, ArrayRef<double> w,
                  Value h, RankedTensorType type) {
  Value sum;
  for (auto [j, wj] : llvm::enumerate(w))
    sum = eb.add(sum, eb.mul(eb.constantLike(wj, type), entry->getArgument(first + j)));
  return eb.mul(eb.broadcast(h, type), sum);
}

/// Emits kernel `name(x, k_0..k_{m-1}, h) = x + h * sum_j w[j] k_j`, and
/// with error weights e also returns the error estimate h * sum_j e[j] k_j.
/// h is launch-uniform (fixed steps) or per sample (adaptive steps).
void emitCombination(ModuleOp module, StringRef name, RankedTensorType type,
                     ArrayRef<double> w, Location loc, ArrayRef<double> e = {},
                     bool uniformH = true) {
  SmallVector<Type> args(w.size() + 1, type);
  args.push_back(Float32Type::get(module.getContext()));
  SmallVector<bool> uniform(args.size(), false);
  uniform.back() = uniformH;
  SmallVector<Type> results(e.empty() ? 1 : 2, type);
  emitKernel(module, name, args, uniform, results, loc,
             [&](ExprBuilder &eb, Block *entry) -> SmallVector<Value> {
               Value h = entry->getArguments().back();
               SmallVector<Value> out{
                   eb.add(entry->getArgument(0), combination(eb, entry, 1, w, h, type))};
               if (!e.empty()) {
                 Value err = combination(eb, entry, 1, e, h, type);
                 out.push_back(err ? err : eb.constantLike(0.0, type));
               }
               return out;
             });
}

/// How the sampled flow's velocity is evaluated on the host: its network
/// (with labels, or guided), or a closed-form model's kernel.
struct Field {
  func::FuncOp velocity;  // closed form, else null
  mutable func::FuncOp graph; // `velocity:` (networks and kernels), else null
  mutable fl::ApplyNetOp net; // network, else null (op accessors are non-const)
  mutable func::FuncOp guidance; // guided sampling, else null
  bool reverse = false;   // (time: reverse): the field's time is 1 - tau
  RankedTensorType type;  // of one sample

  /// The conditions the field takes: a velocity network v(x, t, label) the
  /// label; a `velocity:` graph what it marks (label, condition or both).
  fl::Conditions conditions() const {
    if (graph)
      return fl::takenConditions(graph);
    fl::Conditions c;
    c.label = net && net.getArgs().size() == 3;
    return c;
  }
  bool labelled() const { return conditions().label; }
  /// Their batch types, in order: labels [rows, 1], conditions [rows, C].
  SmallVector<Type> conditionTypes() const {
    if (graph)
      return SmallVector<Type>(graph.getArgumentTypes().take_back(conditions().size()));
    if (labelled())
      return {batchedType(Float32Type::get(type.getContext()))};
    return {};
  }

  /// Host ops computing v(x, time) for a batch, `time` a [rows, 1] batch of
  /// the field's own time (1 - tau for a reversed flow), `given` the
  /// batch's conditions (conditionTypes()).
  Value emit(OpBuilder &b, Location loc, Value x, Value time, Value rows, ValueRange given,
             Value w) const {
    Value labels = labelled() ? given.front() : Value();
    Type xType = batchedType(type);
    Value zero = arith::ConstantOp::create(b, loc, b.getI64IntegerAttr(0));
    if (velocity)
      return fl::LaunchOp::create(b, loc, TypeRange{xType}, SymbolRefAttr::get(velocity),
                                  rows, zero, ValueRange{x, time})
          .getResult(0);
    if (graph) {
      SmallVector<Value> args{x, time, rows};
      args.append(given.begin(), given.end());
      return func::CallOp::create(b, loc, graph, args).getResult(0);
    }
    if (guidance) { // v = g(v_c, v_u, x, t, w), both velocities in one call
      auto pair = fl::NetGuidedOp::create(b, loc, xType, xType, net.getNetworkAttr(),
                                          x, time, labels);
      return fl::LaunchOp::create(b, loc, TypeRange{xType}, SymbolRefAttr::get(guidance),
                                  rows, zero,
                                  ValueRange{pair.getCond(), pair.getUncond(), x, time, w})
          .getResult(0);
    }
    SmallVector<Value> args{x, time};
    if (labels)
      args.push_back(labels);
    return fl::NetOp::create(b, loc, xType, net.getNetworkAttr(), args);
  }

  /// The field's time for canonical time t (an f64 on the host), as a batch.
  Value timeBatch(OpBuilder &b, Location loc, Value t, Value rows) const {
    if (reverse)
      t = arith::SubFOp::create(
          b, loc, arith::ConstantOp::create(b, loc, b.getF64FloatAttr(1.0)), t);
    return fl::FillOp::create(b, loc, batchedType(b.getF32Type()), t, rows);
  }
};

struct ExpandSolverPass : flowc::impl::ExpandSolverBase<ExpandSolverPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    for (fl::SampleOp sample : llvm::to_vector(module.getOps<fl::SampleOp>()))
      if (!sample.getMapStepAttr() && failed(expand(module, sample))) // a map has its step
        return signalPassFailure();
  }

  /// Host function arguments: (x, t, h, rows[, conditions]) or, for the
  /// velocity, (x, t, rows[, conditions]).
  func::FuncOp hostFunction(ModuleOp module, StringRef name, const Field &field,
                            bool withStep, TypeRange results, Location loc) {
    OpBuilder b(module.getContext());
    Type f64 = b.getF64Type();
    SmallVector<Type> args{batchedType(field.type), f64};
    if (withStep)
      args.push_back(f64);
    args.push_back(b.getI64Type());
    return withConditions(module, name, args, field, results, loc);
  }

  /// A host function of `args` followed by the field's conditions, marked.
  static func::FuncOp withConditions(ModuleOp module, StringRef name, SmallVector<Type> args,
                                     const Field &field, TypeRange results, Location loc) {
    llvm::append_range(args, field.conditionTypes());
    func::FuncOp host = createHostFunction(module, name, args, results, loc);
    fl::markConditions(host, field.conditions());
    return host;
  }

  /// The condition arguments of a host function withConditions made.
  static ValueRange givenConditions(func::FuncOp host, const Field &field) {
    return host.getArguments().take_back(field.conditions().size());
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
    else if (auto g = sample.getVelocityGraphAttr())
      field.graph = SymbolTable::lookupNearestSymbolFrom<func::FuncOp>(sample, g);
    else if (auto named = sample.getNetworkAttr()) { // of several: the velocity
      for (fl::ApplyNetOp net : nets)
        if (!field.net && net.getNetworkAttr() == named)
          field.net = net;
    } else if (!nets.empty())
      field.net = *nets.begin();
    if (!field.net && !field.velocity && !field.graph)
      return sample.emitError("sampling needs the flow to apply a model");
    if (field.net && !SymbolTable::lookupNearestSymbolFrom<fl::NetworkOp>(
                          sample, field.net.getNetworkAttr()).isVelocity())
      return sample.emitError("sampling integrates a network v(x, t) or v(x, t, label); ")
             << field.net.getNetworkAttr() << " has another signature";
    // One sample's type: the flow's source's.
    auto sources = flowOp.getBody().front().getOps<fl::SourceOp>();
    if (sources.empty())
      return sample.emitError("sampling needs the flow's source");
    field.type = cast<RankedTensorType>((*sources.begin()).getValue().getType());
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
      Value w = field.guidance ? Value(fl::GuidanceScaleOp::create(b, loc, b.getF32Type()))
                               : Value();
      Value v = field.emit(b, loc, host.getArgument(0),
                           field.timeBatch(b, loc, host.getArgument(1), host.getArgument(2)),
                           host.getArgument(2), givenConditions(host, field), w);
      if (field.reverse)
        v = arith::NegFOp::create(b, loc, v);
      func::ReturnOp::create(b, loc, v);
      sample.setFieldAttr(FlatSymbolRefAttr::get(host.getSymNameAttr()));
      sample.setLabelled(field.labelled());
      if (field.conditions().cond)
        sample.setCondDim(cast<RankedTensorType>(field.conditionTypes().back()).getDimSize(1));
    }
    // A closed-form field's Jacobian-vector product, for divergences:
    // F_jvp(x, t, e, rows) = J e of the canonical field.
    if (auto jvpRef = field.velocity ? sample.getVelocityJvpAttr() : FlatSymbolRefAttr()) {
      if (auto jvp = SymbolTable::lookupNearestSymbolFrom<func::FuncOp>(sample, jvpRef)) {
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
        sample.setFieldJvpAttr(FlatSymbolRefAttr::get(host.getSymNameAttr()));
      }
    }
    // Every solver of the module, so that `sample --solver NAME` can choose.
    NamedAttrList steps, adaptiveSteps;
    for (auto solver : llvm::to_vector(module.getOps<fl::SolverOp>())) {
      auto [step, adaptive] = expandSolver(
          module, solver, field, prefix + "_" + solver.getSymName().str(), loc);
      steps.append(solver.getSymNameAttr(), FlatSymbolRefAttr::get(step.getSymNameAttr()));
      if (adaptive)
        adaptiveSteps.append(solver.getSymNameAttr(),
                             FlatSymbolRefAttr::get(adaptive.getSymNameAttr()));
    }
    MLIRContext *ctx = module.getContext();
    sample.setSolverStepsAttr(steps.getDictionary(ctx));
    if (!adaptiveSteps.empty())
      sample.setAdaptiveStepsAttr(adaptiveSteps.getDictionary(ctx));
    if (auto [kernel, solve] = expandTrajectory(module, field, prefix, loc); kernel) {
      sample.setTrajectoryAttr(FlatSymbolRefAttr::get(kernel.getSymNameAttr()));
      sample.setSolveAttr(FlatSymbolRefAttr::get(solve.getSymNameAttr()));
    }
    return success();
  }

  /// Emits the stage kernels and host steps of `solver`; returns the fixed
  /// step F_S_step and, for an adaptive tableau, the controlled F_S_astep.
  std::pair<func::FuncOp, func::FuncOp> expandSolver(ModuleOp module, fl::SolverOp solver,
                                                     const Field &field,
                                                     const std::string &prefix,
                                                     Location loc) {
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
    ValueRange given = givenConditions(host, field);
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
      ks.push_back(field.emit(b, loc, xi, field.timeBatch(b, loc, ti, rows), rows, given, w));
    }
    func::ReturnOp::create(b, loc, launch(prefix + "_update", ks, results));
    if (errorWeights.empty())
      return {host, func::FuncOp()};
    return {host, expandAdaptive(module, solver, field, prefix, sign, errorWeights, loc)};
  }

  /// When the field is an MLP of at most kTrajectoryMaxWeights parameters,
  /// the whole fixed-step solve in one kernel (the network inlined, the
  /// tableau read at run time, see TrajectoryBody.cpp):
  ///   F_trajectory(x[, label], weights, tableau, t0, h, steps[, w]) -> x
  ///   F_solve(x, tableau, t0, h, steps, rows[, labels]) launches it
  /// With guidance, the kernel evaluates the network twice per stage (the
  /// label and the null class) and applies the guidance kernel in between.
  /// Returns the kernel and F_solve, or nulls when the field is no such MLP.
  std::pair<func::FuncOp, func::FuncOp> expandTrajectory(ModuleOp module, const Field &field,
                                                         const std::string &prefix,
                                                         Location loc) {
    if (!field.net)
      return {};
    auto network = SymbolTable::lookupNearestSymbolFrom<fl::NetworkOp>(
        field.net, field.net.getNetworkAttr());
    if (!network || network.getKind() != "mlp" ||
        mlpLayout(network).total > kTrajectoryMaxWeights)
      return {};
    int64_t maxStages = 1;
    for (auto solver : module.getOps<fl::SolverOp>())
      maxStages = std::max<int64_t>(maxStages, solver.getNumStages());
    OpBuilder ob(module.getContext());
    Type f32 = ob.getF32Type(), i64 = ob.getI64Type();
    auto flat = RankedTensorType::get({ShapedType::kDynamic}, f32);
    RankedTensorType T = field.type;
    SmallVector<Type> args{T};
    if (field.labelled())
      args.push_back(f32);
    unsigned u = args.size(); // the first launch-uniform argument
    args.append({flat, flat, f32, f32, i64});
    if (field.guidance)
      args.push_back(f32);
    SmallVector<bool> uniform(args.size(), false);
    std::fill(uniform.begin() + u, uniform.end(), true);
    func::FuncOp kernel = emitKernel(
        module, prefix + "_trajectory", args, uniform, {T}, loc,
        [&](ExprBuilder &eb, Block *e) -> SmallVector<Value> {
          OpBuilder &b = eb.builder();
          Value label = field.labelled() ? e->getArgument(1) : Value();
          Value w = field.guidance ? e->getArgument(u + 5) : Value();
          return {fl::IntegrateOp::create(
              b, loc, T, e->getArgument(0), e->getArgument(u), e->getArgument(u + 1),
              e->getArgument(u + 2), e->getArgument(u + 3), e->getArgument(u + 4), label, w,
              field.net.getNetworkAttr(), b.getI64IntegerAttr(maxStages),
              field.guidance ? FlatSymbolRefAttr::get(field.guidance.getSymNameAttr())
                             : FlatSymbolRefAttr(),
              field.reverse ? b.getUnitAttr() : UnitAttr())};
        });
    kernel->setAttr(fl::kParallelRowsAttr, ob.getUnitAttr());

    Type xType = batchedType(T), f64 = ob.getF64Type();
    func::FuncOp host = withConditions(module, prefix + "_solve",
                                       {xType, flat, f64, f64, i64, i64}, field, {xType}, loc);
    OpBuilder b = OpBuilder::atBlockBegin(&host.front());
    SmallVector<Value> operands{host.getArgument(0)};
    if (field.labelled())
      operands.push_back(host.getArgument(6));
    operands.push_back(fl::NetWeightsOp::create(b, loc, flat, field.net.getNetworkAttr(),
                                                b.getI64IntegerAttr(mlpLayout(network).total)));
    operands.push_back(host.getArgument(1));
    operands.push_back(arith::TruncFOp::create(b, loc, f32, host.getArgument(2)));
    operands.push_back(arith::TruncFOp::create(b, loc, f32, host.getArgument(3)));
    operands.push_back(host.getArgument(4));
    if (field.guidance)
      operands.push_back(fl::GuidanceScaleOp::create(b, loc, f32));
    Value zero = arith::ConstantOp::create(b, loc, b.getI64IntegerAttr(0));
    func::ReturnOp::create(
        b, loc,
        fl::LaunchOp::create(b, loc, TypeRange{xType}, SymbolRefAttr::get(kernel.getSymNameAttr()),
                             host.getArgument(5), zero, operands)
            .getResult(0));
    return {kernel, host};
  }

  /// Per-sample step-size control for a tableau with an error estimate:
  /// every sample has its own time t and step h ([rows, 1] batches), and
  /// F_S_control accepts or rejects its step and picks the next one in the
  /// kernel, so the host only launches (and looks at the times now and
  /// then): no round trip per step.
  ///   F_S_astage_i(x, k_0..k_{i-1}, t, h) -> (x + h sum_j a_ij k_j, t + c_i h)
  ///   F_S_aupdate(x, k..., h) -> (x', err)
  ///   F_S_control(x, x', err, t, h, rtol, atol, max_step) -> (x, t, h) after
  ///   the step
  ///   F_S_astep(x, t, h, rows[, conditions]) -> (x, t, h): one controlled step
  func::FuncOp expandAdaptive(ModuleOp module, fl::SolverOp solver, const Field &field,
                              const std::string &prefix, double sign,
                              ArrayRef<double> errorWeights, Location loc) {
    RankedTensorType T = field.type;
    OpBuilder ob(module.getContext());
    Type f32 = ob.getF32Type();
    unsigned s = solver.getNumStages();
    for (unsigned i = 1; i < s; ++i) {
      SmallVector<Type> args(i + 1, T);
      args.append({f32, f32});
      SmallVector<double> row;
      for (unsigned j = 0; j < i; ++j)
        row.push_back(sign * solver.getA(i, j));
      double c = solver.getC()[i];
      emitKernel(module, prefix + "_astage" + std::to_string(i), args, {}, {T, f32}, loc,
                 [&](ExprBuilder &eb, Block *e) -> SmallVector<Value> {
                   Value t = e->getArgument(i + 1), h = e->getArgument(i + 2);
                   Value xi = eb.add(e->getArgument(0), combination(eb, e, 1, row, h, T));
                   Value ti = eb.add(t, eb.mul(eb.constantLike(c, f32), h));
                   return {xi, ti ? ti : t};
                 });
    }
    SmallVector<double> weights;
    for (double w : solver.getB())
      weights.push_back(sign * w);
    emitCombination(module, prefix + "_aupdate", T, weights, loc, errorWeights,
                    /*uniformH=*/false);
    emitController(module, prefix + "_control", T, solver.getOrder().value_or(1), loc);

    // Host: stages at each sample's own time, then the controller.
    Type xType = batchedType(T), tType = batchedType(f32);
    func::FuncOp host = withConditions(module, prefix + "_astep",
                                       {xType, tType, tType, ob.getI64Type()}, field,
                                       {xType, tType, tType}, loc);
    OpBuilder b = OpBuilder::atBlockBegin(&host.front());
    Value x = host.getArgument(0), t = host.getArgument(1), h = host.getArgument(2),
          rows = host.getArgument(3);
    ValueRange given = givenConditions(host, field);
    Value zero = arith::ConstantOp::create(b, loc, b.getI64IntegerAttr(0));
    Value w = field.guidance ? Value(fl::GuidanceScaleOp::create(b, loc, f32)) : Value();
    auto launch = [&](const std::string &kernel, ValueRange operands, TypeRange types) {
      return fl::LaunchOp::create(b, loc, types, SymbolRefAttr::get(b.getContext(), kernel),
                                  rows, zero, operands)
          .getResults();
    };
    // A reversed flow's field sees 1 - t.
    auto fieldTime = [&](Value ti) {
      return field.reverse ? launch(prefix + "_flip", {ti}, {tType})[0] : ti;
    };
    if (field.reverse)
      emitKernel(module, prefix + "_flip", {f32}, {}, {f32}, loc,
                 [&](ExprBuilder &eb, Block *e) -> SmallVector<Value> {
                   return {eb.sub(eb.constantLike(1.0, f32), e->getArgument(0))};
                 });
    SmallVector<Value> ks{field.emit(b, loc, x, fieldTime(t), rows, given, w)};
    for (unsigned i = 1; i < s; ++i) {
      SmallVector<Value> operands{x};
      operands.append(ks.begin(), ks.end());
      operands.append({t, h});
      auto stage = launch(prefix + "_astage" + std::to_string(i), operands, {xType, tType});
      ks.push_back(field.emit(b, loc, stage[0], fieldTime(stage[1]), rows, given, w));
    }
    SmallVector<Value> operands{x};
    operands.append(ks.begin(), ks.end());
    operands.push_back(h);
    auto update = launch(prefix + "_aupdate", operands, {xType, xType});
    Value rtol = fl::ToleranceOp::create(b, loc, f32, b.getStringAttr("rtol"));
    Value atol = fl::ToleranceOp::create(b, loc, f32, b.getStringAttr("atol"));
    Value maxStep = fl::ToleranceOp::create(b, loc, f32, b.getStringAttr("max_step"));
    auto next = launch(prefix + "_control",
                       {x, update[0], update[1], t, h, rtol, atol, maxStep},
                       {xType, tType, tType});
    func::ReturnOp::create(b, loc, next);
    return host;
  }

  /// F_S_control(x, x', err, t, h, rtol, atol, max_step) -> (x, t, h) for one
  /// sample,
  /// as torchdiffeq's step control with the sample's own error ratio
  /// r = sqrt(mean((err / (atol + rtol max(|x|, |x'|)))^2)): accept when
  /// r <= 1 (x, t advance), then h *= min(10, max(0.9 r^(-1/order), shrink))
  /// with shrink 1 after an acceptance and 0.2 after a rejection, at most
  /// max_step and up to t = 1. A sample at t = 1 stays there with h = 0.
  static void emitController(ModuleOp module, const std::string &name, RankedTensorType T,
                             int64_t order, Location loc) {
    OpBuilder ob(module.getContext());
    Type f32 = ob.getF32Type();
    emitKernel(
        module, name, {T, T, T, f32, f32, f32, f32, f32},
        {false, false, false, false, false, true, true, true},
        {T, f32, f32}, loc, [&](ExprBuilder &eb, Block *e) -> SmallVector<Value> {
          Value x = e->getArgument(0), next = e->getArgument(1), err = e->getArgument(2);
          Value t = e->getArgument(3), h = e->getArgument(4);
          Value rtol = e->getArgument(5), atol = e->getArgument(6);
          Value maxStep = e->getArgument(7);
          auto c = [&](double v) { return eb.constantLike(v, f32); };
          Value scale = eb.add(eb.broadcast(atol, T),
                               eb.mul(eb.broadcast(rtol, T), eb.max(eb.abs(x), eb.abs(next))));
          Value q = eb.div(err, scale);
          Value ratio = eb.sqrt(eb.mean(eb.mul(q, q)));
          Value active = eb.compare(arith::CmpFPredicate::OLT, t, c(1.0));
          Value ok = eb.compare(arith::CmpFPredicate::OLE, ratio, c(1.0));
          Value accept = eb.andI(active, ok);
          Value tNew = eb.select(accept, eb.add(t, h), t);
          Value done = eb.compare(arith::CmpFPredicate::OGE, tNew, c(1.0 - 1e-6));
          tNew = eb.select(done, c(1.0), tNew);
          // factor = min(10, max(0.9 r^(-1/order), accept ? 1 : 0.2)); r = 0: 10.
          Value grow = eb.mul(c(0.9), eb.pow(eb.max(ratio, c(1e-10)), c(-1.0 / double(order))));
          Value floor = eb.select(ok, c(1.0), c(0.2));
          Value factor = eb.min(c(10.0), eb.max(grow, floor));
          Value hNew = eb.min(eb.min(eb.mul(h, factor), maxStep), eb.sub(c(1.0), tNew));
          hNew = eb.select(done, c(0.0), hNew);
          Value xNew = eb.select(accept, next, x);
          return {xNew, tNew, hNew};
        });
  }
};

} // namespace
