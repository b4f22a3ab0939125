//===- FlowContract.cpp - What the passes hand to codegen, verified -------===//
//
// MLIRGen and the flow passes record the kernels and host functions they
// create on the ops that use them (`flow.train`, `flow.sample`,
// `flow.launch`), and later stages read those references instead of
// guessing names. This file verifies that contract: every reference names a
// `func.func` of the right kind (`flow.kernel` or `flow.host`) and
// signature, and every `flow.launch` matches its kernel.
//
//===----------------------------------------------------------------------===//
#include "flowc/Dialect/Flow/FlowDialect.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"

using namespace mlir;
using namespace flowc::flow;

Type flowc::flow::batchedType(Type sampleType) {
  auto f32 = Float32Type::get(sampleType.getContext());
  if (auto t = dyn_cast<RankedTensorType>(sampleType))
    return RankedTensorType::get({ShapedType::kDynamic, t.getNumElements()}, f32);
  return RankedTensorType::get({ShapedType::kDynamic, 1}, f32);
}

Conditions flowc::flow::takenConditions(func::FuncOp fn) {
  Conditions c;
  for (unsigned i = 0; i < fn.getNumArguments(); ++i)
    if (auto role = fn.getArgAttrOfType<StringAttr>(i, kConditionAttr)) {
      c.label |= role.getValue() == "label";
      c.cond |= role.getValue() == "cond";
    }
  return c;
}

void flowc::flow::markConditions(func::FuncOp fn, Conditions c) {
  Builder b(fn.getContext());
  unsigned i = fn.getNumArguments() - c.size();
  if (c.label)
    fn.setArgAttr(i++, kConditionAttr, b.getStringAttr("label"));
  if (c.cond)
    fn.setArgAttr(i, kConditionAttr, b.getStringAttr("cond"));
}

int64_t flowc::flow::optimizerStateCount(FunctionType optimizerStep) {
  return int64_t(optimizerStep.getNumInputs()) - 5; // p, g, lr, step, rows
}

