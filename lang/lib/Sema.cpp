//===- Sema.cpp - Semantic analysis of .flow specs ------------------------===//
//
// Implements `analyzeModule`: loads imports, resolves every name, infers the
// per-sample shape of every expression in flows (and of path bodies at each
// call site), evaluates constant settings (data parameters, network sizes,
// solver tableaux, train/sample blocks) and annotates the AST in place. Sema
// reports every error it finds and keeps going; it never asserts on user
// input. Algorithm:
//   1. Load imports breadth-first (each file once), appending their decls.
//   2. Collect top-level names in logical order (an import's decls count from
//      the point of the import), reporting redefinitions.
//   3. Evaluate consts; check data, models, definitions (path, dist, fn:
//      parameters, defaults, lets and names, then call cycles) and solvers.
//      Bodies of definitions and closed-form models get shapes at each call.
//   4. Check each flow statement by statement: resolve names, infer shapes.
//   5. Check train/sample blocks against the flows and solvers.
//
// Where each error points (line:col of this token):
//   import
//     "cannot find module 'std.nope'"           module name after `import`
//     "cannot find file 'x.flow'"               the quoted file name
//   top level
//     "redefinition of 'linear'"                name of the later declaration
//     "cannot redefine built-in 'exp'"          name of the declaration
//   expressions (flows and path bodies)
//     "use of undefined name 'x'"               the name
//     "unknown function 'foo'"                  the callee
//     "'x' is not a function"                   the callee
//     "cannot use path 'p' as a value" (also data, model, solver, flow,
//       function)                               the name
//     "cannot call data 'moons'; draw from it with '~'"  the callee
//     "'f' takes 1 argument but 2 were given"   the callee (math, ddt, mse)
//     "'f' does not take named arguments"       the argument name
//     "path 'p' takes 3 arguments but 2 were given"  the callee
//     "path 'p' has no parameter 'q'"           the argument name
//     "parameter 'q' of path 'p' is given twice"     the argument
//     "positional argument after named argument"     the argument
//     "model 'v' takes 2 or 3 arguments (x, t, label) but 1 was given"
//       (closed form: "takes 2 arguments (x, t)")  the callee
//     "third argument of model 'v' must be a class label drawn with the data
//       (y in 'x1, y ~ moons') or drop() of one" first token of the argument
//     "model 'v' is applied with a label elsewhere; apply it the same way
//       everywhere" (without)                   the callee
//     "model 'v' is applied to labels of 8 classes here but of 2 elsewhere"
//                                               first token of the label
//     "first argument of 'drop' must be a class label drawn with the data,
//       as y in 'x1, y ~ moons'"                first token of the argument
//     "the probability of 'drop' must be in [0, 1] but is 1.5"  the value
//     "fn 'f' cannot draw random numbers" (drop in a definition)  callee
//     "arguments of model 'v' cannot be named"  the argument name
//     "first argument of model 'v' must be a vector but is scalar"
//     "second argument of model 'v' (time) must be a scalar but is [2]"
//                                               first token of the argument
//     "cannot call model 'v' inside a path" (fn, dist, model)  the callee
//     "path 'p' cannot draw random numbers" (fn, model)  normal/uniform/dist
//                                               callee inside the body
//     "cannot call dist 'd' in an expression; draw from it with '~'"  callee
//     "inside dist 'd', 'normal' takes no arguments other than 'like: PARAM'"
//                                               the argument
//     "fn 'f' takes 2 to 3 arguments but 4 were given"  the callee
//     "fn 'f' is missing argument 'a'"          the callee
//     "'where' takes 3 arguments but 2 were given" (all built-ins)  callee
//     "the length of 'one_hot' must be a positive integer but is 2.5"  value
//     "first argument of 'one_hot' must be a scalar but is [2]"  argument
//     "'sum' needs a tensor but its argument is a scalar" (mean, norm,
//       softmax)                                the callee
//     "shape mismatch in 'where': [2] and [3]" (clamp, min, max)  the callee
//     "cannot reshape [3, 2] into [4]: they have different numbers of
//       elements"                               the callee `reshape`
//     "axis 2 is out of range for [3, 2]"       the axis
//     "axis must be an integer but is 0.5"      the axis
//     "'sum' takes 'axis' as its only named argument" (mean, norm)  the arg
//     "'sum' takes 1 or 2 arguments (x, axis) but 3 were given"  the callee
//     "the shape of 'reshape' must be a list of positive integers, e.g.
//       [3, 4]" (also 'shape' of normal/uniform)    the value
//     "a dimension of 'shape' must be a positive integer but is 0"  entry
//     "give 'like' or 'shape' to 'normal', not both"  the `shape` argument
//     "expected a constant number for an index" the index
//     "index must be an integer but is 0.5"     the index
//     "index 5 is out of range for [2]"         the index
//     "cannot index a scalar"                   the '['
//     "model 'u' returns scalar but its input x is [2]; ..."  model callee
//     "'ddt' can only be used inside a flow"    the callee
//     "'ddt' needs the time variable 't' defined earlier in flow 'f'"
//                                               the callee
//     "'normal' can only be used on the right of '~'" (also uniform)
//     "'mse' can only be used as a flow's loss" the callee
//     "lists are only allowed in solver tableaux and shape lists"   the '['
//     "shape mismatch: [2] and [3]"             the operator (+ - * /)
//     "exponent must be a scalar but is [2]"    the '^'
//     "in path 'p': <shape error>" (fn, dist, model)  callee of the outermost
//                                               call in the flow
//     "number is out of range"                  the number
//   definitions (path, dist, fn) and closed-form models
//     "duplicate parameter 'x'"                 the second parameter
//     "cannot redefine built-in 'exp'"          the parameter or let name
//     "parameter 'b' needs a default value because it follows 'a', which has
//       one"                                    the parameter
//     "expected a constant number for the default of 'k'"  the default
//     "redefinition of 'a'" (let)               the let's name
//     "path 'a' calls itself" (dist, fn)        the recursive call's callee
//     "path 'b' calls itself through 'a'"       callee of the call closing the
//                                               cycle (inside 'b', calling 'a')
//     "closed-form model 'u' takes 2 parameters (x, t) but has 3"  the name
//     "parameters of model 'u' cannot have default values"  the parameter
//   consts
//     "const 'a' is defined in terms of itself" the name closing the cycle
//     "expected a constant number for const 'c'"    the subexpression
//   flows
//     "redefinition of 'x'" (inside a flow, or of a top-level name)
//     "cannot redefine built-in 'exp'"          the name being defined
//     "only a data set draws two values (a point and its label), as in
//       'x1, y ~ moons'"                        the second name
//     "a data draw gives a point and its label: at most two names"
//                                               the third name
//     "cannot draw from 'foo'"                  first token of the right side
//     "cannot draw from 'p'; path 'p' is not a dist" (fn, model)  the callee
//     "cannot draw from 'd' without a call; write d()"  the name
//     "cannot draw from an expression; expected data, normal(...) or
//       uniform(...)"                           first token of the right side
//     "unknown argument 'foo' for 'normal'"     the argument name
//     "argument 'mean' of 'normal' is given twice"  the argument
//     "'normal' takes at most 2 positional arguments but 3 were given"
//                                               the callee
//     "shape mismatch: [3] and [2]" (normal/uniform mean/std/low/high vs.
//       the drawn shape)                        first token of the argument
//     "loss must be mse(prediction, target)"    first token of the expression
//     "'mse' takes 2 arguments but 1 were given"    the callee `mse`
//     "'mse' arguments have different shapes: [2] and [3]"  the callee `mse`
//     "loss of flow 'f' uses no network"        the `loss` keyword
//     "flow 'f' has more than one loss"         the second `loss` keyword
//     "flow 'f' applies network 'v' but has no loss"  the flow's name
//     "flow 'f' applies no model; a flow must apply exactly one network or
//       closed-form model"                      the flow's name (only when
//                                               the flow has no loss)
//     "flow 'f' applies model 'w' and model 'v'; a flow must apply exactly
//       one model"                              callee of the other model
//     "flow 'f' defines no time variable 't'"   the flow's name
//     "flow 'f' defines no source 'x0'"         the flow's name
//     "time variable 't' must be a scalar but is [2]"  `t` where defined
//     "source 'x0' must be drawn with '~'"      `x0` where defined
//   data
//     "unknown data generator 'toy.x'"          the callee
//     "unknown parameter 'foo' for 'toy.moons'" the argument name
//     "parameter 'noise' of 'toy.moons' is given twice"  the argument
//     "'toy.moons' takes at most 1 argument but 2 were given"  the callee
//     "'noise' must be >= 0 but is -1" (and > 0, < 1 forms)  the value
//   constants (data, network, tableau, settings)
//     "expected a constant number for 'noise'"  the offending subexpression
//     "number is out of range"                  the number
//     "division by zero in constant expression" the '/'
//     "constant expression is not finite"       the operator
//   models
//     "unknown network 'foo'; expected mlp(...)"    the callee
//     "unknown parameter 'foo' for 'mlp'"       the argument name
//     "'width' must be a positive integer but is 2.5"   the value
//     "unknown activation 'foo'; expected silu, relu, tanh or gelu"  value
//     "'time' must be fourier(K)"               the value
//     "'fourier' takes 1 argument but 2 were given"  the callee `fourier`
//     "number of Fourier features must be a positive integer but is 0"
//                                               the argument
//   solvers
//     "unknown solver form 'foo'; expected tableau(c: ..., a: ..., b: ...)"
//                                               the callee
//     "arguments of 'tableau' must be named c, a and b (and b_err, order)"
//                                               the argument
//     "unknown parameter 'd' for 'tableau'"     the argument name
//     "'tableau' is missing 'b'"                the callee `tableau`
//     "'c' must be a list of numbers"           the value
//     "'c' must not be empty"                   the '['
//     "c[0] must be 0 but is 0.5"               the first entry of c
//     "'b' has 3 entries but 'c' has 2"         the '[' of b
//     "entries of 'b' sum to 0.9 but must sum to 1"  the '[' of b
//     "'a' must be a list of rows"              the value
//     "'a' has 2 rows but needs 1 (one fewer than 'c' has entries)"
//                                               the '[' of a
//     "row 2 of 'a' must be a list"             the row
//     "row 2 of 'a' has 1 entry but needs 2"    the '[' of that row
//     "row 2 of 'a' sums to 0.4 but c is 0.5"   the '[' of that row
//     "'b_err' has 1 entry but 'b' has 2"       the '[' of b_err
//     "entries of 'b_err' sum to 0.9 but must sum to 1"  the '[' of b_err
//     "'order' must be a positive integer but is 0"  the value
//   train / sample
//     "unknown flow 'x'"                        the name after train/sample
//     "flow 'g' has no network to train"        the name after train
//     "'v' is not a flow"                       the name after train/sample
//     "unknown setting 'foo' in train block" (sample block)  setting name
//     "duplicate setting 'steps'"               the second setting name
//     "'steps' must be a positive integer but is 2.5"  (batch, n, solver
//       steps)                                  the value
//     "'seed' must be a non-negative integer but is -1"  the value
//     "'lr' must be a positive number but is 0" (also rtol, atol)  the value
//     "'ema' must be in [0, 1) but is 1"        the value
//     "unknown optimizer 'lion'; expected a fn such as adam(lr: ...) or
//       adamw (std.optimizers)"                 the optimizer's name
//     "optimizer 'adam' has no setting 'foo'"   the argument
//     "optimizer 'o' has state 's' (a parameter without a default) but no
//       fn 'o_s' that updates it"               the optimizer's name
//     "optimizer fn 'o' returns [2] but must return a scalar ..."  the name
//     "learning rate is given twice"            `adam(lr: ...)` when `lr:` is
//                                               also given
//     "unknown solver 'foo'"                    the value
//     "'v' is not a solver"                     the value
//     "unknown parameter 'foo' for solver 'heun'"   the argument
//     "solver steps are given twice"            the `steps` setting name
//     "expected a solver name, e.g. heun or heun(steps: 32)"  the value
//     "'label' needs a network applied to a label, as v(xt, t, y); flow 'g'
//       has none" (also 'guidance')             the setting name
//     "'label' must be a class of 0..1 but is 2"    the value
//     "'p' is not a fn; guidance is a fn such as cfg (import std.guidance)"
//                                               the value's name
//     "guidance fn 'g' must take the conditional and unconditional
//       velocities as its first two parameters" the value's name
//     "arguments of guidance fn 'cfg' must be named"  the argument
//     "fn 'cfg' has no parameter 'q'"           the argument name
//     "parameter 'v_u' of guidance fn 'cfg' is given by the sampler"  arg
//     "parameter 'w' of fn 'cfg' is given twice"    the argument
//     "guidance fn 'g' is missing argument 'k'" the value's name
//     "guidance fn 'g' returns scalar but the velocity is [2]"  value's name
//
// Syntax errors come from Parser.cpp, at the offending token: "expected X but
// found 'Y'", "unexpected 'Y'", "expected a declaration but found 'Y'",
// "unexpected character '$'", "unterminated string", "unterminated block
// comment", "expression is nested too deeply", "expression is too long",
// "comparisons cannot be chained; ..." (ASTBuilder, at the second operator),
// "file is not valid UTF-8" (at 1:1).
//
//===----------------------------------------------------------------------===//

#include "flowc/Lang/Frontend.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <functional>
#include <map>
#include <set>
#include <sstream>

using namespace flowc;
using namespace flowc::ast;

