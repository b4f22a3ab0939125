//===- TextFiles.cpp - Samples written as text ----------------------------===//
//
// Implements writeTextRows (Writers.h): words for token data with an
// alphabet, numbers otherwise; and writeMetricsJson.
//
//===----------------------------------------------------------------------===//

#include "Writers.h"

#include <cstring>
#include <fstream>
#include <stdexcept>

using namespace flowrt;

void flowrt::writeTextRows(const std::string &path, const torch::Tensor &rows, int64_t vocab,
                           const char *alphabet) {
  std::ofstream out(path);
  if (!out)
    throw std::runtime_error("cannot write " + path);
  torch::Tensor values = rows.reshape({rows.size(0), -1}).to(torch::kDouble).contiguous();
  if (vocab > 0)
    values = values.round().clamp_min(0);
  // An id past the alphabet (a tokenizer's extra id, such as a mask) is '?'.
  const int64_t letters = alphabet ? static_cast<int64_t>(std::strlen(alphabet)) : 0;
  auto a = values.accessor<double, 2>();
  for (int64_t i = 0; i < values.size(0); ++i) {
    std::string line;
    for (int64_t j = 0; j < values.size(1); ++j) {
      auto id = static_cast<int64_t>(a[i][j]);
      if (vocab > 0 && alphabet)
        line += id < letters ? alphabet[id] : '?';
      else
        line += (j ? " " : "") + (vocab > 0 ? std::to_string(static_cast<int64_t>(a[i][j]))
                                             : c10::str(static_cast<float>(a[i][j])));
    }
    if (vocab > 0 && alphabet)
      line.erase(line.find_last_not_of(alphabet[0]) + 1);
    out << line << "\n";
  }
  if (!out)
    throw std::runtime_error("cannot write " + path);
}

void flowrt::writeMetricsJson(const std::string &path, const nlohmann::ordered_json &metrics) {
  std::ofstream json(path);
  json << metrics.dump() << "\n";
  if (!json)
    throw std::runtime_error("cannot write " + path);
}
