//===- Shapes.cpp - Per-sample shape inference ----------------------------===//
//
// Infers the per-sample shape of every resolved expression (numpy
// broadcasting for arithmetic), checking the body of each path, dist, fn and
// closed-form model once per combination of its parameters' shapes at the
// calls. A shape error inside a body is reported at the outermost call, as
// "in path 'p': ...".
//
//===----------------------------------------------------------------------===//

#include "Sema.h"

#include <algorithm>

using namespace flowc;
using namespace flowc::ast;
using namespace flowc::sema;

void Sema::shapeError(const Location &loc, const std::string &message) {
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

std::optional<Shape> Sema::broadcast(const Shape &a, const Shape &b) {
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

Shape Sema::infer(Expr *e) {
  if (!e)
    return Shape();
  Shape s = inferImpl(*e);
  e->shape = s;
  return s;
}

Shape Sema::inferImpl(Expr &e) {
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
    case Binding::Kind::Decl: // a tensor const
      if (auto *c = dynamic_cast<const ConstDecl *>(b.decl))
        return Shape::tensor(c->shape);
      return Shape();
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
  case Expr::Kind::List: { // [e1, ..., en]: the elements stacked
    auto &list = static_cast<ListExpr &>(e);
    if (list.elements.empty()) {
      shapeError(e.loc, "an empty list has no shape");
      return Shape();
    }
    std::optional<Shape> first;
    for (auto &el : list.elements) {
      Shape s = infer(el.get());
      if (!s.isKnown())
        return Shape();
      if (first && *first != s) {
        shapeError(el->loc, "the elements of a list must have one shape, but this one is " +
                                s.str() + " and the first " + first->str());
        return Shape();
      }
      first = s;
    }
    std::vector<int64_t> dims{static_cast<int64_t>(list.elements.size())};
    dims.insert(dims.end(), first->dims.begin(), first->dims.end());
    return Shape::tensor(dims);
  }
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

Shape Sema::inferCall(CallExpr &call) {
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
  if (b.decl->kind == Decl::Kind::Data)
    return inferTokenizerCall(call, static_cast<const DataDecl &>(*b.decl));
  return Shape();
}

Shape Sema::inferTokenizerCall(CallExpr &call, const DataDecl &tok) {
  Shape x = call.args[0].value->shape, data = Shape::tensor(tok.tokenized->shape);
  if (!x.isKnown() || tok.shape.empty())
    return Shape(); // reported, or the tokenizer's encode failed
  if (x != data) {
    shapeError(call.args[0].value->loc, "tokenizer '" + tok.name + "' encodes points of " +
                                            "data '" + tok.tokenized->name + "', of shape " +
                                            data.str() + ", but this is " + x.str());
    return Shape();
  }
  return Shape::tensor(tok.shape);
}

Shape Sema::inferDefCall(CallExpr &call, FunctionDecl &def) {
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

Shape Sema::inferBody(CallExpr &call, const Decl &def,
                      std::vector<std::unique_ptr<FlowStmt>> &lets,
                      Expr *body) {
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

Shape Sema::inferBodyUncached(CallExpr &call, const Decl &def,
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

Shape Sema::inferModelCall(CallExpr &call, ModelDecl &model) {
  if (model.network)
    return inferNetworkCall(call, model);
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

namespace {
using Role = ModelDecl::Input::Role;

std::string describeInput(const ModelDecl::Input &in) {
  switch (in.role) {
  case Role::Time:
    return "time";
  case Role::Label:
    return "label of " + std::to_string(in.classes) + " classes";
  case Role::Condition:
    return "condition " + in.shape.str();
  case Role::Tensor:
    break;
  }
  return "tensor " + in.shape.str();
}
/// A network's output shape: `out:`, else its first tensor argument's (a
/// condition counts).
Shape firstTensorShape(const ModelDecl &model) {
  if (!model.outShape.empty())
    return Shape::tensor(model.outShape);
  for (const ModelDecl::Input &in : model.inputs)
    if (in.role == Role::Tensor || in.role == Role::Condition)
      return in.shape;
  return Shape();
}
std::string describeInputs(const std::vector<ModelDecl::Input> &inputs) {
  std::string s = "(";
  for (size_t i = 0; i < inputs.size(); ++i)
    s += (i ? ", " : "") + describeInput(inputs[i]);
  return s + ")";
}
} // namespace

bool Sema::checkConvApplication(const CallExpr &call, const ModelDecl &model,
                                const std::vector<ModelDecl::Input> &inputs) {
  if (inputs.size() != 1 || inputs[0].role != ModelDecl::Input::Role::Tensor ||
      inputs[0].shape.dims.size() != 3) {
    error(call.calleeLoc, "network '" + model.name + "' (conv) is applied to one image [C, H, W] "
                          "but here to " + describeInputs(inputs));
    return false;
  }
  if (model.outShape.size() != 3)
    return false; // reported at the declaration
  // H and W scale by one power of two, the same for both.
  auto ratio = [](int64_t from, int64_t to) -> int64_t {
    int64_t big = std::max(from, to), small = std::min(from, to);
    if (small < 1 || big % small || ((big / small) & (big / small - 1)))
      return 0;
    return from >= to ? big / small : -(big / small);
  };
  const std::vector<int64_t> &in = inputs[0].shape.dims, &out = model.outShape;
  int64_t h = ratio(in[1], out[1]), w = ratio(in[2], out[2]);
  if (h == 0 || h != w) {
    error(call.calleeLoc, "network '" + model.name + "' (conv) maps " + inputs[0].shape.str() +
                              " to " + Shape::tensor(out).str() +
                              ": height and width must scale by the same power of two");
    return false;
  }
  return true;
}

Shape Sema::inferTarFlowCall(CallExpr &call, ModelDecl &model,
                             const std::vector<ModelDecl::Input> &inputs) {
  bool ok = !inputs.empty() && inputs.size() <= 2 && inputs[0].role == Role::Tensor &&
            (inputs.size() == 1 || inputs[1].role == Role::Label);
  if (!ok) {
    error(call.calleeLoc, "normalizing flow '" + model.name + "' (tarflow) is applied as "
                          "nf(x) or nf(x, label): an image and optionally a class label; its "
                          "value is log p(x)");
    return Shape();
  }
  const Shape &x = inputs[0].shape;
  int64_t p = model.patch;
  if (x.rank() != 3 || x.dims[1] % p || x.dims[2] % p || x.dims[1] * x.dims[2] / (p * p) < 2) {
    error(call.orderedArgs[0]->loc,
          "tarflow takes an image [C, H, W] of at least two patches of " + std::to_string(p) +
              " x " + std::to_string(p) + " pixels, but '" + model.name + "' is applied to " +
              x.str());
    return Shape();
  }
  if (signedNetworks.count(&model) && (model.inputs.size() != inputs.size() ||
                                       model.inputs[0].shape != x)) {
    error(call.calleeLoc, "model '" + model.name + "' is applied to " +
                              describeInputs(inputs) + " here but to " +
                              describeInputs(model.inputs) +
                              " elsewhere; a network takes arguments of one signature");
    return Shape();
  }
  model.inputs = inputs;
  signedNetworks.insert(&model);
  model.inputDim = x.numElements();
  model.outputDim = 1;
  model.classes = inputs.size() == 2 ? inputs[1].classes : 0;
  return Shape::scalar();
}

Shape Sema::inferNetworkCall(CallExpr &call, ModelDecl &model) {
  std::vector<ModelDecl::Input> inputs;
  for (const Expr *arg : call.orderedArgs) {
    if (!arg || !arg->shape.isKnown())
      return Shape();
    if (arg->kind == Expr::Kind::Call &&
        static_cast<const CallExpr *>(arg)->callee == "drop" &&
        static_cast<const CallExpr *>(arg)->binding.kind == Binding::Kind::Unresolved)
      return Shape(); // a bad drop(), already reported
    int64_t classes = labelClasses(arg);
    Role role = classes > 0         ? Role::Label
                : conditionOf(arg)  ? Role::Condition
                : arg->shape.isScalar() ? Role::Time
                                        : Role::Tensor;
    inputs.push_back({role, arg->shape, classes});
  }
  if (model.network->callee == "tarflow")
    return inferTarFlowCall(call, model, inputs);
  // unet and dit are velocity networks of images; an mlp, a TorchScript
  // module or another run's network (checkpoint) takes any signature; conv
  // one image.
  bool imageOrModule = model.network->callee == "unet" || model.network->callee == "dit";
  if (model.network->callee == "conv" && !signedNetworks.count(&model) &&
      !checkConvApplication(call, model, inputs))
    return Shape();
  if (signedNetworks.count(&model)) {
    auto differs = [&](size_t i) {
      return i >= inputs.size() || i >= model.inputs.size() ||
             inputs[i].role != model.inputs[i].role || inputs[i].shape != model.inputs[i].shape ||
             inputs[i].classes != model.inputs[i].classes;
    };
    size_t n = std::max(inputs.size(), model.inputs.size());
    for (size_t i = 0; i < n; ++i) {
      if (!differs(i))
        continue;
      bool sameCount = inputs.size() == model.inputs.size();
      error(sameCount ? call.orderedArgs[i]->loc : call.calleeLoc,
            "model '" + model.name + "' is applied to " + describeInputs(inputs) +
                " here but to " + describeInputs(model.inputs) +
                " elsewhere; a network takes arguments of one signature");
      return Shape();
    }
  } else {
    std::vector<Role> roles;
    int64_t labels = 0, tensors = 0;
    for (size_t i = 0; i < inputs.size(); ++i) {
      roles.push_back(inputs[i].role);
      labels += inputs[i].role == Role::Label;
      tensors += inputs[i].role == Role::Tensor || inputs[i].role == Role::Condition;
      if (inputs[i].role == Role::Label && labels > 1) {
        error(call.orderedArgs[i]->loc, "model '" + model.name +
                                            "' takes at most one class label");
        return Shape();
      }
    }
    bool velocityShaped = (roles.size() == 2 || (roles.size() == 3 && roles[2] == Role::Label)) &&
                          roles[0] == Role::Tensor && roles[1] == Role::Time;
    if (imageOrModule && !velocityShaped) {
      error(call.calleeLoc, "network '" + model.name + "' (" + model.network->callee +
                                ") is applied as v(x, t) or v(x, t, label): a tensor, a "
                                "scalar time and optionally a class label");
      return Shape();
    }
    if (tensors == 0 && model.outShape.empty()) {
      error(call.calleeLoc, "model '" + model.name +
                                "' takes no tensor, so its output shape must be given: "
                                "mlp(..., out: [D])");
      return Shape();
    }
    model.inputs = inputs;
    signedNetworks.insert(&model);
    model.inputDim = 0;
    for (const ModelDecl::Input &in : inputs)
      if (in.role == Role::Tensor || in.role == Role::Condition)
        model.inputDim += in.shape.numElements() + (in.role == Role::Condition);
    model.outputDim = firstTensorShape(model).numElements();
  }
  for (const ModelDecl::Input &in : inputs)
    if (in.role == Role::Label)
      model.classes = in.classes;
  return firstTensorShape(model);
}
