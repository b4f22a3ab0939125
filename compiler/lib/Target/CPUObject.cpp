//===- CPUObject.cpp - Loop kernels to LLVM IR and a native object --------===//
//
// Lowers the loop-level kernels to the LLVM dialect with MLIR's standard
// memref calling convention: a kernel is `void k(int64_t n, int64_t seed,
// int64_t step, ...)` where each [rows, cols] buffer is passed as (allocated,
// aligned, offset, rows, cols, cols, 1), a flat one as (allocated, aligned,
// offset, size, 1), and uniform scalars by value. Then translates to LLVM
// IR, optimises at O3 for the host CPU and writes an object file.
//
//===----------------------------------------------------------------------===//
#include "flowc/Target/Target.h"

#include "mlir/ExecutionEngine/OptUtils.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Target/LLVMIR/Export.h"
#include "llvm/IR/LegacyPassManager.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/Target/TargetMachine.h"
#include "llvm/TargetParser/Host.h"

using namespace mlir;

namespace {

constexpr const char *kToLLVMPipeline =
    "convert-scf-to-cf,expand-strided-metadata,convert-vector-to-llvm,convert-math-to-llvm,convert-math-to-libm,"
    "convert-arith-to-llvm,convert-cf-to-llvm,finalize-memref-to-llvm,"
    "convert-func-to-llvm,"
    "reconcile-unrealized-casts";

/// A target machine for `cpu` (empty: the CPU this compiler runs on).
std::unique_ptr<llvm::TargetMachine> hostTargetMachine(llvm::StringRef cpu) {
  llvm::InitializeNativeTarget();
  llvm::InitializeNativeTargetAsmPrinter();
  llvm::Triple triple(llvm::sys::getDefaultTargetTriple());
  std::string error;
  const llvm::Target *target = llvm::TargetRegistry::lookupTarget(triple, error);
  if (!target)
    return nullptr;
  return std::unique_ptr<llvm::TargetMachine>(target->createTargetMachine(
      triple, cpu.empty() ? llvm::sys::getHostCPUName() : cpu, "", llvm::TargetOptions(),
      llvm::Reloc::PIC_));
}

} // namespace

std::unique_ptr<llvm::Module> flowc::translateToLLVMIR(ModuleOp loops,
                                                       llvm::LLVMContext &context,
                                                       llvm::StringRef cpu) {
  OwningOpRef<ModuleOp> copy = loops.clone();
  PassManager pm(loops.getContext());
  if (failed(parsePassPipeline(kToLLVMPipeline, pm)) || failed(pm.run(*copy)))
    return nullptr;
  std::unique_ptr<llvm::Module> module = translateModuleToLLVMIR(*copy, context);
  std::unique_ptr<llvm::TargetMachine> tm = hostTargetMachine(cpu);
  if (!module || !tm)
    return nullptr;
  module->setTargetTriple(tm->getTargetTriple());
  module->setDataLayout(tm->createDataLayout());
  if (auto err = makeOptimizingTransformer(3, 0, tm.get())(module.get())) {
    llvm::consumeError(std::move(err));
    return nullptr;
  }
  return module;
}

LogicalResult flowc::writeObjectFile(llvm::Module &module, llvm::StringRef path,
                                    llvm::StringRef cpu) {
  std::unique_ptr<llvm::TargetMachine> tm = hostTargetMachine(cpu);
  if (!tm)
    return failure();
  std::error_code ec;
  llvm::raw_fd_ostream out(path, ec, llvm::sys::fs::OF_None);
  if (ec)
    return failure();
  llvm::legacy::PassManager pm;
  if (tm->addPassesToEmitFile(pm, out, nullptr, llvm::CodeGenFileType::ObjectFile))
    return failure();
  pm.run(module);
  out.flush();
  return success();
}
