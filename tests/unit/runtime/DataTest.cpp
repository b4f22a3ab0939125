//===- DataTest.cpp - Built-in toy data sets ------------------------------===//
//
// Batches are a function of the stream key alone, and each toy set has the
// geometry Data.h documents.
//
//===----------------------------------------------------------------------===//

#include "Context.h"
#include "Data.h"

#include <gtest/gtest.h>

#include <cmath>

using namespace flowrt;

TEST(Data, BatchesDependOnTheStreamOnly) {
  auto moons = makeDataSet("toy.moons");
  torch::Tensor a = moons->sample(100, 42);
  moons->sample(7, 1); // unrelated draws in between change nothing
  torch::Tensor b = moons->sample(100, 42);
  torch::Tensor c = moons->sample(100, 43);
  EXPECT_EQ(0.0, (a - b).abs().max().item<double>());
  EXPECT_GT((a - c).abs().max().item<double>(), 0.1);
  EXPECT_EQ(torch::kFloat, a.scalar_type());
}

TEST(Data, MoonsAreCentredAndScaled) {
  torch::Tensor x = makeDataSet("toy.moons", {{"noise", 0.0}})->sample(5000, 1);
  // Noise-free: x spans [-2, 2], y spans [-1, 1], centred at the origin.
  EXPECT_NEAR(-2.0, x.select(1, 0).min().item<double>(), 0.01);
  EXPECT_NEAR(2.0, x.select(1, 0).max().item<double>(), 0.01);
  EXPECT_NEAR(-1.0, x.select(1, 1).min().item<double>(), 0.01);
  EXPECT_NEAR(1.0, x.select(1, 1).max().item<double>(), 0.01);
  EXPECT_NEAR(0.0, x.select(1, 0).mean().item<double>(), 0.05);
}

TEST(Data, EightGaussiansSitOnTheirCircle) {
  torch::Tensor x = makeDataSet("toy.eight_gaussians")->sample(4000, 2);
  torch::Tensor r = x.norm(2, 1);
  EXPECT_NEAR(4.0 / std::sqrt(2.0), r.mean().item<double>(), 0.01);
  EXPECT_LT((r - 4.0 / std::sqrt(2.0)).abs().max().item<double>(), 0.4);
}

TEST(Data, CheckerboardFillsOnlyDarkCells) {
  double scale = 4;
  torch::Tensor x = makeDataSet("toy.checkerboard")->sample(4000, 3);
  torch::Tensor cells = torch::floor(x / (scale / 2));
  // Dark cells have an even sum of cell indices; all of [-4, 4]^2 is used.
  torch::Tensor parity = torch::remainder(cells.sum(1), 2.0);
  EXPECT_EQ(0.0, parity.abs().max().item<double>());
  EXPECT_LT(x.abs().max().item<double>(), scale + 1e-5);
  EXPECT_GT(x.abs().max().item<double>(), scale * 0.99);
}

TEST(Data, CirclesHaveTwoRadii) {
  torch::Tensor x =
      makeDataSet("toy.circles", {{"noise", 0.0}, {"factor", 0.5}})
          ->sample(2000, 4);
  torch::Tensor r = x.norm(2, 1);
  torch::Tensor onOuter = (r - 2.0).abs() < 1e-4;
  torch::Tensor onInner = (r - 1.0).abs() < 1e-4;
  EXPECT_EQ(2000, (onOuter | onInner).sum().item<int64_t>());
  EXPECT_NEAR(0.5, onInner.to(torch::kDouble).mean().item<double>(), 0.05);
}

