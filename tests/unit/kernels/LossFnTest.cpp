//===- LossFnTest.cpp - std.losses' kernels vs LibTorch -------------------===//
//
// kernels.flow's flow `lossfns` computes std.losses' cross_entropy,
// cosine_distance and kl_normal of two network outputs a and b in one region
// kernel, lossfns_loss(b, a) -> (ce, cos, kl) (arguments in order of first
// use: softmax(b) is evaluated before a's log-softmax), and the compiler
// derives its vjp, lossfns_loss_grad(b, a, dce, dcos, dkl) -> (db, da). Both are checked
// against the same losses written in LibTorch (torch's own cross_entropy and
// cosine_similarity where they exist), forward to 1e-5 and backward, with
// random adjoints for the three losses, against autograd to 1e-5 (mixed
// absolute/relative).
//
//===----------------------------------------------------------------------===//
#include "KernelTestUtil.h"

#include <gtest/gtest.h>

// As flowc --emit=cpp kernels.flow declares them.
// clang-format off
extern "C" {
void lossfns_loss(int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t);
void lossfns_loss_grad(int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t);
}
// clang-format on

using namespace flowc_test;

namespace {

const int64_t kRows = 1024;

/// The three losses of (a, b) per sample, [n, 3], in LibTorch.
torch::Tensor torchLosses(const torch::Tensor &a, const torch::Tensor &b) {
  namespace F = torch::nn::functional;
  auto ce = F::cross_entropy(a, torch::softmax(b, 1),
                             F::CrossEntropyFuncOptions().reduction(torch::kNone));
  auto cos = 1 - F::cosine_similarity(a, b, F::CosineSimilarityFuncOptions().dim(1));
  auto m1 = a, lv1 = b, m2 = 0.5 * b, lv2 = 0.3 * a;
  auto kl = 0.5 * (lv2 - lv1 + (lv1.exp() + (m1 - m2).pow(2)) / lv2.exp() - 1).sum(1);
  return torch::stack({ce, cos, kl}, 1);
}

torch::Tensor kernelLosses(const torch::Tensor &a, const torch::Tensor &b) {
  auto ce = torch::empty({kRows, 1}), cos = torch::empty({kRows, 1}),
       kl = torch::empty({kRows, 1});
  lossfns_loss(kRows, 0, 0, FLOWC_ROWS(buf(b), kRows, 2), FLOWC_ROWS(buf(a), kRows, 2),
               FLOWC_ROWS(buf(ce), kRows, 1), FLOWC_ROWS(buf(cos), kRows, 1),
               FLOWC_ROWS(buf(kl), kRows, 1));
  return torch::cat({ce, cos, kl}, 1);
}

} // namespace

TEST(LossFns, ForwardMatchesTorch) {
  torch::manual_seed(4);
  auto a = torch::randn({kRows, 2}) * 2, b = torch::randn({kRows, 2});
  double err = maxMixedError(kernelLosses(a, b), torchLosses(a, b));
  measured("std.losses forward vs torch (ce, cosine, kl)", err);
  EXPECT_LE(err, 1e-5);
}

