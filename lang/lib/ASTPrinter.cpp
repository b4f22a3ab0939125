//===- ASTPrinter.cpp - Print the Flow AST as indented text ---------------===//
//
// Implements `ast::printModule` (the output of `flowc --emit=ast`) and
// `Shape::str` (and ModelDecl::isVelocitySignature). Each node prints on its own line, children indented by two
// spaces, with its location as @line:col (declarations also name their
// file) and, after Sema, what each name refers to and each expression's
// per-sample shape (`: [2]`, `: scalar`).
//
//===----------------------------------------------------------------------===//

#include "flowc/Lang/AST.h"

#include <sstream>

using namespace flowc::ast;

std::string Shape::str() const {
  switch (kind) {
  case Kind::Scalar:
    return "scalar";
  case Kind::Tensor: {
    std::string s = "[";
    for (size_t i = 0; i < dims.size(); ++i)
      s += (i ? ", " : "") + std::to_string(dims[i]);
    return s + "]";
  }
  case Kind::Unknown:
    break;
  }
  return "?";
}

bool ModelDecl::isVelocitySignature() const {
  using Role = Input::Role;
  size_t n = inputs.size();
  return (n == 2 || (n == 3 && inputs[2].role == Role::Label)) &&
         inputs[0].role == Role::Tensor && inputs[1].role == Role::Time &&
         (outShape.empty() || outShape == inputs[0].shape.dims);
}

namespace {

class ASTPrinter {
public:
  std::string print(const Module &m) {
    os << "Module\n";
    for (const DeclPtr &d : m.decls)
      if (d)
        printDecl(*d, 1);
    return os.str();
  }

private:
  std::ostringstream os;

  std::ostream &line(int depth) {
    for (int i = 0; i < depth; ++i)
      os << "  ";
    return os;
  }

  static std::string at(const Location &loc) {
    return "@" + std::to_string(loc.line) + ":" + std::to_string(loc.col);
  }

  static std::string declAt(const Decl &d) {
    std::string file = d.file.empty() ? d.loc.file : d.file;
    size_t slash = file.find_last_of('/');
    if (slash != std::string::npos)
      file = file.substr(slash + 1);
    return "@" + file + ":" + std::to_string(d.loc.line) + ":" +
           std::to_string(d.loc.col);
  }

  static std::string number(double v) {
    std::ostringstream s;
    s << v;
    return s.str();
  }

  static std::string numbers(const std::vector<double> &vs) {
    std::string out = "[";
    for (size_t i = 0; i < vs.size(); ++i)
      out += (i ? ", " : "") + number(vs[i]);
    return out + "]";
  }

  static std::string shapeSuffix(const Shape &s) {
    return s.isKnown() ? " : " + s.str() : "";
  }

  static std::string bindingText(const Binding &b) {
    switch (b.kind) {
    case Binding::Kind::Unresolved:
      return "";
    case Binding::Kind::Constant:
      return " (constant " + number(b.constant) + ")";
    case Binding::Kind::FlowLocal:
      return " (local)";
    case Binding::Kind::PathParam:
      return " (param)";
    case Binding::Kind::Decl:
      if (!b.decl)
        return " (decl)";
      switch (b.decl->kind) {
      case Decl::Kind::Data:
        return " (data)";
      case Decl::Kind::Model:
        return " (model)";
      case Decl::Kind::Path:
        return " (path)";
      case Decl::Kind::Dist:
        return " (dist)";
      case Decl::Kind::Fn:
        return " (fn)";
      case Decl::Kind::Const:
        return " (const)";
      case Decl::Kind::Solver:
        return " (solver)";
      case Decl::Kind::Flow:
        return " (flow)";
      default:
        return " (decl)";
      }
    case Binding::Kind::Builtin:
      return " (builtin)";
    }
    return "";
  }

