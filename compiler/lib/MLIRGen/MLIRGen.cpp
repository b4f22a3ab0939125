//===- MLIRGen.cpp - AST to flow dialect ----------------------------------===//
//
// Walks a checked AST and emits the flow dialect: one op per data set,
// network, solver, train and sample block, and for each flow a per-sample body
// in `flow`/`arith`/`math`. Paths are inlined by evaluating their bodies with
// the parameters bound to the argument values; broadcasting follows the value
// types (a scalar meets a vector through `flow.broadcast`). Built-in calls
// are emitted by their row of the shared table (flowc/Lang/Builtins.h). The
// errors here are internal checks: Sema reports the mistakes of a spec.
//
//===----------------------------------------------------------------------===//
#include "flowc/MLIRGen/MLIRGen.h"
#include "Declarations.h"
#include "SourceDensity.h"

#include "flowc/Dialect/Flow/FlowDialect.h"
#include "flowc/Lang/Builtins.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/Verifier.h"
#include "llvm/ADT/ScopedHashTable.h"
#include "llvm/ADT/StringMap.h"

#include <cmath>
#include <map>

using namespace mlir;
using namespace flowc;
namespace fl = flowc::flow;

namespace {

/// Default settings of train and sample blocks (documented in docs/language.md).
struct TrainDefaults { int64_t steps = 2000, batch = 256, seed = 0; double lr = 1e-3, ema = 0.0; };
struct SampleDefaults {
  int64_t steps = 32, n = 10000, seed = 0;
  double rtol = 1e-5, atol = 1e-5; // flow_matching's ODESolver defaults
};

class MLIRGenImpl {
public:
  explicit MLIRGenImpl(MLIRContext &ctx) : builder(&ctx) {}

  OwningOpRef<ModuleOp> gen(const ast::Module &m) {
    // The module stands for the spec file: an error about the whole spec
    // (no train or sample block) points at its first line.
    Location specLoc = builder.getUnknownLoc();
    if (!m.decls.empty() && !m.decls.front()->loc.file.empty())
      specLoc = FileLineColLoc::get(builder.getStringAttr(m.decls.front()->loc.file), 1, 1);
    module = ModuleOp::create(specLoc);
    builder.setInsertionPointToEnd(module->getBody());
    for (auto &d : m.decls) {
      auto *data = dynamic_cast<const ast::DataDecl *>(d.get());
      if (data && data->isEncoder()) {
        if (failed(genTokenizer(*data)))
          return nullptr;
      } else if (data)
        genDataOp(builder, *data);
      else if (auto *solver = dynamic_cast<const ast::SolverDecl *>(d.get()))
        genSolverOp(builder, *solver);
      else if (auto *flowDecl = dynamic_cast<const ast::FlowDecl *>(d.get()))
        if (failed(genFlow(*flowDecl)))
          return nullptr;
    }
    // Networks after flows (Sema recorded each one's input width).
    for (auto &d : m.decls)
      if (auto *model = dynamic_cast<const ast::ModelDecl *>(d.get()))
        if (failed(genNetworkOp(builder, *model)))
          return nullptr;
    for (auto &d : m.decls)
      if (auto *run = dynamic_cast<const ast::RunDecl *>(d.get()))
        if (failed(genRun(*run)))
          return nullptr;
    if (failed(verify(*module)))
      return nullptr;
    return std::move(module);
  }

private:
  OpBuilder builder;
  OwningOpRef<ModuleOp> module;
  /// The flow being generated, and for each flow whose model is closed-form
  /// that model and the type of x it is applied to (its sample blocks
  /// evaluate it instead of a network).
  const ast::FlowDecl *currentFlow = nullptr;
  std::map<const ast::FlowDecl *, std::pair<const ast::ModelDecl *, Type>> closedFormModel;
  /// Values visible by name while generating a flow or an inlined path.
  using Env = llvm::StringMap<Value>;
  int64_t nextStream = 0;
  /// The presence flag of each condition drop() nulled (a condition not in
  /// here is present).
  llvm::DenseMap<Value, Value> presence;

  Location loc(const ast::Location &l) { return toLocation(builder, l); }

  //===--------------------------------------------------------------------===//
  // Declarations
  //===--------------------------------------------------------------------===//

  //===--------------------------------------------------------------------===//
  // Flow bodies
  //===--------------------------------------------------------------------===//

  Value constant(Location l, double v) {
    return arith::ConstantOp::create(builder, l, builder.getF32FloatAttr(float(v)));
  }

  /// Broadcasts a scalar, or a tensor of a smaller shape, to `like`'s type
  /// if `like` is a tensor.
  Value broadcastTo(Location l, Value v, Type like) {
    if (v.getType() == like || !isa<RankedTensorType>(like))
      return v;
    if (isa<RankedTensorType>(v.getType()))
      return fl::ExpandOp::create(builder, l, like, v);
    return fl::BroadcastOp::create(builder, l, like, v);
  }

  /// The type both operands broadcast to (numpy rules; Sema checked them).
  Type broadcastType(Type a, Type b) {
    auto ta = dyn_cast<RankedTensorType>(a), tb = dyn_cast<RankedTensorType>(b);
    if (!ta)
      return b;
    if (!tb)
      return a;
    if (ta.getRank() < tb.getRank())
      std::swap(ta, tb);
    SmallVector<int64_t> dims(ta.getShape());
    int64_t offset = ta.getRank() - tb.getRank();
    for (int64_t i = 0; i < tb.getRank(); ++i)
      dims[offset + i] = std::max(dims[offset + i], tb.getDimSize(i));
    return RankedTensorType::get(dims, builder.getF32Type());
  }

  /// Brings two operands to one type (scalar meets tensor, or tensors of
  /// shapes that broadcast).
  std::pair<Value, Value> unify(Location l, Value a, Value b) {
    Type t = broadcastType(a.getType(), b.getType());
    return {broadcastTo(l, a, t), broadcastTo(l, b, t)};
  }