namespace {

/// A host batch: tensor<? x D x f32>.
bool isBatch(Type t) {
  auto tensor = dyn_cast<RankedTensorType>(t);
  return tensor && tensor.getRank() == 2 && tensor.isDynamicDim(0) &&
         !tensor.isDynamicDim(1) && tensor.getElementType().isF32();
}

/// Whether argument `i` of `kernel` is launch-uniform (flow.uniform_args).
bool isUniformArg(func::FuncOp kernel, unsigned i) {
  auto attr = kernel->getAttrOfType<DenseBoolArrayAttr>(kUniformArgsAttr);
  return attr && i < attr.size() && attr[i];
}

/// Resolves `ref`, the value of `op`'s attribute `attr`, to a func.func
/// marked `kind` (kKernelAttr or kHostAttr); reports and returns null if
/// it is not one.
func::FuncOp lookupFunction(Operation *op, SymbolTableCollection &symbols,
                            StringRef attr, FlatSymbolRefAttr ref, StringRef kind) {
  auto fn = symbols.lookupNearestSymbolFrom<func::FuncOp>(op, ref);
  if (!fn) {
    op->emitOpError("'") << attr << "' refers to " << ref << ", which is not a function";
    return nullptr;
  }
  if (!fn->hasAttr(kind)) {
    op->emitOpError("'") << attr << "' refers to " << ref << ", which is not marked "
                         << kind;
    return nullptr;
  }
  return fn;
}

/// Checks that `fn` (the target of `attr`) has type `expected`.
LogicalResult checkType(Operation *op, StringRef attr, func::FuncOp fn,
                        FunctionType expected) {
  if (fn.getFunctionType() == expected)
    return success();
  return op->emitOpError("'") << attr << "' refers to @" << fn.getSymName() << " of type "
                              << fn.getFunctionType() << ", expected " << expected;
}

/// A host function `attr` of type `expected`, when `ref` is set.
LogicalResult checkHost(Operation *op, SymbolTableCollection &symbols, StringRef attr,
                        FlatSymbolRefAttr ref, FunctionType expected) {
  if (!ref)
    return success();
  func::FuncOp fn = lookupFunction(op, symbols, attr, ref, kHostAttr);
  return fn ? checkType(op, attr, fn, expected) : failure();
}

/// `attr` names an op of type OpTy (a flow.flow, a flow.solver).
template <typename OpTy>
LogicalResult checkDeclaration(Operation *op, SymbolTableCollection &symbols,
                               StringRef attr, FlatSymbolRefAttr ref) {
  if (symbols.lookupNearestSymbolFrom<OpTy>(op, ref))
    return success();
  return op->emitOpError("'") << attr << "' refers to " << ref << ", which is not a "
                              << OpTy::getOperationName();
}

/// `entries` (solver_steps or adaptive_steps) maps exactly the solvers that
/// `wanted` selects (`kind`: "a", "an adaptive") to host functions of the
/// type `typeOf` gives.
LogicalResult checkSolverTable(SampleOp op, SymbolTableCollection &symbols, StringRef attr,
                               DictionaryAttr entries, StringRef kind,
                               llvm::function_ref<bool(SolverOp)> wanted,
                               llvm::function_ref<FunctionType(SolverOp)> typeOf) {
  if (!entries)
    return success();
  for (NamedAttribute entry : entries) {
    auto solver = symbols.lookupNearestSymbolFrom<SolverOp>(
        op, FlatSymbolRefAttr::get(entry.getName()));
    if (!solver || !wanted(solver))
      return op.emitOpError("'") << attr << "' has an entry for @" << entry.getName().getValue()
                                 << ", which is not " << kind << " flow.solver";
    auto ref = dyn_cast<FlatSymbolRefAttr>(entry.getValue());
    if (!ref)
      return op.emitOpError("'") << attr << "' entry '" << entry.getName().getValue()
                                 << "' is not a symbol reference";
    if (failed(checkHost(op, symbols, attr, ref, typeOf(solver))))
      return failure();
  }
  auto module = op->getParentOfType<ModuleOp>();
  for (auto solver : module.getOps<SolverOp>())
    if (wanted(solver) && !entries.get(solver.getSymName()))
      return op.emitOpError("'") << attr << "' has no entry for solver @"
                                 << solver.getSymName();
  return success();
}

/// The types of the condition arguments `fn` marks, which come last:
/// labels [?, 1], then conditions [?, C] (any batch; C is the data's).
SmallVector<Type> expectedConditionTypes(func::FuncOp fn) {
  Conditions given = takenConditions(fn);
  SmallVector<Type> types;
  if (given.label)
    types.push_back(batchedType(Float32Type::get(fn.getContext())));
  if (given.cond) {
    Type last = fn.getNumArguments() ? fn.getArgumentTypes().back() : Type();
    types.push_back(last && isBatch(last) ? last : Type());
  }
  return types;
}

/// `sample_source(rows[, labels][, conds]) -> x0`, a batch of type `x`
/// when known (a source written with the data's label or condition takes
/// them, marked kConditionAttr).
LogicalResult checkSource(Operation *op, SymbolTableCollection &symbols,
                          FlatSymbolRefAttr ref, Type x) {
  if (!ref)
    return success();
  func::FuncOp fn = lookupFunction(op, symbols, "sample_source", ref, kHostAttr);
  if (!fn)
    return failure();
  Builder b(op->getContext());
  FunctionType type = fn.getFunctionType();
  SmallVector<Type> args{b.getI64Type()};
  llvm::append_range(args, expectedConditionTypes(fn));
  if (x)
    return checkType(op, "sample_source", fn, b.getFunctionType(args, x));
  if (TypeRange(type.getInputs()) != TypeRange(args) || type.getNumResults() != 1 ||
      !isBatch(type.getResult(0)))
    return op->emitOpError("'sample_source' refers to ")
           << ref << " of type " << type
           << ", expected (i64[, labels][, conds]) -> tensor<?xDxf32>, its conditions marked "
           << kConditionAttr;
  return success();
}

/// `region` of `op`, when not empty, is one block with arguments of types
/// `args` ending in a flow.yield of types `results`; `form` says so in words.
LogicalResult checkRegion(Operation *op, StringRef name, Region &region, TypeRange args,
                          TypeRange results, StringRef form) {
  if (region.empty())
    return success();
  Block &block = region.front();
  auto yield = dyn_cast<YieldOp>(block.getTerminator());
  if (!region.hasOneBlock() || !yield || block.getArgumentTypes() != args ||
      TypeRange(yield.getValues()) != results)
    return op->emitOpError("region '") << name << "' must be " << form;
  return success();
}

} // namespace

