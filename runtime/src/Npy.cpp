//===- Npy.cpp - NumPy .npy reader and writer -----------------------------===//
//
// Implements the `.npy` half of Writers.h. The writer emits format 1.0: the
// magic "\x93NUMPY", version bytes 1 0, a little-endian uint16 header length
// and a Python-dict header padded with spaces and a newline so the data
// starts on a 64-byte boundary, then the raw float32 values.
//
//===----------------------------------------------------------------------===//

#include "Writers.h"

#include <cstring>
#include <fstream>
#include <optional>
#include <regex>
#include <stdexcept>

using namespace flowrt;

namespace {
const char Magic[] = "\x93NUMPY";
constexpr size_t MagicSize = 6;
} // namespace

void flowrt::writeNpy(const std::string &path, const torch::Tensor &values) {
  if (values.dim() < 1)
    throw std::invalid_argument("writeNpy: expected a tensor of rank >= 1");
  torch::Tensor data =
      values.detach().to(torch::kCPU, torch::kFloat).contiguous();
  std::string shape = "(" + std::to_string(data.size(0)) + ",";
  for (int64_t i = 1; i < data.dim(); ++i)
    shape += (i > 1 ? ", " : " ") + std::to_string(data.size(i));
  shape += ")";
  std::string header =
      "{'descr': '<f4', 'fortran_order': False, 'shape': " + shape + ", }";
  // Magic, version and length take 10 bytes; pad so data is 64-aligned.
  size_t total = 10 + header.size() + 1;
  header += std::string((64 - total % 64) % 64, ' ') + "\n";

  std::ofstream out(path, std::ios::binary);
  if (!out)
    throw std::runtime_error("cannot write " + path);
  out.write(Magic, MagicSize);
  const char version[2] = {1, 0};
  out.write(version, 2);
  uint16_t length = static_cast<uint16_t>(header.size());
  const char lengthBytes[2] = {static_cast<char>(length & 0xff),
                               static_cast<char>(length >> 8)};
  out.write(lengthBytes, 2);
  out.write(header.data(), static_cast<std::streamsize>(header.size()));
  // x86 and ARM hosts are little-endian, as '<f4' says.
  out.write(reinterpret_cast<const char *>(data.data_ptr<float>()),
            static_cast<std::streamsize>(data.numel() * sizeof(float)));
  if (!out)
    throw std::runtime_error("cannot write " + path);
}

torch::Tensor flowrt::readNpy(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    throw std::runtime_error("cannot read " + path);
  char prefix[8];
  if (!in.read(prefix, 8) || std::memcmp(prefix, Magic, MagicSize) != 0)
    throw std::runtime_error(path + " is not a .npy file");
  uint32_t length = 0;
  if (prefix[6] == 1) {
    unsigned char bytes[2];
    in.read(reinterpret_cast<char *>(bytes), 2);
    length = bytes[0] | (bytes[1] << 8);
  } else {
    unsigned char bytes[4];
    in.read(reinterpret_cast<char *>(bytes), 4);
    length = bytes[0] | (bytes[1] << 8) | (bytes[2] << 16) |
             (static_cast<uint32_t>(bytes[3]) << 24);
  }
  std::string header(length, '\0');
  if (!in.read(header.data(), length))
    throw std::runtime_error(path + ": truncated header");
  // Little-endian numbers, as x86 and ARM hosts store them.
  static const std::pair<const char *, torch::ScalarType> types[] = {
      {"'<f4'", torch::kFloat}, {"'<f8'", torch::kDouble}, {"'|u1'", torch::kUInt8},
      {"'<i4'", torch::kInt}, {"'<i8'", torch::kLong}};
  std::optional<torch::ScalarType> type;
  for (const auto &[descr, t] : types)
    if (header.find(std::string("'descr': ") + descr) != std::string::npos)
      type = t;
  if (!type || header.find("'fortran_order': False") == std::string::npos)
    throw std::runtime_error(path + ": only C-order arrays of float32, float64, uint8, "
                                    "int32 or int64 are read");
  std::smatch match;
  if (!std::regex_search(header, match,
                         std::regex(R"('shape':\s*\(([0-9,\s]*)\))")))
    throw std::runtime_error(path + ": no shape in header");
  std::vector<int64_t> shape;
  std::string dims = match[1];
  std::regex number("[0-9]+");
  for (auto it = std::sregex_iterator(dims.begin(), dims.end(), number);
       it != std::sregex_iterator(); ++it)
    shape.push_back(std::stoll(it->str()));
  torch::Tensor values = torch::empty(shape, *type);
  if (!in.read(static_cast<char *>(values.data_ptr()),
               static_cast<std::streamsize>(values.nbytes())))
    throw std::runtime_error(path + ": truncated data");
  return values;
}

torch::Tensor flowrt::readPointRows(const std::string &path, int64_t dim,
                                    const std::string &what) {
  torch::Tensor x = readNpy(path);
  auto shape = [&] {
    std::string text = "[";
    for (int64_t i = 0; i < x.dim(); ++i)
      text += (i ? ", " : "") + std::to_string(x.size(i));
    return text + "]";
  };
  if (x.dim() == 0)
    throw std::runtime_error("'" + path + "' holds a single number (a 0-d array); expected " +
                             "points [n, " + std::to_string(dim) + "]");
  if (x.numel() == 0)
    throw std::runtime_error("'" + path + "' holds no points (shape " + shape() +
                             "); expected [n, " + std::to_string(dim) + "] with n >= 1");
  int64_t perPoint = x.dim() == 1 ? 1 : x.numel() / x.size(0);
  if (perPoint != dim)
    throw std::runtime_error("'" + path + "' has shape " + shape() + ", " +
                             std::to_string(perPoint) + " values per point, but " + what +
                             " have " + std::to_string(dim));
  return x.to(torch::kFloat).reshape({x.size(0), dim}).contiguous();
}
