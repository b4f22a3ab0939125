//===- FlowOps.td - Operations of the flow dialect ---------*- tablegen -*-===//
#ifndef FLOW_OPS_TD
#define FLOW_OPS_TD

include "flowc/Dialect/Flow/FlowDialect.td"
include "mlir/IR/SymbolInterfaces.td"
include "mlir/IR/RegionKindInterface.td"
include "mlir/Interfaces/SideEffectInterfaces.td"
include "mlir/Interfaces/InferTypeOpInterface.td"
include "mlir/IR/OpBase.td"
include "mlir/IR/BuiltinAttributes.td"

// Per-sample values: a scalar or a tensor of features (a vector, or of
// higher rank, stored row-major as one flat row per sample).
def Flow_SampleType : AnyTypeOf<[F32, RankedTensorOf<[F32]>]>;
// Batched host values: [batch, features].
def Flow_BatchType : RankedTensorOf<[F32]>;

//===----------------------------------------------------------------------===//
// Module-level declarations
//===----------------------------------------------------------------------===//

def Flow_DataOp : Flow_Op<"data", [Symbol]> {
  let summary = "A data set: a built-in generator and its parameters";
  let description = [{
    `classes` is the number of classes of the labels drawn with each point.
    `shape`, for samples of rank > 1 (images: [C, H, W]), is their shape;
    `dim` is always the number of features of the flat row. The generator
    "file" reads the samples from `path` (.npy, .csv or IDX) and their labels
    from `labels_path`, and with `cond_shape` each sample's condition, a
    tensor of that shape, from `cond_path`. With a `tokenizer` ("patchify"
    of `patch` pixels, or "onehot" of `vocab` token ids) the flow draws
    tokens: `shape` and `dim` stay the data's and the draws are typed by
    the tokens' shape. `vocab` > 0 says the data's values are token ids 0
    .. vocab - 1 (token data, or onehot's vocabulary); `alphabet` is each
    id's character when samples are written as text.
  }];
  let arguments = (ins SymbolNameAttr:$sym_name, StrAttr:$generator,
                       I64Attr:$dim, DictionaryAttr:$params,
                       DefaultValuedAttr<I64Attr, "0">:$classes,
                       OptionalAttr<DenseI64ArrayAttr>:$shape,
                       OptionalAttr<StrAttr>:$path,
                       OptionalAttr<StrAttr>:$labels_path,
                       OptionalAttr<StrAttr>:$tokenizer,
                       DefaultValuedAttr<I64Attr, "0">:$patch,
                       OptionalAttr<StrAttr>:$cond_path,
                       OptionalAttr<DenseI64ArrayAttr>:$cond_shape,
                       DefaultValuedAttr<I64Attr, "0">:$vocab,
                       OptionalAttr<StrAttr>:$alphabet);
  let assemblyFormat = "$sym_name $generator `dim` $dim $params attr-dict";
}

def Flow_NetworkOp : Flow_Op<"network", [Symbol]> {
  let summary = "A network run by the runtime (LibTorch), with its signature";
  let description = [{
    The network's arguments, in order: `inputs` names each one's role
    ("tensor": flattened into the first layer; "time": a scalar the network
    embeds, `time_features` Fourier features or as is; "label": a class
    label 0..classes-1 or -1, the null class, embedded with a learned
    table) and `input_dims` its elements (1 for a time or a label). The
    output has `out_dim` elements; `in_dim` is the tensors' elements
    together. A velocity network is v(x, t[, label]) with out_dim = in_dim.
    Kind "torchscript" is a module a user saved from PyTorch, loaded from
    `path`. Kind "checkpoint" is another run's network, frozen: the runtime
    rebuilds it from the checkpoint `path` (its network `checkpoint_model`,
    or its only one; EMA weights unless `raw_weights`); no gradient reaches
    its parameters. `frozen` marks a TorchScript module that is not trained
    either (a user's VAE as a tokenizer). Kind "conv" maps an image
    `in_shape` [C, H, W] to an image `out_shape` [C', H', W'], H and H' a
    power of two apart (strided convolutions down, transposed ones up).
    Kind "standardize" shifts and scales x to mean 0 and deviation 1 with
    statistics per index of `in_shape`'s first axis (the runtime takes them
    from the data and keeps them as the network's buffers, no parameters);
    kind "unstandardize" is its inverse with the same statistics. Kind
    "tarflow" is a normalizing flow (TARFlow) of images `in_shape` [C, H, W]:
    `blocks` affine autoregressive steps of `depth` causal transformer layers
    of `width` features and `heads` heads over patches of `patch` pixels (the
    block nearest the noise, the last applied to x, has `deep` layers when
    that is not 0: STARFlow's deep-shallow design); its value (`out_dim` 1)
    is log p(x[ | label]) in nats.
  }];
  let arguments = (ins SymbolNameAttr:$sym_name, StrAttr:$kind,
                       I64Attr:$in_dim, I64Attr:$width, I64Attr:$depth,
                       StrAttr:$activation, I64Attr:$time_features,
                       StrArrayAttr:$inputs, DenseI64ArrayAttr:$input_dims,
                       I64Attr:$out_dim,
                       DefaultValuedAttr<I64Attr, "0">:$classes,
                       DefaultValuedAttr<I64Attr, "0">:$heads,
                       DefaultValuedAttr<I64Attr, "0">:$patch,
                       OptionalAttr<StrAttr>:$path,
                       OptionalAttr<StrAttr>:$checkpoint_model,
                       UnitAttr:$raw_weights, UnitAttr:$frozen,
                       OptionalAttr<DenseI64ArrayAttr>:$in_shape,
                       OptionalAttr<DenseI64ArrayAttr>:$out_shape,
                       DefaultValuedAttr<I64Attr, "0">:$blocks,
                       DefaultValuedAttr<I64Attr, "0">:$deep);
  let assemblyFormat = "$sym_name $kind attr-dict";
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    /// v(x, t) or v(x, t, label) with an output of x's size: the field a
    /// solver integrates, and the one layout whole-trajectory kernels read.
    bool isVelocity();
    /// Whether argument `i` is a tensor (else a time or a label).
    bool isTensorInput(unsigned i);
    /// Not trained: another run's network (kind "checkpoint"), or a
    /// TorchScript module marked `frozen`.
    bool isFrozen() { return getKind() == "checkpoint" || getFrozen(); }
  }];
}

def Flow_SolverOp : Flow_Op<"solver", [Symbol]> {
  let summary = "An explicit Runge-Kutta method as its Butcher tableau";
  let description = [{
    Stage i evaluates k_i = v(x + h * sum_j a[i][j] k_j, t + c[i] h); the step
    is x + h * sum_i b[i] k_i. `a` holds one row per stage (row 0 is empty).
    Adaptive methods add `b_err`, the embedded weights of the error estimate
    h * sum_i (b[i] - b_err[i]) k_i, and the `order` of their solution.
  }];
  let arguments = (ins SymbolNameAttr:$sym_name, DenseF64ArrayAttr:$c,
                       ArrayAttr:$a, DenseF64ArrayAttr:$b,
                       OptionalAttr<DenseF64ArrayAttr>:$b_err,
                       OptionalAttr<I64Attr>:$order);
  let assemblyFormat = "$sym_name `c` `=` $c `a` `=` $a `b` `=` $b attr-dict";
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    unsigned getNumStages() { return getC().size(); }
    double getA(unsigned i, unsigned j);
  }];
}

