//===- OutlineKernels.cpp - Partition flows at network calls --------------===//
//
// Splits each trained flow's per-sample body at its network application into
// the path kernel (before the network), the loss kernel (after it) and the
// source kernel (what sampling starts from), and writes the host schedule that
// calls them (see Passes.td). Kernels keep per-sample types; the host works
// on batches.
//
//===----------------------------------------------------------------------===//
#include "Outlining.h"
#include "flowc/Transforms/Passes.h"

#include "llvm/ADT/SetVector.h"

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

/// A constant, or a constant broadcast to a tensor: recomputed in the kernel
/// that uses it rather than passed in a buffer.
bool isConstant(Value v) {
  Operation *def = v.getDefiningOp();
  if (auto bc = dyn_cast_or_null<fl::BroadcastOp>(def))
    def = bc.getInput().getDefiningOp();
  return def && def->hasTrait<OpTrait::ConstantLike>();
}

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
    StringRef name = f.getSymName();
    Location loc = f.getLoc();
    OpBuilder b(f.getContext());
    auto i64 = b.getI64Type();

    auto losses = body.getOps<fl::LossOp>();
    if (losses.empty())
      return success();
    fl::LossOp loss = *losses.begin();
    SmallVector<fl::ApplyNetOp> nets(body.getOps<fl::ApplyNetOp>());
    if (nets.size() != 1)
      return f.emitError("a trained flow needs exactly one network application, found ")
             << nets.size();
    fl::ApplyNetOp net = nets.front();

    // 1. Ops that depend on the network's output ("after" the call).
    llvm::DenseSet<Operation *> after;
    for (Operation &op : body)
      for (Value operand : op.getOperands())
        if (operand == net.getResult() ||
            (operand.getDefiningOp() && after.contains(operand.getDefiningOp())))
          after.insert(&op);
    // 2. Values crossing the cut: network inputs, and values computed before
    //    the call that the loss needs.
    llvm::SetVector<Value> crossing;
    crossing.insert(net.getX());
    crossing.insert(net.getT());
    if (Value label = net.getLabel())
      crossing.insert(label);
    SmallVector<Value> lossInputs{net.getResult()};
    for (Operation &op : body) {
      if (!after.contains(&op))
        continue;
      for (Value operand : op.getOperands()) {
        Operation *def = operand.getDefiningOp();
        if (operand == net.getResult() || (def && after.contains(def)) ||
            isConstant(operand))
          continue;
        if (!llvm::is_contained(lossInputs, operand))
          lossInputs.push_back(operand);
        crossing.insert(operand);
      }
    }
    // Kernel inputs from the data: each draw's point, and its label.
    SmallVector<Value> dataDraws;
    for (auto d : body.getOps<fl::DrawDataOp>()) {
      dataDraws.push_back(d.getResult());
      if (Value label = d.getLabel())
        dataDraws.push_back(label);
    }

    std::string pathName = (name + "_path").str(), lossName = (name + "_loss").str();
    if (!outlineKernel(module, body, pathName, dataDraws, crossing.getArrayRef(), loc))
      return failure();
    func::FuncOp lossKernel =
        outlineKernel(module, body, lossName, lossInputs, loss.getValue(), loc);
    if (!lossKernel)
      return failure();
    lossKernel->setAttr(fl::kLossKernelAttr, b.getUnitAttr());

    // 3. The host step: data -> path kernel -> network -> loss.
    auto lossType = RankedTensorType::get({}, b.getF32Type());
    func::FuncOp host = createHostFunction(module, (name + "_train_loss").str(),
                                           {i64, i64}, lossType, loc);
    b.setInsertionPointToStart(&host.front());
    Value step = host.getArgument(0), rows = host.getArgument(1);
    SmallVector<Value> batches;
    for (auto d : body.getOps<fl::DrawDataOp>()) {
      Value label = d.getLabel();
      auto batch = fl::BatchDataOp::create(
          b, loc, batchedType(d.getResult().getType()),
          label ? batchedType(label.getType()) : Type(), d.getDataAttr(), rows);
      batches.push_back(batch.getResult());
      if (label)
        batches.push_back(batch.getLabels());
    }
    SmallVector<Type> crossingTypes;
    for (Value v : crossing)
      crossingTypes.push_back(batchedType(v.getType()));
    auto path = fl::LaunchOp::create(b, loc, crossingTypes,
                                     SymbolRefAttr::get(b.getContext(), pathName),
                                     rows, step, batches);
    IRMapping onHost;
    onHost.map(crossing.getArrayRef(), path.getResults());
    Value label = net.getLabel() ? onHost.lookup(net.getLabel()) : Value();
    Value v = fl::NetOp::create(b, loc, batchedType(net.getType()),
                                net.getNetworkAttr(), onHost.lookup(net.getX()),
                                onHost.lookup(net.getT()), label);
    SmallVector<Value> lossOperands{v};
    for (Value in : ArrayRef(lossInputs).drop_front())
      lossOperands.push_back(onHost.lookup(in));
    Value l = fl::MeanLossOp::create(
        b, loc, lossType, FlatSymbolRefAttr::get(lossKernel.getSymNameAttr()),
        /*backward: flow-differentiate-loss records it*/ nullptr, lossOperands);
    func::ReturnOp::create(b, loc, l);
    recordTrainingFunctions(module, name, host);
    return success();
  }

  /// Records the loss host function on the flow's flow.train (where
  /// flow-outline-run-kernels recorded its optimizer and EMA steps).
  static void recordTrainingFunctions(ModuleOp module, StringRef flow, func::FuncOp loss) {
    for (auto train : module.getOps<fl::TrainOp>())
      if (train.getFlow() == flow)
        train.setTrainLossAttr(FlatSymbolRefAttr::get(loss.getSymNameAttr()));
  }
};

} // namespace