TEST(LossFns, VjpMatchesAutograd) {
  torch::manual_seed(5);
  auto a = torch::randn({kRows, 2}) * 2, b = torch::randn({kRows, 2});
  auto g = torch::randn({kRows, 3}); // an adjoint per loss and sample
  auto ar = a.clone().requires_grad_(true), br = b.clone().requires_grad_(true);
  (torchLosses(ar, br) * g).sum().backward();
  auto dce = g.select(1, 0).contiguous(), dcos = g.select(1, 1).contiguous(),
       dkl = g.select(1, 2).contiguous();
  auto da = torch::empty({kRows, 2}), db = torch::empty({kRows, 2});
  lossfns_loss_grad(kRows, 0, 0, FLOWC_ROWS(buf(b), kRows, 2), FLOWC_ROWS(buf(a), kRows, 2),
                    FLOWC_ROWS(buf(dce), kRows, 1), FLOWC_ROWS(buf(dcos), kRows, 1),
                    FLOWC_ROWS(buf(dkl), kRows, 1), FLOWC_ROWS(buf(db), kRows, 2),
                    FLOWC_ROWS(buf(da), kRows, 2));
  double errA = maxMixedError(da, ar.grad()), errB = maxMixedError(db, br.grad());
  measured("std.losses vjp vs autograd, d/da", errA);
  measured("std.losses vjp vs autograd, d/db", errB);
  EXPECT_LE(errA, 1e-5);
  EXPECT_LE(errB, 1e-5);
  // The adjoints must matter: the same vjp with the cosine's adjoint
  // dropped gives another gradient.
  auto zero = torch::zeros({kRows, 1});
  auto da0 = torch::empty({kRows, 2}), db0 = torch::empty({kRows, 2});
  lossfns_loss_grad(kRows, 0, 0, FLOWC_ROWS(buf(b), kRows, 2), FLOWC_ROWS(buf(a), kRows, 2),
                    FLOWC_ROWS(buf(dce), kRows, 1), FLOWC_ROWS(buf(zero), kRows, 1),
                    FLOWC_ROWS(buf(dkl), kRows, 1), FLOWC_ROWS(buf(db0), kRows, 2),
                    FLOWC_ROWS(buf(da0), kRows, 2));
  EXPECT_GT(maxMixedError(da0, ar.grad()), 1e-2);
}

// Token-wise: kernels.flow's flow `tokens`, logits a [3, 4] per sample and
// the target softmax(b, axis: 0): ce (classes the last axis) and ce0
// (classes along axis 0), tokens_loss(b, a) -> (ce, ce0) and its vjp.
extern "C" {
// clang-format off
void tokens_loss(int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t);
void tokens_loss_grad(int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t);
// clang-format on
}

namespace {
/// Per sample, in double: the cross-entropies against softmax(b) along the
/// positions (axis 0 of [3, 4]), with the classes along axis `classes` of
/// each sample ([n, 3, 4]: 2 the last, 1 the first), summed.
torch::Tensor tokenCrossEntropy(const torch::Tensor &a, const torch::Tensor &b, int64_t classes) {
  torch::Tensor target = torch::softmax(b.reshape({-1, 3, 4}), 1);
  return -(target * torch::log_softmax(a.reshape({-1, 3, 4}), classes)).sum({1, 2});
}
} // namespace

TEST(LossFns, TokenwiseCrossEntropyAlongEitherAxisMatchesAutograd) {
  torch::manual_seed(6);
  auto a = torch::randn({kRows, 12}) * 3, b = torch::randn({kRows, 12});
  auto ce = torch::empty({kRows, 1}), ce0 = torch::empty({kRows, 1});
  tokens_loss(kRows, 0, 0, FLOWC_ROWS(buf(b), kRows, 12), FLOWC_ROWS(buf(a), kRows, 12),
              FLOWC_ROWS(buf(ce), kRows, 1), FLOWC_ROWS(buf(ce0), kRows, 1));
  auto ad = d(a).requires_grad_(true), bd = d(b).requires_grad_(true);
  torch::Tensor ref = tokenCrossEntropy(ad, bd, 2), ref0 = tokenCrossEntropy(ad, bd, 1);
  double err = maxMixedError(ce.reshape({-1}), ref.detach());
  double err0 = maxMixedError(ce0.reshape({-1}), ref0.detach());
  measured("token-wise cross-entropy vs torch, classes last", err);
  measured("token-wise cross-entropy vs torch, classes along axis 0", err0);
  EXPECT_LE(err, 1e-5);
  EXPECT_LE(err0, 1e-5);
  // Baselines that must fail: softmax over the whole [3, 4], and the
  // other axis.
  torch::Tensor whole = -(torch::softmax(d(b), 1) * torch::log_softmax(d(a), 1)).sum(1);
  EXPECT_GT(maxMixedError(ce.reshape({-1}), whole), 1e-2);
  EXPECT_GT(maxMixedError(ce.reshape({-1}), ref0.detach()), 1e-2);

  auto g = torch::randn({kRows, 2});
  (ref * d(g).select(1, 0) + ref0 * d(g).select(1, 1)).sum().backward();
  auto g0 = g.select(1, 0).contiguous(), g1 = g.select(1, 1).contiguous();
  auto da = torch::empty({kRows, 12}), db = torch::empty({kRows, 12});
  tokens_loss_grad(kRows, 0, 0, FLOWC_ROWS(buf(b), kRows, 12), FLOWC_ROWS(buf(a), kRows, 12),
                   FLOWC_ROWS(buf(g0), kRows, 1), FLOWC_ROWS(buf(g1), kRows, 1),
                   FLOWC_ROWS(buf(db), kRows, 12), FLOWC_ROWS(buf(da), kRows, 12));
  double errA = maxMixedError(da, ad.grad()), errB = maxMixedError(db, bd.grad());
  measured("token-wise cross-entropy vjp, d/da", errA);
  measured("token-wise cross-entropy vjp, d/db", errB);
  EXPECT_LE(errA, 1e-5);
  EXPECT_LE(errB, 1e-5);
}

