//===- ArrayFilesTest.cpp - .npy, .csv and IDX files, and file data -------===//
//
// Each reader against bytes written here by hand from the format's
// definition (the .npy header dict, IDX's big-endian header and values, CSV
// text), and the file data set against its spec: pixel scaling, shapes up
// to size-1 dimensions, and the errors that name the file and both shapes.
//
//===----------------------------------------------------------------------===//

#include "ArrayFiles.h"
#include "Data.h"
#include "TestProgram.h"
#include "Writers.h"

#include <gtest/gtest.h>

#include <cstring>
#include <fstream>

using namespace flowrt;

namespace {

void writeBytes(const std::string &path, const std::string &bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

/// A .npy file (format 1.0) of `descr` values with `shape`.
std::string npyBytes(const std::string &descr, const std::string &shape, const void *data,
                     size_t size) {
  std::string header = "{'descr': '" + descr + "', 'fortran_order': False, 'shape': (" + shape +
                       "), }";
  header.append(63 - (10 + header.size()) % 64, ' ');
  header += '\n';
  std::string bytes("\x93NUMPY\x01\x00", 8);
  bytes += char(header.size() & 0xff);
  bytes += char(header.size() >> 8);
  return bytes + header + std::string(static_cast<const char *>(data), size);
}

/// An IDX header: 0, 0, type, rank, then each dimension big-endian.
std::string idxHeader(uint8_t type, std::vector<uint32_t> dims) {
  std::string bytes = {0, 0, char(type), char(dims.size())};
  for (uint32_t d : dims)
    for (int shift = 24; shift >= 0; shift -= 8)
      bytes += char((d >> shift) & 0xff);
  return bytes;
}

std::string errorOf(const std::function<void()> &fn) {
  try {
    fn();
  } catch (const std::exception &e) {
    return e.what();
  }
  return "(no error)";
}

} // namespace

TEST(ArrayFiles, NpyKeepsItsElementType) {
  flowrt_test::ScratchDir dir;
  double doubles[] = {1.5, -2.25, 3, 4, 5, 6};
  writeBytes(dir.str("d.npy"), npyBytes("<f8", "3, 2", doubles, sizeof doubles));
  torch::Tensor d = readArrayFile(dir.str("d.npy"));
  EXPECT_EQ(d.scalar_type(), torch::kDouble);
  EXPECT_EQ(d.sizes(), (std::vector<int64_t>{3, 2}));
  EXPECT_EQ(d[0][1].item<double>(), -2.25);
  uint8_t bytes[] = {0, 255, 7, 8};
  writeBytes(dir.str("b.npy"), npyBytes("|u1", "4,", bytes, sizeof bytes));
  torch::Tensor b = readArrayFile(dir.str("b.npy"));
  EXPECT_EQ(b.scalar_type(), torch::kUInt8);
  EXPECT_EQ(b[1].item<int>(), 255);
  writeBytes(dir.str("c.npy"), npyBytes("<c8", "1,", doubles, 8));
  EXPECT_NE(errorOf([&] { readArrayFile(dir.str("c.npy")); }).find("only C-order arrays"),
            std::string::npos);
}

TEST(ArrayFiles, IdxIsBigEndian) {
  flowrt_test::ScratchDir dir;
  // float32 1.0 and -2.5 big-endian: 3f800000, c0200000.
  std::string floats = idxHeader(0x0D, {2, 1}) + std::string("\x3f\x80\x00\x00\xc0\x20\x00\x00", 8);
  writeBytes(dir.str("f.idx"), floats);
  torch::Tensor f = readIdx(dir.str("f.idx"));
  EXPECT_EQ(f.scalar_type(), torch::kFloat);
  EXPECT_EQ(f.sizes(), (std::vector<int64_t>{2, 1}));
  EXPECT_EQ(f[0][0].item<float>(), 1.0f);
  EXPECT_EQ(f[1][0].item<float>(), -2.5f);
  // int16 0x0102 = 258.
  writeBytes(dir.str("s.idx"), idxHeader(0x0B, {1}) + std::string("\x01\x02", 2));
  EXPECT_EQ(readIdx(dir.str("s.idx"))[0].item<int>(), 258);
  writeBytes(dir.str("short.idx"), idxHeader(0x08, {2, 2}) + std::string("\x01\x02\x03", 3));
  EXPECT_NE(errorOf([&] { readIdx(dir.str("short.idx")); })
                .find("promises 4 values of 1 bytes but the file holds 3 bytes"),
            std::string::npos);
  writeBytes(dir.str("x.dat"), "hello");
  EXPECT_NE(errorOf([&] { readArrayFile(dir.str("x.dat")); }).find("is not an IDX file"),
            std::string::npos);
}

TEST(ArrayFiles, IdxDimensionsThatOverflowAreRefused) {
  // 65536^4 = 2^64 wraps to 0 in 64 bits, which matched an empty payload
  // and passed the size check before the product was bounded.
  flowrt_test::ScratchDir dir;
  writeBytes(dir.str("huge.idx"), idxHeader(0x08, {65536, 65536, 65536, 65536}));
  std::string error = errorOf([&] { readIdx(dir.str("huge.idx")); });
  EXPECT_NE(error.find("promise more values than any file holds"), std::string::npos) << error;
  // (2^32 - 1)^2 values fit in 64 bits; of 4 bytes each they do not.
  writeBytes(dir.str("big.idx"), idxHeader(0x0D, {0xFFFFFFFFu, 0xFFFFFFFFu}) + "abcd");
  EXPECT_NE(errorOf([&] { readIdx(dir.str("big.idx")); }).find("promise more bytes"),
            std::string::npos);
}

TEST(ArrayFiles, CsvSkipsAHeaderAndNamesBadLines) {
  flowrt_test::ScratchDir dir;
  writeBytes(dir.str("a.csv"), "x,y\n1,2\r\n3.5, -4e1\n\n5,6\n");
  torch::Tensor a = readCsv(dir.str("a.csv"));
  EXPECT_EQ(a.sizes(), (std::vector<int64_t>{3, 2}));
  EXPECT_EQ(a[1][1].item<double>(), -40.0);
  writeBytes(dir.str("bad.csv"), "1,2\n3,oops\n");
  EXPECT_NE(errorOf([&] { readCsv(dir.str("bad.csv")); }).find("bad.csv:2: 'oops' is not a number"),
            std::string::npos);
  writeBytes(dir.str("ragged.csv"), "1,2\n3,4,5\n");
  EXPECT_NE(errorOf([&] { readCsv(dir.str("ragged.csv")); })
                .find("ragged.csv:2: 3 values, but the lines before have 2"),
            std::string::npos);
}

TEST(FileData, BytesArePixelsAndShapesAreChecked) {
  flowrt_test::ScratchDir dir;
  // 3 images of 2x2 bytes ([3, 2, 2]) for a spec's [1, 2, 2].
  std::string pixels = idxHeader(0x08, {3, 2, 2});
  for (int i = 0; i < 12; ++i)
    pixels += char(i == 0 ? 0 : i == 1 ? 255 : 51);
  writeBytes(dir.str("img.idx"), pixels);
  writeBytes(dir.str("lab.idx"), idxHeader(0x08, {3}) + std::string("\x00\x02\x01", 3));
  int64_t shape[] = {1, 2, 2};
  std::string path = dir.str("img.idx"), labels = dir.str("lab.idx");
  flowrt_data_desc desc{};
  desc.generator = "file";
  desc.dim = 4;
  desc.rank = 3;
  desc.shape = shape;
  desc.path = path.c_str();
  desc.labels_path = labels.c_str();
  desc.classes = 3;
  std::unique_ptr<DataSet> data = makeDataSet(desc);
  Batch all = *data->all();
  EXPECT_EQ(all.x.sizes(), (std::vector<int64_t>{3, 4}));
  EXPECT_FLOAT_EQ(all.x[0][0].item<float>(), -1.0f); // 0 -> -1
  EXPECT_FLOAT_EQ(all.x[0][1].item<float>(), 1.0f);  // 255 -> 1
  EXPECT_FLOAT_EQ(all.x[1][0].item<float>(), 51 / 127.5f - 1);
  EXPECT_EQ(all.labels[1].item<float>(), 2.0f);
  Batch batch = data->draw(50, 9);
  EXPECT_TRUE(batch.x.equal(data->draw(50, 9).x)); // a function of the stream
  // Each drawn row is one of the file's, with its label.
  for (int64_t i = 0; i < 50; ++i) {
    int64_t row = batch.labels[i].item<int64_t>() == 0 ? 0 : batch.labels[i].item<int64_t>() == 2 ? 1 : 2;
    EXPECT_TRUE(batch.x[i].equal(all.x[row]));
  }

  desc.classes = 2;
  EXPECT_NE(errorOf([&] { makeDataSet(desc); })
                .find("label 2.000000 of sample 1 is not a class 0 .. 1 (the spec says classes: 2)"),
            std::string::npos);
  int64_t wrong[] = {1, 4, 1};
  desc.shape = wrong;
  desc.labels_path = nullptr;
  desc.classes = 0;
  std::string message = errorOf([&] { makeDataSet(desc); });
  EXPECT_NE(message.find("img.idx holds an array of shape [3, 2, 2]: 3 samples of shape [2, 2], "
                         "but the spec's file(...) says samples of shape [1, 4, 1] (4 values each)"),
            std::string::npos)
      << message;
  std::string missing = dir.str("none.npy");
  desc.path = missing.c_str();
  EXPECT_NE(errorOf([&] { makeDataSet(desc); }).find("cannot find the data file"),
            std::string::npos);
}

TEST(FileData, ConditionsAreDrawnWithTheirSamples) {
  flowrt_test::ScratchDir dir;
  // Sample i is (i, -i); its condition (10 i, 10 i + 1, 10 i + 2).
  torch::Tensor i = torch::arange(6, torch::kFloat).reshape({6, 1});
  writeNpy(dir.str("x.npy"), torch::cat({i, -i}, 1));
  writeNpy(dir.str("c.npy"), torch::cat({10 * i, 10 * i + 1, 10 * i + 2}, 1).reshape({6, 3, 1}));
  int64_t condShape[] = {3, 1};
  std::string x = dir.str("x.npy"), c = dir.str("c.npy");
  flowrt_data_desc desc{};
  desc.generator = "file";
  desc.dim = 2;
  desc.path = x.c_str();
  desc.cond_path = c.c_str();
  desc.cond_dim = 3;
  desc.cond_rank = 2;
  desc.cond_shape = condShape;
  std::unique_ptr<DataSet> data = makeDataSet(desc);
  Batch batch = data->draw(40, 3);
  ASSERT_EQ(batch.conds.sizes(), (std::vector<int64_t>{40, 3}));
  for (int64_t k = 0; k < 40; ++k) {
    float row = batch.x[k][0].item<float>();
    EXPECT_FLOAT_EQ(batch.conds[k][0].item<float>(), 10 * row);
    EXPECT_FLOAT_EQ(batch.conds[k][2].item<float>(), 10 * row + 2);
  }
  // `sample --cond` reads conditions the same way, checked against the shape.
  EXPECT_TRUE(readConditions(c, desc).equal(data->all()->conds));
  writeNpy(dir.str("short.npy"), torch::zeros({5, 3}));
  std::string shortPath = dir.str("short.npy");
  desc.cond_path = shortPath.c_str();
  EXPECT_NE(errorOf([&] { makeDataSet(desc); })
                .find("short.npy holds 5 conditions, but " + x + " holds 6 samples"),
            std::string::npos);
  writeNpy(dir.str("wide.npy"), torch::zeros({6, 4}));
  EXPECT_NE(errorOf([&] { readConditions(dir.str("wide.npy"), desc); })
                .find("conditions file " + dir.str("wide.npy") +
                      " holds an array of shape [6, 4]: 6 conditions of shape [4], but the "
                      "spec's file(...) says conditions of shape [3, 1] (3 values each)"),
            std::string::npos);
}
