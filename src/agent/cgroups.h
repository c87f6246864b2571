// CPU and memory limits with cgroup v2, where the machine allows it.
//
// Detect() checks that this process's cgroup is on a cgroup v2 hierarchy,
// is writable, and offers the cpu and memory controllers; it then moves
// the agent into a leaf "<cgroup>/agent" (the "no internal processes" rule)
// and enables the controllers for "<cgroup>/tasks", under which each task
// gets its own cgroup. Anything missing: no cgroups, with the reason.
//
// Thread safety: const methods may be called from any thread.
#pragma once

#include <optional>
#include <string>

#include "common/result.h"
#include "model/units.h"

namespace kojo::agent {

class Cgroups {
 public:
  // `root` is the cgroup v2 mount ("/sys/fs/cgroup"); `why_not` gets the
  // reason when cgroups cannot be used.
  static std::optional<Cgroups> Detect(const std::string& root, std::string* why_not);

  // Creates the cgroup of one task ("<tasks>/<name>") with cpu.max and
  // memory.max (0 = no limit) and returns its directory.
  Result<std::string> CreateTask(const std::string& name, MilliCpu cpu_milli, MiB mem_mib) const;
  // Removes a task's cgroup (after its processes are gone); best effort.
  void RemoveTask(const std::string& dir) const;
  // Kills every process of a task's cgroup (cgroup.kill); best effort.
  void KillTask(const std::string& dir) const;

  const std::string& tasks_dir() const { return tasks_dir_; }

 private:
  explicit Cgroups(std::string tasks_dir) : tasks_dir_(std::move(tasks_dir)) {}
  std::string tasks_dir_;
};

}  // namespace kojo::agent
