//===- Png.cpp - PNG writer and scatter plots -----------------------------===//
//
// Implements the PNG half of Writers.h: IHDR/IDAT/IEND chunks that each
// carry a CRC-32, the image data a zlib stream (RFC 1950) compressed with
// zlib's deflate. zlib is the runtime's one optional dependency (a GPU host
// may lack its headers); without it the stream holds stored, uncompressed
// deflate blocks (RFC 1951, at most 65535 bytes each) with an Adler-32
// trailer, which every PNG reader accepts too. We chose zlib over libpng:
// the runtime already reads the gzipped data sets with it, and PNG's
// container is a few lines.
//
//===----------------------------------------------------------------------===//

#include "Writers.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <fstream>
#include <stdexcept>

#ifdef FLOWRT_HAVE_ZLIB
#include <zlib.h>
#endif

using namespace flowrt;

namespace {

void putU32(std::vector<uint8_t> &out, uint32_t v) {
  out.push_back(static_cast<uint8_t>(v >> 24));
  out.push_back(static_cast<uint8_t>(v >> 16));
  out.push_back(static_cast<uint8_t>(v >> 8));
  out.push_back(static_cast<uint8_t>(v));
}

/// Appends one chunk: length, type, data, CRC of type and data.
void putChunk(std::vector<uint8_t> &out, const char *type,
              const std::vector<uint8_t> &data) {
  putU32(out, static_cast<uint32_t>(data.size()));
  size_t typeStart = out.size();
  out.insert(out.end(), type, type + 4);
  out.insert(out.end(), data.begin(), data.end());
  putU32(out, crc32(out.data() + typeStart, out.size() - typeStart));
}

} // namespace

std::vector<uint8_t> flowrt::zlibStored(const std::vector<uint8_t> &raw) {
  std::vector<uint8_t> out = {0x78, 0x01}; // deflate, 32K window, no dict
  size_t pos = 0;
  do {
    size_t len = std::min<size_t>(65535, raw.size() - pos);
    bool final = pos + len == raw.size();
    out.push_back(final ? 1 : 0); // BFINAL, BTYPE = 00 (stored)
    out.push_back(static_cast<uint8_t>(len & 0xff));
    out.push_back(static_cast<uint8_t>(len >> 8));
    out.push_back(static_cast<uint8_t>(~len & 0xff));
    out.push_back(static_cast<uint8_t>((~len >> 8) & 0xff));
    out.insert(out.end(), raw.begin() + pos, raw.begin() + pos + len);
    pos += len;
  } while (pos < raw.size());
  putU32(out, adler32(raw.data(), raw.size()));
  return out;
}

namespace {

/// `raw` as a zlib stream: deflated where zlib is, else stored.
std::vector<uint8_t> zlibStream(const std::vector<uint8_t> &raw) {
#ifdef FLOWRT_HAVE_ZLIB
  uLongf size = compressBound(raw.size());
  std::vector<uint8_t> out(size);
  if (compress2(out.data(), &size, raw.data(), raw.size(), Z_BEST_COMPRESSION) == Z_OK) {
    out.resize(size);
    return out;
  }
#endif
  return zlibStored(raw);
}

} // namespace

uint32_t flowrt::crc32(const uint8_t *data, size_t size, uint32_t crc) {
  static const std::array<uint32_t, 256> table = [] {
    std::array<uint32_t, 256> t{};
    for (uint32_t n = 0; n < 256; ++n) {
      uint32_t c = n;
      for (int k = 0; k < 8; ++k)
        c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t[n] = c;
    }
    return t;
  }();
  crc = ~crc;
  for (size_t i = 0; i < size; ++i)
    crc = table[(crc ^ data[i]) & 0xff] ^ (crc >> 8);
  return ~crc;
}

uint32_t flowrt::adler32(const uint8_t *data, size_t size) {
  uint32_t a = 1, b = 0;
  for (size_t i = 0; i < size; ++i) {
    a = (a + data[i]) % 65521;
    b = (b + a) % 65521;
  }
  return (b << 16) | a;
}

