// GroupCommitter: many writers, one transaction at a time. Writers Enqueue()
// batches (in the order their changes were made, e.g. under the caller's own
// lock) and wait for WaitDurable(seq); a background thread applies every
// batch queued so far as one Store::Apply, so concurrent requests share one
// fsync. Batches are applied in Enqueue order.
//
// A failed Apply (disk full, an I/O or fsync error) is retried, with a
// backoff of 10 ms doubling up to 1 s, together with whatever was queued
// meanwhile, until it succeeds: the in-memory state has already moved on,
// and what is durable stays a prefix of it, in order, as while any commit is
// in flight. Store::Apply is all-or-nothing, so a retry writes the whole
// transaction again. Callers that must answer meanwhile use AwaitDurable,
// which reports the failure of an attempt that held their batch (kojod
// answers 503, nothing acknowledged); WaitDurable waits through failures.
// Batches still failing when the committer is destroyed are fatal:
// `on_fatal` is called with the message (default: log it and abort()), so
// that nothing not durable is acted on while the process stops.
//
// Thread safety: all methods may be called from any thread.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>

#include "common/histogram.h"

#include "store/store.h"

namespace kojo::store {

class GroupCommitter {
 public:
  using FatalHandler = std::function<void(const std::string&)>;
  explicit GroupCommitter(Store& store, FatalHandler on_fatal = {});
  ~GroupCommitter();  // commits what is queued, then stops
  GroupCommitter(const GroupCommitter&) = delete;
  GroupCommitter& operator=(const GroupCommitter&) = delete;

  // Queues a batch; returns its sequence number (> 0). An empty batch gets
  // the sequence number of the last batch queued (waiting on it waits for
  // everything queued before).
  std::uint64_t Enqueue(Batch batch);
  // Blocks until every batch up to `seq` is durable, through failures.
  void WaitDurable(std::uint64_t seq);
  // Blocks until every batch up to `seq` is durable (Ok), or until an
  // attempt to write batch `seq` failed (kIo with the store's message; the
  // batch stays queued and is retried).
  Status AwaitDurable(std::uint64_t seq);
  std::uint64_t durable() const;
  std::uint64_t queued() const;

  struct Stats {
    std::uint64_t transactions = 0;
    std::uint64_t batches = 0;
    std::uint64_t failed_attempts = 0;  // Store::Apply calls that failed (then retried)
  };
  Stats stats() const;
  // How long each transaction (Store::Apply) took, in seconds.
  HistogramSnapshot commit_durations() const { return commit_duration_.Read(); }

 private:
  void Run();

  Store& store_;
  FatalHandler on_fatal_;
  mutable std::mutex mu_;
  std::condition_variable work_cv_;
  std::condition_variable done_cv_;
  Batch pending_;
  std::uint64_t queued_seq_ = 0;
  std::uint64_t durable_seq_ = 0;
  std::uint64_t failed_seq_ = 0;  // the last batch of the last failed attempt
  std::string failure_;           // its message
  Stats stats_;
  Histogram commit_duration_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace kojo::store
