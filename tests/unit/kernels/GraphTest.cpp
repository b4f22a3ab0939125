//===- GraphTest.cpp - A flow graph's training gradients vs LibTorch ------===//
//
// graph.flow applies one network three times with kernels between the
// applications and a stop-gradient:
//   x2 = xt + 0.5 erf(v(xt, t)),  loss mse(v(x2, t) - 0.5 v(sg(x2), t), x1 - x0).
// The compiled training step (graph.cpp's host schedule: the path kernel,
// the network calls, the region kernels as autograd functions with their
// generated vjps) must give every parameter the gradient that LibTorch
// autograd gives the same computation written directly in LibTorch, to
// 1e-5 relative. The path's draws come from the compiled path kernel in both
// (it is checked against closed forms elsewhere). Two references that must
// NOT match show the bar can fail: one that ignores sg, one that stops the
// gradient between the first and second applications.
//
// graphjvp.flow differentiates the network along the path inside the loss
// (ddt(v(xt, t)), a Jacobian-vector product the runtime takes with
// autograd and trains through); the same comparison, the loss also against
// LibTorch's forward-mode AD, with two baselines that must fail.
//
// graph3.flow has three networks: a learned source m(y) upstream of the
// path, an encoder whose output is an input of the velocity network, and a
// second loss through sg; the same comparison, every parameter of all
// three, with two baselines that must fail.
//
// graphtar.flow trains a class-conditional TARFlow by its negative
// log-likelihood: the network's value is log p(x | y), a scalar the region
// kernel after it scales. The same comparison against the flow's NLL
// computed from its (z, logdet) in LibTorch, with a reference that leaves
// the log-determinant out as the baseline that must fail.
//
// graphlfq.flow's loss is a lookup-free quantizer's entropy term, whose
// batch_mean is not per sample (the host computes it between kernels): the
// same comparison, with a reference that leaves the batch term out (a
// per-sample mean in its place) as the baseline that must fail.
//
//===----------------------------------------------------------------------===//
#include "Context.h"
#include "Data.h"
#include "KernelTestUtil.h"
#include "Network.h"
#include "NetworkSet.h"
#include "TarFlow.h"

#include <gtest/gtest.h>

// graph.cpp and graph3.cpp, built with FLOWC_NO_MAIN.
flowrt_program graph_program();
flowrt_program graph3_program();
flowrt_program graphjvp_program();
flowrt_program graphlfq_program();
flowrt_program graphtar_program();

// clang-format off
extern "C" void graph3_path(int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t);
extern "C" void graph_path(int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t);
extern "C" void graphtar_path(int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t);
extern "C" void graphjvp_path(int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t);
// clang-format on

using namespace flowc_test;

namespace {

constexpr int64_t kRows = 64;

/// A whole program's training step at a fixed (seed, step), its networks
/// with random weights (an MLP starts with a zero output layer, a constant
/// field whose input Jacobian is zero: random weights make every path
/// count), and the gradients of all their parameters.
struct CompiledStep {
  flowrt_program program;
  std::unique_ptr<flowrt::DataSet> data = flowrt::makeDataSet(program.data);
  flowrt::NetworkSet nets{program};
  flowrt_ctx ctx;

  CompiledStep(flowrt_program p, uint64_t seed, int64_t step) : program(p) {
    ctx.program = &program;
    ctx.seed = seed;
    ctx.batchSize = kRows;
    ctx.step = step;
    ctx.data = data.get();
    ctx.nets = nets->pointers();
    torch::NoGradGuard noGrad;
    for (torch::Tensor &p : nets->parameters())
      p.normal_(0.0, 0.5);
  }

  /// Each parameter's gradient (zeros where none reached it), reset.
  std::vector<torch::Tensor> gradients() {
    std::vector<torch::Tensor> g;
    for (torch::Tensor &p : nets->parameters()) {
      g.push_back(p.grad().defined() ? p.grad().clone() : torch::zeros_like(p));
      if (p.grad().defined())
        p.mutable_grad().zero_();
    }
    return g;
  }

  /// The compiled training step's gradients.
  std::vector<torch::Tensor> compiled(double *loss) {
    ctx.dataCalls = 0;
    torch::Tensor l = program.train_loss(&ctx, ctx.step)->value;
    *loss = l.item<double>();
    l.sum().backward();
    ctx.clearArena();
    return gradients();
  }
};

/// graph.flow's step: one network applied three times.
struct Step : CompiledStep {
  flowrt::NetworkImpl *net = &*nets->network(0);
  Step() : CompiledStep(graph_program(), 11, 5) {}

