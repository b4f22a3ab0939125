//===- FlowDialect.cpp - The flow dialect ---------------------------------===//
//
// Registers the flow dialect and its operations, and verifies what ODS
// constraints cannot express (the shape of a solver tableau).
//
//===----------------------------------------------------------------------===//
#include "flowc/Dialect/Flow/FlowDialect.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/OpImplementation.h"

using namespace mlir;
using namespace flowc::flow;

#include "flowc/Dialect/Flow/FlowDialect.cpp.inc"

void FlowDialect::initialize() {
  addOperations<
#define GET_OP_LIST
#include "flowc/Dialect/Flow/FlowOps.cpp.inc"
      >();
}

double SolverOp::getA(unsigned i, unsigned j) {
  auto row = cast<DenseF64ArrayAttr>(getA()[i]).asArrayRef();
  return j < row.size() ? row[j] : 0.0;
}

LogicalResult SolverOp::verify() {
  size_t s = getC().size();
  if (s == 0)
    return emitOpError("needs at least one stage");
  if (getB().size() != s || getA().size() != s)
    return emitOpError("tableau sizes disagree: c has ")
           << s << " entries, a " << getA().size() << " rows, b "
           << getB().size() << " entries";
  if (auto bErr = getBErr(); bErr && bErr->size() != s)
    return emitOpError("b_err has ") << bErr->size() << " entries but c has " << s;
  for (auto [i, row] : llvm::enumerate(getA())) {
    auto values = dyn_cast<DenseF64ArrayAttr>(row);
    if (!values || values.size() != i)
      return emitOpError("row ") << i << " of a must have " << i << " entries";
  }
  return success();
}

LogicalResult ExtractOp::inferReturnTypes(
    MLIRContext *ctx, std::optional<Location>, ValueRange operands,
    DictionaryAttr, OpaqueProperties, RegionRange,
    SmallVectorImpl<Type> &inferred) {
  auto input = dyn_cast<RankedTensorType>(operands[0].getType());
  if (!input || input.getRank() == 0)
    return failure();
  Type f32 = Float32Type::get(ctx);
  if (input.getRank() == 1)
    inferred.push_back(f32);
  else
    inferred.push_back(RankedTensorType::get(input.getShape().drop_front(), f32));
  return success();
}

/// Whether `from` broadcasts to `to` (numpy rules, aligned at the last axis).
static bool broadcastsTo(RankedTensorType from, RankedTensorType to) {
  if (from.getRank() > to.getRank())
    return false;
  int64_t offset = to.getRank() - from.getRank();
  for (int64_t i = 0; i < from.getRank(); ++i)
    if (from.getDimSize(i) != 1 && from.getDimSize(i) != to.getDimSize(offset + i))
      return false;
  return true;
}

LogicalResult ExpandOp::verify() {
  if (!broadcastsTo(getInput().getType(), getType()))
    return emitOpError("cannot broadcast ") << getInput().getType() << " to " << getType();
  return success();
}

LogicalResult ReduceToOp::verify() {
  if (!broadcastsTo(getType(), getInput().getType()))
    return emitOpError("cannot reduce ") << getInput().getType() << " to " << getType();
  return success();
}

LogicalResult ReshapeOp::verify() {
  if (getInput().getType().getNumElements() != getType().getNumElements())
    return emitOpError("cannot reshape ") << getInput().getType() << " to " << getType();
  return success();
}

LogicalResult ExtractOp::verify() {
  int64_t size = getInput().getType().getDimSize(0);
  if (getPosition() < 0 || getPosition() >= size)
    return emitOpError("position ") << getPosition() << " is out of range for "
                                    << size << " features";
  return success();
}

LogicalResult SoftmaxOp::verify() {
  if (getAxis() < 0 || getAxis() >= getInput().getType().getRank())
    return emitOpError("axis ") << getAxis() << " is out of range for "
                                << getInput().getType();
  return success();
}

bool flowc::flow::isDraw(Operation *op) {
  return isa<NormalOp, UniformOp, CategoricalOp>(op);
}

LogicalResult ConcatOp::verify() {
  auto out = getType();
  int64_t axis = getAxis(), along = 0;
  if (getInputs().empty() || axis < 0 || axis >= out.getRank())
    return emitOpError("axis ") << axis << " is out of range for " << out;
  for (Value in : getInputs()) {
    auto t = cast<RankedTensorType>(in.getType());
    bool fits = t.getRank() == out.getRank();
    for (int64_t k = 0; fits && k < t.getRank(); ++k)
      fits = k == axis || t.getDimSize(k) == out.getDimSize(k);
    if (!fits)
      return emitOpError("cannot join ") << t << " into " << out << " along axis " << axis;
    along += t.getDimSize(axis);
  }
  if (along != out.getDimSize(axis))
    return emitOpError("the inputs have ") << along << " entries along axis " << axis
                                           << ", the result " << out.getDimSize(axis);
  return success();
}

LogicalResult SliceOp::verify() {
  auto in = getInput().getType(), out = getType();
  int64_t axis = getAxis();
  bool fits = in.getRank() == out.getRank() && axis >= 0 && axis < in.getRank() &&
              getOffset() >= 0 && getOffset() + out.getDimSize(axis) <= in.getDimSize(axis);
  for (int64_t k = 0; fits && k < in.getRank(); ++k)
    fits = k == axis || in.getDimSize(k) == out.getDimSize(k);
  if (!fits)
    return emitOpError("cannot slice ") << out << " from " << in << " at offset " << getOffset()
                                        << " along axis " << axis;
  return success();
}

