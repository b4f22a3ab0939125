//===- ASTBuilder.cpp - ANTLR parse tree to Flow AST ----------------------===//
//
// Walks the parse-tree contexts produced by the ANTLR-generated FlowParser and
// builds our own AST (AST.h), with one `transformX` per grammar rule. Each node
// gets the location of the token that names it: a declaration its keyword, a
// name or call its first identifier, a binary or unary expression its
// operator, a list or an index its '['. The parser bails at the first syntax
// error, so the tree is complete; the null checks only keep a malformed tree
// from crashing. The one syntax rule checked here rather than in the grammar:
// comparisons do not chain (`a < b < c`), reported at the second operator.
//
//===----------------------------------------------------------------------===//

#include "ASTBuilder.h"

#include <cmath>
#include <cstdlib>

using namespace flowc;
using namespace flowc::ast;
using flowc::grammar::FlowParser;

namespace {

class ASTBuilder {
public:
  ASTBuilder(std::string file, Diagnostics &diags)
      : file(std::move(file)), diags(diags) {}
  bool failed = false;

  void transformSpec(FlowParser::SpecContext &ctx, Module &module) {
    for (auto *decl : ctx.decl())
      if (decl)
        if (DeclPtr d = transformDecl(*decl)) {
          d->file = file;
          module.decls.push_back(std::move(d));
        }
  }

private:
  std::string file;
  Diagnostics &diags;

  Location loc(const antlr4::Token *token) const {
    if (!token)
      return Location{file, 0, 0};
    return Location{file, static_cast<unsigned>(token->getLine()),
                    static_cast<unsigned>(token->getCharPositionInLine() + 1)};
  }
  Location loc(antlr4::tree::TerminalNode *node) const {
    return loc(node ? node->getSymbol() : nullptr);
  }
  Location loc(antlr4::ParserRuleContext *ctx) const {
    return loc(ctx ? ctx->getStart() : nullptr);
  }
  static std::string text(antlr4::tree::TerminalNode *node) {
    return node ? node->getText() : std::string();
  }

  //===--------------------------------------------------------------------===//
  // Declarations
  //===--------------------------------------------------------------------===//

  DeclPtr transformDecl(FlowParser::DeclContext &ctx) {
    if (auto *d = ctx.importDecl())
      return transformImportDecl(*d);
    if (auto *d = ctx.dataDecl())
      return transformDataDecl(*d);
    if (auto *d = ctx.modelDecl())
      return transformModelDecl(*d);
    if (auto *d = ctx.pathDecl())
      return transformFunctionDecl(Decl::Kind::Path, d->PATH(), d->IDENT(),
                                   d->paramList(), d->defBody());
    if (auto *d = ctx.distDecl())
      return transformFunctionDecl(Decl::Kind::Dist, d->DIST(), d->IDENT(),
                                   d->paramList(), d->defBody());
    if (auto *d = ctx.fnDecl())
      return transformFunctionDecl(Decl::Kind::Fn, d->FN(), d->IDENT(),
                                   d->paramList(), d->defBody());
    if (auto *d = ctx.constDecl())
      return transformConstDecl(*d);
    if (auto *d = ctx.solverDecl())
      return transformSolverDecl(*d);
    if (auto *d = ctx.flowDecl())
      return transformFlowDecl(*d);
    if (auto *d = ctx.trainDecl())
      return transformRunDecl(Decl::Kind::Train, d->TRAIN(), d->IDENT(),
                              d->settingBlock());
    if (auto *d = ctx.sampleDecl())
      return transformRunDecl(Decl::Kind::Sample, d->SAMPLE(), d->IDENT(),
                              d->settingBlock());
    return nullptr;
  }

  DeclPtr transformImportDecl(FlowParser::ImportDeclContext &ctx) {
    auto decl = std::make_unique<ImportDecl>();
    decl->loc = loc(ctx.IMPORT());
    if (auto *str = ctx.STRING()) {
      std::string quoted = str->getText();
      decl->isFile = true;
      decl->name = quoted.size() >= 2 ? quoted.substr(1, quoted.size() - 2)
                                      : std::string();
      decl->nameLoc = loc(str);
    } else if (auto *dotted = ctx.dottedName()) {
      decl->name = transformDottedName(*dotted);
      decl->nameLoc = loc(dotted);
    }
    return decl;
  }