  /// The same step in LibTorch, from the compiled path kernel's xt, t and
  /// target; `honourSg` false drops the stop-gradient, `throughFirst`
  /// false detaches the first application's output.
  std::vector<torch::Tensor> reference(double *loss, bool honourSg, bool throughFirst) {
    torch::Tensor x1 = flowrt::drawStepBatch(ctx, kRows, 0, false, false).x.contiguous();
    auto xt = torch::empty({kRows, 2}), t = torch::empty({kRows, 1}),
         target = torch::empty({kRows, 2});
    graph_path(kRows, int64_t(ctx.seed), ctx.step, FLOWC_ROWS(buf(x1), kRows, 2),
               FLOWC_ROWS(buf(xt), kRows, 2), FLOWC_ROWS(buf(t), kRows, 1),
               FLOWC_ROWS(buf(target), kRows, 2));
    torch::Tensor v1 = net->forward(xt, t);
    if (!throughFirst)
      v1 = v1.detach();
    torch::Tensor x2 = xt + 0.5 * torch::erf(v1);
    torch::Tensor v3 = net->forward(honourSg ? x2.detach() : x2, t);
    torch::Tensor l = (net->forward(x2, t) - 0.5 * v3 - target).pow(2).mean(1).mean();
    *loss = l.item<double>();
    l.backward();

    return gradients();
  }
};

/// max over parameters of max|a - b| / max|b|.
double relativeError(const std::vector<torch::Tensor> &a, const std::vector<torch::Tensor> &b) {
  double worst = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    double scale = b[i].abs().max().item<double>();
    worst = std::max(worst, (a[i] - b[i]).abs().max().item<double>() / std::max(scale, 1e-12));
  }
  return worst;
}

} // namespace

TEST(GraphGradients, EveryParameterMatchesLibTorch) {
  torch::manual_seed(0);
  Step step;
  double compiledLoss = 0, referenceLoss = 0, unused = 0;
  auto compiled = step.compiled(&compiledLoss);
  auto reference = step.reference(&referenceLoss, true, true);
  EXPECT_NEAR(compiledLoss, referenceLoss, 1e-6 * std::max(1.0, referenceLoss));
  EXPECT_GT(referenceLoss, 0.1);
  double err = relativeError(compiled, reference);
  measured("graph step gradients vs LibTorch, max relative", err);
  EXPECT_LE(err, 1e-5);

  // Baselines that must fail: a step that ignored sg, or that stopped the
  // gradient between the applications, gives other gradients.
  double noSg = relativeError(compiled, step.reference(&unused, false, true));
  double cut = relativeError(compiled, step.reference(&unused, true, false));
  measured("the same vs a reference that ignores sg", noSg);
  measured("the same vs a reference cut after the first application", cut);
  EXPECT_GT(noSg, 1e-2);
  EXPECT_GT(cut, 1e-2);
}

namespace {

/// graph3.flow's step: s = m(y) + 0.2 x0, xt = linear(s, x1, t),
/// h = tanh(enc(xt, t)), loss mse(v(xt, t, h), x1 - s) and
/// aux = 0.1 mse(enc(sg(xt), t), x1).
struct ThreeNetworkStep : CompiledStep {
  ThreeNetworkStep() : CompiledStep(graph3_program(), 7, 3) {}

