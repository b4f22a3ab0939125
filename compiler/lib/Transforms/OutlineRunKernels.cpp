//===- OutlineRunKernels.cpp - Kernels of the train and sample blocks -----===//
//
// MLIRGen writes what a train or sample block computes per parameter or per
// sample as regions of `flow.train` (the optimizer's update) and
// `flow.sample` (a closed-form model's field, the guidance combination).
// This pass moves each region into a kernel, derives the kernels the
// compiler owns (the EMA, the model's Jacobian-vector product), writes the
// host functions that run the updates in place, and records all of them on
// the op (see Passes.td).
//
//===----------------------------------------------------------------------===//
#include "Outlining.h"
#include "Partition.h"
#include "flowc/Transforms/Passes.h"

#include "mlir/IR/IRMapping.h"

namespace flowc {
#define GEN_PASS_DEF_OUTLINERUNKERNELS
#include "flowc/Transforms/Passes.h.inc"
} // namespace flowc

using namespace mlir;
using namespace flowc;
namespace fl = flowc::flow;

namespace {

/// Creates an empty kernel `@name(args) -> results` at the end of `module`,
/// with its entry block, and a builder at the start of that block.
std::pair<func::FuncOp, OpBuilder> createKernel(ModuleOp module, StringRef name,
                                                TypeRange args, TypeRange results,
                                                Location loc) {
  OpBuilder b(module.getBodyRegion());
  b.setInsertionPointToEnd(module.getBody());
  auto fn = func::FuncOp::create(b, loc, name, b.getFunctionType(args, results));
  fn->setAttr(fl::kKernelAttr, b.getUnitAttr());
  b.setInsertionPointToStart(fn.addEntryBlock());
  return {fn, b};
}

/// Moves the one block of `region` into a new kernel `@name`; its
/// flow.yield becomes the kernel's return. The region is left empty.
func::FuncOp outlineRegion(ModuleOp module, Region &region, StringRef name, Location loc) {
  auto yield = cast<fl::YieldOp>(region.front().getTerminator());
  OpBuilder b(module.getBodyRegion());
  b.setInsertionPointToEnd(module.getBody());
  auto fn = func::FuncOp::create(
      b, loc, name,
      b.getFunctionType(region.front().getArgumentTypes(), TypeRange(yield.getValues())));
  fn->setAttr(fl::kKernelAttr, b.getUnitAttr());
  fn.getBody().takeBody(region);
  b.setInsertionPoint(yield);
  func::ReturnOp::create(b, yield.getLoc(), yield.getValues());
  yield.erase();
  return fn;
}

/// Marks each argument of `kernel` launch-uniform when `uniform` says so.
void setUniformArgs(func::FuncOp kernel, ArrayRef<bool> uniform) {
  kernel->setAttr(fl::kUniformArgsAttr,
                  Builder(kernel.getContext()).getDenseBoolArrayAttr(uniform));
}

/// Makes `kernel` (f32 per row; its last `uniform` arguments launch-uniform)
/// an in-place update run at every training step, and creates
/// `@hostName(buffers..., uniforms..., rows)` that launches it over [rows, 1]
/// buffers, result i overwriting buffer `overwrites[i]`.
func::FuncOp createInPlaceLauncher(ModuleOp module, func::FuncOp kernel, unsigned uniform,
                                   ArrayRef<int64_t> overwrites, StringRef hostName) {
  Builder b(kernel.getContext());
  FunctionType type = kernel.getFunctionType();
  unsigned args = type.getNumInputs(), buffers = args - uniform;
  SmallVector<bool> isUniform(buffers, false);
  isUniform.append(uniform, true);
  setUniformArgs(kernel, isUniform);
  kernel->setAttr(fl::kParallelRowsAttr, b.getUnitAttr());
  // Inside the training step's CUDA graph on a GPU: uniforms read from memory.
  kernel->setAttr(fl::kUniformsInMemoryAttr, b.getUnitAttr());

  Type f32 = b.getF32Type(), rows = batchedType(f32);
  SmallVector<Type> hostArgs(buffers, rows);
  hostArgs.append(uniform, f32);
  hostArgs.push_back(b.getI64Type());
  Location loc = kernel.getLoc();
  func::FuncOp host = createHostFunction(module, hostName, hostArgs, {}, loc);
  Block &entry = host.front();
  OpBuilder hb = OpBuilder::atBlockBegin(&entry);
  Value zero = arith::ConstantOp::create(hb, loc, hb.getI64IntegerAttr(0));
  auto launch = fl::LaunchOp::create(hb, loc, SmallVector<Type>(type.getNumResults(), rows),
                                     SymbolRefAttr::get(kernel), entry.getArgument(args), zero,
                                     entry.getArguments().take_front(args));
  launch->setAttr(fl::kInPlaceAttr, hb.getDenseI64ArrayAttr(overwrites));
  func::ReturnOp::create(hb, loc);
  return host;
}

/// `@name(e, p, decay) -> e'` with e' = decay e + (1 - decay) p: the
/// exponential moving average of the weights (`train { ema: ... }`).
func::FuncOp createEmaKernel(ModuleOp module, StringRef name, Location loc) {
  Type f32 = Float32Type::get(module.getContext());
  auto [fn, b] = createKernel(module, name, {f32, f32, f32}, {f32}, loc);
  Value e = fn.getArgument(0), p = fn.getArgument(1), decay = fn.getArgument(2);
  Value one = arith::ConstantOp::create(b, loc, b.getF32FloatAttr(1.0f));
  Value rest = arith::SubFOp::create(b, loc, one, decay);
  Value kept = arith::MulFOp::create(b, loc, decay, e);
  Value mixed = arith::MulFOp::create(b, loc, rest, p);
  func::ReturnOp::create(b, loc, ValueRange{arith::AddFOp::create(b, loc, kept, mixed)});
  return fn;
}

/// `@name(x, t, e, s) -> J e`, the Jacobian in x of the field kernel
/// `model(x, t)` times e (for divergences): the model's body at x + s e,
/// differentiated in s by flow.ddt, which flow-differentiate-time makes
/// symbolic; the host passes s = 0.
func::FuncOp createJvpKernel(ModuleOp module, func::FuncOp model, StringRef name) {
  Location loc = model.getLoc();
  Type x = model.getArgument(0).getType(), f32 = model.getArgument(1).getType();
  auto [fn, b] = createKernel(module, name, {x, f32, x, f32}, {x}, loc);
  setUniformArgs(fn, {false, false, false, true});
  Value s = fn.getArgument(3);
  if (isa<RankedTensorType>(x))
    s = fl::BroadcastOp::create(b, loc, x, s);
  Value se = arith::MulFOp::create(b, loc, s, fn.getArgument(2));
  IRMapping map;
  map.map(model.getArgument(0), arith::AddFOp::create(b, loc, fn.getArgument(0), se));
  map.map(model.getArgument(1), fn.getArgument(1));
  for (Operation &op : model.front().without_terminator())
    b.clone(op, map);
  Value v = map.lookupOrDefault(model.front().getTerminator()->getOperand(0));
  Value jv = fl::DdtOp::create(b, loc, x, v, fn.getArgument(3));
  func::ReturnOp::create(b, loc, jv);
  return fn;
}

struct OutlineRunKernelsPass
    : flowc::impl::OutlineRunKernelsBase<OutlineRunKernelsPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    for (auto train : llvm::to_vector(module.getOps<fl::TrainOp>()))
      outlineTrain(module, train);
    for (auto sample : llvm::to_vector(module.getOps<fl::SampleOp>()))
      if (failed(outlineSample(module, sample)))
        return signalPassFailure();
  }

  void outlineTrain(ModuleOp module, fl::TrainOp train) {
    std::string prefix = train.getFlow().str();
    Location loc = train.getLoc();
    if (!train.getUpdate().empty()) {
      // (p, g, s..., lr, step) -> (p', s'...): p' overwrites p, s' its s.
      func::FuncOp kernel = outlineRegion(module, train.getUpdate(), prefix + "_optimizer", loc);
      SmallVector<int64_t> overwrites{0};
      for (unsigned i = 1; i < kernel.getNumResults(); ++i)
        overwrites.push_back(i + 1);
      func::FuncOp host = createInPlaceLauncher(module, kernel, /*uniform=*/2, overwrites,
                                                prefix + "_optimizer_step");
      train.setOptimizerStepAttr(FlatSymbolRefAttr::get(host.getSymNameAttr()));
    }
    if (!train.getEmaStepAttr()) {
      func::FuncOp ema = createEmaKernel(module, prefix + "_ema", loc);
      func::FuncOp host = createInPlaceLauncher(module, ema, /*uniform=*/1, {0},
                                                prefix + "_ema_step");
      train.setEmaStepAttr(FlatSymbolRefAttr::get(host.getSymNameAttr()));
    }
  }

  LogicalResult outlineSample(ModuleOp module, fl::SampleOp sample) {
    std::string prefix = sample.getFlow().str();
    Location loc = sample.getLoc();
    Region &field = sample.getModel();
    bool graph = !field.empty() && (field.getNumArguments() > 2 ||
                                    !field.front().getOps<fl::ApplyNetOp>().empty());
    if (graph) {
      func::FuncOp host = outlineFieldGraph(module, field, prefix, loc);
      if (!host)
        return failure();
      sample.setVelocityGraphAttr(FlatSymbolRefAttr::get(host.getSymNameAttr()));
    } else if (!field.empty()) {
      func::FuncOp model = outlineRegion(module, sample.getModel(), prefix + "_model", loc);
      func::FuncOp jvp = createJvpKernel(module, model, prefix + "_model_jvp");
      sample.setVelocityAttr(FlatSymbolRefAttr::get(model.getSymNameAttr()));
      sample.setVelocityJvpAttr(FlatSymbolRefAttr::get(jvp.getSymNameAttr()));
    }
    if (!sample.getCombine().empty()) {
      func::FuncOp guidance =
          outlineRegion(module, sample.getCombine(), prefix + "_guidance", loc);
      setUniformArgs(guidance, {false, false, false, false, true}); // w
      sample.setGuidanceAttr(FlatSymbolRefAttr::get(guidance.getSymNameAttr()));
    }
    return success();
  }

  /// A field that applies networks (or takes the label or condition),
  /// partitioned like a flow body: kernels `F_field<level>` and the host
  /// function `F_sampled_field(x, t, rows[, labels][, conds]) -> v` that
  /// runs them with the networks. The region is left empty.
  func::FuncOp outlineFieldGraph(ModuleOp module, Region &field, StringRef prefix,
                                 Location loc) {
    Block &body = field.front();
    OpBuilder b(module.getContext());
    Type x = batchedType(body.getArgument(0).getType()), t = batchedType(b.getF32Type());
    SmallVector<Type> args{x, t, b.getI64Type()};
    fl::Conditions given;
    for (BlockArgument a : body.getArguments().drop_front(2)) {
      (isa<RankedTensorType>(a.getType()) ? given.cond : given.label) = true;
      args.push_back(batchedType(a.getType()));
    }
    func::FuncOp host = createHostFunction(module, (prefix + "_sampled_field").str(), args, x, loc);
    fl::markConditions(host, given);
    b.setInsertionPointToStart(&host.front());
    IRMapping onHost;
    onHost.map(body.getArgument(0), host.getArgument(0));
    onHost.map(body.getArgument(1), host.getArgument(1));
    onHost.map(body.getArguments().drop_front(2), host.getArguments().drop_front(3));
    Value rows = host.getArgument(2);
    Value step = arith::ConstantOp::create(b, loc, b.getI64IntegerAttr(0)); // no draws
    FlowGraph graph(body);
    auto regions = outlineGraph(
        module, body, graph,
        [&](unsigned level) { return (prefix + "_field" + Twine(level)).str(); }, b, loc, rows,
        step, onHost);
    if (failed(regions))
      return nullptr;
    auto yield = cast<fl::YieldOp>(body.getTerminator());
    Value v = onHost.lookupOrNull(yield.getValues()[0]);
    if (!v) {
      yield.emitError("the sampled velocity is a constant; it must depend on x, t or a network");
      return nullptr;
    }
    func::ReturnOp::create(b, loc, v);
    field.getBlocks().clear();
    return host;
  }
};

} // namespace
