//===- NetworkTest.cpp - Fourier time embedding, MLP and EMA --------------===//
//
// The time embedding against its closed form, the MLP's shapes, layer sizes
// and that gradients reach every parameter, option checking, and the EMA
// update and its warm-up decay.
//
//===----------------------------------------------------------------------===//

#include "Context.h"
#include "Network.h"
#include "TestProgram.h"

#include <ATen/autocast_mode.h>
#include <gtest/gtest.h>

#include <cmath>

using namespace flowrt;

namespace {
/// A context whose network 0, and velocity network, is `net`: the program
/// is the test program with a network of `classes` classes.
struct OneNetwork {
  flowrt_program program = flowrt_test::makeTestProgram();
  flowrt_ctx ctx;
  OneNetwork(NetworkImpl &net, int64_t classes) {
    flowrt_test::modelOf(program).classes = classes;
    ctx.program = &program;
    ctx.nets = {&net};
    ctx.net = &net;
  }
  /// flowrt_apply(ctx, 0, {x, t[, y]}).
  flowrt_tensor *apply(flowrt_tensor *x, flowrt_tensor *t, flowrt_tensor *y = nullptr) {
    flowrt_tensor *args[] = {x, t, y};
    return flowrt_apply(&ctx, 0, args);
  }
};
} // namespace

TEST(Fourier, MatchesClosedForm) {
  const double pi = std::acos(-1.0);
  torch::Tensor t = torch::tensor({{0.0f}, {0.125f}, {0.3f}, {1.0f}});
  torch::Tensor e = fourierEmbedding(t, 6);
  ASSERT_EQ((std::vector<int64_t>{4, 6}), e.sizes().vec());
  EXPECT_EQ((std::vector<double>{0.5, 1.5, 2.5}), fourierFrequencies(6));
  for (int64_t i = 0; i < 4; ++i) {
    double ti = t[i][0].item<double>();
    for (int64_t k = 0; k < 3; ++k) {
      double f = k + 0.5;
      EXPECT_NEAR(std::sin(2 * pi * f * ti), e[i][k].item<double>(), 1e-6);
      EXPECT_NEAR(std::cos(2 * pi * f * ti), e[i][3 + k].item<double>(), 1e-6);
    }
  }
  // t = 0 and t = 1 are apart (integer frequencies would alias them).
  EXPECT_GT((e[0] - e[3]).abs().max().item<double>(), 1.9);
}

TEST(Mlp, ShapesAndGradientsReachEveryParameter) {
  MlpOptions opts;
  opts.inDim = 3;
  opts.width = 16;
  opts.depth = 3;
  opts.activation = "gelu";
  opts.timeFeatures = 8;
  Mlp net(opts);
  // 3 hidden layers and the output layer: 4 weights, 4 biases.
  ASSERT_EQ(8u, net->parameters().size());
  EXPECT_EQ((std::vector<int64_t>{16, 3 + 8}),
            net->parameters()[0].sizes().vec());
  torch::Tensor x = torch::randn({5, 3});
  torch::Tensor t = torch::rand({5, 1});
  torch::Tensor v = net->forward(x, t);
  ASSERT_EQ((std::vector<int64_t>{5, 3}), v.sizes().vec());
  v.pow(2).sum().backward();
  for (const auto &p : net->named_parameters()) {
    ASSERT_TRUE(p.value().grad().defined()) << p.key();
    EXPECT_GT(p.value().grad().abs().sum().item<double>(), 0.0) << p.key();
  }
}

// A conditional MLP embeds labels 0..K-1 and the null class (-1) as K + 1
// rows; each label changes the output, and -1 uses the last row.
TEST(Mlp, ClassLabelsSelectAnEmbeddingRow) {
  MlpOptions opts;
  opts.classes = 3;
  opts.timeFeatures = 4;
  Mlp net(opts);
  torch::Tensor emb = net->named_parameters()["class_embedding.weight"];
  ASSERT_EQ((std::vector<int64_t>{4, ClassEmbeddingDim}), emb.sizes().vec());
  torch::Tensor x = torch::randn({4, 2}).repeat({2, 1});
  torch::Tensor t = torch::rand({4, 1}).repeat({2, 1});
  torch::Tensor y = torch::tensor({0.f, 1.f, 2.f, -1.f, 0.f, 1.f, 2.f, 3.f})
                        .reshape({8, 1});
  torch::Tensor v = net->forward(x, t, y);
  // -1 and 3 (out of range) both mean the null class: rows 3 and 7 agree.
  EXPECT_TRUE(torch::allclose(v[3], v[7]));
  EXPECT_TRUE(torch::allclose(v[0], v[4]));
  EXPECT_GT((v[0] - net->forward(x.slice(0, 0, 1), t.slice(0, 0, 1),
                                 torch::full({1, 1}, 1.f))[0])
                .abs()
                .max()
                .item<double>(),
            0.0);
  // Gradients reach exactly the rows that were used.
  net->forward(x.slice(0, 0, 2), t.slice(0, 0, 2), y.slice(0, 0, 2))
      .sum()
      .backward();
  torch::Tensor rowUsed = emb.grad().abs().sum(1) > 0;
  EXPECT_TRUE(torch::equal(rowUsed, torch::tensor({true, true, false, false})));
  EXPECT_THROW(net->forward(x, t), std::invalid_argument);
}