  Value genBinary(Location l, char op, Value a, Value b) {
    if (op == '^') {
      // Small integer powers become products: exact, and differentiable
      // without pow's log.
      if (auto c = b.getDefiningOp<arith::ConstantOp>()) {
        double p = cast<FloatAttr>(c.getValue()).getValueAsDouble();
        if (p == std::round(p) && p >= 1 && p <= 4) {
          Value r = a;
          for (int i = 1; i < int(p); ++i)
            r = arith::MulFOp::create(builder, l, r, a);
          return r;
        }
      }
      auto [x, y] = unify(l, a, b);
      return math::PowFOp::create(builder, l, x, y);
    }
    auto [x, y] = unify(l, a, b);
    std::optional<arith::CmpFPredicate> cmp;
    switch (op) {
    case '+': return arith::AddFOp::create(builder, l, x, y);
    case '-': return arith::SubFOp::create(builder, l, x, y);
    case '*': return arith::MulFOp::create(builder, l, x, y);
    case '/': return arith::DivFOp::create(builder, l, x, y);
    case '<': cmp = arith::CmpFPredicate::OLT; break;
    case '>': cmp = arith::CmpFPredicate::OGT; break;
    case 'L': cmp = arith::CmpFPredicate::OLE; break;
    case 'G': cmp = arith::CmpFPredicate::OGE; break;
    case '=': cmp = arith::CmpFPredicate::OEQ; break;
    default: cmp = arith::CmpFPredicate::UNE; break;
    }
    // Comparisons give 1.0 or 0.0.
    Value bits = arith::CmpFOp::create(builder, l, *cmp, x, y);
    return arith::UIToFPOp::create(builder, l, x.getType(), bits);
  }

  /// `where(c, a, b)`: a where c is nonzero, else b.
  Value genWhere(Location l, Value c, Value a, Value b) {
    Type t = broadcastType(broadcastType(c.getType(), a.getType()), b.getType());
    Value cond = broadcastTo(l, c, t), x = broadcastTo(l, a, t), y = broadcastTo(l, b, t);
    Value zero = broadcastTo(l, constant(l, 0.0), cond.getType());
    Value nonzero =
        arith::CmpFOp::create(builder, l, arith::CmpFPredicate::UNE, cond, zero);
    return arith::SelectOp::create(builder, l, nonzero, x, y);
  }

  /// The element-wise built-ins (and sum, mean, norm, softmax over a whole
  /// tensor): null when `fn` is none of them or its arguments do not fit.
  Value genMath(Location l, BuiltinOp fn, ArrayRef<Value> a) {
    if (a.size() == 1) {
      Value x = a[0];
      switch (fn) {
      case BuiltinOp::Exp: return math::ExpOp::create(builder, l, x);
      case BuiltinOp::Log: return math::LogOp::create(builder, l, x);
      case BuiltinOp::Log1p: return math::Log1pOp::create(builder, l, x);
      case BuiltinOp::Expm1: return math::ExpM1Op::create(builder, l, x);
      case BuiltinOp::Sin: return math::SinOp::create(builder, l, x);
      case BuiltinOp::Cos: return math::CosOp::create(builder, l, x);
      case BuiltinOp::Tan: return math::TanOp::create(builder, l, x);
      case BuiltinOp::Sqrt: return math::SqrtOp::create(builder, l, x);
      case BuiltinOp::Tanh: return math::TanhOp::create(builder, l, x);
      case BuiltinOp::Erf: return math::ErfOp::create(builder, l, x);
      case BuiltinOp::Abs: return math::AbsFOp::create(builder, l, x);
      case BuiltinOp::Round: return math::RoundEvenOp::create(builder, l, x);
      case BuiltinOp::Floor: return math::FloorOp::create(builder, l, x);
      case BuiltinOp::Sg: return fl::StopGradientOp::create(builder, l, x);
      case BuiltinOp::BatchMean: return fl::BatchAverageOp::create(builder, l, x);
      case BuiltinOp::Sigmoid: { // 1 / (1 + exp(-x))
        Value one = broadcastTo(l, constant(l, 1.0), x.getType());
        Value e = math::ExpOp::create(builder, l, arith::NegFOp::create(builder, l, x));
        return arith::DivFOp::create(builder, l, one,
                                     arith::AddFOp::create(builder, l, one, e));
      }
      default:
        break;
      }
      if (!isa<RankedTensorType>(x.getType()))
        return nullptr;
      Type f32 = builder.getF32Type();
      switch (fn) {
      case BuiltinOp::Sum: return fl::SumOp::create(builder, l, f32, x);
      case BuiltinOp::Mean: return fl::MeanOp::create(builder, l, f32, x);
      case BuiltinOp::Norm: { // sqrt(sum(x * x))
        Value sq = arith::MulFOp::create(builder, l, x, x);
        return math::SqrtOp::create(builder, l, fl::SumOp::create(builder, l, f32, sq));
      }
      case BuiltinOp::Softmax: // over the last axis unless genAxisSoftmax's
        return fl::SoftmaxOp::create(builder, l, x.getType(), x,
                                     cast<RankedTensorType>(x.getType()).getRank() - 1);
      default:
        return nullptr;
      }
    }
    if (a.size() == 2 && (fn == BuiltinOp::Min || fn == BuiltinOp::Max)) {
      auto [x, y] = unify(l, a[0], a[1]);
      if (fn == BuiltinOp::Min)
        return arith::MinimumFOp::create(builder, l, x, y);
      return arith::MaximumFOp::create(builder, l, x, y);
    }
    if (a.size() == 2 && fn == BuiltinOp::Mse) { // mean over features of (a - b)^2
      Value d = genBinary(l, '-', a[0], a[1]);
      Value sq = arith::MulFOp::create(builder, l, d, d);
      if (isa<RankedTensorType>(sq.getType()))
        return fl::MeanOp::create(builder, l, builder.getF32Type(), sq);
      return sq;
    }
    if (a.size() == 3 && fn == BuiltinOp::Where)
      return genWhere(l, a[0], a[1], a[2]);
    if (a.size() == 3 && fn == BuiltinOp::Clamp) { // min(max(x, lo), hi)
      auto [x, lo] = unify(l, a[0], a[1]);
      Value low = arith::MaximumFOp::create(builder, l, x, lo);
      auto [y, hi] = unify(l, low, a[2]);
      return arith::MinimumFOp::create(builder, l, y, hi);
    }
    return nullptr;
  }

