/* A fake faulty disk, for tests only: a library loaded into kojod with
 * LD_PRELOAD that stands between SQLite (and everything else in the
 * process) and the C library's write, pwrite64, fsync and fdatasync, and
 * makes them fail on request, as a full or failing disk would. It is never
 * linked into kojo's programs.
 *
 * Only descriptors of files whose path starts with $KOJO_FAKE_DISK_PATH
 * (e.g. DIR/kojo.db: the database, its -wal and its -journal) are touched. On each
 * call the file $KOJO_FAKE_DISK_CONTROL is read; its first word says what the
 * disk does now:
 *
 *   (absent, empty, "ok")  nothing: calls pass through
 *   full     writes fail with ENOSPC, as on a full disk
 *   torn     writes write half of what they were given and report that
 *            (a short write: the rest did not fit), then fail like `full`
 *   fsync    fsync and fdatasync fail with EIO (the data may not be on disk)
 *   slow:MS  fsync and fdatasync sleep MS milliseconds first
 *
 * With $KOJO_FAKE_DISK_IN_PLACE set (to anything), `full` and `torn` fail
 * only writes that grow a file: a write within the file's current size
 * passes, as on a file system that overwrites blocks in place (ext4, xfs),
 * where overwriting bytes a file already has needs no new block.
 *
 * Each fault injected adds a line to $KOJO_FAKE_DISK_CONTROL.log.
 */
#include <dlfcn.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>

namespace {

using write_fn = ssize_t (*)(int, const void*, size_t);
using pwrite_fn = ssize_t (*)(int, const void*, size_t, off_t);
using sync_fn = int (*)(int);

template <class F>
F Next(const char* name) {
  return reinterpret_cast<F>(dlsym(RTLD_NEXT, name));
}

enum mode { kOk, kFull, kTorn, kFsync, kSlow };

int raw_read(const char* path, char* buf, size_t size) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  ssize_t n = read(fd, buf, size - 1);
  close(fd);
  if (n < 0) n = 0;
  buf[n] = 0;
  return static_cast<int>(n);
}

/* What the disk does now for `fd`; `slow_ms` is set for kSlow. */
mode mode_for(int fd, int* slow_ms) {
  const char* prefix = getenv("KOJO_FAKE_DISK_PATH");
  const char* control = getenv("KOJO_FAKE_DISK_CONTROL");
  if (!prefix || !*prefix || !control || !*control) return kOk;
  char link[64], path[4096];
  snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  ssize_t n = readlink(link, path, sizeof path - 1);
  if (n <= 0) return kOk;
  path[n] = 0;
  if (strncmp(path, prefix, strlen(prefix)) != 0) return kOk;
  char word[64];
  if (raw_read(control, word, sizeof word) == 0) return kOk;
  if (strncmp(word, "full", 4) == 0) return kFull;
  if (strncmp(word, "torn", 4) == 0) return kTorn;
  if (strncmp(word, "fsync", 5) == 0) return kFsync;
  if (strncmp(word, "slow:", 5) == 0) {
    *slow_ms = atoi(word + 5);
    return kSlow;
  }
  return kOk;
}

void note(const char* what, int fd) {
  const char* control = getenv("KOJO_FAKE_DISK_CONTROL");
  char path[4200], line[128];
  snprintf(path, sizeof path, "%s.log", control);
  int out = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (out < 0) return;
  int len = snprintf(line, sizeof line, "%s fd=%d\n", what, fd);
  auto real = Next<write_fn>("write");
  if (real) real(out, line, static_cast<size_t>(len));
  close(out);
}

/* Whether `count` bytes at `offset` (-1: the descriptor's own offset) stay
 * within the file's size and KOJO_FAKE_DISK_IN_PLACE lets such writes pass. */
bool in_place(int fd, size_t count, off_t offset) {
  const char* on = getenv("KOJO_FAKE_DISK_IN_PLACE");
  if (!on || !*on) return false;
  struct stat st;
  if (fstat(fd, &st) != 0) return false;
  if (offset < 0) {
    const int flags = fcntl(fd, F_GETFL);
    if (flags < 0 || (flags & O_APPEND)) return false;
    offset = lseek(fd, 0, SEEK_CUR);
    if (offset < 0) return false;
  }
  return static_cast<off_t>(offset + static_cast<off_t>(count)) <= st.st_size;
}

ssize_t faulty_write(int fd, size_t count, size_t* allowed, off_t offset) {
  int slow = 0;
  mode m = mode_for(fd, &slow);
  *allowed = count;
  if ((m == kFull || m == kTorn) && in_place(fd, count, offset)) return 0;
  if (m == kFull) {
    note("full", fd);
    errno = ENOSPC;
    return -1;
  }
  if (m == kTorn) {
    note("torn", fd);
    if (count < 2) {
      errno = ENOSPC;
      return -1;
    }
    *allowed = count / 2;
  }
  return 0;
}

int faulty_sync(int fd, const char* name) {
  int slow = 0;
  mode m = mode_for(fd, &slow);
  if (m == kFsync) {
    note(name, fd);
    errno = EIO;
    return -1;
  }
  if (m == kSlow && slow > 0) {
    note("slow", fd);
    struct timespec ts = {slow / 1000, static_cast<long>(slow % 1000) * 1000000L};
    nanosleep(&ts, nullptr);
  }
  return 0;
}

}  // namespace

extern "C" {

ssize_t write(int fd, const void* buf, size_t count) {
  static write_fn real;
  if (!real) real = Next<write_fn>("write");
  size_t allowed;
  if (faulty_write(fd, count, &allowed, -1) < 0) return -1;
  return real(fd, buf, allowed);
}

ssize_t pwrite64(int fd, const void* buf, size_t count, off_t offset) {
  static pwrite_fn real;
  if (!real) real = Next<pwrite_fn>("pwrite64");
  size_t allowed;
  if (faulty_write(fd, count, &allowed, offset) < 0) return -1;
  return real(fd, buf, allowed, offset);
}

ssize_t pwrite(int fd, const void* buf, size_t count, off_t offset) {
  static pwrite_fn real;
  if (!real) real = Next<pwrite_fn>("pwrite");
  size_t allowed;
  if (faulty_write(fd, count, &allowed, offset) < 0) return -1;
  return real(fd, buf, allowed, offset);
}

int fsync(int fd) {
  static sync_fn real;
  if (!real) real = Next<sync_fn>("fsync");
  if (faulty_sync(fd, "fsync") < 0) return -1;
  return real(fd);
}

int fdatasync(int fd) {
  static sync_fn real;
  if (!real) real = Next<sync_fn>("fdatasync");
  if (faulty_sync(fd, "fdatasync") < 0) return -1;
  return real(fd);
}

}  // extern "C"