  DeclPtr transformDataDecl(FlowParser::DataDeclContext &ctx) {
    auto decl = std::make_unique<DataDecl>();
    decl->isTokenizer = ctx.TOKENIZER() != nullptr;
    decl->loc = loc(ctx.DATA() ? ctx.DATA() : ctx.TOKENIZER());
    decl->name = text(ctx.IDENT());
    decl->nameLoc = loc(ctx.IDENT());
    if (ctx.call())
      decl->source = transformCall(*ctx.call());
    return decl;
  }

  DeclPtr transformModelDecl(FlowParser::ModelDeclContext &ctx) {
    auto decl = std::make_unique<ModelDecl>();
    decl->loc = loc(ctx.MODEL());
    decl->name = text(ctx.IDENT());
    decl->nameLoc = loc(ctx.IDENT());
    if (ctx.call()) {
      decl->network = transformCall(*ctx.call());
    } else {
      if (ctx.paramList())
        decl->params = transformParamList(*ctx.paramList());
      if (ctx.defBody())
        transformDefBody(*ctx.defBody(), decl->lets, decl->body);
    }
    return decl;
  }

  /// path/dist/fn NAME(params) = expr  |  { let ... expr }
  DeclPtr transformFunctionDecl(Decl::Kind kind,
                                antlr4::tree::TerminalNode *keyword,
                                antlr4::tree::TerminalNode *name,
                                FlowParser::ParamListContext *params,
                                FlowParser::DefBodyContext *body) {
    auto decl = std::make_unique<FunctionDecl>(kind);
    decl->loc = loc(keyword);
    decl->name = text(name);
    decl->nameLoc = loc(name);
    if (params)
      decl->params = transformParamList(*params);
    if (body)
      transformDefBody(*body, decl->lets, decl->body);
    return decl;
  }

  void transformDefBody(FlowParser::DefBodyContext &ctx,
                        std::vector<std::unique_ptr<FlowStmt>> &lets,
                        ExprPtr &body) {
    for (auto *let : ctx.defLet()) {
      if (!let)
        continue;
      auto stmt = std::make_unique<FlowStmt>();
      stmt->kind = FlowStmt::Kind::Let;
      stmt->loc = loc(let->LET());
      stmt->names.push_back(text(let->IDENT()));
      stmt->nameLocs.push_back(loc(let->IDENT()));
      if (let->expr())
        stmt->value = transformExpr(*let->expr());
      lets.push_back(std::move(stmt));
    }
    body = ctx.expr() ? transformExpr(*ctx.expr()) : invalid(&ctx);
  }

  DeclPtr transformConstDecl(FlowParser::ConstDeclContext &ctx) {
    auto decl = std::make_unique<ConstDecl>();
    decl->loc = loc(ctx.CONST());
    decl->name = text(ctx.IDENT());
    decl->nameLoc = loc(ctx.IDENT());
    decl->value = ctx.expr() ? transformExpr(*ctx.expr()) : invalid(&ctx);
    return decl;
  }

  std::vector<Param> transformParamList(FlowParser::ParamListContext &ctx) {
    std::vector<Param> params;
    for (auto *param : ctx.param()) {
      if (!param)
        continue;
      Param p;
      p.name = text(param->IDENT());
      p.loc = loc(param->IDENT());
      if (param->expr())
        p.defaultValue = transformExpr(*param->expr());
      params.push_back(std::move(p));
    }
    return params;
  }

  DeclPtr transformSolverDecl(FlowParser::SolverDeclContext &ctx) {
    auto decl = std::make_unique<SolverDecl>();
    decl->loc = loc(ctx.SOLVER());
    decl->name = text(ctx.IDENT());
    decl->nameLoc = loc(ctx.IDENT());
    if (ctx.call())
      decl->tableau = transformCall(*ctx.call());
    return decl;
  }