  Value genExpr(const ast::Expr *e, Env &env) {
    Location l = loc(e->loc);
    switch (e->kind) {
    case ast::Expr::Kind::Number:
      return constant(l, static_cast<const ast::NumberExpr *>(e)->value);
    case ast::Expr::Kind::Name: {
      auto *n = static_cast<const ast::NameExpr *>(e);
      if (n->binding.kind == ast::Binding::Kind::Constant)
        return constant(l, n->binding.constant);
      if (auto *c = dynamic_cast<const ast::ConstDecl *>(n->binding.decl))
        return tensorConstant(l, c->shape, c->values);
      auto it = env.find(n->name);
      if (it != env.end())
        return it->second;
      emitError(l) << "'" << n->name << "' has no value here";
      return nullptr;
    }
    case ast::Expr::Kind::Unary: {
      Value v = genExpr(static_cast<const ast::UnaryExpr *>(e)->operand.get(), env);
      return v ? arith::NegFOp::create(builder, l, v) : nullptr;
    }
    case ast::Expr::Kind::Binary: {
      auto *b = static_cast<const ast::BinaryExpr *>(e);
      Value x = genExpr(b->lhs.get(), env), y = genExpr(b->rhs.get(), env);
      return x && y ? genBinary(l, b->op, x, y) : nullptr;
    }
    case ast::Expr::Kind::Index: {
      auto *ix = static_cast<const ast::IndexExpr *>(e);
      Value base = genExpr(ix->base.get(), env);
      return base ? fl::ExtractOp::create(builder, l, base, ix->position) : nullptr;
    }
    case ast::Expr::Kind::Call:
      return genCall(*static_cast<const ast::CallExpr *>(e), env);
    case ast::Expr::Kind::List:
      return genList(*static_cast<const ast::ListExpr *>(e), env);
    case ast::Expr::Kind::String:
      break;
    }
    emitError(l) << "expression cannot be evaluated per sample";
    return nullptr;
  }

  /// A tensor constant of `shape` holding `values` row-major.
  Value tensorConstant(Location l, ArrayRef<int64_t> shape, ArrayRef<double> values) {
    auto type = RankedTensorType::get(shape, builder.getF32Type());
    SmallVector<float> floats(values.begin(), values.end());
    return arith::ConstantOp::create(builder, l,
                                     DenseElementsAttr::get(type, ArrayRef<float>(floats)));
  }

  /// `[e1, ..., en]`: a dense constant when every element is a number or a
  /// constant (nested lists too), else the elements stacked on a new axis 0.
  Value genList(const ast::ListExpr &list, Env &env) {
    Location l = loc(list.loc);
    SmallVector<double> values;
    if (collectConstants(list, values))
      return tensorConstant(l, list.shape.dims, values);
    SmallVector<Value> elements;
    for (auto &el : list.elements) {
      elements.push_back(genExpr(el.get(), env));
      if (!elements.back())
        return nullptr;
    }
    return genStack(l, elements, 0);
  }

  /// Appends the values of a list of constants row-major; false if any
  /// element is not a constant.
  static bool collectConstants(const ast::Expr &e, SmallVector<double> &values) {
    if (auto *list = dynamic_cast<const ast::ListExpr *>(&e)) {
      for (auto &el : list->elements)
        if (!collectConstants(*el, values))
          return false;
      return true;
    }
    std::optional<double> v = constantValue(&e);
    if (v)
      values.push_back(*v);
    return v.has_value();
  }

  /// Values of one shape joined along a new axis: each reshaped (a scalar
  /// broadcast) to have an axis of size 1 there, then concatenated.
  Value genStack(Location l, ArrayRef<Value> values, int64_t axis) {
    auto shapeOf = [](Value v) {
      auto t = dyn_cast<RankedTensorType>(v.getType());
      return t ? SmallVector<int64_t>(t.getShape()) : SmallVector<int64_t>{};
    };
    SmallVector<int64_t> one = shapeOf(values.front());
    one.insert(one.begin() + axis, 1);
    auto oneType = RankedTensorType::get(one, builder.getF32Type());
    SmallVector<Value> parts;
    for (Value v : values)
      parts.push_back(isa<RankedTensorType>(v.getType())
                          ? Value(fl::ReshapeOp::create(builder, l, oneType, v))
                          : Value(fl::BroadcastOp::create(builder, l, oneType, v)));
    if (parts.size() == 1)
      return parts.front();
    SmallVector<int64_t> dims = shapeOf(values.front());
    dims.insert(dims.begin() + axis, static_cast<int64_t>(values.size()));
    return fl::ConcatOp::create(builder, l, RankedTensorType::get(dims, builder.getF32Type()),
                                parts, axis);
  }

  /// `concat(...)` and `stack(...)`: the positional arguments along the
  /// axis Sema checked (negative counts from the end).
  Value genJoin(const ast::CallExpr &call, Env &env, bool stack) {
    Location l = loc(call.loc);
    SmallVector<Value> values;
    for (const ast::Arg &a : call.args)
      if (a.name.empty()) {
        values.push_back(genExpr(a.value.get(), env));
        if (!values.back())
          return nullptr;
      }
    auto axis = static_cast<int64_t>(call.constantArgs[0]);
    if (axis < 0)
      axis += static_cast<int64_t>(call.shape.rank());
    if (stack)
      return genStack(l, values, axis);
    return fl::ConcatOp::create(builder, l, sampleType(call.shape), values, axis);
  }

