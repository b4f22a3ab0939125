//===- Parser.cpp - Run the ANTLR4 parser on a .flow file -----------------===//
//
// Implements `parseSource`: feeds the text to the ANTLR-generated FlowLexer and
// FlowParser, then hands the parse tree to ASTBuilder. ANTLR's console error
// listener is replaced on both lexer and parser: syntax errors go to our
// Diagnostics with the location of the offending token and a short message
// ("expected '}' but found 'loss'", "unexpected ')'"). Parsing stops at the
// first syntax error: ANTLR's recovery would keep going, but the follow-on
// errors it reports are mostly noise, and a single precise error is what
// `expected-error` tests can pin down. ASTBuilder reports the few syntax
// rules the grammar leaves to it (chained comparisons).
//
//===----------------------------------------------------------------------===//

#include "flowc/Lang/Frontend.h"

#include "ASTBuilder.h"
#include "FlowLexer.h"
#include "FlowParser.h"

#include "antlr4-runtime.h"

#include <set>

using namespace flowc;
using flowc::grammar::FlowLexer;
using flowc::grammar::FlowParser;

namespace {

/// How a token kind reads in a message ("a name", "'}'").
std::string describeTokenType(const antlr4::dfa::Vocabulary &vocab,
                              size_t type) {
  switch (type) {
  case antlr4::Token::EOF:
    return "end of file";
  case FlowParser::IDENT:
    return "a name";
  case FlowParser::NUMBER:
    return "a number";
  case FlowParser::STRING:
    return "a string";
  default:
    break;
  }
  std::string literal = vocab.getLiteralName(type);
  if (!literal.empty())
    return literal; // already quoted: '{'
  return vocab.getDisplayName(type);
}

/// How the offending token reads in a message ("'loss'", "end of file").
std::string describeToken(const antlr4::Token *token) {
  if (!token || token->getType() == antlr4::Token::EOF)
    return "end of file";
  return "'" + token->getText() + "'";
}

/// Describes a set of acceptable token kinds, or returns "" when the set is
/// too large to be helpful. The first tokens of an expression are summarized
/// as "an expression".
std::string describeExpected(const antlr4::dfa::Vocabulary &vocab,
                             const antlr4::misc::IntervalSet &expected) {
  std::vector<std::string> parts;
  std::set<size_t> types;
  for (ssize_t t : expected.toList())
    types.insert(static_cast<size_t>(t));
  // '(' and '[' only start expressions here, as do NUMBER and STRING (a
  // string is only a file path, not worth naming).
  if (types.count(FlowParser::NUMBER)) {
    parts.push_back("an expression");
    for (size_t t : {size_t(FlowParser::NUMBER), size_t(FlowParser::IDENT),
                     size_t(FlowParser::STRING)})
      types.erase(t);
    for (const char *lit : {"'('", "'['", "'-'"})
      for (auto it = types.begin(); it != types.end(); ++it)
        if (vocab.getLiteralName(*it) == lit) {
          types.erase(it);
          break;
        }
  }
  for (size_t t : types)
    parts.push_back(describeTokenType(vocab, t));
  if (parts.empty() || parts.size() > 3)
    return "";
  std::string out = parts[0];
  for (size_t i = 1; i < parts.size(); ++i)
    out += (i + 1 == parts.size() ? " or " : ", ") + parts[i];
  return out;
}

/// Message for an unexpected token, special-casing the lexer's catch-all
/// tokens (which only ever appear in malformed input).
std::string unexpectedMessage(const antlr4::Token *token,
                              const std::string &expected) {
  if (token) {
    switch (token->getType()) {
    case FlowParser::ERROR_CHAR:
      return "unexpected character " + describeToken(token);
    case FlowParser::UNTERMINATED_STRING:
      return "unterminated string";
    case FlowParser::UNTERMINATED_COMMENT:
      return "unterminated block comment";
    default:
      break;
    }
  }
  if (expected.empty())
    return "unexpected " + describeToken(token);
  // Only the top level loop can end at end of file.
  if (expected == "end of file")
    return "expected a declaration but found " + describeToken(token);
  return "expected " + expected + " but found " + describeToken(token);
}

/// Reports syntax errors to Diagnostics. Installed on lexer and parser in
/// place of ANTLR's ConsoleErrorListener. Since the lexer has catch-all
/// tokens it never reports; the listener still handles it for safety.
class DiagnosticErrorListener : public antlr4::BaseErrorListener {
public:
  DiagnosticErrorListener(std::string file, Diagnostics &diags)
      : file(std::move(file)), diags(diags) {}

  void syntaxError(antlr4::Recognizer *, antlr4::Token *, size_t line,
                   size_t charPositionInLine, const std::string &msg,
                   std::exception_ptr) override {
    if (reported)
      return;
    reported = true;
    ast::Location loc{file, static_cast<unsigned>(line),
                      static_cast<unsigned>(charPositionInLine + 1)};
    diags.reportError(loc, msg);
  }

