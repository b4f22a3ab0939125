//===- OutlineKernels.cpp - Partition flows at network applications -------===//
//
// Cuts each trained flow's per-sample body at every network application
// (FlowGraph, Partition.h) into region kernels: the path kernel (level 0,
// the only one that draws), one kernel per deeper level, the deepest being
// the loss kernel, and the source kernel (what sampling starts from); marks
// the regions the loss's gradient reaches, and writes the host schedule that
// runs regions and networks in order (see Passes.td). Kernels keep
// per-sample types; the host works on batches.
//
//===----------------------------------------------------------------------===//
#include "Outlining.h"
#include "Partition.h"
#include "flowc/Transforms/Passes.h"

namespace flowc {
#define GEN_PASS_DEF_OUTLINEKERNELS
#include "flowc/Transforms/Passes.h.inc"
} // namespace flowc

using namespace mlir;
using namespace flowc;
namespace fl = flowc::flow;

func::FuncOp flowc::createHostFunction(ModuleOp module, StringRef name,
                                       TypeRange argTypes, TypeRange resultTypes,
                                       Location loc) {
  OpBuilder b(module.getBodyRegion());
  b.setInsertionPointToEnd(module.getBody());
  auto fn = func::FuncOp::create(b, loc, name,
                                 b.getFunctionType(argTypes, resultTypes));
  fn->setAttr(fl::kHostAttr, b.getUnitAttr());
  fn.addEntryBlock();
  return fn;
}

func::FuncOp flowc::outlineKernel(ModuleOp module, Block &body, StringRef name,
                                  ValueRange inputs, ValueRange outputs,
                                  Location loc) {
  // 1. The backward slice of the outputs, stopping at the inputs.
  llvm::DenseSet<Value> inputSet(inputs.begin(), inputs.end());
  llvm::DenseSet<Operation *> slice;
  SmallVector<Value> work(outputs.begin(), outputs.end());
  while (!work.empty()) {
    Value v = work.pop_back_val();
    Operation *op = v.getDefiningOp();
    if (inputSet.contains(v) || !op || !slice.insert(op).second)
      continue;
    if (isa<fl::DrawDataOp>(op) || isHostApplication(op)) {
      op->emitError("kernel '") << name << "' cannot contain '" << op->getName()
                                << "' here";
      return nullptr;
    }
    work.append(op->operand_begin(), op->operand_end());
  }
  // 2. Clone the slice in program order into a new function.
  OpBuilder b(module.getBodyRegion());
  b.setInsertionPointToEnd(module.getBody());
  auto fn = func::FuncOp::create(
      b, loc, name, b.getFunctionType(TypeRange(inputs), TypeRange(outputs)));
  fn->setAttr(fl::kKernelAttr, b.getUnitAttr());
  Block *entry = fn.addEntryBlock();
  IRMapping map;
  map.map(inputs, entry->getArguments());
  b.setInsertionPointToStart(entry);
  bool draws = false;
  for (Operation &op : body) {
    if (!slice.contains(&op))
      continue;
    draws |= fl::isDraw(&op);
    b.clone(op, map);
  }
  SmallVector<Value> results;
  for (Value v : outputs)
    results.push_back(map.lookupOrDefault(v));
  func::ReturnOp::create(b, loc, results);
  if (draws)
    fn->setAttr(fl::kDrawsAttr, b.getUnitAttr());
  return fn;
}

