#include "common/files.h"

#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include <fmt/format.h>

namespace kojo {

namespace {

// Writes all of `text` at the file offset; false (with errno) on failure.
bool WriteAll(int fd, std::string_view text) {
  size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

}  // namespace

Status WriteFileAtomic(const std::string& path, const std::string& text, AtomicWriteOptions o) {
  const std::string tmp = path + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, o.mode);
  if (fd < 0) return Error{ErrorCode::kIo, fmt::format("{}: cannot write: {}", tmp, std::strerror(errno))};
  ::fchmod(fd, static_cast<mode_t>(o.mode));  // the umask must not widen or narrow it
  if (!WriteAll(fd, text)) {
    const int err = errno;
    ::close(fd);
    ::unlink(tmp.c_str());
    return Error{ErrorCode::kIo, fmt::format("{}: cannot write: {}", tmp, std::strerror(err))};
  }
  if ((o.sync && ::fsync(fd) != 0) | (::close(fd) != 0)) {
    const int err = errno;
    ::unlink(tmp.c_str());
    return Error{ErrorCode::kIo, fmt::format("{}: cannot write: {}", tmp, std::strerror(err))};
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    return Error{ErrorCode::kIo, fmt::format("{}: cannot rename into place: {}", path, std::strerror(err))};
  }
  return Ok{};
}

bool WriteFileInPlace(const std::string& path, std::string_view text) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return false;
  const bool ok = WriteAll(fd, text) && ::ftruncate(fd, static_cast<off_t>(text.size())) == 0;
  return (::close(fd) == 0) & ok;
}

Result<std::string> RandomHex(int bytes) {
  std::vector<unsigned char> buf(static_cast<size_t>(bytes), 0);
  size_t got = 0;
  while (got < buf.size()) {
    const ssize_t n = ::getrandom(buf.data() + got, buf.size() - got, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Error{ErrorCode::kIo, fmt::format("no random bytes from the kernel (getrandom): {}", std::strerror(errno))};
    got += static_cast<size_t>(n);
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(buf.size() * 2);
  for (unsigned char c : buf) {
    out += kHex[c >> 4];
    out += kHex[c & 15];
  }
  return out;
}

}  // namespace kojo
