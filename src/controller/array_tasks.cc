#include "controller/array_tasks.h"

#include <algorithm>
#include <cassert>

namespace kojo::controller {

void ArrayTasks::Add(JobRec tmpl, std::vector<int> indices) {
  if (indices.empty()) return;
  const JobId first = tmpl.view.id;
  assert(tmpl.view.array_id == first);
  Array a;
  a.left = indices.size();
  a.untouched.assign(indices.size(), true);
  a.indices = std::move(indices);
  a.tmpl = std::move(tmpl);
  a.tmpl.view.array_index.reset();
  size_ += a.left;
  pending_arrays_ += a.tmpl.view.state == api::JobState::kPending;
  end_id_ = std::max(end_id_, first + static_cast<JobId>(a.indices.size()));
  arrays_.insert_or_assign(first, std::move(a));
}

ArrayTasks::Map::const_iterator ArrayTasks::Find(JobId id) const {
  auto it = arrays_.upper_bound(id);
  if (it == arrays_.begin()) return arrays_.end();
  --it;
  return id < it->first + static_cast<JobId>(it->second.indices.size()) ? it : arrays_.end();
}

bool ArrayTasks::Contains(JobId id) const {
  auto it = Find(id);
  return it != arrays_.end() && it->second.untouched[static_cast<size_t>(id - it->first)];
}

JobRec ArrayTasks::Make(const Array& a, size_t k) const {
  JobRec rec = a.tmpl;
  rec.view.id = a.tmpl.view.id + static_cast<JobId>(k);
  rec.view.array_index = a.indices[k];
  rec.job.id = rec.view.id;
  return rec;
}

void ArrayTasks::Remove(Map::iterator it, size_t k) {
  Array& a = it->second;
  a.untouched[k] = false;
  --a.left;
  --size_;
  if (a.left == 0) {
    pending_arrays_ -= a.tmpl.view.state == api::JobState::kPending;
    arrays_.erase(it);
  }
}

void ArrayTasks::Drop(JobId id) {
  auto c = Find(id);
  if (c == arrays_.end()) return;
  const size_t k = static_cast<size_t>(id - c->first);
  if (c->second.untouched[k]) Remove(arrays_.find(c->first), k);
}

std::optional<JobRec> ArrayTasks::Peek(JobId id) const {
  auto it = Find(id);
  if (it == arrays_.end()) return std::nullopt;
  const size_t k = static_cast<size_t>(id - it->first);
  if (!it->second.untouched[k]) return std::nullopt;
  return Make(it->second, k);
}

std::optional<JobRec> ArrayTasks::Take(JobId id) {
  auto c = Find(id);
  if (c == arrays_.end()) return std::nullopt;
  const size_t k = static_cast<size_t>(id - c->first);
  if (!c->second.untouched[k]) return std::nullopt;
  JobRec rec = Make(c->second, k);
  Remove(arrays_.find(c->first), k);
  return rec;
}

std::vector<JobRec> ArrayTasks::TakePending() {
  std::vector<JobRec> out;
  if (pending_arrays_ == 0) return out;
  for (auto it = arrays_.begin(); it != arrays_.end();) {
    Array& a = it->second;
    if (a.tmpl.view.state != api::JobState::kPending) {
      ++it;
      continue;
    }
    out.reserve(out.size() + a.left);
    for (size_t k = 0; k < a.indices.size(); ++k)
      if (a.untouched[k]) out.push_back(Make(a, k));
    size_ -= a.left;
    --pending_arrays_;
    it = arrays_.erase(it);
  }
  return out;
}

std::optional<JobId> ArrayTasks::Next(JobId after, const std::function<bool(const api::JobView&)>& match) const {
  auto it = arrays_.upper_bound(after);
  if (it != arrays_.begin()) {
    auto prev = std::prev(it);
    if (after < prev->first + static_cast<JobId>(prev->second.indices.size())) it = prev;
  }
  for (; it != arrays_.end(); ++it) {
    const Array& a = it->second;
    if (match && !match(a.tmpl.view)) continue;
    size_t k = after >= it->first ? static_cast<size_t>(after - it->first) + 1 : 0;
    for (; k < a.untouched.size(); ++k)
      if (a.untouched[k]) return it->first + static_cast<JobId>(k);
  }
  return std::nullopt;
}

void ArrayTasks::ForEachArray(const std::function<void(const JobRec& tmpl, size_t untouched)>& fn) const {
  for (const auto& [first, a] : arrays_) fn(a.tmpl, a.left);
}

JobId ArrayTasks::EndId() const { return end_id_; }

}  // namespace kojo::controller
