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

LogicalResult ExtractOp::verify() {
  int64_t size = getInput().getType().getDimSize(0);
  if (getPosition() < 0 || getPosition() >= size)
    return emitOpError("position ") << getPosition() << " is out of range for "
                                    << size << " features";
  return success();
}

#define GET_OP_CLASSES
#include "flowc/Dialect/Flow/FlowOps.cpp.inc"
