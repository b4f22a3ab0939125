//===- WritersTest.cpp - .npy and PNG files, byte by byte -----------------===//
//
// Checks the writers against the file formats themselves: the .npy header is
// parsed by hand and the data compared bit for bit; the PNG is walked chunk by
// chunk, CRCs recomputed (the CRC and Adler routines are first pinned to
// published check values), the image data inflated by zlib (an independent
// decoder) and the pixel rows compared with the image that was encoded.
//
//===----------------------------------------------------------------------===//

#include "Writers.h"
#include "TestProgram.h"

#include <gtest/gtest.h>

#include <cstring>
#include <zlib.h>
#include <fstream>
#include <iterator>

using namespace flowrt;

namespace {

std::vector<uint8_t> readBytes(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

/// `stream` (zlib format) decoded with zlib's uncompress, `size` bytes.
std::vector<uint8_t> inflate(const std::vector<uint8_t> &stream, size_t size) {
  std::vector<uint8_t> out(size + 1);
  uLongf got = out.size();
  EXPECT_EQ(Z_OK, uncompress(out.data(), &got, stream.data(), stream.size()));
  out.resize(got);
  return out;
}

uint32_t readU32(const std::vector<uint8_t> &b, size_t at) {
  return (uint32_t(b[at]) << 24) | (uint32_t(b[at + 1]) << 16) |
         (uint32_t(b[at + 2]) << 8) | uint32_t(b[at + 3]);
}

} // namespace

TEST(Npy, RoundTripWithHandParsedHeader) {
  flowrt_test::ScratchDir dir;
  torch::Tensor values = torch::randn({7, 3});
  std::string path = dir.str("a.npy");
  writeNpy(path, values);

  std::vector<uint8_t> bytes = readBytes(path);
  ASSERT_GE(bytes.size(), 10u);
  EXPECT_EQ(0, std::memcmp(bytes.data(), "\x93NUMPY", 6));
  EXPECT_EQ(1, bytes[6]); // format 1.0
  EXPECT_EQ(0, bytes[7]);
  size_t headerLen = bytes[8] | (bytes[9] << 8);
  EXPECT_EQ(0u, (10 + headerLen) % 64) << "data must start 64-aligned";
  std::string header(bytes.begin() + 10, bytes.begin() + 10 + headerLen);
  EXPECT_NE(std::string::npos, header.find("'descr': '<f4'"));
  EXPECT_NE(std::string::npos, header.find("'fortran_order': False"));
  EXPECT_NE(std::string::npos, header.find("'shape': (7, 3)"));
  EXPECT_EQ('\n', header.back());
  ASSERT_EQ(10 + headerLen + 7 * 3 * sizeof(float), bytes.size());
  EXPECT_EQ(0, std::memcmp(bytes.data() + 10 + headerLen,
                           values.data_ptr<float>(), 7 * 3 * sizeof(float)));

  torch::Tensor back = readNpy(path);
  ASSERT_EQ(back.sizes(), values.sizes());
  EXPECT_EQ(0.0, (back - values).abs().max().item<double>());
}

TEST(Npy, OneDimensionalShape) {
  flowrt_test::ScratchDir dir;
  torch::Tensor values = torch::arange(5, torch::kFloat);
  writeNpy(dir.str("b.npy"), values);
  torch::Tensor back = readNpy(dir.str("b.npy"));
  ASSERT_EQ(1, back.dim());
  EXPECT_EQ(5, back.size(0));
  EXPECT_FLOAT_EQ(4.0f, back[4].item<float>());
}

TEST(Checksums, PublishedCheckValues) {
  const char *digits = "123456789";
  EXPECT_EQ(0xCBF43926u, crc32(reinterpret_cast<const uint8_t *>(digits), 9));
  const char *wiki = "Wikipedia";
  EXPECT_EQ(0x11E60398u, adler32(reinterpret_cast<const uint8_t *>(wiki), 9));
}

TEST(Png, StoredBlocksInflateToTheInput) {
  // 90300 bytes: two stored blocks, the stream without zlib's deflate.
  std::vector<uint8_t> raw(90300);
  for (size_t i = 0; i < raw.size(); ++i)
    raw[i] = static_cast<uint8_t>(i * 31 % 251);
  std::vector<uint8_t> stream = zlibStored(raw);
  EXPECT_EQ(2 + 2 * 5 + raw.size() + 4, stream.size()) << "two 5-byte block headers";
  EXPECT_EQ(raw, inflate(stream, raw.size()));
}

TEST(Png, ChunksCrcsAndDeflatedRowsDecodeToThePixels) {
  // 300 x 300 makes 90300 raw bytes: two stored blocks.
  constexpr int64_t W = 300, H = 300;
  std::vector<uint8_t> gray(W * H);
  for (int64_t i = 0; i < W * H; ++i)
    gray[i] = static_cast<uint8_t>((i * 7 + i / W) % 256);
  std::vector<uint8_t> png = encodePng(gray, W, H);

  const uint8_t signature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  ASSERT_EQ(0, std::memcmp(png.data(), signature, 8));
  std::vector<std::string> types;
  std::vector<uint8_t> idat;
  size_t at = 8;
  while (at < png.size()) {
    uint32_t len = readU32(png, at);
    std::string type(png.begin() + at + 4, png.begin() + at + 8);
    types.push_back(type);
    EXPECT_EQ(readU32(png, at + 8 + len), crc32(png.data() + at + 4, 4 + len))
        << "CRC of " << type;
    if (type == "IHDR") {
      EXPECT_EQ(13u, len);
      EXPECT_EQ(uint32_t(W), readU32(png, at + 8));
      EXPECT_EQ(uint32_t(H), readU32(png, at + 12));
      EXPECT_EQ(8, png[at + 16]); // bit depth
      EXPECT_EQ(0, png[at + 17]); // grayscale
    }
    if (type == "IDAT")
      idat.insert(idat.end(), png.begin() + at + 8, png.begin() + at + 8 + len);
    at += 12 + len;
  }
  EXPECT_EQ(png.size(), at);
  ASSERT_EQ((std::vector<std::string>{"IHDR", "IDAT", "IEND"}), types);

  // The image data decoded by zlib itself, an independent inflater.
  std::vector<uint8_t> raw = inflate(idat, size_t((W + 1) * H));
  EXPECT_LT(idat.size(), raw.size() / 2) << "the pattern compresses";
  ASSERT_EQ(size_t((W + 1) * H), raw.size());
  for (int64_t y = 0; y < H; ++y) {
    ASSERT_EQ(0, raw[y * (W + 1)]) << "filter of row " << y;
    ASSERT_EQ(0, std::memcmp(&raw[y * (W + 1) + 1], &gray[y * W], W))
        << "row " << y;
  }
}

TEST(Png, ScatterPutsPointsWhereTheyBelong) {
  // (0, 0) is the centre; (-3.99, 3.99) the top-left corner (y up).
  torch::Tensor points = torch::tensor(
      {{0.0f, 0.0f}, {0.0f, 0.0f}, {-3.99f, 3.99f}, {9.0f, 0.0f}});
  std::vector<uint8_t> gray = renderScatter(points, 512);
  EXPECT_EQ(0, gray[256 * 512 + 256]); // densest pixel is black
  EXPECT_LT(gray[0 * 512 + 0], 60);    // single point: dark
  EXPECT_GT(gray[0 * 512 + 0], 0);     // ... lighter than the densest
  int64_t dark = 0;
  for (uint8_t g : gray)
    dark += g < 255;
  EXPECT_EQ(2, dark) << "(9, 0) is outside [-4, 4]^2";
}
