//===- Declarations.cpp - Ops of a spec's declarations --------------------===//
//
// Implements Declarations.h.
//
//===----------------------------------------------------------------------===//
#include "Declarations.h"
#include "FrozenNetworks.h"

#include "flowc/Dialect/Flow/FlowDialect.h"

using namespace mlir;
using namespace flowc;
namespace fl = flowc::flow;

Location flowc::toLocation(OpBuilder &builder, const ast::Location &l) {
  return FileLineColLoc::get(builder.getStringAttr(l.file), l.line, l.col);
}

/// A data set, or a tokenizer as the data set it encodes plus the
/// encoding (a data set drawn through a tokenizer has no op of its own).
void flowc::genDataOp(OpBuilder &builder, const ast::DataDecl &tok) {
  if (tok.tokenizer || tok.encode)
    return;
  const ast::DataDecl &d = tok.tokenized ? *tok.tokenized : tok;
  SmallVector<NamedAttribute> params;
  for (auto &[name, value] : d.params)
    params.push_back(builder.getNamedAttr(name, builder.getF64FloatAttr(value)));
  auto optionalString = [&](const std::string &s) {
    return s.empty() ? StringAttr() : builder.getStringAttr(s);
  };
  fl::DataOp::create(builder, toLocation(builder, tok.loc), tok.name, d.source->callee, d.dim,
                     builder.getDictionaryAttr(params), d.classes,
                     d.shape.size() > 1 ? builder.getDenseI64ArrayAttr(d.shape) : nullptr,
                     optionalString(d.path), optionalString(d.labelsPath),
                     tok.tokenized ? builder.getStringAttr(tok.source->callee) : StringAttr(),
                     tok.patch, optionalString(d.condPath),
                     d.condShape.empty() ? nullptr : builder.getDenseI64ArrayAttr(d.condShape),
                     tok.vocab ? tok.vocab : d.tokens, optionalString(d.alphabet));
}

void flowc::genSolverOp(OpBuilder &builder, const ast::SolverDecl &s) {
  SmallVector<Attribute> rows;
  for (auto &row : s.a)
    rows.push_back(builder.getDenseF64ArrayAttr(row));
  auto op = fl::SolverOp::create(builder, toLocation(builder, s.loc), s.name,
                                 builder.getDenseF64ArrayAttr(s.c),
                                 builder.getArrayAttr(rows),
                                 builder.getDenseF64ArrayAttr(s.b), nullptr, nullptr);
  if (!s.bErr.empty())
    op.setBErrAttr(builder.getDenseF64ArrayAttr(s.bErr));
  if (s.order > 0)
    op.setOrderAttr(builder.getI64IntegerAttr(s.order));
}

/// A network that flows apply, with the signature Sema recorded.
LogicalResult flowc::genNetworkOp(OpBuilder &builder, const ast::ModelDecl &m) {
  if (!m.network || m.inputs.empty())
    return success();
  bool conv = m.network->callee == "conv", tarflow = m.network->callee == "tarflow";
  SmallVector<StringRef> roles;
  SmallVector<int64_t> dims;
  for (const ast::ModelDecl::Input &in : m.inputs) {
    using Role = ast::ModelDecl::Input::Role;
    roles.push_back(in.role == Role::Time ? "time" : in.role == Role::Label ? "label" : "tensor");
    dims.push_back(in.role == Role::Time || in.role == Role::Label ? 1 : in.shape.numElements());
    if (in.role == Role::Condition) { // then its presence flag, a tensor [1]
      roles.push_back("tensor");
      dims.push_back(1);
    }
  }
  fl::NetworkOp::create(builder, toLocation(builder, m.loc), m.name, m.network->callee, m.inputDim,
                        m.width, m.depth, m.activation, m.timeFeatures,
                        builder.getStrArrayAttr(roles), builder.getDenseI64ArrayAttr(dims),
                        m.outputDim, m.classes, m.heads, m.patch,
                        m.path.empty() ? StringAttr() : builder.getStringAttr(m.path),
                        m.checkpointModel.empty() ? StringAttr()
                                                  : builder.getStringAttr(m.checkpointModel),
                        m.rawWeights, m.frozen && m.network->callee == "torchscript",
                        conv || tarflow ? builder.getDenseI64ArrayAttr(m.inputs[0].shape.dims)
                                        : nullptr,
                        conv ? builder.getDenseI64ArrayAttr(m.outShape) : nullptr, m.blocks,
                        m.deep);
  if (!m.frozen || m.network->callee != "checkpoint")
    return success();
  Location at = toLocation(builder, m.network->args.empty() || !m.network->args[0].value
                        ? m.network->loc
                        : m.network->args[0].value->loc);
  return checkFrozenNetwork(m, roles, dims, at);
}

void flowc::genInvertOp(OpBuilder &builder, const ast::RunDecl &run) {
  auto number = [&](const char *name, double fallback) { return run.number(name, fallback); };
  auto real = [&](const char *name) { return llvm::APFloat(number(name, 0)); };
  fl::InvertOp::create(builder, toLocation(builder, run.loc), run.name,
                       run.invertedModel->name, int64_t(number("n", 1000)),
                       int64_t(number("seed", 0)), run.label, real("guidance"),
                       real("jacobi"), int64_t(number("jacobi_block", 0)), real("denoise"));
}

std::string flowc::standardizeNetworkName(const ast::DataDecl &tok, bool inverse) {
  return tok.name + (inverse ? ":unstandardize" : ":standardize");
}

void flowc::genStandardizeNetworkOps(OpBuilder &builder, const ast::DataDecl &tok) {
  int64_t dim = tok.dim;
  SmallVector<int64_t> layout{1, dim};
  if (tok.standardize == ast::DataDecl::Standardize::Channels)
    layout = {tok.shape[0], dim / tok.shape[0]};
  for (bool inverse : {false, true})
    fl::NetworkOp::create(builder, toLocation(builder, tok.standardizeLoc),
                          standardizeNetworkName(tok, inverse),
                          inverse ? "unstandardize" : "standardize", dim, /*width=*/0,
                          /*depth=*/0, /*activation=*/"none", /*time_features=*/0,
                          builder.getStrArrayAttr({"tensor"}),
                          builder.getDenseI64ArrayAttr({dim}), dim, /*classes=*/0,
                          /*heads=*/0, /*patch=*/0, StringAttr(), StringAttr(),
                          /*raw_weights=*/false, /*frozen=*/false,
                          builder.getDenseI64ArrayAttr(layout),
                          builder.getDenseI64ArrayAttr(layout));
}
