//===- TestMain.cpp - Entry point of runtime-tests ------------------------===//
//
// Runs the GoogleTest suites of libflowrt with one torch thread: the tests use
// tiny tensors, where threads only add overhead, and the build machines are
// shared.
//
//===----------------------------------------------------------------------===//

#include <gtest/gtest.h>
#include <torch/torch.h>

int main(int argc, char **argv) {
  torch::set_num_threads(1);
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