namespace {

//===----------------------------------------------------------------------===//
// Built-ins and formatting helpers
//===----------------------------------------------------------------------===//

enum class BuiltinFn {
  None,
  Math,    // exp log ... : one argument, per feature
  Normal,
  Uniform,
  Ddt,
  Mse,
  Reduce,  // sum mean norm: vector -> scalar
  Softmax, // vector -> vector
  Where,   // where(cond, a, b)
  Clamp,   // clamp(x, lo, hi)
  MinMax,  // min(a, b), max(a, b)
  OneHot,  // one_hot(k, n): scalar k, constant n -> [n]
  Reshape, // reshape(x, [dims]): the same elements in another shape
  Drop,    // drop(y, p): label y, or the null class -1 with probability p
};

BuiltinFn builtinFunction(const std::string &name) {
  static const std::set<std::string> math = {
      "exp",  "log",     "sin", "cos",   "tan",  "sqrt",
      "tanh", "sigmoid", "abs", "log1p", "expm1"};
  if (math.count(name))
    return BuiltinFn::Math;
  if (name == "sum" || name == "mean" || name == "norm")
    return BuiltinFn::Reduce;
  if (name == "softmax")
    return BuiltinFn::Softmax;
  if (name == "where")
    return BuiltinFn::Where;
  if (name == "clamp")
    return BuiltinFn::Clamp;
  if (name == "min" || name == "max")
    return BuiltinFn::MinMax;
  if (name == "one_hot")
    return BuiltinFn::OneHot;
  if (name == "drop")
    return BuiltinFn::Drop;
  if (name == "reshape")
    return BuiltinFn::Reshape;
  if (name == "normal")
    return BuiltinFn::Normal;
  if (name == "uniform")
    return BuiltinFn::Uniform;
  if (name == "ddt")
    return BuiltinFn::Ddt;
  if (name == "mse")
    return BuiltinFn::Mse;
  return BuiltinFn::None;
}

std::optional<double> builtinConstant(const std::string &name) {
  if (name == "pi")
    return 3.14159265358979323846;
  if (name == "e")
    return 2.71828182845904523536;
  return std::nullopt;
}

bool isBuiltinName(const std::string &name) {
  return builtinFunction(name) != BuiltinFn::None ||
         builtinConstant(name).has_value();
}

/// A built-in data generator: its name, parameters with defaults, the
/// shape of a sample and the number of classes of its labels.
struct Generator {
  const char *name;
  std::vector<std::pair<std::string, double>> params;
  std::vector<int64_t> shape;
  int64_t classes;
};

const std::vector<Generator> &generators() {
  static const std::vector<Generator> gens = {
      {"toy.moons", {{"noise", 0.05}}, {2}, 2},
      {"toy.eight_gaussians", {{"scale", 4.0}, {"noise", 0.1}}, {2}, 8},
      {"toy.checkerboard", {{"scale", 4.0}}, {2}, 8},
      {"toy.circles", {{"noise", 0.05}, {"factor", 0.8}}, {2}, 2}, // sklearn defaults
      // Images in [-1, 1], channels first (runtime/src/ImageData.cpp).
      {"images.digits", {}, {1, 8, 8}, 10},
      {"images.fashion_mnist", {{"test", 0.0}}, {1, 28, 28}, 10},
  };
  return gens;
}

/// Formats a number the way a user would write it: 0.5, 4, 1e-05.
std::string fmt(double v) {
  std::ostringstream os;
  os << v;
  return os.str();
}

std::string plural(size_t n, const char *one, const char *many) {
  return std::to_string(n) + " " + (n == 1 ? one : many);
}

bool isInteger(double v) {
  return std::isfinite(v) && std::floor(v) == v && std::fabs(v) < 9.0e15;
}

const char *declKindName(Decl::Kind kind) {
  switch (kind) {
  case Decl::Kind::Import:
    return "import";
  case Decl::Kind::Data:
    return "data";
  case Decl::Kind::Model:
    return "model";
  case Decl::Kind::Path:
    return "path";
  case Decl::Kind::Dist:
    return "dist";
  case Decl::Kind::Fn:
    return "fn";
  case Decl::Kind::Const:
    return "const";
  case Decl::Kind::Solver:
    return "solver";
  case Decl::Kind::Flow:
    return "flow";
  case Decl::Kind::Train:
    return "train";
  case Decl::Kind::Sample:
    return "sample";
  }
  return "declaration";
}

/// Gives each argument of a call a slot among `params`: positional ones in
/// order, named ones by name. Reports errors through `error` and returns
/// false on any; slots left empty are nullptr.
struct ArgBinding {
  std::vector<const Arg *> slots;
  bool ok = true;
};

//===----------------------------------------------------------------------===//
// Sema
//===----------------------------------------------------------------------===//

/// A name bound by a flow statement.
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

bool isFunctionDecl(const Decl *d) {
  return d && (d->kind == Decl::Kind::Path || d->kind == Decl::Kind::Dist ||
               d->kind == Decl::Kind::Fn);
}

class Sema {
public:
  Sema(Module &module, Diagnostics &diags, FileLoader &loader)
      : module(module), diags(diags), loader(loader) {}

  void run() {
    loadImports();
    collectGlobals();
    for (Decl *d : logicalOrder)
      if (d->kind == Decl::Kind::Const)
        evalConstDecl(static_cast<ConstDecl &>(*d));
    for (Decl *d : logicalOrder) {
      switch (d->kind) {
      case Decl::Kind::Data:
        checkData(static_cast<DataDecl &>(*d));
        break;
      case Decl::Kind::Model:
        checkModel(static_cast<ModelDecl &>(*d));
        break;
      case Decl::Kind::Path:
      case Decl::Kind::Dist:
      case Decl::Kind::Fn:
        checkFunction(static_cast<FunctionDecl &>(*d));
        break;
      case Decl::Kind::Solver:
        checkSolver(static_cast<SolverDecl &>(*d));
        break;
      default:
        break;
      }
    }
    checkCallCycles();
    for (Decl *d : logicalOrder)
      if (d->kind == Decl::Kind::Flow)
        checkFlow(static_cast<FlowDecl &>(*d));
    // One train and one sample block per flow: a second would silently
    // compete for the same generated program.
    std::set<std::pair<int, std::string>> runs;
    for (Decl *d : logicalOrder)
      if (d->kind == Decl::Kind::Train || d->kind == Decl::Kind::Sample) {
        auto &run = static_cast<RunDecl &>(*d);
        if (!runs.insert({int(run.kind), run.name}).second)
          error(run.nameLoc, std::string("flow '") + run.name + "' already has a " +
                                 (run.kind == Decl::Kind::Train ? "train" : "sample") +
                                 " block");
        checkRun(run);
      }
  }

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
  /// The model each flow applies.
  std::map<const FlowDecl *, const ModelDecl *> flowModel;
  /// Whether each network was first applied with a label.
  std::map<const ModelDecl *, bool> networkConditioned;

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

  void error(const Location &loc, const std::string &message) {
    diags.reportError(loc, message);
  }

  //===--------------------------------------------------------------------===//
  // Imports and top-level names
  //===--------------------------------------------------------------------===//

  static std::string normalize(const std::string &path) {
    return std::filesystem::path(path).lexically_normal().string();
  }

  void loadImports() {
    std::set<std::string> loaded;
    size_t originalCount = module.decls.size();
    for (auto &d : module.decls)
      if (d && !d->file.empty())
        loaded.insert(normalize(d->file));
    // module.decls grows while we walk it: imported files' imports are
    // handled when the loop reaches them.
    size_t i = 0;
    do {
      for (; i < module.decls.size(); ++i) {
        Decl *d = module.decls[i].get();
        if (!d || d->kind != Decl::Kind::Import)
          continue;
        auto &imp = static_cast<ImportDecl &>(*d);
        std::string path;
        if (imp.isFile) {
          std::filesystem::path name(imp.name);
          std::string from = !imp.file.empty() ? imp.file : imp.loc.file;
          path = name.is_absolute()
                     ? imp.name
                     : (std::filesystem::path(from).parent_path() / name).string();
        } else {
          std::string rel = imp.name;
          for (char &c : rel)
            if (c == '.')
              c = '/';
          path = loader.stdlibDir.empty() ? rel + ".flow"
                                          : loader.stdlibDir + "/" + rel + ".flow";
        }
        path = normalize(path);
        if (loaded.count(path)) {
          importedRange[d] = {0, 0};
          continue;
        }
        std::optional<std::string> text = loader.load(path);
        if (!text) {
          error(imp.nameLoc, std::string(imp.isFile ? "cannot find file '"
                                                    : "cannot find module '") +
                                 imp.name + "'");
          continue;
        }
        loaded.insert(path);
        size_t begin = module.decls.size();
        parseSource(path, *text, module, diags);
        for (size_t j = begin; j < module.decls.size(); ++j)
          if (module.decls[j] && module.decls[j]->file.empty())
            module.decls[j]->file = path;
        importedRange[d] = {begin, module.decls.size()};
      }
    } while (addOptimizerImport());
    std::set<const Decl *> visited;
    addInLogicalOrder(0, originalCount, visited);
    // The implicit import of std.optimizers comes logically last.
    for (size_t j = originalCount; j < module.decls.size(); ++j)
      if (module.decls[j] && module.decls[j]->kind == Decl::Kind::Import &&
          module.decls[j]->file.empty())
        addInLogicalOrder(j, j + 1, visited);
  }

  /// A train block's optimizer (default adam) that no file of the spec
  /// defines comes from std.optimizers, imported at the end as if the spec
  /// said `import std.optimizers`. Returns whether it appended the import.
  bool addOptimizerImport() {
    std::set<std::string> wanted, defined;
    for (auto &d : module.decls) {
      if (!d)
        continue;
      if (d->kind == Decl::Kind::Fn)
        defined.insert(d->name);
      if (d->kind == Decl::Kind::Import && d->name == "std.optimizers")
        return false;
      if (d->kind == Decl::Kind::Train)
        wanted.insert(optimizerName(static_cast<RunDecl &>(*d)));
    }
    for (const std::string &name : wanted)
      if (!name.empty() && !defined.count(name)) {
        auto imp = std::make_unique<ImportDecl>();
        imp->name = "std.optimizers";
        for (auto &d : module.decls)
          if (d && d->kind == Decl::Kind::Train &&
              optimizerName(static_cast<RunDecl &>(*d)) == name) {
            imp->loc = imp->nameLoc = d->loc;
            break;
          }
        module.decls.push_back(std::move(imp));
        return true;
      }
    return false;
  }

  /// The fn a train block's `optimizer:` names ("" for a malformed value).
  static std::string optimizerName(const RunDecl &run) {
    const Setting *s = run.find("optimizer");
    if (!s || !s->value)
      return "adam";
    if (s->value->kind == Expr::Kind::Name)
      return static_cast<const NameExpr &>(*s->value).name;
    if (s->value->kind == Expr::Kind::Call)
      return static_cast<const CallExpr &>(*s->value).callee;
    return "";
  }

  void addInLogicalOrder(size_t begin, size_t end,
                         std::set<const Decl *> &visited) {
    for (size_t i = begin; i < end && i < module.decls.size(); ++i) {
      Decl *d = module.decls[i].get();
      if (!d || !visited.insert(d).second)
        continue;
      if (d->kind == Decl::Kind::Import) {
        auto it = importedRange.find(d);
        if (it != importedRange.end())
          addInLogicalOrder(it->second.first, it->second.second, visited);
        continue;
      }
      logicalOrder.push_back(d);
    }
  }

  void collectGlobals() {
    for (Decl *d : logicalOrder) {
      switch (d->kind) {
      case Decl::Kind::Data:
      case Decl::Kind::Model:
      case Decl::Kind::Path:
      case Decl::Kind::Dist:
      case Decl::Kind::Fn:
      case Decl::Kind::Const:
      case Decl::Kind::Solver:
      case Decl::Kind::Flow:
        break;
      default:
        continue;
      }
      if (d->name.empty())
        continue;
      if (isBuiltinName(d->name)) {
        error(d->nameLoc, "cannot redefine built-in '" + d->name + "'");
        continue;
      }
      if (!globals.emplace(d->name, d).second)
        error(d->nameLoc, "redefinition of '" + d->name + "'");
    }
  }

  Decl *findGlobal(const std::string &name) {
    auto it = globals.find(name);
    return it == globals.end() ? nullptr : it->second;
  }

  //===--------------------------------------------------------------------===//
  // Constants
  //===--------------------------------------------------------------------===//

  /// Evaluates constant arithmetic (numbers, pi, e, unary minus, + - * / ^).
  /// `what` names the setting or parameter for the error message.
  std::optional<double> evalConstant(Expr *e, const std::string &what) {
    if (!e)
      return std::nullopt;
    switch (e->kind) {
    case Expr::Kind::Number: {
      double v = static_cast<NumberExpr *>(e)->value;
      if (!std::isfinite(v)) {
        error(e->loc, "number is out of range");
        return std::nullopt;
      }
      return v;
    }
    case Expr::Kind::Name: {
      auto *name = static_cast<NameExpr *>(e);
      // A local or parameter of the same name is not a constant.
      if (name->binding.kind == Binding::Kind::FlowLocal ||
          name->binding.kind == Binding::Kind::PathParam)
        break;
      if (auto c = builtinConstant(name->name)) {
        name->binding.kind = Binding::Kind::Constant;
        name->binding.constant = *c;
        return c;
      }
      Decl *d = findGlobal(name->name);
      if (d && d->kind == Decl::Kind::Const) {
        auto &cd = static_cast<ConstDecl &>(*d);
        if (constState[&cd] == 1) {
          error(name->loc, "const '" + cd.name + "' is defined in terms of itself");
          constState[&cd] = 3;
          return std::nullopt;
        }
        auto v = evalConstDecl(cd);
        if (v) {
          name->binding.kind = Binding::Kind::Constant;
          name->binding.constant = *v;
        }
        return v;
      }
      break;
    }
    case Expr::Kind::Unary: {
      auto *u = static_cast<UnaryExpr *>(e);
      if (auto v = evalConstant(u->operand.get(), what))
        return -*v;
      return std::nullopt;
    }
    case Expr::Kind::Binary: {
      auto *b = static_cast<BinaryExpr *>(e);
      auto l = evalConstant(b->lhs.get(), what);
      auto r = evalConstant(b->rhs.get(), what);
      if (!l || !r)
        return std::nullopt;
      double v = 0;
      switch (b->op) {
      case '+':
        v = *l + *r;
        break;
      case '-':
        v = *l - *r;
        break;
      case '*':
        v = *l * *r;
        break;
      case '/':
        if (*r == 0) {
          error(b->loc, "division by zero in constant expression");
          return std::nullopt;
        }
        v = *l / *r;
        break;
      case '^':
        v = std::pow(*l, *r);
        break;
      case '<':
        v = *l < *r;
        break;
      case '>':
        v = *l > *r;
        break;
      case 'L':
        v = *l <= *r;
        break;
      case 'G':
        v = *l >= *r;
        break;
      case '=':
        v = *l == *r;
        break;
      case '!':
        v = *l != *r;
        break;
      default:
        return std::nullopt;
      }
      if (!std::isfinite(v)) {
        error(b->loc, "constant expression is not finite");
        return std::nullopt;
      }
      return v;
    }
    default:
      break;
    }
    error(e->loc, "expected a constant number for " + what);
    return std::nullopt;
  }

  /// Evaluates a `const` declaration once; nullopt if it failed (reported).
  std::optional<double> evalConstDecl(ConstDecl &c) {
    int &state = constState[&c];
    if (state == 2)
      return c.number;
    if (state != 0)
      return std::nullopt;
    if (constDepth >= kMaxCallDepth) {
      error(c.nameLoc, "const '" + c.name + "' is defined through more than " +
                           std::to_string(kMaxCallDepth) + " other consts");
      state = 3;
      return std::nullopt;
    }
    state = 1;
    ++constDepth;
    auto v = evalConstant(c.value.get(), "const '" + c.name + "'");
    --constDepth;
    // The state may have been set to failed by a cycle through this const.
    int &after = constState[&c];
    if (v && after == 1) {
      c.number = *v;
      after = 2;
      infer(c.value.get());
      return v;
    }
    after = 3;
    return std::nullopt;
  }

  /// Evaluates `e` and checks it is an integer >= `min`.
  std::optional<int64_t> evalInteger(Expr *e, const std::string &what,
                                     int64_t min, const char *description) {
    auto v = evalConstant(e, what);
    if (!v)
      return std::nullopt;
    if (!isInteger(*v) || *v < static_cast<double>(min)) {
      error(e->loc, what + " must be " + description + " but is " + fmt(*v));
      return std::nullopt;
    }
    return static_cast<int64_t>(*v);
  }

  std::optional<int64_t> evalPositiveInt(Expr *e, const std::string &what) {
    return evalInteger(e, what, 1, "a positive integer");
  }

