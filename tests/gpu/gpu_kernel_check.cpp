//===- gpu_kernel_check.cpp - Generated PTX vs generated CPU code ---------===//
//
// Runs every kernel of examples/moons.flow twice on the same inputs: the CPU
// object code (linked in) and the PTX (loaded with the CUDA driver on
// LibTorch's current context and stream), and reports the largest difference
// of each output. Both come from the same per-row lowering (KernelBody.cpp),
// so uniform draws must agree bit for bit and everything else to float
// rounding of libm vs libdevice (tolerance 1e-5). Exits non-zero on a
// mismatch or a driver error (named with its kernel).
//
// Build on a GPU host (no MLIR needed): see tests/gpu/run.sh.
//
//===----------------------------------------------------------------------===//
#include <ATen/cuda/CUDAContext.h>
#include <cuda.h>
#include <torch/torch.h>

#include <cstdio>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#define FLOWC_ROWS(p, rows, cols)                                              \
  (p), (p), INT64_C(0), (rows), INT64_C(cols), INT64_C(cols), INT64_C(1)
#define BUF float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t
extern "C" {
void moons_rf_source(int64_t, int64_t, int64_t, BUF);
void moons_rf_path(int64_t, int64_t, int64_t, BUF, BUF, BUF, BUF);
void moons_rf_loss(int64_t, int64_t, int64_t, BUF, BUF, BUF);
void moons_rf_loss_grad(int64_t, int64_t, int64_t, BUF, BUF, BUF, BUF);
void moons_rf_heun_stage1(int64_t, int64_t, int64_t, BUF, BUF, float, BUF);
void moons_rf_heun_update(int64_t, int64_t, int64_t, BUF, BUF, BUF, float, BUF);
}

namespace {

CUmodule module;
int checks = 0, failures = 0;

void check(CUresult r, const char *what, const std::string &kernel) {
  if (r == CUDA_SUCCESS)
    return;
  const char *msg = nullptr;
  cuGetErrorString(r, &msg);
  std::fprintf(stderr, "error: %s (kernel %s): %s\n", what, kernel.c_str(), msg);
  std::exit(2);
}

/// Launch arguments in MLIR's memref convention: 7 values per buffer.
struct Args {
  std::vector<std::vector<char>> storage;
  template <typename T> void add(T v) {
    std::vector<char> s(sizeof(T));
    std::memcpy(s.data(), &v, sizeof(T));
    storage.push_back(std::move(s));
  }
  void buffer(torch::Tensor &t) {
    float *p = t.data_ptr<float>();
    add(p), add(p), add<int64_t>(0), add<int64_t>(t.size(0)), add<int64_t>(t.size(1)),
        add<int64_t>(t.size(1)), add<int64_t>(1);
  }
  std::vector<void *> pointers() {
    std::vector<void *> p;
    for (auto &s : storage)
      p.push_back(s.data());
    return p;
  }
};

/// Runs `kernel` on the GPU with header (n, seed, step), then `buffers`
/// (inputs and outputs in order) with an optional uniform float after
/// `uniformAfter` buffers.
void launch(const std::string &kernel, int64_t n, int64_t seed, int64_t step,
            std::vector<torch::Tensor> &buffers, int uniformAfter = -1,
            float uniform = 0) {
  CUfunction fn;
  check(cuModuleGetFunction(&fn, module, kernel.c_str()), "cuModuleGetFunction", kernel);
  Args args;
  args.add(n), args.add(seed), args.add(step);
  for (size_t i = 0; i < buffers.size(); ++i) {
    if (int(i) == uniformAfter)
      args.add(uniform);
    args.buffer(buffers[i]);
  }
  if (uniformAfter == int(buffers.size()))
    args.add(uniform);
  auto ptrs = args.pointers();
  unsigned blocks = unsigned((n + 255) / 256);
  CUstream stream = at::cuda::getCurrentCUDAStream().stream();
  check(cuLaunchKernel(fn, blocks, 1, 1, 256, 1, 1, 0, stream, ptrs.data(), nullptr),
        "cuLaunchKernel", kernel);
  check(cuStreamSynchronize(stream), "cuStreamSynchronize", kernel);
}

void compare(const char *what, const torch::Tensor &cpu, const torch::Tensor &gpu,
             double tol) {
  double err = (cpu - gpu.cpu()).abs().max().item<double>();
  bool ok = err <= tol;
  ++checks;
  failures += !ok;
  std::printf("%-28s max |cpu - gpu| = %.3g  (tolerance %.0e)  %s\n", what, err, tol,
              ok ? "ok" : "MISMATCH");
}

} // namespace

