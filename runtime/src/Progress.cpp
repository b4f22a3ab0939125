//===- Progress.cpp - Training progress on stderr -------------------------===//
//
// Implements ProgressBar: a redrawn bar on terminals, one line per tenth of
// the run otherwise.
//
//===----------------------------------------------------------------------===//

#include "Progress.h"

#include <string>
#include <unistd.h>

using namespace flowrt;
using Clock = std::chrono::steady_clock;

ProgressBar::ProgressBar(int64_t first, int64_t total, bool enabled,
                         std::FILE *out)
    : first(first), total(total), enabled(enabled),
      isTty(::isatty(::fileno(out)) != 0), out(out), start(Clock::now()),
      lastDraw(start) {
  if (total > 0)
    nextPercentLine = first * 10 / total + 1;
}

void ProgressBar::update(int64_t step, double loss) {
  if (!enabled)
    return;
  lossSum += loss;
  ++lossCount;
  if (isTty) {
    if (Clock::now() - lastDraw >= std::chrono::milliseconds(100))
      draw(step, false);
    return;
  }
  if (total > 0 && step * 10 >= nextPercentLine * total) {
    draw(step, false);
    nextPercentLine = step * 10 / total + 1;
  }
}

void ProgressBar::finish(int64_t step) {
  if (!enabled)
    return;
  // Without a TTY, update() has usually printed the last line already.
  if (isTty || lastDrawnStep != step)
    draw(step, true);
}

void ProgressBar::draw(int64_t step, bool final) {
  lastDraw = Clock::now();
  lastDrawnStep = step;
  double loss = lossCount > 0 ? lossSum / lossCount : lastMean;
  lastMean = loss;
  lossSum = 0;
  lossCount = 0;
  double seconds = std::chrono::duration<double>(lastDraw - start).count();
  double rate = seconds > 0 ? (step - first) / seconds : 0.0;
  double fraction = total > 0 ? static_cast<double>(step) / total : 1.0;
  if (isTty) {
    constexpr int Width = 30;
    int filled = static_cast<int>(fraction * Width);
    std::string bar(filled, '=');
    if (filled < Width)
      bar += '>' + std::string(Width - filled - 1, ' ');
    double eta = rate > 0 ? (total - step) / rate : 0.0;
    std::fprintf(
        out, "\rtrain [%s] %lld/%lld  loss %.4f  %.1f steps/s  eta %.0fs\x1b[K",
        bar.c_str(), static_cast<long long>(step),
        static_cast<long long>(total), loss, rate, eta);
    if (final)
      std::fputc('\n', out);
  } else {
    std::fprintf(out,
                 "step %lld/%lld (%3.0f%%)  loss %.4f  %.1f steps/s  "
                 "elapsed %.1fs\n",
                 static_cast<long long>(step), static_cast<long long>(total),
                 100 * fraction, loss, rate, seconds);
  }
  std::fflush(out);
}