TEST(Mlp, RawTimeInputWhenNoFeatures) {
  MlpOptions opts;
  opts.timeFeatures = 0;
  opts.activation = "relu";
  Mlp net(opts);
  EXPECT_EQ(opts.inDim + 1, net->parameters()[0].size(1));
}

TEST(Mlp, OptionsFromDescAreChecked) {
  flowrt_model_desc desc{"v", "mlp", 2, 2, 0, nullptr, nullptr, 64, 3, "silu", 16, 0};
  EXPECT_EQ(16, MlpOptions::fromDesc(desc).timeFeatures);
  desc.time_features = 7;
  EXPECT_THROW(MlpOptions::fromDesc(desc), std::invalid_argument);
  desc.time_features = 16;
  desc.activation = "swish";
  EXPECT_THROW(MlpOptions::fromDesc(desc), std::invalid_argument);
  desc.activation = "tanh";
  desc.kind = "transformer";
  EXPECT_THROW(MlpOptions::fromDesc(desc), std::invalid_argument);
}

TEST(Ema, WarmUp) {
  EXPECT_DOUBLE_EQ(0.1, emaDecayAt(0.999, 0));
  EXPECT_DOUBLE_EQ(0.999, emaDecayAt(0.999, 100000));
}

// The generated optimizer updates every parameter through one flat buffer:
// parameters must be views of it (same values, shared storage) and backward
// must accumulate into the flat gradient buffer, equal to autograd's own.
TEST(FlatParameters, ViewsShareStorageAndGradients) {
  torch::manual_seed(3);
  MlpOptions opts;
  opts.width = 16;
  opts.depth = 2;
  opts.timeFeatures = 4;
  Mlp model(opts);
  Mlp reference = cloneMlp(model);
  for (auto &p : reference->parameters())
    p.set_requires_grad(true);
  torch::Tensor flat = flattenParameters(*model);
  torch::Tensor grads = flatGradients(*model);
  auto params = model->parameters();
  int64_t total = 0;
  for (auto &p : params)
    total += p.numel();
  ASSERT_EQ(total, flat.numel());
  ASSERT_EQ(total, grads.numel());
  for (size_t i = 0; i < params.size(); ++i) {
    EXPECT_TRUE(params[i].equal(reference->parameters()[i]));
    EXPECT_TRUE(params[i].requires_grad());
  }
  {
    torch::NoGradGuard noGrad;
    flat.add_(0.5); // moves every parameter
  }
  EXPECT_NEAR(0.5, (params.back() - reference->parameters().back()).mean().item<double>(),
              1e-6);
  {
    torch::NoGradGuard noGrad;
    flat.sub_(0.5);
  }
  torch::Tensor x = torch::randn({8, 2}), t = torch::rand({8, 1});
  model->forward(x, t).pow(2).sum().backward();
  reference->forward(x, t).pow(2).sum().backward();
  int64_t offset = 0;
  for (size_t i = 0; i < params.size(); ++i) {
    torch::Tensor expected = reference->parameters()[i].grad().reshape(-1);
    EXPECT_TRUE(torch::allclose(grads.narrow(0, offset, expected.numel()), expected,
                                1e-5, 1e-6));
    offset += expected.numel();
  }
}

