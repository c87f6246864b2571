#include "agent/cgroups.h"

#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include <fmt/format.h>

namespace kojo::agent {

namespace {

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

bool WriteString(const std::string& path, const std::string& value) {
  std::ofstream out(path);
  out << value;
  out.flush();
  return static_cast<bool>(out);
}

bool HasWord(const std::string& text, const std::string& word) {
  std::istringstream s(text);
  std::string w;
  while (s >> w)
    if (w == word) return true;
  return false;
}

}  // namespace

std::optional<Cgroups> Cgroups::Detect(const std::string& root, std::string* why_not) {
  auto no = [&](std::string why) -> std::optional<Cgroups> {
    if (why_not) *why_not = std::move(why);
    return std::nullopt;
  };
  if (access((root + "/cgroup.controllers").c_str(), R_OK) != 0)
    return no(fmt::format("{} is not a cgroup v2 hierarchy", root));
  // "0::/path" is this process's cgroup v2 membership.
  std::string self;
  {
    std::istringstream lines(ReadAll("/proc/self/cgroup"));
    std::string line;
    while (std::getline(lines, line))
      if (line.rfind("0::", 0) == 0) self = line.substr(3);
  }
  if (self.empty()) return no("no cgroup v2 entry in /proc/self/cgroup");
  std::string base = root + (self == "/" ? "" : self);
  // When restarted inside our own leaf, the base is its parent.
  if (base.size() > 6 && base.substr(base.size() - 6) == "/agent") base = base.substr(0, base.size() - 6);
  const std::string controllers = ReadAll(base + "/cgroup.controllers");
  if (!HasWord(controllers, "cpu") || !HasWord(controllers, "memory"))
    return no(fmt::format("cpu and memory controllers not delegated to {}", base));
  if (access(base.c_str(), W_OK) != 0 || access((base + "/cgroup.subtree_control").c_str(), W_OK) != 0)
    return no(fmt::format("{} is not writable", base));
  const std::string leaf = base + "/agent";
  mkdir(leaf.c_str(), 0755);
  if (!WriteString(leaf + "/cgroup.procs", std::to_string(getpid())))
    return no(fmt::format("cannot move the agent into {}", leaf));
  if (!HasWord(ReadAll(base + "/cgroup.subtree_control"), "memory") &&
      !WriteString(base + "/cgroup.subtree_control", "+cpu +memory"))
    return no(fmt::format("cannot enable cpu and memory in {}/cgroup.subtree_control", base));
  const std::string tasks = base + "/tasks";
  mkdir(tasks.c_str(), 0755);
  if (!HasWord(ReadAll(tasks + "/cgroup.subtree_control"), "memory") &&
      !WriteString(tasks + "/cgroup.subtree_control", "+cpu +memory"))
    return no(fmt::format("cannot enable cpu and memory in {}/cgroup.subtree_control", tasks));
  return Cgroups(tasks);
}

Result<std::string> Cgroups::CreateTask(const std::string& name, MilliCpu cpu_milli, MiB mem_mib) const {
  const std::string dir = tasks_dir_ + "/" + name;
  if (mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST)
    return Error{ErrorCode::kIo, fmt::format("cgroup {}: cannot create", dir)};
  // cpu.max: quota and period in microseconds; 1000 milli-CPUs = one period.
  const std::string cpu = cpu_milli > 0 ? fmt::format("{} 100000", cpu_milli * 100) : "max 100000";
  const std::string mem = mem_mib > 0 ? std::to_string(mem_mib * 1024 * 1024) : "max";
  if (!WriteString(dir + "/cpu.max", cpu) || !WriteString(dir + "/memory.max", mem))
    return Error{ErrorCode::kIo, fmt::format("cgroup {}: cannot set cpu.max/memory.max", dir)};
  return dir;
}

void Cgroups::RemoveTask(const std::string& dir) const {
  if (!dir.empty()) rmdir(dir.c_str());
}

void Cgroups::KillTask(const std::string& dir) const {
  if (!dir.empty()) WriteString(dir + "/cgroup.kill", "1");
}

}  // namespace kojo::agent
