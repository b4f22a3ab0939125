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

#include <memory>

namespace flowrt {

/// The work enqueued on the current stream between beginCapture and
/// endCapture, replayed by replay(). Capturing needs a non-default stream
/// (SideStream) and runs nothing: replay() runs the captured work. Making
/// one touches no GPU.
class CapturedGraph {
public:
  /// Whether this runtime was built with CUDA graphs.
  static bool available();
  CapturedGraph();
  ~CapturedGraph();
  void beginCapture();
  void endCapture();
  bool captured() const { return done; }
  void replay();

private:
  struct Impl;
  std::unique_ptr<Impl> impl;
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