LogicalResult TrainOp::verifyRegions() {
  Region &update = getUpdate();
  if (update.empty())
    return success();
  // (p, g, s..., lr, step) -> (p', s'...), all f32.
  Type f32 = Float32Type::get(getContext());
  unsigned args = std::max<unsigned>(update.getNumArguments(), 4);
  return checkRegion(*this, "update", update, SmallVector<Type>(args, f32),
                     SmallVector<Type>(args - 3, f32),
                     "(p, g, s..., lr, step) -> (p', s'...) on f32");
}

LogicalResult SampleOp::verifyRegions() {
  // Both are built on the per-sample type S of their first argument.
  auto sampleType = [](Region &r) {
    return r.empty() || r.getNumArguments() == 0 ? Type() : r.getArgument(0).getType();
  };
  Type f32 = Float32Type::get(getContext());
  Type s = sampleType(getModel()), v = sampleType(getCombine());
  // (x, f32 x times[, label: f32][, cond: tensor]): the label and the
  // condition when the region uses them.
  auto perSampleArgs = [&](Region &r, unsigned times) {
    SmallVector<Type> args{sampleType(r)};
    args.append(times, f32);
    if (!r.empty() && r.getNumArguments() > 1 + times) {
      ArrayRef<BlockArgument> given = r.getArguments().drop_front(1 + times);
      if (given.front().getType() == f32)
        args.push_back(f32);
      if (isa<RankedTensorType>(given.back().getType()))
        args.push_back(given.back().getType());
    }
    return args;
  };
  // The field: a closed-form model's, or `velocity:`.
  if (failed(checkRegion(*this, "model", getModel(), perSampleArgs(getModel(), 1), {s},
                         "(x, t: f32[, label: f32][, cond: tensor]) -> x")))
    return failure();
  // The time grid: u -> t, both f32.
  if (failed(checkRegion(*this, "times", getTimes(), {f32}, {f32}, "(u: f32) -> f32")))
    return failure();
  // A map sampler's step, which takes the place of the field and a solver.
  Region &map = getMap();
  if (failed(checkRegion(*this, "map", map, perSampleArgs(map, 2), {sampleType(map)},
                         "(x, t: f32, dt: f32[, label: f32][, cond: tensor]) -> x")))
    return failure();
  if (!map.empty() && (!getModel().empty() || getSolver()))
    return emitOpError("a map sampler has no 'model' region and no solver");
  return checkRegion(*this, "combine", getCombine(), {v, v, v, f32, f32}, {v},
                     "(v_c, v_u, x, t: f32, w: f32) -> v_c's type");
}

LogicalResult TokenizerOp::verifyRegions() {
  // (x: tensor) -> tensor and back: decode gives encode's argument type.
  Region &encode = getEncode(), &decode = getDecode();
  if (getDecoder() && !decode.empty())
    return emitOpError("a flow decoder ('decoder') has no 'decode' region");
  if (!getDecoder() && encode.empty() != decode.empty())
    return emitOpError("has both regions 'encode' and 'decode' or neither");
  if (encode.empty())
    return success();
  auto oneTensor = [](Region &r) {
    return r.getNumArguments() == 1 && isa<RankedTensorType>(r.getArgument(0).getType()) &&
           isa<YieldOp>(r.front().getTerminator()) &&
           r.front().getTerminator()->getNumOperands() == 1;
  };
  if (!oneTensor(encode) || (!decode.empty() && !oneTensor(decode)))
    return emitOpError("regions 'encode' and 'decode' must each be (tensor) -> tensor");
  Type x = encode.getArgument(0).getType();
  auto z = cast<RankedTensorType>(encode.front().getTerminator()->getOperand(0).getType());
  if (z.getShape() != getTokenShape())
    return emitOpError("'token_shape' differs from the tokens' type ") << z;
  if (failed(checkRegion(*this, "encode", encode, {x}, {z}, "(x) -> z, z the tokens")))
    return failure();
  if (!decode.empty() &&
      failed(checkRegion(*this, "decode", decode, {z}, {x}, "(z) -> x, x encode's argument")))
    return failure();
  return success();
}

