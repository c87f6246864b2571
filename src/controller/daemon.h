// Pieces of the kojod executable that tests and the main function share:
// listen addresses, default folders, the --dev agent and its config file.
#pragma once

#include <sys/types.h>

#include <string>
#include <utility>
#include <vector>

#include "common/result.h"

namespace kojo::controller {

// "127.0.0.1:7100" -> {"127.0.0.1", 7100}; port 0 = any free port.
Result<std::pair<std::string, int>> ParseListen(const std::string& text);

// $XDG_DATA_HOME/kojo/<leaf> or ~/.local/share/kojo/<leaf>.
std::string DefaultDataDir(const std::string& leaf);
// $XDG_CONFIG_HOME/kojo/dev.json or ~/.config/kojo/dev.json.
std::string DevConfigPath();

// True when NVML can be loaded (a real NVIDIA driver is present).
bool NvmlPresent();

// The kojo-agent executable next to this program (/proc/self/exe's folder).
std::string SiblingBinary(const std::string& name);

// Starts `argv` as a child that gets SIGTERM when this process dies, with
// KOJO_TOKEN=token in its environment. Returns its pid.
Result<pid_t> SpawnChild(const std::vector<std::string>& argv, const std::string& token);
// SIGTERM, then SIGKILL after `grace_ms`; reaps the child.
void StopChild(pid_t pid, int grace_ms);

}  // namespace kojo::controller
