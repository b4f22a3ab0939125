//===- LowerKernelsToGPU.cpp - Kernels to GPU kernels ---------------------===//
//
// Each per-sample kernel becomes a `gpu.func` in `gpu.module @flow_kernels`
// with one thread per row (guarded by row < n) around the same row code as
// the CPU lowering. The module keeps only the GPU module, ready for NVVM.
//
//===----------------------------------------------------------------------===//
#include "KernelBody.h"
#include "flowc/Transforms/Passes.h"

namespace flowc {
#define GEN_PASS_DEF_LOWERKERNELSTOGPU
#include "flowc/Transforms/Passes.h.inc"
} // namespace flowc

using namespace mlir;
using namespace flowc;

namespace {

struct LowerKernelsToGPUPass
    : flowc::impl::LowerKernelsToGPUBase<LowerKernelsToGPUPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    OpBuilder b(module.getBodyRegion());
    b.setInsertionPointToEnd(module.getBody());
    module->setAttr(gpu::GPUDialect::getContainerModuleAttrName(), b.getUnitAttr());
    auto gpuModule = gpu::GPUModuleOp::create(b, module.getLoc(), "flow_kernels");
    for (func::FuncOp kernel : collectKernels(module)) {
      Location loc = kernel.getLoc();
      b.setInsertionPointToEnd(gpuModule.getBody());
      auto fn = gpu::GPUFuncOp::create(
          b, loc, kernel.getSymName(),
          b.getFunctionType(loweredKernelArgTypes(kernel), {}));
      fn->setAttr(gpu::GPUDialect::getKernelFuncAttrName(), b.getUnitAttr());
      Block &entry = fn.front();
      b.setInsertionPointToStart(&entry);
      Value block = gpu::BlockIdOp::create(b, loc, gpu::Dimension::x);
      Value dim = gpu::BlockDimOp::create(b, loc, gpu::Dimension::x);
      Value thread = gpu::ThreadIdOp::create(b, loc, gpu::Dimension::x);
      Value row = arith::AddIOp::create(
          b, loc, arith::MulIOp::create(b, loc, block, dim), thread);
      Value n = arith::IndexCastOp::create(b, loc, b.getIndexType(), fn.getArgument(0));
      Value inRange = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, row, n);
      auto guard = scf::IfOp::create(b, loc, inRange, /*withElseRegion=*/false);
      gpu::ReturnOp::create(b, loc);
      b.setInsertionPoint(guard.thenBlock()->getTerminator());
      if (failed(emitKernelRow(b, kernel, row, entry.getArguments())))
        return signalPassFailure();
    }
    eraseAllBut(module, {gpuModule});
  }
};

} // namespace