  /// `cross_entropy(l, p, axis: k)` = -sum(p * log(softmax(l, axis: k) +
  /// 1e-30)): the cross-entropies of every position (classes along axis k,
  /// by default the last) added up. softmax subtracts the maximum; the
  /// 1e-30 keeps log finite where a probability underflows (its term then
  /// weighs p * 69, not infinity).
  Value genCrossEntropy(const ast::CallExpr &call, Env &env) {
    Location l = loc(call.loc);
    Value logits = genExpr(call.args[0].value.get(), env);
    Value target = genExpr(call.args[1].value.get(), env);
    if (!logits || !target)
      return nullptr;
    auto type = cast<RankedTensorType>(logits.getType());
    int64_t axis = call.constantArgs.empty() ? -1 : static_cast<int64_t>(call.constantArgs[0]);
    if (axis < 0)
      axis += type.getRank();
    Value s = fl::SoftmaxOp::create(builder, l, type, logits, axis);
    Value logs = math::LogOp::create(builder, l, genBinary(l, '+', s, constant(l, 1e-30)));
    Value sum = fl::SumOp::create(builder, l, builder.getF32Type(), genBinary(l, '*', target, logs));
    return arith::NegFOp::create(builder, l, sum);
  }

  /// Inlines a definition: parameters bound to the arguments (or their
  /// defaults), then the local lets in order, then the body.
  Value inlineDefinition(const ast::CallExpr &call, ArrayRef<ast::Param> params,
                         ArrayRef<std::unique_ptr<ast::FlowStmt>> lets,
                         const ast::Expr *body, Env &env) {
    Env inner;
    for (auto [i, p] : llvm::enumerate(params)) {
      const ast::Expr *arg = i < call.orderedArgs.size() ? call.orderedArgs[i] : nullptr;
      Env none;
      Value v = arg ? genExpr(arg, env)
                    : (p.defaultValue ? genExpr(p.defaultValue.get(), none) : nullptr);
      if (!v) {
        emitError(loc(call.loc)) << "missing argument '" << p.name << "'";
        return nullptr;
      }
      inner[p.name] = v;
    }
    for (auto &let : lets) {
      Value v = genExpr(let->value.get(), inner);
      if (!v)
        return nullptr;
      inner[let->names[0]] = v;
    }
    return genExpr(body, inner);
  }

  /// `normal(mean, std, like: x)` / `uniform(low, high, like: x)` with
  /// absent arguments left out rather than multiplied by 1 or added as 0.
  Value genStandardDraw(const ast::CallExpr &call, Env &env) {
    Location l = loc(call.loc);
    auto param = [&](unsigned i) -> const ast::Expr * {
      return i < call.orderedArgs.size() ? call.orderedArgs[i] : nullptr;
    };
    Type type = builder.getF32Type();
    if (const ast::Expr *like = param(2)) {
      Value v = genExpr(like, env);
      if (!v)
        return nullptr;
      type = v.getType();
    } else if (call.shape.isTensor()) {
      type = sampleType(call.shape);
    }
    bool isNormal = builtinKind(call.callee) == BuiltinKind::Normal;
    Value z = isNormal ? Value(fl::NormalOp::create(builder, l, type, nextStream++))
                       : Value(fl::UniformOp::create(builder, l, type, nextStream++));
    // Defaults written out (normal(0, 1), uniform(0, 1)) add no arithmetic.
    auto isNumber = [](const ast::Expr *e, double v) {
      auto *n = dynamic_cast<const ast::NumberExpr *>(e);
      return n && n->value == v;
    };
    const ast::Expr *shift = param(0), *scale = param(1);
    if (isNumber(scale, 1.0) && (isNormal || !shift || isNumber(shift, 0.0)))
      scale = nullptr;
    if (isNumber(shift, 0.0))
      shift = nullptr;
    if (scale) {
      Value s = genExpr(scale, env);
      if (!s)
        return nullptr;
      if (!isNormal) { // uniform: width high - low
        Value lo = shift ? genExpr(shift, env) : constant(l, 0.0);
        s = genBinary(l, '-', s, lo);
      }
      z = genBinary(l, '*', s, z);
    } else if (!isNormal && shift) { // uniform(low): width 1 - low
      Value lo = genExpr(shift, env);
      z = genBinary(l, '*', genBinary(l, '-', constant(l, 1.0), lo), z);
    }
    if (shift) {
      Value m = genExpr(shift, env);
      if (!m)
        return nullptr;
      z = genBinary(l, '+', m, z);
    }
    return z;
  }

  /// `sum(x, axis: k)`: flow.reduce_to the shape with axis k of size 1, then
  /// a reshape that drops it (a vector gives flow.sum); mean divides by the
  /// axis's size, norm is sqrt(sum(x * x, axis: k)). Types come from x, not
  /// from the call's AST shape: inside a definition that holds the shape of
  /// the last call Sema checked, and each call is inlined with its own.
  Value genAxisReduction(const ast::CallExpr &call, Env &env) {
    Location l = loc(call.loc);
    Value x = genExpr(call.args[0].value.get(), env);
    if (!x)
      return nullptr;
    auto type = cast<RankedTensorType>(x.getType());
    auto axis = static_cast<int64_t>(call.constantArgs[0]);
    if (axis < 0) // counted from the last axis
      axis += type.getRank();
    BuiltinOp op = lookupBuiltin(call.callee)->op;
    if (op == BuiltinOp::Norm)
      x = arith::MulFOp::create(builder, l, x, x);
    Value sum;
    if (type.getRank() == 1) {
      sum = fl::SumOp::create(builder, l, builder.getF32Type(), x);
    } else {
      SmallVector<int64_t> kept(type.getShape());
      kept[axis] = 1;
      Value reduced = fl::ReduceToOp::create(
          builder, l, RankedTensorType::get(kept, builder.getF32Type()), x);
      SmallVector<int64_t> dropped(type.getShape());
      dropped.erase(dropped.begin() + axis);
      sum = fl::ReshapeOp::create(
          builder, l, RankedTensorType::get(dropped, builder.getF32Type()), reduced);
    }
    if (op == BuiltinOp::Mean)
      return genBinary(l, '/', sum, constant(l, double(type.getDimSize(axis))));
    if (op == BuiltinOp::Norm)
      return math::SqrtOp::create(builder, l, sum);
    return sum;
  }

