//===- Sema.h - The semantic analyzer's class -------------------*- C++ -*-===//
//
// Internal to lang/lib/Sema: the class behind `analyzeModule`
// (flowc/Lang/Frontend.h). It loads imports, resolves every name, infers
// the per-sample shape of every expression in flows (and of definition
// bodies at each call site), evaluates constant settings (data parameters,
// network sizes, solver tableaux, train/sample blocks) and annotates the AST
// in place. Algorithm (Sema::run):
//   1. Load imports breadth-first (each file once), appending their decls
//      (Imports.cpp).
//   2. Collect top-level names in logical order (an import's decls count from
//      the point of the import), reporting redefinitions (Imports.cpp).
//   3. Evaluate consts (Consts.cpp); check data, models and definitions
//      (path, dist, fn: parameters, defaults, lets and names, then call
//      cycles; Declarations.cpp) and solvers (Solvers.cpp). Bodies of
//      definitions and closed-form models get shapes at each call.
//   4. Check each flow statement by statement (Flows.cpp): resolve names
//      (Expressions.cpp, BuiltinCalls.cpp), infer shapes (Shapes.cpp).
//   5. Check train/sample blocks against the flows and solvers
//      (RunSettings.cpp).
// docs/diagnostics.md lists every error Sema reports and where it points.
//
//===----------------------------------------------------------------------===//
#ifndef FLOWC_LANG_SEMA_SEMA_H
#define FLOWC_LANG_SEMA_SEMA_H

#include "flowc/Lang/Builtins.h"
#include "flowc/Lang/Frontend.h"

#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace flowc::sema {

// Sema's files work on the AST throughout.
using namespace flowc::ast;

/// Formats a number the way a user would write it: 0.5, 4, 1e-05.
std::string fmt(double v);

/// "1 argument", "2 arguments".
std::string plural(size_t n, const char *one, const char *many);

/// Whether `v` is a whole number that an int64_t holds exactly.
bool isInteger(double v);

/// The keyword of a declaration's kind: "path", "data", ...
const char *declKindName(Decl::Kind kind);

/// Whether `d` is a path, dist or fn (a definition inlined at its calls).
bool isFunctionDecl(const Decl *d);

/// A call's arguments bound to parameter slots: slots[i] is the argument
/// bound to parameter i, or null; `ok` is false after any reported error.
struct ArgBinding {
  std::vector<const Arg *> slots;
  bool ok = true;
};

/// A name bound by a flow statement (or a definition's `let`).
struct FlowLocal {
  const FlowStmt *stmt = nullptr;
  unsigned index = 0;
  bool usesNetwork = false;
};

/// Where an expression is being checked: the body of a definition (path,
/// dist, fn or closed-form model, with its parameters and `let`s as locals)
/// or a flow (its statements' names as locals).
struct Scope {
  Decl *def = nullptr;
  std::vector<Param> *params = nullptr;
  FlowDecl *flow = nullptr;
  std::map<std::string, FlowLocal> *locals = nullptr;
};

/// Checks one module; its member functions are defined in the file their
/// section names.
class Sema {
public:
  Sema(Module &module, Diagnostics &diags, FileLoader &loader)
      : module(module), diags(diags), loader(loader) {}

  /// Checks the whole module (the stages in the order above), reporting
  /// every error to `diags`.
  void run();

private:
  Module &module;
  Diagnostics &diags;
  FileLoader &loader;

  /// Declarations in the order they logically appear: an import's decls
  /// where the import is.
  std::vector<Decl *> logicalOrder;
  /// Decls appended by each import: [begin, end) in module.decls.
  std::map<const Decl *, std::pair<size_t, size_t>> importedRange;
  std::map<std::string, Decl *> globals;

