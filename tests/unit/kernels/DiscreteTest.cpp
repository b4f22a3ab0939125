//===- DiscreteTest.cpp - Discrete flow matching's kernels vs its formulas --===//
//
// kernels.flow's flow `dfmk` draws, per sample, x1 = categorical(softmax(b))
// over 3 tokens of 4 classes, xt on the mixture path from uniform tokens at
// kappa = t^2, and one CTMC Euler step of size 0.1 from xt towards x1
// (std.discrete's dfm_jump), and computes the generalised KL loss of logits
// a (std.discrete's dfm_generalized_kl). dfmk_path draws t (and the uniform
// source); dfmk_loss(b, kappa, (1 - kappa) x0, jump, a, rate) -> (gkl, c1,
// ct, cn) draws the rest, each one-hot draw also returned as its code k0 +
// 4 k1 + 16 k2. Checked against Meta flow_matching's formulas, written here
// in LibTorch:
//   - the draws' frequencies against their probabilities (softmax(b); for
//     xt, P(xt = x1) = kappa + (1 - kappa) / 4; for the step, a token that
//     differs from x1 jumps to it with probability 1 - exp(-h kappa' / (1 -
//     kappa)), and one that equals it stays), each within 4 standard errors;
//   - MixturePathGeneralizedKL's loss on the drawn tokens, forward to 1e-5
//     and its gradient in the logits against autograd to 1e-5 (no gradient
//     passes through a draw: d/db is 0);
//   - draws are functions of (seed, counter): the same counter draws the
//     same, another counter draws anew.
//
//===----------------------------------------------------------------------===//
#include "KernelTestUtil.h"

#include <gtest/gtest.h>

// As flowc --emit=cpp kernels.flow declares them.
// clang-format off
extern "C" {
void dfmk_path(int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t);
void dfmk_loss(int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t);
void dfmk_loss_grad(int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t);
}
// clang-format on

using namespace flowc_test;

namespace {

const int64_t kRows = 20000;
const int64_t kTokens = 3, kClasses = 4;

/// One call of the path and loss kernels, with a and b the same logits in
/// every row (so that each row's draws share their probabilities).
struct Draws {
  torch::Tensor t, x1, xt, xn, gkl; // t, gkl [n]; tokens [n, 3] as class ids
  torch::Tensor a, b;               // [n, 3, 4]
};

/// The class ids [n, 3] of one-hot codes k0 + 4 k1 + 16 k2.
torch::Tensor decode(const torch::Tensor &code) {
  auto c = code.flatten().round().to(torch::kLong);
  return torch::stack({c % 4, c.floor_divide(4) % 4, c.floor_divide(16)}, 1);
}

Draws draw(int64_t seed, int64_t step, const torch::Tensor &a1, const torch::Tensor &b1) {
  const int64_t n = kRows, d = kTokens * kClasses;
  auto x0 = torch::empty({n, 2}), t = torch::empty({n, 1}), kappa = torch::empty({n, d}),
       source = torch::empty({n, d}), jump = torch::empty({n, d}), rate = torch::empty({n, 1});
  dfmk_path(n, seed, step, FLOWC_ROWS(buf(x0), n, 2), FLOWC_ROWS(buf(t), n, 1),
            FLOWC_ROWS(buf(kappa), n, 12), FLOWC_ROWS(buf(source), n, 12),
            FLOWC_ROWS(buf(jump), n, 12), FLOWC_ROWS(buf(rate), n, 1));
  auto a = a1.reshape({1, d}).expand({n, d}).contiguous();
  auto b = b1.reshape({1, d}).expand({n, d}).contiguous();
  auto gkl = torch::empty({n, 1}), c1 = torch::empty({n, 1}), ct = torch::empty({n, 1}),
       cn = torch::empty({n, 1});
  dfmk_loss(n, seed, step, FLOWC_ROWS(buf(b), n, 12), FLOWC_ROWS(buf(kappa), n, 12),
            FLOWC_ROWS(buf(source), n, 12), FLOWC_ROWS(buf(jump), n, 12),
            FLOWC_ROWS(buf(a), n, 12), FLOWC_ROWS(buf(rate), n, 1), FLOWC_ROWS(buf(gkl), n, 1),
            FLOWC_ROWS(buf(c1), n, 1), FLOWC_ROWS(buf(ct), n, 1), FLOWC_ROWS(buf(cn), n, 1));
  return {t.flatten(), decode(c1), decode(ct), decode(cn), gkl.flatten(),
          a.view({n, kTokens, kClasses}), b.view({n, kTokens, kClasses})};
}

/// flow_matching's MixturePathGeneralizedKL on class ids, summed over the
/// tokens, with kappa = t^2: -kappa'/(1 - kappa) (p(xt) - [xt = x1] + (1 -
/// [xt = x1]) log p(x1)).
torch::Tensor referenceGkl(const torch::Tensor &logits, const torch::Tensor &x1,
                           const torch::Tensor &xt, const torch::Tensor &t) {
  auto logP = torch::log_softmax(logits, -1);
  auto logP1 = logP.gather(-1, x1.unsqueeze(-1)).squeeze(-1);
  auto pT = logP.exp().gather(-1, xt.unsqueeze(-1)).squeeze(-1);
  auto same = (xt == x1).to(torch::kFloat);
  auto kappa = t * t, dkappa = 2 * t;
  auto jumpCoefficient = (dkappa / (1 - kappa).clamp_min(1e-4)).unsqueeze(1);
  return (-jumpCoefficient * (pT - same + (1 - same) * logP1)).sum(1);
}

/// |mean(hit - p)| in standard errors of the hits.
double standardErrors(const torch::Tensor &hit, const torch::Tensor &p) {
  auto h = hit.to(torch::kDouble), q = p.to(torch::kDouble);
  double se = std::sqrt((q * (1 - q)).sum().item<double>()) / double(h.numel());
  return std::abs((h - q).mean().item<double>()) / std::max(se, 1e-12);
}

torch::Tensor logitsA() { return torch::tensor({{0.5, -1.0, 2.0, 0.0}, {1.5, 0.3, -0.7, 0.2}, {-2.0, 0.1, 0.4, 1.1}}); }
torch::Tensor logitsB() { return torch::tensor({{1.0, 0.0, -1.0, 0.5}, {-0.5, 2.0, 0.0, 0.0}, {0.3, 0.3, 0.3, -3.0}}); }

} // namespace