// round and floor: kernels.flow's flow `quant`, the straight-through
// rounding st = sum((a + sg(round(3a)/3 - a))^2) and fl = sum(floor(2a) a),
// against the same in LibTorch (torch::round rounds half to even, as
// flowc's round does), forward and their vjp against autograd (with
// detach for sg): d st/da = 2 round(3a)/3, d fl/da = floor(2a).
extern "C" {
// clang-format off
void quant_loss(int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t);
void quant_loss_grad(int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t);
// clang-format on
}

TEST(LossFns, RoundAndFloorWithStraightThroughMatchAutograd) {
  torch::manual_seed(6);
  // And rows at the rounding points, 3a = k + 1/2 (ties go to even).
  auto a = torch::cat({torch::randn({kRows - 4, 2}) * 2,
                       torch::tensor({0.5f, 1.5f, -0.5f, 2.5f, -1.5f, 3.5f, 0.25f, -0.25f})
                               .reshape({4, 2}) / 3});
  auto torchLoss = [](const torch::Tensor &x) {
    auto st = (x + (torch::round(3 * x) / 3 - x).detach()).pow(2).sum(1);
    auto fl = (torch::floor(2 * x) * x).sum(1);
    return torch::stack({st, fl}, 1);
  };
  auto st = torch::empty({kRows, 1}), fl = torch::empty({kRows, 1});
  quant_loss(kRows, 0, 0, FLOWC_ROWS(buf(a), kRows, 2), FLOWC_ROWS(buf(st), kRows, 1),
             FLOWC_ROWS(buf(fl), kRows, 1));
  double fwd = maxMixedError(torch::cat({st, fl}, 1), torchLoss(a));
  measured("round/floor forward vs torch", fwd);
  EXPECT_LE(fwd, 1e-5);

  auto g = torch::randn({kRows, 2});
  auto ar = a.clone().requires_grad_(true);
  (torchLoss(ar) * g).sum().backward();
  auto dst = g.select(1, 0).contiguous(), dfl = g.select(1, 1).contiguous();
  auto da = torch::empty({kRows, 2});
  quant_loss_grad(kRows, 0, 0, FLOWC_ROWS(buf(a), kRows, 2), FLOWC_ROWS(buf(dst), kRows, 1),
                  FLOWC_ROWS(buf(dfl), kRows, 1), FLOWC_ROWS(buf(da), kRows, 2));
  double back = maxMixedError(da, ar.grad());
  measured("round/floor vjp vs autograd (straight-through)", back);
  EXPECT_LE(back, 1e-5);
  // Baselines that must fail: the gradient of the loss without rounding
  // (2a where the straight-through gives 2 round(3a)/3), and its value.
  auto plain = (2 * a * dst.unsqueeze(1) + torch::floor(2 * a) * dfl.unsqueeze(1));
  EXPECT_GT(maxMixedError(da, plain), 1e-2);
  EXPECT_GT(maxMixedError(st.reshape({-1}), a.pow(2).sum(1)), 1e-2);
}

