//===- ASTBuilder.h - ANTLR parse tree to Flow AST ---------------*- C++ -*-===//
//
// Internal interface between Parser.cpp (which runs the ANTLR lexer and
// parser) and ASTBuilder.cpp (which turns the resulting parse tree into our
// own AST). Only FlowLang's sources include this header.
//
//===----------------------------------------------------------------------===//
#ifndef FLOWC_LANG_LIB_ASTBUILDER_H
#define FLOWC_LANG_LIB_ASTBUILDER_H

#include "flowc/Lang/AST.h"
#include "flowc/Lang/Frontend.h"

#include "FlowParser.h"

#include <string>

namespace flowc {

/// Appends one AST declaration per top-level declaration of `spec` to
/// `module`, stamping every node with a location in `file`. The parse tree
/// must come from a parse without syntax errors. Reports the syntax rules the
/// grammar leaves to the builder (a chain of comparisons `a < b < c`) and
/// returns false if it reported any.
bool buildAST(grammar::FlowParser::SpecContext &spec, const std::string &file,
              ast::Module &module, Diagnostics &diags);

} // namespace flowc

#endif // FLOWC_LANG_LIB_ASTBUILDER_H
