//===- OutlineRunKernels.cpp - Kernels of the train and sample blocks -----===//
//
// MLIRGen writes what a train or sample block computes per parameter or per
// sample as regions of `flow.train` (the optimizer's update) and
// `flow.sample` (a closed-form model's field, the guidance combination, a
// map's step), and a tokenizer's two directions as regions of
// `flow.tokenizer`. This pass moves each region into a kernel (or a host
// function of kernels and network calls), derives the kernels the compiler
// owns (the EMA, the model's Jacobian-vector product), writes the
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
    for (auto tokenizer : llvm::to_vector(module.getOps<fl::TokenizerOp>()))
      if (failed(outlineTokenizer(module, tokenizer)))
        return signalPassFailure();
  }

  /// A tokenizer's two directions as host functions `T_encode(x, rows) ->
  /// z` and `T_decode(z, rows) -> x`, networks and all (a flow decoder's
  /// decoding is its flow's sampler).
  LogicalResult outlineTokenizer(ModuleOp module, fl::TokenizerOp tokenizer) {
    if (tokenizer.getEncode().empty())
      return success();
    std::string prefix = tokenizer.getSymName().str();
    Location loc = tokenizer.getLoc();
    func::FuncOp encode =
        outlineSampledGraph(module, tokenizer.getEncode(), prefix + "_encode",
                            prefix + "_encoding", {}, /*scaled=*/false, "the encoding", loc);
    if (!encode)
      return failure();
    tokenizer.setEncodeFnAttr(FlatSymbolRefAttr::get(encode.getSymNameAttr()));
    if (tokenizer.getDecode().empty())
      return success();
    func::FuncOp decode =
        outlineSampledGraph(module, tokenizer.getDecode(), prefix + "_decode",
                            prefix + "_decoding", {}, /*scaled=*/false, "the decoding", loc);
    if (!decode)
      return failure();
    tokenizer.setDecodeFnAttr(FlatSymbolRefAttr::get(decode.getSymNameAttr()));
    return success();
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
    if (!sample.getTimes().empty()) { // the grid: `F_time_grid(u, rows) -> t`
      func::FuncOp grid =
          outlineSampledGraph(module, sample.getTimes(), prefix + "_time_grid",
                              prefix + "_times", {}, /*scaled=*/false, "the time grid", loc);
      if (!grid)
        return failure();
      sample.setTimeGridAttr(FlatSymbolRefAttr::get(grid.getSymNameAttr()));
    }
    if (failed(outlineNoising(module, sample, prefix, loc)))
      return failure();
    if (!sample.getMap().empty())
      return outlineMap(module, sample, prefix, loc);
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

  /// The flow's path from the data as the host function `F_noised(x1, t,
  /// rows) -> x_t` (t f64), for editing (SDEdit: data noised to t, then
  /// sampled from there): the ops of the flow body that compute the sampled
  /// network's input, cloned with the data draw and the time as arguments;
  /// the source is drawn afresh at each call. Nothing when the sample block
  /// integrates no one network of the flow, or that input depends on more
  /// than the data point, the time and draws (a label, a condition).
  LogicalResult outlineNoising(ModuleOp module, fl::SampleOp sample, StringRef prefix,
                               Location loc) {
    auto flow = module.lookupSymbol<fl::FlowOp>(sample.getFlowAttr());
    auto network = sample.getNetworkAttr();
    if (!flow || !network || !sample.getMap().empty())
      return success();
    Block &body = flow.getBody().front();
    fl::ApplyNetOp apply;
    fl::DrawDataOp draw;
    Value time;
    for (Operation &op : body) {
      if (auto a = dyn_cast<fl::ApplyNetOp>(op); a && !apply && a.getNetworkAttr() == network)
        apply = a;
      if (auto d = dyn_cast<fl::DrawDataOp>(op); d && !draw)
        draw = d;
      if (auto t = dyn_cast<fl::TimeOp>(op))
        time = t.getValue();
    }
    if (!apply || !draw || !time || apply.getArgs().empty())
      return success();
    Value xt = apply.getArgs()[0];
    if (xt == draw.getResult() || xt == time)
      return success(); // x_t is the data itself: nothing to noise
    // The backward slice of x_t, stopping at the data point and the time.
    llvm::SetVector<Operation *> slice;
    SmallVector<Value> work{xt};
    while (!work.empty()) {
      Value v = work.pop_back_val();
      if (v == draw.getResult() || v == time)
        continue;
      Operation *def = v.getDefiningOp();
      if (!def || def->getBlock() != &body || def == draw.getOperation() ||
          isa<fl::DdtOp, fl::ApplyNetOp, fl::ApplyNetJvpOp>(def))
        return success(); // depends on more than a path of (x1, t, draws)
      if (slice.insert(def))
        llvm::append_range(work, def->getOperands());
    }
    // The region (x1, t) -> x_t, in the body's order.
    Region region;
    Block *block = new Block();
    region.push_back(block);
    OpBuilder b(module.getContext());
    IRMapping map;
    map.map(draw.getResult(), block->addArgument(draw.getResult().getType(), loc));
    map.map(time, block->addArgument(b.getF32Type(), loc));
    b.setInsertionPointToStart(block);
    for (Operation &op : body)
      if (slice.contains(&op))
        b.clone(op, map);
    fl::YieldOp::create(b, loc, ValueRange{map.lookupOrDefault(xt)});
    func::FuncOp host = outlineSampledGraph(module, region, (prefix + "_noised").str(),
                                            (prefix + "_noise").str(), {b.getF64Type()},
                                            /*scaled=*/false, "the flow's path", loc);
    if (!host)
      return failure();
    sample.setNoisedAttr(FlatSymbolRefAttr::get(host.getSymNameAttr()));
    return success();
  }

  /// A field that applies networks (or takes the label or condition) as
  /// the host function `F_sampled_field(x, t, rows[, labels][, conds]) ->
  /// v`, t a batch of per-sample times (see outlineSampledGraph).
  func::FuncOp outlineFieldGraph(ModuleOp module, Region &field, StringRef prefix,
                                 Location loc) {
    OpBuilder b(module.getContext());
    return outlineSampledGraph(module, field, (prefix + "_sampled_field").str(),
                               (prefix + "_field").str(), {batchedType(b.getF32Type())},
                               /*scaled=*/false, "the sampled velocity", loc);
  }

  /// A map sampler: with guidance, each application of a conditional
  /// network to the label guided; then `F_map_step(x, t, h, rows[,
  /// labels][, conds]) -> x` (t and h f64) as the sampler's step.
  LogicalResult outlineMap(ModuleOp module, fl::SampleOp sample, StringRef prefix,
                           Location loc) {
    Region &map = sample.getMap();
    Block &body = map.front();
    OpBuilder b(module.getContext());
    bool guided = !sample.getCombine().empty();
    if (guided) {
      BlockArgument w = body.addArgument(b.getF32Type(), loc);
      BlockArgument label = body.getNumArguments() > 4 && body.getArgument(3).getType() ==
                                                              b.getF32Type()
                                ? body.getArgument(3)
                                : BlockArgument();
      if (!label || !guideApplications(body, label, sample.getCombine().front(), w))
        return sample.emitError("guidance needs the map to apply a conditional network to "
                                "the label");
      sample.getCombine().getBlocks().clear();
    }
    Type f64 = b.getF64Type();
    func::FuncOp host = outlineSampledGraph(module, map, (prefix + "_map_step").str(),
                                            (prefix + "_map").str(), {f64, f64}, guided,
                                            "the map's step", loc);
    if (!host)
      return failure();
    sample.setMapStepAttr(FlatSymbolRefAttr::get(host.getSymNameAttr()));
    fl::Conditions given = fl::takenConditions(host);
    sample.setLabelled(given.label);
    if (given.cond)
      sample.setCondDim(cast<RankedTensorType>(host.getArgumentTypes().back()).getDimSize(1));
    return success();
  }

  /// Guides each application in `body` of a network whose last input is a
  /// label, applied to `label`: the network there (v_c) and at the null
  /// class -1 (v_u), combined by a copy of `combine`'s body (v_c, v_u, x,
  /// t, w) with the map's x and t and the scale `w`. Returns whether any
  /// application was guided.
  static bool guideApplications(Block &body, Value label, Block &combine, Value w) {
    bool guided = false;
    for (auto net : llvm::to_vector(body.getOps<fl::ApplyNetOp>())) {
      auto network =
          SymbolTable::lookupNearestSymbolFrom<fl::NetworkOp>(net, net.getNetworkAttr());
      ArrayAttr roles = network ? network.getInputs() : ArrayAttr();
      if (!roles || roles.empty() || cast<StringAttr>(roles[roles.size() - 1]) != "label" ||
          net.getArgs().back() != label || net.getType() != combine.getArgument(0).getType())
        continue;
      Location loc = net.getLoc();
      OpBuilder b(net.getContext());
      b.setInsertionPointAfter(net);
      SmallVector<Value> args(net.getArgs());
      args.back() = arith::ConstantOp::create(b, loc, b.getF32FloatAttr(-1.0f));
      auto unconditional =
          fl::ApplyNetOp::create(b, loc, net.getType(), net.getNetworkAttr(), args);
      IRMapping m;
      m.map(combine.getArgument(0), net.getResult());
      m.map(combine.getArgument(1), unconditional.getResult());
      m.map(combine.getArgument(2), body.getArgument(0));
      m.map(combine.getArgument(3), body.getArgument(1));
      m.map(combine.getArgument(4), w);
      llvm::SmallPtrSet<Operation *, 8> combined;
      for (Operation &op : combine.without_terminator())
        combined.insert(b.clone(op, m));
      Value v = m.lookupOrDefault(combine.getTerminator()->getOperand(0));
      net.getResult().replaceUsesWithIf(v, [&](OpOperand &use) {
        return !combined.contains(use.getOwner());
      });
      guided = true;
    }
    return guided;
  }

  /// A per-sample region (x, times...[, label][, cond][, w]) -> a value
  /// (x-shaped, but for a decoder's), partitioned like a flow body into kernels `kernelPrefix<level>`
  /// and the host function `@hostName(x, times..., rows[, labels][,
  /// conds]) -> result` that runs them with the networks. Each time is
  /// given to the host as `timeTypes` says: a [rows, 1] batch as is, an f64
  /// filled into one; with `scaled`, the last argument `w` is the run's
  /// guidance scale. The region is left empty.
  func::FuncOp outlineSampledGraph(ModuleOp module, Region &region, StringRef hostName,
                                   StringRef kernelPrefix, ArrayRef<Type> timeTypes,
                                   bool scaled, StringRef what, Location loc) {
    Block &body = region.front();
    OpBuilder b(module.getContext());
    Type x = batchedType(body.getArgument(0).getType()), f32 = b.getF32Type();
    Type result = batchedType(cast<fl::YieldOp>(body.getTerminator()).getValues()[0].getType());
    Type column = batchedType(f32);
    unsigned times = timeTypes.size();
    SmallVector<Type> args{x};
    llvm::append_range(args, timeTypes);
    args.push_back(b.getI64Type());
    // After the times: the label and the condition, then w when scaled.
    ArrayRef<BlockArgument> rest = body.getArguments().drop_front(1 + times);
    ArrayRef<BlockArgument> conditions = rest.drop_back(scaled ? 1 : 0);
    fl::Conditions given;
    for (BlockArgument a : conditions) {
      (isa<RankedTensorType>(a.getType()) ? given.cond : given.label) = true;
      args.push_back(batchedType(a.getType()));
    }
    func::FuncOp host = createHostFunction(module, hostName, args, result, loc);
    fl::markConditions(host, given);
    b.setInsertionPointToStart(&host.front());
    Value rows = host.getArgument(1 + times);
    IRMapping onHost;
    onHost.map(body.getArgument(0), host.getArgument(0));
    for (unsigned i = 0; i < times; ++i) {
      Value ti = host.getArgument(1 + i);
      if (ti.getType() != column)
        ti = fl::FillOp::create(b, loc, column, ti, rows);
      onHost.map(body.getArgument(1 + i), ti);
    }
    onHost.map(ValueRange(conditions), host.getArguments().drop_front(2 + times));
    if (scaled) {
      Value w = arith::ExtFOp::create(b, loc, b.getF64Type(),
                                      fl::GuidanceScaleOp::create(b, loc, f32).getResult());
      onHost.map(rest.back(), fl::FillOp::create(b, loc, column, w, rows));
    }
    // A step that draws (a map's categorical jumps) draws anew at each call.
    bool draws = body.walk([](Operation *op) {
                       return fl::isDraw(op) ? WalkResult::interrupt() : WalkResult::advance();
                     }).wasInterrupted();
    Value step = draws ? Value(fl::DrawCounterOp::create(b, loc, b.getI64Type()))
                       : Value(arith::ConstantOp::create(b, loc, b.getI64IntegerAttr(0)));
    FlowGraph graph(body);
    auto regions = outlineGraph(
        module, body, graph,
        [&](unsigned level) { return (kernelPrefix + Twine(level)).str(); }, b, loc, rows,
        step, onHost);
    if (failed(regions))
      return nullptr;
    auto yield = cast<fl::YieldOp>(body.getTerminator());
    Value v = onHost.lookupOrNull(yield.getValues()[0]);
    if (!v) {
      yield.emitError() << what << " is a constant; it must depend on x, t or a network";
      return nullptr;
    }
    func::ReturnOp::create(b, loc, v);
    region.getBlocks().clear();
    return host;
  }
};

} // namespace