namespace {

struct OutlineKernelsPass
    : flowc::impl::OutlineKernelsBase<OutlineKernelsPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    SmallVector<fl::FlowOp> flows(module.getOps<fl::FlowOp>());
    for (fl::FlowOp f : flows)
      if (failed(outlineFlow(module, f)))
        return signalPassFailure();
  }

  /// What sampling starts from: the def chain of flow.source (a draw, or an
  /// expression of draws, the data's label and condition, and networks),
  /// partitioned like the body into `F_source` (level 0) and `F_source<k>`
  /// kernels, and the host function `F_sample_source(rows[, labels][,
  /// conds]) -> x0` that runs them with the networks (its condition
  /// arguments marked, fl::markConditions); recorded on the flow's
  /// flow.train and flow.sample.
  LogicalResult outlineSource(ModuleOp module, fl::FlowOp f) {
    Block &body = f.getBody().front();
    auto sources = body.getOps<fl::SourceOp>();
    if (sources.empty())
      return success();
    StringRef name = f.getSymName();
    Location loc = f.getLoc();
    OpBuilder b(f.getContext());
    fl::SourceOp sourceOp = *sources.begin();
    Value x0 = sourceOp.getValue();
    // The chain, checked: sampling has labels and conditions but no data
    // points or time.
    llvm::DenseSet<Operation *> slice;
    Value label, cond;
    SmallVector<Value> work{x0};
    while (!work.empty()) {
      Value v = work.pop_back_val();
      Operation *op = v.getDefiningOp();
      if (auto draw = dyn_cast_or_null<fl::DrawDataOp>(op)) {
        if (v == draw.getResult())
          return sourceOp.emitError("the source x0 uses the data's points, which sampling "
                                    "does not have (it may use their label or condition)");
        (v == draw.getLabel() ? label : cond) = v;
        continue;
      }
      if (!op || !slice.insert(op).second)
        continue;
      if (llvm::any_of(v.getUsers(), [](Operation *u) { return isa<fl::TimeOp>(u); }))
        return sourceOp.emitError("the source x0 cannot depend on the time t");
      work.append(op->operand_begin(), op->operand_end());
    }
    // A scratch function holding the chain alone (label and condition its
    // arguments).
    SmallVector<Value> given;
    for (Value v : {label, cond})
      if (v)
        given.push_back(v);
    b.setInsertionPointToEnd(module.getBody());
    auto scratch = func::FuncOp::create(b, loc, (name + "_source_graph").str(),
                                        b.getFunctionType(ValueRange(given).getTypes(),
                                                          {x0.getType()}));
    Block *chain = scratch.addEntryBlock();
    IRMapping map;
    map.map(given, chain->getArguments());
    b.setInsertionPointToStart(chain);
    for (Operation &op : body)
      if (slice.contains(&op) && !isa<fl::DrawDataOp>(op))
        b.clone(op, map);
    func::ReturnOp::create(b, loc, map.lookupOrDefault(x0));

    SmallVector<Type> args{b.getI64Type()};
    for (Value v : given)
      args.push_back(batchedType(v.getType()));
    func::FuncOp host = createHostFunction(module, (name + "_sample_source").str(), args,
                                           batchedType(x0.getType()), loc);
    fl::Conditions takes;
    takes.label = static_cast<bool>(label);
    takes.cond = static_cast<bool>(cond);
    fl::markConditions(host, takes);
    b.setInsertionPointToStart(&host.front());
    IRMapping onHost;
    onHost.map(chain->getArguments(), host.getArguments().drop_front());
    Value zero = arith::ConstantOp::create(b, loc, b.getI64IntegerAttr(0));
    FlowGraph graph(*chain);
    auto regions = outlineGraph(
        module, *chain, graph,
        [&](unsigned level) {
          return (name + "_source" + (level ? Twine(level) : Twine())).str();
        },
        b, loc, host.getArgument(0), zero, onHost);
    if (failed(regions))
      return failure();
    Value result = onHost.lookupOrNull(chain->getTerminator()->getOperand(0));
    scratch.erase();
    if (!result)
      return sourceOp.emitError("the source x0 is a constant");
    func::ReturnOp::create(b, loc, result);
    auto ref = FlatSymbolRefAttr::get(host.getSymNameAttr());
    for (auto train : module.getOps<fl::TrainOp>())
      if (train.getFlow() == name)
        train.setSampleSourceAttr(ref);
    for (auto sample : module.getOps<fl::SampleOp>())
      if (sample.getFlow() == name)
        sample.setSampleSourceAttr(ref);
    return success();
  }

  LogicalResult outlineFlow(ModuleOp module, fl::FlowOp f) {
    if (failed(outlineSource(module, f)))
      return failure();
    Block &body = f.getBody().front();
    auto losses = body.getOps<fl::LossOp>();
    if (losses.empty())
      return success();
    if (body.getOps<fl::ApplyNetOp>().empty())
      return f.emitError("a trained flow needs a network application");
    FlowGraph graph(body);
    func::FuncOp host = writeTrainLoss(module, f, graph);
    if (!host)
      return failure();
    recordTrainingFunctions(module, f, host);
    return success();
  }

  /// `F_path` for level 0 (it draws the path), `F_loss` for the deepest
  /// level (what it computes can only be losses), `F_region<k>` between.
  static std::string regionName(StringRef flow, unsigned level, unsigned deepest) {
    if (level == 0)
      return (flow + "_path").str();
    if (level == deepest)
      return (flow + "_loss").str();
    return (flow + "_region" + Twine(level)).str();
  }

  /// `F_train_loss(step, rows) -> loss`: draws the data, then the regions'
  /// kernels (differentiable where their inputs carry a gradient) and the
  /// networks in order (outlineGraph); the loss is the sum of the losses'
  /// batch means (flow.total_loss), whose names it records on flow.train.
  func::FuncOp writeTrainLoss(ModuleOp module, fl::FlowOp f, const FlowGraph &graph) {
    Block &body = f.getBody().front();
    Location loc = f.getLoc();
    OpBuilder b(f.getContext());
    auto lossType = RankedTensorType::get({}, b.getF32Type());
    func::FuncOp host = createHostFunction(module, (f.getSymName() + "_train_loss").str(),
                                           {b.getI64Type(), b.getI64Type()}, lossType, loc);
    b.setInsertionPointToStart(&host.front());
    Value step = host.getArgument(0), rows = host.getArgument(1);
    IRMapping onHost; // per-sample value -> its batch
    for (auto d : body.getOps<fl::DrawDataOp>()) {
      Value label = d.getLabel(), cond = d.getCond();
      auto batch = fl::BatchDataOp::create(
          b, loc, batchedType(d.getResult().getType()),
          label ? batchedType(label.getType()) : Type(),
          cond ? batchedType(cond.getType()) : Type(), d.getDataAttr(), rows);
      onHost.map(d.getResult(), batch.getResult());
      if (label)
        onHost.map(label, batch.getLabels());
      if (cond)
        onHost.map(cond, batch.getConds());
    }
    StringRef name = f.getSymName();
    unsigned deepest = graph.regions().back().level;
    FailureOr<SmallVector<GraphRegion>> regions = outlineGraph(
        module, body, graph, [&](unsigned level) { return regionName(name, level, deepest); },
        b, loc, rows, step, onHost);
    if (failed(regions))
      return nullptr;
    // Which inputs of each region get an adjoint: flow-differentiate-regions
    // builds the reverse-mode kernel from this.
    for (GraphRegion &r : *regions) {
      SmallVector<bool> grad;
      for (Value in : r.inputs)
        grad.push_back(graph.carriesGradient(in));
      if (llvm::is_contained(grad, true))
        r.kernel->setAttr(fl::kGradArgsAttr, b.getDenseBoolArrayAttr(grad));
    }
    // Every loss's batch mean; what trains is their sum.
    SmallVector<Value> means;
    for (fl::LossOp loss : body.getOps<fl::LossOp>())
      means.push_back(fl::BatchMeanOp::create(b, loc, lossType, onHost.lookup(loss.getValue())));
    Value total = fl::TotalLossOp::create(b, loc, lossType, means);
    func::ReturnOp::create(b, loc, total);
    return host;
  }

  /// Records the loss host function and the losses' names (in the order of
  /// flow.total_loss's terms) on the flow's flow.train (where
  /// flow-outline-run-kernels recorded its optimizer and EMA steps).
  static void recordTrainingFunctions(ModuleOp module, fl::FlowOp f, func::FuncOp loss) {
    Builder b(module.getContext());
    SmallVector<StringRef> names;
    for (fl::LossOp l : f.getBody().front().getOps<fl::LossOp>())
      names.push_back(l.getName());
    for (auto train : module.getOps<fl::TrainOp>())
      if (train.getFlow() == f.getSymName()) {
        train.setTrainLossAttr(FlatSymbolRefAttr::get(loss.getSymNameAttr()));
        train.setLossNamesAttr(b.getStrArrayAttr(names));
      }
  }
};

} // namespace