// flowrt_net_guided evaluates the conditional and unconditional velocities
// in one call on 2n rows; each half must equal its own flowrt_apply call.
TEST(Mlp, GuidedCallEqualsTwoSeparateCalls) {
  MlpOptions opts;
  opts.classes = 2;
  opts.timeFeatures = 4;
  Mlp net(opts);
  OneNetwork one(*net, 2);
  flowrt_ctx &ctx = one.ctx;
  torch::NoGradGuard noGrad;
  flowrt_tensor *x = ctx.adopt(torch::randn({6, 2}));
  flowrt_tensor *t = ctx.adopt(torch::rand({6, 1}));
  flowrt_tensor *y = ctx.adopt(torch::tensor({0.f, 1.f, 1.f, 0.f, 1.f, 0.f}).reshape({6, 1}));
  flowrt_tensor *null = ctx.adopt(torch::full({6, 1}, -1.f));
  flowrt_tensor *uncond = nullptr;
  flowrt_tensor *cond = flowrt_net_guided(&ctx, x, t, y, &uncond);
  ASSERT_NE(nullptr, uncond);
  EXPECT_TRUE(torch::allclose(cond->value, one.apply(x, t, y)->value, 1e-6, 1e-6));
  EXPECT_TRUE(torch::allclose(uncond->value, one.apply(x, t, null)->value, 1e-6, 1e-6));
  EXPECT_EQ(3, ctx.netEvals); // one guided call counts once
}

// Adaptive guidance keeps state across calls: rows whose velocities agreed
// (cos >= threshold) get no unconditional evaluation (v_u := v_c); the
// others still get net(x, t, null). Momentum replaces v_c - v_u by the
// running d = (v_c - v_u) + beta d_prev. Both against separate calls.
TEST(Mlp, GuidedCallKeepsAdaptiveGuidanceAndMomentumState) {
  MlpOptions opts;
  opts.classes = 2;
  opts.timeFeatures = 4;
  Mlp net(opts);
  OneNetwork one(*net, 2);
  flowrt_ctx &ctx = one.ctx;
  torch::NoGradGuard noGrad;
  int64_t n = 6;
  flowrt_tensor *t = ctx.adopt(torch::full({n, 1}, 0.5f));
  flowrt_tensor *y = ctx.adopt(torch::tensor({0.f, 1.f, 1.f, 0.f, 1.f, 0.f}).reshape({n, 1}));
  flowrt_tensor *null = ctx.adopt(torch::full({n, 1}, -1.f));
  auto separate = [&](flowrt_tensor *x) {
    return std::make_pair(one.apply(x, t, y)->value, one.apply(x, t, null)->value);
  };

  // The first call evaluates every row and records which agreed.
  ctx.adaptiveGuidance = 0.5;
  flowrt_tensor *x1 = ctx.adopt(torch::randn({n, 2}));
  flowrt_tensor *u1 = nullptr;
  flowrt_tensor *c1 = flowrt_net_guided(&ctx, x1, t, y, &u1);
  EXPECT_TRUE(torch::allclose(u1->value, separate(x1).second, 1e-6, 1e-6));
  torch::Tensor cosine = (c1->value * u1->value).sum(1) /
                         (c1->value.norm(2, 1) * u1->value.norm(2, 1));
  EXPECT_TRUE(ctx.guidanceState.agreed.equal(cosine >= 0.5));
  // All rows but two agreed: only those two are evaluated unconditionally.
  ctx.guidanceState.agreed = torch::ones({n}, torch::kBool);
  ctx.guidanceState.agreed.index_put_({torch::tensor({1, 4})}, false);
  ctx.guidanceState.unconditionalRows = n;
  ctx.guidanceState.skippedRows = 0;
  ctx.adaptiveGuidance = 1.0; // no new agreement in the next call
  flowrt_tensor *x2 = ctx.adopt(torch::randn({n, 2}));
  flowrt_tensor *u2 = nullptr;
  flowrt_tensor *c2 = flowrt_net_guided(&ctx, x2, t, y, &u2);
  auto [vc2, vu2] = separate(x2);
  EXPECT_TRUE(torch::allclose(c2->value, vc2, 1e-6, 1e-6));
  for (int64_t i = 0; i < n; ++i)
    EXPECT_TRUE(torch::allclose(u2->value[i], i == 1 || i == 4 ? vu2[i] : vc2[i], 1e-6, 1e-6))
        << "row " << i;
  EXPECT_EQ(ctx.guidanceState.unconditionalRows, n + 2);
  EXPECT_EQ(ctx.guidanceState.skippedRows, n - 2);

  // Momentum without adaptive guidance.
  ctx.adaptiveGuidance = 0;
  ctx.guidanceMomentum = -0.5;
  ctx.guidanceState = {};
  flowrt_tensor *ua = nullptr, *ub = nullptr;
  flowrt_net_guided(&ctx, x1, t, y, &ua);
  flowrt_tensor *cb = flowrt_net_guided(&ctx, x2, t, y, &ub);
  auto [vc1, vu1] = separate(x1);
  torch::Tensor d = (vc2 - vu2) - 0.5 * (vc1 - vu1);
  EXPECT_TRUE(torch::allclose(ua->value, vu1, 1e-6, 1e-6));
  EXPECT_TRUE(torch::allclose(cb->value, vc2, 1e-6, 1e-6));
  EXPECT_TRUE(torch::allclose(ub->value, vc2 - d, 1e-5, 1e-6));
}

