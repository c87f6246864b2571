// The live system end to end: a real kojod and real kojo-agents with
// emulated GPUs on 127.0.0.1, running real commands.
#include <gtest/gtest.h>

#include <fstream>

#include <fmt/format.h>

#include "daemons.h"

#ifdef KOJO_AGENT_BINARY

namespace kojo::testing {
namespace {

using namespace std::chrono_literals;

class ClusterTest : public ::testing::Test {
 protected:
  // No lease: a lost node's jobs are requeued at once (leases: fence_test.cc).
  void StartKojod(const std::string& listen = "127.0.0.1:0") {
    kojod_ = std::make_unique<Kojod>(dir_.path() + "/kojod",
                                     std::vector<std::string>{"--node-timeout", "2", "--kill-grace", "1", "--lease", "0"},
                                     listen);
    ASSERT_TRUE(kojod_->ok()) << kojod_->log();
  }
  // An agent named `name` with `gpus` emulated H100s; waits until it is UP.
  void StartAgent(const std::string& name, int gpus, const std::vector<std::string>& extra = {}) {
    const std::string state = dir_.path() + "/" + name;
    std::vector<std::string> argv{KOJO_AGENT_BINARY, "--server", kojod_->url(), "--name", name, "--state-dir", state,
                                  "--listen", "127.0.0.1:0", "--emulate-gpus", fmt::format("{}xH100-80GB", gpus),
                                  "--kill-grace", "1", "--heartbeat-wait-ms", "500"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    agents_[name] = Process(argv, dir_.path() + "/" + name + ".log");
    ASSERT_TRUE(WaitFor([&] { return NodeState(name) == "UP"; }, 15s))
        << ReadFile(dir_.path() + "/" + name + ".log") << kojod_->log();
  }
  std::string NodeState(const std::string& name) { return kojod_->NodeState(name); }
  httplib::Client Client() { return kojod_->Client(); }
  JobId Submit(const Json& spec) {
    std::string refusal;
    const JobId id = kojod_->Submit(spec, &refusal);
    EXPECT_NE(id, 0) << refusal;
    return id;
  }
  Json Job(JobId id) { return kojod_->Job(id); }
  bool WaitState(JobId id, const std::string& state, std::chrono::milliseconds timeout = 20s) {
    return WaitFor([&] { return Job(id)["state"] == state; }, timeout);
  }
  std::string Logs(JobId id, int rank = 0, const std::string& stream = "stdout") {
    auto r = Client().Get(fmt::format("/api/v1/jobs/{}/logs?rank={}&stream={}", id, rank, stream).c_str());
    return r && r->status == 200 ? r->body : "ERROR " + (r ? r->body : std::string("no answer"));
  }
  static Json Sh(const std::string& script) { return Json{"/bin/sh", "-c", script}; }

  TempDir dir_;
  std::unique_ptr<Kojod> kojod_;
  std::map<std::string, Process> agents_;
};

TEST_F(ClusterTest, TwoOneGpuJobsSeeDifferentGpus) {
  StartKojod();
  StartAgent("n1", 2);
  const JobId a = Submit({{"command", Sh("echo $CUDA_VISIBLE_DEVICES $NVIDIA_VISIBLE_DEVICES $KOJO_JOB_ID; sleep 1")}, {"gpus", 1}});
  const JobId b = Submit({{"command", Sh("echo $CUDA_VISIBLE_DEVICES $NVIDIA_VISIBLE_DEVICES $KOJO_JOB_ID; sleep 1")}, {"gpus", 1}});
  ASSERT_TRUE(WaitState(a, "RUNNING") || Job(a)["state"] == "COMPLETED");
  ASSERT_TRUE(WaitState(b, "RUNNING") || Job(b)["state"] == "COMPLETED") << Job(b).dump();
  ASSERT_TRUE(WaitState(a, "COMPLETED")) << Job(a).dump();
  ASSERT_TRUE(WaitState(b, "COMPLETED")) << Job(b).dump();
  const std::string la = Logs(a), lb = Logs(b);
  EXPECT_NE(la, lb);
  const std::set<std::string> seen = {la, lb};
  const std::set<std::string> one = {fmt::format("0 0 {}\n", a), fmt::format("1 1 {}\n", b)};
  const std::set<std::string> other = {fmt::format("1 1 {}\n", a), fmt::format("0 0 {}\n", b)};
  EXPECT_TRUE(seen == one || seen == other) << la << lb;
  EXPECT_EQ(Job(a)["exit_code"], 0);
}

// An open kojod (no users, no tokens) lets anyone read logs through it, but
// the agent's log server still answers kojod alone.
TEST_F(ClusterTest, AnOpenKojodStillKeepsTheAgentsLogServerShut) {
  StartKojod();
  StartAgent("n1", 1);
  const JobId id = Submit({{"command", Sh("echo open-log")}});
  ASSERT_TRUE(WaitState(id, "COMPLETED")) << Job(id).dump();
  EXPECT_EQ(Logs(id), "open-log\n");
  const Json node = Body(Client().Get("/api/v1/nodes/n1"));
  EXPECT_FALSE(node.contains("log_secret")) << node.dump();
  httplib::Client agent(node["agent_url"].get<std::string>());
  auto r = agent.Get(fmt::format("/logs/{}", id).c_str());
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 401) << r->body;
  EXPECT_EQ(r->body.find("open-log"), std::string::npos);
  // A restarted agent has a new key: kojod learns it at once.
  agents_["n1"].Kill();
  StartAgent("n1", 1);
  EXPECT_TRUE(WaitFor([&] { return Logs(id) == "open-log\n"; }, 10s)) << Logs(id);
}

// An interactive job's terminal through kojod: output from an offset,
// input, resize, the end and the exit status; the agent's terminal routes
// answer kojod alone; a session outlives an agent restart; a batch job has
// no terminal.
TEST_F(ClusterTest, KojodRelaysAnInteractiveJobsTerminal) {
  StartKojod();
  StartAgent("n1", 2);
  // `read -t`: a failed test leaves no shell behind (the session outlives its agents).
  const JobId id = Submit({{"command", Json{"/bin/bash", "-c", "echo gpus=$CUDA_VISIBLE_DEVICES; read -t 20 a; "
                                                              "echo size=$(stty size) got=$a; exit 3"}},
                           {"gpus", 1}, {"pty", true}, {"time_limit_s", 60}});
  ASSERT_TRUE(WaitState(id, "RUNNING")) << Job(id).dump();
  auto read_until = [&](std::int64_t& offset, const std::string& want) {
    std::string all;
    WaitFor([&] {
      auto r = Client().Get(fmt::format("/api/v1/jobs/{}/tty?offset={}&wait_ms=500", id, offset).c_str());
      if (!r || r->status != 200) return false;
      all += r->body;
      offset = std::stoll(r->get_header_value("X-Kojo-Tty-Offset"));
      return all.find(want) != std::string::npos;
    }, 10s);
    return all;
  };
  std::int64_t offset = 0;
  EXPECT_NE(read_until(offset, "gpus=").find("gpus=0"), std::string::npos);
  // The agent killed and started again: the session ran on, and the new
  // agent took its terminal back.
  auto agent_url = [&] { return Body(Client().Get("/api/v1/nodes/n1")).value("agent_url", std::string()); };
  const std::string old_url = agent_url();
  agents_["n1"].Kill();
  StartAgent("n1", 2);
  ASSERT_TRUE(WaitFor([&] { return agent_url() != old_url; }, 10s));
  ASSERT_EQ(Job(id)["state"], "RUNNING") << Job(id).dump();
  auto resized = Client().Post(fmt::format("/api/v1/jobs/{}/tty/resize", id).c_str(), R"({"rows": 31, "cols": 97})",
                               "application/json");
  ASSERT_TRUE(resized);
  EXPECT_EQ(resized->status, 204) << resized->body;
  auto bad = Client().Post(fmt::format("/api/v1/jobs/{}/tty/resize", id).c_str(), R"({"rows": 0, "cols": 97})",
                           "application/json");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400);
  EXPECT_NE(bad->body.find("rows: expected an integer 1..10000"), std::string::npos) << bad->body;
  auto typed = Client().Post(fmt::format("/api/v1/jobs/{}/tty/input", id).c_str(), "hello\r", "application/octet-stream");
  ASSERT_TRUE(typed);
  EXPECT_EQ(typed->status, 204) << typed->body;
  EXPECT_NE(read_until(offset, "got=").find("size=31 97 got=hello"), std::string::npos);
  ASSERT_TRUE(WaitState(id, "FAILED")) << Job(id).dump();
  EXPECT_EQ(Job(id)["exit_code"], 3);
  // Read to its end: every byte, then the end of file.
  auto last = Client().Get(fmt::format("/api/v1/jobs/{}/tty?offset={}&wait_ms=2000", id, offset).c_str());
  ASSERT_TRUE(last);
  EXPECT_TRUE(WaitFor([&] {
    last = Client().Get(fmt::format("/api/v1/jobs/{}/tty?offset={}&wait_ms=500", id, offset).c_str());
    return last && last->get_header_value("X-Kojo-Tty-Eof") == "1";
  }, 5s));
  auto late = Client().Post(fmt::format("/api/v1/jobs/{}/tty/input", id).c_str(), "x", "application/octet-stream");
  ASSERT_TRUE(late);
  EXPECT_EQ(late->status, 409) << late->body;
  // The agent's own terminal routes: kojod's key only.
  httplib::Client agent(Body(Client().Get("/api/v1/nodes/n1"))["agent_url"].get<std::string>());
  auto direct = agent.Post(fmt::format("/tty/{}/input", id).c_str(), "x", "application/octet-stream");
  ASSERT_TRUE(direct);
  EXPECT_EQ(direct->status, 401);
  // A batch job has no terminal.
  const JobId batch = Submit({{"command", Sh("echo batch")}});
  ASSERT_TRUE(WaitState(batch, "COMPLETED"));
  auto none = Client().Get(fmt::format("/api/v1/jobs/{}/tty", batch).c_str());
  ASSERT_TRUE(none);
  EXPECT_EQ(none->status, 409);
  EXPECT_NE(none->body.find("has no terminal"), std::string::npos) << none->body;
}

TEST_F(ClusterTest, GangJobSpansTwoAgents) {
  StartKojod();
  StartAgent("n1", 2);
  StartAgent("n2", 2);
  const JobId id = Submit({{"command", Sh("echo rank=$KOJO_RANK of $KOJO_WORLD_SIZE peers=$KOJO_PEERS gpus=$CUDA_VISIBLE_DEVICES")},
                           {"gpus", 4}, {"tasks", 2}});
  ASSERT_TRUE(WaitState(id, "COMPLETED")) << Job(id).dump();
  Json job = Job(id);
  ASSERT_EQ(job["placement"].size(), 2u);
  std::set<std::string> nodes = {job["placement"][0]["node"], job["placement"][1]["node"]};
  EXPECT_EQ(nodes, (std::set<std::string>{"n1", "n2"}));
  const std::string peers = fmt::format("{},{}", job["placement"][0]["node"].get<std::string>(),
                                        job["placement"][1]["node"].get<std::string>());
  EXPECT_EQ(Logs(id, 0), fmt::format("rank=0 of 2 peers={} gpus=0,1\n", peers));
  EXPECT_EQ(Logs(id, 1), fmt::format("rank=1 of 2 peers={} gpus=0,1\n", peers));
}

// Slurm's variables, read from inside real tasks of a gang job and of an
// array task.
TEST_F(ClusterTest, TasksSeeSlurmsEnvironment) {
  StartKojod();
  StartAgent("n1", 2);
  StartAgent("n2", 2);
  const std::string vars =
      "SLURM_JOB_ID SLURM_JOBID SLURM_JOB_NAME SLURM_JOB_ACCOUNT SLURM_CLUSTER_NAME SLURM_SUBMIT_DIR "
      "SLURM_JOB_NODELIST SLURM_NODELIST SLURM_JOB_NUM_NODES SLURM_NNODES SLURM_NTASKS SLURM_NPROCS "
      "SLURM_TASKS_PER_NODE SLURM_PROCID SLURM_NODEID SLURM_LOCALID SLURM_CPUS_PER_TASK SLURM_JOB_GPUS "
      "SLURM_GPUS_ON_NODE SLURM_JOB_PARTITION SLURM_ARRAY_JOB_ID SLURM_ARRAY_TASK_ID SLURM_ARRAY_TASK_COUNT "
      "SLURM_ARRAY_TASK_MIN SLURM_ARRAY_TASK_MAX SLURM_ARRAY_TASK_STEP CUDA_VISIBLE_DEVICES";
  const std::string print = "for v in " + vars + "; do eval \"echo $v=\\${$v-unset}\"; done";
  const JobId id = Submit({{"name", "gang"}, {"command", Sh(print)}, {"gpus", 4}, {"tasks", 2},
                           {"cpu_milli", 4000}, {"workdir", dir_.path()}});
  ASSERT_TRUE(WaitState(id, "COMPLETED")) << Job(id).dump();
  const Json job = Job(id);
  ASSERT_EQ(job["placement"].size(), 2u);
  const std::string first = job["placement"][0]["node"], second = job["placement"][1]["node"];
  for (int rank = 0; rank < 2; ++rank) {
    const std::string gpus = job["placement"][rank]["gpus"] == Json{0, 1} ? "0,1" : "?";
    EXPECT_EQ(Logs(id, rank),
              fmt::format("SLURM_JOB_ID={0}\nSLURM_JOBID={0}\nSLURM_JOB_NAME=gang\nSLURM_JOB_ACCOUNT=default\n"
                          "SLURM_CLUSTER_NAME=kojo\nSLURM_SUBMIT_DIR={1}\nSLURM_JOB_NODELIST={2}\nSLURM_NODELIST={2}\n"
                          "SLURM_JOB_NUM_NODES=2\nSLURM_NNODES=2\nSLURM_NTASKS=2\nSLURM_NPROCS=2\n"
                          "SLURM_TASKS_PER_NODE=1(x2)\nSLURM_PROCID={3}\nSLURM_NODEID={3}\nSLURM_LOCALID=0\n"
                          "SLURM_CPUS_PER_TASK=2\nSLURM_JOB_GPUS={4}\nSLURM_GPUS_ON_NODE=2\nSLURM_JOB_PARTITION=unset\n"
                          "SLURM_ARRAY_JOB_ID=unset\nSLURM_ARRAY_TASK_ID=unset\nSLURM_ARRAY_TASK_COUNT=unset\n"
                          "SLURM_ARRAY_TASK_MIN=unset\nSLURM_ARRAY_TASK_MAX=unset\nSLURM_ARRAY_TASK_STEP=unset\n"
                          "CUDA_VISIBLE_DEVICES={4}\n",
                          id, dir_.path(), first == "n1" ? "n[1-2]" : "n[2,1]", rank, gpus))
        << "rank " << rank;
  }

  const auto r = Client().Post("/api/v1/jobs", Json{{"command", Sh(print)}, {"array", "1-5:2"}}.dump(), "application/json");
  ASSERT_TRUE(r && r->status == 201) << (r ? r->body : "no answer");
  const Json ids = Body(r)["ids"];
  ASSERT_EQ(ids.size(), 3u) << ids.dump();
  const JobId task = ids[1].get<JobId>(), array = ids[0].get<JobId>();
  ASSERT_TRUE(WaitState(task, "COMPLETED")) << Job(task).dump();
  const std::string out = Logs(task);
  for (const std::string& line :
       {fmt::format("SLURM_JOB_ID={}\n", task), fmt::format("SLURM_ARRAY_JOB_ID={}\n", array),
        std::string("SLURM_ARRAY_TASK_ID=3\n"), std::string("SLURM_ARRAY_TASK_COUNT=3\n"),
        std::string("SLURM_ARRAY_TASK_MIN=1\n"), std::string("SLURM_ARRAY_TASK_MAX=5\n"),
        std::string("SLURM_ARRAY_TASK_STEP=2\n"), std::string("SLURM_NTASKS=1\n"),
        std::string("SLURM_CPUS_PER_TASK=unset\n"), std::string("SLURM_JOB_GPUS=unset\n")})
    EXPECT_NE(out.find(line), std::string::npos) << line << out;
}

TEST_F(ClusterTest, ConstraintsPartitionsAndNodeLists) {
  StartKojod();
  StartAgent("n1", 1, {"--features", "IB,rack1"});
  StartAgent("n2", 1, {"--features", "rack2"});
  const Json n1 = Body(Client().Get("/api/v1/nodes/n1"));
  EXPECT_EQ(n1["features"], (Json{"IB", "rack1"})) << n1.dump();
  const std::string where = "echo $SLURM_JOB_NODELIST $SLURM_JOB_PARTITION";
  const JobId ib = Submit({{"command", Sh(where)}, {"gpus", 1}, {"constraint", "ib&h100"}});
  const JobId rack2 = Submit({{"command", Sh(where)}, {"gpus", 1}, {"constraint", "rack9|rack2"}});
  const JobId listed = Submit({{"command", Sh(where)}, {"gpus", 0}, {"nodelist", {"n[1-2]"}}, {"exclude", {"n1"}}});
  for (JobId id : {ib, rack2, listed}) ASSERT_TRUE(WaitState(id, "COMPLETED")) << Job(id).dump();
  EXPECT_EQ(Logs(ib), "n1\n");
  EXPECT_EQ(Logs(rack2), "n2\n");
  EXPECT_EQ(Logs(listed), "n2\n");
  // Emulated GPUs report the utilisation their agent's file says.
  {
    std::ofstream(dir_.path() + "/n1/emulated-gpu-util") << "64\n";
    ASSERT_TRUE(WaitFor([&] { return Body(Client().Get("/api/v1/nodes/n1"))["gpu_util"] == Json{64}; }, 10s))
        << Body(Client().Get("/api/v1/nodes/n1")).dump();
  }
  // No node has it: refused at once, naming the constraint.
  auto r = Client().Post("/api/v1/jobs", Json{{"command", Sh("true")}, {"constraint", "nvlink"}}.dump(),
                         "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 422) << r->body;
  EXPECT_NE(r->body.find("no node matches its constraint nvlink"), std::string::npos) << r->body;
  r = Client().Post("/api/v1/jobs", Json{{"command", Sh("true")}, {"constraint", "a|"}}.dump(), "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400) << r->body;
  EXPECT_NE(r->body.find("constraint: constraint 'a|'"), std::string::npos) << r->body;

  // Partitions from the organisation document: the default one holds n2
  // only and gives jobs its default time limit.
  const Json org = {{"partitions", {{{"name", "debug"}, {"nodes", "n2"}, {"max_time_s", 600}, {"default_time_s", 300},
                                     {"default", true}},
                                    {{"name", "all"}}}}};
  r = Client().Put("/api/v1/org", org.dump(), "application/json");
  ASSERT_TRUE(r && r->status == 200) << (r ? r->body : "no answer");
  const JobId debug = Submit({{"command", Sh(where)}, {"gpus", 1}});
  ASSERT_TRUE(WaitState(debug, "COMPLETED")) << Job(debug).dump();
  EXPECT_EQ(Logs(debug), "n2 debug\n");
  EXPECT_EQ(Job(debug)["spec"]["time_limit_s"], 300);
  EXPECT_EQ(Job(debug)["spec"]["partitions"], Json{"debug"});
  r = Client().Post("/api/v1/jobs", Json{{"command", Sh("true")}, {"time_limit_s", 3600}}.dump(), "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400) << r->body;
  EXPECT_NE(r->body.find("time_limit_s: 3600 is over the max_time_s of partition 'debug' (600)"), std::string::npos)
      << r->body;
  r = Client().Post("/api/v1/jobs", Json{{"command", Sh("true")}, {"partitions", {"gpu"}}}.dump(), "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400) << r->body;
  EXPECT_NE(r->body.find("no partition named 'gpu' (known: debug, all)"), std::string::npos) << r->body;
  const JobId any = Submit({{"command", Sh(where)}, {"partitions", {"all"}}, {"nodelist", {"n1"}}});
  ASSERT_TRUE(WaitState(any, "COMPLETED")) << Job(any).dump();
  EXPECT_EQ(Logs(any), "n1 all\n");
}

TEST_F(ClusterTest, TimeLimitCancelAndExitCodes) {
  StartKojod();
  StartAgent("n1", 4);
  const JobId slow = Submit({{"command", Sh("sleep 30")}, {"gpus", 1}, {"time_limit_s", 1}});
  const JobId cancel = Submit({{"command", Sh("sleep 30")}, {"gpus", 1}});
  const JobId bad = Submit({{"command", Sh("echo oops >&2; exit 3")}, {"gpus", 1}});
  const JobId missing = Submit({{"command", {"/nonexistent/program"}}, {"gpus", 1}});
  ASSERT_TRUE(WaitState(cancel, "RUNNING")) << Job(cancel).dump();
  auto r = Client().Post(fmt::format("/api/v1/jobs/{}/cancel", cancel).c_str(), "", "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
  EXPECT_TRUE(WaitState(cancel, "CANCELLED", 10s)) << Job(cancel).dump();
  EXPECT_TRUE(WaitState(slow, "TIMEOUT", 15s)) << Job(slow).dump();
  EXPECT_TRUE(WaitState(bad, "FAILED")) << Job(bad).dump();
  EXPECT_EQ(Job(bad)["exit_code"], 3);
  EXPECT_EQ(Job(bad)["reason"], "NonZeroExit");
  EXPECT_EQ(Logs(bad, 0, "stderr"), "oops\n");
  EXPECT_TRUE(WaitState(missing, "FAILED")) << Job(missing).dump();
  // A log read of an ended job says so.
  auto logs = Client().Get(fmt::format("/api/v1/jobs/{}/logs?stream=stderr", bad).c_str());
  ASSERT_TRUE(logs);
  EXPECT_EQ(logs->get_header_value("X-Kojo-Log-Eof"), "1");
  EXPECT_EQ(logs->get_header_value("X-Kojo-Log-Offset"), "5");
}

TEST_F(ClusterTest, KilledAgentsNodeGoesDownAndJobsRequeueOrFail) {
  StartKojod();
  StartAgent("n1", 2);
  const std::string pids = dir_.path() + "/pids";
  const JobId requeue = Submit({{"command", Sh(fmt::format("echo attempt $KOJO_ATTEMPT on $KOJO_NODE; echo $$ >> {}; sleep 20", pids))},
                                {"gpus", 1}, {"requeue", true}});
  const JobId fail = Submit({{"command", Sh(fmt::format("echo $$ >> {}; sleep 20", pids))}, {"gpus", 1}, {"requeue", false}});
  ASSERT_TRUE(WaitState(requeue, "RUNNING"));
  ASSERT_TRUE(WaitState(fail, "RUNNING"));
  agents_["n1"].Kill();  // kill -9
  EXPECT_TRUE(WaitFor([&] { return NodeState("n1") == "DOWN"; }, 10s));
  EXPECT_TRUE(WaitState(fail, "FAILED", 5s)) << Job(fail).dump();
  EXPECT_EQ(Job(fail)["reason"], "NodeLost");
  EXPECT_TRUE(WaitState(requeue, "PENDING", 5s)) << Job(requeue).dump();
  // Another node: the requeued job runs again there, as attempt 2.
  StartAgent("n2", 2);
  EXPECT_TRUE(WaitState(requeue, "RUNNING")) << Job(requeue).dump();
  EXPECT_EQ(Job(requeue)["attempt"], 2);
  EXPECT_EQ(Job(requeue)["placement"][0]["node"], "n2");
  // Each attempt's log stays readable: the current one by default, the
  // first on n1 once its agent is back.
  auto attempt_log = [&](const std::string& query) {
    auto r = Client().Get(fmt::format("/api/v1/jobs/{}/logs{}", requeue, query).c_str());
    return r ? std::make_pair(r->status, r->body) : std::make_pair(0, std::string());
  };
  EXPECT_TRUE(WaitFor([&] { return Logs(requeue) == "attempt 2 on n2\n"; }, 10s)) << Logs(requeue);
  EXPECT_EQ(attempt_log("?attempt=2").second, "attempt 2 on n2\n");
  StartAgent("n1", 2);
  auto first = attempt_log("?attempt=1");
  EXPECT_EQ(first.first, 200) << first.second;
  EXPECT_EQ(first.second, "attempt 1 on n1\n");
  auto none = attempt_log("?attempt=3");
  EXPECT_EQ(none.first, 404);
  EXPECT_NE(none.second.find("attempts with logs: 1, 2"), std::string::npos) << none.second;
  EXPECT_EQ(attempt_log("?attempt=0").first, 400);
  EXPECT_EQ(attempt_log("?attempt=x").first, 400);
  auto c = Client();
  c.Post(fmt::format("/api/v1/jobs/{}/cancel", requeue).c_str(), "", "application/json");
  EXPECT_TRUE(WaitState(requeue, "CANCELLED", 10s));
  // The orphaned tasks of the killed agent.
  std::istringstream in(ReadFile(pids));
  for (int pid; in >> pid;) ::kill(-pid, SIGKILL), ::kill(pid, SIGKILL);
}

TEST_F(ClusterTest, ControllerRestartKeepsRunningJobs) {
  StartKojod();
  StartAgent("n1", 2);
  const std::string go = dir_.path() + "/go";
  const JobId id = Submit({{"command", Sh(fmt::format("while [ ! -e {} ]; do sleep 0.05; done; echo done", go))}, {"gpus", 1}});
  ASSERT_TRUE(WaitState(id, "RUNNING"));
  const int port = kojod_->port();
  kojod_->process().Kill();  // kill -9 of the controller; the agent and its task stay
  kojod_.reset();
  // The same data folder and port: the agent finds it again and registers
  // with the task it still has.
  StartKojod(fmt::format("127.0.0.1:{}", port));
  ASSERT_TRUE(WaitFor([&] { return NodeState("n1") == "UP"; }, 15s)) << kojod_->log();
  EXPECT_EQ(Job(id)["state"], "RUNNING") << Job(id).dump();
  std::ofstream(go) << "x";
  EXPECT_TRUE(WaitState(id, "COMPLETED")) << Job(id).dump();
  EXPECT_EQ(Logs(id), "done\n");
  EXPECT_EQ(Job(id)["attempt"], 1);  // adopted, never started twice
}

}  // namespace
}  // namespace kojo::testing

#endif  // KOJO_AGENT_BINARY