def Flow_FlowOp : Flow_Op<"flow", [Symbol, SingleBlock, NoTerminator,
                                   IsolatedFromAbove]> {
  let summary = "A flow: what one training sample draws and computes";
  let description = [{
    The body is written for one sample. It draws data, source and time,
    builds the path, applies networks and marks the time (`flow.time`), the
    source (`flow.source`) and the loss (`flow.loss`). With `reverse_time`
    the body's time runs from data (0) to source (1), as diffusers' sigma.
    A flow that draws from an encoder tokenizer names it (`tokenizer`): its
    body computes the encoding itself after drawing the tokenizer's data,
    and its samples decode with the tokenizer's `decode`.
  }];
  let arguments = (ins SymbolNameAttr:$sym_name, UnitAttr:$reverse_time,
                       OptionalAttr<FlatSymbolRefAttr>:$tokenizer);
  let regions = (region SizedRegion<1>:$body);
  let assemblyFormat = "$sym_name attr-dict-with-keyword $body";
}

def Flow_TokenizerOp : Flow_Op<"tokenizer",
    [Symbol, IsolatedFromAbove, DeclareOpInterfaceMethods<SymbolUserOpInterface>]> {
  let summary = "An encoder tokenizer: how its data is encoded and decoded";
  let description = [{
    `tokenizer NAME = encoder(DATA, encode: EXPR of x, decode: EXPR of z)`.
    Two per-sample regions, each ending in `flow.yield`: `encode`, (x: X)
    -> Z from one of `data`'s samples to its tokens (`token_shape`: [K] or
    [K, D], K tokens), and `decode`, (z: Z)
    -> X back; both may apply networks. flow-outline-run-kernels outlines
    them as the host functions `encode_fn(x, rows) -> z` and `decode_fn(z,
    rows) -> x` (X, Z batched), recorded here, which the program runs to
    encode data (`encode`, `reconstruct`) and decode samples. A flow that
    draws from the tokenizer computes the encoding in its own body (MLIRGen
    writes it there), where it is trained through like any other part.
    With `decoder` (a flow decoder, `decode: FLOW`) there is no `decode`
    region: tokens decode by sampling that flow, given them as its
    condition. With `standardize` (`standardize: channels | all`) the
    encoding ends in that network, a `standardize` network whose statistics
    the runtime takes from the data, and `decode` starts with its inverse,
    the `unstandardize` network.
  }];
  let arguments = (ins SymbolNameAttr:$sym_name, FlatSymbolRefAttr:$data,
                       DenseI64ArrayAttr:$token_shape,
                       OptionalAttr<FlatSymbolRefAttr>:$encode_fn,
                       OptionalAttr<FlatSymbolRefAttr>:$decode_fn,
                       OptionalAttr<FlatSymbolRefAttr>:$decoder,
                       OptionalAttr<FlatSymbolRefAttr>:$standardize,
                       OptionalAttr<FlatSymbolRefAttr>:$unstandardize);
  let regions = (region AnyRegion:$encode, AnyRegion:$decode);
  let assemblyFormat = [{
    $sym_name `of` $data attr-dict (`encode` $encode^)? (`decode` $decode^)?
  }];
  let hasRegionVerifier = 1;
}

def Flow_TrainOp : Flow_Op<"train",
    [DeclareOpInterfaceMethods<SymbolUserOpInterface>, IsolatedFromAbove]> {
  let summary = "Training settings of a flow";
  let description = [{
    `network_lr` maps a network's name to its own learning rate (the
    train block's `lr_NAME`); the others take `lr`.

    MLIRGen writes the train block's optimizer as the region `update`, the
    update of one parameter: block arguments (p, g, s..., lr, step), all
    f32, one `s` per optimizer state variable, yielding (p', s'...), every
    new value computed from the values before the step.

    The flow passes record here the host functions the generated program
    calls, so that later stages find them by reference, never by name: from
    flow-outline-run-kernels `optimizer_step(p, g, s..., lr, step, rows)`
    (the `update` region, outlined) and `ema_step(e, p, decay, rows)`, which
    run the optimizer and the EMA in place over [rows, 1] buffers; from
    flow-outline-kernels `train_loss(step, rows) -> loss` and
    `sample_source(rows) -> x0`, and `loss_names`, the names of the flow's
    losses in the order `flow.total_loss` takes them. The verifier checks that each names a
    `flow.host` function of that signature.
  }];
  let arguments = (ins FlatSymbolRefAttr:$flow, I64Attr:$steps, I64Attr:$batch,
                       StrAttr:$optimizer, F64Attr:$lr, F64Attr:$ema,
                       I64Attr:$seed,
                       OptionalAttr<FlatSymbolRefAttr>:$train_loss,
                       OptionalAttr<FlatSymbolRefAttr>:$optimizer_step,
                       OptionalAttr<FlatSymbolRefAttr>:$ema_step,
                       OptionalAttr<FlatSymbolRefAttr>:$sample_source,
                       OptionalAttr<StrArrayAttr>:$loss_names,
                       OptionalAttr<DictionaryAttr>:$network_lr);
  let regions = (region AnyRegion:$update);
  let assemblyFormat = "$flow attr-dict (`update` $update^)?";
  let hasRegionVerifier = 1;
  // The settings alone, as MLIRGen creates the op: the passes add the rest.
  let builders = [
    OpBuilder<(ins "llvm::StringRef":$flow, "int64_t":$steps, "int64_t":$batch,
                   "llvm::StringRef":$optimizer, "llvm::APFloat":$lr,
                   "llvm::APFloat":$ema, "int64_t":$seed), [{
      build($_builder, $_state, flow, steps, batch, optimizer, lr, ema, seed,
            nullptr, nullptr, nullptr, nullptr, nullptr, nullptr);
    }]>
  ];
}

