#include "agent/pty.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include <fmt/format.h>

namespace kojo::agent {

namespace {

constexpr int kWriteWaitMs = 2000;
constexpr auto kDrainAfterEnd = std::chrono::seconds(2);  // output of what outlives the task: not waited for longer

void WriteAllTo(int fd, const char* p, std::size_t n) {
  while (n > 0) {
    const ssize_t w = write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return;
    p += w;
    n -= static_cast<std::size_t>(w);
  }
}

}  // namespace

Result<std::unique_ptr<PtySession>> PtySession::Open(int rows, int cols, std::size_t ring) {
  std::unique_ptr<PtySession> s(new PtySession());
  s->ring_cap_ = std::max<std::size_t>(ring, 4096);
  s->master_ = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (s->master_ < 0) return Error{ErrorCode::kIo, fmt::format("posix_openpt: {}", std::strerror(errno))};
  char name[128];
  if (grantpt(s->master_) != 0 || unlockpt(s->master_) != 0 || ptsname_r(s->master_, name, sizeof name) != 0)
    return Error{ErrorCode::kIo, fmt::format("pseudo-terminal: {}", std::strerror(errno))};
  s->slave_path_ = name;
  const int flags = fcntl(s->master_, F_GETFL);
  if (flags < 0 || fcntl(s->master_, F_SETFL, flags | O_NONBLOCK) != 0)
    return Error{ErrorCode::kIo, fmt::format("pseudo-terminal: {}", std::strerror(errno))};
  if (pipe2(s->wake_, O_CLOEXEC | O_NONBLOCK) != 0)
    return Error{ErrorCode::kIo, fmt::format("pipe: {}", std::strerror(errno))};
  winsize ws{};
  ws.ws_row = static_cast<unsigned short>(std::clamp(rows, 1, 10000));
  ws.ws_col = static_cast<unsigned short>(std::clamp(cols, 1, 10000));
  ioctl(s->master_, TIOCSWINSZ, &ws);
  return s;
}

Result<std::unique_ptr<PtySession>> PtySession::FromMaster(int master, std::int64_t offset, std::size_t ring) {
  std::unique_ptr<PtySession> s(new PtySession());
  s->ring_start_ = std::max<std::int64_t>(offset, 0);
  s->ring_cap_ = std::max<std::size_t>(ring, 4096);
  s->master_ = master;
  const int flags = fcntl(master, F_GETFL);
  if (flags < 0 || fcntl(master, F_SETFL, flags | O_NONBLOCK) != 0 || fcntl(master, F_SETFD, FD_CLOEXEC) != 0)
    return Error{ErrorCode::kIo, fmt::format("pseudo-terminal: {}", std::strerror(errno))};
  if (pipe2(s->wake_, O_CLOEXEC | O_NONBLOCK) != 0)
    return Error{ErrorCode::kIo, fmt::format("pipe: {}", std::strerror(errno))};
  return s;
}

PtySession::~PtySession() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  if (wake_[1] >= 0) WriteAllTo(wake_[1], "x", 1);
  if (thread_.joinable()) thread_.join();
  for (int fd : {master_, wake_[0], wake_[1], log_fd_})
    if (fd >= 0) close(fd);
}

