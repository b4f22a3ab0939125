//===- TestProgram.cpp - A hand-written flow program for runtime tests ----===//
//
// Implements the stand-in generated program of TestProgram.h. Only the C
// interface of flowrt.h is used here, as in generated code.
//
//===----------------------------------------------------------------------===//

#include "TestProgram.h"
#include "Files.h"

#include <array>
#include <cmath>
#include <cstdlib>
#include <deque>
#include <dirent.h>
#include <ftw.h>
#include <random>
#include <stdexcept>

namespace flowrt_test {

namespace {

void mseForward(flowrt_ctx *, int64_t n, float *const *inputs, float *const *outputs) {
  const float *a = inputs[0], *b = inputs[1];
  for (int64_t i = 0; i < n; ++i) {
    float sum = 0;
    for (int64_t j = 0; j < Dim; ++j) {
      float d = a[i * Dim + j] - b[i * Dim + j];
      sum += d * d;
    }
    outputs[0][i] = sum / Dim;
  }
}

void mseBackward(flowrt_ctx *, int64_t n, float *const *inputs, float *const *dout,
                 float *const *din) {
  const float *a = inputs[0], *b = inputs[1];
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < Dim; ++j)
      din[0][i * Dim + j] = dout[0][i] * 2 * (a[i * Dim + j] - b[i * Dim + j]) / Dim;
}

const int32_t kMseGrad[] = {1, 0};
const int64_t kMseCols[] = {1};

} // namespace

const flowrt_region_desc mseRegion = {mseForward, mseBackward, 2, kMseGrad, 1, kMseCols};

namespace {

flowrt_tensor *trainLoss(flowrt_ctx *ctx, int64_t step) {
  int64_t n = flowrt_batch_size(ctx);
  flowrt_tensor *x1 = flowrt_data_batch(ctx, n, nullptr, nullptr);
  flowrt_tensor *xt = flowrt_empty(ctx, n, Dim);
  flowrt_tensor *t = flowrt_empty(ctx, n, 1);
  flowrt_tensor *target = flowrt_empty(ctx, n, Dim);
  // Kernel noise is a function of (seed, step), as with in-kernel Philox.
  std::mt19937_64 rng(flowrt_seed(ctx) * 0x9E3779B97F4A7C15ull +
                      static_cast<uint64_t>(step));
  std::normal_distribution<float> normal;
  std::uniform_real_distribution<float> uniform;
  const float *x1d = flowrt_data(x1);
  float *xtd = flowrt_data(xt), *td = flowrt_data(t);
  float *targetd = flowrt_data(target);
  for (int64_t i = 0; i < n; ++i) {
    float ti = uniform(rng);
    td[i] = ti;
    for (int64_t j = 0; j < Dim; ++j) {
      float x0 = normal(rng);
      xtd[i * Dim + j] = (1 - ti) * x0 + ti * x1d[i * Dim + j];
      targetd[i * Dim + j] = x1d[i * Dim + j] - x0;
    }
  }
  flowrt_tensor *args[] = {xt, t};
  flowrt_tensor *v = flowrt_apply(ctx, 0, args);
  flowrt_tensor *inputs[] = {v, target};
  flowrt_tensor *loss = nullptr;
  flowrt_region(ctx, &mseRegion, inputs, &loss);
  return flowrt_batch_mean(ctx, loss);
}

flowrt_tensor *sampleSource(flowrt_ctx *ctx, int64_t n, const flowrt_conditions *) {
  flowrt_tensor *x = flowrt_empty(ctx, n, Dim);
  std::mt19937_64 rng(flowrt_seed(ctx));
  std::normal_distribution<float> normal;
  float *xd = flowrt_data(x);
  for (int64_t i = 0; i < n * Dim; ++i)
    xd[i] = normal(rng);
  return x;
}

flowrt_tensor *velocity(flowrt_ctx *ctx, flowrt_tensor *x, const flowrt_conditions *,
                        double t) {
  flowrt_tensor *args[] = {x, flowrt_full(ctx, flowrt_rows(x), 1, t)};
  return flowrt_apply(ctx, 0, args);
}

void eulerStep(flowrt_ctx *ctx, flowrt_tensor *x, const flowrt_conditions *given,
               double t, double h, flowrt_tensor **next, flowrt_tensor **error) {
  int64_t n = flowrt_rows(x);
  flowrt_tensor *v = velocity(ctx, x, given, t);
  *next = flowrt_empty(ctx, n, Dim);
  float *out = flowrt_data(*next);
  const float *xd = flowrt_data(x), *vd = flowrt_data(v);
  for (int64_t i = 0; i < n * Dim; ++i)
    out[i] = xd[i] + static_cast<float>(h) * vd[i];
  *error = nullptr;
}

const double EulerC[] = {0}, EulerA[] = {0}, EulerB[] = {1};
const flowrt_solver Solvers[] = {{"euler", 1, 1, 0, eulerStep, nullptr, EulerC, EulerA, EulerB}};

const char *const DataParamNames[] = {"noise"};
const double DataParamValues[] = {0.05};

/// Adam (as torch.optim.Adam) over the flat buffers, in place.
void adamStep(flowrt_ctx *, flowrt_tensor *params, flowrt_tensor *grads,
              flowrt_tensor *const *state, float lr, float step) {
  const float b1 = 0.9f, b2 = 0.999f, eps = 1e-8f;
  float *p = flowrt_data(params), *m = flowrt_data(state[0]), *v = flowrt_data(state[1]);
  const float *g = flowrt_data(grads);
  float bc1 = 1 - std::pow(b1, step), bc2 = 1 - std::pow(b2, step);
  for (int64_t i = 0; i < flowrt_rows(params); ++i) {
    m[i] = b1 * m[i] + (1 - b1) * g[i];
    v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i];
    p[i] -= lr * (m[i] / bc1) / (std::sqrt(v[i] / bc2) + eps);
  }
}