namespace {

/// A program whose network is `kind` over 1x8x8 images with 10 classes.
flowrt_program imageProgram(const char *kind) {
  return flowrt_test::makeImageProgram(kind, 1, 10);
}

/// Fits the network to a fixed field on 64 images (the target depends on
/// the label, the time and the pixels) and returns the loss before and
/// after 150 Adam steps.
std::pair<double, double> fitFixedField(const Network &net) {
  torch::manual_seed(1);
  torch::Tensor x = torch::randn({64, 64}), t = torch::rand({64, 1});
  torch::Tensor labels = torch::randint(0, 10, {64, 1}).to(torch::kFloat);
  torch::Tensor target = torch::sin(3 * x) * (1 + t) + 0.1 * labels;
  torch::optim::Adam adam(net->parameters(), torch::optim::AdamOptions(3e-3));
  double first = 0, last = 0;
  for (int step = 0; step < 150; ++step) {
    torch::Tensor loss = (net->forward(x, t, labels) - target).pow(2).mean();
    (step == 0 ? first : last) = loss.item<double>();
    adam.zero_grad();
    loss.backward();
    adam.step();
  }
  return {first, last};
}

} // namespace

// U-Net and DiT on [1, 8, 8] images as flat rows: the output has the
// input's shape and starts at zero (zero-initialised output layers, and
// DiT's adaLN-Zero gates), every parameter is reached by the gradient once
// training has moved those layers, the label changes the output, and both
// fit a fixed field: the loss falls below a fifth of its start.
TEST(ImageNetworks, UNetAndDiTShapesZeroStartGradientsAndFit) {
  for (const char *kind : {"unet", "dit"}) {
    SCOPED_TRACE(kind);
    flowrt_program program = imageProgram(kind);
    torch::manual_seed(0);
    Network net = makeNetwork(program, program.models[0]);
    torch::Tensor x = torch::randn({5, 64}), t = torch::rand({5, 1});
    torch::Tensor labels = torch::tensor({0.f, 1.f, 2.f, -1.f, 9.f}).reshape({5, 1});
    torch::Tensor v = net->forward(x, t, labels);
    EXPECT_EQ((std::vector<int64_t>{5, 64}), v.sizes().vec());
    EXPECT_EQ(0.0, v.abs().max().item<double>());
    auto [before, after] = fitFixedField(net);
    std::printf("[ measured ] %s fits a fixed field: loss %.4f -> %.4f\n", kind, before, after);
    EXPECT_LT(after, before / 5);
    net->zero_grad();
    net->forward(x, t, labels).pow(2).sum().backward();
    for (const auto &p : net->named_parameters()) {
      ASSERT_TRUE(p.value().grad().defined()) << p.key();
      EXPECT_GT(p.value().grad().abs().sum().item<double>(), 0.0) << p.key();
    }
    torch::NoGradGuard noGrad;
    torch::Tensor other = torch::full({5, 1}, 3.0f);
    EXPECT_GT((net->forward(x, t, labels) - net->forward(x, t, other)).abs().max().item<double>(),
              1e-4);
  }
}

TEST(ImageNetworks, OptionsThatDoNotFitTheImageAreErrors) {
  flowrt_program unet = imageProgram("unet");
  flowrt_test::modelOf(unet).depth = 4; // 8 -> 4 -> 2 -> 1 -> 0.5
  EXPECT_THROW(makeNetwork(unet, unet.models[0]), std::invalid_argument);
  flowrt_program dit = imageProgram("dit");
  flowrt_test::modelOf(dit).patch = 3;
  EXPECT_THROW(makeNetwork(dit, dit.models[0]), std::invalid_argument);
  flowrt_program flat = imageProgram("dit");
  flat.data.rank = 0;
  flat.data.shape = nullptr;
  EXPECT_THROW(makeNetwork(flat, flat.models[0]), std::invalid_argument);
}

