//===- LowerKernelsToGPU.cpp - Kernels to GPU kernels ---------------------===//
//
// Each per-sample kernel becomes a `gpu.func` in `gpu.module @flow_kernels`
// with one thread per row (guarded by row < n) around the same row code as
// the CPU lowering. The module keeps only the GPU module, ready for NVVM.
//
// One difference from the CPU signature: the random-number counter `step`
// arrives as a one-element device buffer (memref<1xi64>), not by value. A
// training step captured as a CUDA graph replays its launches with the
// arguments they were captured with; the counter in memory is what the
// runtime can change between replays, so each replay draws fresh noise.
//
// Kernels marked flow.uniforms_in_memory (the optimizer's and the EMA's)
// likewise read each launch-uniform f32 from a memref<1xf32>.
//
// A whole-trajectory kernel whose MLP weights fit in a block's static shared
// memory first copies them there, all threads of the block together, and
// evaluates the network from shared memory for every stage of every step.
//
//===----------------------------------------------------------------------===//
#include "KernelBody.h"
#include "TrajectoryBody.h"
#include "flowc/Dialect/Flow/FlowDialect.h"
#include "flowc/Transforms/Passes.h"

#include "mlir/Dialect/MemRef/IR/MemRef.h"

namespace flowc {
#define GEN_PASS_DEF_LOWERKERNELSTOGPU
#include "flowc/Transforms/Passes.h.inc"
} // namespace flowc

using namespace mlir;
using namespace flowc;

namespace fl = flowc::flow;

namespace {

/// Most MLP weights (floats) staged in shared memory: 48 KiB, what a block
/// may declare statically on every GPU since sm_50.
constexpr int64_t kMaxStagedWeights = 12 * 1024;

/// For a trajectory kernel whose MLP has at most kMaxStagedWeights
/// parameters: copies them from the flat weight buffer (lowered argument
/// `args[i]`) into a workgroup buffer of `fn`, each thread a strided share,
/// then waits for the block and points args[i] at the copy. Emitted before
/// the row guard: every thread of the block copies and reaches the barrier.
void stageWeights(OpBuilder &b, Location loc, func::FuncOp kernel, gpu::GPUFuncOp fn,
                  Value thread, Value threads, SmallVectorImpl<Value> &args) {
  fl::IntegrateOp op = trajectoryOf(kernel);
  if (!op)
    return;
  auto network = SymbolTable::lookupNearestSymbolFrom<fl::NetworkOp>(op, op.getNetworkAttr());
  if (!network || network.getKind() != "mlp")
    return;
  int64_t count = mlpLayout(network).total;
  if (count > kMaxStagedWeights)
    return;
  auto workgroup = gpu::AddressSpaceAttr::get(b.getContext(), gpu::AddressSpace::Workgroup);
  Value shared = fn.addWorkgroupAttribution(
      MemRefType::get({count}, b.getF32Type(), MemRefLayoutAttrInterface{}, workgroup), loc);
  unsigned i = 3 + cast<BlockArgument>(op.getWeights()).getArgNumber();
  Value global = args[i];
  Value end = arith::ConstantIndexOp::create(b, loc, count);
  scf::ForOp::create(b, loc, thread, end, threads, ValueRange{},
                     [&](OpBuilder &body, Location l, Value j, ValueRange) {
                       Value w = memref::LoadOp::create(body, l, global, ValueRange{j});
                       memref::StoreOp::create(body, l, w, shared, ValueRange{j});
                       scf::YieldOp::create(body, l);
                     });
  gpu::BarrierOp::create(b, loc);
  args[i] = shared;
}

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
      // Arguments read from one-element device buffers: the counter, and
      // the f32 uniforms of kernels marked flow.uniforms_in_memory.
      SmallVector<Type> types = loweredKernelArgTypes(kernel);
      SmallVector<unsigned> fromMemory{2};
      if (kernel->hasAttr(fl::kUniformsInMemoryAttr))
        for (unsigned i = 3; i < types.size(); ++i)
          if (types[i].isF32())
            fromMemory.push_back(i);
      for (unsigned i : fromMemory)
        types[i] = MemRefType::get({1}, types[i]);
      auto fn = gpu::GPUFuncOp::create(b, loc, kernel.getSymName(),
                                       b.getFunctionType(types, {}));
      fn->setAttr(gpu::GPUDialect::getKernelFuncAttrName(), b.getUnitAttr());
      Block &entry = fn.front();
      b.setInsertionPointToStart(&entry);
      Value block = gpu::BlockIdOp::create(b, loc, gpu::Dimension::x);
      Value dim = gpu::BlockDimOp::create(b, loc, gpu::Dimension::x);
      Value thread = gpu::ThreadIdOp::create(b, loc, gpu::Dimension::x);
      Value row = arith::AddIOp::create(
          b, loc, arith::MulIOp::create(b, loc, block, dim), thread);
      Value n = arith::IndexCastOp::create(b, loc, b.getIndexType(), fn.getArgument(0));
      SmallVector<Value> args(entry.getArguments());
      stageWeights(b, loc, kernel, fn, thread, dim, args);
      Value inRange = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, row, n);
      auto guard = scf::IfOp::create(b, loc, inRange, /*withElseRegion=*/false);
      gpu::ReturnOp::create(b, loc);
      b.setInsertionPoint(guard.thenBlock()->getTerminator());
      // Kernels that draw nothing never touch the counter (their launches
      // may pass a null buffer).
      Value zero = arith::ConstantIndexOp::create(b, loc, 0);
      for (unsigned i : fromMemory)
        args[i] = i == 2 && !kernelDraws(kernel)
                      ? arith::ConstantOp::create(b, loc, b.getI64IntegerAttr(0)).getResult()
                      : memref::LoadOp::create(b, loc, args[i], ValueRange{zero}).getResult();
      if (failed(emitAnyKernelRow(b, kernel, row, args)))
        return signalPassFailure();
    }
    eraseAllBut(module, {gpuModule});
  }
};

} // namespace
