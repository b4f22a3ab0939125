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

#define GET_OP_CLASSES
#include "flowc/Dialect/Flow/FlowOps.cpp.inc"