// Labels are the generators' own: make_moons' (0 upper, 1 lower), the
// Gaussian's index k, the checkerboard cell, make_circles' (0 outer).
TEST(Data, LabelsNameTheComponentEachPointCameFrom) {
  Batch moons = makeDataSet("toy.moons", {{"noise", 0.0}})->draw(2000, 5);
  torch::Tensor upper = moons.labels == 0;
  // Upper moon: y = ((sin a) - 0.25) * 4/3 >= -1/3; lower: <= 1/3.
  EXPECT_GE(moons.x.index({upper}).select(1, 1).min().item<double>(), -1.0 / 3 - 1e-5);
  EXPECT_LE(moons.x.index({~upper}).select(1, 1).max().item<double>(), 1.0 / 3 + 1e-5);
  EXPECT_NEAR(0.5, upper.to(torch::kDouble).mean().item<double>(), 0.05);

  Batch gauss = makeDataSet("toy.eight_gaussians", {{"noise", 0.0}})->draw(500, 6);
  torch::Tensor angle = torch::atan2(gauss.x.select(1, 1), gauss.x.select(1, 0));
  torch::Tensor k = torch::remainder(torch::round(angle / (M_PI / 4)), 8.0);
  EXPECT_TRUE(torch::equal(k, gauss.labels));

  Batch board = makeDataSet("toy.checkerboard", {{"scale", 2.0}})->draw(4000, 7);
  torch::Tensor column = torch::floor(board.x.select(1, 0)) + 2;
  torch::Tensor row = (board.x.select(1, 1) < 0).to(torch::kFloat);
  EXPECT_EQ(8, std::get<0>(at::_unique(board.labels)).numel());
  EXPECT_TRUE(torch::equal(2 * column + row, board.labels));

  Batch circles =
      makeDataSet("toy.circles", {{"noise", 0.0}})->draw(1000, 8);
  torch::Tensor inner = circles.x.norm(2, 1) < 1.8;
  EXPECT_TRUE(torch::equal(inner.to(torch::kFloat), circles.labels));
  EXPECT_EQ(2, makeDataSet("toy.moons")->classes());
  EXPECT_EQ(8, makeDataSet("toy.checkerboard")->classes());
}

TEST(Data, BadNamesAndParametersAreRejected) {
  EXPECT_THROW(makeDataSet("toy.spirals"), std::invalid_argument);
  EXPECT_THROW(makeDataSet("toy.moons", {{"nosie", 0.1}}),
               std::invalid_argument);
  const char *names[] = {"noise"};
  double values[] = {0.1};
  flowrt_data_desc desc{"toy.moons", 3, 1, names, values};
  EXPECT_THROW(makeDataSet(desc), std::invalid_argument);
}

// The image sets as scripts/setup.sh installs them: every image, pixels in
// [-1, 1] with both ends used, ten balanced-ish classes, and batches that
// are rows of the set drawn by the stream key.
TEST(ImageData, DigitsAreScikitLearnsDigits) {
  auto digits = makeDataSet("images.digits");
  std::optional<Batch> all = digits->all();
  ASSERT_TRUE(all.has_value());
  EXPECT_EQ(1797, all->x.size(0));
  EXPECT_EQ(64, digits->dim());
  EXPECT_EQ(-1.0, all->x.min().item<double>());
  EXPECT_EQ(1.0, all->x.max().item<double>()); // pixel value 16
  torch::Tensor counts = torch::bincount(all->labels.to(torch::kLong));
  EXPECT_EQ(10, counts.size(0));
  EXPECT_GE(counts.min().item<int64_t>(), 170); // 174..183 per class
  // The first image is a zero (digits.csv.gz's first line ends in 0).
  EXPECT_EQ(0.0, all->labels[0].item<double>());
  Batch a = digits->draw(64, 9), b = digits->draw(64, 9);
  EXPECT_TRUE(a.x.equal(b.x));
  EXPECT_TRUE(a.labels.equal(b.labels));
  // Every drawn row is an image of the set with its label.
  torch::Tensor distance = torch::cdist(a.x, all->x);
  torch::Tensor nearest = std::get<1>(distance.min(1));
  EXPECT_EQ(0.0, std::get<0>(distance.min(1)).max().item<double>());
  EXPECT_TRUE(all->labels.index_select(0, nearest).equal(a.labels));
}