  /// `drop(y, p)` = where(u < p, -1, y) with a fresh uniform u: the label,
  /// or the null class -1 with probability p. Of a condition c, where(u <
  /// p, 0, c), with presence where(u < p, 0, 1) (recorded for the networks
  /// it is passed to).
  Value genDrop(const ast::CallExpr &call, Env &env) {
    Location l = loc(call.loc);
    Value y = genExpr(call.args[0].value.get(), env);
    if (!y)
      return nullptr;
    Value u = fl::UniformOp::create(builder, l, builder.getF32Type(), nextStream++);
    Value dropped = genBinary(l, '<', u, constant(l, call.constantArgs[0]));
    if (!isa<RankedTensorType>(y.getType()))
      return genWhere(l, dropped, constant(l, -1.0), y);
    Value nulled = genWhere(l, dropped, constant(l, 0.0), y);
    presence[nulled] = genWhere(l, dropped, constant(l, 0.0), constant(l, 1.0));
    return nulled;
  }

  Value genCall(const ast::CallExpr &call, Env &env) {
    Location l = loc(call.loc);
    const ast::Binding &b = call.binding;
    if (b.kind == ast::Binding::Kind::Decl && b.decl) {
      if (auto *def = dynamic_cast<const ast::FunctionDecl *>(b.decl))
        return inlineDefinition(call, def->params, def->lets, def->body.get(), env);
      if (auto *model = dynamic_cast<const ast::ModelDecl *>(b.decl))
        return genModelCall(call, *model, env);
      if (auto *tok = dynamic_cast<const ast::DataDecl *>(b.decl)) // T(x1)
        return encode(*tok, genExpr(call.args[0].value.get(), env));
    }
    // Anything else Sema bound to a built-in of the shared table.
    const BuiltinFunction *fn = lookupBuiltin(call.callee);
    if (!fn || b.kind != ast::Binding::Kind::Builtin) {
      emitError(l) << "cannot generate a call to '" << call.callee << "'";
      return nullptr;
    }
    switch (fn->kind) {
    case BuiltinKind::Ddt: {
      Value v = genExpr(call.args[0].value.get(), env);
      auto t = env.find("t");
      if (!v || t == env.end())
        return nullptr;
      return fl::DdtOp::create(builder, l, v.getType(), v, t->second);
    }
    case BuiltinKind::Jvp: { // Sema checked that args[1] names a flow value
      Value v = genExpr(call.args[0].value.get(), env);
      Value x = genExpr(call.args[1].value.get(), env);
      Value dx = genExpr(call.args[2].value.get(), env);
      if (!v || !x || !dx)
        return nullptr;
      return fl::JvpOp::create(builder, l, v.getType(), v, x, broadcastTo(l, dx, x.getType()));
    }
    case BuiltinKind::Normal:
    case BuiltinKind::Uniform:
      return genStandardDraw(call, env);
    case BuiltinKind::Categorical: { // weights (1 without) broadcast to like's shape
      auto type = dyn_cast_or_null<RankedTensorType>(sampleType(call.shape));
      Value w = call.args[0].name.empty() ? genExpr(call.args[0].value.get(), env) : constant(l, 1);
      return w && type ? fl::CategoricalOp::create(builder, l, type, broadcastTo(l, w, type),
                                                   nextStream++) : nullptr;
    }
    case BuiltinKind::Drop:
      return genDrop(call, env);
    case BuiltinKind::Concat:
    case BuiltinKind::Stack:
      return genJoin(call, env, fn->kind == BuiltinKind::Stack);
    case BuiltinKind::CrossEntropy:
      return genCrossEntropy(call, env);
    case BuiltinKind::Reshape: { // to the dims Sema evaluated
      Value x = genExpr(call.args[0].value.get(), env);
      SmallVector<int64_t> dims(call.constantArgs.begin(), call.constantArgs.end());
      return x ? fl::ReshapeOp::create(builder, l,
                                       RankedTensorType::get(dims, builder.getF32Type()), x)
               : nullptr;
    }
    case BuiltinKind::Reduce:
      if (call.args.size() == 2) // over one axis (Sema set constantArgs)
        return genAxisReduction(call, env);
      break;
    case BuiltinKind::Softmax:
      if (call.args.size() == 2) { // softmax(x, axis: k)
        Value x = genExpr(call.args[0].value.get(), env);
        if (!x)
          return nullptr;
        auto axis = static_cast<int64_t>(call.constantArgs[0]);
        if (axis < 0)
          axis += cast<RankedTensorType>(x.getType()).getRank();
        return fl::SoftmaxOp::create(builder, l, x.getType(), x, axis);
      }
      break;
    case BuiltinKind::OneHot: {
      Value k = genExpr(call.args[0].value.get(), env);
      if (!k || !call.shape.isTensor())
        return nullptr;
      return fl::OneHotOp::create(builder, l, sampleType(call.shape), k);
    }
    default:
      break;
    }
    SmallVector<Value> args;
    for (auto &a : call.args) {
      Value v = genExpr(a.value.get(), env);
      if (!v)
        return nullptr;
      args.push_back(v);
    }
    if (Value r = genMath(l, fn->op, args))
      return r;
    emitError(l) << "cannot generate a call to '" << call.callee << "'";
    return nullptr;
  }