  /// The same step in LibTorch from the compiled path kernel's draws;
  /// `honourSg` false drops the stop-gradient, `throughEncoder` false
  /// detaches h (no gradient from v into the encoder).
  std::vector<torch::Tensor> reference(double *loss, bool honourSg, bool throughEncoder) {
    flowrt::Batch drawn = flowrt::drawStepBatch(ctx, kRows, 0, true, false);
    torch::Tensor x1 = drawn.x.contiguous(), y = drawn.labels;
    // The path kernel's outputs are 0.2 x0, 1 - t and t x1 (broadcast) in
    // some order, and t: identify them by value.
    std::vector<torch::Tensor> out(3, torch::Tensor());
    for (auto &o : out)
      o = torch::empty({kRows, 2});
    torch::Tensor t = torch::empty({kRows, 1});
    graph3_path(kRows, int64_t(ctx.seed), ctx.step, FLOWC_ROWS(buf(x1), kRows, 2),
                FLOWC_ROWS(buf(out[0]), kRows, 2), FLOWC_ROWS(buf(out[1]), kRows, 2),
                FLOWC_ROWS(buf(out[2]), kRows, 2), FLOWC_ROWS(buf(t), kRows, 1));
    torch::Tensor scaledX0;
    for (const torch::Tensor &o : out)
      if (!torch::allclose(o, (1 - t).expand({kRows, 2})) && !torch::allclose(o, t * x1))
        scaledX0 = o;
    EXPECT_TRUE(scaledX0.defined());
    flowrt::NetworkImpl &m = *nets->network(0), &enc = *nets->network(1),
                        &v = *nets->network(2);
    torch::Tensor s = m.apply({y}) + scaledX0;
    torch::Tensor xt = (1 - t) * s + t * x1;
    torch::Tensor h = torch::tanh(enc.apply({xt, t}));
    if (!throughEncoder)
      h = h.detach();
    torch::Tensor main = (v.apply({xt, t, h}) - (x1 - s)).pow(2).mean(1).mean();
    torch::Tensor aux =
        0.1 * (enc.apply({honourSg ? xt.detach() : xt, t}) - x1).pow(2).mean(1).mean();
    torch::Tensor l = main + aux;
    *loss = l.item<double>();
    l.backward();
    return gradients();
  }
};

} // namespace

TEST(GraphGradients, ThreeNetworksMatchLibTorch) {
  torch::manual_seed(0);
  ThreeNetworkStep step;
  ASSERT_EQ(3u, step.nets->size());
  double compiledLoss = 0, referenceLoss = 0, unused = 0;
  auto compiled = step.compiled(&compiledLoss);
  auto reference = step.reference(&referenceLoss, true, true);
  EXPECT_NEAR(compiledLoss, referenceLoss, 1e-6 * std::max(1.0, referenceLoss));
  EXPECT_GT(referenceLoss, 0.1);
  // Every network's parameters get a gradient.
  for (size_t i = 0; i < reference.size(); ++i)
    EXPECT_GT(reference[i].abs().max().item<double>(), 0.0) << "parameter " << i;
  double err = relativeError(compiled, reference);
  measured("three-network step gradients vs LibTorch, max relative", err);
  EXPECT_LE(err, 1e-5);

  double noSg = relativeError(compiled, step.reference(&unused, false, true));
  double cut = relativeError(compiled, step.reference(&unused, true, false));
  measured("the same vs a reference that ignores sg", noSg);
  measured("the same vs a reference without the encoder's gradient from v", cut);
  // (The aux loss is a tenth of the total, so ignoring its sg moves the
  // gradients less; still far above the 1e-5 bar.)
  EXPECT_GT(noSg, 1e-3);
  EXPECT_GT(cut, 1e-2);
}

namespace {
/// graphjvp.flow's step: loss mse(u + 0.5 tanh(ddt(u)), ddt(xt)), u = v(xt, t).
struct JvpStep : CompiledStep {
  flowrt::NetworkImpl *net = &*nets->network(0);
  JvpStep() : CompiledStep(graphjvp_program(), 5, 2) {}

  /// The path kernel's draws: xt, t, the tangents (ddt(xt), 1) and target.
  std::vector<torch::Tensor> path() {
    torch::Tensor x1 = flowrt::drawStepBatch(ctx, kRows, 0, false, false).x.contiguous();
    std::vector<torch::Tensor> out{torch::empty({kRows, 2}), torch::empty({kRows, 1}),
                                   torch::empty({kRows, 2}), torch::empty({kRows, 1}),
                                   torch::empty({kRows, 2})};
    graphjvp_path(kRows, int64_t(ctx.seed), ctx.step, FLOWC_ROWS(buf(x1), kRows, 2),
                  FLOWC_ROWS(buf(out[0]), kRows, 2), FLOWC_ROWS(buf(out[1]), kRows, 1),
                  FLOWC_ROWS(buf(out[2]), kRows, 2), FLOWC_ROWS(buf(out[3]), kRows, 1),
                  FLOWC_ROWS(buf(out[4]), kRows, 2));
    return out;
  }

