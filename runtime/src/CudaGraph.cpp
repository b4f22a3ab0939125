//===- CudaGraph.cpp - Work on the GPU captured once, replayed ------------===//
//
// Implements CudaGraph.h with LibTorch's CUDA graph class when the runtime
// is built against a LibTorch with CUDA (otherwise a capture reports that
// graphs are not built in), and with c10's stream interface.
//
//===----------------------------------------------------------------------===//

#include "CudaGraph.h"

#include <c10/core/impl/DeviceGuardImplInterface.h>

#include <stdexcept>

#if FLOWRT_CUDA_GRAPHS
// Only out-of-line members of CUDAGraph are used, so the runtime links
// against libtorch_cuda alone, not the CUDA runtime library.
#include <ATen/cuda/CUDAGraph.h>
#endif

using namespace flowrt;

// Through c10's device interface, as Cuda.cpp reads the current stream: no
// CUDA header or library is needed for streams.
struct SideStream::Impl {
  c10::impl::VirtualGuardImpl cuda{c10::DeviceType::CUDA};
  c10::Stream previous{cuda.exchangeStream(cuda.getStreamFromGlobalPool(cuda.getDevice()))};
  ~Impl() { cuda.exchangeStream(previous); }
};

SideStream::SideStream() : impl(std::make_unique<Impl>()) {}
SideStream::~SideStream() = default;

#if FLOWRT_CUDA_GRAPHS
struct CapturedGraph::Impl {
  at::cuda::CUDAGraph graph;
};
bool CapturedGraph::available() { return true; }
#else
struct CapturedGraph::Impl {};
bool CapturedGraph::available() { return false; }
#endif

// The graph object touches the CUDA runtime when made: only at the capture.
CapturedGraph::CapturedGraph(bool emulated) : emulated(emulated) {}
CapturedGraph::~CapturedGraph() = default;

void CapturedGraph::capture(const std::function<void()> &captured) {
  if (emulated) {
    work = captured;
  } else {
#if FLOWRT_CUDA_GRAPHS
    impl = std::make_unique<Impl>();
    impl->graph.capture_begin();
    captured();
    impl->graph.capture_end();
#else
    throw std::runtime_error("CUDA graphs: this runtime was built without CUDA (LibTorch "
                             "without CUDA); train with --no-cuda-graph");
#endif
  }
  done = true;
}

void CapturedGraph::replay() {
  if (emulated) {
    work();
    return;
  }
#if FLOWRT_CUDA_GRAPHS
  impl->graph.replay();
#endif
}
