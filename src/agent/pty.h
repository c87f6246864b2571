// The terminal of an interactive task (JobSpec.pty): the master side of a
// pseudo-terminal, which the agent holds while the task runs.
//
// The task's job gets the slave side as its controlling terminal (spawn.h,
// SpawnRequest.tty). A thread copies what the job writes into a bounded
// ring of the latest bytes (offsets count every byte ever written, so that
// a reader that comes back resumes where it left off, or learns what was
// dropped) and appends it to the task's stdout log; input is written to
// the master, a resize sets the terminal's size (the job's foreground
// process group gets SIGWINCH). The task's supervisor holds a copy of the
// master, from which a restarted agent takes it back (FromMaster). The
// agent adds its notices to the output (the time limit's and idleness's
// warnings, docs/agent.md) and reads when input last came (idle sessions).
// The terminal ends when every slave is closed, or once the task has ended
// and what it wrote was read.
//
// Thread safety: every method may be called from any thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include "common/result.h"

namespace kojo::agent {

class PtySession {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr std::size_t kDefaultRing = 1 << 20;

  // A new pseudo-terminal of rows x cols.
  static Result<std::unique_ptr<PtySession>> Open(int rows = 24, int cols = 80, std::size_t ring = kDefaultRing);
  // The terminal of a task adopted after an agent restart: its master, taken
  // back from the task's supervisor (which holds a copy); owns `master`.
  // Its offsets go on from `offset` (the bytes the old agent saw: its log's
  // size), so that a reader's offset stays meaningful.
  static Result<std::unique_ptr<PtySession>> FromMaster(int master, std::int64_t offset,
                                                        std::size_t ring = kDefaultRing);
  ~PtySession();
  PtySession(const PtySession&) = delete;
  PtySession& operator=(const PtySession&) = delete;

  // "/dev/pts/N", for SpawnRequest.tty.
  const std::string& slave_path() const { return slave_path_; }
  // The master, for the supervisor to hold (SpawnRequest.held_fd).
  int master_fd() const { return master_; }

  // Starts copying the terminal's output into the ring and onto the end of
  // `log_path` (none when empty).
  void Start(const std::string& log_path);
  // Adds `text` to the output (and the log), as if the job had written it;
  // nothing once the terminal has ended.
  void Notice(std::string_view text);
  // When input was last written; none before the first.
  std::optional<Clock::time_point> last_input() const;
  // The task has ended: the terminal ends once nothing more can be read.
  void TaskEnded();

  struct Chunk {
    std::string data;
    std::int64_t start = 0;  // the offset of data[0]: above the one asked for when bytes were dropped
    std::int64_t next = 0;   // where to read next
    bool eof = false;        // the terminal has ended and every byte up to next was given
  };
  // The bytes from `offset` (at most max), waiting up to wait_ms for some.
  Chunk Read(std::int64_t offset, std::size_t max, int wait_ms);
  // Writes input; false when the terminal has ended or takes nothing for 2 s.
  bool Write(std::string_view bytes);
  // Sets the terminal's size; false when it has ended.
  bool Resize(int rows, int cols);
  bool ended() const;

 private:
  PtySession() = default;
  void Append(std::string_view bytes);  // with mu_ held
  void Loop();

  int master_ = -1;
  int wake_[2] = {-1, -1};  // a pipe: TaskEnded and the destructor wake the thread
  std::string slave_path_;
  std::size_t ring_cap_ = kDefaultRing;
  int log_fd_ = -1;
  std::optional<Clock::time_point> last_input_;  // under mu_
  mutable std::mutex mu_;
  std::mutex write_mu_;  // one writer at a time: input stays in order
  std::condition_variable cv_;
  std::string ring_;
  std::int64_t ring_start_ = 0;  // offset of ring_[0]
  bool task_ended_ = false, ended_ = false, stop_ = false;
  std::thread thread_;
};

}  // namespace kojo::agent