  /// The loss from a JVP of v at the path's (xt, t) along `tangents`.
  double loss(const torch::Tensor &u, const torch::Tensor &jvp, const torch::Tensor &target,
              bool backward) {
    torch::Tensor l = (u + 0.5 * torch::tanh(jvp) - target).pow(2).mean(1).mean();
    if (backward)
      l.backward();
    return l.item<double>();
  }

  /// The step in LibTorch: the JVP by double backward written out here
  /// (differentiable); `throughJvp` false detaches it, `timeOnly` drops
  /// x's tangent.
  std::vector<torch::Tensor> reference(double *value, bool throughJvp, bool timeOnly) {
    auto p = path();
    torch::Tensor xt = p[0].clone().requires_grad_(true), t = p[1].clone().requires_grad_(true);
    torch::Tensor y = net->forward(xt, t);
    torch::Tensor dummy = torch::zeros_like(y).requires_grad_(true);
    auto g = torch::autograd::grad({y}, {xt, t}, {dummy}, true, true);
    torch::Tensor dx = timeOnly ? torch::zeros_like(p[2]) : p[2];
    torch::Tensor jvp = torch::autograd::grad({g[0], g[1]}, {dummy}, {dx, p[3]}, true, true)[0];
    *value = loss(y, throughJvp ? jvp : jvp.detach(), p[4], true);
    return gradients();
  }

  /// The loss with the JVP by LibTorch's forward-mode AD (dual tensors).
  double forwardModeLoss() {
    torch::NoGradGuard noGrad;
    auto p = path();
    uint64_t level = torch::autograd::forward_ad::enter_dual_level();
    torch::Tensor y = net->forward(at::_make_dual(p[0], p[2], level),
                                   at::_make_dual(p[1], p[3], level));
    auto [primal, tangent] = at::_unpack_dual(y, level);
    torch::Tensor u = primal.clone(), jvp = tangent.clone();
    torch::autograd::forward_ad::exit_dual_level(level);
    return loss(u, jvp, p[4], false);
  }
};
} // namespace

TEST(GraphGradients, DdtThroughANetworkMatchesLibTorch) {
  torch::manual_seed(2);
  JvpStep step;
  double compiledLoss = 0, referenceLoss = 0, unused = 0;
  auto compiled = step.compiled(&compiledLoss);
  auto reference = step.reference(&referenceLoss, true, false);
  double forward = step.forwardModeLoss();
  measured("ddt step loss: compiled", compiledLoss);
  measured("ddt step loss: LibTorch forward-mode AD", forward);
  EXPECT_NEAR(compiledLoss, forward, 1e-5 * std::max(1.0, forward));
  EXPECT_NEAR(compiledLoss, referenceLoss, 1e-5 * std::max(1.0, referenceLoss));
  double err = relativeError(compiled, reference);
  measured("ddt step gradients vs LibTorch, max relative", err);
  EXPECT_LE(err, 1e-5);
  // Baselines that must fail: no gradient through the JVP, and a JVP
  // along t alone.
  double detached = relativeError(compiled, step.reference(&unused, false, false));
  measured("the same vs a reference that stops at the JVP", detached);
  EXPECT_GT(detached, 1e-2);
  double timeOnly = 0;
  step.reference(&timeOnly, true, true);
  EXPECT_GT(std::abs(timeOnly - compiledLoss), 1e-3 * std::max(1.0, compiledLoss));
}

namespace {

/// graphlfq.flow's step: z = enc(x) as two groups of two bits, p = each
/// group's code distribution softmax(2 * 2 z . c), the loss 0.1 (mean over
/// samples and groups of H(p) - mean over groups of H(batch mean of p)) +
/// 0.25 mean((z - sign z)^2).
struct BatchMeanStep : CompiledStep {
  BatchMeanStep() : CompiledStep(graphlfq_program(), 5, 2) {}

