// C++14 and POSIX only (dirent.h, sys/stat.h): GCC 7.3, the Ascend toolkits' compiler, has no <filesystem>.
#include "utils.h"

#include <dirent.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <memory>
#include <stdexcept>

namespace tsm {

namespace {

bool IsDirectory(const std::string &path) {
  struct stat info;
  return stat(path.c_str(), &info) == 0 && S_ISDIR(info.st_mode);
}

bool IsRegularFile(const std::string &path) {
  struct stat info;
  return stat(path.c_str(), &info) == 0 && S_ISREG(info.st_mode);
}

bool EndsWith(const std::string &text, const std::string &suffix) {
  return text.size() > suffix.size() && text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

std::vector<std::string> ListFiles(const std::string &dir, const std::string &suffix) {
  if (!IsDirectory(dir)) {
    throw std::runtime_error("input folder not found: " + dir);
  }
  std::unique_ptr<DIR, int (*)(DIR *)> folder(opendir(dir.c_str()), closedir);
  if (!folder) {
    throw std::runtime_error("cannot open folder " + dir + ": " + std::strerror(errno));
  }
  std::vector<std::string> files;
  for (;;) {
    errno = 0;  // readdir returns nullptr both at the end and on an error; only errno tells them apart
    const struct dirent *entry = readdir(folder.get());
    if (entry == nullptr) {
      if (errno != 0) throw std::runtime_error("cannot list folder " + dir + ": " + std::strerror(errno));
      break;
    }
    const std::string name = entry->d_name;
    const std::string path = dir + "/" + name;
    if (EndsWith(name, suffix) && IsRegularFile(path)) {  // stat follows symlinks, as is_regular_file did
      files.push_back(path);
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

std::vector<char> ReadExactly(const std::string &path, size_t expected_size) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) {
    throw std::runtime_error("cannot open " + path);
  }
  const std::streamoff end = in.tellg();  // -1 when the stream cannot seek (not a regular file)
  if (end < 0) {
    throw std::runtime_error("cannot determine the size of " + path);
  }
  const auto size = static_cast<size_t>(end);
  if (size != expected_size) {
    throw std::runtime_error(path + " holds " + std::to_string(size) + " bytes, the model input takes " +
                             std::to_string(expected_size) +
                             " (preprocess with the model's batch size 1, num_segments, crop_size and input_dtype)");
  }
  std::vector<char> data(size);
  in.seekg(0);
  if (!in.read(data.data(), static_cast<std::streamsize>(size))) {
    throw std::runtime_error("cannot read " + path);
  }
  return data;
}

void WriteFile(const std::string &path, const void *data, size_t size) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out.write(static_cast<const char *>(data), static_cast<std::streamsize>(size)) || !out.flush()) {
    throw std::runtime_error("cannot write " + path);
  }
}

void MakeDirs(const std::string &dir) {
  // Create each missing prefix ending before a '/', then `dir` itself ("a/b/c": "a", "a/b", "a/b/c").
  for (size_t end = dir.find('/', 1);; end = dir.find('/', end + 1)) {
    const std::string prefix = dir.substr(0, end);
    if (!prefix.empty() && mkdir(prefix.c_str(), 0755) != 0 && errno != EEXIST) {
      throw std::runtime_error("cannot create folder " + prefix + ": " + std::strerror(errno));
    }
    if (end == std::string::npos) break;
  }
  if (!IsDirectory(dir)) {
    throw std::runtime_error("cannot create folder " + dir + ": a file of that name is in the way");
  }
}

std::string Stem(const std::string &path) {
  const size_t slash = path.find_last_of('/');
  const std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
  const size_t dot = name.find_last_of('.');
  // as std::filesystem::path::stem: ".bin" (a dot first) and "clip" (no dot) keep their whole name
  return dot == std::string::npos || dot == 0 ? name : name.substr(0, dot);
}

}  // namespace tsm