TEST(Discrete, CategoricalDrawsFollowTheirWeights) {
  Draws d = draw(7, 3, logitsA(), logitsB());
  auto p = torch::softmax(logitsB(), -1); // [3, 4]
  double worst = 0;
  for (int64_t k = 0; k < kTokens; ++k)
    for (int64_t c = 0; c < kClasses; ++c) {
      auto hit = d.x1.select(1, k) == c;
      worst = std::max(worst, standardErrors(hit, torch::full({kRows}, p[k][c].item<float>())));
    }
  measured("categorical(softmax(b)) frequencies, worst |error| in standard errors", worst);
  EXPECT_LE(worst, 4.0);
  // A class of weight 0.0087 (token 2, class 3) is drawn, but rarely.
  EXPECT_GT((d.x1.select(1, 2) == 3).sum().item<int64_t>(), 0);
}

TEST(Discrete, MixturePathKeepsTheDataWithProbabilityKappa) {
  Draws d = draw(11, 5, logitsA(), logitsB());
  auto kappa = (d.t * d.t).unsqueeze(1).expand({kRows, kTokens});
  // The source is uniform: it equals x1 a quarter of the time too.
  double err = standardErrors(d.xt == d.x1, kappa + (1 - kappa) / kClasses);
  measured("P(xt = x1) = kappa + (1 - kappa) / 4, |error| in standard errors", err);
  EXPECT_LE(err, 4.0);
  // Where the path left the source (t near 0), xt is uniform.
  auto early = d.t < 0.1;
  auto firstClass = (d.xt.index({early}).select(1, 0) == 0);
  double uniform = standardErrors(firstClass, torch::full({firstClass.size(0)}, 0.25 + 0.0));
  measured("xt near t = 0 is uniform (class 0 of token 0), |error| in SE", uniform);
  EXPECT_LE(uniform, 4.5); // kappa < 0.01 there: within 4 SE of 1/4 plus that
}

