//===- ParallelRowsTest.cpp - Row ranges on threads, and without them -----===//
//
// runRowRanges (behind flowrt_parallel_rows) covers every row exactly once,
// and when a thread cannot be started (std::system_error, as when a process
// runs out of threads) the calling thread runs that range instead of the
// program ending in std::terminate with a joinable thread left behind.
//
//===----------------------------------------------------------------------===//

#include "Context.h"

#include <gtest/gtest.h>

#include <atomic>
#include <system_error>
#include <vector>

using namespace flowrt;

namespace {

/// Runs fn over n rows in `threads` ranges with `spawn`; returns how often
/// each row was visited.
std::vector<int> visits(int64_t n, int64_t threads,
                        const std::function<std::thread(std::function<void()>)> &spawn) {
  std::vector<std::atomic<int>> counts(n);
  runRowRanges(
      n, threads,
      [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i)
          ++counts[i];
      },
      spawn);
  return std::vector<int>(counts.begin(), counts.end());
}

std::thread startThread(std::function<void()> work) { return std::thread(std::move(work)); }

} // namespace

TEST(ParallelRows, EveryRowOnceOnThreads) {
  std::vector<int> seen = visits(1000, 4, startThread);
  EXPECT_EQ(std::vector<int>(1000, 1), seen);
}

TEST(ParallelRows, ThreadsThatCannotStartLeaveTheirRowsToTheCaller) {
  int started = 0;
  auto flaky = [&](std::function<void()> work) {
    if (started++ >= 1)
      throw std::system_error(std::make_error_code(std::errc::resource_unavailable_try_again));
    return std::thread(std::move(work));
  };
  std::vector<int> seen = visits(1000, 4, flaky);
  EXPECT_EQ(std::vector<int>(1000, 1), seen);
  EXPECT_EQ(2, started) << "one thread started, the second attempt failed, no third";
  auto none = [](std::function<void()>) -> std::thread {
    throw std::system_error(std::make_error_code(std::errc::resource_unavailable_try_again));
  };
  EXPECT_EQ(std::vector<int>(1000, 1), visits(1000, 4, none));
}

TEST(ParallelRows, AnExceptionOfARangeIsRethrown) {
  EXPECT_THROW(runRowRanges(
                   100, 2,
                   [](int64_t b, int64_t) {
                     if (b > 0)
                       throw std::runtime_error("row failed");
                   },
                   startThread),
               std::runtime_error);
}
