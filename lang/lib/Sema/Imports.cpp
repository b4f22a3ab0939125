//===- Imports.cpp - Imports and top-level names --------------------------===//
//
// Loads imported files breadth-first (each file once, std.optimizers
// implicitly when a train block needs it), puts every declaration in logical
// order (an import's declarations where the import is) and collects the
// top-level names, reporting missing modules and redefinitions.
//
//===----------------------------------------------------------------------===//

#include "Sema.h"

#include <filesystem>

using namespace flowc;
using namespace flowc::ast;
using namespace flowc::sema;

std::string Sema::normalize(const std::string &path) {
  return std::filesystem::path(path).lexically_normal().string();
}

void Sema::loadImports() {
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

bool Sema::addOptimizerImport() {
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

std::string Sema::optimizerName(const RunDecl &run) {
  const Setting *s = run.find("optimizer");
  if (!s || !s->value)
    return "adam";
  if (s->value->kind == Expr::Kind::Name)
    return static_cast<const NameExpr &>(*s->value).name;
  if (s->value->kind == Expr::Kind::Call)
    return static_cast<const CallExpr &>(*s->value).callee;
  return "";
}

void Sema::addInLogicalOrder(size_t begin, size_t end,
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

void Sema::collectGlobals() {
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

Decl *Sema::findGlobal(const std::string &name) {
  auto it = globals.find(name);
  return it == globals.end() ? nullptr : it->second;
}