  /// Binds call arguments to named parameter slots. Positional arguments
  /// fill slots in order; `callee` names the function in messages, e.g.
  /// "'toy.moons'" or "path 'linear'".
  ArgBinding bindArgs(const CallExpr &call,
                      const std::vector<std::string> &params,
                      const std::string &callee) {
    ArgBinding result;
    result.slots.assign(params.size(), nullptr);
    size_t positional = 0;
    size_t numPositional = 0;
    bool sawNamed = false;
    for (const Arg &arg : call.args)
      if (arg.name.empty())
        ++numPositional;
    for (const Arg &arg : call.args) {
      size_t slot;
      if (arg.name.empty()) {
        if (sawNamed) {
          error(arg.loc, "positional argument after named argument");
          result.ok = false;
          continue;
        }
        slot = positional++;
        if (slot >= params.size()) {
          if (slot == params.size())
            error(call.calleeLoc,
                  callee + " takes at most " +
                      plural(params.size(), "argument", "arguments") +
                      " but " + std::to_string(numPositional) +
                      (numPositional == 1 ? " was" : " were") + " given");
          result.ok = false;
          continue;
        }
      } else {
        sawNamed = true;
        auto it = std::find(params.begin(), params.end(), arg.name);
        if (it == params.end()) {
          error(arg.loc,
                "unknown parameter '" + arg.name + "' for " + callee);
          result.ok = false;
          continue;
        }
        slot = static_cast<size_t>(it - params.begin());
      }
      if (result.slots[slot]) {
        error(arg.loc, "parameter '" + params[slot] + "' of " + callee +
                           " is given twice");
        result.ok = false;
        continue;
      }
      result.slots[slot] = &arg;
    }
    return result;
  }

  //===--------------------------------------------------------------------===//
  // Data and models
  //===--------------------------------------------------------------------===//

  void checkData(DataDecl &data) {
    CallExpr *src = data.source.get();
    if (!src || !checkedData.insert(&data).second)
      return;
    if (data.isTokenizer) {
      checkTokenizer(data);
      return;
    }
    if (src->callee == "file") {
      checkFileData(data);
      return;
    }
    const Generator *gen = nullptr;
    for (const Generator &g : generators())
      if (src->callee == g.name)
        gen = &g;
    if (!gen) {
      error(src->calleeLoc, "unknown data generator '" + src->callee + "'");
      return;
    }
    src->binding.kind = Binding::Kind::Builtin;
    std::vector<std::string> names;
    for (auto &p : gen->params)
      names.push_back(p.first);
    ArgBinding bound = bindArgs(*src, names, "'" + src->callee + "'");
    bool ok = bound.ok;
    std::vector<std::pair<std::string, double>> params = gen->params;
    for (size_t i = 0; i < names.size(); ++i) {
      const Arg *arg = bound.slots[i];
      if (!arg)
        continue;
      Expr *value = arg->value.get();
      auto v = evalConstant(value, "'" + names[i] + "'");
      if (!v) {
        ok = false;
        continue;
      }
      const std::string &n = names[i];
      std::string bad;
      if (n == "noise" && *v < 0)
        bad = "must be >= 0";
      else if (n == "scale" && *v <= 0)
        bad = "must be > 0";
      else if (n == "factor" && (*v <= 0 || *v >= 1))
        bad = "must be between 0 and 1 (exclusive)";
      else if (n == "test" && *v != 0 && *v != 1)
        bad = "must be 0 (the training images) or 1 (the test images)";
      if (!bad.empty()) {
        error(value->loc, "'" + n + "' " + bad + " but is " + fmt(*v));
        ok = false;
        continue;
      }
      params[i].second = *v;
    }
    data.shape = gen->shape;
    data.dim = Shape::tensor(gen->shape).numElements();
    data.classes = gen->classes;
    if (ok)
      data.params = std::move(params);
  }

  /// `tokenizer NAME = patchify(DATA, patch: P)`: DATA's images [C, H, W]
  /// as (H/P)(W/P) tokens of P*P*C values each (DiT's layout: a token's
  /// values ordered by row, column, channel); sampling decodes them back.
  void checkTokenizer(DataDecl &tok) {
    CallExpr &src = *tok.source;
    if (src.callee != "patchify") {
      error(src.calleeLoc, "unknown tokenizer '" + src.callee +
                               "'; expected patchify(DATA, patch: P)");
      return;
    }
    src.binding.kind = Binding::Kind::Builtin;
    ArgBinding bound = bindArgs(src, {"data", "patch"}, "'patchify'");
    if (!bound.ok)
      return;
    Expr *e = bound.slots[0] ? bound.slots[0]->value.get() : nullptr;
    Decl *d = e && e->kind == Expr::Kind::Name
                  ? findGlobal(static_cast<NameExpr *>(e)->name)
                  : nullptr;
    auto *data = d && d->kind == Decl::Kind::Data ? static_cast<DataDecl *>(d) : nullptr;
    if (!data || data->isTokenizer) {
      error(e ? e->loc : src.calleeLoc,
            "patchify(...) takes a data set as its first argument, e.g. patchify(images, patch: 4)");
      return;
    }
    static_cast<NameExpr *>(e)->binding.kind = Binding::Kind::Decl;
    static_cast<NameExpr *>(e)->binding.decl = data;
    checkData(*data);
    if (data->dim == 0)
      return; // reported
    if (data->shape.size() != 3) {
      error(e->loc, "patchify takes images [C, H, W]; data '" + data->name +
                        "' has samples of shape " + Shape::tensor(data->shape).str());
      return;
    }
    int64_t patch = 2;
    if (const Arg *a = bound.slots[1]) {
      auto p = evalPositiveInt(a->value.get(), "'patch'");
      if (!p)
        return;
      patch = *p;
    }
    int64_t c = data->shape[0], h = data->shape[1], w = data->shape[2];
    if (h % patch || w % patch) {
      error(bound.slots[1] ? bound.slots[1]->value->loc : src.calleeLoc,
            "a patch of " + std::to_string(patch) + " does not tile data '" + data->name +
                "' of shape " + Shape::tensor(data->shape).str());
      return;
    }
    if (data->tokenizer) {
      error(tok.nameLoc, "data '" + data->name + "' already has the tokenizer '" +
                             data->tokenizer->name + "'");
      return;
    }
    data->tokenizer = &tok;
    tok.tokenized = data;
    tok.patch = patch;
    tok.shape = {(h / patch) * (w / patch), patch * patch * c};
    tok.dim = data->dim;
    tok.classes = data->classes;
  }

  /// The file a string argument names, relative to the spec that names it,
  /// as an absolute path; reports a missing file (or a non-string) at the
  /// argument. The runtime reads the file, so it must exist when training.
  std::optional<std::string> filePath(const Arg *arg, const std::string &what) {
    Expr *e = arg ? arg->value.get() : nullptr;
    if (!e || e->kind != Expr::Kind::String) {
      error(e ? e->loc : Location(), what + " must be a file path in quotes, e.g. \"data/x.npy\"");
      return std::nullopt;
    }
    std::filesystem::path name(static_cast<StringExpr *>(e)->value);
    std::filesystem::path dir = std::filesystem::path(e->loc.file).parent_path();
    std::filesystem::path path = name.is_absolute() || e->loc.file == "<stdin>" ? name : dir / name;
    std::error_code ec;
    if (!std::filesystem::is_regular_file(path, ec)) {
      error(e->loc, "cannot find file '" + name.string() + "'" +
                        (name.is_absolute() ? "" : " (looked for " + path.string() + ")"));
      return std::nullopt;
    }
    return std::filesystem::absolute(path, ec).lexically_normal().string();
  }

  /// `file("x.npy", shape: [1, 28, 28], labels: "y.npy", classes: 10)`: the
  /// samples of a .npy, .csv or IDX file, each of `shape` (required: the
  /// kernels are compiled for it; the runtime checks the file against it),
  /// with optional integer labels 0 .. classes - 1 from a second file.
  void checkFileData(DataDecl &data) {
    CallExpr &src = *data.source;
    src.binding.kind = Binding::Kind::Builtin;
    ArgBinding bound = bindArgs(src, {"path", "shape", "labels", "classes"}, "'file'");
    if (!bound.ok)
      return;
    if (!bound.slots[0]) {
      error(src.calleeLoc, "file(...) needs the path of the data, e.g. file(\"x.npy\", shape: [2])");
      return;
    }
    auto path = filePath(bound.slots[0], "the first argument of file(...)");
    if (!bound.slots[1]) {
      error(src.calleeLoc, "file(...) needs the shape of one sample, e.g. "
                           "file(\"x.npy\", shape: [2])");
      return;
    }
    auto shape = evalShapeList(bound.slots[1]->value.get(), "'shape'");
    std::optional<std::string> labels;
    int64_t classes = 0;
    if (bound.slots[2]) {
      labels = filePath(bound.slots[2], "'labels'");
      if (!bound.slots[3]) {
        error(bound.slots[2]->loc, "labels need their number of classes, e.g. classes: 10");
        return;
      }
    }
    if (const Arg *a = bound.slots[3]) {
      if (!bound.slots[2]) {
        error(a->loc, "'classes' needs a labels file: labels: \"y.npy\"");
        return;
      }
      auto k = evalPositiveInt(a->value.get(), "'classes'");
      if (!k)
        return;
      classes = *k;
    }
    if (!path || !shape || (bound.slots[2] && !labels))
      return;
    data.path = *path;
    data.labelsPath = labels.value_or("");
    data.shape = *shape;
    data.dim = Shape::tensor(*shape).numElements();
    data.classes = classes;
  }

  void checkModel(ModelDecl &model) {
    if (!model.network) {
      checkClosedFormModel(model);
      return;
    }
    CallExpr &net = *model.network;
    if (net.callee == "unet" || net.callee == "dit") {
      checkImageNetwork(model);
      return;
    }
    if (net.callee == "torchscript") {
      // A module saved from PyTorch (torch.jit.script(m).save("v.pt")); its
      // forward takes (x [n, D], t [n, 1]) or, conditional, also y [n, 1].
      net.binding.kind = Binding::Kind::Builtin;
      ArgBinding bound = bindArgs(net, {"path"}, "'torchscript'");
      if (!bound.ok)
        return;
      if (!bound.slots[0]) {
        error(net.calleeLoc, "torchscript(...) needs the module's file, e.g. torchscript(\"v.pt\")");
        return;
      }
      if (auto path = filePath(bound.slots[0], "the argument of torchscript(...)"))
        model.path = *path;
      return;
    }
    if (net.callee != "mlp") {
      error(net.calleeLoc, "unknown network '" + net.callee +
                               "'; expected mlp(...), unet(...), dit(...) or torchscript(...)");
      return;
    }
    net.binding.kind = Binding::Kind::Builtin;
    ArgBinding bound =
        bindArgs(net, {"width", "depth", "act", "time"}, "'mlp'");
    if (const Arg *a = bound.slots[0])
      if (auto v = evalPositiveInt(a->value.get(), "'width'"))
        model.width = *v;
    if (const Arg *a = bound.slots[1])
      if (auto v = evalPositiveInt(a->value.get(), "'depth'"))
        model.depth = *v;
    if (const Arg *a = bound.slots[2]) {
      Expr *value = a->value.get();
      auto *name = value && value->kind == Expr::Kind::Name
                       ? static_cast<NameExpr *>(value)
                       : nullptr;
      static const std::set<std::string> acts = {"silu", "relu", "tanh",
                                                 "gelu"};
      if (name && acts.count(name->name)) {
        name->binding.kind = Binding::Kind::Builtin;
        model.activation = name->name;
      } else if (value) {
        std::string shown = name ? name->name
                            : value->kind == Expr::Kind::Call
                                ? static_cast<CallExpr *>(value)->callee
                                : std::string("expression");
        error(value->loc, "unknown activation '" + shown +
                              "'; expected silu, relu, tanh or gelu");
      }
    }
    if (const Arg *a = bound.slots[3])
      checkTimeEmbedding(a->value.get(), model);
  }

  /// `unet(width: 32, depth: 2, time: fourier(16))` (width: base channels,
  /// depth: resolution levels) or `dit(width: 96, depth: 4, heads: 4,
  /// patch: 2, time: fourier(16))` (width: token features, depth: blocks).
  /// Both take images [C, H, W]; the runtime checks the image fits.
  void checkImageNetwork(ModelDecl &model) {
    CallExpr &net = *model.network;
    bool unet = net.callee == "unet";
    net.binding.kind = Binding::Kind::Builtin;
    model.width = unet ? 32 : 96;
    model.depth = unet ? 2 : 4;
    model.heads = unet ? 0 : 4;
    model.patch = unet ? 0 : 2;
    std::vector<std::string> names = {"width", "depth", "time"};
    if (!unet)
      names.insert(names.end(), {"heads", "patch"});
    ArgBinding bound = bindArgs(net, names, "'" + net.callee + "'");
    int64_t *fields[] = {&model.width, &model.depth, nullptr, &model.heads, &model.patch};
    for (size_t i = 0; i < names.size(); ++i)
      if (const Arg *a = bound.slots[i]) {
        if (!fields[i])
          checkTimeEmbedding(a->value.get(), model);
        else if (auto v = evalPositiveInt(a->value.get(), "'" + names[i] + "'"))
          *fields[i] = *v;
      }
    if (unet && model.width % 8)
      error(net.calleeLoc, "unet's width (base channels) must be a multiple of 8 but is " +
                               std::to_string(model.width));
    if (!unet && model.width % model.heads)
      error(net.calleeLoc, "dit's width " + std::to_string(model.width) +
                               " must be a multiple of its heads " + std::to_string(model.heads));
  }

  void checkTimeEmbedding(Expr *value, ModelDecl &model) {
    if (!value)
      return;
    if (value->kind != Expr::Kind::Call ||
        static_cast<CallExpr *>(value)->callee != "fourier") {
      error(value->loc, "'time' must be fourier(K)");
      return;
    }
    auto &call = static_cast<CallExpr &>(*value);
    call.binding.kind = Binding::Kind::Builtin;
    if (call.args.size() != 1) {
      error(call.calleeLoc, "'fourier' takes 1 argument but " +
                                std::to_string(call.args.size()) +
                                (call.args.size() == 1 ? " was" : " were") +
                                " given");
      return;
    }
    // Features come in sin/cos pairs, one pair per frequency.
    if (auto v = evalInteger(call.args[0].value.get(),
                             "number of Fourier features", 1,
                             "a positive integer")) {
      if (*v % 2)
        error(call.args[0].value->loc,
              "number of Fourier features must be even (sin/cos pairs) but is " +
                  std::to_string(*v));
      model.timeFeatures = *v;
    }
  }

  /// `model u(x, t) = expr`: two parameters without defaults; the body is
  /// checked like a path's (no draws, no networks, no ddt) and its shape at
  /// each call.
  void checkClosedFormModel(ModelDecl &model) {
    checkParamNames(model.params);
    for (const Param &p : model.params)
      if (p.defaultValue) {
        error(p.loc, "parameters of model '" + model.name +
                         "' cannot have default values");
        badModels.insert(&model);
      }
    if (model.params.size() != 2) {
      error(model.nameLoc, "closed-form model '" + model.name +
                               "' takes 2 parameters (x, t) but has " +
                               std::to_string(model.params.size()));
      badModels.insert(&model);
    }
    checkBody(model, model.params, model.lets, model.body.get());
  }