  /// A network becomes `flow.apply_net`; a closed-form model is inlined, and
  /// also emitted once as a velocity kernel for the sampler.
  Value genModelCall(const ast::CallExpr &call, const ast::ModelDecl &model, Env &env) {
    Location l = loc(call.loc);
    if (!model.network) {
      if (call.args.size() != 2)
        return nullptr;
      Value v = inlineDefinition(call, model.params, model.lets, model.body.get(), env);
      if (v && currentFlow && !closedFormModel.count(currentFlow))
        closedFormModel[currentFlow] = {&model, v.getType()};
      return v;
    }
    // A condition is followed by its presence flag: 0 where drop() nulled
    // it, else 1.
    SmallVector<Value> args;
    for (auto [i, arg] : llvm::enumerate(call.orderedArgs)) {
      args.push_back(genExpr(arg, env));
      if (!args.back())
        return nullptr;
      if (i < model.inputs.size() &&
          model.inputs[i].role == ast::ModelDecl::Input::Role::Condition) {
        Value flag = presence.lookup(args.back());
        args.push_back(fl::BroadcastOp::create(
            builder, l, RankedTensorType::get({1}, builder.getF32Type()),
            flag ? flag : constant(l, 1.0)));
      }
    }
    bool scalar = model.network->callee == "tarflow"; // log p(x): feature 0 of [1]
    Value out = fl::ApplyNetOp::create(builder, l, scalar ? sampleType(ast::Shape::tensor({1}))
                                                          : sampleType(call.shape),
                                       SymbolRefAttr::get(builder.getContext(), model.name), args);
    return scalar ? Value(fl::ExtractOp::create(builder, l, out, 0)) : out;
  }

  Type sampleType(const ast::Shape &s) {
    if (s.isTensor())
      return RankedTensorType::get(s.dims, builder.getF32Type());
    return builder.getF32Type();
  }

  /// `x ~ D`: a data sample, or a draw (normal, uniform, a `dist`);
  /// `x, y ~ data` also binds the sample's label or condition, `x, y, c ~
  /// data` both. From an encoder tokenizer: its data's sample, encoded.
  Value genDraw(const ast::FlowStmt &s, Env &env) {
    const ast::Expr *rhs = s.value.get();
    if (auto *n = dynamic_cast<const ast::NameExpr *>(rhs))
      if (auto *data = dynamic_cast<const ast::DataDecl *>(n->binding.decl)) {
        const ast::DataDecl *drawn = data->isEncoder() ? data->tokenized : data;
        using Drawn = ast::DataDecl::Drawn;
        bool labelled = false, conditioned = false;
        for (size_t i = 1; i < s.names.size(); ++i) {
          labelled |= data->drawn(i) == Drawn::Label;
          conditioned |= data->drawn(i) == Drawn::Condition;
        }
        auto draw = fl::DrawDataOp::create(
            builder, loc(s.loc), RankedTensorType::get(drawn->shape, builder.getF32Type()),
            labelled ? builder.getF32Type() : Type(),
            conditioned ? RankedTensorType::get(data->condShape, builder.getF32Type()) : Type(),
            SymbolRefAttr::get(builder.getContext(), drawn->name));
        for (size_t i = 1; i < s.names.size(); ++i)
          env[s.names[i]] =
              data->drawn(i) == Drawn::Label ? Value(draw.getLabel()) : Value(draw.getCond());
        return data->isEncoder() ? encode(*data, draw.getResult()) : draw.getResult();
      }
    return genExpr(rhs, env);
  }

  /// The tokens of data point x: the tokenizer's `encode` with x bound.
  Value encode(const ast::DataDecl &tok, Value x) {
    if (!x)
      return nullptr;
    Env encoding;
    encoding["x"] = x;
    return standardize(tok, genExpr(tok.encode, encoding), /*inverse=*/false);
  }

  /// Tokens `z` through the tokenizer's standardize network (or, with
  /// `inverse`, standardized tokens through its unstandardize network);
  /// `z` itself when it standardizes nothing.
  Value standardize(const ast::DataDecl &tok, Value z, bool inverse) {
    if (!z || tok.standardize == ast::DataDecl::Standardize::None)
      return z;
    return fl::ApplyNetOp::create(
        builder, z.getLoc(), z.getType(),
        SymbolRefAttr::get(builder.getContext(), standardizeNetworkName(tok, inverse)),
        ValueRange{z});
  }

  LogicalResult genFlow(const ast::FlowDecl &f) {
    auto flowOp = fl::FlowOp::create(
        builder, loc(f.loc), f.name, f.reverseTime,
        f.encoder ? FlatSymbolRefAttr::get(builder.getContext(), f.encoder->name) : nullptr);
    Block *body = new Block();
    flowOp.getBody().push_back(body);
    OpBuilder::InsertionGuard guard(builder);
    builder.setInsertionPointToStart(body);
    Env env;
    nextStream = 0;
    currentFlow = &f;
    for (auto &s : f.body) {
      Location l = loc(s->loc);
      switch (s->kind) {
      case ast::FlowStmt::Kind::Draw: {
        Value v = genDraw(*s, env);
        if (!v)
          return failure();
        env[s->names[0]] = v;
        if (s.get() == f.timeStmt)
          fl::TimeOp::create(builder, l, v);
        if (s.get() == f.sourceStmt)
          fl::SourceOp::create(builder, l, v);
        break;
      }
      case ast::FlowStmt::Kind::Let: {
        Value v = genExpr(s->value.get(), env);
        if (!v)
          return failure();
        env[s->names[0]] = v;
        if (s.get() == f.sourceStmt) // x0 = EXPR
          fl::SourceOp::create(builder, l, v);
        break;
      }
      case ast::FlowStmt::Kind::Loss: {
        Value v = genExpr(s->value.get(), env);
        if (!v || !v.getType().isF32())
          return emitError(l) << "a loss must be a scalar per sample";
        fl::LossOp::create(builder, l, v, s->names[0]);
        break;
      }
      }
    }
    return success();
  }

