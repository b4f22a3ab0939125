//===- AST.h - Flow language abstract syntax tree ---------------*- C++ -*-===//
//
// Our own AST for .flow specs, built from ANTLR's parse tree by ASTBuilder and
// annotated in place by Sema (resolved names, per-sample shapes). Every node
// carries its source location so that every later stage can point at the text.
//
// A flow body describes ONE sample: `x1 ~ moons` binds a [2] vector, `t ~
// uniform(0, 1)` a scalar. The batch dimension is implicit (like jax.vmap),
// which is what lets the compiler fuse everything between network calls.
//
//===----------------------------------------------------------------------===//
#ifndef FLOWC_LANG_AST_H
#define FLOWC_LANG_AST_H

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace flowc::ast {

/// A position in a source file (1-based line and column).
struct Location {
  std::string file;
  unsigned line = 0;
  unsigned col = 0;
};

/// Per-sample shape of a value: a scalar (rank 0), or a tensor with static
/// dimensions `dims` (rank >= 1: a vector [d], a matrix [m, n], ...).
/// `unknown` before Sema.
struct Shape {
  enum class Kind { Unknown, Scalar, Tensor } kind = Kind::Unknown;
  std::vector<int64_t> dims; // when kind == Tensor, each >= 1
  static Shape scalar() { return {Kind::Scalar, {}}; }
  static Shape vector(int64_t d) { return {Kind::Tensor, {d}}; }
  static Shape tensor(std::vector<int64_t> d) {
    return d.empty() ? scalar() : Shape{Kind::Tensor, std::move(d)};
  }
  bool isScalar() const { return kind == Kind::Scalar; }
  bool isTensor() const { return kind == Kind::Tensor; }
  bool isKnown() const { return kind != Kind::Unknown; }
  size_t rank() const { return dims.size(); }
  int64_t numElements() const {
    int64_t n = 1;
    for (int64_t d : dims)
      n *= d;
    return n;
  }
  bool operator==(const Shape &o) const { return kind == o.kind && dims == o.dims; }
  bool operator!=(const Shape &o) const { return !(*this == o); }
  std::string str() const; // "scalar", "[2]", "[3, 4]", "?"
};

struct Decl;
struct Param;
struct FlowStmt;

//===----------------------------------------------------------------------===//
// Expressions
//===----------------------------------------------------------------------===//

struct Expr {
  enum class Kind { Number, String, Name, Unary, Binary, Call, List, Index };
  Kind kind;
  Location loc;
  Shape shape; // set by Sema for expressions evaluated per sample
  explicit Expr(Kind k, Location l) : kind(k), loc(std::move(l)) {}
  virtual ~Expr() = default;
};
using ExprPtr = std::unique_ptr<Expr>;

struct NumberExpr : Expr {
  double value;
  NumberExpr(Location l, double v) : Expr(Kind::Number, std::move(l)), value(v) {}
};

/// A string literal, without its quotes: a file path, the only use strings
/// have (file("points.npy"), torchscript("v.pt")).
struct StringExpr : Expr {
  std::string value;
  StringExpr(Location l, std::string v) : Expr(Kind::String, std::move(l)), value(std::move(v)) {}
};

/// What a name refers to, filled in by Sema.
struct Binding {
  enum class Kind {
    Unresolved,
    Constant,  // built-in constant (pi, e); `constant` holds its value
    FlowLocal, // a `~` draw or `=` binding in a flow; `stmt` points at it
    PathParam, // a parameter of the enclosing path definition; `param`
    Decl,      // a top-level declaration (data, model, path, solver)
    Builtin,   // a built-in function or keyword-like name (normal, exp, silu ...)
  } kind = Kind::Unresolved;
  const FlowStmt *stmt = nullptr;
  unsigned stmtIndex = 0; // which name of a multi-name draw (x1, y ~ ...)
  const Param *param = nullptr;
  const Decl *decl = nullptr;
  double constant = 0;
};

struct NameExpr : Expr {
  std::string name;
  Binding binding; // set by Sema
  NameExpr(Location l, std::string n) : Expr(Kind::Name, std::move(l)), name(std::move(n)) {}
};

struct UnaryExpr : Expr {
  char op; // '-' only for now
  ExprPtr operand;
  UnaryExpr(Location l, char o, ExprPtr e)
      : Expr(Kind::Unary, std::move(l)), op(o), operand(std::move(e)) {}
};

/// Binary operators, one character each: + - * / ^ and the comparisons
/// < > 'L' (<=) 'G' (>=) '=' (==) '!' (!=), which give 1.0 or 0.0.
struct BinaryExpr : Expr {
  char op;
  ExprPtr lhs, rhs;
  BinaryExpr(Location l, char o, ExprPtr a, ExprPtr b)
      : Expr(Kind::Binary, std::move(l)), op(o), lhs(std::move(a)), rhs(std::move(b)) {}
};

/// An argument of a call: positional when `name` is empty, else `name: value`.
struct Arg {
  std::string name;
  Location loc; // location of the name (or of the value when positional)
  ExprPtr value;
};

/// `callee(args...)`. The callee is a plain identifier or a dotted name such as
/// `toy.moons`. After Sema, `binding` says what was called, and for path calls
/// `orderedArgs[i]` is the argument bound to the callee's i-th parameter.
/// Sema also fills `orderedArgs` for model calls (x, t) and for the draws
/// `normal` (mean, std, like) and `uniform` (low, high, like), with nullptr
/// for an argument left out.
struct CallExpr : Expr {
  std::string callee;
  Location calleeLoc;
  std::vector<Arg> args;
  Binding binding;                       // set by Sema
  std::vector<const Expr *> orderedArgs; // set by Sema (path/model calls)
  /// Set by Sema: constant arguments of built-ins that need one at compile
  /// time (drop(y, p): {p}).
  std::vector<double> constantArgs;
  CallExpr(Location l, std::string c) : Expr(Kind::Call, std::move(l)), callee(std::move(c)) {}
};

/// `base[index]`: one feature of a per-sample vector; the index is a constant
/// integer, checked by Sema against the vector's length (`position`).
struct IndexExpr : Expr {
  ExprPtr base, index;
  int64_t position = 0; // set by Sema
  IndexExpr(Location l, ExprPtr b, ExprPtr i)
      : Expr(Kind::Index, std::move(l)), base(std::move(b)), index(std::move(i)) {}
};

/// `[e1, e2, ...]` (solver tableaux).
struct ListExpr : Expr {
  std::vector<ExprPtr> elements;
  explicit ListExpr(Location l) : Expr(Kind::List, std::move(l)) {}
};

//===----------------------------------------------------------------------===//
// Flow statements
//===----------------------------------------------------------------------===//

struct FlowStmt {
  enum class Kind { Draw, Let, Loss };
  Kind kind;
  Location loc;
  /// Draw: `a ~ expr`, or `a, y ~ data` (a data point and its label, or
  /// its condition), or `a, y, c ~ data` (its label and its condition).
  /// Let: `a = expr`. Loss: `loss expr` or `loss name = expr`; Sema gives
  /// an unnamed loss its name ("loss", or "loss_<k>" among several).
  std::vector<std::string> names;
  std::vector<Location> nameLocs;
  ExprPtr value;
  std::vector<Shape> shapes; // set by Sema, one per name
};

//===----------------------------------------------------------------------===//
// Declarations
//===----------------------------------------------------------------------===//

struct Param {
  std::string name;
  Location loc;
  Shape shape;          // per-call, set by Sema while checking a call site
  ExprPtr defaultValue; // `name = expr`: a constant used when the argument
                        // is left out (orderedArgs then holds nullptr)
};

/// A `name: value` setting in a train/sample block.
struct Setting {
  std::string name;
  Location loc;
  ExprPtr value;
};

struct Decl {
  enum class Kind {
    Import, Data, Model, Path, Dist, Fn, Const, Solver, Flow, Train, Sample
  };
  Kind kind;
  Location loc;
  std::string name;   // declared name; for Import the module ("std.paths" or
                      // "file.flow"); for Train/Sample the flow it refers to
  Location nameLoc;
  std::string file;   // file the declaration came from (imports merge decls)
  explicit Decl(Kind k) : kind(k) {}
  virtual ~Decl() = default;
};
using DeclPtr = std::unique_ptr<Decl>;

/// `import std.paths` or `import "my.flow"`.
struct ImportDecl : Decl {
  bool isFile = false; // quoted path
  ImportDecl() : Decl(Kind::Import) {}
};

/// `data NAME = gen(args)`, e.g. `toy.moons(noise: 0.05)`.
struct FlowDecl;

/// Sema fills `dim` (features per sample) from the generator.
struct DataDecl : Decl {
  std::unique_ptr<CallExpr> source;
  int64_t dim = 0;                 // features per sample: the product of shape
  std::vector<int64_t> shape;      // set by Sema: [2] for toy sets, [1, 8, 8] for digits
  /// Set by Sema: every parameter of the generator in its documented order,
  /// with defaults filled in, e.g. {{"noise", 0.05}} for toy.moons.
  std::vector<std::pair<std::string, double>> params;
  /// Set by Sema: the classes of the labels the generator draws with each
  /// point (`x1, y ~ moons`: y in 0 .. classes - 1).
  int64_t classes = 0;
  /// Set by Sema for `file("x.npy", shape: [...], labels: "y.npy")`: the
  /// files as absolute paths (labelsPath empty without labels).
  std::string path, labelsPath;
  /// Set by Sema for token data (`file(..., tokens: V)`, text.words): its
  /// values are token ids 0 .. tokens - 1; `alphabet` (may be empty) has
  /// each id's character, for samples written as text.
  int64_t tokens = 0;
  std::string alphabet;
  /// Set by Sema for `file(..., cond: "c.npy", cond_shape: [C])`: each
  /// sample's condition, a tensor drawn with it (`x1, c ~ pairs`), from
  /// condPath (absolute); condShape empty without conditions.
  std::string condPath;
  std::vector<int64_t> condShape;
  /// What the i-th name of a draw `x1, ... ~ DATA` binds: the point, then
  /// the label (data with classes), then the condition (data with one).
  enum class Drawn { Point, Label, Condition, None };
  Drawn drawn(size_t index) const {
    if (index == 0)
      return Drawn::Point;
    if (index == 1 && classes > 0)
      return Drawn::Label;
    if (index == (classes > 0 ? 2u : 1u) && !condShape.empty())
      return Drawn::Condition;
    return Drawn::None;
  }
  /// How many names a draw from it may bind.
  size_t drawnValues() const { return 1 + (classes > 0) + !condShape.empty(); }
  /// `tokenizer NAME = patchify(DATA, patch: P)`: a data set seen through
  /// an encoding. Sema sets `tokenized` (the data it encodes), `patch`, and
  /// `shape` to the tokens' [T, F]; the encoded data set's `tokenizer` then
  /// points back here (it is drawn only through it).
  bool isTokenizer = false;
  const DataDecl *tokenized = nullptr;
  const DataDecl *tokenizer = nullptr;
  int64_t patch = 0;
  /// `tokenizer NAME = onehot(DATA, vocab: V)`: DATA's values are token ids
  /// 0..V-1, drawn as one-hot vectors of V (shape: DATA's + [V]); samples
  /// decode by argmax.
  int64_t vocab = 0;
  /// `tokenizer NAME = encoder(DATA, encode: EXPR of x, decode: EXPR of
  /// z)`: a flow drawing from it draws DATA and computes `encode` with x
  /// bound to the draw (networks included, trained or frozen as the stages
  /// say); sampling decodes with `decode`, z bound to a sample. Sema sets
  /// `shape` to encode's shape; DATA stays drawable itself (an autoencoder
  /// trains on it).
  Expr *encode = nullptr, *decode = nullptr;
  std::vector<Param> encodeParams, decodeParams; // x; z
  /// `decode: FLOW`, a flow decoder (FlexTok's pattern): tokens decode by
  /// sampling FLOW, whose sample block takes them as its condition
  /// (`decode` is then null). A flow applies the tokenizer as a function,
  /// `T(x1)`, to compute the tokens of its own draw.
  const FlowDecl *decoderFlow = nullptr;
  /// `standardize: channels | all`: tokens are shifted and scaled to mean 0
  /// and standard deviation 1, per channel (the tokens' first axis) or over
  /// all values, with statistics the first trained flow drawing from the
  /// tokenizer takes from its data (kept in its checkpoint).
  enum class Standardize { None, Channels, All };
  Standardize standardize = Standardize::None;
  Location standardizeLoc;
  bool isEncoder() const { return encode != nullptr; }
  DataDecl() : Decl(Kind::Data) {}
};

/// `model NAME = mlp(width: 256, depth: 3, act: silu, time: fourier(16))`,
/// or a closed-form velocity field `model u(x, t) = expr` (optionally with a
/// `{ let ... expr }` body): params are (x, t), x a vector, t a scalar, and
/// the body's shape is x's. Closed-form models are compiled into kernels.
struct ModelDecl : Decl {
  std::unique_ptr<CallExpr> network;           // set for network models
  std::vector<Param> params;                   // closed-form models
  std::vector<std::unique_ptr<FlowStmt>> lets; // closed-form models
  ExprPtr body;                                // closed-form models
  // Set by Sema for network models (defaults filled in).
  int64_t width = 128;
  int64_t depth = 3;
  std::string activation = "silu"; // silu | relu | tanh | gelu
  int64_t timeFeatures = 16;       // fourier(K)
  int64_t heads = 0, patch = 0;    // dit, tarflow
  int64_t blocks = 0;              // tarflow: its affine autoregressive steps
  int64_t deep = 0;                // tarflow: layers of the block nearest the noise (0: depth)
  std::string path;                // torchscript: the module's file (absolute);
                                   // checkpoint: the checkpoint or run directory
  /// `checkpoint("PATH", model: "NAME", weights: raw)`: a frozen network,
  /// another run's; the network's name there ("": its only one), and
  /// whether to load its raw weights rather than its EMA.
  bool frozen = false;
  std::string checkpointModel;
  bool rawWeights = false;
  /// `out: [...]` of an mlp (empty: the first tensor argument's shape).
  std::vector<int64_t> outShape;
  /// Set by Sema for network models from their applications (one signature
  /// everywhere): each argument's role and shape. A scalar is a time (the
  /// network embeds it), a class label is embedded with a learned table, a
  /// tensor is flattened; a condition drawn with the data (or drop() of
  /// one) is flattened with a presence flag after it (1, or 0 where drop()
  /// nulled it); the first layer sees the tensors and conditions, then the
  /// times, then the label, each in argument order.
  struct Input {
    enum class Role { Tensor, Time, Label, Condition } role;
    Shape shape;
    int64_t classes = 0; // of a label
  };
  std::vector<Input> inputs; // empty while no flow applies the network
  /// Set by Sema when a flow applies the network to a label, v(x, t, y):
  /// the number of classes (the network also learns a null class).
  int64_t classes = 0;
  /// Set by Sema for network models: the elements of the tensor arguments
  /// together (x's for v(x, t); a condition counts its flag), and of the
  /// output; 0 if no flow applies it.
  int64_t inputDim = 0;
  int64_t outputDim = 0;
  /// Whether the network has the velocity signature v(x, t) or v(x, t,
  /// label) with an output of x's shape (what solvers integrate by default).
  bool isVelocitySignature() const;
  ModelDecl() : Decl(Kind::Model) {}
};

/// A definition inlined at every use, with parameters (some with defaults)
/// and a body that may start with local bindings:
///   path NAME(x0, x1, t, p = 1) = expr            (Kind::Path)
///   path NAME(x0, x1, t) { let a = expr  ...  expr }
///   dist NAME(m = 0, s = 1) = expr               (Kind::Dist: a draw built
///                                                  from normal()/uniform())
///   fn NAME(x, y) = expr                          (Kind::Fn)
/// Paths and fns are deterministic: they may not draw.
struct FunctionDecl : Decl {
  std::vector<Param> params;
  std::vector<std::unique_ptr<FlowStmt>> lets; // Let statements, in order
  ExprPtr body;
  explicit FunctionDecl(Kind k) : Decl(k) {}
};
using PathDecl = FunctionDecl; // the walking skeleton's name

/// `const NAME = expr`: a scalar constant. Names bound to it resolve as
/// Binding::Kind::Constant with the value Sema computed.
/// `const NAME = EXPR`: a number, or with a list a tensor constant (`const
/// mu = [1.0, -2.0]`, nested lists for higher ranks).
struct ConstDecl : Decl {
  ExprPtr value;
  double number = 0; // set by Sema
  /// A tensor constant: its shape and its values, row-major (set by Sema).
  std::vector<int64_t> shape;
  std::vector<double> values;
  bool isTensor() const { return value && value->kind == Expr::Kind::List; }
  ConstDecl() : Decl(Kind::Const) {}
};

/// `solver NAME = tableau(c: [...], a: [[...]], b: [...])`.
/// Sema evaluates the constant lists into `c`, `a` (lower-triangular rows, row
/// i has i entries: a[0] is empty) and `b`.
/// Adaptive tableaux add `b_err: [...]`, the embedded lower-order weights
/// (the error estimate is h * sum_i (b_i - b_err_i) k_i), and `order: p`,
/// the order of the solution used for step-size control.
struct SolverDecl : Decl {
  std::unique_ptr<CallExpr> tableau;
  std::vector<double> c, b;
  std::vector<double> bErr; // empty for fixed-step methods
  int64_t order = 0;        // 0 when not given
  std::vector<std::vector<double>> a;
  SolverDecl() : Decl(Kind::Solver) {}
};

/// `flow NAME { stmts }`.
struct FlowDecl : Decl {
  std::vector<std::unique_ptr<FlowStmt>> body;
  /// `flow f (time: reverse) { ... }`: options after the name.
  std::vector<Setting> options;
  /// Set by Sema from `time: reverse`: the spec's t runs from data (t = 0)
  /// to the source (t = 1), as diffusers' sigma does; the compiler samples
  /// from t = 1 to 0 (canonical time 1 - t) and negates the velocity.
  bool reverseTime = false;
  // Set by Sema: the statements that bind time `t` and the source `x0`, and
  // the single `loss` statement.
  const FlowStmt *timeStmt = nullptr;
  const FlowStmt *sourceStmt = nullptr;
  /// No `t` and no `x0`: a plain training objective (an autoencoder), which
  /// trains and has nothing to sample.
  bool objective = false;
  /// The encoder tokenizer the flow draws from (its samples decode with it).
  const DataDecl *encoder = nullptr;
  const FlowStmt *lossStmt = nullptr; ///< the first loss
  std::vector<const FlowStmt *> losses; ///< every loss, in order
  FlowDecl() : Decl(Kind::Flow) {}
};

/// `train FLOW { settings }` and `sample FLOW { settings }`.
struct RunDecl : Decl {
  std::vector<Setting> settings;
  const FlowDecl *flow = nullptr; // set by Sema
  /// Set by Sema: the numeric settings the user gave, checked. Train: steps,
  /// batch, lr (from `lr:` or `optimizer: adam(lr: ...)`), ema, seed.
  /// Sample: steps (from `steps:` or `solver: NAME(steps: ...)`), n, seed,
  /// rtol, atol.
  std::map<std::string, double> numbers;
  const SolverDecl *solver = nullptr; // sample: the `solver:` setting
  /// sample: the network the solver integrates (set by Sema when the flow's
  /// field is its network).
  const ModelDecl *sampledModel = nullptr;
  /// sample of a training objective that trains a normalizing flow: the
  /// tarflow that sampling inverts (settings n, seed, label, and in
  /// `numbers` guidance, jacobi, jacobi_block, denoise).
  const ModelDecl *invertedModel = nullptr;
  /// Train: `lr_NAME: X`, the learning rate of the flow's network NAME
  /// (the others take `lr`).
  std::map<std::string, double> networkLr;
  /// Sample, conditional flows: `label: K` (-2 = balanced over the classes).
  int64_t label = -2;
  /// Sample: `guidance: FN(w: ...)`. The fn's first two parameters take the
  /// conditional and unconditional velocities, parameters named `x` and `t`
  /// the state and time, `w` the guidance scale (`guidanceScale`, which the
  /// program's --guidance overrides), and the others the constants here.
  const FunctionDecl *guidance = nullptr;
  std::map<std::string, double> guidanceConstants;
  double guidanceScale = 0;
  bool guidanceHasScale = false;
  /// Train: `optimizer: FN(...)` (default adam, see std.optimizers). FN
  /// returns a parameter's new value; each state variable s has its update
  /// fn FN_s. Parameters are bound by name: p, g, step and lr by the
  /// trainer, state variables to their values, settings to these constants.
  const FunctionDecl *optimizer = nullptr;
  std::vector<std::pair<std::string, const FunctionDecl *>> optimizerState;
  std::map<std::string, double> optimizerConstants;
  /// Sample: `velocity: EXPR`, the field the solver integrates, with
  /// `fieldParams` x (the flow's sample) and t bound; `velocityLabel` is the
  /// flow's label name when EXPR uses it (the field then takes each
  /// sample's label), `velocityCondition` its condition's.
  const Expr *velocity = nullptr;
  /// Sample: `map: EXPR`, one step of a flow map from x at t to t + dt
  /// (`fieldParams` x, t, dt), run `steps` times from 0 to 1 in place of a
  /// solver; `velocityLabel` and `velocityCondition` as for `velocity`.
  const Expr *map = nullptr;
  std::vector<Param> fieldParams;
  /// Sample: `times: EXPR`, the time grid, an expression of u in [0, 1]
  /// (`gridParams`: u) rising from 0 to 1: step k of N runs from
  /// EXPR(k / N) to EXPR((k + 1) / N).
  const Expr *times = nullptr;
  std::vector<Param> gridParams;
  std::string velocityLabel, velocityCondition;
  /// The shape of the condition `velocityCondition` names: the data's
  /// `cond_shape`, or the shape of a value the flow computes from its draw
  /// alone (a flow decoder's tokens), which sampling is given.
  std::vector<int64_t> velocityConditionShape;
  bool conditionComputed = false; ///< the condition is such a value
  explicit RunDecl(Kind k) : Decl(k) {}
  double number(const std::string &n, double fallback) const {
    auto it = numbers.find(n);
    return it == numbers.end() ? fallback : it->second;
  }
  const Setting *find(const std::string &n) const {
    for (auto &s : settings)
      if (s.name == n)
        return &s;
    return nullptr;
  }
};

/// A parsed spec: the user's file plus everything it imports, in order.
struct Module {
  std::vector<DeclPtr> decls;
};

/// Prints the AST as indented text (`flowc --emit=ast`).
std::string printModule(const Module &m);

} // namespace flowc::ast

#endif // FLOWC_LANG_AST_H
