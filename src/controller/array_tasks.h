// ArrayTasks: the tasks of job arrays that are still exactly as submitted,
// kept as one template record per array, as Slurm keeps a pending array
// as one record until its tasks start. Submitting an array of 100,000
// tasks makes one template and a list of indices, not 100,000 records.
//
// A task is split off -- becomes an ordinary JobRec of the controller --
// the first time anything changes it (release, cancel, hold) or the
// scheduler needs it (the template is PENDING: the next scheduling pass
// splits the whole array). Until then reading it (show, why, list) builds
// its record from the template. The store holds the same split: one array
// row, plus a job row for each task once it changed (records.h).
//
// Thread safety: none; the controller calls it under its mutex.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <vector>

#include "controller/records.h"

namespace kojo::controller {

class ArrayTasks {
 public:
  // An array whose tasks have ids tmpl.view.id + k for k in [0, indices.size()),
  // task k with array index indices[k]. tmpl.view.array_id must be its
  // first id, tmpl.view.array_index unset. Ids must not overlap another
  // array's.
  void Add(JobRec tmpl, std::vector<int> indices);

  // Forgets task `id` (recovery: it has a job row of its own). No-op if
  // it is not held here.
  void Drop(JobId id);

  bool Contains(JobId id) const;

  // The task's record as it is (nullopt: not an untouched array task).
  std::optional<JobRec> Peek(JobId id) const;
  // The same, and the task is no longer held here.
  std::optional<JobRec> Take(JobId id);

  // Every untouched task of every array whose template is PENDING, in id
  // order, no longer held here.
  std::vector<JobRec> TakePending();
  bool HasPending() const { return pending_arrays_ > 0; }

  // The smallest id above `after` of an untouched task whose array's
  // template view passes `match` (all when empty); nullopt: none.
  std::optional<JobId> Next(JobId after, const std::function<bool(const api::JobView&)>& match = {}) const;

  // Calls `f` with each array's template and how many of its tasks are untouched.
  void ForEachArray(const std::function<void(const JobRec& tmpl, size_t untouched)>& f) const {
    for (const auto& [first, a] : arrays_) f(a.tmpl, a.left);
  }

  size_t size() const { return size_; }  // untouched tasks in all
  JobId EndId() const;                   // one past the highest id ever added here; 0 if none

 private:
  struct Array {
    JobRec tmpl;
    std::vector<int> indices;     // by offset from the first id
    std::vector<bool> untouched;  // by offset
    size_t left = 0;              // untouched tasks
  };
  using Map = std::map<JobId, Array>;  // by first id

  // The array holding id `id` (untouched or not), or end().
  Map::const_iterator Find(JobId id) const;
  // The array and offset of untouched task `id`; the iterator is end() when
  // it is not one (const or not, as `self` is).
  template <class Self>
  static auto Locate(Self& self, JobId id) -> std::pair<decltype(self.arrays_.begin()), size_t>;
  JobRec Make(const Array& a, size_t k) const;
  // Marks offset k of `it` split off; erases the array when none is left.
  void Remove(Map::iterator it, size_t k);

  Map arrays_;
  size_t size_ = 0;
  int pending_arrays_ = 0;  // arrays whose template is PENDING
  JobId end_id_ = 0;
};

}  // namespace kojo::controller
