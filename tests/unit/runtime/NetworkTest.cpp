//===- NetworkTest.cpp - Fourier time embedding, MLP and EMA --------------===//
//
// The time embedding against its closed form, the MLP's shapes, layer sizes
// and that gradients reach every parameter, option checking, and the EMA
// update and its warm-up decay.
//
//===----------------------------------------------------------------------===//

#include "Context.h"
#include "Network.h"

#include <gtest/gtest.h>

#include <cmath>

using namespace flowrt;

TEST(Fourier, MatchesClosedForm) {
  const double pi = std::acos(-1.0);
  torch::Tensor t = torch::tensor({{0.0f}, {0.125f}, {0.3f}, {1.0f}});
  torch::Tensor e = fourierEmbedding(t, 6);
  ASSERT_EQ((std::vector<int64_t>{4, 6}), e.sizes().vec());
  EXPECT_EQ((std::vector<double>{1, 2, 3}), fourierFrequencies(6));
  for (int64_t i = 0; i < 4; ++i) {
    double ti = t[i][0].item<double>();
    for (int64_t k = 0; k < 3; ++k) {
      double f = k + 1;
      EXPECT_NEAR(std::sin(2 * pi * f * ti), e[i][k].item<double>(), 1e-6);
      EXPECT_NEAR(std::cos(2 * pi * f * ti), e[i][3 + k].item<double>(), 1e-6);
    }
  }
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
  flowrt_model_desc desc{"mlp", 2, 64, 3, "silu", 16, 0};
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
  torch::Tensor flat = flattenParameters(model);
  torch::Tensor grads = flatGradients(model);
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
// in one call on 2n rows; each half must equal its own flowrt_net call.
TEST(Mlp, GuidedCallEqualsTwoSeparateCalls) {
  MlpOptions opts;
  opts.classes = 2;
  opts.timeFeatures = 4;
  Mlp net(opts);
  flowrt_ctx ctx;
  ctx.net = net.get();
  torch::NoGradGuard noGrad;
  flowrt_tensor *x = ctx.adopt(torch::randn({6, 2}));
  flowrt_tensor *t = ctx.adopt(torch::rand({6, 1}));
  flowrt_tensor *y = ctx.adopt(torch::tensor({0.f, 1.f, 1.f, 0.f, 1.f, 0.f}).reshape({6, 1}));
  flowrt_tensor *null = ctx.adopt(torch::full({6, 1}, -1.f));
  flowrt_tensor *uncond = nullptr;
  flowrt_tensor *cond = flowrt_net_guided(&ctx, x, t, y, &uncond);
  ASSERT_NE(nullptr, uncond);
  EXPECT_TRUE(torch::allclose(cond->value, flowrt_net(&ctx, x, t, y)->value,
                              1e-6, 1e-6));
  EXPECT_TRUE(torch::allclose(uncond->value,
                              flowrt_net(&ctx, x, t, null)->value, 1e-6, 1e-6));
  EXPECT_EQ(3, ctx.netEvals); // one guided call counts once
}
