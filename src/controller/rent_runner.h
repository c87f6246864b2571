// RentRunner: runs the providers' start and stop programs for kojod, away
// from the controller's lock. Each program runs as `/bin/sh -c COMMAND` in a
// process group of its own, with its environment added to kojod's (less
// KOJO_TOKEN), stdin and stdout on /dev/null and stderr captured (its last
// line is the reason a failure gives). At its time-out the whole group is
// killed (SIGKILL). It dies with kojod (PR_SET_PDEATHSIG): kojod reconciles
// the slots of programs cut short when it starts again.
//
// The programs of one node run one after another, in the order given; a
// stop given while that node's start runs kills the start first (its end is
// reported as a failure, "cancelled: ...").
//
// Thread safety: every method may be called from any thread. `done` is
// called on a runner thread, with no lock of the runner held.
#pragma once

#include <sys/types.h>

#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/result.h"
#include "model/units.h"

namespace kojo::controller {

struct RentProgram {
  std::string node;     // the slot
  bool start = true;    // a start program, else a stop program
  std::string command;  // run with /bin/sh -c
  std::map<std::string, std::string> env;
  Seconds timeout_s = 600;
  Seconds delay_s = 0;  // wait this long first (retries)
  // Called on the runner thread just before the program runs; what it
  // returns is added to the environment, an error fails the run.
  std::function<Result<std::map<std::string, std::string>>()> prepare;
};

struct RentProgramEnd {
  std::string node;
  bool start = true;
  bool ok = false;
  std::string reason;  // failed: why (exit status and the last line of stderr, time-out, ...)
};

class RentRunner {
 public:
  using Done = std::function<void(const RentProgramEnd&)>;
  explicit RentRunner(Done done);
  ~RentRunner();  // Stop()
  RentRunner(const RentRunner&) = delete;
  RentRunner& operator=(const RentRunner&) = delete;

  void Run(RentProgram p);
  // Kills the programs running (their groups), drops those queued and
  // waits for the runner threads; no `done` call starts after it returns.
  void Stop();
  // Programs running or queued for `node`.
  bool Busy(const std::string& node) const;

 private:
  struct NodeQueue {
    std::deque<RentProgram> queue;
    bool running = false;     // a thread works on this node
    bool running_start = false;
    pid_t pgid = -1;          // the program running now
    bool cancelled = false;   // its kill was asked for
  };
  void Work(std::string node);
  RentProgramEnd Execute(const RentProgram& p, NodeQueue& q);

  Done done_;
  mutable std::mutex mu_;
  std::condition_variable cv_;  // wakes delays at Stop
  bool stopping_ = false;
  std::map<std::string, NodeQueue> nodes_;
  struct Worker {
    std::thread thread;
    std::shared_ptr<bool> finished;  // under mu_
  };
  std::vector<Worker> workers_;
};

}  // namespace kojo::controller
