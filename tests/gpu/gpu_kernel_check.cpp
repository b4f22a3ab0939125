//===- gpu_kernel_check.cpp - Generated PTX vs generated CPU code ---------===//
//
// Runs every kernel of examples/moons.flow, and the newer kinds of kernel in
// tests/unit/kernels/kernels.flow (condition dropout, guidance, rank-2 shape
// ops, the adaptive step controller, whole-trajectory kernels with the MLP
// inlined), twice on the same inputs: the CPU
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
#include <tuple>
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
// kernels.flow
void cond_path(int64_t, int64_t, int64_t, BUF, BUF, BUF, BUF, BUF, BUF);
void cond_guidance(int64_t, int64_t, int64_t, BUF, BUF, BUF, BUF, float, BUF);
void tens_path(int64_t, int64_t, int64_t, BUF, BUF, BUF, BUF, BUF);
void tens_loss_grad(int64_t, int64_t, int64_t, BUF, BUF, BUF, BUF, BUF);
void rf_dopri5_control(int64_t, int64_t, int64_t, BUF, BUF, BUF, BUF, BUF, float, float,
                       float, BUF, BUF, BUF);
void rf_optimizer(int64_t, int64_t, int64_t, BUF, BUF, BUF, BUF, float, float, BUF, BUF, BUF);
#define FLAT float *, float *, int64_t, int64_t, int64_t
void traj_trajectory(int64_t, int64_t, int64_t, BUF, BUF, FLAT, FLAT, float, float, int64_t,
                     BUF);
void sig_trajectory(int64_t, int64_t, int64_t, BUF, FLAT, FLAT, float, float, int64_t, BUF);
}

namespace {

CUmodule module, allModule; // moons.flow's and kernels.flow's PTX
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
  /// The random-number counter: on the GPU a one-element int64 buffer.
  void counter(int64_t *p) {
    add(p), add(p), add<int64_t>(0), add<int64_t>(1), add<int64_t>(1);
  }
  std::vector<void *> pointers() {
    std::vector<void *> p;
    for (auto &s : storage)
      p.push_back(s.data());
    return p;
  }
};

/// Runs `kernel` on the GPU with header (n, seed, step; the step in device
/// memory, as GPU kernels read it), then `buffers`
/// (inputs and outputs in order) with the uniform floats `uniforms` after
/// `uniformAfter` buffers, by value or, for the optimizer's and EMA's
/// kernels (`inMemory`), each in a one-element device buffer.
void launch(const std::string &kernel, int64_t n, int64_t seed, int64_t step,
            std::vector<torch::Tensor> &buffers, int uniformAfter = -1,
            std::vector<float> uniforms = {}, CUmodule from = nullptr, bool inMemory = false) {
  CUfunction fn;
  check(cuModuleGetFunction(&fn, from ? from : module, kernel.c_str()),
        "cuModuleGetFunction", kernel);
  Args args;
  torch::Tensor counter = torch::full({1}, step, torch::dtype(torch::kLong).device(torch::kCUDA));
  args.add(n), args.add(seed), args.counter(counter.data_ptr<int64_t>());
  std::vector<torch::Tensor> scalars; // alive until the launch is done
  for (size_t i = 0; i <= buffers.size(); ++i) {
    if (int(i) == uniformAfter)
      for (float u : uniforms) {
        if (!inMemory) {
          args.add(u);
          continue;
        }
        scalars.push_back(torch::full({1}, u, torch::dtype(torch::kFloat).device(torch::kCUDA)));
        float *p = scalars.back().data_ptr<float>();
        args.add(p), args.add(p), args.add<int64_t>(0), args.add<int64_t>(1), args.add<int64_t>(1);
      }
    if (i < buffers.size())
      args.buffer(buffers[i]);
  }
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
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s kernels.ptx all.ptx\n", argv[0]);
    return 2;
  }
  auto read = [](const char *path) {
    std::ifstream f(path);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
  };
  std::string ptx = read(argv[1]), allPtx = read(argv[2]);
  torch::Tensor warm = torch::zeros({1}, torch::kCUDA); // creates the context
  CUcontext ctx;
  check(cuCtxGetCurrent(&ctx), "cuCtxGetCurrent", "-");
  check(cuModuleLoadData(&module, ptx.c_str()), "cuModuleLoadData", "-");
  check(cuModuleLoadData(&allModule, allPtx.c_str()), "cuModuleLoadData", "-");
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
  launch("moons_rf_heun_stage1", n, 0, 0, g, 2, {h});
  compare("heun stage 1", s1, g[2], 1e-6);
  g = {x1.cuda(), k0.cuda(), k1.cuda(), gpuT(2)};
  launch("moons_rf_heun_update", n, 0, 0, g, 3, {h});
  compare("heun update", up, g[3], 1e-6);

  // A CPU tensor as kernel arguments; `cols` is a literal (INT64_C pastes).