// std.quantizers' FSQ: kernels.flow's flow `fsqf` (levels [8, 5, 5, 5]),
// fsqf_loss(a) -> (sum(q^2), index(q), |code(index(q)) - q|^2), against FSQ
// written in LibTorch as vector-quantize-pytorch computes it; the index <->
// code round trip over the whole codebook (1000 codes, each reached from an
// a built to land on it); the straight-through gradient against autograd.
extern "C" {
// clang-format off
void fsqf_loss(int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t);
void fsqf_loss_grad(int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t);
// clang-format on
}

namespace {
const torch::Tensor &fsqLevels() {
  static const torch::Tensor levels = torch::tensor({8.f, 5.f, 5.f, 5.f}).reshape({1, 4});
  return levels;
}

/// FSQ in LibTorch (vector-quantize-pytorch's bound, round_ste, and
/// division by the half width), the codes q [n, 4].
torch::Tensor torchFsq(const torch::Tensor &z) {
  const torch::Tensor &L = fsqLevels();
  double eps = 1e-3;
  torch::Tensor h = (L - 1) * (1 + eps) / 2;
  torch::Tensor offset = torch::where(torch::remainder(L, 2) == 0, 0.5, 0.0);
  torch::Tensor shift = torch::atanh(offset / h);
  torch::Tensor b = torch::tanh(z + shift) * h - offset;
  torch::Tensor rounded = b + (torch::round(b) - b).detach();
  return rounded / torch::floor(L / 2);
}

/// index = sum_i (q_i half_i + half_i) basis_i.
torch::Tensor torchFsqIndex(const torch::Tensor &q) {
  torch::Tensor half = torch::floor(fsqLevels() / 2);
  torch::Tensor basis = torch::tensor({1.f, 8.f, 40.f, 200.f}).reshape({1, 4});
  return ((torch::round(q * half) + half) * basis).sum(1);
}

torch::Tensor kernelFsq(const torch::Tensor &a) {
  int64_t n = a.size(0);
  auto c = torch::empty({n, 1}), idx = torch::empty({n, 1}), back = torch::empty({n, 1});
  fsqf_loss(n, 0, 0, FLOWC_ROWS(buf(a), n, 4), FLOWC_ROWS(buf(c), n, 1),
            FLOWC_ROWS(buf(idx), n, 1), FLOWC_ROWS(buf(back), n, 1));
  return torch::cat({c, idx, back}, 1);
}
} // namespace

TEST(Quantizers, FsqMatchesTorchAndRoundTripsTheWholeCodebook) {
  torch::manual_seed(7);
  auto a = torch::randn({kRows, 4}) * 2;
  torch::Tensor q = torchFsq(a);
  torch::Tensor got = kernelFsq(a);
  double value = maxMixedError(got.select(1, 0), q.pow(2).sum(1));
  double index = maxMixedError(got.select(1, 1), torchFsqIndex(q));
  measured("FSQ sum(q^2) vs torch", value);
  measured("FSQ index vs torch", index);
  EXPECT_LE(value, 1e-5);
  EXPECT_EQ(0.0, index);
  EXPECT_EQ(0.0, got.select(1, 2).abs().max().item<double>()); // code(index(q)) = q

  // Every code: digits d_i of k in bases [8, 5, 5, 5], the level value
  // v = d - half (- offset for even L, whose levels sit between integers
  // before the shift), and a = atanh((v + offset) / h) - shift lands on it.
  const int64_t codes = 8 * 5 * 5 * 5;
  torch::Tensor k = torch::arange(codes, torch::kFloat).reshape({codes, 1});
  torch::Tensor basis = torch::tensor({1.f, 8.f, 40.f, 200.f}).reshape({1, 4});
  const torch::Tensor &L = fsqLevels();
  torch::Tensor digits = torch::remainder(torch::floor(k / basis), L);
  torch::Tensor half = torch::floor(L / 2);
  torch::Tensor h = (L - 1) * (1 + 1e-3) / 2;
  torch::Tensor offset = torch::where(torch::remainder(L, 2) == 0, 0.5, 0.0);
  torch::Tensor target = digits - half; // round(bound) at the code
  torch::Tensor every = torch::atanh((target + offset) / h) - torch::atanh(offset / h);
  torch::Tensor all = kernelFsq(every.contiguous());
  double roundTrip = (all.select(1, 1) - k.reshape({-1})).abs().max().item<double>();
  measured("FSQ index of every code vs its number (1000 codes)", roundTrip);
  EXPECT_EQ(0.0, roundTrip);
  EXPECT_EQ(0.0, all.select(1, 2).abs().max().item<double>());
  EXPECT_EQ(codes, std::get<0>(at::_unique(all.select(1, 1))).numel());
}