LogicalResult TokenizerOp::verifySymbolUses(SymbolTableCollection &symbols) {
  Operation *op = *this;
  if (failed(checkDeclaration<DataOp>(op, symbols, "data", getDataAttr())))
    return failure();
  if (getDecoder() && failed(checkDeclaration<FlowOp>(op, symbols, "decoder", getDecoderAttr())))
    return failure();
  // Each names a network of its own kind.
  for (auto [kind, ref] : {std::pair<StringRef, FlatSymbolRefAttr>{"standardize",
                                                                   getStandardizeAttr()},
                           {"unstandardize", getUnstandardizeAttr()}}) {
    if (!ref)
      continue;
    if (failed(checkDeclaration<NetworkOp>(op, symbols, kind, ref)))
      return failure();
    if (symbols.lookupNearestSymbolFrom<NetworkOp>(op, ref).getKind() != kind)
      return emitOpError("'") << kind << "' refers to " << ref << ", which is not a '" << kind
                              << "' network";
  }
  // (batch, rows) -> batch, for each direction that was outlined.
  for (auto [name, ref] : {std::pair<StringRef, FlatSymbolRefAttr>{"encode_fn", getEncodeFnAttr()},
                           {"decode_fn", getDecodeFnAttr()}}) {
    if (!ref)
      continue;
    func::FuncOp fn = lookupFunction(op, symbols, name, ref, kHostAttr);
    if (!fn)
      return failure();
    FunctionType type = fn.getFunctionType();
    if (type.getNumInputs() != 2 || !isBatch(type.getInput(0)) ||
        !type.getInput(1).isInteger(64) || type.getNumResults() != 1 ||
        !isBatch(type.getResult(0)))
      return emitOpError("'") << name << "' refers to " << ref << " of type " << type
                              << ", expected (tensor<?xDxf32>, i64) -> tensor<?xD'xf32>";
  }
  return success();
}

LogicalResult TrainOp::verifySymbolUses(SymbolTableCollection &symbols) {
  Operation *op = *this;
  if (failed(checkDeclaration<FlowOp>(op, symbols, "flow", getFlowAttr())))
    return failure();
  Builder b(getContext());
  Type i64 = b.getI64Type(), f32 = b.getF32Type();
  Type rows = batchedType(f32); // [rows, 1] parameter buffers
  if (failed(checkHost(op, symbols, "train_loss", getTrainLossAttr(),
                       b.getFunctionType({i64, i64}, RankedTensorType::get({}, f32)))) ||
      failed(checkHost(op, symbols, "ema_step", getEmaStepAttr(),
                       b.getFunctionType({rows, rows, f32, i64}, {}))))
    return failure();
  if (auto ref = getOptimizerStepAttr()) {
    func::FuncOp fn = lookupFunction(op, symbols, "optimizer_step", ref, kHostAttr);
    if (!fn)
      return failure();
    // (p, g, state..., lr, step, rows): as many state buffers as it has.
    int64_t state = std::max<int64_t>(optimizerStateCount(fn.getFunctionType()), 0);
    SmallVector<Type> args(2 + state, rows);
    args.append({f32, f32, i64});
    if (failed(checkType(op, "optimizer_step", fn, b.getFunctionType(args, {}))))
      return failure();
  }
  return checkSource(op, symbols, getSampleSourceAttr(), Type());
}

