//===- Writers.h - Sample files: NumPy arrays and PNG plots -----*- C++ -*-===//
//
// Writers for what `sample` produces: `.npy` arrays (NumPy format version
// 1.0, little-endian float32) and PNG images (8-bit grayscale, deflated with
// zlib where the runtime has it, else in stored blocks), plus the 2-D
// histogram that turns points into a picture. The readers and checksums are
// public so tests can check the files byte by byte.
//
//===----------------------------------------------------------------------===//
#ifndef FLOWRT_WRITERS_H
#define FLOWRT_WRITERS_H

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <vector>

namespace flowrt {

/// Writes a tensor of any rank >= 1 as a float32 C-order `.npy` file.
void writeNpy(const std::string &path, const torch::Tensor &values);

/// Reads a little-endian C-order `.npy` file (format 1.0 to 3.0) of
/// float32, float64, uint8, int32 or int64, in that type.
torch::Tensor readNpy(const std::string &path);

/// Points [n, dim] (float32) from a `.npy` file of n >= 1 points of `dim`
/// values each ([n, ...] of any rank, or [n] when dim is 1). Throws
/// std::runtime_error naming the file for anything else: `what` names
/// whose shape the points must have ("the flow's samples").
torch::Tensor readPointRows(const std::string &path, int64_t dim, const std::string &what);

/// Writes samples [n, D] as text, one per line (TextFiles.cpp): token ids
/// (vocab > 0, values rounded, at least 0) as the characters of `alphabet`
/// with its first character, padding, dropped from the end of each line
/// ("cat" for ids 3 1 20 0 0; an id past the alphabet, such as a mask, as
/// '?'), or, without an alphabet, as numbers separated by spaces (all
/// samples without a vocabulary).
void writeTextRows(const std::string &path, const torch::Tensor &rows, int64_t vocab,
                   const char *alphabet);

/// Writes a command's metrics as one line of JSON (`--metrics-json`;
/// TextFiles.cpp), non-finite numbers as null.
void writeMetricsJson(const std::string &path, const nlohmann::ordered_json &metrics);

/// CRC-32 (ISO 3309, as PNG uses it) of `size` bytes, continuing `crc`.
uint32_t crc32(const uint8_t *data, size_t size, uint32_t crc = 0);

/// Adler-32 (RFC 1950) of `size` bytes.
uint32_t adler32(const uint8_t *data, size_t size);

/// A zlib stream (RFC 1950) of `raw` in stored (uncompressed) deflate
/// blocks: PNG's image data where the runtime has no zlib.
std::vector<uint8_t> zlibStored(const std::vector<uint8_t> &raw);

/// A PNG file of an 8-bit grayscale image, rows top to bottom.
std::vector<uint8_t> encodePng(const std::vector<uint8_t> &gray, int64_t width,
                               int64_t height);

/// Writes encodePng's bytes to `path`.
void writePng(const std::string &path, const std::vector<uint8_t> &gray,
              int64_t width, int64_t height);

/// A size x size grayscale picture of the first two columns of `points`
/// over [lo, hi]^2 (y up): white background, darker where more points fall
/// (log-scaled counts, so sparse regions stay visible). Points outside the
/// square are left out.
std::vector<uint8_t> renderScatter(const torch::Tensor &points, int64_t size,
                                   double lo = -4, double hi = 4);

/// A grid of grayscale images: `images` is [n, H * W] with pixels in
/// [-1, 1] (black to white; values outside are clipped), laid out row by row
/// in `columns` columns with a 1-pixel black border, each image enlarged by
/// `zoom` (nearest neighbour). Returns the pixels and sets width, height.
std::vector<uint8_t> renderImageGrid(const torch::Tensor &images, int64_t height,
                                     int64_t width, int64_t columns, int64_t zoom,
                                     int64_t &gridWidth, int64_t &gridHeight);

} // namespace flowrt

#endif // FLOWRT_WRITERS_H
