//===- Files.cpp - Paths and directories without std::filesystem ----------===//
//
// Implements Files.h with POSIX calls (stat, mkdir, opendir, unlink) and
// streams; see there for why.
//
//===----------------------------------------------------------------------===//

#include "Files.h"

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <cstdio>
#include <dirent.h>
#include <fstream>
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

std::vector<std::string> flowrt::listDirectory(const std::string &dir) {
  std::vector<std::string> names;
  DIR *d = ::opendir(dir.c_str());
  if (!d)
    return names;
  while (const dirent *entry = ::readdir(d)) {
    std::string name = entry->d_name;
    if (name != "." && name != "..")
      names.push_back(name);
  }
  ::closedir(d);
  return names;
}

void flowrt::copyFile(const std::string &from, const std::string &to) {
  std::ifstream in(from, std::ios::binary);
  std::ofstream out(to, std::ios::binary | std::ios::trunc);
  if (!in || !out || !(out << in.rdbuf()) || !out.flush())
    throw std::runtime_error("cannot copy " + from + " to " + to);
}

void flowrt::removeFile(const std::string &path) {
  if (std::remove(path.c_str()) != 0)
    throw std::runtime_error("cannot remove " + path + ": " + std::strerror(errno));
}