/// The kernels flow-outline-run-kernels records, on per-sample values S (a tensor or f32):
/// `velocity(x: S, t: f32) -> S`, `velocity_jvp(x: S, t: f32, e: S, s: f32)
/// -> S` (only with `velocity`) and `guidance(v_c: V, v_u: V, x: V, t: f32,
/// w: f32) -> V`.
LogicalResult SampleOp::verifyModelKernels(SymbolTableCollection &symbols) {
  Operation *op = *this;
  Builder b(getContext());
  Type f32 = b.getF32Type();
  // The one result of `fn`, the per-sample type its signature is built on.
  auto resultOf = [&](StringRef attr, func::FuncOp fn) -> Type {
    FunctionType type = fn.getFunctionType();
    if (type.getNumResults() == 1)
      return type.getResult(0);
    op->emitOpError("'") << attr << "' refers to @" << fn.getSymName() << " of type " << type
                         << ", expected one result";
    return Type();
  };
  if (getVelocityJvpAttr() && !getVelocityAttr())
    return emitOpError("'velocity_jvp' needs 'velocity'");
  if (auto ref = getVelocityAttr()) {
    func::FuncOp fn = lookupFunction(op, symbols, "velocity", ref, kKernelAttr);
    Type s = fn ? resultOf("velocity", fn) : Type();
    if (!s || failed(checkType(op, "velocity", fn, b.getFunctionType({s, f32}, s))))
      return failure();
    if (auto jvpRef = getVelocityJvpAttr()) {
      func::FuncOp jvp = lookupFunction(op, symbols, "velocity_jvp", jvpRef, kKernelAttr);
      if (!jvp ||
          failed(checkType(op, "velocity_jvp", jvp, b.getFunctionType({s, f32, s, f32}, s))))
        return failure();
    }
  }
  if (auto ref = getVelocityGraphAttr()) {
    func::FuncOp fn = lookupFunction(op, symbols, "velocity_graph", ref, kHostAttr);
    Type x = fn ? resultOf("velocity_graph", fn) : Type();
    if (!x)
      return failure();
    SmallVector<Type> args{x, batchedType(f32), b.getI64Type()};
    llvm::append_range(args, expectedConditionTypes(fn));
    if (failed(checkType(op, "velocity_graph", fn, b.getFunctionType(args, x))))
      return failure();
  }
  if (auto ref = getGuidanceAttr()) {
    func::FuncOp fn = lookupFunction(op, symbols, "guidance", ref, kKernelAttr);
    Type v = fn ? resultOf("guidance", fn) : Type();
    if (!v || failed(checkType(op, "guidance", fn, b.getFunctionType({v, v, v, f32, f32}, v))))
      return failure();
  }
  return success();
}

LogicalResult InvertOp::verifySymbolUses(SymbolTableCollection &symbols) {
  Operation *op = *this;
  if (failed(checkDeclaration<FlowOp>(op, symbols, "flow", getFlowAttr())) ||
      failed(checkDeclaration<NetworkOp>(op, symbols, "network", getNetworkAttr())))
    return failure();
  auto net = symbols.lookupNearestSymbolFrom<NetworkOp>(op, getNetworkAttr());
  if (net.getKind() != "tarflow")
    return emitOpError("inverts a normalizing flow, but '")
           << net.getSymName() << "' is of kind '" << net.getKind() << "'";
  return success();
}

