#include "agent/spare_files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include <fmt/format.h>

#include "common/files.h"

namespace kojo::agent {

namespace {

// Overwrites every byte of the file with a space, in place.
bool Blank(const std::string& path) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) return false;
  return WriteFileInPlace(path, std::string(static_cast<size_t>(st.st_size), ' '));
}

}  // namespace

SpareFiles::SpareFiles(std::string dir, size_t max_files) : dir_(std::move(dir)), max_files_(max_files) {
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir_, ec)) {
    if (files_.size() >= max_files_) {
      std::filesystem::remove(entry.path(), ec);
      continue;
    }
    files_.push_back(entry.path().string());
    next_ = std::max(next_, std::strtoull(entry.path().filename().c_str(), nullptr, 10) + 1);
  }
}

bool SpareFiles::Take(const std::string& path) {
  std::string name;
  {
    std::lock_guard lock(mu_);
    if (!files_.empty()) {
      name = std::move(files_.back());
      files_.pop_back();
    }
  }
  if (!name.empty() && std::rename(name.c_str(), path.c_str()) == 0) return Blank(path);
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return false;
  close(fd);
  return true;
}

void SpareFiles::Give(const std::string& path) {
  std::string name;
  {
    std::lock_guard lock(mu_);
    if (files_.size() < max_files_) name = fmt::format("{}/{}", dir_, next_++);
  }
  if (!name.empty() && std::rename(path.c_str(), name.c_str()) == 0) {
    std::lock_guard lock(mu_);
    files_.push_back(std::move(name));
    return;
  }
  unlink(path.c_str());
}

size_t SpareFiles::size() const {
  std::lock_guard lock(mu_);
  return files_.size();
}

}  // namespace kojo::agent
