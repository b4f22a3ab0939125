//===- TextData.cpp - Token data from text -------------------------------===//
//
// `text.words(train: 0|1, test: 0|1)`: the English words of Debian's
// wamerican list (/usr/share/dict/american-english) that are 4 to 7
// lowercase letters a..z, each a sample of 7 token ids (flowrt/shared.h:
// a..z are 1..26, 0 ends and pads the word), in the list's order, without
// repeats. Every tenth word (the 10th, 20th, ... of the list) is held
// out of training: a split any tool can rebuild from the list alone.
//
//===----------------------------------------------------------------------===//

#include "Data.h"

#include <fstream>
#include <set>
#include <stdexcept>

using namespace flowrt;

namespace {

constexpr size_t MinLetters = 4, MaxLetters = 7;

/// The word list's words of MinLetters..MaxLetters letters a..z, each once.
std::vector<std::string> readWords() {
  std::string path = findDataFile("words", {"/usr/share/dict"}, "american-english");
  std::ifstream in(path);
  if (!in)
    throw std::runtime_error("cannot read the word list " + path);
  std::vector<std::string> words;
  std::set<std::string> seen;
  for (std::string line; std::getline(in, line);) {
    bool letters = line.size() >= MinLetters && line.size() <= MaxLetters;
    for (char c : line)
      letters &= c >= 'a' && c <= 'z';
    if (letters && seen.insert(line).second)
      words.push_back(line);
  }
  if (words.empty())
    throw std::runtime_error("the word list " + path + " has no words of 4 to 7 letters a..z");
  return words;
}

} // namespace

std::unique_ptr<DataSet> flowrt::makeTextDataSet(const std::string &generator,
                                                 const std::map<std::string, double> &params) {
  if (generator != "text.words")
    throw std::invalid_argument("unknown data set '" + generator + "' (built in: text.words)");
  auto param = [&](const char *name) {
    auto it = params.find(name);
    return it == params.end() ? 0.0 : it->second;
  };
  for (const auto &[name, value] : params)
    if (name != "train" && name != "test")
      throw std::invalid_argument("text.words has no parameter '" + name + "'");
  bool train = param("train") != 0, test = param("test") != 0;
  if (train && test)
    throw std::invalid_argument("text.words: train: 1 and test: 1 name disjoint parts");
  std::vector<std::string> words = readWords();
  auto n = static_cast<int64_t>(words.size());
  torch::Tensor ids = torch::zeros({n, static_cast<int64_t>(MaxLetters)});
  auto rows = ids.accessor<float, 2>();
  for (int64_t i = 0; i < n; ++i)
    for (size_t j = 0; j < words[i].size(); ++j)
      rows[i][j] = static_cast<float>(words[i][j] - 'a' + 1);
  if (train || test) {
    torch::Tensor heldOut = torch::arange(n) % 10 == 9;
    ids = ids.index({train ? heldOut.logical_not() : heldOut}).contiguous();
  }
  return makeRowDataSet({ids, torch::zeros({ids.size(0)}), {}}, 0);
}
