#include "store/group_commit.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>

namespace kojo::store {

GroupCommitter::GroupCommitter(Store& store, FatalHandler on_fatal)
    : store_(store), on_fatal_(std::move(on_fatal)) {
  if (!on_fatal_)
    on_fatal_ = [](const std::string& msg) {
      std::fprintf(stderr, "kojo: store write failed, stopping: %s\n", msg.c_str());
      std::abort();
    };
  thread_ = std::thread([this] { Run(); });
}

GroupCommitter::~GroupCommitter() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  work_cv_.notify_all();
  thread_.join();
}

std::uint64_t GroupCommitter::Enqueue(Batch batch) {
  std::lock_guard lock(mu_);
  if (batch.empty()) return queued_seq_;
  pending_.Append(std::move(batch));
  ++stats_.batches;
  const std::uint64_t seq = ++queued_seq_;
  work_cv_.notify_one();
  return seq;
}

void GroupCommitter::WaitDurable(std::uint64_t seq) {
  std::unique_lock lock(mu_);
  done_cv_.wait(lock, [&] { return durable_seq_ >= seq; });
}

Status GroupCommitter::AwaitDurable(std::uint64_t seq) {
  std::unique_lock lock(mu_);
  done_cv_.wait(lock, [&] { return durable_seq_ >= seq || failed_seq_ >= seq; });
  if (durable_seq_ >= seq) return Ok{};
  return Error{ErrorCode::kIo, failure_};
}

std::uint64_t GroupCommitter::durable() const {
  std::lock_guard lock(mu_);
  return durable_seq_;
}

std::uint64_t GroupCommitter::queued() const {
  std::lock_guard lock(mu_);
  return queued_seq_;
}

GroupCommitter::Stats GroupCommitter::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

void GroupCommitter::Run() {
  std::chrono::milliseconds backoff(10);
  std::unique_lock lock(mu_);
  for (;;) {
    work_cv_.wait(lock, [&] { return stop_ || queued_seq_ > durable_seq_; });
    if (queued_seq_ == durable_seq_) return;  // stop_, nothing left
    Batch batch = std::move(pending_);
    pending_ = Batch{};
    const std::uint64_t seq = queued_seq_;
    lock.unlock();
    const auto start = std::chrono::steady_clock::now();
    Status s = store_.Apply(batch);
    commit_duration_.Observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    lock.lock();
    if (!s.ok()) {
      ++stats_.failed_attempts;
      if (stop_) {
        lock.unlock();
        on_fatal_(s.error().message);
        return;
      }
      if (failed_seq_ <= durable_seq_)  // the first failure since the last success
        std::fprintf(stderr, "kojo: store write failed, retrying: %s\n", s.error().message.c_str());
      failed_seq_ = seq;
      failure_ = s.error().message;
      done_cv_.notify_all();
      // Back in front of what was queued meanwhile, for the next attempt.
      batch.Append(std::move(pending_));
      pending_ = std::move(batch);
      work_cv_.wait_for(lock, backoff, [&] { return stop_; });
      backoff = std::min(backoff * 2, std::chrono::milliseconds(1000));
      continue;
    }
    if (failed_seq_ > durable_seq_) std::fprintf(stderr, "kojo: store write succeeded again\n");
    backoff = std::chrono::milliseconds(10);
    ++stats_.transactions;
    durable_seq_ = seq;
    done_cv_.notify_all();
  }
}

}  // namespace kojo::store
