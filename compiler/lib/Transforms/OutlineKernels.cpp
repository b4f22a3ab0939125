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
    if (isa<fl::DrawDataOp, fl::ApplyNetOp>(op)) {
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
    draws |= isa<fl::NormalOp, fl::UniformOp>(op);
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

  /// The source kernel (the def chain of flow.source: what sampling starts
  /// from) and `F_sample_source(n)` launching it, recorded on the flow's
  /// flow.train and flow.sample.
  LogicalResult outlineSource(ModuleOp module, fl::FlowOp f) {
    Block &body = f.getBody().front();
    auto sources = body.getOps<fl::SourceOp>();
    if (sources.empty())
      return success();
    StringRef name = f.getSymName();
    Location loc = f.getLoc();
    OpBuilder b(f.getContext());
    Value x0 = (*sources.begin()).getValue();
    if (!outlineKernel(module, body, (name + "_source").str(), {}, x0, loc))
      return failure();
    func::FuncOp host = createHostFunction(module, (name + "_sample_source").str(),
                                           {b.getI64Type()}, batchedType(x0.getType()), loc);
    b.setInsertionPointToStart(&host.front());
    Value zero = arith::ConstantOp::create(b, loc, b.getI64IntegerAttr(0));
    auto launch = fl::LaunchOp::create(
        b, loc, TypeRange{batchedType(x0.getType())},
        SymbolRefAttr::get(b.getContext(), (name + "_source").str()), host.getArgument(0),
        zero, ValueRange{});
    func::ReturnOp::create(b, loc, launch.getResults());
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
    SmallVector<GraphRegion> regions = graph.regions();
    StringRef name = f.getSymName();
    unsigned deepest = regions.back().level;
    for (GraphRegion &r : regions) {
      r.kernel = outlineKernel(module, body, regionName(name, r.level, deepest), r.inputs,
                               r.outputs, f.getLoc());
      if (!r.kernel)
        return failure();
      // Which inputs get an adjoint: flow-differentiate-regions builds the
      // reverse-mode kernel from this.
      SmallVector<bool> grad;
      for (Value in : r.inputs)
        grad.push_back(graph.carriesGradient(in));
      if (llvm::is_contained(grad, true))
        r.kernel->setAttr(fl::kGradArgsAttr,
                          Builder(f.getContext()).getDenseBoolArrayAttr(grad));
    }
    func::FuncOp host = writeTrainLoss(module, f, graph, regions);
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

  /// `F_train_loss(step, rows) -> loss`: draws the data, then per level its
  /// region's launch (differentiable where its kernel has adjoints) and the
  /// applications of the next level; the loss is the sum of the losses'
  /// batch means (flow.total_loss), whose names it records on flow.train.
  func::FuncOp writeTrainLoss(ModuleOp module, fl::FlowOp f, FlowGraph &graph,
                              ArrayRef<GraphRegion> regions) {
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
      Value label = d.getLabel();
      auto batch = fl::BatchDataOp::create(
          b, loc, batchedType(d.getResult().getType()),
          label ? batchedType(label.getType()) : Type(), d.getDataAttr(), rows);
      onHost.map(d.getResult(), batch.getResult());
      if (label)
        onHost.map(label, batch.getLabels());
    }
    // Level by level: its region (a level may have none: a network applied
    // to data as drawn), then the applications one level deeper.
    for (unsigned level = 0; level <= graph.deepestLevel(); ++level) {
      for (const GraphRegion &r : regions) {
        if (r.level != level)
          continue;
        SmallVector<Value> args;
        for (Value in : r.inputs)
          args.push_back(onHost.lookup(in));
        SmallVector<Type> types;
        for (Value out : r.outputs)
          types.push_back(batchedType(out.getType()));
        auto launch = fl::LaunchOp::create(b, loc, types, SymbolRefAttr::get(r.kernel), rows,
                                           step, args);
        onHost.map(r.outputs, launch.getResults());
      }
      for (fl::ApplyNetOp net : graph.applicationsAt(level + 1)) {
        SmallVector<Value> netArgs;
        for (Value arg : net.getArgs())
          netArgs.push_back(onHost.lookup(arg));
        Value v = fl::NetOp::create(b, loc, batchedType(net.getType()), net.getNetworkAttr(),
                                    netArgs);
        onHost.map(net.getResult(), v);
      }
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
