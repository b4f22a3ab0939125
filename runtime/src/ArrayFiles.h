//===- ArrayFiles.h - Arrays from .npy, .csv and IDX files ------*- C++ -*-===//
//
// Reads the files users keep data in: NumPy's .npy, comma-separated text
// (.csv, optionally gzipped) and the IDX format of MNIST and its kin (plain
// or gzipped). Each gives one tensor in the file's own element type, so the
// caller decides how bytes become values (pixels are scaled, floats kept).
//
//===----------------------------------------------------------------------===//
#ifndef FLOWRT_ARRAYFILES_H
#define FLOWRT_ARRAYFILES_H

#include <torch/torch.h>

#include <string>

namespace flowrt {

/// The whole of a gzip file, or of a plain file (zlib passes it through).
/// Throws std::runtime_error when it cannot be read.
std::string readGzip(const std::string &path);

/// An IDX file (plain or gzipped): unsigned or signed bytes, int16, int32,
/// float32 or float64 (big-endian), in that type and the header's shape.
torch::Tensor readIdx(const std::string &path);

/// A .csv (or .csv.gz) file of numbers, one sample per line, as float64
/// [lines, values]. A first line that is not all numbers is a header and is
/// skipped; a line with a different count of values or a field that is not
/// a number is an error naming its line.
torch::Tensor readCsv(const std::string &path);

/// Any of the above by the file's name: `.npy`, `.csv`/`.csv.gz`, else IDX
/// (which its header must confirm). Errors say which file and why.
torch::Tensor readArrayFile(const std::string &path);

/// "[a, b, c]".
std::string shapeString(at::IntArrayRef shape);

} // namespace flowrt

#endif // FLOWRT_ARRAYFILES_H