  /// The same step in LibTorch; `batchTerm` false takes each sample's own
  /// distribution where the batch's mean belongs.
  std::vector<torch::Tensor> reference(double *loss, bool batchTerm) {
    torch::Tensor x = flowrt::drawStepBatch(ctx, kRows, 0, false, false).x;
    torch::Tensor z = nets->network(0)->apply({x}).reshape({kRows, 2, 1, 2});
    torch::Tensor codes = torch::tensor({-1.f, -1.f, 1.f, -1.f, -1.f, 1.f, 1.f, 1.f}).reshape({4, 2});
    torch::Tensor p = torch::softmax(2 * 2 * (z * codes).sum(-1), -1); // [n, 2, 4]
    auto entropy = [](const torch::Tensor &q) {
      return -(q * torch::log(torch::clamp_min(q, 1e-8))).sum(-1);
    };
    torch::Tensor perSample = entropy(p).mean(1);                          // [n]
    torch::Tensor batch = batchTerm ? entropy(p.mean(0, true)).mean(1)   // [1]
                                    : entropy(p).mean(1);
    torch::Tensor sign = torch::where(z > 0, 1.0, -1.0);
    torch::Tensor commit = (z - sign).pow(2).mean({1, 2, 3});
    torch::Tensor l = (0.1 * (perSample - batch)).mean() + (0.25 * commit).mean();
    *loss = l.item<double>();
    l.backward();
    return gradients();
  }
};

} // namespace

TEST(GraphGradients, BatchMeanMatchesLibTorch) {
  torch::manual_seed(0);
  BatchMeanStep step;
  double compiledLoss = 0, referenceLoss = 0, unused = 0;
  auto compiled = step.compiled(&compiledLoss);
  auto reference = step.reference(&referenceLoss, true);
  EXPECT_NEAR(compiledLoss, referenceLoss, 1e-6 * std::max(1.0, std::abs(referenceLoss)));
  double err = relativeError(compiled, reference);
  measured("lookup-free entropy (batch_mean) gradients vs LibTorch, max relative", err);
  EXPECT_LE(err, 1e-5);
  double noBatch = relativeError(compiled, step.reference(&unused, false));
  measured("the same vs a reference without the batch's mean", noBatch);
  EXPECT_GT(noBatch, 1e-2);
}

namespace {

/// graphtar.flow's step: x = x1 + 0.05 n (the path kernel's), loss
/// -log p(x | y) / 64 through a TARFlow.
struct NormalizingFlowStep : CompiledStep {
  NormalizingFlowStep() : CompiledStep(graphtar_program(), 3, 4) {
    // N(0, 0.05^2) weights: N(0, 0.5^2) would make exp(-alpha) overflow.
    torch::NoGradGuard noGrad;
    for (torch::Tensor &p : nets->parameters())
      p.mul_(0.1);
  }

  /// The same step in LibTorch from the flow's (z, logdet); `logdet`
  /// false leaves the log-determinant out.
  std::vector<torch::Tensor> reference(double *loss, bool logdet) {
    flowrt::Batch drawn = flowrt::drawStepBatch(ctx, kRows, 0, true, false);
    torch::Tensor x1 = drawn.x.contiguous(), x = torch::empty({kRows, 64});
    graphtar_path(kRows, int64_t(ctx.seed), ctx.step, FLOWC_ROWS(buf(x1), kRows, 64),
                  FLOWC_ROWS(buf(x), kRows, 64));
    flowrt::TarFlowImpl *flow = flowrt::asTarFlow(*nets->network(0));
    EXPECT_NE(flow, nullptr);
    auto [z, ld] = flow->forward(x, drawn.labels.reshape({-1}));
    torch::Tensor logp = -0.5 * z.pow(2).sum(1) - 32 * std::log(2 * M_PI) +
                         (logdet ? ld : torch::zeros_like(ld));
    torch::Tensor l = (-logp / 64).mean();
    *loss = l.item<double>();
    l.backward();
    return gradients();
  }
};

} // namespace

TEST(GraphGradients, NormalizingFlowMatchesLibTorch) {
  torch::manual_seed(0);
  NormalizingFlowStep step;
  double compiledLoss = 0, referenceLoss = 0, unused = 0;
  auto compiled = step.compiled(&compiledLoss);
  auto reference = step.reference(&referenceLoss, true);
  EXPECT_NEAR(compiledLoss, referenceLoss, 1e-6 * std::max(1.0, std::abs(referenceLoss)));
  double err = relativeError(compiled, reference);
  measured("TARFlow NLL gradients vs LibTorch, max relative", err);
  EXPECT_LE(err, 1e-5);
  double noLogdet = relativeError(compiled, step.reference(&unused, false));
  measured("the same vs a reference without the log-determinant", noLogdet);
  EXPECT_GT(noLogdet, 1e-2);
}