  /// An encoder tokenizer: `flow.tokenizer` with its `encode` (x) -> z and
  /// `decode` (z) -> x regions.
  LogicalResult genTokenizer(const ast::DataDecl &tok) {
    auto op = fl::TokenizerOp::create(
        builder, loc(tok.loc), builder.getStringAttr(tok.name),
        FlatSymbolRefAttr::get(builder.getContext(), tok.tokenized->name),
        builder.getDenseI64ArrayAttr(tok.shape), FlatSymbolRefAttr(), FlatSymbolRefAttr(),
        tok.decoderFlow ? FlatSymbolRefAttr::get(builder.getContext(), tok.decoderFlow->name)
                        : FlatSymbolRefAttr(),
        FlatSymbolRefAttr(), FlatSymbolRefAttr());
    if (tok.standardize != ast::DataDecl::Standardize::None) {
      OpBuilder::InsertionGuard guard(builder);
      builder.setInsertionPoint(op);
      genStandardizeNetworkOps(builder, tok);
      op.setStandardizeAttr(FlatSymbolRefAttr::get(builder.getContext(),
                                                   standardizeNetworkName(tok, false)));
      op.setUnstandardizeAttr(FlatSymbolRefAttr::get(builder.getContext(),
                                                     standardizeNetworkName(tok, true)));
    }
    Type x = sampleType(ast::Shape::tensor(tok.tokenized->shape));
    Type z = sampleType(ast::Shape::tensor(tok.shape));
    // Encoding ends in the standardization, decoding starts with its inverse.
    auto direction = [&](Region &region, Type arg, const char *name, const ast::Expr *body,
                         bool decoding) {
      OpBuilder::InsertionGuard guard(builder);
      Location at = loc(body->loc);
      Block &entry = startRegion(region, arg, at);
      Env bound;
      bound[name] = decoding ? standardize(tok, entry.getArgument(0), true) : entry.getArgument(0);
      Value v = genExpr(body, bound);
      if (v && !decoding)
        v = standardize(tok, v, false);
      if (v)
        fl::YieldOp::create(builder, at, v);
      return success(static_cast<bool>(v));
    };
    if (failed(direction(op.getEncode(), x, "x", tok.encode, false)))
      return failure();
    return tok.decode ? direction(op.getDecode(), z, "z", tok.decode, true) : success();
  }

  //===--------------------------------------------------------------------===//
  // train and sample blocks
  //===--------------------------------------------------------------------===//

  LogicalResult genRun(const ast::RunDecl &r) {
    Location l = loc(r.loc);
    if (r.kind == ast::Decl::Kind::Train) {
      TrainDefaults d;
      if (!r.optimizer)
        return emitError(l) << "the train block has no optimizer";
      auto train = fl::TrainOp::create(builder, l, r.name, int64_t(r.number("steps", d.steps)),
                                       int64_t(r.number("batch", d.batch)), r.optimizer->name,
                                       llvm::APFloat(r.number("lr", d.lr)),
                                       llvm::APFloat(r.number("ema", d.ema)),
                                       int64_t(r.number("seed", d.seed)));
      genUpdate(r, train.getUpdate());
      if (!r.networkLr.empty()) {
        SmallVector<NamedAttribute> rates;
        for (auto &[name, lr] : r.networkLr)
          rates.push_back(builder.getNamedAttr(name, builder.getF64FloatAttr(lr)));
        train.setNetworkLrAttr(builder.getDictionaryAttr(rates));
      }
      return success();
    }
    if (r.invertedModel) // a normalizing flow's: no solver, no field
      return genInvertOp(builder, r), success();
    SampleDefaults d;
    // A map sampler has no solver; it takes one step unless told.
    std::string solver = r.map ? "" : r.solver ? r.solver->name : "euler";
    if (!r.map && !SymbolTable::lookupSymbolIn(*module, solver)) // Sema checked it
      return emitError(l) << "solver '" << solver << "' was not emitted";
    auto sample = fl::SampleOp::create(
        builder, l, r.name, solver, int64_t(r.number("steps", r.map ? 1 : d.steps)),
        int64_t(r.number("n", d.n)), int64_t(r.number("seed", d.seed)), nullptr,
        r.label, nullptr, nullptr, nullptr, r.map || r.numbers.count("steps") > 0, nullptr,
        nullptr, llvm::APFloat(r.number("rtol", d.rtol)), llvm::APFloat(r.number("atol", d.atol)),
        llvm::APFloat(r.number("adaptive_guidance", 0.0)),
        llvm::APFloat(r.number("guidance_momentum", 0.0)));
    sample.setComputedCondition(r.conditionComputed);
    sample.setFromT(llvm::APFloat(r.number("from", 0.0)));
    sample.setToT(llvm::APFloat(r.number("to", 1.0)));
    if (r.times && failed(genTimeGrid(r, sample.getTimes())))
      return failure();
    if (r.map) {
      if (failed(genSampledRegion(r, r.map, /*times=*/2, sample.getMap())))
        return failure();
    } else if (r.velocity) {
      if (failed(genSampledRegion(r, r.velocity, /*times=*/1, sample.getModel())))
        return failure();
    } else if (auto model = closedFormModel.find(r.flow); model != closedFormModel.end()) {
      if (failed(genModelField(*model->second.first, model->second.second, sample.getModel())))
        return failure();
    }
    sample.setLabel(r.label);
    if (r.sampledModel)
      sample.setNetworkAttr(FlatSymbolRefAttr::get(builder.getContext(), r.sampledModel->name));
    if (auto density = sourceDensity(r.flow)) {
      sample.setSourceKindAttr(builder.getStringAttr(density->kind));
      sample.setSourceParamsAttr(builder.getDenseF64ArrayAttr({density->p0, density->p1}));
    }
    if (r.guidance) {
      if (failed(genCombine(r, sample.getCombine())))
        return failure();
      sample.setGuidanceFnAttr(builder.getStringAttr(r.guidance->name));
      if (r.guidanceHasScale)
        sample.setGuidanceScaleAttr(builder.getF64FloatAttr(r.guidanceScale));
    }
    return success();
  }

  /// Gives `region` one block of arguments `types` and points the builder at
  /// it; returns the block.
  Block &startRegion(Region &region, TypeRange types, Location l) {
    Block *block = new Block();
    region.push_back(block);
    for (Type t : types)
      block->addArgument(t, l);
    builder.setInsertionPointToStart(block);
    return *block;
  }

