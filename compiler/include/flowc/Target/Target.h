//===- Target.h - From kernels to object code, PTX and host C++ -*- C++ -*-===//
//
// The back end, staged so that each step is a function of the previous one:
//   flow dialect --runKernelPipeline--> kernels + host schedule
//     --lowerKernelsForCPU--> loops --translateToLLVMIR--> LLVM IR --> object
//     --emitPTX--> PTX (one per GPU architecture)
//     --emitHostCpp--> the generated program's C++ (calls libflowrt)
//
//===----------------------------------------------------------------------===//
#ifndef FLOWC_TARGET_TARGET_H
#define FLOWC_TARGET_TARGET_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"
#include "llvm/IR/LLVMContext.h"
#include "llvm/IR/Module.h"

#include <memory>
#include <string>

namespace llvm {
class TargetMachine;
}
namespace mlir {
class OpPassManager;
}

namespace flowc {

/// Registers the dialects, passes and translations flowc uses.
void registerAll(mlir::DialectRegistry &registry);

/// Registers flowc's passes, the upstream ones its textual pipelines name,
/// and the kernel pipeline as `flow-kernel-pipeline`. Call it once.
void registerPasses();

/// Adds the flow passes to `pm`: differentiate time, outline kernels,
/// differentiate losses, expand solvers, then canonicalize and CSE.
void buildKernelPipeline(mlir::OpPassManager &pm);

/// Runs buildKernelPipeline's passes on `module`, in place.
mlir::LogicalResult runKernelPipeline(mlir::ModuleOp module);

/// A copy of `module` holding only its kernels, lowered to loops over rows
/// (scf/memref/arith/math): what `--emit=mlir-lowered` prints.
mlir::OwningOpRef<mlir::ModuleOp> lowerKernelsForCPU(mlir::ModuleOp module);

/// Lowers loop-level kernels to the LLVM dialect and translates them to an
/// optimised (O3) LLVM module for `cpu` (empty: the CPU flowc runs on).
std::unique_ptr<llvm::Module> translateToLLVMIR(mlir::ModuleOp loops,
                                                llvm::LLVMContext &context,
                                                llvm::StringRef cpu = "");

/// Writes `module` as an x86-64/AArch64 object file for `cpu`.
mlir::LogicalResult writeObjectFile(llvm::Module &module, llvm::StringRef path,
                                    llvm::StringRef cpu = "");

/// PTX text of every kernel for `chip` (sm_80, sm_90, ...).
mlir::FailureOr<std::string> emitPTX(mlir::ModuleOp module, llvm::StringRef chip);

/// The generated program's C++: kernel prototypes, the host schedule and the
/// flowrt_program descriptor. Never includes LibTorch.
mlir::FailureOr<std::string> emitHostCpp(mlir::ModuleOp module,
                                         llvm::StringRef specText,
                                         llvm::StringRef ptx);

} // namespace flowc

#endif