  /// Definitions (path, dist, fn) called from each definition's body, with
  /// the call site.
  std::map<FunctionDecl *, std::vector<std::pair<FunctionDecl *, CallExpr *>>>
      defCallees;
  std::set<const Decl *> recursiveDefs;
  std::set<const Decl *> defsInProgress;
  /// The `let`s of each definition's body, by name.
  std::map<const Decl *, std::map<std::string, FlowLocal>> defLets;
  /// Closed-form models whose parameters are malformed (no shape checks).
  std::set<const ModelDecl *> badModels;
  /// Consts: 1 while being evaluated, 2 done, 3 failed.
  std::map<const ConstDecl *, int> constState;
  /// Data declarations checked so far (a tokenizer checks its data first).
  std::set<const DataDecl *> checkedData;
  /// one_hot(k, n) calls with a valid n.
  std::map<const CallExpr *, int64_t> oneHotLength;
  /// Index expressions whose index is a valid constant integer.
  std::set<const IndexExpr *> constantIndex;
  /// Flows that apply a network (for train blocks).
  std::set<const FlowDecl *> flowsWithNetwork;
  /// Flows that apply a closed-form model (they cannot be trained).
  std::set<const FlowDecl *> closedFormFlows;
  /// The models each flow applies, in order of first application.
  std::map<const FlowDecl *, std::vector<const ModelDecl *>> flowModels;
  /// The flow locals of each sample block's `velocity:` or `map:` (its
  /// flow's label and condition).
  std::map<const RunDecl *, std::map<std::string, FlowLocal>> velocityLocals;
  /// Networks whose signature was recorded from an application (others
  /// get theirs at their first application).
  std::set<const ModelDecl *> signedNetworks;

  /// Shape errors inside a definition's body are reported at the outermost
  /// call, as "in path 'p': ...".
  CallExpr *pathSite = nullptr;
  const Decl *pathSiteDecl = nullptr;
  bool pathSiteReported = false;
  /// Every shape error raised inside a definition body, in order (the first
  /// one raised while checking a body is cached with it).
  std::vector<std::string> shapeMessages;
  /// Result and first shape error of each body per parameter shapes.
  using BodyKey = std::pair<const Decl *,
                            std::vector<std::pair<int, std::vector<int64_t>>>>;
  std::map<BodyKey, std::pair<Shape, std::string>> bodyCache;
  /// Nesting of definition bodies (and of consts) being checked; bounded.
  static constexpr unsigned kMaxCallDepth = 256;
  unsigned bodyDepth = 0;
  unsigned constDepth = 0;

  /// Error messages of bindArguments, worded for the kind of callee.
  struct ArgumentMessages {
    std::function<std::string(const std::string &)> unknown; // no such parameter
    std::function<std::string(const std::string &)> twice;   // bound twice
    std::function<std::string(size_t)> tooManyPositional;    // optional
  };

  //===--------------------------------------------------------------------===//
  // Sema.cpp
  //===--------------------------------------------------------------------===//

  /// Reports an error at `loc` (Sema keeps going).
  void error(const Location &loc, const std::string &message);
  void warning(const Location &loc, const std::string &message);
  /// Warns about each model no flow applies (a declaration that does nothing).
  void warnUnusedModels();

  /// "path 'p'", "dist 'd'", "fn 'f'", "model 'u'".
  static std::string describe(const Decl &d);

  //===--------------------------------------------------------------------===//
  // Imports.cpp
  //===--------------------------------------------------------------------===//

  /// The path without `.` and `..` parts, so a file is loaded once.
  static std::string normalize(const std::string &path);

  /// Parses every imported file once (breadth-first), appending its
  /// declarations to the module, then orders all of them (logicalOrder).
  void loadImports();

  /// A train block's optimizer (default adam) that no file of the spec
  /// defines comes from std.optimizers, imported at the end as if the spec
  /// said `import std.optimizers`. Returns whether it appended the import.
  bool addOptimizerImport();

  /// The fn a train block's `optimizer:` names ("" for a malformed value).
  static std::string optimizerName(const RunDecl &run);

  /// Appends module.decls[begin, end) to logicalOrder, each import replaced by
  /// the declarations it brought in.
  void addInLogicalOrder(size_t begin, size_t end,
                         std::set<const Decl *> &visited);

  /// Fills `globals`; reports redefinitions and names of built-ins.
  void collectGlobals();

  /// The top-level declaration called `name`, or null.
  Decl *findGlobal(const std::string &name);

  //===--------------------------------------------------------------------===//
  // Consts.cpp
  //===--------------------------------------------------------------------===//

  /// Evaluates constant arithmetic (numbers, pi, e, unary minus, + - * / ^).
  /// `what` names the setting or parameter for the error message.
  std::optional<double> evalConstant(Expr *e, const std::string &what);