  //===--------------------------------------------------------------------===//
  // Definitions: path, dist, fn
  //===--------------------------------------------------------------------===//

  void checkParamNames(const std::vector<Param> &params) {
    std::set<std::string> seen;
    for (const Param &p : params) {
      if (isBuiltinName(p.name))
        error(p.loc, "cannot redefine built-in '" + p.name + "'");
      else if (!seen.insert(p.name).second)
        error(p.loc, "duplicate parameter '" + p.name + "'");
    }
  }

  void checkFunction(FunctionDecl &fn) {
    checkParamNames(fn.params);
    // Defaults: constants, and only on trailing parameters.
    const Param *firstDefault = nullptr;
    for (Param &p : fn.params) {
      if (p.defaultValue) {
        if (!firstDefault)
          firstDefault = &p;
        if (evalConstant(p.defaultValue.get(),
                         "the default of '" + p.name + "'"))
          infer(p.defaultValue.get());
      } else if (firstDefault) {
        error(p.loc, "parameter '" + p.name +
                         "' needs a default value because it follows '" +
                         firstDefault->name + "', which has one");
      }
    }
    checkBody(fn, fn.params, fn.lets, fn.body.get());
  }

  /// Resolves the `let`s and the final expression of a definition.
  void checkBody(Decl &def, std::vector<Param> &params,
                 std::vector<std::unique_ptr<FlowStmt>> &lets, Expr *body) {
    auto &locals = defLets[&def];
    Scope scope;
    scope.def = &def;
    scope.params = &params;
    scope.locals = &locals;
    for (auto &let : lets) {
      if (!let || let->names.empty() || let->nameLocs.empty())
        continue;
      let->shapes.assign(1, Shape());
      resolve(let->value.get(), scope);
      const std::string &name = let->names[0];
      const Location &loc = let->nameLocs[0];
      bool isParam = false;
      for (const Param &p : params)
        isParam |= p.name == name;
      if (isBuiltinName(name))
        error(loc, "cannot redefine built-in '" + name + "'");
      else if (isParam || locals.count(name) || findGlobal(name))
        error(loc, "redefinition of '" + name + "'");
      else
        locals[name] = FlowLocal{let.get(), 0, false};
    }
    resolve(body, scope);
  }

  //===--------------------------------------------------------------------===//
  // Names and calls in expressions
  //===--------------------------------------------------------------------===//

  /// "path 'p'", "dist 'd'", "fn 'f'", "model 'u'".
  static std::string describe(const Decl &d) {
    return std::string(declKindName(d.kind)) + " '" + d.name + "'";
  }

  /// Resolves names and calls in `e` (setting bindings and orderedArgs) and
  /// reports name, arity and context errors. Shapes are inferred later by
  /// `infer`, which skips anything left unresolved here.
  void resolve(Expr *e, Scope &scope) {
    if (!e)
      return;
    switch (e->kind) {
    case Expr::Kind::Number:
      if (!std::isfinite(static_cast<NumberExpr *>(e)->value))
        error(e->loc, "number is out of range");
      return;
    case Expr::Kind::Name:
      resolveName(static_cast<NameExpr &>(*e), scope);
      return;
    case Expr::Kind::Unary:
      resolve(static_cast<UnaryExpr *>(e)->operand.get(), scope);
      return;
    case Expr::Kind::Binary: {
      auto *b = static_cast<BinaryExpr *>(e);
      resolve(b->lhs.get(), scope);
      resolve(b->rhs.get(), scope);
      return;
    }
    case Expr::Kind::Call:
      resolveCall(static_cast<CallExpr &>(*e), scope);
      return;
    case Expr::Kind::List:
      error(e->loc, "lists are only allowed in solver tableaux and shape lists");
      return;
    case Expr::Kind::String:
      error(e->loc, "a string is only allowed as a file path: file(\"...\") and "
                    "torchscript(\"...\")");
      return;
    case Expr::Kind::Index:
      resolveIndex(static_cast<IndexExpr &>(*e), scope);
      return;
    }
  }

  /// `x[i]`: i must be a constant integer; the range is checked with shapes.
  void resolveIndex(IndexExpr &index, Scope &scope) {
    resolve(index.base.get(), scope);
    Expr *i = index.index.get();
    if (!i)
      return;
    auto v = evalConstant(i, "an index");
    if (!v)
      return;
    if (!isInteger(*v)) {
      error(i->loc, "index must be an integer but is " + fmt(*v));
      return;
    }
    index.position = static_cast<int64_t>(*v);
    constantIndex.insert(&index);
    infer(i);
  }

  void resolveName(NameExpr &name, Scope &scope) {
    Binding &b = name.binding;
    if (scope.locals) {
      auto it = scope.locals->find(name.name);
      if (it != scope.locals->end()) {
        b.kind = Binding::Kind::FlowLocal;
        b.stmt = it->second.stmt;
        b.stmtIndex = it->second.index;
        return;
      }
    }
    if (scope.params)
      for (const Param &p : *scope.params)
        if (p.name == name.name) {
          b.kind = Binding::Kind::PathParam;
          b.param = &p;
          return;
        }
    if (auto c = builtinConstant(name.name)) {
      b.kind = Binding::Kind::Constant;
      b.constant = *c;
      return;
    }
    if (Decl *d = findGlobal(name.name)) {
      if (d->kind == Decl::Kind::Const) {
        // Reported where the const is declared if it fails.
        if (auto v = evalConstDecl(static_cast<ConstDecl &>(*d))) {
          b.kind = Binding::Kind::Constant;
          b.constant = *v;
        }
        return;
      }
      if (d->kind == Decl::Kind::Data)
        error(name.loc, "cannot use data '" + name.name +
                            "' as a value; draw from it with '~'");
      else
        error(name.loc, std::string("cannot use ") + declKindName(d->kind) +
                            " '" + name.name + "' as a value");
      return;
    }
    if (builtinFunction(name.name) != BuiltinFn::None) {
      error(name.loc, "cannot use function '" + name.name + "' as a value");
      return;
    }
    error(name.loc, "use of undefined name '" + name.name + "'");
  }

  void resolveArgs(CallExpr &call, Scope &scope) {
    for (Arg &arg : call.args)
      if (!isShapeList(call, arg))
        resolve(arg.value.get(), scope);
  }

  /// Shape lists, the one place outside tableaux where `[...]` is allowed:
  /// reshape(x, [3, 4]) and normal(shape: [3, 4]) (also uniform).
  static bool isShapeList(const CallExpr &call, const Arg &arg) {
    if (!arg.value || arg.value->kind != Expr::Kind::List)
      return false;
    BuiltinFn fn = builtinFunction(call.callee);
    if (fn == BuiltinFn::Reshape)
      return &arg == &call.args.back() && call.args.size() == 2;
    return (fn == BuiltinFn::Normal || fn == BuiltinFn::Uniform) &&
           arg.name == "shape";
  }

  /// The dimensions a shape list gives, each a positive integer constant.
  std::optional<std::vector<int64_t>> evalShapeList(Expr *e, const std::string &what) {
    auto *list = e && e->kind == Expr::Kind::List ? static_cast<ListExpr *>(e) : nullptr;
    if (!list || list->elements.empty()) {
      error(e ? e->loc : Location(), what + " must be a list of positive "
                                             "integers, e.g. [3, 4]");
      return std::nullopt;
    }
    std::vector<int64_t> dims;
    for (auto &element : list->elements) {
      auto d = evalPositiveInt(element.get(), "a dimension of " + what);
      if (!d)
        return std::nullopt;
      dims.push_back(*d);
    }
    return dims;
  }

  /// Checks that a built-in takes exactly `n` positional arguments.
  bool checkBuiltinArity(CallExpr &call, size_t n) {
    bool ok = true;
    for (const Arg &arg : call.args)
      if (!arg.name.empty()) {
        error(arg.loc, "'" + call.callee + "' does not take named arguments");
        ok = false;
      }
    if (ok && call.args.size() != n) {
      error(call.calleeLoc, "'" + call.callee + "' takes " +
                                plural(n, "argument", "arguments") + " but " +
                                std::to_string(call.args.size()) +
                                (call.args.size() == 1 ? " was" : " were") +
                                " given");
      ok = false;
    }
    return ok;
  }

  void resolveCall(CallExpr &call, Scope &scope) {
    resolveArgs(call, scope);
    bool isLocal = scope.locals && scope.locals->count(call.callee);
    bool isParam = false;
    if (scope.params)
      for (const Param &p : *scope.params)
        isParam |= p.name == call.callee;
    if (isLocal || isParam || builtinConstant(call.callee)) {
      error(call.calleeLoc, "'" + call.callee + "' is not a function");
      return;
    }
    if (Decl *d = findGlobal(call.callee)) {
      switch (d->kind) {
      case Decl::Kind::Path:
      case Decl::Kind::Fn:
        resolveDefCall(call, static_cast<FunctionDecl &>(*d), scope);
        return;
      case Decl::Kind::Dist:
        // A dist is a draw: allowed inside another dist, else only on the
        // right of `~`.
        if (scope.def && scope.def->kind == Decl::Kind::Dist) {
          resolveDefCall(call, static_cast<FunctionDecl &>(*d), scope);
          return;
        }
        if (scope.def) {
          error(call.calleeLoc,
                describe(*scope.def) + " cannot draw random numbers");
          return;
        }
        error(call.calleeLoc, "cannot call dist '" + call.callee +
                                  "' in an expression; draw from it with '~'");
        return;
      case Decl::Kind::Model:
        resolveModelCall(call, static_cast<ModelDecl &>(*d), scope);
        return;
      case Decl::Kind::Data:
        error(call.calleeLoc, "cannot call data '" + call.callee +
                                  "'; draw from it with '~'");
        return;
      default:
        error(call.calleeLoc, "'" + call.callee + "' is not a function");
        return;
      }
    }
    BuiltinFn fn = builtinFunction(call.callee);
    switch (fn) {
    case BuiltinFn::Reduce:
      if (call.args.size() >= 2) {
        resolveAxis(call);
        return;
      }
      [[fallthrough]];
    case BuiltinFn::Math:
    case BuiltinFn::Softmax:
      if (checkBuiltinArity(call, 1))
        call.binding.kind = Binding::Kind::Builtin;
      return;
    case BuiltinFn::Reshape:
      if (!checkBuiltinArity(call, 2))
        return;
      if (auto dims = evalShapeList(call.args[1].value.get(), "the shape of 'reshape'")) {
        call.constantArgs.assign(dims->begin(), dims->end());
        call.binding.kind = Binding::Kind::Builtin;
      }
      return;
    case BuiltinFn::MinMax:
      if (checkBuiltinArity(call, 2))
        call.binding.kind = Binding::Kind::Builtin;
      return;
    case BuiltinFn::Where:
    case BuiltinFn::Clamp:
      if (checkBuiltinArity(call, 3))
        call.binding.kind = Binding::Kind::Builtin;
      return;
    case BuiltinFn::OneHot:
      if (!checkBuiltinArity(call, 2))
        return;
      if (auto n = evalPositiveInt(call.args[1].value.get(),
                                   "the length of 'one_hot'")) {
        call.binding.kind = Binding::Kind::Builtin;
        oneHotLength[&call] = *n;
      }
      return;
    case BuiltinFn::Drop:
      resolveDrop(call, scope);
      return;
    case BuiltinFn::Ddt:
      if (!scope.flow) {
        error(call.calleeLoc, "'ddt' can only be used inside a flow");
        return;
      }
      if (!scope.locals || !scope.locals->count("t")) {
        error(call.calleeLoc,
              "'ddt' needs the time variable 't' defined earlier in flow '" +
                  scope.flow->name + "'");
        return;
      }
      if (checkBuiltinArity(call, 1))
        call.binding.kind = Binding::Kind::Builtin;
      return;
    case BuiltinFn::Normal:
    case BuiltinFn::Uniform:
      if (scope.def && scope.def->kind == Decl::Kind::Dist) {
        resolveStandardDraw(call, scope);
        return;
      }
      if (scope.def) {
        error(call.calleeLoc,
              describe(*scope.def) + " cannot draw random numbers");
        return;
      }
      error(call.calleeLoc,
            "'" + call.callee + "' can only be used on the right of '~'");
      return;
    case BuiltinFn::Mse:
      error(call.calleeLoc, "'mse' can only be used as a flow's loss");
      return;
    case BuiltinFn::None:
      break;
    }
    error(call.calleeLoc, "unknown function '" + call.callee + "'");
  }

  /// `sum(x, axis: k)` (also mean, norm; the axis may be positional): k a
  /// constant integer, negative counting from the last axis.
  void resolveAxis(CallExpr &call) {
    if (call.args.size() > 2) {
      error(call.calleeLoc, "'" + call.callee + "' takes 1 or 2 arguments (x, axis) but " +
                                std::to_string(call.args.size()) + " were given");
      return;
    }
    bool ok = true;
    if (!call.args[0].name.empty()) {
      error(call.args[0].loc, "'" + call.callee + "' takes 'axis' as its only named argument");
      ok = false;
    }
    for (size_t i = 1; i < call.args.size(); ++i) {
      const Arg &arg = call.args[i];
      if (!arg.name.empty() && arg.name != "axis") {
        error(arg.loc, "'" + call.callee + "' takes 'axis' as its only named argument");
        ok = false;
      }
    }
    if (!ok)
      return;
    Expr *axis = call.args[1].value.get();
    auto v = evalConstant(axis, "an axis");
    if (!v)
      return;
    if (!isInteger(*v)) {
      error(axis->loc, "axis must be an integer but is " + fmt(*v));
      return;
    }
    call.constantArgs = {*v};
    call.binding.kind = Binding::Kind::Builtin;
  }

  /// `drop(y, p)`: condition dropout, a random draw, so only in flows.
  void resolveDrop(CallExpr &call, Scope &scope) {
    if (scope.def) {
      error(call.calleeLoc, describe(*scope.def) + " cannot draw random numbers");
      return;
    }
    if (!checkBuiltinArity(call, 2))
      return;
    Expr *label = call.args[0].value.get();
    if (label && labelClasses(label) == 0) {
      error(label->loc, "first argument of 'drop' must be a class label drawn "
                        "with the data, as y in 'x1, y ~ moons'");
      return;
    }
    Expr *prob = call.args[1].value.get();
    auto p = evalConstant(prob, "the probability of 'drop'");
    if (!p)
      return;
    if (*p < 0 || *p > 1) {
      error(prob->loc,
            "the probability of 'drop' must be in [0, 1] but is " + fmt(*p));
      return;
    }
    call.constantArgs = {*p};
    call.binding.kind = Binding::Kind::Builtin;
  }

  /// The data set a draw's right side names, if it is one.
  static const DataDecl *drawnData(const Expr *value) {
    if (!value || value->kind != Expr::Kind::Name)
      return nullptr;
    auto &name = static_cast<const NameExpr &>(*value);
    if (name.binding.kind != Binding::Kind::Decl || !name.binding.decl ||
        name.binding.decl->kind != Decl::Kind::Data)
      return nullptr;
    return static_cast<const DataDecl *>(name.binding.decl);
  }