bool NetworkOp::isTensorInput(unsigned i) {
  return cast<StringAttr>(getInputs()[i]).getValue() == "tensor";
}

bool NetworkOp::isVelocity() {
  ArrayAttr in = getInputs();
  auto role = [&](unsigned i) { return cast<StringAttr>(in[i]).getValue(); };
  return (in.size() == 2 || (in.size() == 3 && role(2) == "label")) && role(0) == "tensor" &&
         role(1) == "time" && getOutDim() == getInputDims()[0];
}

LogicalResult NetworkOp::verify() {
  if (getInputs().size() != getInputDims().size())
    return emitOpError("has ") << getInputs().size() << " inputs but "
                               << getInputDims().size() << " input_dims";
  int64_t tensors = 0;
  for (unsigned i = 0; i < getInputs().size(); ++i) {
    StringRef role = cast<StringAttr>(getInputs()[i]).getValue();
    if (role != "tensor" && role != "time" && role != "label")
      return emitOpError("input ") << i << " has role '" << role
                                   << "' (expected tensor, time or label)";
    if (role != "tensor" && getInputDims()[i] != 1)
      return emitOpError("input ") << i << " (a " << role << ") has " << getInputDims()[i]
                                   << " elements, not 1";
    if (role == "tensor")
      tensors += getInputDims()[i];
  }
  if (tensors != getInDim())
    return emitOpError("in_dim ") << getInDim() << " is not the tensor inputs' " << tensors;
  if (getOutDim() < 1)
    return emitOpError("out_dim must be positive");
  return success();
}

/// An application's arguments and result against its network's signature:
/// `elements(v)` is what one sample of v holds.
static LogicalResult verifyApplication(Operation *op, FlatSymbolRefAttr ref,
                                       ValueRange args, Value result,
                                       SymbolTableCollection &symbols,
                                       function_ref<int64_t(Value)> elements) {
  auto net = symbols.lookupNearestSymbolFrom<NetworkOp>(op, ref);
  if (!net)
    return op->emitOpError("refers to ") << ref << ", which is not a flow.network";
  if (args.size() != net.getInputs().size())
    return op->emitOpError("applies ") << ref << " to " << args.size()
                                       << " arguments but it takes " << net.getInputs().size();
  for (unsigned i = 0; i < args.size(); ++i) {
    // One sample's time or label is an f32; a batch of them is [rows, 1].
    bool roleFits = isa<NetOp, NetJvpOp>(op) ||
                    net.isTensorInput(i) == isa<RankedTensorType>(args[i].getType());
    if (elements(args[i]) != net.getInputDims()[i] || !roleFits)
      return op->emitOpError("argument ") << i << " has type " << args[i].getType() << " but "
                                          << ref << " takes a "
                                          << cast<StringAttr>(net.getInputs()[i]).getValue()
                                          << " of " << net.getInputDims()[i] << " elements";
  }
  if (elements(result) != net.getOutDim())
    return op->emitOpError("result has type ") << result.getType() << " but " << ref
                                               << " returns " << net.getOutDim() << " elements";
  return success();
}

LogicalResult ApplyNetOp::verifySymbolUses(SymbolTableCollection &symbols) {
  return verifyApplication(*this, getNetworkAttr(), getArgs(), getResult(), symbols,
                           [](Value v) -> int64_t {
                             if (auto t = dyn_cast<RankedTensorType>(v.getType()))
                               return t.getNumElements();
                             return 1;
                           });
}

LogicalResult NetOp::verifySymbolUses(SymbolTableCollection &symbols) {
  return verifyApplication(*this, getNetworkAttr(), getArgs(), getResult(), symbols,
                           [](Value v) -> int64_t {
                             return cast<RankedTensorType>(v.getType()).getDimSize(1);
                           });
}

/// A JVP's tangents: one per argument, of its type.
static LogicalResult verifyTangents(Operation *op, ValueRange args, ValueRange tangents) {
  if (args.size() != tangents.size())
    return op->emitOpError("has ") << tangents.size() << " tangents for " << args.size()
                                   << " arguments";
  for (auto [i, a, t] : llvm::enumerate(args, tangents))
    if (a.getType() != t.getType())
      return op->emitOpError("tangent ") << i << " has type " << t.getType()
                                         << ", its argument " << a.getType();
  return success();
}

LogicalResult ApplyNetJvpOp::verifySymbolUses(SymbolTableCollection &symbols) {
  if (failed(verifyTangents(*this, getArgs(), getTangents())))
    return failure();
  return verifyApplication(*this, getNetworkAttr(), getArgs(), getResult(), symbols,
                           [](Value v) -> int64_t {
                             if (auto t = dyn_cast<RankedTensorType>(v.getType()))
                               return t.getNumElements();
                             return 1;
                           });
}

LogicalResult NetJvpOp::verifySymbolUses(SymbolTableCollection &symbols) {
  if (failed(verifyTangents(*this, getArgs(), getTangents())))
    return failure();
  return verifyApplication(*this, getNetworkAttr(), getArgs(), getResult(), symbols,
                           [](Value v) -> int64_t {
                             return cast<RankedTensorType>(v.getType()).getDimSize(1);
                           });
}

#define GET_OP_CLASSES
#include "flowc/Dialect/Flow/FlowOps.cpp.inc"
