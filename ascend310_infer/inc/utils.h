/**
 * File helpers of the TSM offline-inference application: list the clip files, read and write raw tensors.
 * Every failure throws std::runtime_error naming the file.
 */
#ifndef TSM_INFER_UTILS_H_
#define TSM_INFER_UTILS_H_

#include <string>
#include <vector>

namespace tsm {

/// Regular files ending in `suffix` directly under `dir`, sorted by name.
std::vector<std::string> ListFiles(const std::string &dir, const std::string &suffix);

/// The whole file; it must hold exactly `expected_size` bytes.
std::vector<char> ReadExactly(const std::string &path, size_t expected_size);

/// Write `size` bytes to `path` (replaced if present).
void WriteFile(const std::string &path, const void *data, size_t size);

/// `dir` created with its parents if missing.
void MakeDirs(const std::string &dir);

/// The file name without its folder and extension: "/a/clip_000003.bin" -> "clip_000003".
std::string Stem(const std::string &path);

}  // namespace tsm

#endif  // TSM_INFER_UTILS_H_
