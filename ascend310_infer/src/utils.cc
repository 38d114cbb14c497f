#include "utils.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <system_error>

namespace fs = std::filesystem;

namespace tsm {

std::vector<std::string> ListFiles(const std::string &dir, const std::string &suffix) {
  std::error_code error;
  if (!fs::is_directory(dir, error)) {
    throw std::runtime_error("input folder not found: " + dir);
  }
  std::vector<std::string> files;
  for (const auto &entry : fs::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    if (entry.is_regular_file() && name.size() > suffix.size() &&
        name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0) {
      files.push_back(entry.path().string());
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
  std::error_code error;
  fs::create_directories(dir, error);
  if (error || !fs::is_directory(dir)) {
    throw std::runtime_error("cannot create folder " + dir + ": " + error.message());
  }
}

std::string Stem(const std::string &path) { return fs::path(path).stem().string(); }

}  // namespace tsm
