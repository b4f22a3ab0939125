//===- flowc.cpp - The flowc driver ---------------------------------------===//
//
//   flowc [--emit=STAGE] SPEC.flow      print one stage of the pipeline
//   flowc build SPEC.flow -o EXE        compile, then link with libflowrt
//                                       (PTX for --gpu-arch, default sm_80)
//   flowc build SPEC.flow --emit-project DIR
//
// Stages, in pipeline order (each prints what the next one consumes):
//   ast < mlir < mlir-kernels < mlir-lowered < llvm < obj;  ptx and cpp branch off
//   mlir-kernels. All diagnostics (syntax, Sema, MLIR) go through one
//   SourceMgr, so they print file:line:col, the line and a caret, and
//   --verify-diagnostics checks them against `expected-error` comments.
//
//===----------------------------------------------------------------------===//
#include "flowc/Lang/Frontend.h"
#include "flowc/MLIRGen/MLIRGen.h"
#include "flowc/Target/Target.h"

#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/ToolOutputFile.h"
#include "llvm/Support/raw_ostream.h"

#include <chrono>

using namespace mlir;
namespace cl = llvm::cl;

namespace {

enum class Stage { AST, MLIR, Kernels, Lowered, LLVM, Obj, PTX, Cpp };

cl::opt<std::string> inputFile(cl::Positional, cl::desc("<spec.flow>"));
cl::opt<std::string> command(cl::Positional, cl::desc("[build]"), cl::init(""));
cl::opt<Stage> emit(
    "emit", cl::desc("Stage to print"), cl::init(Stage::MLIR),
    cl::values(clEnumValN(Stage::AST, "ast", "the checked AST"),
               clEnumValN(Stage::MLIR, "mlir", "the flow dialect from MLIRGen"),
               clEnumValN(Stage::Kernels, "mlir-kernels",
                          "after the flow passes: kernels and host schedule"),
               clEnumValN(Stage::Lowered, "mlir-lowered",
                          "CPU kernels lowered to loops"),
               clEnumValN(Stage::LLVM, "llvm", "optimised LLVM IR of the CPU kernels"),
               clEnumValN(Stage::Obj, "obj", "object file of the CPU kernels (-o)"),
               clEnumValN(Stage::PTX, "ptx", "PTX of the kernels"),
               clEnumValN(Stage::Cpp, "cpp", "the generated host C++")));
cl::opt<std::string> outputFile("o", cl::desc("Output file"), cl::init("-"));
cl::opt<std::string> emitProject("emit-project",
                                 cl::desc("build: write a CMake project to DIR"),
                                 cl::init(""));
// Any sm_80+ GPU can JIT sm_80 PTX (the runtime compiles it for its device),
// so that is the portable default; a newer one lets ptxas use its features.
cl::opt<std::string> gpuArch("gpu-arch",
                             cl::desc("GPU architecture of the PTX (--emit=ptx, build)"),
                             cl::init("sm_80"));
cl::opt<std::string> cpuName("cpu",
                             cl::desc("CPU for --emit=llvm/obj (default: this one)"),
                             cl::init(""));
cl::opt<std::string> stdlibDir("stdlib", cl::desc("Standard library folder"),
                               cl::init(""));
cl::opt<bool> verifyDiagnostics("verify-diagnostics",
                                cl::desc("Check expected-error comments"),
                                cl::init(false));
cl::opt<bool> verbose("v", cl::desc("Print build steps and timings"), cl::init(false));

/// Routes front-end errors into MLIR's diagnostic engine.
class MLIRDiagnostics : public flowc::Diagnostics {
public:
  explicit MLIRDiagnostics(MLIRContext &ctx) : ctx(ctx) {}
  void error(const flowc::ast::Location &l, const std::string &message) override {
    emitError(FileLineColLoc::get(&ctx, l.file, l.line, l.col)) << message;
  }
  void warning(const flowc::ast::Location &l, const std::string &message) override {
    emitWarning(FileLineColLoc::get(&ctx, l.file, l.line, l.col)) << message;
  }

private:
  MLIRContext &ctx;
};

/// Reads imported files and registers them with the SourceMgr, so that
/// diagnostics in them print their source line too.
class SourceMgrLoader : public flowc::FileLoader {
public:
  explicit SourceMgrLoader(llvm::SourceMgr &sm) : sm(sm) {}
  std::optional<std::string> load(const std::string &path) override {
    auto buffer = llvm::MemoryBuffer::getFile(path);
    if (!buffer)
      return std::nullopt;
    std::string text = (*buffer)->getBuffer().str();
    sm.AddNewSourceBuffer(std::move(*buffer), llvm::SMLoc());
    return text;
  }

private:
  llvm::SourceMgr &sm;
};

std::string defaultStdlib() {
  if (const char *env = std::getenv("FLOWC_STDLIB"))
    return env;
  return FLOWC_STDLIB_DIR;
}

LogicalResult writeText(llvm::StringRef path, llvm::StringRef text) {
  std::error_code ec;
  llvm::ToolOutputFile out(path, ec, llvm::sys::fs::OF_Text);
  if (ec) {
    llvm::errs() << "flowc: error: cannot write " << path << ": " << ec.message() << "\n";
    return failure();
  }
  out.os() << text;
  out.keep();
  return success();
}

/// Copies the folder `from` and everything under it into `to`.
LogicalResult copyTree(llvm::StringRef from, llvm::StringRef to) {
  std::error_code ec;
  for (llvm::sys::fs::recursive_directory_iterator it(from, ec), end; it != end && !ec;
       it.increment(ec)) {
    llvm::SmallString<256> target(to);
    llvm::sys::path::append(target, it->path().substr(from.size()));
    if (it->type() == llvm::sys::fs::file_type::directory_file)
      ec = llvm::sys::fs::create_directories(target);
    else if (!(ec = llvm::sys::fs::create_directories(llvm::sys::path::parent_path(target))))
      ec = llvm::sys::fs::copy_file(it->path(), target);
    if (ec)
      break;
  }
  if (ec) {
    llvm::errs() << "flowc: error: cannot copy " << from << " to " << to << ": "
                 << ec.message() << "\n";
    return failure();
  }
  return success();
}

/// Whether `arch` names an NVIDIA architecture: sm_ and digits, optionally
/// an "a" suffix (sm_90a).
bool validGpuArch(llvm::StringRef arch) {
  if (!arch.consume_front("sm_"))
    return false;
  arch.consume_back("a");
  return !arch.empty() && llvm::all_of(arch, llvm::isDigit);
}

/// Everything a program needs, from a spec module after the flow passes.
struct Artifacts {
  std::string hostCpp, ptx;
};

FailureOr<Artifacts> generate(ModuleOp kernels, llvm::StringRef spec,
                              llvm::StringRef objectPath, llvm::StringRef cpu,
                              llvm::StringRef chip) {
  OwningOpRef<ModuleOp> loops = flowc::lowerKernelsForCPU(kernels);
  if (!loops)
    return failure();
  llvm::LLVMContext llvmContext;
  auto llvmModule = flowc::translateToLLVMIR(*loops, llvmContext, cpu);
  if (!llvmModule || failed(flowc::writeObjectFile(*llvmModule, objectPath, cpu)))
    return emitError(kernels.getLoc()) << "could not generate CPU code";
  FailureOr<std::string> ptx = flowc::emitPTX(kernels, chip);
  if (failed(ptx))
    return emitError(kernels.getLoc()) << "could not generate PTX";
  FailureOr<std::string> cpp = flowc::emitHostCpp(kernels, spec, *ptx);
  if (failed(cpp))
    return failure();
  return Artifacts{*cpp, *ptx};
}

/// `flowc build`: kernels.o + host.cpp, linked with libflowrt and LibTorch.
LogicalResult build(ModuleOp kernels, llvm::StringRef spec) {
  auto start = std::chrono::steady_clock::now();
  std::string base = llvm::sys::path::stem(inputFile).str();
  if (!emitProject.empty()) {
    if (llvm::sys::fs::create_directories(emitProject))
      return failure();
    llvm::SmallString<256> object(emitProject);
    llvm::sys::path::append(object, "kernels.o");
    // A portable x86-64 baseline: the project may build on another host.
    auto art = generate(kernels, spec, object, "x86-64-v2", gpuArch);
    if (failed(art))
      return failure();
    std::string cmake =
        "# Generated by flowc: builds '" + base + "' wherever LibTorch is.\n"
        "cmake_minimum_required(VERSION 3.20)\nproject(" + base +
        " LANGUAGES C CXX)\n"
        "set(FLOWRT_SOURCE_DIR \"" FLOWC_RUNTIME_SOURCE_DIR "\" CACHE PATH "
        "\"flowc's runtime/ folder\")\n"
        "# The runtime's header-only libraries travel with the project.\n"
        "set(FLOWRT_THIRD_PARTY_DIR \"${CMAKE_CURRENT_SOURCE_DIR}/third_party\")\n"
        "add_subdirectory(${FLOWRT_SOURCE_DIR} flowrt)\n"
        "add_executable(" + base + " host.cpp kernels.o)\n"
        "target_link_libraries(" + base + " PRIVATE flowrt)\n";
    auto path = [&](const char *name) {
      llvm::SmallString<256> p(emitProject);
      llvm::sys::path::append(p, name);
      return std::string(p);
    };
    if (failed(writeText(path("host.cpp"), art->hostCpp)) ||
        failed(writeText(path("kernels.ptx"), art->ptx)) ||
        failed(writeText(path("CMakeLists.txt"), cmake)) ||
        failed(copyTree(FLOWC_CLI11_DIR, path("third_party/CLI"))) ||
        failed(copyTree(FLOWC_JSON_DIR, path("third_party/nlohmann"))))
      return failure();
    llvm::outs() << "flowc: wrote CMake project " << emitProject << "\n";
    return success();
  }

  llvm::SmallString<256> dir;
  if (llvm::sys::fs::createUniqueDirectory("flowc-build", dir))
    return failure();
  auto path = [&](const char *name) {
    llvm::SmallString<256> p(dir);
    llvm::sys::path::append(p, name);
    return std::string(p);
  };
  auto art = generate(kernels, spec, path("kernels.o"), "", gpuArch);
  if (failed(art) || failed(writeText(path("host.cpp"), art->hostCpp)))
    return failure();
  auto cxx = llvm::sys::findProgramByName("c++");
  if (!cxx) {
    llvm::errs() << "flowc: error: no C++ compiler (c++) on PATH\n";
    return failure();
  }
  std::string out = outputFile == "-" ? base : outputFile.getValue();
  std::vector<std::string> args = {*cxx, "-O1", "-std=c++17",
                                   "-I" FLOWC_RUNTIME_INCLUDE_DIR, path("host.cpp"),
                                   path("kernels.o"), FLOWRT_LIBRARY,
                                   "-L" TORCH_LIBRARY_DIR,
                                   "-Wl,-rpath," TORCH_LIBRARY_DIR,
                                   "-ltorch_cpu", "-lc10", "-lm", "-lpthread",
#ifdef FLOWC_LINK_TORCH_CUDA
                                   "-ltorch_cuda",
#endif
#ifdef FLOWC_LINK_ZLIB
                                   "-lz",
#endif
                                   "-o", out};
  std::vector<llvm::StringRef> argRefs(args.begin(), args.end());
  if (verbose) {
    for (auto &a : args)
      llvm::errs() << a << " ";
    llvm::errs() << "\n";
  }
  std::string error;
  int rc = llvm::sys::ExecuteAndWait(*cxx, argRefs, std::nullopt, {}, 0, 0, &error);
  if (rc != 0) {
    llvm::errs() << "flowc: error: linking failed (" << rc << ") " << error
                 << "; files kept in " << dir << "\n";
    return failure();
  }
  llvm::sys::fs::remove_directories(dir);
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  llvm::outs() << "flowc: built " << out << " in " << llvm::format("%.1f", secs) << " s\n";
  return success();
}

int run(MLIRContext &context, llvm::SourceMgr &sourceMgr) {
  bool isBuild = false;
  if (inputFile == "build") {
    isBuild = true;
    inputFile = command.getValue();
  }
  auto buffer = llvm::MemoryBuffer::getFileOrSTDIN(inputFile);
  if (!buffer) {
    llvm::errs() << "flowc: error: cannot read '" << inputFile << "'\n";
    return 1;
  }
  std::string spec = (*buffer)->getBuffer().str();
  sourceMgr.AddNewSourceBuffer(std::move(*buffer), llvm::SMLoc());
  if (!validGpuArch(gpuArch)) {
    llvm::errs() << "flowc: error: --gpu-arch must be sm_NN (sm_80, sm_90, ...), not '"
                 << gpuArch << "'\n";
    return 1;
  }

  // Front end.
  MLIRDiagnostics diags(context);
  SourceMgrLoader loader(sourceMgr);
  loader.stdlibDir = stdlibDir.empty() ? defaultStdlib() : stdlibDir.getValue();
  flowc::ast::Module ast;
  if (!flowc::parseSource(inputFile, spec, ast, diags) ||
      !flowc::analyzeModule(ast, diags, loader))
    return 1;
  if (!isBuild && emit == Stage::AST)
    return failed(writeText(outputFile, flowc::ast::printModule(ast)));

  OwningOpRef<ModuleOp> module = flowc::mlirGen(context, ast);
  if (!module)
    return 1;
  if (!isBuild && emit == Stage::MLIR) {
    std::string text;
    llvm::raw_string_ostream os(text);
    module->print(os);
    return failed(writeText(outputFile, text));
  }
  if (failed(flowc::runKernelPipeline(*module)))
    return 1;
  if (isBuild)
    return failed(build(*module, spec));

  std::string text;
  llvm::raw_string_ostream os(text);
  switch (emit) {
  case Stage::Kernels:
    module->print(os);
    break;
  case Stage::Lowered:
  case Stage::LLVM:
  case Stage::Obj: {
    OwningOpRef<ModuleOp> loops = flowc::lowerKernelsForCPU(*module);
    if (!loops)
      return 1;
    if (emit == Stage::Lowered) {
      loops->print(os);
      break;
    }
    llvm::LLVMContext llvmContext;
    auto llvmModule = flowc::translateToLLVMIR(*loops, llvmContext, cpuName);
    if (!llvmModule)
      return 1;
    if (emit == Stage::Obj) {
      if (outputFile == "-") {
        llvm::errs() << "flowc: error: --emit=obj needs -o FILE\n";
        return 1;
      }
      return failed(flowc::writeObjectFile(*llvmModule, outputFile, cpuName));
    }
    llvmModule->print(os, nullptr);
    break;
  }
  case Stage::PTX: {
    FailureOr<std::string> ptx = flowc::emitPTX(*module, gpuArch);
    if (failed(ptx))
      return 1;
    os << *ptx;
    break;
  }
  case Stage::Cpp: {
    FailureOr<std::string> cpp = flowc::emitHostCpp(*module, spec, "");
    if (failed(cpp))
      return 1;
    os << *cpp;
    break;
  }
  default:
    break;
  }
  return failed(writeText(outputFile, text));
}

} // namespace

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  cl::ParseCommandLineOptions(argc, argv, "flowc: compiler for flow-model specs\n");
  DialectRegistry registry;
  flowc::registerAll(registry);
  flowc::registerPasses();
  MLIRContext context(registry);
  context.loadAllAvailableDialects();
  // A diagnostic names its place in the spec; the op's IR is no help there.
  context.printOpOnDiagnostic(false);
  llvm::SourceMgr sourceMgr;
  if (verifyDiagnostics) {
    SourceMgrDiagnosticVerifierHandler handler(sourceMgr, &context);
    run(context, sourceMgr);
    return failed(handler.verify()) ? 1 : 0;
  }
  SourceMgrDiagnosticHandler handler(sourceMgr, &context);
  return run(context, sourceMgr);
}