LogicalResult SampleOp::verifySymbolUses(SymbolTableCollection &symbols) {
  Operation *op = *this;
  if (failed(checkDeclaration<FlowOp>(op, symbols, "flow", getFlowAttr())) ||
      (getSolverAttr() &&
       failed(checkDeclaration<SolverOp>(op, symbols, "solver", getSolverAttr()))))
    return failure();
  if (!getSolverAttr() && getMap().empty() && !getMapStepAttr())
    return emitOpError("needs a solver, or a map (the 'map' region or 'map_step')");
  if (failed(verifyModelKernels(symbols)))
    return failure();
  {
    Builder b(getContext());
    Type column = batchedType(b.getF32Type());
    if (failed(checkHost(op, symbols, "time_grid", getTimeGridAttr(),
                         b.getFunctionType({column, b.getI64Type()}, {column}))))
      return failure();
  }

  // The batch type X of the sampled state, from the field's signature:
  // (X, t, rows[, labels][, conds]) -> X.
  Builder b(getContext());
  Type f32 = b.getF32Type(), f64 = b.getF64Type(), i64 = b.getI64Type();
  Type column = batchedType(f32); // labels, per-sample times and steps
  auto withConditions = [&](SmallVector<Type> args) {
    if (getLabelled())
      args.push_back(column);
    if (getCondDim() > 0)
      args.push_back(RankedTensorType::get({ShapedType::kDynamic, getCondDim()}, f32));
    return args;
  };
  Type x;
  if (auto ref = getFieldAttr()) {
    func::FuncOp fn = lookupFunction(op, symbols, "field", ref, kHostAttr);
    if (!fn)
      return failure();
    FunctionType type = fn.getFunctionType();
    x = type.getNumResults() == 1 ? type.getResult(0) : Type();
    if (!x || !isBatch(x))
      return emitOpError("'field' refers to ")
             << ref << " of type " << type
             << ", expected (x, f64, i64[, labels][, conds]) -> x with x a tensor<?xDxf32>";
    if (failed(checkType(op, "field", fn, b.getFunctionType(withConditions({x, f64, i64}), x))))
      return failure();
  } else if (auto ref = getMapStepAttr()) {
    // A map sampler: its step gives the state's type.
    func::FuncOp fn = lookupFunction(op, symbols, "map_step", ref, kHostAttr);
    if (!fn)
      return failure();
    FunctionType type = fn.getFunctionType();
    x = type.getNumResults() == 1 && isBatch(type.getResult(0)) ? type.getResult(0) : Type();
    if (!x || failed(checkType(op, "map_step", fn,
                               b.getFunctionType(withConditions({x, f64, f64, i64}), x))))
      return x ? failure()
               : emitOpError("'map_step' refers to ")
                     << ref << " of type " << type
                     << ", expected (x, f64, f64, i64[, labels][, conds]) -> x";
  } else if (getFieldJvpAttr() || getSolverStepsAttr() || getAdaptiveStepsAttr() ||
             getSolveAttr()) {
    return emitOpError("host steps need 'field', which gives the state's type");
  }
  // Editing's path: data points of the state's type to time t (checked
  // once flow-expand-solver has recorded the field, which gives that type).
  if (auto ref = getNoisedAttr(); ref && x &&
      failed(checkHost(op, symbols, "noised", ref, b.getFunctionType({x, f64, i64}, x))))
    return failure();
  if (getMapStepAttr() && (getFieldAttr() || getSolverStepsAttr() || getSolveAttr()))
    return emitOpError("a map sampler ('map_step') has no field and no solver steps");
  if (failed(checkSource(op, symbols, getSampleSourceAttr(), x)) ||
      failed(checkHost(op, symbols, "field_jvp", getFieldJvpAttr(),
                       b.getFunctionType({x, f64, x, i64}, x))))
    return failure();

  auto fixedStep = [&](SolverOp solver) {
    SmallVector<Type> results(solver.getBErr() ? 2 : 1, x);
    return b.getFunctionType(withConditions({x, f64, f64, i64}), results);
  };
  auto controlledStep = [&](SolverOp) {
    return b.getFunctionType(withConditions({x, column, column, i64}), {x, column, column});
  };
  if (failed(checkSolverTable(*this, symbols, "solver_steps", getSolverStepsAttr(), "a",
                              [](SolverOp) { return true; }, fixedStep)) ||
      failed(checkSolverTable(*this, symbols, "adaptive_steps", getAdaptiveStepsAttr(),
                              "an adaptive",
                              [](SolverOp s) { return s.getBErr().has_value(); },
                              controlledStep)))
    return failure();

  if (bool(getTrajectoryAttr()) != bool(getSolveAttr()))
    return emitOpError("'trajectory' and 'solve' go together");
  if (auto ref = getTrajectoryAttr()) {
    func::FuncOp kernel = lookupFunction(op, symbols, "trajectory", ref, kKernelAttr);
    if (!kernel)
      return failure();
    if (kernel.getBody().empty() || !isa<IntegrateOp>(kernel.front().front()))
      return emitOpError("'trajectory' refers to ")
             << ref << ", whose body is not one flow.integrate";
    auto flat = RankedTensorType::get({ShapedType::kDynamic}, f32);
    if (failed(checkHost(op, symbols, "solve", getSolveAttr(),
                         b.getFunctionType(withConditions({x, flat, f64, f64, i64, i64}), x))))
      return failure();
  }
  return success();
}