  /// The classes of `e` if it is a class label: the second name of a data
  /// draw (`x1, y ~ moons`), a flow name bound to a label, or drop() of
  /// one. 0 for anything else.
  static int64_t labelClasses(const Expr *e) {
    if (!e)
      return 0;
    if (e->kind == Expr::Kind::Call) {
      auto &call = static_cast<const CallExpr &>(*e);
      if (call.callee == "drop" && call.binding.kind == Binding::Kind::Builtin &&
          !call.args.empty())
        return labelClasses(call.args[0].value.get());
      return 0;
    }
    if (e->kind != Expr::Kind::Name)
      return 0;
    const Binding &b = static_cast<const NameExpr &>(*e).binding;
    if (b.kind != Binding::Kind::FlowLocal || !b.stmt)
      return 0;
    if (b.stmt->kind == FlowStmt::Kind::Draw) {
      const DataDecl *data = drawnData(b.stmt->value.get());
      return data && b.stmtIndex == 1 ? data->classes : 0;
    }
    if (b.stmt->kind == FlowStmt::Kind::Let)
      return labelClasses(b.stmt->value.get());
    return 0;
  }

  /// `normal()` / `uniform()` inside a dist: a standard draw, a scalar or
  /// shaped like a parameter (`like: p`).
  void resolveStandardDraw(CallExpr &call, Scope &scope) {
    const Expr *like = nullptr;
    for (const Arg &arg : call.args) {
      const Expr *v = arg.value.get();
      bool namesParam =
          v && v->kind == Expr::Kind::Name &&
          static_cast<const NameExpr *>(v)->binding.kind ==
              Binding::Kind::PathParam;
      if (arg.name != "like" || !namesParam || like) {
        error(arg.loc, "inside " + describe(*scope.def) + ", '" +
                           call.callee +
                           "' takes no arguments other than 'like: PARAM'");
        return;
      }
      like = v;
    }
    call.binding.kind = Binding::Kind::Builtin;
    call.orderedArgs = {nullptr, nullptr, like};
  }

  /// Error messages of bindArguments, worded for the kind of callee.
  struct ArgumentMessages {
    std::function<std::string(const std::string &)> unknown; // no such parameter
    std::function<std::string(const std::string &)> twice;   // bound twice
    std::function<std::string(size_t)> tooManyPositional;    // optional
  };

  /// Binds a call's arguments to `params`: positional ones in order (at most
  /// `maxPositional`), then named ones. slots[i] is the argument bound to
  /// params[i], or null. Reports each error and returns false if any.
  bool bindArguments(const CallExpr &call, const std::vector<std::string> &params,
                     size_t maxPositional, const ArgumentMessages &messages,
                     std::vector<const Arg *> &slots) {
    slots.assign(params.size(), nullptr);
    size_t positional = 0, numPositional = 0;
    for (const Arg &arg : call.args)
      numPositional += arg.name.empty();
    bool ok = true, sawNamed = false;
    for (const Arg &arg : call.args) {
      size_t slot = 0;
      if (arg.name.empty()) {
        if (sawNamed) {
          error(arg.loc, "positional argument after named argument");
          ok = false;
          continue;
        }
        slot = positional++;
        if (slot >= maxPositional) {
          if (slot == maxPositional && messages.tooManyPositional)
            error(call.calleeLoc, messages.tooManyPositional(numPositional));
          ok = false;
          continue;
        }
      } else {
        sawNamed = true;
        auto it = std::find(params.begin(), params.end(), arg.name);
        if (it == params.end()) {
          error(arg.loc, messages.unknown(arg.name));
          ok = false;
          continue;
        }
        slot = static_cast<size_t>(it - params.begin());
      }
      if (slots[slot]) {
        error(arg.loc, messages.twice(params[slot]));
        ok = false;
        continue;
      }
      slots[slot] = &arg;
    }
    return ok;
  }

  /// A call of a path, dist or fn: binds the arguments to the parameters
  /// (positional, then named; defaulted ones may be left out).
  void resolveDefCall(CallExpr &call, FunctionDecl &def, Scope &scope) {
    std::string callee = describe(def);
    size_t total = def.params.size(), required = 0;
    for (const Param &p : def.params)
      required += !p.defaultValue;
    if (call.args.size() > total || call.args.size() < required) {
      std::string takes =
          required == total
              ? plural(total, "argument", "arguments")
              : std::to_string(required) + " to " + std::to_string(total) +
                    " arguments";
      error(call.calleeLoc, callee + " takes " + takes + " but " +
                                std::to_string(call.args.size()) +
                                (call.args.size() == 1 ? " was" : " were") +
                                " given");
      return;
    }
    std::vector<std::string> names;
    for (const Param &p : def.params)
      names.push_back(p.name);
    ArgumentMessages messages;
    messages.unknown = [&](const std::string &n) {
      return callee + " has no parameter '" + n + "'";
    };
    messages.twice = [&](const std::string &n) {
      return "parameter '" + n + "' of " + callee + " is given twice";
    };
    std::vector<const Arg *> slots;
    bool ok = bindArguments(call, names, total, messages, slots);
    if (!ok)
      return;
    for (size_t i = 0; i < total; ++i)
      if (!slots[i] && !def.params[i].defaultValue) {
        error(call.calleeLoc, callee + " is missing argument '" +
                                  def.params[i].name + "'");
        ok = false;
      }
    if (!ok)
      return;
    call.binding.kind = Binding::Kind::Decl;
    call.binding.decl = &def;
    call.orderedArgs.clear();
    for (const Arg *arg : slots)
      call.orderedArgs.push_back(arg ? arg->value.get() : nullptr);
    if (isFunctionDecl(scope.def))
      defCallees[static_cast<FunctionDecl *>(scope.def)].push_back(
          {&def, &call});
  }

  void resolveModelCall(CallExpr &call, ModelDecl &model, Scope &scope) {
    if (scope.def) {
      error(call.calleeLoc, "cannot call model '" + model.name + "' inside a " +
                                declKindName(scope.def->kind));
      return;
    }
    bool ok = true;
    for (const Arg &arg : call.args)
      if (!arg.name.empty()) {
        error(arg.loc, "arguments of model '" + model.name +
                           "' cannot be named");
        ok = false;
      }
    size_t given = call.args.size();
    bool conditional = model.network && given == 3;
    if (ok && given != 2 && !conditional) {
      error(call.calleeLoc, "model '" + model.name + "' takes " +
                                (model.network ? "2 or 3 arguments (x, t, label)"
                                               : "2 arguments (x, t)") +
                                " but " + std::to_string(given) +
                                (given == 1 ? " was" : " were") + " given");
      ok = false;
    }
    if (!ok)
      return;
    call.binding.kind = Binding::Kind::Decl;
    call.binding.decl = &model;
    call.orderedArgs = {call.args[0].value.get(), call.args[1].value.get()};
    if (model.network)
      checkNetworkCondition(call, model, conditional);
  }

  /// A network is applied with a label everywhere or nowhere, and always to
  /// labels of the same number of classes.
  void checkNetworkCondition(CallExpr &call, ModelDecl &model,
                             bool conditional) {
    auto first = networkConditioned.find(&model);
    if (first != networkConditioned.end() && first->second != conditional) {
      error(call.calleeLoc,
            "model '" + model.name + "' is applied " +
                (conditional ? "without" : "with") +
                " a label elsewhere; apply it the same way everywhere");
      return;
    }
    networkConditioned[&model] = conditional;
    if (!conditional)
      return;
    Expr *label = call.args[2].value.get();
    call.orderedArgs.push_back(label);
    int64_t classes = labelClasses(label);
    bool badDrop = label && label->kind == Expr::Kind::Call &&
                   static_cast<CallExpr *>(label)->callee == "drop" &&
                   static_cast<CallExpr *>(label)->binding.kind ==
                       Binding::Kind::Unresolved; // already reported
    if (badDrop) {
      return;
    } else if (classes == 0) {
      error(label->loc, "third argument of model '" + model.name +
                            "' must be a class label drawn with the data (y "
                            "in 'x1, y ~ moons') or drop() of one");
    } else if (model.classes != 0 && model.classes != classes) {
      error(label->loc, "model '" + model.name + "' is applied to labels of " +
                            std::to_string(classes) + " classes here but of " +
                            std::to_string(model.classes) + " elsewhere");
    } else {
      model.classes = classes;
    }
  }

  //===--------------------------------------------------------------------===//
  // Shapes
  //===--------------------------------------------------------------------===//

  void shapeError(const Location &loc, const std::string &message) {
    if (!pathSite) {
      error(loc, message);
      return;
    }
    shapeMessages.push_back(message);
    if (pathSiteReported)
      return;
    pathSiteReported = true;
    error(pathSite->calleeLoc, "in " + describe(*pathSiteDecl) + ": " + message);
  }

  /// Broadcasts two shapes (scalar with anything); nullopt if they clash.
  /// numpy's broadcasting: shapes align at their last axes, and an axis of
  /// size 1 (or one a shape lacks) takes the other's size.
  static std::optional<Shape> broadcast(const Shape &a, const Shape &b) {
    if (!a.isKnown() || !b.isKnown())
      return Shape();
    if (a.isScalar())
      return b;
    if (b.isScalar())
      return a;
    const Shape &longer = a.rank() >= b.rank() ? a : b;
    const Shape &shorter = a.rank() >= b.rank() ? b : a;
    std::vector<int64_t> dims = longer.dims;
    size_t offset = longer.rank() - shorter.rank();
    for (size_t i = 0; i < shorter.rank(); ++i) {
      int64_t &d = dims[offset + i];
      int64_t e = shorter.dims[i];
      if (d != e && d != 1 && e != 1)
        return std::nullopt;
      d = std::max(d, e);
    }
    return Shape::tensor(dims);
  }

  /// Infers and stores the shape of a resolved expression. Unknown (with no
  /// new error) wherever resolution already failed.
  Shape infer(Expr *e) {
    if (!e)
      return Shape();
    Shape s = inferImpl(*e);
    e->shape = s;
    return s;
  }

  Shape inferImpl(Expr &e) {
    switch (e.kind) {
    case Expr::Kind::Number:
      return Shape::scalar();
    case Expr::Kind::Name: {
      const Binding &b = static_cast<NameExpr &>(e).binding;
      switch (b.kind) {
      case Binding::Kind::Constant:
        return Shape::scalar();
      case Binding::Kind::FlowLocal:
        if (b.stmt && b.stmtIndex < b.stmt->shapes.size())
          return b.stmt->shapes[b.stmtIndex];
        return Shape();
      case Binding::Kind::PathParam:
        return b.param ? b.param->shape : Shape();
      default:
        return Shape();
      }
    }
    case Expr::Kind::Unary:
      return infer(static_cast<UnaryExpr &>(e).operand.get());
    case Expr::Kind::Binary: {
      auto &b = static_cast<BinaryExpr &>(e);
      Shape l = infer(b.lhs.get());
      Shape r = infer(b.rhs.get());
      if (b.op == '^') {
        if (r.isKnown() && !r.isScalar()) {
          shapeError(b.loc, "exponent must be a scalar but is " + r.str());
          return Shape();
        }
        return l;
      }
      auto s = broadcast(l, r);
      if (!s) {
        shapeError(b.loc, "shape mismatch: " + l.str() + " and " + r.str());
        return Shape();
      }
      return *s;
    }
    case Expr::Kind::Call:
      return inferCall(static_cast<CallExpr &>(e));
    case Expr::Kind::List:
    case Expr::Kind::String:
      return Shape();
    case Expr::Kind::Index: {
      auto &index = static_cast<IndexExpr &>(e);
      Shape base = infer(index.base.get());
      if (!base.isKnown() || !constantIndex.count(&index))
        return Shape();
      if (!base.isTensor()) {
        shapeError(index.loc, "cannot index a scalar");
        return Shape();
      }
      if (index.position < 0 || index.position >= base.dims[0]) {
        shapeError(index.index ? index.index->loc : index.loc,
                   "index " + std::to_string(index.position) +
                       " is out of range for " + base.str());
        return Shape();
      }
      // Along the first axis: a vector gives a scalar, [n, d...] gives [d...].
      return Shape::tensor({base.dims.begin() + 1, base.dims.end()});
    }
    }
    return Shape();
  }

  Shape inferCall(CallExpr &call) {
    for (Arg &arg : call.args)
      infer(arg.value.get());
    const Binding &b = call.binding;
    if (b.kind == Binding::Kind::Builtin)
      return inferBuiltin(call);
    if (b.kind != Binding::Kind::Decl || !b.decl)
      return Shape();
    if (isFunctionDecl(b.decl))
      return inferDefCall(call, const_cast<FunctionDecl &>(
                                    static_cast<const FunctionDecl &>(*b.decl)));
    if (b.decl->kind == Decl::Kind::Model)
      return inferModelCall(
          call, const_cast<ModelDecl &>(static_cast<const ModelDecl &>(*b.decl)));
    return Shape();
  }

  /// Shapes of built-in calls whose arguments have been inferred.
  Shape inferBuiltin(CallExpr &call) {
    std::vector<Shape> in;
    for (const Arg &arg : call.args) {
      if (isShapeList(call, arg)) { // a constant, not a per-sample value
        in.push_back(Shape());
        continue;
      }
      if (!arg.value || !arg.value->shape.isKnown())
        return Shape();
      in.push_back(arg.value->shape);
    }
    const std::string &name = call.callee;
    switch (builtinFunction(name)) {
    case BuiltinFn::Normal:
    case BuiltinFn::Uniform: // inside a dist: standard draws
      if (call.orderedArgs.size() == 3 && call.orderedArgs[2])
        return call.orderedArgs[2]->shape;
      return Shape::scalar();
    case BuiltinFn::Math:
    case BuiltinFn::Ddt:
      return in.size() == 1 ? in[0] : Shape();
    case BuiltinFn::Reduce:
    case BuiltinFn::Softmax: {
      bool softmax = builtinFunction(name) == BuiltinFn::Softmax;
      if (in.empty())
        return Shape();
      if (!in[0].isTensor() || (softmax && in[0].rank() != 1)) {
        shapeError(call.calleeLoc,
                   "'" + name + "' needs a " + (softmax ? "vector" : "tensor") +
                       " but its argument is " +
                       (in[0].isScalar() ? std::string("a scalar")
                                         : in[0].str()));
        return Shape();
      }
      if (softmax)
        return in[0];
      if (call.constantArgs.empty()) // over every element
        return Shape::scalar();
      // Over one axis: that axis goes.
      int64_t rank = static_cast<int64_t>(in[0].rank());
      auto axis = static_cast<int64_t>(call.constantArgs[0]);
      if (axis < -rank || axis >= rank) {
        shapeError(call.args[1].value->loc, "axis " + std::to_string(axis) +
                                                " is out of range for " + in[0].str());
        return Shape();
      }
      if (axis < 0)
        axis += rank;
      call.constantArgs[0] = static_cast<double>(axis);
      std::vector<int64_t> dims = in[0].dims;
      dims.erase(dims.begin() + axis);
      return Shape::tensor(dims);
    }
    case BuiltinFn::Reshape: {
      if (in.size() != 2 || call.constantArgs.empty())
        return Shape();
      std::vector<int64_t> dims(call.constantArgs.begin(), call.constantArgs.end());
      Shape to = Shape::tensor(dims);
      if (!in[0].isTensor() || in[0].numElements() != to.numElements()) {
        shapeError(call.calleeLoc, "cannot reshape " + in[0].str() + " into " + to.str() +
                                       ": they have different numbers of elements");
        return Shape();
      }
      return to;
    }
    case BuiltinFn::Where:
    case BuiltinFn::Clamp:
    case BuiltinFn::MinMax: {
      Shape result = Shape::scalar();
      for (const Shape &s : in) {
        auto b = broadcast(result, s);
        if (!b) {
          shapeError(call.calleeLoc, "shape mismatch in '" + name + "': " +
                                         result.str() + " and " + s.str());
          return Shape();
        }
        result = *b;
      }
      return result;
    }
    case BuiltinFn::OneHot: {
      auto it = oneHotLength.find(&call);
      if (in.size() != 2 || it == oneHotLength.end())
        return Shape();
      if (!in[0].isScalar()) {
        shapeError(call.args[0].value->loc,
                   "first argument of 'one_hot' must be a scalar but is " +
                       in[0].str());
        return Shape();
      }
      return Shape::vector(it->second);
    }
    case BuiltinFn::Drop: // labels are scalars
      return in.size() == 2 ? Shape::scalar() : Shape();
    default:
      return Shape();
    }
  }