void PtySession::Start(const std::string& log_path) {
  std::lock_guard lock(mu_);
  if (thread_.joinable()) return;
  if (!log_path.empty()) log_fd_ = open(log_path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  thread_ = std::thread([this] { Loop(); });
}

void PtySession::Notice(std::string_view text) {
  std::lock_guard lock(mu_);
  if (ended_) return;
  Append(text);
  if (log_fd_ >= 0) WriteAllTo(log_fd_, text.data(), text.size());
}

std::optional<PtySession::Clock::time_point> PtySession::last_input() const {
  std::lock_guard lock(mu_);
  return last_input_;
}

void PtySession::TaskEnded() {
  {
    std::lock_guard lock(mu_);
    task_ended_ = true;
    if (!thread_.joinable()) {  // never started: nothing more will come
      ended_ = true;
      cv_.notify_all();
    }
  }
  WriteAllTo(wake_[1], "x", 1);
}

bool PtySession::ended() const {
  std::lock_guard lock(mu_);
  return ended_;
}

void PtySession::Append(std::string_view bytes) {
  ring_.append(bytes);
  if (ring_.size() > 2 * ring_cap_) {  // trimmed in steps: one move per ring's worth of output
    const std::size_t drop = ring_.size() - ring_cap_;
    ring_.erase(0, drop);
    ring_start_ += static_cast<std::int64_t>(drop);
  }
  cv_.notify_all();
}

void PtySession::Loop() {
  std::optional<Clock::time_point> end_by;
  char buf[65536];
  for (;;) {
    int timeout_ms = -1;
    {
      std::lock_guard lock(mu_);
      if (stop_) break;
      const auto now = Clock::now();
      if (task_ended_ && !end_by) end_by = now + kDrainAfterEnd;
      if (task_ended_) timeout_ms = 100;
    }
    pollfd fds[2] = {{master_, POLLIN, 0}, {wake_[0], POLLIN, 0}};
    const int n = poll(fds, 2, timeout_ms);
    if (n < 0 && errno != EINTR) break;
    if (fds[1].revents) {
      while (read(wake_[0], buf, sizeof buf) > 0) {
      }
    }
    bool closed = false, got = false;
    if (fds[0].revents) {
      const ssize_t r = read(master_, buf, sizeof buf);
      if (r > 0) {
        got = true;
        if (log_fd_ >= 0) WriteAllTo(log_fd_, buf, static_cast<std::size_t>(r));
        std::lock_guard lock(mu_);
        Append(std::string_view(buf, static_cast<std::size_t>(r)));
      } else if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
        closed = true;  // EIO: no slave is open any more
      }
    }
    std::lock_guard lock(mu_);
    if (closed || (task_ended_ && (!got || (end_by && Clock::now() >= *end_by)))) break;
  }
  std::lock_guard lock(mu_);
  ended_ = true;
  cv_.notify_all();
}

PtySession::Chunk PtySession::Read(std::int64_t offset, std::size_t max, int wait_ms) {
  std::unique_lock lock(mu_);
  auto end = [&] { return ring_start_ + static_cast<std::int64_t>(ring_.size()); };
  cv_.wait_for(lock, std::chrono::milliseconds(std::max(wait_ms, 0)), [&] { return ended_ || stop_ || end() > offset; });
  Chunk c;
  c.start = std::clamp(offset, ring_start_, end());
  const std::size_t from = static_cast<std::size_t>(c.start - ring_start_);
  c.data = ring_.substr(from, std::min(max, ring_.size() - from));
  c.next = c.start + static_cast<std::int64_t>(c.data.size());
  c.eof = ended_ && c.next == end();
  return c;
}

bool PtySession::Write(std::string_view bytes) {
  std::lock_guard write_lock(write_mu_);
  {
    std::lock_guard lock(mu_);
    last_input_ = Clock::now();
  }
  const auto deadline = Clock::now() + std::chrono::milliseconds(kWriteWaitMs);
  while (!bytes.empty()) {
    if (ended()) return false;
    const ssize_t w = write(master_, bytes.data(), bytes.size());
    if (w > 0) {
      bytes.remove_prefix(static_cast<std::size_t>(w));
      continue;
    }
    if (w < 0 && errno == EINTR) continue;
    if (w < 0 && errno != EAGAIN) return false;
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return false;
    pollfd p{master_, POLLOUT, 0};
    poll(&p, 1, static_cast<int>(std::min<long long>(left, 100)));
  }
  return true;
}

bool PtySession::Resize(int rows, int cols) {
  if (ended()) return false;
  winsize ws{};
  ws.ws_row = static_cast<unsigned short>(std::clamp(rows, 1, 10000));
  ws.ws_col = static_cast<unsigned short>(std::clamp(cols, 1, 10000));
  return ioctl(master_, TIOCSWINSZ, &ws) == 0;
}

}  // namespace kojo::agent
