//===- Likelihood.cpp - log p(x) by the instantaneous change of variables -===//
//
// Implements `likelihood`: for points x1 (t = 1), integrates the flow's ODE
// backward to t = 0 together with the divergence of the field,
//   d/dt (x, L) = (v(x, t), div v(x, t)),   L(1) = 0,
// with the chosen tableau at fixed steps (integrateTableau), so that
//   log p1(x1) = log p0(x(0)) + L(0) = log p0(x(0)) - int_0^1 div v dt
// (Chen et al. 2018, FFJORD; flow_matching's ODESolver.compute_likelihood).
// The divergence is exact (one Jacobian-vector product per feature) or
// Hutchinson's estimate e^T J e with a Rademacher e drawn once per solve.
// Closed-form fields use the compiler's Jacobian-vector kernel (jvp);
// networks use LibTorch autograd.
//
//===----------------------------------------------------------------------===//

#include "Checkpoint.h"
#include "Commands.h"
#include "Context.h"
#include "Cuda.h"
#include "Files.h"
#include "Integrate.h"
#include "NetworkSet.h"
#include "Stages.h"
#include "Tokenizer.h"
#include "Writers.h"

#include <ATen/CPUGeneratorImpl.h>

#include <cmath>
#include <cstdio>

using namespace flowrt;

namespace {

constexpr double Log2Pi = 1.8378770664093454836;

/// Velocity and divergence of the canonical field at time t (0 source, 1
/// data) for a batch x.
class Field {
public:
  Field(const flowrt_program &program, flowrt_ctx &ctx, flowrt_tensor *labels,
        torch::Tensor probe)
      : program(program), ctx(ctx), labels(labels), probe(std::move(probe)) {}

  /// (v, div v); `probe` defined: Hutchinson with it, else exact.
  std::pair<torch::Tensor, torch::Tensor> operator()(const torch::Tensor &x, double t) {
    return ctx.net ? network(x, t) : closedForm(x, t);
  }

private:
  const flowrt_program &program;
  flowrt_ctx &ctx;
  flowrt_tensor *labels;
  torch::Tensor probe;

  std::pair<torch::Tensor, torch::Tensor> closedForm(const torch::Tensor &x, double t) {
    flowrt_tensor xt{x.contiguous()};
    flowrt_conditions given{labels, nullptr};
    torch::Tensor v = program.velocity(&ctx, &xt, &given, t)->value;
    auto jvp = [&](const torch::Tensor &e) {
      flowrt_tensor et{e.contiguous()};
      return program.jvp(&ctx, &xt, &given, t, &et)->value;
    };
    torch::Tensor div;
    if (probe.defined()) {
      div = (probe * jvp(probe)).sum(1);
    } else {
      div = torch::zeros({x.size(0)}, x.options());
      for (int64_t i = 0; i < x.size(1); ++i) {
        torch::Tensor e = torch::zeros_like(x);
        e.select(1, i).fill_(1.0);
        div += jvp(e).select(1, i);
      }
    }
    return {v.clone(), div.clone()};
  }

  std::pair<torch::Tensor, torch::Tensor> network(const torch::Tensor &x, double t) {
    torch::AutoGradMode grad(true);
    torch::Tensor xg = x.detach().clone().requires_grad_(true);
    double tn = program.reverse_time ? 1.0 - t : t;
    torch::Tensor tt = torch::full({x.size(0), 1}, tn, x.options());
    torch::Tensor v = ctx.net->forward(xg, tt, labels ? labels->value : torch::Tensor());
    if (program.reverse_time)
      v = -v;
    ++ctx.netEvals;
    torch::Tensor div;
    if (probe.defined()) { // e^T J e from one vector-Jacobian product
      torch::Tensor g = torch::autograd::grad({(v * probe).sum()}, {xg})[0];
      div = (g * probe).sum(1);
    } else {
      div = torch::zeros({x.size(0)}, x.options());
      for (int64_t i = 0; i < x.size(1); ++i) {
        torch::Tensor g = torch::autograd::grad({v.select(1, i).sum()}, {xg},
                                                /*grad_outputs=*/{}, /*retain_graph=*/true)[0];
        div += g.select(1, i);
      }
    }
    return {v.detach(), div.detach()};
  }
};

/// log p0(x) of the source, per point.
torch::Tensor sourceLogDensity(const flowrt_source_desc &source, const torch::Tensor &x) {
  torch::Tensor xd = x.to(torch::kDouble);
  int64_t d = x.size(1);
  if (std::string(source.kind) == "normal") {
    torch::Tensor z = (xd - source.p0) / source.p1;
    return -0.5 * z.pow(2).sum(1) - d * (std::log(source.p1) + 0.5 * Log2Pi);
  }
  torch::Tensor inside = ((xd >= source.p0) & (xd < source.p1)).all(1);
  return torch::where(inside, torch::full({x.size(0)}, -d * std::log(source.p1 - source.p0),
                                          xd.options()),
                      torch::full({x.size(0)}, -INFINITY, xd.options()));
}

} // namespace