  /// The train block's optimizer as `flow.train`'s `update` region: (p, g,
  /// s..., lr, step) -> (p', s'...), the optimizer fn and its state updates
  /// for one parameter, every fn on the values before the step.
  void genUpdate(const ast::RunDecl &r, Region &region) {
    OpBuilder::InsertionGuard guard(builder);
    Location l = loc(r.loc);
    unsigned k = r.optimizerState.size();
    Block &entry = startRegion(region, SmallVector<Type>(4 + k, builder.getF32Type()), l);
    Env bound;
    bound["p"] = entry.getArgument(0);
    bound["g"] = entry.getArgument(1);
    for (auto [i, s] : llvm::enumerate(r.optimizerState))
      bound[s.first] = entry.getArgument(2 + i);
    bound["lr"] = entry.getArgument(2 + k);
    bound["step"] = entry.getArgument(3 + k);
    for (auto &[name, v] : r.optimizerConstants)
      bound[name] = constant(l, v);
    SmallVector<Value> results{applyByName(*r.optimizer, bound)};
    for (auto &s : r.optimizerState)
      results.push_back(applyByName(*s.second, bound));
    fl::YieldOp::create(builder, l, results);
  }

  /// A closed-form model as `flow.sample`'s `model` region: (x, t) -> v.
  LogicalResult genModelField(const ast::ModelDecl &model, Type xType, Region &region) {
    OpBuilder::InsertionGuard guard(builder);
    Location l = loc(model.loc);
    Block &entry = startRegion(region, {xType, builder.getF32Type()}, l);
    Env inner;
    inner[model.params[0].name] = entry.getArgument(0);
    inner[model.params[1].name] = entry.getArgument(1);
    return yieldDefinition(model.lets, model.body.get(), inner, xType, l);
  }

  /// A sample block's `velocity: EXPR` as `flow.sample`'s `model` region,
  /// (x, t[, label][, cond]) -> v, or its `map: EXPR` as the `map` region,
  /// (x, t, dt[, label][, cond]) -> x': `times` scalar arguments after x
  /// (the block's fieldParams), then the label and the condition when EXPR
  /// uses the flow's.
  LogicalResult genSampledRegion(const ast::RunDecl &r, const ast::Expr *value, unsigned times,
                                 Region &region) {
    OpBuilder::InsertionGuard guard(builder);
    Location l = loc(value->loc);
    Type xType = sampleType(r.fieldParams[0].shape), f32 = builder.getF32Type();
    SmallVector<Type> args{xType};
    args.append(times, f32);
    if (!r.velocityLabel.empty())
      args.push_back(f32);
    if (!r.velocityCondition.empty())
      args.push_back(sampleType(ast::Shape::tensor(r.velocityConditionShape)));
    Block &entry = startRegion(region, args, l);
    Env inner;
    for (unsigned i = 0; i <= times; ++i)
      inner[r.fieldParams[i].name] = entry.getArgument(i);
    if (!r.velocityLabel.empty())
      inner[r.velocityLabel] = entry.getArgument(1 + times);
    if (!r.velocityCondition.empty())
      inner[r.velocityCondition] = entry.getArguments().back();
    return yieldDefinition({}, value, inner, xType, l);
  }

  /// The time grid (u: f32) -> t: f32 of `times:`.
  LogicalResult genTimeGrid(const ast::RunDecl &r, Region &region) {
    OpBuilder::InsertionGuard guard(builder);
    Location l = loc(r.times->loc);
    Block &entry = startRegion(region, {builder.getF32Type()}, l);
    Env inner{{"u", entry.getArgument(0)}};
    return yieldDefinition({}, r.times, inner, builder.getF32Type(), l);
  }

  /// Ends the region being built with a definition's value: its lets, then
  /// its body, with `inner` bound, broadcast to `type`.
  LogicalResult yieldDefinition(const std::vector<std::unique_ptr<ast::FlowStmt>> &lets,
                                const ast::Expr *body, Env &inner, Type type, Location l) {
    for (auto &let : lets)
      inner[let->names[0]] = genExpr(let->value.get(), inner);
    Value v = genExpr(body, inner);
    if (!v)
      return failure();
    fl::YieldOp::create(builder, l, ValueRange{broadcastTo(l, v, type)});
    return success();
  }

  /// A fn whose parameters are bound by name (defaults for the others).
  Value applyByName(const ast::FunctionDecl &fn, Env &bound) {
    Env inner, none;
    for (const ast::Param &p : fn.params)
      inner[p.name] = bound.count(p.name) ? bound[p.name] : genExpr(p.defaultValue.get(), none);
    for (auto &let : fn.lets)
      inner[let->names[0]] = genExpr(let->value.get(), inner);
    return genExpr(fn.body.get(), inner);
  }

  /// The sample block's guidance fn with its constants as `flow.sample`'s
  /// `combine` region: (v_c, v_u, x, t, w) -> v, t per sample (samples may
  /// be at different times) and w the scale.
  LogicalResult genCombine(const ast::RunDecl &r, Region &region) {
    const ast::FunctionDecl &fn = *r.guidance;
    auto x = r.flow && r.flow->sourceStmt ? r.flow->sourceStmt->shapes : std::vector<ast::Shape>{};
    if (x.empty() || !x[0].isTensor())
      return emitError(loc(r.loc)) << "guidance needs the flow's source shape";
    Type vType = sampleType(x[0]), f32 = builder.getF32Type();
    OpBuilder::InsertionGuard guard(builder);
    Location l = loc(r.loc);
    Block &entry = startRegion(region, {vType, vType, vType, f32, f32}, l);
    Env inner;
    for (auto [i, p] : llvm::enumerate(fn.params)) {
      if (i < 2)
        inner[p.name] = entry.getArgument(i);
      else if (p.name == "x")
        inner[p.name] = entry.getArgument(2);
      else if (p.name == "t")
        inner[p.name] = entry.getArgument(3);
      else if (p.name == "w")
        inner[p.name] = entry.getArgument(4);
      else
        inner[p.name] = constant(l, r.guidanceConstants.at(p.name));
    }
    return yieldDefinition(fn.lets, fn.body.get(), inner, vType, l);
  }
};

} // namespace

OwningOpRef<ModuleOp> flowc::mlirGen(MLIRContext &context, const ast::Module &module) {
  return MLIRGenImpl(context).gen(module);
}