  /// Evaluates a `const` declaration once; nullopt if it failed (reported).
  std::optional<double> evalConstDecl(ConstDecl &c);

  /// Evaluates a tensor const (`const mu = [1.0, -2.0]`) once into its
  /// shape and values; false if it failed (reported).
  bool evalTensorConst(ConstDecl &c);

  /// The shape of a constant number or (nested) list of them, whose values
  /// it appends row-major to `values`; nullopt after reporting an error (an
  /// empty or ragged list, a value that is not constant).
  std::optional<std::vector<int64_t>> evalConstantList(Expr *e, const std::string &what,
                                                       std::vector<double> &values);

  /// Evaluates `e` and checks it is an integer >= `min`.
  std::optional<int64_t> evalInteger(Expr *e, const std::string &what,
                                     int64_t min, const char *description);

  /// `evalInteger` with a minimum of 1.
  std::optional<int64_t> evalPositiveInt(Expr *e, const std::string &what);

  /// Evaluates a list of constants; nullopt (after reporting) on errors.
  std::optional<std::vector<double>> evalList(Expr *e, const std::string &what,
                                              const char *listMessage);

  /// The dimensions a shape list gives, each a positive integer constant.
  std::optional<std::vector<int64_t>> evalShapeList(Expr *e,
                                                    const std::string &what);

  //===--------------------------------------------------------------------===//
  // Declarations.cpp
  //===--------------------------------------------------------------------===//

  /// `data NAME = toy.moons(...)`, `images.digits()`, `file(...)` or a
  /// tokenizer: fills the DataDecl's shape, classes and parameters. Checks
  /// each data declaration once.
  void checkData(DataDecl &data);

  /// `conv(width: W, depth: D, act: A, out: [C', H', W'])`: an image to an
  /// image of another size (an encoder's or a decoder's).
  void checkTarFlowNetwork(ModelDecl &model);
  /// nf(x[, label]) of a tarflow: an image and optionally a label; a scalar.
  Shape inferTarFlowCall(CallExpr &call, ModelDecl &model,
                         const std::vector<ModelDecl::Input> &inputs);
  void checkConvNetwork(ModelDecl &model);
  /// `act:` of an mlp or a conv: silu, relu, tanh or gelu.
  void checkActivation(Expr *value, ModelDecl &model);

  /// `tokenizer NAME = patchify(DATA, patch: P)`: DATA's images [C, H, W]
  /// as (H/P)(W/P) tokens of P*P*C values each (DiT's layout: a token's
  /// values ordered by row, column, channel); sampling decodes them back.
  void checkTokenizer(DataDecl &tok);

  /// The data set a tokenizer's first argument names (checked), or null
  /// after reporting what it should be (`example` a call that is right).
  DataDecl *tokenizedData(CallExpr &src, const Arg *arg, const std::string &example);

  /// `tokenizer NAME = encoder(DATA, encode: EXPR of x, decode: EXPR of z)`:
  /// binds DATA and keeps the two expressions, which checkEncoders checks
  /// once every declaration is.
  void checkEncoderTokenizer(DataDecl &tok);
  /// Each encoder tokenizer's `encode` with x of DATA's shape (its shape
  /// is the tokens') and `decode` with z of the tokens' shape (DATA's
  /// shape again): deterministic, networks allowed.
  void checkEncoders();
  /// A flow decoder `decode: FLOW`: FLOW draws the tokenized data and its
  /// sample block takes a condition of the tokens' shape.
  void checkFlowDecoders();
  /// `standardize:` statistics come from the first trained flow drawing
  /// from the tokenizer, whose encoder is fixed by then (resolveTokenizerCall
  /// refuses applying such a tokenizer as a function).
  void checkStandardizedTokens();
  /// `tokenizer NAME = onehot(DATA, vocab: V)`: DATA's values are token
  /// ids 0..V-1, drawn as one-hot vectors (tokens: DATA's shape + [V]).
  void checkOneHotTokenizer(DataDecl &tok);
  /// A number of token ids (`vocab:`, `tokens:`): an integer >= 2.
  std::optional<int64_t> evalTokenCount(const Arg &arg, const std::string &what);
  /// Makes `tok` the tokenizer DATA is drawn through (one per data set).
  bool claimData(DataDecl &tok, DataDecl &data);
  /// The names a flow binds to values of its draw alone, computed without
  /// its source or time (a flow decoder's tokens): sampling may be given one.
  static std::set<std::string> drawOnlyValues(const FlowDecl &flow);
  /// `T(x1)` in a flow's body: an encoder tokenizer applied to a data
  /// point, its tokens (the tokenizer's `encode` with x bound to x1).
  void resolveTokenizerCall(CallExpr &call, DataDecl &tok, Scope &scope);
  Shape inferTokenizerCall(CallExpr &call, const DataDecl &tok);
  /// Reports draws and derivatives in a tokenizer's `what` expression.
  void checkDeterministic(const Expr *e, const std::string &what);

