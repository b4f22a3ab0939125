//===- Files.cpp - Paths and directories without std::filesystem ----------===//
//
// Implements Files.h with stat(2) and mkdir(2); see there for why.
//
//===----------------------------------------------------------------------===//

#include "Files.h"

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <sys/stat.h>

std::string flowrt::joinPath(const std::string &dir, const std::string &name) {
  if (dir.empty())
    return name;
  return dir.back() == '/' ? dir + name : dir + "/" + name;
}

bool flowrt::pathExists(const std::string &path) {
  struct stat info;
  return ::stat(path.c_str(), &info) == 0;
}

void flowrt::makeDirectories(const std::string &path) {
  // Create each prefix ending before a '/', then the whole path.
  for (size_t slash = path.find('/', 1);; slash = path.find('/', slash + 1)) {
    std::string prefix = path.substr(0, slash);
    if (!prefix.empty() && ::mkdir(prefix.c_str(), 0777) != 0 &&
        errno != EEXIST)
      throw std::runtime_error("cannot create directory " + prefix + ": " +
                               std::strerror(errno));
    if (slash == std::string::npos)
      break;
  }
  struct stat info;
  if (::stat(path.c_str(), &info) != 0 || !S_ISDIR(info.st_mode))
    throw std::runtime_error("cannot create directory " + path +
                             ": a file is in the way");
}

std::string flowrt::extensionOf(const std::string &path) {
  size_t slash = path.find_last_of('/');
  size_t dot = path.find_last_of('.');
  if (dot == std::string::npos || (slash != std::string::npos && dot < slash) ||
      dot == (slash == std::string::npos ? 0 : slash + 1))
    return "";
  return path.substr(dot);
}
