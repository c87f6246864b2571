#include <algorithm>
#include <map>
#include <tuple>

#include "store/store.h"

namespace kojo::store {

void Batch::Append(Batch&& other) {
  auto move_all = [](auto& to, auto& from) {
    if (to.empty()) {
      to = std::move(from);
    } else {
      to.insert(to.end(), std::make_move_iterator(from.begin()), std::make_move_iterator(from.end()));
    }
  };
  move_all(jobs, other.jobs);
  move_all(arrays, other.arrays);
  move_all(nodes, other.nodes);
  move_all(keys, other.keys);
  move_all(docs, other.docs);
  if (other.next_job_id) next_job_id = std::max(next_job_id.value_or(0), *other.next_job_id);
}

Result<StoredState> MemoryStore::Load() { return state_; }

Status MemoryStore::Apply(const Batch& b) {
  if (fail_count_ > 0) {
    --fail_count_;
    return Error{ErrorCode::kIo, "memory store: injected failure"};
  }
  auto upsert = [](auto& rows, const auto& row, auto key, bool deleted = false) {
    auto it = std::lower_bound(rows.begin(), rows.end(), row,
                               [&](const auto& a, const auto& b) { return key(a) < key(b); });
    const bool found = it != rows.end() && key(*it) == key(row);
    if (deleted) {
      if (found) rows.erase(it);
    } else if (found) {
      *it = row;
    } else {
      rows.insert(it, row);
    }
  };
  for (const auto& r : b.jobs) upsert(state_.jobs, r, [](const JobRow& x) { return x.id; }, r.deleted);
  for (const auto& r : b.arrays) upsert(state_.arrays, r, [](const ArrayRow& x) { return x.first_id; });
  for (const auto& r : b.nodes) upsert(state_.nodes, r, [](const NodeRow& x) { return x.name; });
  for (const auto& r : b.keys) upsert(state_.keys, r, [](const KeyRow& x) { return x.key; }, r.deleted);
  for (const auto& r : b.docs) {
    auto key = [](const DocRow& x) { return std::tie(x.kind, x.key); };
    auto it = std::lower_bound(state_.docs.begin(), state_.docs.end(), r,
                               [&](const DocRow& a, const DocRow& c) { return key(a) < key(c); });
    const bool found = it != state_.docs.end() && key(*it) == key(r);
    if (r.deleted) {
      if (found) state_.docs.erase(it);
    } else if (found) {
      *it = r;
    } else {
      state_.docs.insert(it, r);
    }
  }
  if (b.next_job_id) state_.next_job_id = *b.next_job_id;
  return Ok{};
}

}  // namespace kojo::store
