//===- Files.h - Paths and directories without std::filesystem --*- C++ -*-===//
//
// The few file-system operations the runtime needs, on POSIX calls. The
// torch wheel's libtorch.so exports its own copies of std::filesystem's free
// functions (remove_all, create_directories, status, ...), built against
// another libstdc++; in a program linked with it they interpose the system's
// and can crash (remove_all jumps to a null pointer with torch 2.11 and
// GCC 12). So nothing linked with LibTorch here calls std::filesystem.
//
//===----------------------------------------------------------------------===//
#ifndef FLOWRT_FILES_H
#define FLOWRT_FILES_H

#include <string>
#include <vector>

namespace flowrt {

/// `dir/name` (just `name` if dir is empty).
std::string joinPath(const std::string &dir, const std::string &name);

/// Whether anything exists at `path`.
bool pathExists(const std::string &path);

/// Creates `path` and its missing parents (mkdir -p); throws
/// std::runtime_error naming the path on failure.
void makeDirectories(const std::string &path);

/// The names in directory `dir` (not "." and ".."); empty when it cannot be
/// read.
std::vector<std::string> listDirectory(const std::string &dir);

/// Copies the file `from` to `to` (replacing it); throws std::runtime_error
/// naming the file on failure.
void copyFile(const std::string &from, const std::string &to);

/// Removes the file `path`; throws std::runtime_error naming it on failure.
void removeFile(const std::string &path);

/// The extension of the last component, with its dot ("" if none).
std::string extensionOf(const std::string &path);

} // namespace flowrt

#endif // FLOWRT_FILES_H
