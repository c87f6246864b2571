// GroupCommitter: many writers, one transaction at a time. Writers Enqueue()
// batches (in the order their changes were made, e.g. under the caller's own
// lock) and wait for WaitDurable(seq); a background thread applies every
// batch queued so far as one Store::Apply, so concurrent requests share one
// fsync. Batches are applied in Enqueue order.
//
// A failed Apply is fatal to the process: the in-memory state has already
// moved on, and the only safe way back to a consistent view is a restart
// that reloads what is durable (no acknowledged change is lost: nothing in a
// failed batch was acknowledged). `on_fatal` is called with the message
// (default: log it and abort()).
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
  // Blocks until every batch up to `seq` is durable.
  void WaitDurable(std::uint64_t seq);
  std::uint64_t durable() const;
  std::uint64_t queued() const;

  struct Stats {
    std::uint64_t transactions = 0;
    std::uint64_t batches = 0;
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
  Stats stats_;
  Histogram commit_duration_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace kojo::store