  void printDecl(const Decl &d, int depth) {
    switch (d.kind) {
    case Decl::Kind::Import: {
      auto &imp = static_cast<const ImportDecl &>(d);
      line(depth) << "Import " << (imp.isFile ? "\"" + imp.name + "\"" : imp.name)
                  << " " << declAt(d) << "\n";
      return;
    }
    case Decl::Kind::Data: {
      auto &data = static_cast<const DataDecl &>(d);
      line(depth) << (data.isTokenizer ? "Tokenizer " : "Data ") << d.name;
      if (data.dim)
        os << " : [" << data.dim << "]";
      os << " " << declAt(d) << "\n";
      if (!data.params.empty()) {
        line(depth + 1) << "params";
        for (auto &[name, value] : data.params)
          os << " " << name << "=" << number(value);
        os << "\n";
      }
      if (data.source)
        printExpr(*data.source, depth + 1);
      return;
    }
    case Decl::Kind::Model: {
      auto &model = static_cast<const ModelDecl &>(d);
      if (model.network && !model.path.empty()) {
        line(depth) << "Model " << d.name << " torchscript " << model.path << " "
                    << declAt(d) << "\n";
      } else if (model.network) {
        line(depth) << "Model " << d.name << " " << model.network->callee
                    << " width=" << model.width
                    << " depth=" << model.depth << " act=" << model.activation
                    << " time=fourier(" << model.timeFeatures << ") "
                    << declAt(d) << "\n";
        printExpr(*model.network, depth + 1);
      } else {
        line(depth) << "Model " << d.name << params(model.params)
                    << " (closed form) " << declAt(d) << "\n";
        printBody(model.params, model.lets, model.body.get(), depth + 1);
      }
      return;
    }
    case Decl::Kind::Path:
    case Decl::Kind::Dist:
    case Decl::Kind::Fn: {
      auto &fn = static_cast<const FunctionDecl &>(d);
      const char *kind = d.kind == Decl::Kind::Path   ? "Path "
                         : d.kind == Decl::Kind::Dist ? "Dist "
                                                      : "Fn ";
      line(depth) << kind << d.name << params(fn.params) << " " << declAt(d)
                  << "\n";
      printBody(fn.params, fn.lets, fn.body.get(), depth + 1);
      return;
    }
    case Decl::Kind::Const: {
      auto &c = static_cast<const ConstDecl &>(d);
      line(depth) << "Const " << d.name << " = " << number(c.number) << " "
                  << declAt(d) << "\n";
      if (c.value)
        printExpr(*c.value, depth + 1);
      return;
    }
    case Decl::Kind::Solver: {
      auto &solver = static_cast<const SolverDecl &>(d);
      line(depth) << "Solver " << d.name << " " << declAt(d) << "\n";
      if (!solver.c.empty()) {
        line(depth + 1) << "c = " << numbers(solver.c) << "\n";
        line(depth + 1) << "a = [";
        for (size_t i = 0; i < solver.a.size(); ++i)
          os << (i ? ", " : "") << numbers(solver.a[i]);
        os << "]\n";
        line(depth + 1) << "b = " << numbers(solver.b) << "\n";
        if (!solver.bErr.empty())
          line(depth + 1) << "b_err = " << numbers(solver.bErr) << "\n";
        if (solver.order)
          line(depth + 1) << "order = " << solver.order << "\n";
      } else if (solver.tableau) {
        printExpr(*solver.tableau, depth + 1);
      }
      return;
    }
    case Decl::Kind::Flow: {
      auto &flow = static_cast<const FlowDecl &>(d);
      line(depth) << "Flow " << d.name << (flow.reverseTime ? " (time: reverse)" : "")
                  << " " << declAt(d) << "\n";
      for (auto &stmt : flow.body)
        if (stmt)
          printStmt(*stmt, flow, depth + 1);
      return;
    }
    case Decl::Kind::Train:
    case Decl::Kind::Sample: {
      auto &run = static_cast<const RunDecl &>(d);
      line(depth) << (d.kind == Decl::Kind::Train ? "Train " : "Sample ")
                  << d.name << " " << declAt(d) << "\n";
      for (const Setting &s : run.settings) {
        line(depth + 1) << "Setting " << s.name << " " << at(s.loc) << "\n";
        if (s.value)
          printExpr(*s.value, depth + 2);
      }
      return;
    }
    }
  }

  /// "(x0, x1, t, h = ...)": parameters; defaults print below the header.
  static std::string params(const std::vector<Param> &ps) {
    std::string out = "(";
    for (size_t i = 0; i < ps.size(); ++i)
      out += (i ? ", " : "") + ps[i].name + (ps[i].defaultValue ? " = ..." : "");
    return out + ")";
  }