std::vector<uint8_t> flowrt::encodePng(const std::vector<uint8_t> &gray,
                                       int64_t width, int64_t height) {
  if (width <= 0 || height <= 0 ||
      gray.size() != static_cast<size_t>(width * height))
    throw std::invalid_argument("encodePng: pixels do not match the size");
  std::vector<uint8_t> png = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};

  std::vector<uint8_t> header;
  putU32(header, static_cast<uint32_t>(width));
  putU32(header, static_cast<uint32_t>(height));
  header.insert(header.end(), {8, 0, 0, 0, 0}); // 8-bit gray, no interlace
  putChunk(png, "IHDR", header);

  // Each row starts with filter type 0 (none).
  std::vector<uint8_t> raw;
  raw.reserve(static_cast<size_t>((width + 1) * height));
  for (int64_t y = 0; y < height; ++y) {
    raw.push_back(0);
    raw.insert(raw.end(), gray.begin() + y * width,
               gray.begin() + (y + 1) * width);
  }
  putChunk(png, "IDAT", zlibStream(raw));
  putChunk(png, "IEND", {});
  return png;
}

void flowrt::writePng(const std::string &path, const std::vector<uint8_t> &gray,
                      int64_t width, int64_t height) {
  std::vector<uint8_t> png = encodePng(gray, width, height);
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char *>(png.data()),
            static_cast<std::streamsize>(png.size()));
  if (!out)
    throw std::runtime_error("cannot write " + path);
}

std::vector<uint8_t> flowrt::renderScatter(const torch::Tensor &points,
                                           int64_t size, double lo, double hi) {
  if (points.dim() != 2 || points.size(1) < 2)
    throw std::invalid_argument("a plot needs points with 2 or more columns");
  torch::Tensor p =
      points.detach().to(torch::kCPU, torch::kDouble).contiguous();
  auto acc = p.accessor<double, 2>();
  std::vector<int64_t> counts(static_cast<size_t>(size * size), 0);
  double scale = size / (hi - lo);
  for (int64_t i = 0; i < p.size(0); ++i) {
    double col = (acc[i][0] - lo) * scale;
    double row = (hi - acc[i][1]) * scale; // y grows upwards
    if (!(col >= 0 && col < size && row >= 0 && row < size))
      continue; // outside, or NaN
    ++counts[static_cast<size_t>(static_cast<int64_t>(row) * size +
                                 static_cast<int64_t>(col))];
  }
  int64_t maxCount = *std::max_element(counts.begin(), counts.end());
  std::vector<uint8_t> gray(counts.size(), 255);
  if (maxCount == 0)
    return gray;
  // A lone point is already dark (gray 55 or less); density darkens it.
  double logMax = std::log1p(static_cast<double>(maxCount));
  for (size_t i = 0; i < counts.size(); ++i) {
    if (counts[i] == 0)
      continue;
    double density = std::log1p(static_cast<double>(counts[i])) / logMax;
    gray[i] = static_cast<uint8_t>(std::lround(55 * (1 - density)));
  }
  return gray;
}

std::vector<uint8_t> flowrt::renderImageGrid(const torch::Tensor &images, int64_t height,
                                             int64_t width, int64_t columns, int64_t zoom,
                                             int64_t &gridWidth, int64_t &gridHeight) {
  int64_t n = images.size(0);
  int64_t rows = (n + columns - 1) / columns;
  int64_t cellW = width * zoom + 1, cellH = height * zoom + 1;
  gridWidth = columns * cellW + 1;
  gridHeight = rows * cellH + 1;
  std::vector<uint8_t> gray(size_t(gridWidth * gridHeight), 0);
  torch::Tensor pixels =
      ((images.to(torch::kFloat).clamp(-1, 1) + 1) * 127.5).round().to(torch::kUInt8).contiguous();
  const uint8_t *p = pixels.data_ptr<uint8_t>();
  for (int64_t i = 0; i < n; ++i) {
    int64_t x0 = (i % columns) * cellW + 1, y0 = (i / columns) * cellH + 1;
    for (int64_t y = 0; y < height * zoom; ++y)
      for (int64_t x = 0; x < width * zoom; ++x)
        gray[size_t((y0 + y) * gridWidth + x0 + x)] =
            p[i * height * width + (y / zoom) * width + x / zoom];
  }
  return gray;
}
