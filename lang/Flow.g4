// Flow.g4 - grammar of the Flow language (.flow model specs).
//
// A spec is a list of top-level declarations: imports, data sets, models,
// paths, dists, fns, consts, solvers, flows, and train/sample blocks. Newlines
// are whitespace; ';' may separate flow statements, the lets of a definition
// block (and declarations). Expressions use the usual precedence, loosest
// first: comparisons (< <= > >= == !=, non-associative: ASTBuilder reports a
// chain) < '+' '-' < '*' '/' < unary minus < '^' (right-associative, so -x^2
// is -(x^2) and 2^-1 is 2^(-1)) < indexing x[i]. Operator precedence is
// encoded by one rule per level, so ASTBuilder can fold each level without
// guessing.
//
// Generated with `antlr4 -Dlanguage=Cpp -no-listener -no-visitor`; the C++
// ASTBuilder walks the *Context objects directly (ANTLR 4.9's antlrcpp::Any
// cannot carry std::unique_ptr).
grammar Flow;

spec : (decl | ';')* EOF ;

decl
  : importDecl
  | dataDecl
  | modelDecl
  | pathDecl
  | distDecl
  | fnDecl
  | constDecl
  | solverDecl
  | flowDecl
  | trainDecl
  | sampleDecl
  ;

// import std.paths | import "my_paths.flow"
importDecl : IMPORT (dottedName | STRING) ;

// data moons = toy.moons(noise: 0.05)
// `data` and `tokenizer` both declare a data set; a tokenizer is one seen
// through an encoding (patchify(images, patch: 4)) that sampling undoes.
dataDecl : (DATA | TOKENIZER) IDENT '=' call ;

// model v = mlp(...)   |   model u(x, t) = expr  (closed form, or a block)
modelDecl
  : MODEL IDENT '=' call
  | MODEL IDENT '(' paramList? ')' defBody
  ;

// path linear(x0, x1, t) = (1 - t) * x0 + t * x1
pathDecl : PATH IDENT '(' paramList? ')' defBody ;
// dist logit_normal(m = 0, s = 1) = sigmoid(m + s * normal())
distDecl : DIST IDENT '(' paramList? ')' defBody ;
// fn softplus(x) = log(1 + exp(x))
fnDecl : FN IDENT '(' paramList? ')' defBody ;
// const half_pi = pi / 2
constDecl : CONST IDENT '=' expr ;

paramList : param (',' param)* ;
param : IDENT ('=' expr)? ;        // `p = 1`: a default value

// `= expr`, or a block of local bindings and a final expression:
// { let a = expr  let b = expr  expr }
defBody
  : '=' expr
  | '{' (defLet | ';')* expr ';'* '}'
  ;
defLet : LET IDENT '=' expr ;

// solver heun = tableau(c: [0, 1], a: [[1]], b: [1/2, 1/2])
solverDecl : SOLVER IDENT '=' call ;

// flow NAME { statements }   or   flow NAME (time: reverse) { statements }
flowDecl : FLOW IDENT flowOptions? '{' (flowStmt | ';')* '}' ;
flowOptions : '(' setting (',' setting)* ')' ;

flowStmt : drawStmt | letStmt | lossStmt ;

drawStmt : IDENT (',' IDENT)* '~' expr ;   // x1 ~ moons
letStmt : IDENT '=' expr ;                  // xt = linear(x0, x1, t)
lossStmt : LOSS (IDENT '=')? expr ;        // loss mse(v(xt, t), ddt(xt)); loss fm = ...

// train FLOW { steps: 1000, batch: 256, ... }   sample FLOW { ... }
trainDecl : TRAIN IDENT settingBlock ;
sampleDecl : SAMPLE IDENT settingBlock ;

settingBlock : '{' (setting (',' setting)* ','?)? '}' ;
setting : anyName ':' expr ;

//===----------------------------------------------------------------------===//
// Expressions, loosest binding first.
//===----------------------------------------------------------------------===//

expr : cmpExpr ;
// Parsed as a chain so that `a < b < c` gets a clear error from ASTBuilder.
cmpExpr : addExpr (('<' | '<=' | '>' | '>=' | '==' | '!=') addExpr)* ;
addExpr : mulExpr (('+' | '-') mulExpr)* ;
mulExpr : unaryExpr (('*' | '/') unaryExpr)* ;
unaryExpr : '-' unaryExpr | powExpr ;
powExpr : postfixExpr ('^' unaryExpr)? ;
postfixExpr : primary ('[' expr ']')* ;   // x[0]

primary
  : NUMBER
  | STRING                 // a file path: file("x.npy"), torchscript("v.pt")
  | nameOrCall
  | '(' expr ')'
  | list
  ;

// `x`, `toy.moons`, `f(a, b: 2)`, `toy.moons(noise: 0.1)`
nameOrCall : dottedName ('(' argList? ')')? ;
call : dottedName '(' argList? ')' ;
argList : arg (',' arg)* ','? ;
arg : (anyName ':')? expr ;

list : '[' (expr (',' expr)* ','?)? ']' ;

dottedName : IDENT ('.' IDENT)* ;

// Argument and setting names may be keywords (`solver: heun`).
anyName
  : IDENT | IMPORT | DATA | TOKENIZER | MODEL | PATH | SOLVER | FLOW | TRAIN | SAMPLE
  | LOSS | DIST | FN | CONST | LET
  ;

//===----------------------------------------------------------------------===//
// Tokens
//===----------------------------------------------------------------------===//

IMPORT : 'import' ;
DATA : 'data' ;
TOKENIZER : 'tokenizer' ;
MODEL : 'model' ;
PATH : 'path' ;
SOLVER : 'solver' ;
FLOW : 'flow' ;
TRAIN : 'train' ;
SAMPLE : 'sample' ;
LOSS : 'loss' ;
// Keep these right after LOSS: Parser.cpp treats IMPORT..LET as keywords.
DIST : 'dist' ;
FN : 'fn' ;
CONST : 'const' ;
LET : 'let' ;

IDENT : [a-zA-Z_] [a-zA-Z_0-9]* ;

NUMBER
  : [0-9]+ ('.' [0-9]*)? EXPONENT?
  | '.' [0-9]+ EXPONENT?
  ;
fragment EXPONENT : [eE] [+-]? [0-9]+ ;

STRING : '"' ~["\r\n]* '"' ;

LINE_COMMENT : '//' ~[\r\n]* -> skip ;
BLOCK_COMMENT : '/*' .*? '*/' -> skip ;
WS : [ \t\r\n]+ -> skip ;

// Catch-alls, so that the lexer never reports errors itself: the parser sees
// these tokens and reports them with a clear message ("unterminated string").
// Each matches less than its well-formed counterpart, which therefore wins.
UNTERMINATED_STRING : '"' ~["\r\n]* ;
UNTERMINATED_COMMENT : '/*' (~'*' | '*'+ ~[*/])* '*'* ;
ERROR_CHAR : . ;
