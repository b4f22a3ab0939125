//===- Progress.h - Training progress on stderr -----------------*- C++ -*-===//
//
// A progress bar for the training loop. On a terminal it redraws one line in
// place (with '\r') at most ten times a second; when stderr is a file or a
// pipe (CI logs) it prints a plain line every 10% of the run instead, so logs
// stay readable.
//
//===----------------------------------------------------------------------===//
#ifndef FLOWRT_PROGRESS_H
#define FLOWRT_PROGRESS_H

#include <chrono>
#include <cstdint>
#include <cstdio>

namespace flowrt {

/// Shows step/total, the loss and the speed of a loop.
class ProgressBar {
public:
  /// `first` is the step the loop starts at (non-zero when resuming).
  ProgressBar(int64_t first, int64_t total, bool enabled,
              std::FILE *out = stderr);

  /// Reports that `step` steps are done, with that step's loss. The bar
  /// shows the mean loss of the steps since it was last drawn.
  void update(int64_t step, double loss);
  /// Draws the final state and ends the line.
  void finish(int64_t step);

private:
  void draw(int64_t step, bool final);

  int64_t first, total;
  bool enabled, isTty;
  std::FILE *out;
  std::chrono::steady_clock::time_point start, lastDraw;
  int64_t nextPercentLine = 1; ///< Next tenth to print when not a TTY.
  int64_t lastDrawnStep = -1;
  double lossSum = 0, lastMean = 0;
  int64_t lossCount = 0;
};

} // namespace flowrt

#endif // FLOWRT_PROGRESS_H
