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

template <class Self>
auto ArrayTasks::Locate(Self& self, JobId id) -> std::pair<decltype(self.arrays_.begin()), size_t> {
  auto it = self.arrays_.upper_bound(id);
  if (it == self.arrays_.begin()) return {self.arrays_.end(), 0};
  --it;
  const size_t k = static_cast<size_t>(id - it->first);
  if (k >= it->second.indices.size() || !it->second.untouched[k]) return {self.arrays_.end(), 0};
  return {it, k};
}

bool ArrayTasks::Contains(JobId id) const { return Locate(*this, id).first != arrays_.end(); }

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
  auto [it, k] = Locate(*this, id);
  if (it != arrays_.end()) Remove(it, k);
}

std::optional<JobRec> ArrayTasks::Peek(JobId id) const {
  auto [it, k] = Locate(*this, id);
  if (it == arrays_.end()) return std::nullopt;
  return Make(it->second, k);
}

std::optional<JobRec> ArrayTasks::Take(JobId id) {
  auto [it, k] = Locate(*this, id);
  if (it == arrays_.end()) return std::nullopt;
  JobRec rec = Make(it->second, k);
  Remove(it, k);
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
  // From the array that holds `after`, else the first one past it.
  auto it = Find(after);
  if (it == arrays_.end()) it = arrays_.upper_bound(after);
  for (; it != arrays_.end(); ++it) {
    const Array& a = it->second;
    if (match && !match(a.tmpl.view)) continue;
    size_t k = after >= it->first ? static_cast<size_t>(after - it->first) + 1 : 0;
    for (; k < a.untouched.size(); ++k)
      if (a.untouched[k]) return it->first + static_cast<JobId>(k);
  }
  return std::nullopt;
}

JobId ArrayTasks::EndId() const { return end_id_; }

}  // namespace kojo::controller
