//===- Pipeline.cpp - Registration and the flow pass pipeline -------------===//
//
// Which dialects, passes and translations flowc uses, and the order of the
// flow passes (see Passes.td for what each does), registered as the pipeline
// `flow-kernel-pipeline` so that flowc-opt runs exactly what flowc runs.
//
//===----------------------------------------------------------------------===//
#include "flowc/Dialect/Flow/FlowDialect.h"
#include "flowc/Target/Target.h"
#include "flowc/Transforms/Passes.h"

#include "mlir/Conversion/Passes.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/ControlFlow/IR/ControlFlow.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/GPU/Transforms/Passes.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/LLVMIR/Transforms/Passes.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/MemRef/Transforms/Passes.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Target/LLVM/NVVM/Target.h"
#include "mlir/Target/LLVMIR/Dialect/Builtin/BuiltinToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/GPU/GPUToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/LLVMIR/LLVMToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/NVVM/NVVMToLLVMIRTranslation.h"
#include "mlir/Transforms/Passes.h"

using namespace mlir;

void flowc::registerAll(DialectRegistry &registry) {
  registry.insert<flow::FlowDialect, arith::ArithDialect, func::FuncDialect,
                  math::MathDialect, memref::MemRefDialect, scf::SCFDialect,
                  gpu::GPUDialect, LLVM::LLVMDialect, NVVM::NVVMDialect,
                  cf::ControlFlowDialect, vector::VectorDialect>();
  registerAllExtensions(registry);
  NVVM::registerNVVMTargetInterfaceExternalModels(registry);
  registerBuiltinDialectTranslation(registry);
  registerLLVMDialectTranslation(registry);
  registerGPUDialectTranslation(registry);
  registerNVVMDialectTranslation(registry);
}

void flowc::registerPasses() {
  registerFlowcPasses();
  registerConversionPasses();
  registerGPUPasses();
  memref::registerMemRefPasses(); // expand-strided-metadata
  registerTransformsPasses();
  PassPipelineRegistration<>(
      "flow-kernel-pipeline",
      "The flow passes flowc runs: from the flow dialect to kernels and host schedule",
      buildKernelPipeline);
}

void flowc::buildKernelPipeline(OpPassManager &pm) {
  pm.addPass(createOutlineRunKernels());
  pm.addPass(createDifferentiateTime());
  pm.addPass(createOutlineKernels());
  pm.addPass(createDifferentiateRegions());
  pm.addPass(createExpandSolver());
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
}

LogicalResult flowc::runKernelPipeline(ModuleOp module) {
  PassManager pm(module.getContext());
  buildKernelPipeline(pm);
  return pm.run(module);
}

OwningOpRef<ModuleOp> flowc::lowerKernelsForCPU(ModuleOp module) {
  OwningOpRef<ModuleOp> copy = module.clone();
  PassManager pm(module.getContext());
  pm.addPass(createLowerKernelsToLoops());
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
  if (failed(pm.run(*copy)))
    return nullptr;
  return copy;
}