  /// A definition's defaults, `let`s and final expression.
  void printBody(const std::vector<Param> &ps,
                 const std::vector<std::unique_ptr<FlowStmt>> &lets,
                 const Expr *body, int depth) {
    for (const Param &p : ps)
      if (p.defaultValue) {
        line(depth) << "Default " << p.name << " " << at(p.loc) << "\n";
        printExpr(*p.defaultValue, depth + 1);
      }
    for (auto &let : lets) {
      if (!let)
        continue;
      line(depth) << "Let";
      for (size_t i = 0; i < let->names.size(); ++i) {
        os << (i ? ", " : " ") << let->names[i];
        if (i < let->shapes.size())
          os << shapeSuffix(let->shapes[i]);
      }
      os << " " << at(let->loc) << "\n";
      if (let->value)
        printExpr(*let->value, depth + 1);
    }
    if (body)
      printExpr(*body, depth);
  }

  void printStmt(const FlowStmt &stmt, const FlowDecl &flow, int depth) {
    const char *kind = stmt.kind == FlowStmt::Kind::Draw  ? "Draw"
                       : stmt.kind == FlowStmt::Kind::Let ? "Let"
                                                          : "Loss";
    line(depth) << kind;
    for (size_t i = 0; i < stmt.names.size(); ++i) {
      os << (i ? ", " : " ") << stmt.names[i];
      if (i < stmt.shapes.size())
        os << shapeSuffix(stmt.shapes[i]);
    }
    if (&stmt == flow.timeStmt)
      os << " (time)";
    if (&stmt == flow.sourceStmt)
      os << " (source)";
    os << " " << at(stmt.loc) << "\n";
    if (stmt.value)
      printExpr(*stmt.value, depth + 1);
  }

  /// Operators as written: the comparisons are stored as one character.
  static std::string opText(char op) {
    switch (op) {
    case 'L':
      return "<=";
    case 'G':
      return ">=";
    case '=':
      return "==";
    case '!':
      return "!=";
    default:
      return std::string(1, op);
    }
  }

  void printExpr(const Expr &e, int depth) {
    switch (e.kind) {
    case Expr::Kind::Number:
      line(depth) << "Number " << number(static_cast<const NumberExpr &>(e).value)
                  << shapeSuffix(e.shape) << " " << at(e.loc) << "\n";
      return;
    case Expr::Kind::String:
      line(depth) << "String \"" << static_cast<const StringExpr &>(e).value << "\" "
                  << at(e.loc) << "\n";
      return;
    case Expr::Kind::Name: {
      auto &n = static_cast<const NameExpr &>(e);
      line(depth) << "Name " << n.name << bindingText(n.binding)
                  << shapeSuffix(e.shape) << " " << at(e.loc) << "\n";
      return;
    }
    case Expr::Kind::Unary: {
      auto &u = static_cast<const UnaryExpr &>(e);
      line(depth) << "Unary " << u.op << shapeSuffix(e.shape) << " "
                  << at(e.loc) << "\n";
      if (u.operand)
        printExpr(*u.operand, depth + 1);
      return;
    }
    case Expr::Kind::Binary: {
      auto &b = static_cast<const BinaryExpr &>(e);
      line(depth) << "Binary " << opText(b.op) << shapeSuffix(e.shape) << " "
                  << at(e.loc) << "\n";
      if (b.lhs)
        printExpr(*b.lhs, depth + 1);
      if (b.rhs)
        printExpr(*b.rhs, depth + 1);
      return;
    }
    case Expr::Kind::Call: {
      auto &c = static_cast<const CallExpr &>(e);
      line(depth) << "Call " << c.callee << bindingText(c.binding)
                  << shapeSuffix(e.shape) << " " << at(e.loc) << "\n";
      for (const Arg &arg : c.args) {
        if (!arg.value)
          continue;
        if (arg.name.empty()) {
          printExpr(*arg.value, depth + 1);
        } else {
          line(depth + 1) << arg.name << ":\n";
          printExpr(*arg.value, depth + 2);
        }
      }
      return;
    }
    case Expr::Kind::Index: {
      auto &ix = static_cast<const IndexExpr &>(e);
      line(depth) << "Index [" << ix.position << "]" << shapeSuffix(e.shape)
                  << " " << at(e.loc) << "\n";
      if (ix.base)
        printExpr(*ix.base, depth + 1);
      if (ix.index)
        printExpr(*ix.index, depth + 1);
      return;
    }
    case Expr::Kind::List: {
      auto &l = static_cast<const ListExpr &>(e);
      line(depth) << "List " << at(e.loc) << "\n";
      for (auto &el : l.elements)
        if (el)
          printExpr(*el, depth + 1);
      return;
    }
    }
  }
};

} // namespace

std::string flowc::ast::printModule(const Module &m) {
  return ASTPrinter().print(m);
}