  /// The file a string argument names, relative to the spec that names it,
  /// as an absolute path; reports a missing file (or a non-string) at the
  /// argument. The runtime reads the file, so it must exist when training.
  /// `inDirectory`: a directory names that file in it (a run's checkpoint).
  std::optional<std::string> filePath(const Arg *arg, const std::string &what,
                                      const char *inDirectory = nullptr);

  /// `file("x.npy", shape: [1, 28, 28], labels: "y.npy", classes: 10)`: the
  /// samples of a .npy, .csv or IDX file, each of `shape` (required: the
  /// kernels are compiled for it; the runtime checks the file against it),
  /// with optional integer labels 0 .. classes - 1 from a second file.
  void checkFileData(DataDecl &data);

  /// A network (mlp, unet, dit, torchscript: its settings) or a closed-form
  /// model.
  void checkModel(ModelDecl &model);

  /// `unet(width: 32, depth: 2, time: fourier(16))` (width: base channels,
  /// depth: resolution levels) or `dit(width: 96, depth: 4, heads: 4,
  /// patch: 2, time: fourier(16))` (width: token features, depth: blocks).
  /// Both take images [C, H, W]; the runtime checks the image fits.
  void checkImageNetwork(ModelDecl &model);

  /// `time: fourier(K)`: K even and positive.
  void checkTimeEmbedding(Expr *value, ModelDecl &model);

  /// `model u(x, t) = expr`: two parameters without defaults; the body is
  /// checked like a path's (no draws, no networks, no ddt) and its shape at
  /// each call.
  void checkClosedFormModel(ModelDecl &model);

  /// Parameters: each name once, none a built-in.
  void checkParamNames(const std::vector<Param> &params);

  /// A path, dist or fn: its parameters, defaults (trailing constants) and
  /// body (names only; shapes at each call).
  void checkFunction(FunctionDecl &fn);

  /// Resolves the `let`s and the final expression of a definition.
  void checkBody(Decl &def, std::vector<Param> &params,
                 std::vector<std::unique_ptr<FlowStmt>> &lets, Expr *body);

  /// Reports each cycle of calls between paths, dists and fns once and marks
  /// its definitions recursive (their calls then get no shape, and no further
  /// errors).
  void checkCallCycles();

  //===--------------------------------------------------------------------===//
  // Solvers.cpp
  //===--------------------------------------------------------------------===//

  /// Checks the tableau and fills the SolverDecl's c, a, b, b_err and order.
  void checkSolver(SolverDecl &solver);

  /// Checks `a` against `c`: s-1 rows, row k (1-based) with k entries
  /// summing to c[k]. Appends the rows to `rows` (which starts with the
  /// empty row of stage 0). Returns false after reporting an error.
  bool checkTableauRows(Expr *aExpr,
                        const std::optional<std::vector<double>> &c,
                        std::vector<std::vector<double>> &rows);

  //===--------------------------------------------------------------------===//
  // Expressions.cpp
  //===--------------------------------------------------------------------===//

  /// Resolves names and calls in `e` (setting bindings and orderedArgs) and
  /// reports name, arity and context errors. Shapes are inferred later by
  /// `infer`, which skips anything left unresolved here.
  void resolve(Expr *e, Scope &scope);

  /// `x[i]`: i must be a constant integer; the range is checked with shapes.
  void resolveIndex(IndexExpr &index, Scope &scope);

