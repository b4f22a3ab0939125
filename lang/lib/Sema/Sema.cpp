//===- Sema.cpp - Semantic analysis of .flow specs ------------------------===//
//
// Implements `analyzeModule`: runs the analyzer's stages in order (imports,
// names, consts, declarations, call cycles, flows, train/sample blocks) and
// holds the small helpers every stage shares (number formatting, declaration
// kinds). Sema reports every error it finds and keeps going; it never asserts
// on user input. Sema.h maps each stage to its file; docs/diagnostics.md lists
// every diagnostic and where it points.
//
//===----------------------------------------------------------------------===//

#include "Sema.h"

#include <cmath>
#include <sstream>

using namespace flowc;
using namespace flowc::ast;
using namespace flowc::sema;

void Sema::run() {
  loadImports();
  collectGlobals();
  for (Decl *d : logicalOrder)
    if (d->kind == Decl::Kind::Const) {
      auto &c = static_cast<ConstDecl &>(*d);
      if (c.isTensor())
        evalTensorConst(c);
      else
        evalConstDecl(c);
    }
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
  checkEncoders();
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
  checkFlowDecoders();
  checkStandardizedTokens();
  warnUnusedModels();
}

void Sema::error(const Location &loc, const std::string &message) {
  diags.reportError(loc, message);
}

void Sema::warning(const Location &loc, const std::string &message) {
  diags.warning(loc, message);
}

void Sema::warnUnusedModels() {
  // In a spec with errors a model may look unused because its flow failed.
  if (diags.errorCount() > 0)
    return;
  std::set<const ModelDecl *> applied;
  for (auto &[flow, models] : flowModels)
    applied.insert(models.begin(), models.end());
  // A tokenizer's encoding and decoding apply networks too.
  for (Decl *d : logicalOrder)
    if (auto *tok = d->kind == Decl::Kind::Data ? static_cast<DataDecl *>(d) : nullptr;
        tok && tok->isEncoder()) {
      std::vector<const CallExpr *> calls;
      collectModelCalls(tok->encode, calls);
      collectModelCalls(tok->decode, calls);
      for (const CallExpr *c : calls)
        applied.insert(static_cast<const ModelDecl *>(c->binding.decl));
    }
  for (Decl *d : logicalOrder)
    if (d->kind == Decl::Kind::Model && !applied.count(static_cast<ModelDecl *>(d)))
      warning(d->nameLoc, "model '" + d->name + "' is not applied by any flow; it is not built");
}

std::string Sema::describe(const Decl &d) {
  return std::string(declKindName(d.kind)) + " '" + d.name + "'";
}

std::string sema::fmt(double v) {
  std::ostringstream os;
  os << v;
  return os.str();
}

std::string sema::plural(size_t n, const char *one, const char *many) {
  return std::to_string(n) + " " + (n == 1 ? one : many);
}

bool sema::isInteger(double v) {
  return std::isfinite(v) && std::floor(v) == v && std::fabs(v) < 9.0e15;
}

const char *sema::declKindName(Decl::Kind kind) {
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

bool sema::isFunctionDecl(const Decl *d) {
  return d && (d->kind == Decl::Kind::Path || d->kind == Decl::Kind::Dist ||
               d->kind == Decl::Kind::Fn);
}

bool flowc::analyzeModule(Module &module, Diagnostics &diags,
                          FileLoader &loader) {
  unsigned before = diags.errorCount();
  Sema(module, diags, loader).run();
  return diags.errorCount() == before;
}