  DeclPtr transformFlowDecl(FlowParser::FlowDeclContext &ctx) {
    auto decl = std::make_unique<FlowDecl>();
    decl->loc = loc(ctx.FLOW());
    decl->name = text(ctx.IDENT());
    decl->nameLoc = loc(ctx.IDENT());
    if (auto *options = ctx.flowOptions())
      for (auto *s : options->setting())
        if (s)
          decl->options.push_back(transformSetting(*s));
    for (auto *stmt : ctx.flowStmt())
      if (stmt)
        if (auto s = transformFlowStmt(*stmt))
          decl->body.push_back(std::move(s));
    return decl;
  }

  DeclPtr transformRunDecl(Decl::Kind kind, antlr4::tree::TerminalNode *keyword,
                           antlr4::tree::TerminalNode *flowName,
                           FlowParser::SettingBlockContext *block) {
    auto decl = std::make_unique<RunDecl>(kind);
    decl->loc = loc(keyword);
    decl->name = text(flowName);
    decl->nameLoc = loc(flowName);
    if (block)
      decl->settings = transformSettingBlock(*block);
    return decl;
  }

  std::vector<Setting>
  transformSettingBlock(FlowParser::SettingBlockContext &ctx) {
    std::vector<Setting> settings;
    for (auto *s : ctx.setting())
      if (s)
        settings.push_back(transformSetting(*s));
    return settings;
  }

  Setting transformSetting(FlowParser::SettingContext &ctx) {
    Setting setting;
    if (ctx.anyName()) {
      setting.name = ctx.anyName()->getText();
      setting.loc = loc(ctx.anyName());
    }
    if (ctx.expr())
      setting.value = transformExpr(*ctx.expr());
    return setting;
  }

  //===--------------------------------------------------------------------===//
  // Flow statements
  //===--------------------------------------------------------------------===//

  std::unique_ptr<FlowStmt> transformFlowStmt(FlowParser::FlowStmtContext &ctx) {
    if (auto *s = ctx.drawStmt())
      return transformDrawStmt(*s);
    if (auto *s = ctx.letStmt())
      return transformLetStmt(*s);
    if (auto *s = ctx.lossStmt())
      return transformLossStmt(*s);
    return nullptr;
  }

  std::unique_ptr<FlowStmt> transformDrawStmt(FlowParser::DrawStmtContext &ctx) {
    auto stmt = std::make_unique<FlowStmt>();
    stmt->kind = FlowStmt::Kind::Draw;
    stmt->loc = loc(&ctx);
    for (auto *ident : ctx.IDENT()) {
      stmt->names.push_back(text(ident));
      stmt->nameLocs.push_back(loc(ident));
    }
    if (ctx.expr())
      stmt->value = transformExpr(*ctx.expr());
    return stmt;
  }

  std::unique_ptr<FlowStmt> transformLetStmt(FlowParser::LetStmtContext &ctx) {
    auto stmt = std::make_unique<FlowStmt>();
    stmt->kind = FlowStmt::Kind::Let;
    stmt->loc = loc(&ctx);
    stmt->names.push_back(text(ctx.IDENT()));
    stmt->nameLocs.push_back(loc(ctx.IDENT()));
    if (ctx.expr())
      stmt->value = transformExpr(*ctx.expr());
    return stmt;
  }

  std::unique_ptr<FlowStmt> transformLossStmt(FlowParser::LossStmtContext &ctx) {
    auto stmt = std::make_unique<FlowStmt>();
    stmt->kind = FlowStmt::Kind::Loss;
    stmt->loc = loc(ctx.LOSS());
    if (ctx.IDENT()) { // loss NAME = expr
      stmt->names.push_back(text(ctx.IDENT()));
      stmt->nameLocs.push_back(loc(ctx.IDENT()));
    }
    if (ctx.expr())
      stmt->value = transformExpr(*ctx.expr());
    return stmt;
  }