  /// Checks the body of a path, dist or fn with the shapes of this call's
  /// arguments (a left-out argument takes its scalar default).
  Shape inferDefCall(CallExpr &call, FunctionDecl &def) {
    if (call.orderedArgs.size() != def.params.size() || !def.body)
      return Shape();
    for (size_t i = 0; i < def.params.size(); ++i) {
      const Expr *arg = call.orderedArgs[i];
      if (arg ? !arg->shape.isKnown() : !def.params[i].defaultValue)
        return Shape();
    }
    if (recursiveDefs.count(&def) || defsInProgress.count(&def))
      return Shape();
    for (size_t i = 0; i < def.params.size(); ++i)
      def.params[i].shape = call.orderedArgs[i] ? call.orderedArgs[i]->shape
                                                : Shape::scalar();
    return inferBody(call, def, def.lets, def.body.get());
  }

  Shape inferBody(CallExpr &call, const Decl &def,
                  std::vector<std::unique_ptr<FlowStmt>> &lets, Expr *body) {
    // A body is checked once per combination of parameter shapes: without
    // this, definitions that call each other twice per level would take
    // exponential time.
    const std::vector<Param> &params =
        def.kind == Decl::Kind::Model
            ? static_cast<const ModelDecl &>(def).params
            : static_cast<const FunctionDecl &>(def).params;
    BodyKey key{&def, {}};
    for (const Param &p : params)
      key.second.push_back({int(p.shape.kind), p.shape.dims});
    auto cached = bodyCache.find(key);
    if (cached != bodyCache.end()) {
      const std::string &message = cached->second.second;
      if (!message.empty()) {
        if (!pathSite)
          error(call.calleeLoc, "in " + describe(def) + ": " + message);
        else
          shapeError(call.calleeLoc, message);
      }
      return cached->second.first;
    }
    size_t messagesBefore = shapeMessages.size();
    Shape result = inferBodyUncached(call, def, lets, body);
    bodyCache[key] = {result, shapeMessages.size() > messagesBefore
                                  ? shapeMessages[messagesBefore]
                                  : std::string()};
    return result;
  }

  Shape inferBodyUncached(CallExpr &call, const Decl &def,
                          std::vector<std::unique_ptr<FlowStmt>> &lets,
                          Expr *body) {
    // Each level of calls recurses in Sema; bound it so that a long chain of
    // definitions cannot overflow the stack.
    if (bodyDepth >= kMaxCallDepth) {
      shapeError(call.calleeLoc, "definitions call each other more than " +
                                     std::to_string(kMaxCallDepth) +
                                     " levels deep");
      return Shape();
    }
    struct DepthGuard {
      unsigned &d;
      explicit DepthGuard(unsigned &d) : d(d) { ++d; }
      ~DepthGuard() { --d; }
    } guard(bodyDepth);
    bool outermost = !pathSite;
    if (outermost) {
      pathSite = &call;
      pathSiteDecl = &def;
      pathSiteReported = false;
    }
    defsInProgress.insert(&def);
    for (auto &let : lets)
      if (let) {
        Shape s = infer(let->value.get());
        let->shapes.assign(1, s);
      }
    Shape result = infer(body);
    defsInProgress.erase(&def);
    if (outermost) {
      pathSite = nullptr;
      pathSiteDecl = nullptr;
    }
    return result;
  }

  Shape inferModelCall(CallExpr &call, ModelDecl &model) {
    if (call.orderedArgs.size() < 2 || !call.orderedArgs[0] ||
        !call.orderedArgs[1])
      return Shape();
    Shape x = call.orderedArgs[0]->shape;
    Shape t = call.orderedArgs[1]->shape;
    bool ok = x.isKnown() && t.isKnown();
    if (x.isKnown() && !x.isTensor()) {
      error(call.orderedArgs[0]->loc, "first argument of model '" +
                                          model.name +
                                          "' must be a vector but is " +
                                          x.str());
      ok = false;
    }
    if (t.isKnown() && !t.isScalar()) {
      error(call.orderedArgs[1]->loc,
            "second argument of model '" + model.name +
                "' (time) must be a scalar but is " + t.str());
      ok = false;
    }
    if (!ok)
      return Shape();
    if (model.network)
      return x;
    // Closed form: check the body with x and t, once per call.
    if (badModels.count(&model) || model.params.size() != 2 || !model.body ||
        defsInProgress.count(&model))
      return Shape();
    model.params[0].shape = x;
    model.params[1].shape = t;
    Shape result = inferBody(call, model, model.lets, model.body.get());
    if (result.isKnown() && result != x) {
      error(call.calleeLoc, "model '" + model.name + "' returns " +
                                result.str() + " but its input x is " +
                                x.str() + "; a velocity has the shape of x");
      return Shape();
    }
    return result.isKnown() ? x : Shape();
  }

  //===--------------------------------------------------------------------===//
  // Call cycles between definitions
  //===--------------------------------------------------------------------===//

  /// Reports each cycle of calls between paths, dists and fns once and marks
  /// its definitions recursive (their calls then get no shape, and no further
  /// errors).
  void checkCallCycles() {
    enum class Color { White, Gray, Black };
    std::map<FunctionDecl *, Color> color;
    std::vector<FunctionDecl *> stack;
    std::function<void(FunctionDecl *)> visit = [&](FunctionDecl *p) {
      // Deeper chains are visited from their own roots (recursion bound);
      // a cycle longer than this is caught by the depth bound of inference.
      if (stack.size() >= kMaxCallDepth)
        return;
      color[p] = Color::Gray;
      stack.push_back(p);
      for (auto &[callee, site] : defCallees[p]) {
        Color c = color[callee];
        if (c == Color::Gray) {
          auto it = std::find(stack.begin(), stack.end(), callee);
          for (auto j = it; j != stack.end(); ++j)
            recursiveDefs.insert(*j);
          if (callee == p)
            error(site->calleeLoc, describe(*p) + " calls itself");
          else
            error(site->calleeLoc, describe(*p) + " calls itself through '" +
                                       callee->name + "'");
        } else if (c == Color::White) {
          visit(callee);
        }
      }
      stack.pop_back();
      color[p] = Color::Black;
    };
    for (Decl *d : logicalOrder)
      if (isFunctionDecl(d)) {
        auto *p = static_cast<FunctionDecl *>(d);
        if (color[p] == Color::White)
          visit(p);
      }
  }

  //===--------------------------------------------------------------------===//
  // Flows
  //===--------------------------------------------------------------------===//

  bool usesNetwork(const Expr *e, const std::map<std::string, FlowLocal> &locals) {
    if (!e)
      return false;
    switch (e->kind) {
    case Expr::Kind::Name: {
      auto &n = static_cast<const NameExpr &>(*e);
      if (n.binding.kind != Binding::Kind::FlowLocal)
        return false;
      auto it = locals.find(n.name);
      return it != locals.end() && it->second.usesNetwork;
    }
    case Expr::Kind::Unary:
      return usesNetwork(static_cast<const UnaryExpr &>(*e).operand.get(),
                         locals);
    case Expr::Kind::Binary: {
      auto &b = static_cast<const BinaryExpr &>(*e);
      return usesNetwork(b.lhs.get(), locals) ||
             usesNetwork(b.rhs.get(), locals);
    }
    case Expr::Kind::Call: {
      auto &c = static_cast<const CallExpr &>(*e);
      if (c.binding.kind == Binding::Kind::Decl && c.binding.decl &&
          c.binding.decl->kind == Decl::Kind::Model &&
          static_cast<const ModelDecl *>(c.binding.decl)->network)
        return true;
      for (const Arg &arg : c.args)
        if (usesNetwork(arg.value.get(), locals))
          return true;
      return false;
    }
    case Expr::Kind::Index:
      return usesNetwork(static_cast<const IndexExpr &>(*e).base.get(),
                         locals);
    default:
      return false;
    }
  }

  /// Appends every model call in `e` (in source order) to `calls`.
  static void collectModelCalls(const Expr *e,
                                std::vector<const CallExpr *> &calls) {
    if (!e)
      return;
    switch (e->kind) {
    case Expr::Kind::Unary:
      collectModelCalls(static_cast<const UnaryExpr &>(*e).operand.get(),
                        calls);
      return;
    case Expr::Kind::Binary:
      collectModelCalls(static_cast<const BinaryExpr &>(*e).lhs.get(), calls);
      collectModelCalls(static_cast<const BinaryExpr &>(*e).rhs.get(), calls);
      return;
    case Expr::Kind::Index:
      collectModelCalls(static_cast<const IndexExpr &>(*e).base.get(), calls);
      return;
    case Expr::Kind::Call: {
      auto &c = static_cast<const CallExpr &>(*e);
      if (c.binding.kind == Binding::Kind::Decl && c.binding.decl &&
          c.binding.decl->kind == Decl::Kind::Model)
        calls.push_back(&c);
      for (const Arg &arg : c.args)
        collectModelCalls(arg.value.get(), calls);
      return;
    }
    default:
      return;
    }
  }

  /// A flow applies exactly one model (network or closed form); one that
  /// applies a network is trained, so it needs a loss.
  void checkFlowModel(FlowDecl &flow) {
    std::vector<const CallExpr *> calls;
    for (auto &stmt : flow.body)
      if (stmt)
        collectModelCalls(stmt->value.get(), calls);
    const ModelDecl *model = nullptr;
    for (const CallExpr *call : calls) {
      auto *m = static_cast<const ModelDecl *>(call->binding.decl);
      if (!model) {
        model = m;
      } else if (m != model) {
        error(call->calleeLoc, "flow '" + flow.name + "' applies model '" +
                                   m->name + "' and model '" + model->name +
                                   "'; a flow must apply exactly one model");
        return;
      }
    }
    if (!model) {
      // A flow with a loss gets "loss of flow 'f' uses no network" instead.
      if (!flow.lossStmt)
        error(flow.nameLoc, "flow '" + flow.name +
                                "' applies no model; a flow must apply "
                                "exactly one network or closed-form model");
      return;
    }
    flowModel[&flow] = model;
    if (!model->network)
      closedFormFlows.insert(&flow);
    if (model->network) {
      flowsWithNetwork.insert(&flow);
      if (!flow.lossStmt)
        error(flow.nameLoc, "flow '" + flow.name + "' applies network '" +
                                model->name + "' but has no loss");
    }
  }

  /// `time: forward` (the default: t = 0 source, t = 1 data) or `reverse`.
  void checkFlowOptions(FlowDecl &flow) {
    std::set<std::string> seen;
    for (Setting &option : flow.options) {
      if (!seen.insert(option.name).second) {
        error(option.loc, "duplicate option '" + option.name + "'");
        continue;
      }
      if (option.name != "time") {
        error(option.loc, "unknown option '" + option.name + "' for flow '" +
                              flow.name + "'; expected time: forward or reverse");
        continue;
      }
      auto *value = dynamic_cast<NameExpr *>(option.value.get());
      if (!value || (value->name != "forward" && value->name != "reverse")) {
        error(option.value ? option.value->loc : option.loc,
              "'time' must be forward (t = 0 source, t = 1 data) or reverse "
              "(t = 1 source, t = 0 data)");
        continue;
      }
      value->binding.kind = Binding::Kind::Builtin;
      flow.reverseTime = value->name == "reverse";
    }
  }

  void checkFlow(FlowDecl &flow) {
    checkFlowOptions(flow);
    std::map<std::string, FlowLocal> locals;
    Scope scope;
    scope.flow = &flow;
    scope.locals = &locals;
    for (auto &stmtPtr : flow.body) {
      if (!stmtPtr)
        continue;
      FlowStmt &stmt = *stmtPtr;
      stmt.shapes.assign(stmt.names.size(), Shape());
      bool network = false;
      switch (stmt.kind) {
      case FlowStmt::Kind::Draw:
        if (!stmt.shapes.empty())
          stmt.shapes[0] = checkDraw(stmt.value.get(), scope);
        if (stmt.names.size() > 1 && stmt.nameLocs.size() > 1)
          checkLabelledDraw(stmt);
        break;
      case FlowStmt::Kind::Let:
        resolve(stmt.value.get(), scope);
        if (!stmt.shapes.empty())
          stmt.shapes[0] = infer(stmt.value.get());
        network = usesNetwork(stmt.value.get(), locals);
        break;
      case FlowStmt::Kind::Loss:
        if (flow.lossStmt)
          error(stmt.loc, "flow '" + flow.name + "' has more than one loss");
        else
          flow.lossStmt = &stmt;
        checkLoss(stmt, scope);
        break;
      }
      for (size_t i = 0; i < stmt.names.size() && i < stmt.nameLocs.size();
           ++i)
        defineLocal(stmt, i, network, locals);
    }

    auto t = locals.find("t");
    if (t == locals.end()) {
      error(flow.nameLoc,
            "flow '" + flow.name + "' defines no time variable 't'");
    } else {
      flow.timeStmt = t->second.stmt;
      Shape s = t->second.stmt->shapes[t->second.index];
      if (s.isKnown() && !s.isScalar())
        error(t->second.stmt->nameLocs[t->second.index],
              "time variable 't' must be a scalar but is " + s.str());
    }
    auto x0 = locals.find("x0");
    if (x0 == locals.end()) {
      error(flow.nameLoc, "flow '" + flow.name + "' defines no source 'x0'");
    } else {
      flow.sourceStmt = x0->second.stmt;
      if (x0->second.stmt->kind != FlowStmt::Kind::Draw)
        error(x0->second.stmt->nameLocs[x0->second.index],
              "source 'x0' must be drawn with '~'");
    }
    checkFlowModel(flow);
  }

