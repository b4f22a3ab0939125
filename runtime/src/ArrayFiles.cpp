//===- ArrayFiles.cpp - Arrays from .npy, .csv and IDX files --------------===//
//
// Implements ArrayFiles.h. IDX (LeCun's MNIST format): two zero bytes, a
// type byte (0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32, 0x0D float32,
// 0x0E float64), a rank byte, one big-endian uint32 per dimension, then the
// big-endian values in C order.
//
//===----------------------------------------------------------------------===//

#include "ArrayFiles.h"
#include "Files.h"
#include "Writers.h"

#ifdef FLOWRT_HAVE_ZLIB
#include <zlib.h>
#endif

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <vector>

using namespace flowrt;

std::string flowrt::readGzip(const std::string &path) {
#ifdef FLOWRT_HAVE_ZLIB
  gzFile f = gzopen(path.c_str(), "rb");
  if (!f)
    throw std::runtime_error("cannot open " + path);
  std::string out;
  char chunk[1 << 16];
  int got;
  while ((got = gzread(f, chunk, sizeof chunk)) > 0)
    out.append(chunk, got);
  int err = 0;
  const char *message = got < 0 ? gzerror(f, &err) : nullptr;
  std::string error = message ? message : "";
  gzclose(f);
  if (got < 0)
    throw std::runtime_error("cannot read " + path + ": " + error);
  return out;
#else
  bool gzipped = path.size() > 3 && path.compare(path.size() - 3, 3, ".gz") == 0;
  if (gzipped)
    throw std::runtime_error("cannot read " + path + ": the runtime was built without zlib");
  std::ifstream in(path, std::ios::binary);
  if (!in)
    throw std::runtime_error("cannot open " + path);
  std::ostringstream bytes;
  bytes << in.rdbuf();
  return bytes.str();
#endif
}

std::string flowrt::shapeString(at::IntArrayRef shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i)
    s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

namespace {

uint32_t bigEndian32(const std::string &bytes, size_t at) {
  auto b = [&](size_t i) { return uint32_t(uint8_t(bytes[at + i])); };
  return b(0) << 24 | b(1) << 16 | b(2) << 8 | b(3);
}

} // namespace

torch::Tensor flowrt::readIdx(const std::string &path) {
  std::string bytes = readGzip(path);
  struct Type {
    uint8_t code;
    torch::ScalarType type;
    size_t size;
  };
  static const Type types[] = {{0x08, torch::kUInt8, 1}, {0x09, torch::kInt8, 1},
                               {0x0B, torch::kShort, 2}, {0x0C, torch::kInt, 4},
                               {0x0D, torch::kFloat, 4}, {0x0E, torch::kDouble, 8}};
  const Type *type = nullptr;
  if (bytes.size() >= 4 && bytes[0] == 0 && bytes[1] == 0)
    for (const Type &t : types)
      if (uint8_t(bytes[2]) == t.code)
        type = &t;
  if (!type)
    throw std::runtime_error(path + " is not an IDX file (its first bytes are not 0 0 and a "
                                    "type code); data files are .npy, .csv or IDX");
  size_t rank = uint8_t(bytes[3]);
  size_t offset = 4 + 4 * rank;
  if (rank == 0 || bytes.size() < offset)
    throw std::runtime_error(path + ": truncated IDX header");
  std::vector<int64_t> dims;
  size_t count = 1, payload = 0;
  for (size_t i = 0; i < rank; ++i) {
    dims.push_back(bigEndian32(bytes, 4 + 4 * i));
    // Up to 255 dimensions of up to 2^32 - 1: the product can wrap around
    // and then pass the size check below.
    if (__builtin_mul_overflow(count, size_t(dims.back()), &count))
      throw std::runtime_error(path + ": the IDX header's dimensions " + shapeString(dims) +
                               "... promise more values than any file holds");
  }
  if (__builtin_mul_overflow(count, type->size, &payload))
    throw std::runtime_error(path + ": the IDX header's dimensions " + shapeString(dims) +
                             " promise more bytes than any file holds");
  if (bytes.size() - offset != payload)
    throw std::runtime_error(path + ": the IDX header promises " + std::to_string(count) +
                             " values of " + std::to_string(type->size) +
                             " bytes but the file holds " +
                             std::to_string(bytes.size() - offset) + " bytes of data");
  // Big-endian to the host's order (little-endian on x86 and ARM hosts).
  if (type->size > 1)
    for (size_t i = 0; i < count; ++i)
      std::reverse(bytes.begin() + offset + i * type->size,
                   bytes.begin() + offset + (i + 1) * type->size);
  return torch::from_blob(bytes.data() + offset, dims, type->type).clone();
}

torch::Tensor flowrt::readCsv(const std::string &path) {
  std::istringstream text(readGzip(path));
  std::vector<double> values;
  int64_t rows = 0, cols = -1;
  std::string line;
  for (int64_t number = 1; std::getline(text, line); ++number) {
    if (!line.empty() && line.back() == '\r')
      line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos)
      continue;
    std::vector<double> row;
    std::istringstream fields(line);
    std::string field;
    bool numeric = true;
    while (std::getline(fields, field, ',')) {
      const char *begin = field.c_str();
      char *end = nullptr;
      errno = 0;
      double v = std::strtod(begin, &end);
      while (end && (*end == ' ' || *end == '\t'))
        ++end;
      if (end == begin || *end != '\0' || errno == ERANGE) {
        numeric = false;
        break;
      }
      row.push_back(v);
    }
    if (!numeric) {
      if (rows == 0 && cols < 0) { // a header line
        cols = 0;
        continue;
      }
      throw std::runtime_error(path + ":" + std::to_string(number) + ": '" + field +
                               "' is not a number");
    }
    if (cols > 0 && int64_t(row.size()) != cols)
      throw std::runtime_error(path + ":" + std::to_string(number) + ": " +
                               std::to_string(row.size()) + " values, but the lines before " +
                               "have " + std::to_string(cols));
    cols = int64_t(row.size());
    values.insert(values.end(), row.begin(), row.end());
    ++rows;
  }
  if (rows == 0)
    throw std::runtime_error(path + " has no rows of numbers");
  return torch::from_blob(values.data(), {rows, cols}, torch::kDouble).clone();
}

torch::Tensor flowrt::readArrayFile(const std::string &path) {
  if (!pathExists(path))
    throw std::runtime_error("cannot find the data file " + path);
  auto endsWith = [&](const char *suffix) {
    size_t n = std::strlen(suffix);
    return path.size() >= n && path.compare(path.size() - n, n, suffix) == 0;
  };
  if (endsWith(".npy"))
    return readNpy(path);
  if (endsWith(".csv") || endsWith(".csv.gz"))
    return readCsv(path);
  return readIdx(path);
}
