//===- CudaGraph.h - Work on the GPU captured once, replayed ----*- C++ -*-===//
//
// A training step on a GPU is dozens of small launches (the generated
// kernels, LibTorch's GEMMs and elementwise ops, autograd's backward); at
// small sizes the CPU's launch time, not the GPU, sets the pace. Captured
// once as a CUDA graph, the whole step is one launch per replay. This wraps
// LibTorch's at::cuda::CUDAGraph, whose memory pool keeps the captured
// step's tensors reserved across replays, so LibTorch ops and the generated
// kernels (which launch on LibTorch's current stream) are captured alike.
//
// Built only when LibTorch has CUDA (FLOWRT_CUDA_GRAPHS); elsewhere
// `available()` is false and training launches every step's work itself.
//
//===----------------------------------------------------------------------===//
#ifndef FLOWRT_CUDAGRAPH_H
#define FLOWRT_CUDAGRAPH_H

#include <functional>
#include <memory>

namespace flowrt {

/// The work that `capture` enqueues on the current stream, replayed by
/// replay(). Capturing needs a non-default stream (SideStream) and runs
/// nothing: replay() runs the captured work. Making one touches no GPU.
///
/// An emulated graph (for tests on machines without a GPU) keeps the work
/// and runs it again at each replay: unlike a real replay its host code
/// runs again, but the training loop around it (refilled batches, sums on
/// the device, NaN checks over ranges of steps) is the one a GPU runs.
class CapturedGraph {
public:
  /// Whether this runtime was built with CUDA graphs.
  static bool available();
  explicit CapturedGraph(bool emulated = false);
  ~CapturedGraph();
  void capture(const std::function<void()> &work);
  bool captured() const { return done; }
  void replay();

private:
  struct Impl;
  std::unique_ptr<Impl> impl;
  bool emulated;
  std::function<void()> work; ///< an emulated graph's
  bool done = false;
};

/// A stream from LibTorch's pool, current on the GPU for the object's
/// lifetime (the previous stream is restored after).
class SideStream {
public:
  SideStream();
  ~SideStream();

private:
  struct Impl;
  std::unique_ptr<Impl> impl;
};

} // namespace flowrt

#endif // FLOWRT_CUDAGRAPH_H