  void defineLocal(const FlowStmt &stmt, size_t i, bool network,
                   std::map<std::string, FlowLocal> &locals) {
    const std::string &name = stmt.names[i];
    const Location &loc = stmt.nameLocs[i];
    if (isBuiltinName(name)) {
      error(loc, "cannot redefine built-in '" + name + "'");
      return;
    }
    if (locals.count(name) || findGlobal(name)) {
      error(loc, "redefinition of '" + name + "'");
      return;
    }
    locals[name] = FlowLocal{&stmt, static_cast<unsigned>(i), network};
  }

  /// `x1, y ~ data`: a point and its class label (a scalar).
  void checkLabelledDraw(FlowStmt &stmt) {
    if (!drawnData(stmt.value.get())) {
      if (stmt.shapes[0].isKnown())
        error(stmt.nameLocs[1], "only a data set draws two values (a point "
                                "and its label), as in 'x1, y ~ moons'");
      return;
    }
    if (stmt.nameLocs.size() > 2) {
      error(stmt.nameLocs[2], "a data draw gives a point and its label: at "
                              "most two names");
      return;
    }
    stmt.shapes[1] = Shape::scalar();
  }

  /// The right side of `a ~ ...`: data, normal(...) or uniform(...).
  Shape checkDraw(Expr *value, Scope &scope) {
    if (!value)
      return Shape();
    if (value->kind == Expr::Kind::Name) {
      auto &name = static_cast<NameExpr &>(*value);
      Decl *d = findGlobal(name.name);
      if (d && d->kind == Decl::Kind::Data &&
          !(scope.locals && scope.locals->count(name.name))) {
        name.binding.kind = Binding::Kind::Decl;
        name.binding.decl = d;
        auto &data = static_cast<DataDecl &>(*d);
        if (data.tokenizer)
          error(name.loc, "data '" + data.name + "' has the tokenizer '" +
                              data.tokenizer->name + "': draw from it instead");
        name.shape = data.dim > 0 ? Shape::tensor(data.shape) : Shape();
        return name.shape;
      }
      bool isLocal = scope.locals && scope.locals->count(name.name);
      bool known = d || isBuiltinName(name.name) || isLocal;
      if (!known)
        error(name.loc, "use of undefined name '" + name.name + "'");
      else if (d && d->kind == Decl::Kind::Dist && !isLocal)
        error(name.loc, "cannot draw from '" + name.name +
                            "' without a call; write " + name.name + "()");
      else
        error(name.loc, "cannot draw from '" + name.name + "'");
      return Shape();
    }
    if (value->kind == Expr::Kind::Call) {
      auto &call = static_cast<CallExpr &>(*value);
      bool isLocal = scope.locals && scope.locals->count(call.callee);
      Decl *d = isLocal ? nullptr : findGlobal(call.callee);
      if (d && d->kind == Decl::Kind::Dist) {
        // A user-defined distribution: its arguments are flow expressions.
        resolveArgs(call, scope);
        resolveDefCall(call, static_cast<FunctionDecl &>(*d), scope);
        return infer(&call);
      }
      BuiltinFn fn = builtinFunction(call.callee);
      if (!d && !isLocal &&
          (fn == BuiltinFn::Normal || fn == BuiltinFn::Uniform))
        return checkDistribution(call, scope);
      if (d && d->kind != Decl::Kind::Data)
        error(call.calleeLoc, "cannot draw from '" + call.callee + "'; " +
                                  describe(*d) + " is not a dist");
      else
        error(call.calleeLoc, "cannot draw from '" + call.callee + "'");
      return Shape();
    }
    error(value->loc, "cannot draw from an expression; expected data, a dist, "
                      "normal(...) or uniform(...)");
    return Shape();
  }

  /// normal(mean, std, like: x) and uniform(low, high, like: x).
  Shape checkDistribution(CallExpr &call, Scope &scope) {
    bool isNormal = call.callee == "normal";
    std::vector<std::string> params =
        isNormal ? std::vector<std::string>{"mean", "std", "like", "shape"}
                 : std::vector<std::string>{"low", "high", "like", "shape"};
    ArgumentMessages messages;
    messages.unknown = [&](const std::string &n) {
      return "unknown argument '" + n + "' for '" + call.callee + "'";
    };
    messages.twice = [&](const std::string &n) {
      return "argument '" + n + "' of '" + call.callee + "' is given twice";
    };
    messages.tooManyPositional = [&](size_t given) {
      return "'" + call.callee + "' takes at most 2 positional arguments but " +
             std::to_string(given) + " were given";
    };
    std::vector<const Arg *> slots;
    bool ok = bindArguments(call, params, 2, messages, slots);
    // Check every argument expression, even after an error above.
    resolveArgs(call, scope);
    for (Arg &arg : call.args)
      if (!isShapeList(call, arg))
        infer(arg.value.get());
    if (!ok)
      return Shape();
    call.binding.kind = Binding::Kind::Builtin;
    call.orderedArgs.clear();
    for (const Arg *a : slots)
      call.orderedArgs.push_back(a ? a->value.get() : nullptr);

    // The drawn shape: that of `like` or `shape`, else the broadcast of the
    // parameters.
    Shape result = Shape::scalar();
    if (slots[2] && slots[3]) {
      error(slots[3]->loc, "give 'like' or 'shape' to '" + call.callee + "', not both");
      return Shape();
    }
    if (slots[2]) {
      result = slots[2]->value ? slots[2]->value->shape : Shape();
      if (!result.isKnown())
        return Shape();
    }
    if (slots[3]) {
      auto dims = evalShapeList(slots[3]->value.get(), "'shape'");
      if (!dims)
        return Shape();
      result = Shape::tensor(*dims);
    }
    for (size_t i = 0; i < 2; ++i) {
      if (!slots[i] || !slots[i]->value)
        continue;
      Shape s = slots[i]->value->shape;
      if (!s.isKnown())
        return Shape();
      auto b = broadcast(result, s);
      if (!b || ((slots[2] || slots[3]) && *b != result)) {
        error(slots[i]->value->loc,
              "shape mismatch: " + s.str() + " and " + result.str());
        return Shape();
      }
      result = *b;
    }
    call.shape = result;
    return result;
  }

  void checkLoss(FlowStmt &stmt, Scope &scope) {
    Expr *value = stmt.value.get();
    if (!value)
      return;
    if (value->kind != Expr::Kind::Call ||
        static_cast<CallExpr *>(value)->callee != "mse") {
      error(value->loc, "loss must be mse(prediction, target)");
      return;
    }
    auto &call = static_cast<CallExpr &>(*value);
    resolveArgs(call, scope);
    for (Arg &arg : call.args)
      infer(arg.value.get());
    if (!checkBuiltinArity(call, 2))
      return;
    call.binding.kind = Binding::Kind::Builtin;
    call.orderedArgs = {call.args[0].value.get(), call.args[1].value.get()};
    Shape a = call.args[0].value ? call.args[0].value->shape : Shape();
    Shape b = call.args[1].value ? call.args[1].value->shape : Shape();
    if (a.isKnown() && b.isKnown() && a != b)
      error(call.calleeLoc, "'mse' arguments have different shapes: " +
                                a.str() + " and " + b.str());
    if (!usesNetwork(call.args[0].value.get(), *scope.locals) &&
        !usesNetwork(call.args[1].value.get(), *scope.locals))
      error(stmt.loc,
            "loss of flow '" + scope.flow->name + "' uses no network");
    call.shape = Shape::scalar();
  }

  //===--------------------------------------------------------------------===//
  // Solvers
  //===--------------------------------------------------------------------===//

  /// Evaluates a list of constants; nullopt (after reporting) on errors.
  std::optional<std::vector<double>> evalList(Expr *e, const std::string &what,
                                              const char *listMessage) {
    if (!e || e->kind != Expr::Kind::List) {
      if (e)
        error(e->loc, listMessage);
      return std::nullopt;
    }
    std::vector<double> values;
    bool ok = true;
    for (auto &el : static_cast<ListExpr &>(*e).elements) {
      auto v = evalConstant(el.get(), what);
      ok &= v.has_value();
      values.push_back(v.value_or(0));
    }
    if (!ok)
      return std::nullopt;
    return values;
  }

  void checkSolver(SolverDecl &solver) {
    CallExpr *tab = solver.tableau.get();
    if (!tab)
      return;
    if (tab->callee != "tableau") {
      error(tab->calleeLoc,
            "unknown solver form '" + tab->callee +
                "'; expected tableau(c: ..., a: ..., b: ...)");
      return;
    }
    tab->binding.kind = Binding::Kind::Builtin;
    bool ok = true;
    for (const Arg &arg : tab->args)
      if (arg.name.empty()) {
        error(arg.loc, "arguments of 'tableau' must be named c, a and b "
                       "(and b_err, order)");
        ok = false;
      }
    if (!ok)
      return;
    ArgBinding bound =
        bindArgs(*tab, {"c", "a", "b", "b_err", "order"}, "'tableau'");
    if (!bound.ok)
      return;
    for (size_t i = 0; i < 3; ++i)
      if (!bound.slots[i]) {
        error(tab->calleeLoc, std::string("'tableau' is missing '") +
                                  "cab"[i] + "'");
        ok = false;
      }
    if (!ok)
      return;
    Expr *cExpr = bound.slots[0]->value.get();
    Expr *aExpr = bound.slots[1]->value.get();
    Expr *bExpr = bound.slots[2]->value.get();
    auto c = evalList(cExpr, "'c'", "'c' must be a list of numbers");
    auto b = evalList(bExpr, "'b'", "'b' must be a list of numbers");
    if (c && c->empty()) {
      error(cExpr->loc, "'c' must not be empty");
      return;
    }
    std::vector<std::vector<double>> a(1);
    bool aOk = checkTableauRows(aExpr, c, a);
    if (!c || !b || !aOk)
      return;
    size_t s = c->size();
    auto &cList = static_cast<ListExpr &>(*cExpr);
    if ((*c)[0] != 0) {
      error(cList.elements[0]->loc, "c[0] must be 0 but is " + fmt((*c)[0]));
      ok = false;
    }
    if (b->size() != s) {
      error(bExpr->loc, "'b' has " + plural(b->size(), "entry", "entries") +
                            " but 'c' has " + std::to_string(s));
      ok = false;
    } else {
      double sum = 0;
      for (double v : *b)
        sum += v;
      if (std::fabs(sum - 1) > 1e-9) {
        error(bExpr->loc,
              "entries of 'b' sum to " + fmt(sum) + " but must sum to 1");
        ok = false;
      }
    }
    // Adaptive methods: embedded weights b_err and the order p.
    std::vector<double> bErr;
    if (const Arg *arg = bound.slots[3]) {
      Expr *e = arg->value.get();
      auto v = evalList(e, "'b_err'", "'b_err' must be a list of numbers");
      if (!v) {
        ok = false;
      } else if (v->size() != b->size()) {
        error(e->loc, "'b_err' has " + plural(v->size(), "entry", "entries") +
                          " but 'b' has " + std::to_string(b->size()));
        ok = false;
      } else {
        double sum = 0;
        for (double x : *v)
          sum += x;
        if (std::fabs(sum - 1) > 1e-9) {
          error(e->loc, "entries of 'b_err' sum to " + fmt(sum) +
                            " but must sum to 1");
          ok = false;
        }
        bErr = std::move(*v);
      }
    }
    int64_t order = 0;
    if (const Arg *arg = bound.slots[4]) {
      if (auto v = evalPositiveInt(arg->value.get(), "'order'"))
        order = *v;
      else
        ok = false;
    }
    if (!ok || a.size() != s)
      return;
    solver.c = std::move(*c);
    solver.b = std::move(*b);
    solver.a = std::move(a);
    solver.bErr = std::move(bErr);
    solver.order = order;
  }

  /// Checks `a` against `c`: s-1 rows, row k (1-based) with k entries
  /// summing to c[k]. Appends the rows to `rows` (which starts with the
  /// empty row of stage 0). Returns false after reporting an error.
  bool checkTableauRows(Expr *aExpr,
                        const std::optional<std::vector<double>> &c,
                        std::vector<std::vector<double>> &rows) {
    if (!aExpr)
      return false;
    if (aExpr->kind != Expr::Kind::List) {
      error(aExpr->loc, "'a' must be a list of rows");
      return false;
    }
    auto &aList = static_cast<ListExpr &>(*aExpr);
    bool ok = true;
    for (size_t k = 1; k <= aList.elements.size(); ++k) {
      Expr *row = aList.elements[k - 1].get();
      if (!row)
        return false;
      std::string rowName = "row " + std::to_string(k) + " of 'a'";
      auto values = evalList(row, "'a'", (rowName + " must be a list").c_str());
      if (!values) {
        ok = false;
        continue;
      }
      rows.push_back(*values);
    }
    if (!ok || !c || c->empty())
      return false;
    size_t s = c->size();
    if (aList.elements.size() != s - 1) {
      error(aExpr->loc, "'a' has " +
                            plural(aList.elements.size(), "row", "rows") +
                            " but needs " + std::to_string(s - 1) +
                            " (one fewer than 'c' has entries)");
      return false;
    }
    for (size_t k = 1; k < s; ++k) {
      const Location &loc = aList.elements[k - 1]->loc;
      std::string rowName = "row " + std::to_string(k) + " of 'a'";
      if (rows[k].size() != k) {
        error(loc, rowName + " has " +
                       plural(rows[k].size(), "entry", "entries") +
                       " but needs " + std::to_string(k));
        ok = false;
        continue;
      }
      double sum = 0;
      for (double v : rows[k])
        sum += v;
      if (std::fabs(sum - (*c)[k]) > 1e-9 * std::max(1.0, std::fabs((*c)[k]))) {
        error(loc, rowName + " sums to " + fmt(sum) + " but c is " +
                       fmt((*c)[k]));
        ok = false;
      }
    }
    return ok;
  }

  //===--------------------------------------------------------------------===//
  // Train and sample blocks
  //===--------------------------------------------------------------------===//