  /// Binds a name: a flow local or `let`, a parameter, a built-in constant or
  /// a const; any other declaration or function is not a value.
  void resolveName(NameExpr &name, Scope &scope);

  /// Resolves a call's argument expressions (shape lists are constants).
  void resolveArgs(CallExpr &call, Scope &scope);

  /// A call of a definition, a model or a built-in.
  void resolveCall(CallExpr &call, Scope &scope);

  /// The data set a draw's right side names, if it is one.
  static const DataDecl *drawnData(const Expr *value);

  /// The classes of `e` if it is a class label: the second name of a data
  /// draw (`x1, y ~ moons`), a flow name bound to a label, or drop() of
  /// one. 0 for anything else.
  static int64_t labelClasses(const Expr *e);

  /// The data set whose condition `e` is: the condition of a data draw
  /// (`x1, c ~ pairs`), a flow name bound to one, or drop() of one; null
  /// for anything else (arithmetic on a condition is a plain tensor).
  static const DataDecl *conditionOf(const Expr *e);

  /// Binds call arguments to named parameter slots (bindArguments with
  /// every positional slot open). `callee` names the function in messages,
  /// e.g. "'toy.moons'" or "solver 'heun'".
  ArgBinding bindArgs(const CallExpr &call,
                      const std::vector<std::string> &params,
                      const std::string &callee);

  /// Binds a call's arguments to `params`: positional ones in order (at most
  /// `maxPositional`), then named ones. slots[i] is the argument bound to
  /// params[i], or null. Reports each error and returns false if any.
  bool bindArguments(const CallExpr &call,
                     const std::vector<std::string> &params,
                     size_t maxPositional, const ArgumentMessages &messages,
                     std::vector<const Arg *> &slots);

  /// A call of a path, dist or fn: binds the arguments to the parameters
  /// (positional, then named; defaulted ones may be left out).
  void resolveDefCall(CallExpr &call, FunctionDecl &def, Scope &scope);

  /// A model applied as v(x, t) or, for a network, to any arguments; only
  /// in flows.
  void resolveModelCall(CallExpr &call, ModelDecl &model, Scope &scope);

  //===--------------------------------------------------------------------===//
  // BuiltinCalls.cpp
  //===--------------------------------------------------------------------===//

  /// Shape lists, the one place outside tableaux where `[...]` is allowed:
  /// reshape(x, [3, 4]) and normal(shape: [3, 4]) (also uniform).
  static bool isShapeList(const CallExpr &call, const Arg &arg);

  /// Checks that a built-in call has exactly `arity` arguments, none named.
  bool checkBuiltinArity(CallExpr &call, int arity);

  /// A call of a built-in function: its arity, its constant arguments and
  /// where it may be used.
  void resolveBuiltinCall(CallExpr &call, const BuiltinFunction &fn,
                          Scope &scope);

  /// `sum(x, axis: k)` (also mean, norm, softmax; cross_entropy after its
  /// two values; the axis may be positional): k a constant integer,
  /// negative counting from the last axis. `values`: the arguments before it.
  void resolveAxis(CallExpr &call, int values);

  /// `concat(a, b, ..., axis: k)` and `stack(...)`: one or more values and
  /// an optional constant integer axis (default 0, in constantArgs).
  /// categorical(w) / categorical(like: x): one argument; flows only.
  void resolveCategorical(CallExpr &call, Scope &scope);
  void resolveJoin(CallExpr &call, Scope &scope);

  /// `drop(y, p)`: condition dropout of a label or a condition, a random
  /// draw, so only in flows.
  void resolveDrop(CallExpr &call, const BuiltinFunction &fn, Scope &scope);

  /// `normal()` / `uniform()` inside a dist: a standard draw, a scalar or
  /// shaped like a parameter (`like: p`).
  void resolveStandardDraw(CallExpr &call, Scope &scope);

  /// Shapes of built-in calls whose arguments have been inferred.
  Shape inferBuiltin(CallExpr &call);

  /// concat: tensors of one rank, equal but along the axis, whose sizes add
  /// up; stack: values of one shape (scalars too) along a new axis.
  /// `in` holds the arguments' shapes (the values first).
  Shape inferJoin(CallExpr &call, const std::vector<Shape> &in);