// --autocast bf16: flowrt_apply runs the MLP under LibTorch's autocast. The
// output is float32, within bfloat16's precision of the float32 call (8
// mantissa bits: relative 2^-8 per rounding, a few roundings deep) yet not
// equal to it (the casts happened), and gradients still reach the float32
// parameters.
TEST(Mlp, AutocastBf16) {
  MlpOptions opts;
  opts.timeFeatures = 4;
  Mlp net(opts);
  OneNetwork one(*net, 0);
  flowrt_ctx &ctx = one.ctx;
  flowrt_tensor *x = ctx.adopt(torch::randn({32, 2}));
  flowrt_tensor *t = ctx.adopt(torch::rand({32, 1}));
  torch::Tensor full = one.apply(x, t)->value;
  ctx.autocast = torch::kBFloat16;
  torch::Tensor half = one.apply(x, t)->value;
  EXPECT_EQ(torch::kFloat, half.scalar_type());
  double scale = full.abs().max().item<double>();
  double err = (half - full).abs().max().item<double>();
  EXPECT_LT(err, 0.05 * scale);
  EXPECT_GT(err, 1e-5 * scale);
  EXPECT_FALSE(at::autocast::is_autocast_enabled(torch::kCPU)); // restored
  half.pow(2).sum().backward();
  for (const auto &p : net->parameters()) {
    ASSERT_TRUE(p.grad().defined());
    EXPECT_EQ(torch::kFloat, p.grad().scalar_type());
  }
}

// An MLP of any signature: the first layer sees the tensors (flattened),
// then each time's Fourier features, then the label's embedding, in
// argument order; the output has out_dim features. Against the same
// computation written with the network's own parameters in LibTorch.
TEST(Mlp, AnySignatureMatchesItsDefinition) {
  flowrt_model_desc desc{};
  const int32_t roles[] = {FLOWRT_INPUT_TENSOR, FLOWRT_INPUT_TIME, FLOWRT_INPUT_TENSOR,
                           FLOWRT_INPUT_LABEL, FLOWRT_INPUT_TIME};
  const int64_t dims[] = {3, 1, 2, 1, 1};
  desc = {"g", "mlp", 5, 4, 5, roles, dims, 16, 2, "tanh", 4, 3};
  MlpOptions opts = MlpOptions::fromDesc(desc);
  EXPECT_FALSE(opts.isVelocity());
  torch::manual_seed(4);
  Mlp net(opts);
  int64_t n = 7;
  torch::Tensor a = torch::randn({n, 3}), s = torch::rand({n, 1}), b = torch::randn({n, 2}),
                y = torch::tensor({0.f, 1.f, 2.f, -1.f, 1.f, 0.f, 2.f}).reshape({n, 1}),
                u = torch::rand({n, 1});
  torch::Tensor got = net->apply({a, s, b, y, u});
  ASSERT_EQ((std::vector<int64_t>{n, 4}), got.sizes().vec());

  auto params = net->named_parameters();
  auto fourier = [](const torch::Tensor &t) {
    torch::Tensor angle = 2 * M_PI * t * torch::tensor({0.5f, 1.5f}).reshape({1, 2});
    return torch::cat({torch::sin(angle), torch::cos(angle)}, 1);
  };
  torch::Tensor k = torch::tensor({0, 1, 2, 3, 1, 0, 2}); // -1 is the null class, row 3
  torch::Tensor h = torch::cat({a, b, fourier(s), fourier(u),
                                params["class_embedding.weight"].index_select(0, k)},
                               1);
  for (int layer = 0; layer < 3; ++layer) {
    std::string l = "layers." + std::to_string(layer);
    h = torch::linear(h, params[l + ".weight"], params[l + ".bias"]);
    if (layer < 2)
      h = torch::tanh(h);
  }
  EXPECT_LE((got - h).abs().max().item<double>(), 1e-6);
  // Swapping the two times changes the output: each has its own place.
  EXPECT_GT((net->apply({a, u, b, y, s}) - got).abs().max().item<double>(), 1e-4);
  // A label-only network (a learned source m(y)) has just the embedding.
  const int32_t labelOnly[] = {FLOWRT_INPUT_LABEL};
  const int64_t one[] = {1};
  Mlp m(MlpOptions::fromDesc({"m", "mlp", 0, 2, 1, labelOnly, one, 8, 1, "silu", 0, 2}));
  EXPECT_EQ((std::vector<int64_t>{n, 2}), m->apply({y}).sizes().vec());
  // A signature that does not fit in_dim or classes is an error.
  desc.in_dim = 4;
  EXPECT_THROW(MlpOptions::fromDesc(desc), std::invalid_argument);
}