def Flow_InvertOp : Flow_Op<"invert", [DeclareOpInterfaceMethods<SymbolUserOpInterface>]> {
  let summary = "Sampling settings of a normalizing flow";
  let description = [{
    The sample block of a flow that trains a normalizing flow (`network`,
    of kind "tarflow"): sampling draws z ~ N(0, I) and inverts it, with no
    solver and no field. `n` samples from `seed`; `label` every sample's
    class (-2: balanced); `guidance` the weight w on each block's (mu,
    alpha), a + w (a - a_null); `jacobi` > 0 inverts by Jacobi iteration to
    that tolerance (0: token by token), over groups of `jacobi_block`
    tokens in turn (0: all at once); `denoise` > 0 takes Tweedie's step for
    training noise of that deviation. The runtime runs it all.
  }];
  let arguments = (ins FlatSymbolRefAttr:$flow, FlatSymbolRefAttr:$network,
                       I64Attr:$n, I64Attr:$seed,
                       DefaultValuedAttr<I64Attr, "-2">:$label,
                       DefaultValuedAttr<F64Attr, "0.0">:$guidance,
                       DefaultValuedAttr<F64Attr, "0.0">:$jacobi,
                       DefaultValuedAttr<I64Attr, "0">:$jacobi_block,
                       DefaultValuedAttr<F64Attr, "0.0">:$denoise);
  let assemblyFormat = "$flow `inverting` $network attr-dict";
}