  //===--------------------------------------------------------------------===//
  // Shapes.cpp
  //===--------------------------------------------------------------------===//

  /// Reports a shape error at `loc`, or inside a definition's body at the
  /// outermost call ("in path 'p': ...", once per call).
  void shapeError(const Location &loc, const std::string &message);

  /// Broadcasts two shapes (scalar with anything); nullopt if they clash.
  /// numpy's broadcasting: shapes align at their last axes, and an axis of
  /// size 1 (or one a shape lacks) takes the other's size.
  static std::optional<Shape> broadcast(const Shape &a, const Shape &b);

  /// Infers and stores the shape of a resolved expression. Unknown (with no
  /// new error) wherever resolution already failed.
  Shape infer(Expr *e);

  /// The shape of `e` from those of its operands (see `infer`).
  Shape inferImpl(Expr &e);

  /// A call's shape: its arguments first, then by what it calls.
  Shape inferCall(CallExpr &call);

  /// Checks the body of a path, dist or fn with the shapes of this call's
  /// arguments (a left-out argument takes its scalar default).
  Shape inferDefCall(CallExpr &call, FunctionDecl &def);

  /// The shape of a definition's body with its parameters' current shapes,
  /// cached per combination of parameter shapes.
  Shape inferBody(CallExpr &call, const Decl &def,
                  std::vector<std::unique_ptr<FlowStmt>> &lets, Expr *body);

  /// Infers the lets and the body (inferBody's work), bounded in depth.
  Shape inferBodyUncached(CallExpr &call, const Decl &def,
                          std::vector<std::unique_ptr<FlowStmt>> &lets,
                          Expr *body);

  /// A model call: a closed-form model's x a tensor, t a scalar, and its
  /// body of x's shape; a network's arguments by networkSignature.
  Shape inferModelCall(CallExpr &call, ModelDecl &model);

  /// A network's application: the role of each argument (a class label, a
  /// scalar time or a tensor), the same everywhere the network is applied
  /// (recorded in ModelDecl::inputs at the first application); returns
  /// the output's shape (`out:`, else the first tensor argument's).
  Shape inferNetworkCall(CallExpr &call, ModelDecl &model);
  /// A conv network's first application: one image, and `out:` a power of
  /// two apart in height and width (reported otherwise).
  bool checkConvApplication(const CallExpr &call, const ModelDecl &model,
                            const std::vector<ModelDecl::Input> &inputs);

  //===--------------------------------------------------------------------===//
  // Flows.cpp
  //===--------------------------------------------------------------------===//

  /// Whether `e` applies a network, directly or through a flow local.
  bool usesNetwork(const Expr *e,
                   const std::map<std::string, FlowLocal> &locals);

  /// Calls fn on `e` and each of its subexpressions, outermost first.
  static void forEachExpr(const Expr *e, const std::function<void(const Expr &)> &fn);

  /// Appends every model call in `e` (in source order) to `calls`.
  static void collectModelCalls(const Expr *e,
                                std::vector<const CallExpr *> &calls);

  /// A flow applies exactly one model (network or closed form); one that
  /// applies a network is trained, so it needs a loss.
  void checkFlowModel(FlowDecl &flow);

  /// Reports each sg(e) in `e` whose argument depends on no network (no
  /// gradient could flow there: a mistake, not a no-op to keep).
  /// Whether the flow takes a derivative in its body (ddt or jvp).
  static bool takesDerivatives(const FlowDecl &flow);
  void checkStopGradients(const FlowDecl &flow, const Expr *e,
                          const std::map<std::string, FlowLocal> &locals);

  /// `time: forward` (the default: t = 0 source, t = 1 data) or `reverse`.
  void checkFlowOptions(FlowDecl &flow);

  /// Checks a flow statement by statement, then its time `t`, its source `x0`
  /// and its model.
  void checkFlow(FlowDecl &flow);

  /// Binds the i-th name of a flow statement, reporting redefinitions.
  void defineLocal(const FlowStmt &stmt, size_t i, bool network,
                   std::map<std::string, FlowLocal> &locals);

  /// `x1, y ~ data`: a point and its class label (a scalar) or condition
  /// (a tensor); `x1, y, c ~ data` both.
  void checkLabelledDraw(FlowStmt &stmt);