  //===--------------------------------------------------------------------===//
  // Expressions
  //===--------------------------------------------------------------------===//

  ExprPtr transformExpr(FlowParser::ExprContext &ctx) {
    if (!ctx.cmpExpr())
      return invalid(&ctx);
    return transformCmpExpr(*ctx.cmpExpr());
  }

  /// Comparison operators as BinaryExpr::op characters.
  static char comparisonOp(const std::string &text) {
    if (text == "<=")
      return 'L';
    if (text == ">=")
      return 'G';
    if (text == "==")
      return '=';
    if (text == "!=")
      return '!';
    return text.empty() ? '?' : text[0]; // < >
  }

  ExprPtr transformCmpExpr(FlowParser::CmpExprContext &ctx) {
    auto operands = ctx.addExpr();
    if (operands.size() > 2 && ctx.children.size() > 3) {
      auto *second =
          dynamic_cast<antlr4::tree::TerminalNode *>(ctx.children[3]);
      diags.reportError(loc(second),
                        "comparisons cannot be chained; use parentheses, "
                        "e.g. (a < b) * (b < c)");
      failed = true;
    }
    return foldLeft<FlowParser::AddExprContext>(
        ctx, [&](FlowParser::AddExprContext &c) { return transformAddExpr(c); },
        comparisonOp);
  }

  /// Folds `a op b op c` left-associatively. Children alternate operand,
  /// operator token, operand.
  template <typename OperandCtx, typename Fn>
  ExprPtr foldLeft(antlr4::ParserRuleContext &ctx, Fn transformOperand,
                   char (*opChar)(const std::string &) = nullptr) {
    ExprPtr result;
    char op = 0;
    Location opLoc;
    for (auto *child : ctx.children) {
      if (auto *operand = dynamic_cast<OperandCtx *>(child)) {
        ExprPtr value = transformOperand(*operand);
        if (!result)
          result = std::move(value);
        else
          result = std::make_unique<BinaryExpr>(opLoc, op, std::move(result),
                                                std::move(value));
      } else if (auto *term = dynamic_cast<antlr4::tree::TerminalNode *>(child)) {
        std::string opText = term->getText();
        op = opChar ? opChar(opText) : opText.empty() ? '?' : opText[0];
        opLoc = loc(term);
      }
    }
    return result ? std::move(result) : invalid(&ctx);
  }

  ExprPtr transformAddExpr(FlowParser::AddExprContext &ctx) {
    return foldLeft<FlowParser::MulExprContext>(
        ctx, [&](FlowParser::MulExprContext &c) { return transformMulExpr(c); });
  }

  ExprPtr transformMulExpr(FlowParser::MulExprContext &ctx) {
    return foldLeft<FlowParser::UnaryExprContext>(
        ctx,
        [&](FlowParser::UnaryExprContext &c) { return transformUnaryExpr(c); });
  }

  ExprPtr transformUnaryExpr(FlowParser::UnaryExprContext &ctx) {
    if (auto *operand = ctx.unaryExpr())
      return std::make_unique<UnaryExpr>(loc(&ctx), '-',
                                         transformUnaryExpr(*operand));
    if (auto *pow = ctx.powExpr())
      return transformPowExpr(*pow);
    return invalid(&ctx);
  }

  ExprPtr transformPowExpr(FlowParser::PowExprContext &ctx) {
    ExprPtr base = ctx.postfixExpr() ? transformPostfixExpr(*ctx.postfixExpr())
                                     : invalid(&ctx);
    auto *exponent = ctx.unaryExpr();
    if (!exponent)
      return base;
    // Children: primary '^' unaryExpr.
    Location opLoc = ctx.children.size() > 1
                         ? loc(dynamic_cast<antlr4::tree::TerminalNode *>(
                               ctx.children[1]))
                         : loc(&ctx);
    return std::make_unique<BinaryExpr>(opLoc, '^', std::move(base),
                                        transformUnaryExpr(*exponent));
  }