  bool hasReported() const { return reported; }

private:
  std::string file;
  Diagnostics &diags;
  bool reported = false;
};

/// Bails out at the first syntax error after reporting it with our own
/// wording (ANTLR's are "mismatched input 'x' expecting ...").
class BailWithMessageStrategy : public antlr4::DefaultErrorStrategy {
public:
  void reportError(antlr4::Parser *parser,
                   const antlr4::RecognitionException &e) override {
    antlr4::Token *token = e.getOffendingToken();
    std::string expected;
    if (dynamic_cast<const antlr4::InputMismatchException *>(&e)) {
      expected = describeExpected(parser->getVocabulary(),
                                  e.getExpectedTokens());
    } else if (auto *nva =
                   dynamic_cast<const antlr4::NoViableAltException *>(&e)) {
      // Name what could start here only when prediction failed on the very
      // first token; otherwise just point at the token that did not fit.
      if (nva->getStartToken() == token)
        expected = describeExpected(parser->getVocabulary(),
                                    parser->getExpectedTokens());
    }
    parser->notifyErrorListeners(token, unexpectedMessage(token, expected),
                                 std::make_exception_ptr(e));
  }

  void recover(antlr4::Parser *, std::exception_ptr) override {
    throw antlr4::ParseCancellationException();
  }

  antlr4::Token *recoverInline(antlr4::Parser *parser) override {
    antlr4::InputMismatchException e(parser);
    reportError(parser, e);
    throw antlr4::ParseCancellationException();
  }

  void sync(antlr4::Parser *) override {}
};

/// The ANTLR parser recurses once per nesting level, and the AST, Sema and
/// the AST's destructors recurse once per level of the expression tree, so
/// absurdly nested or long expressions would overflow the stack. This bounds
/// both before parsing: bracket depth, and the number of operators and
/// brackets in one top-level expression (counted from the last `=`, `~`,
/// `:`, `,`, `;`, brace or keyword outside brackets).
constexpr unsigned kMaxBracketDepth = 256;
constexpr unsigned kMaxExpressionSize = 4096;

bool checkNesting(antlr4::CommonTokenStream &tokens, const std::string &path,
                  Diagnostics &diags) {
  unsigned depth = 0, size = 0;
  for (antlr4::Token *token : tokens.getTokens()) {
    size_t type = token->getType();
    if (type == antlr4::Token::EOF)
      break;
    std::string text = token->getText();
    bool isKeyword = type >= FlowParser::IMPORT && type <= FlowParser::LET;
    if (depth == 0 && (isKeyword || text == "=" || text == "~" ||
                       text == ":" || text == "," || text == ";" ||
                       text == "{" || text == "}"))
      size = 0;
    if (text == "(" || text == "[") {
      ++depth;
      ++size;
    } else if ((text == ")" || text == "]") && depth > 0) {
      --depth;
    } else if (text == "+" || text == "-" || text == "*" || text == "/" ||
               text == "^" || text == "<" || text == ">" || text == "<=" ||
               text == ">=" || text == "==" || text == "!=") {
      ++size;
    }
    if (depth > kMaxBracketDepth || size > kMaxExpressionSize) {
      ast::Location loc{path, static_cast<unsigned>(token->getLine()),
                        static_cast<unsigned>(token->getCharPositionInLine() + 1)};
      diags.reportError(loc, depth > kMaxBracketDepth
                                 ? "expression is nested too deeply"
                                 : "expression is too long");
      return false;
    }
  }
  return true;
}

} // namespace

bool flowc::parseSource(const std::string &path, const std::string &text,
                        ast::Module &module, Diagnostics &diags) {
  // ANTLR decodes the text as UTF-8 up front and throws on invalid bytes.
  antlr4::ANTLRInputStream input;
  try {
    input.load(text);
  } catch (const std::exception &) {
    diags.reportError(ast::Location{path, 1, 1}, "file is not valid UTF-8");
    return false;
  }
  input.name = path;
  FlowLexer lexer(&input);
  DiagnosticErrorListener listener(path, diags);
  lexer.removeErrorListeners();
  lexer.addErrorListener(&listener);

  antlr4::CommonTokenStream tokens(&lexer);
  tokens.fill();
  if (!checkNesting(tokens, path, diags))
    return false;
  FlowParser parser(&tokens);
  parser.removeErrorListeners();
  parser.addErrorListener(&listener);
  parser.setErrorHandler(std::make_shared<BailWithMessageStrategy>());

  FlowParser::SpecContext *spec = nullptr;
  try {
    spec = parser.spec();
  } catch (const antlr4::ParseCancellationException &) {
    spec = nullptr;
  } catch (const antlr4::RecognitionException &) {
    spec = nullptr;
  }
  if (!spec || listener.hasReported()) {
    if (!listener.hasReported())
      diags.reportError(ast::Location{path, 1, 1}, "could not parse file");
    return false;
  }
  return buildAST(*spec, path, module, diags);
}
