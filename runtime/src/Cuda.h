//===- Cuda.h - The compiler's PTX kernels on a GPU -------------*- C++ -*-===//
//
// Launches the generated PTX through the CUDA driver API, which is opened at
// run time (dlopen of libcuda.so.1): the runtime builds and runs without
// CUDA, and a CPU-only machine never touches it. The module is loaded once
// per device from the program's PTX (the driver JIT-compiles it for the
// device) on the context LibTorch made current, and every function is
// looked up once. Launches go to LibTorch's current stream (the legacy
// default stream unless a caller selects another), so kernels and LibTorch
// ops are ordered, and a stream being captured as a CUDA graph captures them
// too. Every driver call is
// checked; a failure throws with the call, the kernel and the driver's
// message.
//
//===----------------------------------------------------------------------===//
#ifndef FLOWRT_CUDA_H
#define FLOWRT_CUDA_H

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>

struct flowrt_ctx;

namespace flowrt {

class CudaKernels {
public:
  /// Loads `ptx` for the current device of LibTorch (which must have made
  /// its context current, e.g. by allocating a CUDA tensor). Throws
  /// std::runtime_error when the driver or the module cannot be loaded.
  explicit CudaKernels(const char *ptx);
  ~CudaKernels();

  /// Runs `kernel` with one thread per row over `rows` rows; `args` points
  /// at each parameter's value, in the kernel's parameter order.
  void launch(const std::string &kernel, int64_t rows, void **args);

  /// Waits for every launch so far (for timing and for errors that only
  /// show when a kernel runs).
  void synchronize();

  /// LibTorch's current CUDA stream on the current device (a CUstream).
  static void *currentStream();

private:
  struct Driver;
  std::unique_ptr<Driver> driver;
  void *context = nullptr; // LibTorch's (primary) context, where module lives
  void *module = nullptr;
  std::unordered_map<std::string, std::pair<void *, int>> functions;
};

/// Puts a command's context on the GPU (`--device cuda`): its tensors on
/// the CUDA device and its kernels from `ptx`. Throws with a clear message
/// when no GPU is available. The kernels live as long as the result.
std::unique_ptr<CudaKernels> attachGpu(flowrt_ctx &ctx, const char *ptx);

} // namespace flowrt

#endif