void emaStep(flowrt_ctx *, flowrt_tensor *ema, flowrt_tensor *params, float decay) {
  float *e = flowrt_data(ema);
  const float *p = flowrt_data(params);
  for (int64_t i = 0; i < flowrt_rows(params); ++i)
    e[i] = decay * e[i] + (1 - decay) * p[i];
}

} // namespace

flowrt_program makeTestProgram() {
  flowrt_program p{};
  p.abi_version = FLOWRT_ABI_VERSION;
  p.flow_name = "moons_test";
  p.spec_text = "// test program: rectified flow on toy.moons\n";
  p.data = {"toy.moons", Dim, 1, DataParamNames, DataParamValues, 0};
  setModel(p, {"v", "mlp", Dim, Dim, 0, nullptr, nullptr, 64, 3, "silu", 8, 0});
  p.train = {500, 256, "adam", 1e-2, 0.99, 0};
  p.sample = {"euler", 20, 1, 1e-5, 1e-5, 2000, 1, FLOWRT_LABELS_BALANCED, nullptr, 0.0};
  p.train_loss = trainLoss;
  p.optimizer_step = adamStep;
  p.optimizer_state = 2;
  p.ema_step = emaStep;
  p.sample_source = sampleSource;
  p.num_solvers = 1;
  p.solvers = Solvers;
  p.velocity = velocity;
  p.ptx = nullptr;
  return p;
}

flowrt_model_desc &setModel(flowrt_program &program, const flowrt_model_desc &model) {
  static std::deque<flowrt_model_desc> models; // addresses stay put
  models.push_back(model);
  program.num_models = 1;
  program.models = &models.back();
  program.velocity_model = 0;
  return models.back();
}

flowrt_model_desc &modelOf(flowrt_program &program) {
  return const_cast<flowrt_model_desc &>(program.models[0]);
}

flowrt_program makeImageProgram(const char *kind, int64_t channels, int64_t classes) {
  static std::deque<std::array<int64_t, 3>> shapes; // addresses stay put
  shapes.push_back({channels, 8, 8});
  flowrt_program p{};
  p.data.rank = 3;
  p.data.shape = shapes.back().data();
  p.data.dim = channels * 64;
  flowrt_model_desc &m = setModel(p, {"v", kind, p.data.dim, p.data.dim});
  m.width = std::string(kind) == "unet" ? 16 : 32;
  m.depth = 2;
  m.heads = 4;
  m.patch = 2;
  m.time_features = 8;
  m.classes = classes;
  return p;
}

int runMain(const flowrt_program &program, std::vector<std::string> args) {
  args.insert(args.begin(), "moons_test");
  std::vector<char *> argv;
  for (std::string &arg : args)
    argv.push_back(arg.data());
  argv.push_back(nullptr);
  return flowrt_main(&program, static_cast<int>(args.size()), argv.data());
}

ScratchDir::ScratchDir() {
  const char *tmp = std::getenv("TMPDIR");
  std::string pattern =
      std::string(tmp && *tmp ? tmp : "/tmp") + "/flowrt-test-XXXXXX";
  if (!::mkdtemp(pattern.data()))
    throw std::runtime_error("mkdtemp failed");
  dir = pattern;
}

ScratchDir::~ScratchDir() {
  // Depth first, so directories are empty when removed.
  ::nftw(
      dir.c_str(),
      [](const char *path, const struct stat *, int, struct FTW *) {
        return std::remove(path);
      },
      16, FTW_DEPTH | FTW_PHYS);
}

std::vector<std::string> listDirectory(const std::string &dir) {
  return flowrt::listDirectory(dir);
}

} // namespace flowrt_test