TEST(Quantizers, FsqStraightThroughGradientMatchesAutograd) {
  torch::manual_seed(8);
  auto a = torch::randn({kRows, 4}) * 2;
  auto g = torch::randn({kRows, 1});
  auto ar = a.clone().requires_grad_(true);
  (torchFsq(ar).pow(2).sum(1, true) * g).sum().backward();
  auto zero = torch::zeros({kRows, 1}), da = torch::empty({kRows, 4});
  fsqf_loss_grad(kRows, 0, 0, FLOWC_ROWS(buf(a), kRows, 4), FLOWC_ROWS(buf(g), kRows, 1),
                 FLOWC_ROWS(buf(zero), kRows, 1), FLOWC_ROWS(buf(zero), kRows, 1),
                 FLOWC_ROWS(buf(da), kRows, 4));
  double err = maxMixedError(da, ar.grad());
  measured("FSQ straight-through vjp vs autograd", err);
  EXPECT_LE(err, 1e-5);
  // Baseline that must fail: rounding without the straight-through has
  // no gradient at all.
  EXPECT_GT(ar.grad().abs().max().item<double>(), 1e-2);
}

// The rest of std.quantizers: kernels.flow's flow `lfqf`, each fn on a
// network output a [2, 1, 4] against the same formula in LibTorch (as
// vector-quantize-pytorch's LFQ computes its codes, commitment and code
// distribution; Kingma and Welling's reparameterisation and KL), forward
// and the vjp of all six against autograd. The entropy's inverse
// temperature is 2 here (100 saturates the softmax of random a).
extern "C" {
// clang-format off
void lfqf_loss(int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t);
void lfqf_loss_grad(int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t);
// clang-format on
}

namespace {
/// The six losses of flow `lfqf` for rows a [n, 8] (each [2, 1, 4]): [n, 6].
torch::Tensor torchQuantizerLosses(const torch::Tensor &flat) {
  int64_t n = flat.size(0);
  torch::Tensor a = flat.reshape({n, 2, 1, 4});
  torch::Tensor sign = torch::where(a > 0, 1.0, -1.0);
  torch::Tensor q = a + (sign - a).detach();
  torch::Tensor w = torch::tensor({1.f, -2.f, 3.f, 0.5f, -1.f, 2.f, 0.25f, 4.f}).reshape({2, 1, 4});
  torch::Tensor st = (q * w).sum({1, 2, 3});
  torch::Tensor commit = (a - sign.detach()).pow(2).mean({1, 2, 3});
  // Code j's bit i = floor(j / 2^i) mod 2, as -1 or 1: [16, 4].
  torch::Tensor j = torch::arange(16).reshape({16, 1}), bit = torch::arange(4).reshape({1, 4});
  torch::Tensor codes = torch::where(torch::floor_divide(j, torch::pow(2, bit)) % 2 == 1, 1.0, -1.0)
                            .to(torch::kFloat);
  torch::Tensor p = torch::softmax(2 * 2 * (a * codes).sum(-1), -1); // [n, 2, 16]
  torch::Tensor ent = (-(p * torch::log(torch::clamp_min(p, 1e-8))).sum(-1)).mean(1);
  torch::Tensor keep = torch::tensor({1.f, 0.f}).reshape({2, 1, 1}); // k = 1: token 0
  torch::Tensor nd = (a * keep).pow(2).sum({1, 2, 3});
  torch::Tensor mu = a.select(1, 0), lv = a.select(1, 1); // [n, 1, 4]
  torch::Tensor kl = -0.5 * (1 + lv - mu.pow(2) - torch::exp(lv)).sum({1, 2});
  torch::Tensor eps = torch::tensor({0.5f, -1.f, 0.25f, 2.f}).reshape({1, 4});
  torch::Tensor rp = (mu + torch::exp(0.5 * lv) * eps).pow(2).sum({1, 2});
  return torch::stack({st, commit, ent, nd, kl, rp}, 1);
}
} // namespace