  /// primary [i] [j] ...: each index at its '['.
  ExprPtr transformPostfixExpr(FlowParser::PostfixExprContext &ctx) {
    ExprPtr result = ctx.primary() ? transformPrimary(*ctx.primary())
                                   : invalid(&ctx);
    Location bracket;
    for (auto *child : ctx.children) {
      if (auto *term = dynamic_cast<antlr4::tree::TerminalNode *>(child)) {
        if (term->getText() == "[")
          bracket = loc(term);
      } else if (auto *index = dynamic_cast<FlowParser::ExprContext *>(child)) {
        result = std::make_unique<IndexExpr>(bracket, std::move(result),
                                             transformExpr(*index));
      }
    }
    return result;
  }

  ExprPtr transformPrimary(FlowParser::PrimaryContext &ctx) {
    if (auto *num = ctx.NUMBER())
      return std::make_unique<NumberExpr>(
          loc(num), std::strtod(num->getText().c_str(), nullptr));
    if (auto *str = ctx.STRING()) {
      std::string quoted = str->getText();
      return std::make_unique<StringExpr>(loc(str), quoted.substr(1, quoted.size() - 2));
    }
    if (auto *n = ctx.nameOrCall())
      return transformNameOrCall(*n);
    if (auto *e = ctx.expr())
      return transformExpr(*e);
    if (auto *l = ctx.list())
      return transformList(*l);
    return invalid(&ctx);
  }

  ExprPtr transformNameOrCall(FlowParser::NameOrCallContext &ctx) {
    std::string name =
        ctx.dottedName() ? transformDottedName(*ctx.dottedName()) : "";
    // A call has a '(' child after the name; `f()` has no argList.
    if (ctx.children.size() > 1) {
      auto call = std::make_unique<CallExpr>(loc(&ctx), name);
      call->calleeLoc = loc(&ctx);
      if (ctx.argList())
        call->args = transformArgList(*ctx.argList());
      return call;
    }
    return std::make_unique<NameExpr>(loc(&ctx), name);
  }

  std::unique_ptr<CallExpr> transformCall(FlowParser::CallContext &ctx) {
    std::string name =
        ctx.dottedName() ? transformDottedName(*ctx.dottedName()) : "";
    auto call = std::make_unique<CallExpr>(loc(&ctx), name);
    call->calleeLoc = loc(&ctx);
    if (ctx.argList())
      call->args = transformArgList(*ctx.argList());
    return call;
  }

  std::vector<Arg> transformArgList(FlowParser::ArgListContext &ctx) {
    std::vector<Arg> args;
    for (auto *a : ctx.arg())
      if (a)
        args.push_back(transformArg(*a));
    return args;
  }

  Arg transformArg(FlowParser::ArgContext &ctx) {
    Arg arg;
    if (auto *name = ctx.anyName()) {
      arg.name = name->getText();
      arg.loc = loc(name);
    } else {
      arg.loc = loc(&ctx);
    }
    arg.value = ctx.expr() ? transformExpr(*ctx.expr()) : invalid(&ctx);
    return arg;
  }

  ExprPtr transformList(FlowParser::ListContext &ctx) {
    auto list = std::make_unique<ListExpr>(loc(&ctx));
    for (auto *e : ctx.expr())
      if (e)
        list->elements.push_back(transformExpr(*e));
    return list;
  }

  static std::string transformDottedName(FlowParser::DottedNameContext &ctx) {
    std::string name;
    for (auto *ident : ctx.IDENT()) {
      if (!name.empty())
        name += '.';
      name += text(ident);
    }
    return name;
  }

  /// Stand-in for a subtree a malformed parse left out: a NaN number, which
  /// Sema rejects. Only reachable if the parser handed over a broken tree.
  ExprPtr invalid(antlr4::ParserRuleContext *ctx) {
    return std::make_unique<NumberExpr>(loc(ctx), std::nan(""));
  }
};

} // namespace

bool flowc::buildAST(FlowParser::SpecContext &spec, const std::string &file,
                     Module &module, Diagnostics &diags) {
  ASTBuilder builder(file, diags);
  builder.transformSpec(spec, module);
  return !builder.failed;
}
