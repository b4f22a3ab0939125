//===- flowc-opt.cpp - mlir-opt with the flow dialect and passes ----------===//
//
// Runs any flowc pass on hand-written IR, so lit tests check each pass alone
// (`flowc-opt --flow-differentiate-time %s | FileCheck %s`).
//
//===----------------------------------------------------------------------===//
#include "flowc/Target/Target.h"
#include "flowc/Transforms/Passes.h"

#include "mlir/InitAllPasses.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"

int main(int argc, char **argv) {
  mlir::DialectRegistry registry;
  flowc::registerAll(registry);
  flowc::registerPasses();
  mlir::registerAllPasses();
  return mlir::asMainReturnCode(
      mlir::MlirOptMain(argc, argv, "flowc optimizer driver\n", registry));
}