#define D(t, cols) FLOWC_ROWS((t).data_ptr<float>(), (t).size(0), cols)
  // Condition dropout: drop(y, 0.25) decided by a uniform draw (bit for bit).
  torch::Tensor y = torch::randint(0, 2, {n, 1}).to(torch::kFloat);
  torch::Tensor cxt = cpuT(2), ct = cpuT(1), cy = cpuT(1), ctarget = cpuT(2);
  cond_path(n, seed, step, D(x1, 2), D(y, 1), D(cxt, 2), D(ct, 1), D(cy, 1), D(ctarget, 2));
  g = {x1.cuda(), y.cuda(), gpuT(2), gpuT(1), gpuT(1), gpuT(2)};
  launch("cond_path", n, seed, step, g, -1, {}, allModule);
  compare("drop(y, 0.25)", cy, g[4], 0.0);
  compare("conditional path xt", cxt, g[2], 1e-5);

  // Guidance (cfg, w = 3) with each sample's own time.
  torch::Tensor vu = torch::randn({n, 2}), tt = torch::rand({n, 1}), gv = cpuT(2);
  cond_guidance(n, 0, 0, D(k0, 2), D(vu, 2), D(x1, 2), D(tt, 1), 3.0f, D(gv, 2));
  g = {k0.cuda(), vu.cuda(), x1.cuda(), tt.cuda(), gpuT(2)};
  launch("cond_guidance", n, 0, 0, g, 4, {3.0f}, allModule);
  compare("cfg guidance", gv, g[4], 1e-6);

  // Rank-2 shape ops: a [3, 2] draw, expand, reduce_to, slices, reshape.
  torch::Tensor txt = cpuT(2), tt2 = cpuT(1), tm = cpuT(6), ttarget = cpuT(2);
  tens_path(n, seed, step, D(x1, 2), D(txt, 2), D(tt2, 1), D(tm, 6), D(ttarget, 2));
  g = {x1.cuda(), gpuT(2), gpuT(1), gpuT(6), gpuT(2)};
  launch("tens_path", n, seed, step, g, -1, {}, allModule);
  compare("rank-2 path matrix", tm, g[3], 1e-5);
  torch::Tensor v = torch::randn({n, 2}), m = torch::randn({n, 6}), tg = cpuT(2);
  tens_loss_grad(n, 0, 0, D(v, 2), D(m, 6), D(ttarget, 2), D(gl, 1), D(tg, 2));
  g = {v.cuda(), m.cuda(), ttarget.cuda(), gl.cuda(), gpuT(2)};
  launch("tens_loss_grad", n, 0, 0, g, -1, {}, allModule);
  compare("rank-2 loss gradient", tg, g[4], 1e-5);

  // The adaptive step controller (dopri5): accept/reject, next step, t = 1.
  torch::Tensor next = x1 + 0.1 * torch::randn({n, 2});
  torch::Tensor err = torch::randn({n, 2}) * torch::pow(10.0, -8 + 5 * torch::rand({n, 1}));
  torch::Tensor t0 = torch::rand({n, 1}) * 0.9, h0 = 0.01 + 0.1 * torch::rand({n, 1});
  torch::Tensor xo = cpuT(2), to = cpuT(1), ho = cpuT(1);
  rf_dopri5_control(n, 0, 0, D(x1, 2), D(next, 2), D(err, 2), D(t0, 1), D(h0, 1), 1e-5f, 1e-5f,
                    0.3f, D(xo, 2), D(to, 1), D(ho, 1));
  g = {x1.cuda(), next.cuda(), err.cuda(), t0.cuda(), h0.cuda(), gpuT(2), gpuT(1), gpuT(1)};
  launch("rf_dopri5_control", n, 0, 0, g, 5, {1e-5f, 1e-5f, 0.3f}, allModule);
  compare("controller x", xo, g[5], 0.0);
  compare("controller t", to, g[6], 1e-6);
  compare("controller h", ho, g[7], 1e-5);

  // Whole-trajectory kernels: the MLP inlined, the tableau at run time.
  // Parameters of kernels.flow's networks (TrajectoryBody's layout): vl
  // (40 inputs: x, 6 time features, a 32-wide class embedding; 40 x 2
  // hidden; 3 x 32 embedding rows) and vs (18 inputs, 24 x 2 hidden).
  const int64_t vlCount = (40 * 40 + 40) * 2 + 40 * 2 + 2 + 3 * 32;
  const int64_t vsCount = 18 * 24 + 24 + 24 * 24 + 24 + 24 * 2 + 2;
  auto flat = [](torch::Tensor &t) {
    float *p = t.data_ptr<float>();
    return std::make_tuple(p, p, int64_t(0), t.numel(), int64_t(1));
  };
  auto trajectory = [&](const char *kernel, bool labelled, int64_t count,
                        std::vector<float> tableau, int64_t steps, float h) {
    const int64_t rows = 20011;
    torch::Tensor x = torch::randn({rows, 2}), lab = torch::randint(-1, 3, {rows, 1}).to(torch::kFloat);
    torch::Tensor w = torch::randn({count}) * 0.3, tab = torch::tensor(tableau);
    torch::Tensor out = torch::empty({rows, 2});
    auto [w0, w1, w2, w3, w4] = flat(w);
    auto [b0, b1, b2, b3, b4] = flat(tab);
    if (labelled)
      traj_trajectory(rows, 0, 0, D(x, 2), D(lab, 1), w0, w1, w2, w3, w4, b0, b1, b2, b3, b4,
                      0.0f, h, steps, D(out, 2));
    else
      sig_trajectory(rows, 0, 0, D(x, 2), w0, w1, w2, w3, w4, b0, b1, b2, b3, b4, 0.0f, h,
                     steps, D(out, 2));
    torch::Tensor xg = x.cuda(), lg = lab.cuda(), wg = w.cuda(), tg2 = tab.cuda();
    torch::Tensor og = torch::empty({rows, 2}, torch::kCUDA);
    Args args;
    args.add(rows), args.add(int64_t(0)), args.counter(nullptr); // draws nothing
    args.buffer(xg);
    if (labelled)
      args.buffer(lg);
    for (torch::Tensor *t : {&wg, &tg2}) {
      float *p = t->data_ptr<float>();
      args.add(p), args.add(p), args.add(int64_t(0)), args.add(t->numel()), args.add(int64_t(1));
    }
    args.add(0.0f), args.add(h), args.add(steps);
    args.buffer(og);
    auto ptrs = args.pointers();
    CUfunction fn;
    check(cuModuleGetFunction(&fn, allModule, kernel), "cuModuleGetFunction", kernel);
    CUstream stream = at::cuda::getCurrentCUDAStream().stream();
    check(cuLaunchKernel(fn, unsigned((rows + 127) / 128), 1, 1, 128, 1, 1, 0, stream,
                         ptrs.data(), nullptr),
          "cuLaunchKernel", kernel);
    check(cuStreamSynchronize(stream), "cuStreamSynchronize", kernel);
    // libdevice vs the CPU's polynomial exp/erf/tanh/sin/cos: a few ulp per
    // evaluation, through a few dozen evaluations.
    compare(kernel, out, og, 1e-4);
  };
  // The generated Adam, in place over a flat buffer (outputs = inputs), as
  // the runtime runs it: two steps.
  {
    int64_t P = 4099;
    torch::Tensor p = torch::randn({P, 1}), m = torch::zeros({P, 1}), v = torch::zeros({P, 1});
    std::vector<torch::Tensor> gpu = {p.cuda(), torch::Tensor(), m.cuda(), v.cuda()};
    for (int s = 1; s <= 2; ++s) {
      torch::Tensor gr = torch::randn({P, 1});
      rf_optimizer(P, 0, 0, D(p, 1), D(gr, 1), D(m, 1), D(v, 1), 0.01f, float(s), D(p, 1),
                   D(m, 1), D(v, 1));
      gpu[1] = gr.cuda();
      g = {gpu[0], gpu[1], gpu[2], gpu[3], gpu[0], gpu[2], gpu[3]};
      launch("rf_optimizer", P, 0, 0, g, 4, {0.01f, float(s)}, allModule, /*inMemory=*/true);
    }
    compare("adam (in place, 2 steps) parameters", p, gpu[0], 1e-6);
    compare("adam (in place, 2 steps) second moment", v, gpu[3], 1e-6);
  }

  trajectory("traj_trajectory", true, vlCount,
             {4, 0, 0.5, 0.5, 1, 0, 0, 0, 0, 0.5, 0, 0, 0, 0, 0.5, 0, 0, 0, 0, 1, 0,
              1.f / 6, 1.f / 3, 1.f / 3, 1.f / 6},
             8, 0.125f);
  trajectory("sig_trajectory", false, vsCount, {2, 0, 0.5, 0, 0, 0.5, 0, 0, 1}, 10, 0.1f);

  std::printf("%d passed, %d failed\n", checks - failures, failures);
  return failures ? 1 : 0;
}
