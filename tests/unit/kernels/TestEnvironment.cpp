//===- TestEnvironment.cpp - One torch thread for kernel-tests ------------===//
//
// kernel-tests links GTest::gtest_main; this registers a global environment
// that limits torch to one thread before any test runs: the references use
// small tensors, where threads only add overhead, and build machines are
// shared.
//
//===----------------------------------------------------------------------===//
#include <gtest/gtest.h>
#include <torch/torch.h>

namespace {
class TorchThreads : public ::testing::Environment {
public:
  void SetUp() override { torch::set_num_threads(1); }
};

[[maybe_unused]] ::testing::Environment *const kTorchThreads =
    ::testing::AddGlobalTestEnvironment(new TorchThreads);
} // namespace