torch::Tensor flowrt::logLikelihood(const flowrt_program &program, flowrt_ctx &ctx,
                                    const torch::Tensor &x1, flowrt_tensor *labels,
                                    const flowrt_solver &solver, int64_t steps,
                                    bool hutchinson, uint64_t seed) {
  torch::Tensor probe;
  if (hutchinson) { // Rademacher, once per solve
    at::Generator gen = at::detail::createCPUGenerator(seed);
    probe = (torch::randint(0, 2, x1.sizes(), gen, torch::kFloat) * 2 - 1).to(x1.device());
  }
  Field field(program, ctx, labels, probe);
  // (x, L) from t = 1 down to 0, with L' = div v and L(1) = 0.
  std::vector<torch::Tensor> state = integrateTableau(
      solver,
      [&](const std::vector<torch::Tensor> &xs, double t) {
        auto [v, div] = field(xs[0], t);
        return std::vector<torch::Tensor>{v, div.to(torch::kDouble)};
      },
      {x1.to(torch::kFloat).contiguous(),
       torch::zeros({x1.size(0)}, x1.options().dtype(torch::kDouble))}, 1.0,
      0.0, steps, [&] { ctx.clearArena(); });
  torch::Tensor x = state[0], logdet = state[1];
  return sourceLogDensity(program.source, x) + logdet;
}

double flowrt::imageBitsPerDim(const flowrt_program &program, flowrt_ctx &ctx,
                               const torch::Tensor &images, const torch::Tensor &labels,
                               double binWidth, const flowrt_solver &solver, int64_t steps,
                               bool hutchinson, uint64_t seed) {
  at::Generator gen = at::detail::createCPUGenerator(seed);
  torch::Tensor x = images + torch::rand(images.sizes(), gen, torch::kFloat) * binWidth;
  if (ctx.tokenizer) // a permutation: no change of volume
    x = ctx.tokenizer->encode(x);
  int64_t n = x.size(0), dim = x.size(1);
  // Chunks bound the exact divergence's memory (one JVP per feature).
  constexpr int64_t Chunk = 64;
  double total = 0;
  for (int64_t begin = 0; begin < n; begin += Chunk) {
    int64_t end = std::min(n, begin + Chunk);
    flowrt_tensor y{};
    if (labels.defined())
      y.value = labels.slice(0, begin, end).reshape({-1, 1}).to(torch::kFloat);
    torch::Tensor logp =
        logLikelihood(program, ctx, x.slice(0, begin, end).contiguous(),
                      labels.defined() ? &y : nullptr, solver, steps, hutchinson,
                      mixSeed(seed, static_cast<uint64_t>(begin)));
    total += logp.sum().item<double>();
  }
  double logBin = std::log(binWidth) * static_cast<double>(dim);
  return -(total / static_cast<double>(n) + logBin) / (static_cast<double>(dim) * std::log(2.0));
}

