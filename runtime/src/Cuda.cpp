//===- Cuda.cpp - The compiler's PTX kernels on a GPU ---------------------===//
//
// Implements Cuda.h with the handful of driver entry points it needs,
// declared here with the driver API's C types (CUresult is an int, handles
// are pointers) so that no CUDA header is needed to build the runtime.
//
//===----------------------------------------------------------------------===//

#include "Cuda.h"
#include "Context.h"

#include <c10/core/impl/DeviceGuardImplInterface.h>
#include <dlfcn.h>

#include <algorithm>
#include <stdexcept>

using namespace flowrt;

namespace {

using CUresult = int;
using CUdevice = int;
using CUcontext = void *;
using CUmodule = void *;
using CUfunction = void *;
using CUstream = void *;
constexpr CUresult CUDA_SUCCESS = 0;
constexpr int CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK = 0;
constexpr int CU_JIT_ERROR_LOG_BUFFER = 5;
constexpr int CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES = 6;

/// Threads per block: enough to hide latency, few enough that the
/// trajectory kernel's registers fit.
constexpr int BlockThreads = 128;

} // namespace

struct CudaKernels::Driver {
  void *library = nullptr;
  CUresult (*cuInit)(unsigned);
  CUresult (*cuCtxGetCurrent)(CUcontext *);
  CUresult (*cuCtxSetCurrent)(CUcontext);
  CUresult (*cuModuleLoadDataEx)(CUmodule *, const void *, unsigned, int *, void **);
  CUresult (*cuModuleUnload)(CUmodule);
  CUresult (*cuModuleGetFunction)(CUfunction *, CUmodule, const char *);
  CUresult (*cuFuncGetAttribute)(int *, int, CUfunction);
  CUresult (*cuLaunchKernel)(CUfunction, unsigned, unsigned, unsigned, unsigned, unsigned,
                             unsigned, unsigned, CUstream, void **, void **);
  CUresult (*cuCtxSynchronize)();
  CUresult (*cuGetErrorString)(CUresult, const char **);

  /// The plain names: cuda.h maps none of these entry points to a _v2 (or
  /// per-thread-stream) variant in the default build.
  template <typename F> void resolve(F &fn, const char *name) {
    void *sym = dlsym(library, name);
    if (!sym)
      throw std::runtime_error(std::string("CUDA driver has no ") + name);
    fn = reinterpret_cast<F>(sym);
  }

  Driver() {
    library = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!library)
      throw std::runtime_error(std::string("cannot open the CUDA driver (libcuda.so.1): ") +
                               dlerror());
    resolve(cuInit, "cuInit");
    resolve(cuCtxGetCurrent, "cuCtxGetCurrent");
    resolve(cuCtxSetCurrent, "cuCtxSetCurrent");
    resolve(cuModuleLoadDataEx, "cuModuleLoadDataEx");
    resolve(cuModuleUnload, "cuModuleUnload");
    resolve(cuModuleGetFunction, "cuModuleGetFunction");
    resolve(cuFuncGetAttribute, "cuFuncGetAttribute");
    resolve(cuLaunchKernel, "cuLaunchKernel");
    resolve(cuCtxSynchronize, "cuCtxSynchronize");
    resolve(cuGetErrorString, "cuGetErrorString");
  }

  /// Throws "CALL (kernel K): message" unless r is CUDA_SUCCESS.
  void check(CUresult r, const char *call, const std::string &kernel) {
    if (r == CUDA_SUCCESS)
      return;
    const char *message = nullptr;
    cuGetErrorString(r, &message);
    throw std::runtime_error(std::string(call) + " (kernel " + kernel +
                             "): " + (message ? message : "unknown CUDA error") +
                             " [" + std::to_string(r) + "]");
  }
};

CudaKernels::CudaKernels(const char *ptx) : driver(std::make_unique<Driver>()) {
  if (!ptx || !*ptx)
    throw std::runtime_error("this program carries no PTX (built without the GPU target)");
  driver->check(driver->cuInit(0), "cuInit", "-");
  driver->check(driver->cuCtxGetCurrent(&context), "cuCtxGetCurrent", "-");
  if (!context)
    throw std::runtime_error("no current CUDA context (LibTorch has not used the GPU yet)");
  // The JIT's error log says which line of the PTX it rejects.
  char log[4096] = {0};
  int options[] = {CU_JIT_ERROR_LOG_BUFFER, CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES};
  void *values[] = {log, reinterpret_cast<void *>(sizeof(log))};
  CUresult r = driver->cuModuleLoadDataEx(&module, ptx, 2, options, values);
  if (r != CUDA_SUCCESS && log[0])
    throw std::runtime_error(std::string("cuModuleLoadDataEx: the driver rejected the PTX: ") +
                             log);
  driver->check(r, "cuModuleLoadDataEx", "-");
}

CudaKernels::~CudaKernels() {
  if (module)
    driver->cuModuleUnload(module);
  // The driver library stays loaded: LibTorch shares it.
}

void CudaKernels::launch(const std::string &kernel, int64_t rows, void **args) {
  if (rows <= 0)
    return;
  // Autograd runs the loss's backward on its own thread: make the module's
  // context current there too (cheap when it already is).
  driver->check(driver->cuCtxSetCurrent(context), "cuCtxSetCurrent", kernel);
  auto it = functions.find(kernel);
  if (it == functions.end()) {
    CUfunction fn = nullptr;
    driver->check(driver->cuModuleGetFunction(&fn, module, kernel.c_str()),
                  "cuModuleGetFunction", kernel);
    int most = BlockThreads;
    driver->check(driver->cuFuncGetAttribute(&most, CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK, fn),
                  "cuFuncGetAttribute", kernel);
    it = functions.emplace(kernel, std::make_pair(fn, std::min(most, BlockThreads))).first;
  }
  auto [fn, threads] = it->second;
  auto blocks = static_cast<unsigned>((rows + threads - 1) / threads);
  driver->check(driver->cuLaunchKernel(fn, blocks, 1, 1, static_cast<unsigned>(threads), 1, 1,
                                       0, currentStream(), args, nullptr),
                "cuLaunchKernel", kernel);
}

void *CudaKernels::currentStream() {
  // LibTorch's current stream of its current device, through c10's device
  // interface (registered by libtorch_cuda), so no CUDA header is needed. It
  // is the thread's: autograd's device thread runs a backward kernel on the
  // stream its forward ran on, and a stream LibTorch captures into a CUDA
  // graph receives the generated launches too.
  c10::impl::VirtualGuardImpl impl(c10::DeviceType::CUDA);
  return impl.getStream(impl.getDevice()).native_handle();
}

void CudaKernels::synchronize() {
  driver->check(driver->cuCtxSynchronize(), "cuCtxSynchronize", "-");
}

std::unique_ptr<CudaKernels> flowrt::attachGpu(flowrt_ctx &ctx, const char *ptx) {
  if (!torch::cuda::is_available())
    throw std::runtime_error("--device cuda: no CUDA device is available here");
  ctx.device = torch::Device(torch::kCUDA);
  torch::zeros({1}, torch::TensorOptions().device(ctx.device)); // makes the context
  auto kernels = std::make_unique<CudaKernels>(ptx);
  ctx.gpu = kernels.get();
  return kernels;
}