int main(int argc, char **argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s kernels.ptx\n", argv[0]);
    return 2;
  }
  std::ifstream f(argv[1]);
  std::stringstream ss;
  ss << f.rdbuf();
  std::string ptx = ss.str();
  torch::Tensor warm = torch::zeros({1}, torch::kCUDA); // creates the context
  CUcontext ctx;
  check(cuCtxGetCurrent(&ctx), "cuCtxGetCurrent", "-");
  check(cuModuleLoadData(&module, ptx.c_str()), "cuModuleLoadData", "-");
  std::printf("device: %s, torch %s\n",
              at::cuda::getCurrentDeviceProperties()->name, TORCH_VERSION);

  const int64_t n = 100003, seed = 0x123456789LL, step = 17;
  auto cpuT = [&](int64_t cols) { return torch::empty({n, cols}); };
  auto gpuT = [&](int64_t cols) { return torch::empty({n, cols}, torch::kCUDA); };
  torch::manual_seed(0);

  // Source draws (Philox + Box-Muller).
  torch::Tensor x0c = cpuT(2);
  moons_rf_source(n, seed, step, FLOWC_ROWS(x0c.data_ptr<float>(), n, 2));
  std::vector<torch::Tensor> g = {gpuT(2)};
  launch("moons_rf_source", n, seed, step, g);
  compare("source x0 (normal draws)", x0c, g[0], 1e-5);

  // Path kernel: x1 in; xt, t, target out.
  torch::Tensor x1 = torch::randn({n, 2});
  torch::Tensor xt = cpuT(2), t = cpuT(1), target = cpuT(2);
  moons_rf_path(n, seed, step, FLOWC_ROWS(x1.data_ptr<float>(), n, 2),
                FLOWC_ROWS(xt.data_ptr<float>(), n, 2), FLOWC_ROWS(t.data_ptr<float>(), n, 1),
                FLOWC_ROWS(target.data_ptr<float>(), n, 2));
  g = {x1.cuda(), gpuT(2), gpuT(1), gpuT(2)};
  launch("moons_rf_path", n, seed, step, g);
  compare("path t (uniform draws)", t, g[2], 0.0);
  compare("path xt", xt, g[1], 1e-5);
  compare("path target = x1 - x0", target, g[3], 1e-5);

  // Loss and its gradient.
  torch::Tensor pred = torch::randn({n, 2}), loss = cpuT(1), gl = torch::rand({n, 1}),
                grad = cpuT(2);
  moons_rf_loss(n, 0, 0, FLOWC_ROWS(pred.data_ptr<float>(), n, 2),
                FLOWC_ROWS(target.data_ptr<float>(), n, 2),
                FLOWC_ROWS(loss.data_ptr<float>(), n, 1));
  moons_rf_loss_grad(n, 0, 0, FLOWC_ROWS(pred.data_ptr<float>(), n, 2),
                     FLOWC_ROWS(target.data_ptr<float>(), n, 2),
                     FLOWC_ROWS(gl.data_ptr<float>(), n, 1),
                     FLOWC_ROWS(grad.data_ptr<float>(), n, 2));
  g = {pred.cuda(), target.cuda(), gpuT(1)};
  launch("moons_rf_loss", n, 0, 0, g);
  compare("loss", loss, g[2], 1e-5);
  g = {pred.cuda(), target.cuda(), gl.cuda(), gpuT(2)};
  launch("moons_rf_loss_grad", n, 0, 0, g);
  compare("loss gradient", grad, g[3], 1e-5);

  // Heun stage and update (uniform h between the buffers and the output).
  torch::Tensor k0 = torch::randn({n, 2}), k1 = torch::randn({n, 2}), s1 = cpuT(2),
                up = cpuT(2);
  float h = 0.03125f;
  moons_rf_heun_stage1(n, 0, 0, FLOWC_ROWS(x1.data_ptr<float>(), n, 2),
                  FLOWC_ROWS(k0.data_ptr<float>(), n, 2), h,
                  FLOWC_ROWS(s1.data_ptr<float>(), n, 2));
  moons_rf_heun_update(n, 0, 0, FLOWC_ROWS(x1.data_ptr<float>(), n, 2),
                  FLOWC_ROWS(k0.data_ptr<float>(), n, 2),
                  FLOWC_ROWS(k1.data_ptr<float>(), n, 2), h,
                  FLOWC_ROWS(up.data_ptr<float>(), n, 2));
  g = {x1.cuda(), k0.cuda(), gpuT(2)};
  launch("moons_rf_heun_stage1", n, 0, 0, g, 2, h);
  compare("heun stage 1", s1, g[2], 1e-6);
  g = {x1.cuda(), k0.cuda(), k1.cuda(), gpuT(2)};
  launch("moons_rf_heun_update", n, 0, 0, g, 3, h);
  compare("heun update", up, g[3], 1e-6);

  std::printf("%d passed, %d failed\n", checks - failures, failures);
  return failures ? 1 : 0;
}
