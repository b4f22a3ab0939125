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

#include "FlowParser.h"

#include <string>

namespace flowc {

/// Appends one AST declaration per top-level declaration of `spec` to
/// `module`, stamping every node with a location in `file`. The parse tree
/// must come from a parse without syntax errors.
void buildAST(grammar::FlowParser::SpecContext &spec, const std::string &file,
              ast::Module &module);

} // namespace flowc

#endif // FLOWC_LANG_LIB_ASTBUILDER_H