TEST(Quantizers, LookupFreeDropoutAndGaussianMatchAutograd) {
  torch::manual_seed(9);
  auto a = torch::randn({kRows, 8});
  std::vector<torch::Tensor> outs;
  for (int i = 0; i < 6; ++i)
    outs.push_back(torch::empty({kRows, 1}));
  lfqf_loss(kRows, 0, 0, FLOWC_ROWS(buf(a), kRows, 8), FLOWC_ROWS(buf(outs[0]), kRows, 1),
            FLOWC_ROWS(buf(outs[1]), kRows, 1), FLOWC_ROWS(buf(outs[2]), kRows, 1),
            FLOWC_ROWS(buf(outs[3]), kRows, 1), FLOWC_ROWS(buf(outs[4]), kRows, 1),
            FLOWC_ROWS(buf(outs[5]), kRows, 1));
  torch::Tensor want = torchQuantizerLosses(a);
  double fwd = maxMixedError(torch::cat(outs, 1), want);
  measured("lfq, commitment, entropy, nested dropout, KL, reparam forward vs torch", fwd);
  EXPECT_LE(fwd, 1e-5);

  auto g = torch::randn({kRows, 6});
  auto ar = a.clone().requires_grad_(true);
  (torchQuantizerLosses(ar) * g).sum().backward();
  std::vector<torch::Tensor> dg;
  for (int i = 0; i < 6; ++i)
    dg.push_back(g.select(1, i).contiguous());
  auto da = torch::empty({kRows, 8});
  lfqf_loss_grad(kRows, 0, 0, FLOWC_ROWS(buf(a), kRows, 8), FLOWC_ROWS(buf(dg[0]), kRows, 1),
                 FLOWC_ROWS(buf(dg[1]), kRows, 1), FLOWC_ROWS(buf(dg[2]), kRows, 1),
                 FLOWC_ROWS(buf(dg[3]), kRows, 1), FLOWC_ROWS(buf(dg[4]), kRows, 1),
                 FLOWC_ROWS(buf(dg[5]), kRows, 1), FLOWC_ROWS(buf(da), kRows, 8));
  double back = maxMixedError(da, ar.grad());
  measured("their vjp vs autograd (straight-through, entropy through softmax)", back);
  EXPECT_LE(back, 1e-5);
  // Baselines that must fail: the sign without the straight-through has
  // no gradient, so the st term's would be missing; and the codes are not a.
  auto noStraightThrough = ar.grad() - g.select(1, 0).unsqueeze(1) *
                                           torch::tensor({1.f, -2.f, 3.f, 0.5f, -1.f, 2.f, 0.25f, 4.f});
  EXPECT_GT(maxMixedError(da, noStraightThrough), 1e-2);
  EXPECT_GT(maxMixedError(outs[0].reshape({-1}), (a * torch::tensor({1.f, -2.f, 3.f, 0.5f, -1.f, 2.f, 0.25f, 4.f})).sum(1)), 1e-2);
}