  void checkRun(RunDecl &run) {
    bool isTrain = run.kind == Decl::Kind::Train;
    Decl *target = findGlobal(run.name);
    if (!target)
      error(run.nameLoc, "unknown flow '" + run.name + "'");
    else if (target->kind != Decl::Kind::Flow)
      error(run.nameLoc, "'" + run.name + "' is not a flow");
    else
      run.flow = static_cast<FlowDecl *>(target);
    // A closed-form flow only samples.
    if (isTrain && run.flow && closedFormFlows.count(run.flow))
      error(run.nameLoc, "flow '" + run.name + "' has no network to train");

    std::set<std::string> seen;
    const Setting *solverStepsFrom = nullptr;
    for (Setting &s : run.settings) {
      if (!seen.insert(s.name).second) {
        error(s.loc, "duplicate setting '" + s.name + "'");
        continue;
      }
      Expr *value = s.value.get();
      if (!value)
        continue;
      std::string what = "'" + s.name + "'";
      if (s.name == "seed") {
        if (auto v = evalInteger(value, what, 0, "a non-negative integer"))
          run.numbers["seed"] = static_cast<double>(*v);
      } else if (isTrain && (s.name == "steps" || s.name == "batch")) {
        if (auto v = evalPositiveInt(value, what))
          run.numbers[s.name] = static_cast<double>(*v);
      } else if (isTrain && s.name == "lr") {
        if (auto v = evalLearningRate(value))
          setLearningRate(run, *v, s.loc);
      } else if (isTrain && s.name == "ema") {
        if (auto v = evalConstant(value, what)) {
          if (*v < 0 || *v >= 1)
            error(value->loc, "'ema' must be in [0, 1) but is " + fmt(*v));
          else
            run.numbers["ema"] = *v;
        }
      } else if (isTrain && s.name == "optimizer") {
        // checked after the loop, which may still set lr
      } else if (!isTrain && (s.name == "steps" || s.name == "n")) {
        if (auto v = evalPositiveInt(value, what)) {
          if (s.name == "steps" && run.numbers.count("steps"))
            error(s.loc, "solver steps are given twice");
          else
            run.numbers[s.name] = static_cast<double>(*v);
          if (s.name == "steps")
            solverStepsFrom = &s;
        }
      } else if (!isTrain && s.name == "solver") {
        checkSolverSetting(run, *value, solverStepsFrom);
      } else if (!isTrain && (s.name == "rtol" || s.name == "atol")) {
        if (auto v = evalConstant(value, what)) {
          if (!(*v > 0))
            error(value->loc, what + " must be a positive number but is " + fmt(*v));
          else
            run.numbers[s.name] = *v;
        }
      } else if (!isTrain && (s.name == "adaptive_guidance" || s.name == "guidance_momentum")) {
        // Checked against `guidance` after the loop.
        bool threshold = s.name == "adaptive_guidance";
        if (auto v = evalConstant(value, what)) {
          if (threshold ? !(*v > 0 && *v <= 1) : !(*v > -1 && *v < 1))
            error(value->loc, what + (threshold ? " (a cosine threshold) must be in (0, 1]"
                                                : " must be in (-1, 1)") +
                                  " but is " + fmt(*v));
          else
            run.numbers[s.name] = *v;
        }
      } else if (!isTrain && (s.name == "label" || s.name == "guidance")) {
        const ModelDecl *model = conditionalModel(run, s);
        if (model && s.name == "label") {
          if (auto v = evalInteger(value, "'label'", 0, "a non-negative integer")) {
            if (*v >= model->classes)
              error(value->loc, "'label' must be a class of 0.." +
                                    std::to_string(model->classes - 1) +
                                    " but is " + std::to_string(*v));
            else
              run.label = *v;
          }
        } else if (model) {
          checkGuidance(run, *value);
        }
      } else {
        error(s.loc, "unknown setting '" + s.name + "' in " +
                         (isTrain ? "train" : "sample") + " block");
      }
    }
    if (isTrain && run.flow)
      checkOptimizer(run, run.find("optimizer"));
    for (const char *name : {"adaptive_guidance", "guidance_momentum"})
      if (const Setting *s = run.find(name); s && !run.find("guidance"))
        error(s->loc, std::string("'") + name + "' needs a guidance fn in the same block, "
                                                "e.g. guidance: cfg(w: 2)");
  }

  /// The conditional network of a sample block's flow, for the `label` and
  /// `guidance` settings; reports a flow without one.
  const ModelDecl *conditionalModel(const RunDecl &run, const Setting &s) {
    if (!run.flow)
      return nullptr;
    auto it = flowModel.find(run.flow);
    if (it == flowModel.end())
      return nullptr;
    if (!it->second->network || it->second->classes == 0) {
      error(s.loc, "'" + s.name + "' needs a network applied to a label, "
                                  "as v(xt, t, y); flow '" +
                       run.flow->name + "' has none");
      return nullptr;
    }
    return it->second;
  }

  /// `guidance: FN` or `guidance: FN(name: CONST, ...)` (see RunDecl).
  void checkGuidance(RunDecl &run, Expr &value) {
    CallExpr *call = value.kind == Expr::Kind::Call
                         ? static_cast<CallExpr *>(&value)
                         : nullptr;
    std::string name = call ? call->callee
                       : value.kind == Expr::Kind::Name
                           ? static_cast<NameExpr &>(value).name
                           : std::string();
    Location at = call ? call->calleeLoc : value.loc;
    Decl *d = name.empty() ? nullptr : findGlobal(name);
    if (!d || d->kind != Decl::Kind::Fn) {
      error(at, name.empty() || !d
                    ? "expected a guidance fn, e.g. cfg(w: 2) (import "
                      "std.guidance)"
                    : "'" + name + "' is not a fn; guidance is a fn such as "
                                   "cfg (import std.guidance)");
      return;
    }
    auto &fn = static_cast<FunctionDecl &>(*d);
    if (fn.params.size() < 2) {
      error(at, "guidance fn '" + name + "' must take the conditional and "
                                         "unconditional velocities as its "
                                         "first two parameters");
      return;
    }
    auto isSupplied = [&](size_t i) {
      return i < 2 || fn.params[i].name == "x" || fn.params[i].name == "t";
    };
    std::map<std::string, double> given;
    bool ok = true;
    if (call)
      for (Arg &arg : call->args) {
        auto param = std::find_if(fn.params.begin(), fn.params.end(),
                                  [&](const Param &p) { return p.name == arg.name; });
        if (arg.name.empty()) {
          error(arg.loc, "arguments of guidance fn '" + name + "' must be named");
          ok = false;
        } else if (param == fn.params.end()) {
          error(arg.loc, "fn '" + name + "' has no parameter '" + arg.name + "'");
          ok = false;
        } else if (isSupplied(param - fn.params.begin())) {
          error(arg.loc, "parameter '" + arg.name + "' of guidance fn '" + name +
                             "' is given by the sampler");
          ok = false;
        } else if (auto v = evalConstant(arg.value.get(), "'" + arg.name + "'")) {
          if (!given.emplace(arg.name, *v).second) {
            error(arg.loc, "parameter '" + arg.name + "' of fn '" + name +
                               "' is given twice");
            ok = false;
          }
        } else {
          ok = false;
        }
      }
    // Every other parameter: given, or its default.
    Shape x = run.flow && run.flow->sourceStmt && !run.flow->sourceStmt->shapes.empty()
                  ? run.flow->sourceStmt->shapes[0]
                  : Shape();
    for (size_t i = 0; i < fn.params.size(); ++i) {
      Param &p = fn.params[i];
      p.shape = i < 2 || p.name == "x" ? x : Shape::scalar();
      if (isSupplied(i))
        continue;
      auto it = given.find(p.name);
      std::optional<double> v;
      if (it != given.end())
        v = it->second;
      else if (p.defaultValue)
        v = evalConstant(p.defaultValue.get(), "the default of '" + p.name + "'");
      if (!v) {
        if (!p.defaultValue) {
          error(at, "guidance fn '" + name + "' is missing argument '" + p.name + "'");
          ok = false;
        }
        continue;
      }
      if (p.name == "w") {
        run.guidanceScale = *v;
        run.guidanceHasScale = true;
      } else {
        run.guidanceConstants[p.name] = *v;
      }
    }
    if (!ok || !x.isKnown() || recursiveDefs.count(&fn))
      return;
    // The body's shape with these parameters: a velocity, like x.
    CallExpr site(value.loc, name);
    site.calleeLoc = at;
    Shape result = inferBody(site, fn, fn.lets, fn.body.get());
    if (!result.isKnown())
      return;
    if (result != x) {
      error(at, "guidance fn '" + name + "' returns " + result.str() +
                    " but the velocity is " + x.str());
      return;
    }
    run.guidance = &fn;
  }

  std::optional<double> evalLearningRate(Expr *value) {
    auto v = evalConstant(value, "'lr'");
    if (v && *v <= 0) {
      error(value->loc, "'lr' must be a positive number but is " + fmt(*v));
      return std::nullopt;
    }
    return v;
  }

  void setLearningRate(RunDecl &run, double lr, const Location &loc) {
    if (run.numbers.count("lr")) {
      error(loc, "learning rate is given twice");
      return;
    }
    run.numbers["lr"] = lr;
  }

  /// `optimizer: NAME` or `NAME(setting: CONST, ...)`, default adam: the fn
  /// NAME gives a parameter's new value and NAME_s updates each state
  /// variable s (see std.optimizers). Fills run.optimizer, optimizerState,
  /// optimizerConstants and the default lr.
  void checkOptimizer(RunDecl &run, const Setting *setting) {
    Expr *value = setting ? setting->value.get() : nullptr;
    CallExpr *call = value && value->kind == Expr::Kind::Call
                         ? static_cast<CallExpr *>(value)
                         : nullptr;
    std::string name = optimizerName(run);
    Location at = call ? call->calleeLoc : value ? value->loc : run.nameLoc;
    Decl *d = name.empty() ? nullptr : findGlobal(name);
    if (!d || d->kind != Decl::Kind::Fn) {
      error(at, name.empty() || !d
                    ? "unknown optimizer '" + (name.empty() ? "expression" : name) +
                          "'; expected a fn such as adam(lr: ...) or adamw "
                          "(std.optimizers)"
                    : "'" + name + "' is not a fn; an optimizer is a fn such as "
                                   "adam (std.optimizers)");
      return;
    }
    auto &fn = static_cast<FunctionDecl &>(*d);
    if (value && value->kind == Expr::Kind::Name) {
      auto &n = static_cast<NameExpr &>(*value);
      n.binding.kind = Binding::Kind::Decl;
      n.binding.decl = &fn;
    } else if (call) {
      call->binding.kind = Binding::Kind::Decl;
      call->binding.decl = &fn;
    }
    // The fn's parameters: supplied by the trainer, state, or settings.
    auto isSupplied = [](const std::string &p) {
      return p == "p" || p == "g" || p == "step" || p == "lr";
    };
    bool ok = true;
    std::set<std::string> state;
    for (const Param &p : fn.params)
      if (!isSupplied(p.name) && !p.defaultValue)
        state.insert(p.name);
    if (std::none_of(fn.params.begin(), fn.params.end(),
                     [](const Param &p) { return p.name == "p"; })) {
      error(at, "optimizer fn '" + name + "' must take the parameter as 'p'");
      return;
    }
    // Settings given in the call: constants for parameters with defaults.
    std::map<std::string, double> given;
    if (call)
      for (Arg &arg : call->args) {
        auto param = std::find_if(fn.params.begin(), fn.params.end(),
                                  [&](const Param &p) { return p.name == arg.name; });
        if (arg.name.empty()) {
          error(arg.loc, "arguments of optimizer '" + name + "' must be named");
          ok = false;
        } else if (param == fn.params.end()) {
          error(arg.loc, "optimizer '" + name + "' has no setting '" + arg.name + "'");
          ok = false;
        } else if (arg.name == "lr") {
          if (auto v = evalLearningRate(arg.value.get()))
            setLearningRate(run, *v, arg.loc);
        } else if (isSupplied(arg.name) || state.count(arg.name)) {
          error(arg.loc, "'" + arg.name + "' of optimizer '" + name +
                             "' is given by the trainer, not a setting");
          ok = false;
        } else if (auto v = evalConstant(arg.value.get(), "'" + arg.name + "'")) {
          if (!given.emplace(arg.name, *v).second) {
            error(arg.loc, "setting '" + arg.name + "' is given twice");
            ok = false;
          }
        } else {
          ok = false;
        }
      }
    std::map<std::string, double> constants;
    for (const Param &p : fn.params) {
      if (p.name == "lr" && p.defaultValue && !run.numbers.count("lr"))
        if (auto v = evalLearningRate(p.defaultValue.get()))
          run.numbers["lr"] = *v;
      if (isSupplied(p.name) || state.count(p.name))
        continue;
      auto it = given.find(p.name);
      std::optional<double> v =
          it != given.end() ? std::optional<double>(it->second)
                            : evalConstant(p.defaultValue.get(),
                                           "the default of '" + p.name + "'");
      if (!v)
        ok = false;
      else
        constants[p.name] = *v;
    }
    // Each state variable's update fn, and every fn's parameters bound by
    // name to what the trainer knows.
    std::vector<std::pair<std::string, const FunctionDecl *>> updates;
    for (const std::string &s : state) {
      Decl *u = findGlobal(name + "_" + s);
      if (!u || u->kind != Decl::Kind::Fn) {
        error(at, "optimizer '" + name + "' has state '" + s +
                      "' (a parameter without a default) but no fn '" + name + "_" +
                      s + "' that updates it");
        ok = false;
        continue;
      }
      updates.push_back({s, static_cast<const FunctionDecl *>(u)});
    }
    if (!ok)
      return;
    auto scalarBody = [&](FunctionDecl &f) {
      for (Param &p : f.params) {
        if (!isSupplied(p.name) && !state.count(p.name) && !constants.count(p.name) &&
            !p.defaultValue) {
          error(at, "parameter '" + p.name + "' of fn '" + f.name +
                        "' is not one the optimizer binds (p, g, step, lr, its "
                        "state or settings of '" + name + "')");
          return false;
        }
        p.shape = Shape::scalar();
      }
      if (recursiveDefs.count(&f))
        return false;
      CallExpr site(at, f.name);
      site.calleeLoc = at;
      Shape result = inferBody(site, f, f.lets, f.body.get());
      if (!result.isKnown())
        return false;
      if (!result.isScalar()) {
        error(at, "optimizer fn '" + f.name + "' returns " + result.str() +
                      " but must return a scalar (it updates one parameter)");
        return false;
      }
      return true;
    };
    if (!scalarBody(fn))
      return;
    for (auto &[s, u] : updates)
      if (!scalarBody(const_cast<FunctionDecl &>(*u)))
        return;
    run.optimizer = &fn;
    run.optimizerState = std::move(updates);
    run.optimizerConstants = std::move(constants);
  }

  void checkSolverSetting(RunDecl &run, Expr &value,
                          const Setting *stepsSetting) {
    std::string name;
    CallExpr *call = nullptr;
    Binding *binding = nullptr;
    if (value.kind == Expr::Kind::Name) {
      name = static_cast<NameExpr &>(value).name;
      binding = &static_cast<NameExpr &>(value).binding;
    } else if (value.kind == Expr::Kind::Call) {
      call = &static_cast<CallExpr &>(value);
      name = call->callee;
      binding = &call->binding;
    } else {
      error(value.loc, "expected a solver name, e.g. heun or heun(steps: 32)");
      return;
    }
    Decl *d = findGlobal(name);
    if (!d) {
      error(value.loc, "unknown solver '" + name + "'");
      return;
    }
    if (d->kind != Decl::Kind::Solver) {
      error(value.loc, "'" + name + "' is not a solver");
      return;
    }
    binding->kind = Binding::Kind::Decl;
    binding->decl = d;
    run.solver = static_cast<SolverDecl *>(d);
    if (!call)
      return;
    ArgBinding bound = bindArgs(*call, {"steps"}, "solver '" + name + "'");
    if (const Arg *steps = bound.slots[0])
      if (auto v = evalPositiveInt(steps->value.get(), "'steps'")) {
        if (run.numbers.count("steps"))
          error(stepsSetting ? stepsSetting->loc : steps->loc,
                "solver steps are given twice");
        else
          run.numbers["steps"] = static_cast<double>(*v);
      }
  }
};

} // namespace

bool flowc::analyzeModule(Module &module, Diagnostics &diags,
                          FileLoader &loader) {
  unsigned before = diags.errorCount();
  Sema(module, diags, loader).run();
  return diags.errorCount() == before;
}