LogicalResult LaunchOp::verifySymbolUses(SymbolTableCollection &symbols) {
  func::FuncOp kernel = lookupFunction(*this, symbols, "kernel", getKernelAttr(), kKernelAttr);
  if (!kernel)
    return failure();
  FunctionType type = kernel.getFunctionType();
  if (type.getNumInputs() != getArgs().size())
    return emitOpError("has ") << getArgs().size() << " operands, but kernel "
                               << getKernelAttr() << " takes " << type.getNumInputs();
  if (type.getNumResults() != getNumResults())
    return emitOpError("has ") << getNumResults() << " results, but kernel "
                               << getKernelAttr() << " returns " << type.getNumResults();
  // Per-sample values travel as batches; uniform ones as they are.
  for (auto [i, operand] : llvm::enumerate(getArgs())) {
    Type want = isUniformArg(kernel, i) ? type.getInput(i) : batchedType(type.getInput(i));
    if (operand.getType() != want)
      return emitOpError("operand ") << i << " has type " << operand.getType() << ", but "
                                     << getKernelAttr() << " needs " << want;
  }
  for (auto [i, result] : llvm::enumerate(getResults())) {
    Type want = batchedType(type.getResult(i));
    if (result.getType() != want)
      return emitOpError("result ") << i << " has type " << result.getType() << ", but "
                                    << getKernelAttr() << " returns " << want;
  }
  if (auto inPlace = (*this)->getAttrOfType<DenseI64ArrayAttr>(kInPlaceAttr)) {
    if (inPlace.size() != getNumResults())
      return emitOpError("needs one ") << kInPlaceAttr << " operand per result";
    for (auto [i, j] : llvm::enumerate(inPlace.asArrayRef()))
      if (j < 0 || j >= int64_t(getArgs().size()) ||
          getArgs()[j].getType() != getResult(i).getType())
        return emitOpError("result ") << i << " cannot overwrite operand " << j;
  }
  return verifyVjp(kernel, symbols);
}

/// vjp(args..., one adjoint per result) -> (adjoints of the arguments that
/// `flow.grad_args` marks), in the kernel's per-sample types.
LogicalResult LaunchOp::verifyVjp(func::FuncOp kernel, SymbolTableCollection &symbols) {
  auto ref = getVjpAttr();
  if (!ref)
    return success();
  auto grad = kernel->getAttrOfType<DenseBoolArrayAttr>(kGradArgsAttr);
  FunctionType type = kernel.getFunctionType();
  if (!grad || grad.size() != type.getNumInputs())
    return emitOpError("has a 'vjp', but kernel ")
           << getKernelAttr() << " has no " << kGradArgsAttr << " with one entry per argument";
  func::FuncOp vjp = lookupFunction(*this, symbols, "vjp", ref, kKernelAttr);
  if (!vjp)
    return failure();
  SmallVector<Type> args(type.getInputs()), adjoints;
  args.append(type.getResults().begin(), type.getResults().end());
  for (auto [i, t] : llvm::enumerate(type.getInputs()))
    if (grad[i])
      adjoints.push_back(t);
  return checkType(*this, "vjp", vjp, FunctionType::get(getContext(), args, adjoints));
}