TEST(Discrete, EulerStepJumpsAtThePosteriorRate) {
  Draws d = draw(13, 2, logitsA(), logitsB());
  // Tokens equal to x1 stay; the others jump to x1 or stay where they are.
  auto same = d.xt == d.x1;
  EXPECT_TRUE(torch::equal(d.xn.index({same}), d.xt.index({same})));
  EXPECT_TRUE(((d.xn == d.xt) | (d.xn == d.x1)).all().item<bool>());
  auto t = d.t.unsqueeze(1).expand({kRows, kTokens});
  double h = 0.1;
  auto q = torch::where(t + h > 0.9999, torch::ones_like(t),
                        1 - torch::exp(-h * 2 * t / (1 - t * t).clamp_min(1e-6)));
  auto differ = ~same;
  double err = standardErrors((d.xn == d.x1).index({differ}), q.index({differ}));
  measured("P(jump) = 1 - exp(-h kappa' / (1 - kappa)), |error| in standard errors", err);
  EXPECT_LE(err, 4.0);
  // The last step (t + h reaching 1) takes every token to x1.
  auto last = (d.t + h > 0.9999).unsqueeze(1).expand({kRows, kTokens});
  EXPECT_TRUE(torch::equal(d.xn.index({last}), d.x1.index({last})));
  EXPECT_GT(last.sum().item<int64_t>(), 0);
}

TEST(Discrete, GeneralizedKlMatchesFlowMatching) {
  Draws d = draw(17, 9, logitsA(), logitsB());
  auto want = referenceGkl(d.a, d.x1, d.xt, d.t);
  double err = maxMixedError(d.gkl, want);
  measured("dfm_generalized_kl vs MixturePathGeneralizedKL, forward", err);
  EXPECT_LE(err, 1e-5);
  // Backward: d/da against autograd with the draws held; d/db is 0.
  const int64_t n = kRows, dd = kTokens * kClasses;
  auto g = torch::randn({n, 1});
  auto ar = d.a.clone().requires_grad_(true);
  (referenceGkl(ar, d.x1, d.xt, d.t) * g.flatten()).sum().backward();
  auto path = [&](int64_t seed, int64_t step) {
    auto x0 = torch::empty({n, 2}), t = torch::empty({n, 1}), kappa = torch::empty({n, dd}),
         source = torch::empty({n, dd}), jump = torch::empty({n, dd}),
         rate = torch::empty({n, 1});
    dfmk_path(n, seed, step, FLOWC_ROWS(buf(x0), n, 2), FLOWC_ROWS(buf(t), n, 1),
              FLOWC_ROWS(buf(kappa), n, 12), FLOWC_ROWS(buf(source), n, 12),
              FLOWC_ROWS(buf(jump), n, 12), FLOWC_ROWS(buf(rate), n, 1));
    return std::array<torch::Tensor, 4>{kappa, source, jump, rate};
  };
  auto [kappa, source, jump, rate] = path(17, 9);
  auto a = d.a.reshape({n, dd}).contiguous(), b = d.b.reshape({n, dd}).contiguous();
  auto zero = torch::zeros({n, 1});
  auto db = torch::empty({n, dd}), da = torch::empty({n, dd});
  dfmk_loss_grad(n, 17, 9, FLOWC_ROWS(buf(b), n, 12), FLOWC_ROWS(buf(kappa), n, 12),
                 FLOWC_ROWS(buf(source), n, 12), FLOWC_ROWS(buf(jump), n, 12),
                 FLOWC_ROWS(buf(a), n, 12), FLOWC_ROWS(buf(rate), n, 1),
                 FLOWC_ROWS(buf(g), n, 1), FLOWC_ROWS(buf(zero), n, 1),
                 FLOWC_ROWS(buf(zero), n, 1), FLOWC_ROWS(buf(zero), n, 1),
                 FLOWC_ROWS(buf(db), n, 12), FLOWC_ROWS(buf(da), n, 12));
  double errA = maxMixedError(da, ar.grad().reshape({n, dd}));
  measured("dfm_generalized_kl vjp vs autograd, d/da", errA);
  EXPECT_LE(errA, 1e-5);
  EXPECT_EQ(db.abs().max().item<float>(), 0.0f);
  EXPECT_GT(da.abs().max().item<float>(), 0.1f); // the gradient is not zero
}

TEST(Discrete, DrawsAreFunctionsOfTheCounter) {
  Draws first = draw(23, 4, logitsA(), logitsB()), again = draw(23, 4, logitsA(), logitsB());
  EXPECT_TRUE(torch::equal(first.x1, again.x1));
  EXPECT_TRUE(torch::equal(first.xn, again.xn));
  Draws next = draw(23, 5, logitsA(), logitsB());
  double agree = (first.x1 == next.x1).to(torch::kDouble).mean().item<double>();
  // Independent draws of softmax(b) agree with probability sum_c p_c^2.
  double expected = torch::softmax(logitsB(), -1).pow(2).sum(-1).mean().item<double>();
  measured("agreement of two counters' x1 draws (independent: sum p^2)", agree);
  EXPECT_NEAR(agree, expected, 0.02);
}