int flowrt::runLikelihood(const flowrt_program &program, const LikelihoodOptions &opts) {
  if (program.data.vocab > 0)
    throw std::runtime_error(std::string("flow '") + program.flow_name +
                             "' is a density over one-hot vectors, not over token ids: it "
                             "has no likelihood of data points");
  if (samplesTokens(program))
    throw std::runtime_error(std::string("flow '") + program.flow_name +
                             "' is a density over its tokenizer's tokens, which its encoder "
                             "does not map invertibly to the data: it has no likelihood of "
                             "data points");
  if (!program.velocity) {
    std::fprintf(stderr, "error: flow '%s' samples with a map (sample { map: ... }), which "
                         "has no velocity field; likelihoods integrate one\n",
                 program.flow_name ? program.flow_name : "");
    return 1;
  }
  if (!program.source.kind) {
    std::fprintf(stderr, "error: the source of flow '%s' has no closed-form density; "
                         "likelihood needs x0 ~ normal(m, s) or uniform(a, b) with "
                         "constant parameters\n",
                 program.flow_name);
    return 1;
  }
  if (program.sample.guidance) {
    std::fprintf(stderr, "error: a guided field has no likelihood; its sample block "
                         "guides with '%s'\n", program.sample.guidance);
    return 1;
  }
  if (program.sample.cond_dim > 0) {
    std::fprintf(stderr, "error: flow '%s' samples from conditions (sample --cond); "
                         "likelihoods given a condition are not supported yet\n",
                 program.flow_name ? program.flow_name : "");
    return 1;
  }
  if (!velocityModel(program) && !program.jvp) {
    std::fprintf(stderr, "error: the program has no Jacobian of its field\n");
    return 1;
  }
  const flowrt_solver *solver = findSolver(program, opts.solver);
  if (!solver)
    throw UsageError("--solver", "unknown solver '" + opts.solver + "'");
  NetworkSet nets = velocityModel(program) ? loadSamplingNetworks(program, opts.run.outDir)
                                           : NetworkSet(nullptr);
  torch::NoGradGuard noGrad;
  flowrt_ctx ctx;
  std::unique_ptr<CudaKernels> gpu = setUpContext(ctx, program, opts.run);
  if (nets) {
    nets->to(ctx.device);
    ctx.nets = nets->pointers();
    ctx.net = nets->velocity();
  }
  torch::Tensor x1 = readPointRows(opts.input, sampleDimension(ctx), "the flow's samples");
  // Points come in the data's units; a tokenizer's flow runs on tokens.
  std::unique_ptr<Tokenizer> tokenizer = makeTokenizer(program.data);
  if (tokenizer)
    x1 = tokenizer->encode(x1);
  x1 = x1.to(ctx.device);
  ctx.batchSize = x1.size(0);
  flowrt_tensor labels{};
  if (velocityClasses(program) > 0)
    labels.value = torch::full({x1.size(0), 1}, static_cast<float>(opts.label), x1.options());
  torch::Tensor logp =
      logLikelihood(program, ctx, x1, labels.value.defined() ? &labels : nullptr, *solver,
                    opts.steps, opts.hutchinson, opts.run.seed)
          .cpu();
  writeNpy(opts.output, logp.to(torch::kFloat));
  double mean = logp.mean().item<double>();
  std::printf("log-likelihood of %lld points: mean %.6f nats (%.4f bits/dim), %s "
              "divergence, %s, %lld steps\nwrote %s\n",
              static_cast<long long>(x1.size(0)), mean,
              -mean / (std::log(2.0) * static_cast<double>(x1.size(1))),
              opts.hutchinson ? "Hutchinson" : "exact", solver->name,
              static_cast<long long>(opts.steps), opts.output.c_str());
  return 0;
}

Command flowrt::addLikelihoodCommand(CLI::App &app, const flowrt_program &program) {
  auto opts = std::make_shared<LikelihoodOptions>();
  LikelihoodOptions &o = *opts;
  o.solver = program.sample.solver ? program.sample.solver : "";
  o.steps = program.sample.steps > 0 ? program.sample.steps : 32;
  o.run.outDir = defaultOutDir(program);
  CLI::App *cmd = app.add_subcommand("likelihood", "log p(x) of points (-i FILE.npy -o "
                                                   "logp.npy)");
  cmd->add_option("-i,--input", o.input, "the points")->type_name("FILE.npy")->required();
  cmd->add_option("-o,--output", o.output, "their log-likelihoods")
      ->type_name("FILE.npy")
      ->required();
  cmd->add_flag("--hutchinson,!--exact", o.hutchinson,
                "divergence: Hutchinson's estimate, or exact (the default)");
  cmd->add_option("--solver", o.solver, "the tableau (a solver of the spec)")
      ->capture_default_str();
  cmd->add_option("--steps", o.steps, "fixed solver steps")
      ->type_name("N")
      ->capture_default_str()
      ->check(integerAtLeast(1));
  auto *label = cmd->add_option("--label", "conditional networks: the class, or 'none' (the "
                                           "default)")
                    ->type_name("K|none");
  addRunSettings(*cmd, o.run, DeviceOption | SeedOption, "seed of Hutchinson's probe");
  auto run = [&program, opts, label]() -> int {
    if (*label)
      opts->label = parseLabel("--label", label->as<std::string>(), velocityClasses(program),
                               /*balanced=*/false);
    if (program.num_solvers == 0)
      throw std::runtime_error("this program has no solvers: add a `sample` block");
    return runLikelihood(bindStages(program, opts->run.outDir), *opts);
  };
  return {cmd, run};
}
