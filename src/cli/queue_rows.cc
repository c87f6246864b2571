#include "cli/queue_rows.h"

#include <fmt/format.h>

namespace kojo::cli {

namespace {

bool Waits(const api::JobView& v) { return v.state == api::JobState::kPending || v.state == api::JobState::kHeld; }

}  // namespace

std::vector<QueueGroup> FoldArrayTasks(const std::vector<api::JobView>& jobs,
                                       const std::function<std::string(const api::JobView&)>& reason) {
  std::vector<QueueGroup> out;
  std::string last_reason;
  for (size_t i = 0; i < jobs.size(); ++i) {
    const api::JobView& v = jobs[i];
    const bool foldable = v.array_id && v.array_index && Waits(v);
    std::string why = foldable ? reason(v) : std::string();
    if (foldable && !out.empty()) {
      const api::JobView& head = jobs[out.back().first];
      if (head.array_id == v.array_id && head.array_index && Waits(head) && head.state == v.state && why == last_reason) {
        ++out.back().count;
        continue;
      }
    }
    out.push_back(QueueGroup{i, 1});
    last_reason = std::move(why);
  }
  return out;
}

std::string IndexRanges(const std::vector<int>& indices) {
  std::string out;
  size_t i = 0;
  while (i < indices.size()) {
    size_t j = i + 1;
    if (j < indices.size()) {
      const int step = indices[j] - indices[i];
      while (j + 1 < indices.size() && indices[j + 1] - indices[j] == step) ++j;
      if (j - i >= 2) {  // three or more
        if (!out.empty()) out += ',';
        out += step == 1 ? fmt::format("{}-{}", indices[i], indices[j])
                         : fmt::format("{}-{}:{}", indices[i], indices[j], step);
        i = j + 1;
        continue;
      }
    }
    if (!out.empty()) out += ',';
    out += std::to_string(indices[i]);
    ++i;
  }
  return out;
}

}  // namespace kojo::cli