def Flow_SampleOp : Flow_Op<"sample",
    [DeclareOpInterfaceMethods<SymbolUserOpInterface>, IsolatedFromAbove]> {
  let summary = "Sampling settings of a flow";
  let description = [{
    MLIRGen writes two per-sample functions as regions, each ending in
    `flow.yield`: `model`, the field the sampler integrates instead of the
    flow's network, (x: S, t: f32[, label: f32][, cond: C]) -> S (a closed-form
    model's, or the block's `velocity:` expression, which may apply
    networks), and `combine`, the guidance fn (v_c: S, v_u: S, x: S, t:
    f32, w: f32) -> S that combines the conditional and unconditional
    velocities. flow-outline-run-kernels outlines them and records
    `velocity` (a field without networks or label: its kernel),
    `velocity_jvp` (that kernel's Jacobian-vector product `(x, t, e, s) ->
    J e`, s uniform, passed as 0), `velocity_graph` (any other field: a host
    function `(x: X, t: T, rows[, labels][, conds]) -> X` of region
    kernels and network calls, T = tensor<? x 1 x f32>) and `guidance`.
    For a network applied to labels, `label` is every sample's class (-2:
    balanced, sample i gets i mod classes); `guidance_fn` is the spec's fn
    and `guidance_scale` the default of w.
    `fixed_steps`: the block gave `steps`, so adaptive tableaux run at fixed
    steps too; `rtol`/`atol`: the tolerances of step-size control.
    `source_kind` ("normal" or "uniform") and `source_params` (mean and std,
    or low and high) describe a source with a closed-form density, for
    likelihoods. `adaptive_guidance` (a cosine threshold) and
    `guidance_momentum` are the runtime's guidance state across solver
    steps (0: off).

    A map sampler (`sample F { map: EXPR }`) has no solver and no field:
    its `map` region is one step of a two-time flow map, (x: S, t: f32,
    dt: f32[, label: f32][, cond: C]) -> S, the state at t + dt, and
    `steps` equal steps run from 0 to 1. With guidance, flow-outline-run-
    kernels guides each application of the flow's conditional network to
    the label in it (the network at the label and at the null class,
    combined by `combine`), then outlines the region as the host function
    `map_step(x, t, h, rows[, C]) -> x` (t, h f64), which the program runs
    as its one "solver", named "map".

    `network` names the network the sampler integrates when the flow
    applies others too (a tokenizer's encoder). `from_t` and `to_t` are the
    time range sampling integrates (the block's `from:` and `to:`; to_t <
    from_t runs backwards, data to noise). The `times` region (u: f32) ->
    f32 is the block's time grid, rising from 0 to 1 over u in [0, 1]:
    fixed step k of N runs from times(k / N) to times((k + 1) / N) (scaled
    into the range); flow-outline-run-kernels outlines it as `time_grid`,
    the host function `(u, rows) -> t` on [rows, 1] columns. `noised` is
    the flow's path from the data, `(x1, t: f64, rows) -> x_t` (the source
    drawn afresh), for editing from data noised to t.

    The flow passes record the host functions the generated program calls,
    on batches x of type X = tensor<? x D x f32>, t and h f64, and with the
    field's conditions C last: with `labelled` the batch's labels
    tensor<? x 1 x f32>, then with `cond_dim` > 0 its conditions
    tensor<? x cond_dim x f32> (each such argument marked `flow.condition`):
    `sample_source(rows[, C']) -> x0` (flow-outline-kernels; C' the
    source's own conditions, marked); from flow-expand-solver `field(x, t,
    rows[, C]) -> v`, the field alone; `field_jvp(x, t, e, rows) -> J e`
    for a closed-form field; `solver_steps`, one fixed step `(x, t, h,
    rows[, C]) -> x'` (adaptive tableaux: `-> (x', error)`) per
    `flow.solver` of the module, keyed by its name; `adaptive_steps`, for
    each tableau with `b_err`, a controlled step `(x, t, h, rows[, C]) ->
    (x, t, h)` on per-sample [rows, 1] times and steps; and, for a small
    enough MLP, `trajectory` (the kernel whose body is one
    `flow.integrate`) with `solve(x, tableau, t0, h, steps, rows[, C]) ->
    x`, which launches it. The verifier checks every reference: its kind
    (`flow.kernel` or `flow.host`) and signature.
  }];
  let arguments = (ins FlatSymbolRefAttr:$flow, OptionalAttr<FlatSymbolRefAttr>:$solver,
                       I64Attr:$steps, I64Attr:$n, I64Attr:$seed,
                       OptionalAttr<FlatSymbolRefAttr>:$velocity,
                       OptionalAttr<FlatSymbolRefAttr>:$velocity_jvp,
                       OptionalAttr<FlatSymbolRefAttr>:$velocity_graph,
                       DefaultValuedAttr<I64Attr, "-2">:$label,
                       OptionalAttr<FlatSymbolRefAttr>:$guidance,
                       OptionalAttr<StrAttr>:$guidance_fn,
                       OptionalAttr<F64Attr>:$guidance_scale,
                       UnitAttr:$fixed_steps,
                       OptionalAttr<StrAttr>:$source_kind,
                       OptionalAttr<DenseF64ArrayAttr>:$source_params,
                       DefaultValuedAttr<F64Attr, "1e-5">:$rtol,
                       DefaultValuedAttr<F64Attr, "1e-5">:$atol,
                       DefaultValuedAttr<F64Attr, "0.0">:$adaptive_guidance,
                       DefaultValuedAttr<F64Attr, "0.0">:$guidance_momentum,
                       OptionalAttr<FlatSymbolRefAttr>:$sample_source,
                       OptionalAttr<FlatSymbolRefAttr>:$field,
                       OptionalAttr<FlatSymbolRefAttr>:$field_jvp,
                       OptionalAttr<DictionaryAttr>:$solver_steps,
                       OptionalAttr<DictionaryAttr>:$adaptive_steps,
                       OptionalAttr<FlatSymbolRefAttr>:$trajectory,
                       OptionalAttr<FlatSymbolRefAttr>:$solve,
                       UnitAttr:$labelled,
                       DefaultValuedAttr<I64Attr, "0">:$cond_dim,
                       UnitAttr:$computed_condition,
                       OptionalAttr<FlatSymbolRefAttr>:$map_step,
                       OptionalAttr<FlatSymbolRefAttr>:$network,
                       DefaultValuedAttr<F64Attr, "0.0">:$from_t,
                       DefaultValuedAttr<F64Attr, "1.0">:$to_t,
                       OptionalAttr<FlatSymbolRefAttr>:$time_grid,
                       OptionalAttr<FlatSymbolRefAttr>:$noised);
  let regions = (region AnyRegion:$model, AnyRegion:$combine, AnyRegion:$map,
                 AnyRegion:$times);
  let assemblyFormat = [{
    $flow (`with` $solver^)? attr-dict (`model` $model^)? (`combine` $combine^)?
    (`map` $map^)? (`times` $times^)?
  }];
  let hasRegionVerifier = 1;
  let extraClassDeclaration = [{
    /// Checks `velocity`, `velocity_jvp` and `guidance` (FlowContract.cpp).
    mlir::LogicalResult verifyModelKernels(mlir::SymbolTableCollection &symbols);
  }];
  // The settings alone, as MLIRGen creates the op: the passes add the rest.
  let builders = [
    OpBuilder<(ins "llvm::StringRef":$flow, "llvm::StringRef":$solver,
                   "int64_t":$steps, "int64_t":$n, "int64_t":$seed,
                   "mlir::FlatSymbolRefAttr":$velocity, "int64_t":$label,
                   "mlir::FlatSymbolRefAttr":$guidance, "mlir::StringAttr":$guidance_fn,
                   "mlir::FloatAttr":$guidance_scale, "bool":$fixed_steps,
                   "mlir::StringAttr":$source_kind,
                   "mlir::DenseF64ArrayAttr":$source_params, "llvm::APFloat":$rtol,
                   "llvm::APFloat":$atol, "llvm::APFloat":$adaptive_guidance,
                   "llvm::APFloat":$guidance_momentum), [{
      // No solver (an empty name): a map sampler.
      build($_builder, $_state, flow,
            solver.empty() ? mlir::FlatSymbolRefAttr()
                           : mlir::FlatSymbolRefAttr::get($_builder.getContext(), solver),
            steps, n, seed, velocity, nullptr, nullptr, label,
            guidance, guidance_fn, guidance_scale, fixed_steps, source_kind, source_params,
            rtol, atol, adaptive_guidance, guidance_momentum, nullptr, nullptr, nullptr,
            nullptr, nullptr, nullptr, nullptr, false, 0, false, nullptr, nullptr,
            llvm::APFloat(0.0), llvm::APFloat(1.0), nullptr, nullptr);
    }]>
  ];
}

//===----------------------------------------------------------------------===//
// Per-sample operations (flow bodies and kernels)
//===----------------------------------------------------------------------===//

def Flow_YieldOp : Flow_Op<"yield", [Pure, Terminator,
                                       ParentOneOf<["TrainOp", "SampleOp", "TokenizerOp"]>]> {
  let summary = "The results of a flow.train, flow.sample or flow.tokenizer region";
  let arguments = (ins Variadic<Flow_SampleType>:$values);
  let assemblyFormat = "($values^ `:` type($values))? attr-dict";
}

def Flow_DrawDataOp : Flow_Op<"draw_data", [AttrSizedResultSegments]> {
  let summary = "One sample of a data set, and optionally its label and its condition";
  let arguments = (ins FlatSymbolRefAttr:$data);
  let results = (outs Flow_SampleType:$result, Optional<F32>:$label,
                      Optional<RankedTensorOf<[F32]>>:$cond);
  let assemblyFormat = [{
    $data attr-dict `:` type($result) (`label` type($label)^)? (`cond` type($cond)^)?
  }];
}

def Flow_NormalOp : Flow_Op<"normal", [Pure]> {
  let summary = "Standard normal draw from the counter-based generator";
  let description = [{
    Deterministic in (seed, step, sample, feature, stream): lowering expands it
    to Philox 4x32-10 and a Box-Muller transform, so CPU and GPU draw the same
    numbers and no noise tensor is materialised.
  }];
  let arguments = (ins I64Attr:$stream);
  let results = (outs Flow_SampleType:$result);
  let assemblyFormat = "`stream` $stream attr-dict `:` type($result)";
}

def Flow_UniformOp : Flow_Op<"uniform", [Pure]> {
  let summary = "Uniform draw on [0, 1) from the counter-based generator";
  let arguments = (ins I64Attr:$stream);
  let results = (outs Flow_SampleType:$result);
  let assemblyFormat = "`stream` $stream attr-dict `:` type($result)";
}

def Flow_CategoricalOp : Flow_Op<"categorical",
    [Pure, AllTypesMatch<["weights", "result"]>]> {
  let summary = "A one-hot draw from the categorical distribution along the last axis";
  let description = [{
    Each slice of `weights` along its last axis holds non-negative weights
    w_k (not necessarily normalised); the result's slice is the one-hot
    vector of one index k drawn with probability w_k / sum w, by inverting
    the cumulative sum at one uniform draw per slice (the counter-based
    generator's, keyed by the slice's index and `stream`, so CPU and GPU draw
    the same). A slice of zeros draws nothing: its result is zeros.
  }];
  let arguments = (ins RankedTensorOf<[F32]>:$weights, I64Attr:$stream);
  let results = (outs RankedTensorOf<[F32]>:$result);
  let assemblyFormat = "$weights `stream` $stream attr-dict `:` type($result)";
}

def Flow_BroadcastOp : Flow_Op<"broadcast", [Pure]> {
  let summary = "A per-sample scalar repeated over features";
  let arguments = (ins F32:$input);
  let results = (outs RankedTensorOf<[F32]>:$result);
  let assemblyFormat = "$input attr-dict `:` type($result)";
}

def Flow_ExpandOp : Flow_Op<"expand", [Pure]> {
  let summary = "A per-sample tensor broadcast to a larger shape (numpy rules)";
  let description = [{
    Shapes are aligned at their last axes; an axis of size 1, or one the
    input lacks, repeats. `flow.reduce_to` is its transpose.
  }];
  let arguments = (ins RankedTensorOf<[F32]>:$input);
  let results = (outs RankedTensorOf<[F32]>:$result);
  let assemblyFormat = "$input attr-dict `:` type($input) `to` type($result)";
  let hasVerifier = 1;
}

def Flow_ReduceToOp : Flow_Op<"reduce_to", [Pure]> {
  let summary = "Sums a per-sample tensor down to a shape it broadcasts from";
  let description = [{
    The transpose of `flow.expand`: each result element is the sum of the
    input elements that `flow.expand` would copy it to. `sum(x, axis: k)`
    is this to the shape with axis k of size 1, then a `flow.reshape`.
  }];
  let arguments = (ins RankedTensorOf<[F32]>:$input);
  let results = (outs RankedTensorOf<[F32]>:$result);
  let assemblyFormat = "$input attr-dict `:` type($input) `to` type($result)";
  let hasVerifier = 1;
}

def Flow_ReshapeOp : Flow_Op<"reshape", [Pure]> {
  let summary = "The same elements, row-major, in another shape";
  let arguments = (ins RankedTensorOf<[F32]>:$input);
  let results = (outs RankedTensorOf<[F32]>:$result);
  let assemblyFormat = "$input attr-dict `:` type($input) `to` type($result)";
  let hasVerifier = 1;
}

class Flow_ReductionOp<string mnemonic, string what> : Flow_Op<mnemonic, [Pure]> {
  let summary = what # " of all elements of a per-sample tensor";
  let arguments = (ins RankedTensorOf<[F32]>:$input);
  let results = (outs F32:$result);
  let assemblyFormat = "$input attr-dict `:` type($input)";
}
def Flow_MeanOp : Flow_ReductionOp<"mean", "Mean">;
def Flow_SumOp : Flow_ReductionOp<"sum", "Sum">;

def Flow_SoftmaxOp : Flow_Op<"softmax", [Pure, AllTypesMatch<["input", "result"]>]> {
  let summary = "Softmax along one axis of a per-sample tensor";
  let description = [{
    exp(x_j - max x) / sum_k exp(x_k - max x) over the entries along `axis`
    (a vector's only axis; of a matrix [L, V] with axis 1, each row); its
    own op so that the derivative passes use s (dx - sum(s dx)) along the
    axis and lowering subtracts the max.
  }];
  let arguments = (ins RankedTensorOf<[F32]>:$input, DefaultValuedAttr<I64Attr, "0">:$axis);
  let results = (outs RankedTensorOf<[F32]>:$result);
  let assemblyFormat = "$input (`axis` $axis^)? attr-dict `:` type($input)";
  let hasVerifier = 1;
}

def Flow_ExtractOp : Flow_Op<"extract", [Pure, DeclareOpInterfaceMethods<InferTypeOpInterface>]> {
  let summary = "Entry `position` along the first axis of a per-sample tensor";
  let description = [{
    A feature (f32) of a vector; of a tensor [n, d...], the tensor [d...].
  }];
  let arguments = (ins RankedTensorOf<[F32]>:$input, I64Attr:$position);
  let results = (outs Flow_SampleType:$result);
  let assemblyFormat = "$input `[` $position `]` attr-dict `:` type($input)";
  let hasVerifier = 1;
}

def Flow_ConcatOp : Flow_Op<"concat", [Pure]> {
  let summary = "Per-sample tensors joined along an axis";
  let description = [{
    The inputs have one rank and equal sizes but along `axis`, where the
    result's size is their sum; `flow.slice` is its transpose (the
    derivative passes use both). A `stack` is a `flow.reshape` of each
    input to insert an axis of size 1, then a concat along it.
  }];
  let arguments = (ins Variadic<RankedTensorOf<[F32]>>:$inputs, I64Attr:$axis);
  let results = (outs RankedTensorOf<[F32]>:$result);
  let assemblyFormat = "$inputs `axis` $axis attr-dict `:` type($inputs) `->` type($result)";
  let hasVerifier = 1;
}

def Flow_SliceOp : Flow_Op<"slice", [Pure]> {
  let summary = "Consecutive entries along one axis of a per-sample tensor";
  let description = [{
    The result's entries `offset` .. `offset` + size - 1 along `axis` (its
    size there is the result type's), every other axis whole.
  }];
  let arguments = (ins RankedTensorOf<[F32]>:$input, I64Attr:$axis, I64Attr:$offset);
  let results = (outs RankedTensorOf<[F32]>:$result);
  let assemblyFormat = [{
    $input `axis` $axis `offset` $offset attr-dict `:` type($input) `to` type($result)
  }];
  let hasVerifier = 1;
}

def Flow_OneHotOp : Flow_Op<"one_hot", [Pure]> {
  let summary = "A per-sample class index as a one-hot vector";
  let description = [{ Feature j is 1 where the index equals j, else 0. }];
  let arguments = (ins F32:$index);
  let results = (outs RankedTensorOf<[F32]>:$result);
  let assemblyFormat = "$index attr-dict `:` type($result)";
}

def Flow_ApplyNetOp : Flow_Op<"apply_net", [DeclareOpInterfaceMethods<SymbolUserOpInterface>]> {
  let summary = "Apply a network to this sample's arguments";
  let description = [{
    The arguments follow the network's signature (`flow.network`'s
    `inputs`): a tensor of `input_dims[i]` elements, or an f32 time or
    label. The result has `out_dim` elements.
  }];
  let arguments = (ins FlatSymbolRefAttr:$network, Variadic<Flow_SampleType>:$args);
  let results = (outs RankedTensorOf<[F32]>:$result);
  let assemblyFormat = "$network `(` $args `)` attr-dict `:` functional-type($args, $result)";
}

def Flow_ApplyNetJvpOp : Flow_Op<"apply_net_jvp",
    [DeclareOpInterfaceMethods<SymbolUserOpInterface>, AttrSizedOperandSegments]> {
  let summary = "A network's Jacobian-vector product at this sample's arguments";
  let description = [{
    sum_i J_i tangents_i, J_i the Jacobian of `network`'s output with
    respect to argument i, at `args` (the network's signature, as
    `flow.apply_net`'s); one tangent per argument, of its type. What `ddt`
    of a network's output becomes (flow-differentiate-time): the tangents
    are the arguments' time derivatives. The runtime computes it with
    LibTorch's autograd, differentiably, so training goes through it.
  }];
  let arguments = (ins FlatSymbolRefAttr:$network, Variadic<Flow_SampleType>:$args,
                       Variadic<Flow_SampleType>:$tangents);
  let results = (outs RankedTensorOf<[F32]>:$result);
  let assemblyFormat = [{
    $network `(` $args `)` `along` `(` $tangents `)` attr-dict `:`
    functional-type($args, $result) `,` type($tangents)
  }];
}

def Flow_IntegrateOp : Flow_Op<"integrate", [Pure, AllTypesMatch<["x", "result"]>,
                                              AttrSizedOperandSegments]> {
  let summary = "One sample's whole trajectory: fixed tableau steps over an inlined MLP";
  let description = [{
    Integrates dx/dt = v(x, t[, label]) for one sample from `t0` in `steps`
    steps of size `h`, where v is the MLP `network` evaluated inside the
    kernel from `weights` (the parameters packed as flowrt.h's
    flowrt_net_weights describes: per layer W^T row-major then the bias,
    then the class embedding) and the explicit Runge-Kutta method is given
    at run time by `tableau` = [s, c (s), a (s x s row-major), b (s)] with
    s <= `max_stages`, so one kernel serves every fixed-step solver. With
    `reverse` the network sees 1 - t and the field is -v (a flow written in
    reversed time). With `guidance` (a kernel g(v_c, v_u, x, t, w)) every
    stage evaluates the network for the label and for the null class and
    combines them with g at scale `w`. No draws: rows are independent.
  }];
  let arguments = (ins RankedTensorOf<[F32]>:$x, RankedTensorOf<[F32]>:$weights,
                       RankedTensorOf<[F32]>:$tableau, F32:$t0, F32:$h, I64:$steps,
                       Optional<F32>:$label, Optional<F32>:$w,
                       FlatSymbolRefAttr:$network, I64Attr:$max_stages,
                       OptionalAttr<FlatSymbolRefAttr>:$guidance, UnitAttr:$reverse);
  let results = (outs RankedTensorOf<[F32]>:$result);
  let assemblyFormat = [{
    $x `,` $weights `,` $tableau `,` $t0 `,` $h `,` $steps (`label` $label^)?
    (`scale` $w^)? `net` $network attr-dict `:` type($x) `,` type($weights) `,`
    type($tableau)
  }];
}

def Flow_JvpOp : Flow_Op<"jvp", [Pure, AllTypesMatch<["value", "result"]>,
                                 AllTypesMatch<["wrt", "tangent"]>]> {
  let summary = "Directional derivative of a value with respect to another";
  let description = [{
    `flow.jvp %y wrt %x along %v` is the derivative of %y with respect to %x
    along %v, every other draw held fixed: `flow.ddt` is the case x = t,
    v = 1. The flow-differentiate-time pass replaces it, by the same rules.
  }];
  let arguments = (ins Flow_SampleType:$value, Flow_SampleType:$wrt, Flow_SampleType:$tangent);
  let results = (outs Flow_SampleType:$result);
  let assemblyFormat = "$value `wrt` $wrt `along` $tangent attr-dict `:` type($value) `,` type($wrt)";
}

def Flow_DdtOp : Flow_Op<"ddt", [Pure, AllTypesMatch<["value", "result"]>]> {
  let summary = "Derivative of a path value along time";
  let description = [{
    `flow.ddt %y wrt %t` is dy/dt with every draw other than t held fixed.
    The flow-differentiate-time pass replaces it by the symbolic derivative.
  }];
  let arguments = (ins Flow_SampleType:$value, F32:$time);
  let results = (outs Flow_SampleType:$result);
  let assemblyFormat = "$value `wrt` $time attr-dict `:` type($value)";
}

def Flow_BatchAverageOp : Flow_Op<"batch_average",
    [NoMemoryEffect, AllTypesMatch<["input", "result"]>]> {
  let summary = "The mean over the batch of a per-sample value";
  let description = [{
    `batch_mean(v)` in Flow: the same value for every sample of the batch
    the program runs on, the mean of `v` over its samples (a lookup-free
    quantizer's codebook distribution). Not per-sample, so no kernel holds
    it: partitioning cuts the body there as at a network, and the host
    computes it with LibTorch (`flow.rows_mean`), which autograd
    differentiates. Its time derivative is the batch mean of its
    operand's.
  }];
  let arguments = (ins Flow_SampleType:$input);
  let results = (outs Flow_SampleType:$result);
  let assemblyFormat = "$input attr-dict `:` type($input)";
}

def Flow_StopGradientOp : Flow_Op<"sg", [Pure, AllTypesMatch<["input", "result"]>]> {
  let summary = "Stop-gradient: the value passes, no derivative does";
  let description = [{
    `flow.sg %v` is %v. Reverse mode gives %v no adjoint through it and
    forward mode (flow.ddt) a zero tangent, as JAX's stop_gradient does for
    both. The kernel lowering, which runs after every derivative pass, reads
    it as its operand.
  }];
  let arguments = (ins Flow_SampleType:$input);
  let results = (outs Flow_SampleType:$result);
  let assemblyFormat = "$input attr-dict `:` type($input)";
}

def Flow_TimeOp : Flow_Op<"time"> {
  let summary = "Marks the flow's time variable";
  let arguments = (ins F32:$value);
  let assemblyFormat = "$value attr-dict";
}

def Flow_SourceOp : Flow_Op<"source"> {
  let summary = "Marks the flow's source sample (where sampling starts)";
  let arguments = (ins RankedTensorOf<[F32]>:$value);
  let assemblyFormat = "$value attr-dict `:` type($value)";
}

def Flow_LossOp : Flow_Op<"loss"> {
  let summary = "Marks a per-sample training loss, by name";
  let description = [{
    A flow may have several; what is trained is the sum of their batch
    means, and each is logged under its name.
  }];
  let arguments = (ins F32:$value, DefaultValuedStrAttr<StrAttr, "loss">:$name);
  let assemblyFormat = "$value attr-dict";
}

//===----------------------------------------------------------------------===//
// Host schedule (inside func.func marked `flow.host`)
//===----------------------------------------------------------------------===//

def Flow_BatchDataOp : Flow_Op<"batch_data", [AttrSizedResultSegments]> {
  let summary = "A fresh batch of the flow's data set, and optionally its labels and conditions";
  let arguments = (ins FlatSymbolRefAttr:$data, I64:$rows);
  let results = (outs Flow_BatchType:$result, Optional<Flow_BatchType>:$labels,
                      Optional<Flow_BatchType>:$conds);
  let assemblyFormat = [{
    $data `(` $rows `)` attr-dict `:` type($result) (`label` type($labels)^)?
    (`cond` type($conds)^)?
  }];
}

def Flow_LaunchOp : Flow_Op<"launch",
    [DeclareOpInterfaceMethods<SymbolUserOpInterface>]> {
  let summary = "Run an outlined kernel over the rows of its batched operands";
  let description = [{
    Batched operands (tensor<? x ...>) map to the kernel's per-sample
    arguments; f32 and i64 operands, and flat buffers (rank 1, such as
    flow.net_weights), to its launch-uniform arguments. `step` feeds the
    random-number counter of kernels that draw. The verifier checks the
    operands and results against the kernel's signature: a per-sample
    argument of type T takes a batch tensor<? x numel(T) x f32>, a uniform
    one its own type.

    With `vjp` the launch is differentiable: the runtime wraps kernel and
    vjp as one LibTorch autograd function. The kernel then marks with
    `flow.grad_args` the arguments that get adjoints, and the vjp kernel
    takes the kernel's arguments, then one adjoint per result, and returns
    the adjoints of those arguments, in order (flow-differentiate-regions
    creates it and records it here). The verifier checks that signature.
  }];
  let arguments = (ins FlatSymbolRefAttr:$kernel, I64:$rows, I64:$step,
                       Variadic<AnyTypeOf<[Flow_BatchType, F32, I64]>>:$args,
                       OptionalAttr<FlatSymbolRefAttr>:$vjp);
  let results = (outs Variadic<Flow_BatchType>:$results);
  let assemblyFormat = [{
    $kernel `(` $args `)` `rows` $rows `step` $step (`vjp` $vjp^)? attr-dict `:`
    functional-type($args, $results)
  }];
  // A launch without a vjp (flow-differentiate-regions adds one).
  let builders = [
    OpBuilder<(ins "mlir::TypeRange":$results, "mlir::FlatSymbolRefAttr":$kernel,
                   "mlir::Value":$rows, "mlir::Value":$step, "mlir::ValueRange":$args), [{
      build($_builder, $_state, results, kernel, rows, step, args, nullptr);
    }]>
  ];
  let extraClassDeclaration = [{
    /// Checks `vjp` against `kernel` (FlowContract.cpp).
    mlir::LogicalResult verifyVjp(mlir::func::FuncOp kernel,
                                  mlir::SymbolTableCollection &symbols);
  }];
}

def Flow_NetOp : Flow_Op<"net", [DeclareOpInterfaceMethods<SymbolUserOpInterface>]> {
  let summary = "Evaluate a network on a batch (LibTorch, in the runtime)";
  let description = [{
    flow.apply_net on batches: argument i is [rows, input_dims[i]].
  }];
  let arguments = (ins FlatSymbolRefAttr:$network, Variadic<Flow_BatchType>:$args);
  let results = (outs Flow_BatchType:$result);
  let assemblyFormat = "$network `(` $args `)` attr-dict `:` functional-type($args, $result)";
}

def Flow_NetJvpOp : Flow_Op<"net_jvp",
    [DeclareOpInterfaceMethods<SymbolUserOpInterface>, AttrSizedOperandSegments]> {
  let summary = "flow.apply_net_jvp on batches (LibTorch autograd, in the runtime)";
  let description = [{
    `constant`: no gradient of the loss reaches the result (it is used only
    under flow.sg, as MeanFlow's target is), so the runtime computes it by
    forward-mode AD without building a graph to differentiate again.
  }];
  let arguments = (ins FlatSymbolRefAttr:$network, Variadic<Flow_BatchType>:$args,
                       Variadic<Flow_BatchType>:$tangents, UnitAttr:$constant);
  let results = (outs Flow_BatchType:$result);
  let assemblyFormat = [{
    $network `(` $args `)` `along` `(` $tangents `)` attr-dict `:`
    functional-type($args, $result) `,` type($tangents)
  }];
}

def Flow_NetGuidedOp : Flow_Op<"net_guided"> {
  let summary = "Conditional and unconditional velocities in one batched call";
  let description = [{
    `cond` is v(x, t, labels) and `uncond` v(x, t, null class): the runtime
    evaluates both as one network call on 2n rows.
  }];
  let arguments = (ins FlatSymbolRefAttr:$network, Flow_BatchType:$x,
                       Flow_BatchType:$t, Flow_BatchType:$labels);
  let results = (outs Flow_BatchType:$cond, Flow_BatchType:$uncond);
  let assemblyFormat = "$network `(` $x `,` $t `,` $labels `)` attr-dict `:` type($x) `,` type($t) `,` type($labels) `->` type($cond) `,` type($uncond)";
}

def Flow_NetWeightsOp : Flow_Op<"net_weights"> {
  let summary = "The sampling network's parameters packed for inlined evaluation";
  let description = [{
    A flat [P] buffer in flowrt_net_weights' layout, for kernels that
    evaluate the network themselves (flow.integrate). `count` is the number
    of parameters the compiler laid out; the runtime checks that its
    network has as many.
  }];
  let arguments = (ins FlatSymbolRefAttr:$network, I64Attr:$count);
  let results = (outs 1DTensorOf<[F32]>:$result);
  let assemblyFormat = "$network `count` $count attr-dict `:` type($result)";
}

def Flow_ToleranceOp : Flow_Op<"tolerance"> {
  let summary = "A step-size control setting of this sampling run: \"rtol\", \"atol\" or \"max_step\"";
  let arguments = (ins StrAttr:$name);
  let results = (outs F32:$result);
  let assemblyFormat = "$name attr-dict `:` type($result)";
}

def Flow_GuidanceScaleOp : Flow_Op<"guidance_scale"> {
  let summary = "The guidance scale w of this sampling run (spec or --guidance)";
  let results = (outs F32:$result);
  let assemblyFormat = "attr-dict `:` type($result)";
}

def Flow_DrawCounterOp : Flow_Op<"draw_counter"> {
  let summary = "A fresh random-number counter for the draws of one sampler step";
  let description = [{
    A sampler's step that draws (a map with `categorical`, `normal` or
    `uniform`) launches its kernels with this counter: the runtime counts
    the calls of the run from 1 (the source draws with 0), so every step
    draws anew and a run with the same seed draws the same. Not pure: each
    call gives another number.
  }];
  let results = (outs I64:$result);
  let assemblyFormat = "attr-dict `:` type($result)";
}

def Flow_FillOp : Flow_Op<"fill"> {
  let summary = "A [rows, 1] batch holding one time value";
  let arguments = (ins F64:$value, I64:$rows);
  let results = (outs Flow_BatchType:$result);
  let assemblyFormat = "$value `rows` $rows attr-dict `:` type($result)";
}

def Flow_TotalLossOp : Flow_Op<"total_loss"> {
  let summary = "The sum of a flow's losses (batch means), each recorded for the metrics";
  let arguments = (ins Variadic<0DTensorOf<[F32]>>:$terms);
  let results = (outs 0DTensorOf<[F32]>:$result);
  let assemblyFormat = "$terms attr-dict `:` type($terms) `->` type($result)";
}

def Flow_RowsMeanOp : Flow_Op<"rows_mean", [AllTypesMatch<["input", "result"]>]> {
  let summary = "Each row replaced by the mean of the batch's rows";
  let description = [{
    The host side of `flow.batch_average`: LibTorch's mean over the rows,
    expanded back to every row, tracked by autograd.
  }];
  let arguments = (ins Flow_BatchType:$input);
  let results = (outs Flow_BatchType:$result);
  let assemblyFormat = "$input attr-dict `:` type($input)";
}

def Flow_BatchMeanOp : Flow_Op<"batch_mean"> {
  let summary = "Mean over the batch of a per-sample scalar (a loss)";
  let description = [{
    LibTorch's mean, so autograd differentiates it: the loss's gradient
    enters the region kernels' launches from here.
  }];
  let arguments = (ins Flow_BatchType:$input);
  let results = (outs 0DTensorOf<[F32]>:$result);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($result)";
}

#endif // FLOW_OPS_TD