TEST(ImageData, FashionMnistSplits) {
  auto train = makeDataSet("images.fashion_mnist");
  auto test = makeDataSet("images.fashion_mnist", {{"test", 1}});
  EXPECT_EQ(784, train->dim());
  EXPECT_EQ(60000, train->all()->x.size(0));
  EXPECT_EQ(10000, test->all()->x.size(0));
  EXPECT_EQ(-1.0, test->all()->x.min().item<double>());
  EXPECT_EQ(1.0, test->all()->x.max().item<double>());
  // Fashion-MNIST's test split has exactly 1000 images of each class.
  torch::Tensor counts = torch::bincount(test->all()->labels.to(torch::kLong));
  EXPECT_TRUE(counts.equal(torch::full({10}, 1000, torch::kLong)));
  EXPECT_THROW(makeDataSet("images.fashion_mnist", {{"split", 1}}), std::invalid_argument);
  EXPECT_THROW(makeDataSet("images.cifar"), std::invalid_argument);
}

// A training step captured as a CUDA graph reads its batches from fixed
// buffers: after an eager step records its calls, `fill` must put there
// exactly what flowrt_data_batch draws for the step (same seed, step and
// call number), in place, and the captured step's calls get those buffers.
TEST(FixedBatches, RefillsWithWhatTheStepWouldDraw) {
  auto moons = makeDataSet("toy.moons");
  flowrt_ctx ctx;
  ctx.seed = 11;
  ctx.data = moons.get();
  FixedBatches fixed;
  fixed.recording = true;
  ctx.fixedBatches = &fixed;
  ctx.step = 5;
  flowrt_tensor *labels = nullptr;
  flowrt_data_batch(&ctx, 64, &labels, nullptr);
  flowrt_data_batch(&ctx, 32, nullptr, nullptr);
  ASSERT_EQ(2u, fixed.calls.size());
  EXPECT_EQ(64, fixed.calls[0].rows);
  EXPECT_TRUE(fixed.calls[0].labels);
  EXPECT_FALSE(fixed.calls[1].labels);

  // What an eager step 9 draws, call by call.
  flowrt_ctx eager;
  eager.seed = 11;
  eager.data = moons.get();
  eager.step = 9;
  flowrt_tensor *eagerLabels = nullptr;
  torch::Tensor x0 = flowrt_data_batch(&eager, 64, &eagerLabels, nullptr)->value;
  torch::Tensor x1 = flowrt_data_batch(&eager, 32, nullptr, nullptr)->value;

  fixed.recording = false;
  ctx.step = 9;
  fixed.fill(ctx);
  EXPECT_TRUE(torch::equal(x0, fixed.x[0]));
  EXPECT_TRUE(torch::equal(eagerLabels->value, fixed.labels[0]));
  EXPECT_TRUE(torch::equal(x1, fixed.x[1]));
  // The captured step's calls hand out the buffers themselves.
  ctx.dataCalls = 0;
  flowrt_tensor *captured = flowrt_data_batch(&ctx, 64, &labels, nullptr);
  EXPECT_EQ(fixed.x[0].data_ptr(), captured->value.data_ptr());
  EXPECT_EQ(fixed.labels[0].data_ptr(), labels->value.data_ptr());
  // The next step refills the same storage (a graph keeps its addresses).
  void *where = fixed.x[0].data_ptr();
  ctx.step = 10;
  fixed.fill(ctx);
  EXPECT_EQ(where, fixed.x[0].data_ptr());
  EXPECT_FALSE(torch::equal(x0, fixed.x[0]));
  // A call the eager step did not make cannot be captured.
  ctx.dataCalls = 0;
  EXPECT_THROW(flowrt_data_batch(&ctx, 16, nullptr, nullptr), std::runtime_error);
}