  /// The right side of `a ~ ...`: data, normal(...) or uniform(...).
  Shape checkDraw(Expr *value, Scope &scope);

  /// normal(mean, std, like: x) and uniform(low, high, like: x).
  Shape checkDistribution(CallExpr &call, Scope &scope);

  /// `loss [NAME =] EXPR`: a scalar per sample that uses a network.
  void checkLoss(FlowStmt &stmt, Scope &scope);
  /// Gives unnamed losses their names; a name used twice is an error.
  void nameLosses(FlowDecl &flow);

  //===--------------------------------------------------------------------===//
  // RunSettings.cpp
  //===--------------------------------------------------------------------===//

  /// A train or sample block: its flow and each setting, filling the
  /// RunDecl's numbers, optimizer, solver, label and guidance.
  void checkRun(RunDecl &run);
  /// Calls `check(s, value, "'name'")` for each setting of `run` with a
  /// value, reporting a name given twice instead.
  void forEachSetting(RunDecl &run,
                      const std::function<void(Setting &, Expr *, const std::string &)> &check);
  /// A sample block of a flow that trains a normalizing flow `nf`: its
  /// settings are the inversion's (no solver).
  void checkInversionSettings(RunDecl &run, const ModelDecl &nf);
  /// `times: EXPR`: a deterministic scalar expression of u alone.
  void checkTimeGrid(RunDecl &run, Expr &value);

  /// `velocity: EXPR` of a sample block, the field the solver integrates
  /// (x and t bound), or `map: EXPR`, one step of a flow map (x, t and dt
  /// bound): the flow's label and condition, if any, by their names. EXPR
  /// may apply the flow's networks (with the signatures it trains them
  /// with) but not draw, and has x's shape (a velocity may be a scalar).
  void checkSampledExpr(RunDecl &run, Expr &value, bool map);

  /// With `map:`, the settings that belong to solvers are errors, and
  /// guidance needs the map to apply a conditional network to the label.
  void checkMapSettings(RunDecl &run);

  /// The network a sample block's solver integrates: its flow's only
  /// network, which must be a velocity v(x, t[, label]); null for a
  /// closed-form flow or after reporting a flow of several networks.
  const ModelDecl *sampledNetwork(const RunDecl &run);

  /// The conditional network of a sample block's flow, for the `label` and
  /// `guidance` settings; reports a flow without one.
  const ModelDecl *conditionalModel(const RunDecl &run, const Setting &s);

  /// `guidance: FN` or `guidance: FN(name: CONST, ...)` (see RunDecl).
  void checkGuidance(RunDecl &run, Expr &value);

  /// A learning rate: a positive constant.
  std::optional<double> evalLearningRate(Expr *value);

  /// Sets the run's lr, reporting one given twice (`lr:` and adam(lr: ...)).
  void setLearningRate(RunDecl &run, double lr, const Location &loc);

  /// `optimizer: NAME` or `NAME(setting: CONST, ...)`, default adam: the fn
  /// NAME gives a parameter's new value and NAME_s updates each state
  /// variable s (see std.optimizers). Fills run.optimizer, optimizerState,
  /// optimizerConstants and the default lr.
  void checkOptimizer(RunDecl &run, const Setting *setting);

  /// The settings an optimizer call gives (`adam(lr: 1e-3, b1: 0.9)`, lr
  /// going to the run's numbers) and the defaults of the other parameters
  /// with one: fills `constants`; false after reporting an error.
  bool bindOptimizerSettings(RunDecl &run, FunctionDecl &fn, CallExpr *call,
                             const std::set<std::string> &state,
                             std::map<std::string, double> &constants);

  /// Checks that an optimizer fn (or a state's update fn) binds only what
  /// the trainer knows and returns a scalar.
  bool checkOptimizerBody(FunctionDecl &f, const std::string &optimizer,
                          const Location &at,
                          const std::set<std::string> &state,
                          const std::map<std::string, double> &constants);

  /// `solver: NAME` or `solver: NAME(steps: N)`, NAME a solver declaration.
  void checkSolverSetting(RunDecl &run, Expr &value,
                          const Setting *stepsSetting);
};

} // namespace flowc::sema

#endif // FLOWC_LANG_SEMA_SEMA_H
