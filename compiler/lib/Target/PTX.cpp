//===- PTX.cpp - Kernels to PTX through MLIR's GPU/NVVM path --------------===//
//
// Lowers the kernels to a gpu.module (flow-lower-kernels-to-gpu), then runs
// MLIR's own NVVM pipeline and serialises to PTX text (`format=isa`). Kernel
// parameters follow MLIR's standard memref convention, as on the CPU: a
// [rows, cols] buffer is (allocated, aligned, offset, rows, cols, cols, 1).
// They differ from the CPU's where a value must be read at launch time from
// device memory (the counter; the optimizer's and EMA's f32 uniforms), which
// arrive as memref<1 x T> (see flow-lower-kernels-to-gpu).
//
//===----------------------------------------------------------------------===//
#include "flowc/Target/Target.h"
#include "flowc/Transforms/Passes.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/Passes.h"

using namespace mlir;

FailureOr<std::string> flowc::emitPTX(ModuleOp module, llvm::StringRef chip) {
  OwningOpRef<ModuleOp> copy = module.clone();
  PassManager pm(module.getContext());
  pm.addPass(createLowerKernelsToGPU());
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
  std::string pipeline =
      ("nvvm-attach-target{chip=" + chip +
       " features=+ptx80 O=3},gpu.module(convert-scf-to-cf,expand-strided-metadata,"
       "convert-gpu-to-nvvm,canonicalize,cse),"
       "reconcile-unrealized-casts,gpu-module-to-binary{format=isa}")
          .str();
  if (failed(parsePassPipeline(pipeline, pm)) || failed(pm.run(*copy)))
    return module.emitError("lowering to PTX failed");
  for (auto binary : copy->getOps<gpu::BinaryOp>())
    for (Attribute object : binary.getObjects())
      return cast<gpu::ObjectAttr>(object).getObject().str();
  return module.emitError("no PTX was produced");
}
