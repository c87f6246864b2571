// Runs the real `kojo` binary (KOJO_BINARY) for the user commands: dry runs
// of scripts with #SBATCH lines, bad options, an unreachable controller, and,
// when the daemons are built (KOJOD_BINARY, KOJO_AGENT_BINARY), a session
// against a real `kojod --dev` on 127.0.0.1.
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using Json = nlohmann::json;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

std::string Slurp(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

void Spit(const fs::path& p, const std::string& text) {
  fs::create_directories(p.parent_path());
  std::ofstream f(p, std::ios::binary | std::ios::trunc);
  f << text;
}

struct Outcome {
  int code = -1;
  std::string out, err;
  double seconds = 0;
};

// Runs `argv` in its own process group with `env` replacing the variables
// named there (an empty value removes one), stdin from `in` (or /dev/null);
// killed after `timeout`.
Outcome RunProcess(const std::vector<std::string>& argv, const fs::path& dir, const std::map<std::string, std::string>& env,
                   const std::string& in = "", std::chrono::seconds timeout = std::chrono::seconds(60)) {
  static int counter = 0;
  const std::string tag = std::to_string(++counter);
  const fs::path out = dir / ("out." + tag), err = dir / ("err." + tag), input = dir / ("in." + tag);
  Spit(input, in);
  const auto start = Clock::now();
  const pid_t pid = fork();
  if (pid == 0) {
    setpgid(0, 0);
    const int i = ::open(input.c_str(), O_RDONLY);
    const int o = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int e = ::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(i, 0);
    dup2(o, 1);
    dup2(e, 2);
    for (const auto& [k, v] : env) {
      if (v.empty()) unsetenv(k.c_str());
      else setenv(k.c_str(), v.c_str(), 1);
    }
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
  Outcome o;
  int status = 0;
  while (true) {
    if (waitpid(pid, &status, WNOHANG) == pid) break;
    if (Clock::now() - start > timeout) {
      ::kill(-pid, SIGKILL);
      waitpid(pid, &status, 0);
      o.err = "(killed: timeout)\n";
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  o.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  o.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  o.out = Slurp(out);
  o.err += Slurp(err);
  fs::remove(out);
  fs::remove(err);
  fs::remove(input);
  return o;
}

// A TCP port on 127.0.0.1 that nothing listens on (bound, then closed).
int FreePort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

class JobCommands : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/kojo-jobcli-XXXXXX";
    dir_ = mkdtemp(tmpl);
    // Nothing from the developer's own setup leaks in.
    env_ = {{"HOME", (dir_ / "home").string()},
            {"XDG_CONFIG_HOME", (dir_ / "config").string()},
            {"KOJO_SERVER", ""},
            {"KOJO_TOKEN", ""}};
    fs::create_directories(dir_ / "home");
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  Outcome Kojo(std::vector<std::string> args, const std::string& in = "",
               const std::map<std::string, std::string>& extra_env = {}) {
    args.insert(args.begin(), KOJO_BINARY);
    auto env = env_;
    for (const auto& [k, v] : extra_env) env[k] = v;
    return RunProcess(args, dir_, env, in);
  }

  Json DryRun(std::vector<std::string> args, const std::string& in = "") {
    args.insert(args.begin(), {"submit", "--dry-run", "--json"});
    Outcome o = Kojo(args, in);
    EXPECT_EQ(o.code, 0) << o.err;
    Json j = Json::parse(o.out, nullptr, false);
    EXPECT_TRUE(j.is_object()) << o.out;
    return j;
  }

  fs::path dir_;
  std::map<std::string, std::string> env_;
};

// ---- without a controller ----

TEST_F(JobCommands, DryRunResolvesEveryDirective) {
  const fs::path script = dir_ / "train.sh";
  Spit(script,
       "#!/bin/bash\n"
       "# a comment before the directives\n"
       "#SBATCH --job-name=resnet\n"
       "#SBATCH -N 2 --gres=gpu:a100:4   # 8 GPUs\n"
       "#SBATCH -t 1-12:00:00\n"
       "#SBATCH -c 4 --mem=16G\n"
       "#SBATCH -o logs/%x-%j.out -e logs/%x-%j.err\n"
       "#SBATCH --array=0-9%2\n"
       "#SBATCH -A vision\n"
       "#KOJO --env STAGE=train\n"
       "# SBATCH --time=1   (a comment: space after #)\n"
       "\n"
       "srun python train.py\n"
       "#SBATCH --gres=gpu:1   (after the first command: ignored)\n");
  Json j = DryRun({script.string()});
  EXPECT_EQ(j["name"], "resnet");
  EXPECT_EQ(j["gpus"], 8);
  EXPECT_EQ(j["tasks"], 2);
  EXPECT_EQ(j["gpu_models"], Json::array({"a100"}));
  EXPECT_EQ(j["time_limit_s"], 36 * 3600);
  EXPECT_EQ(j["cpu_milli"], 8000);
  EXPECT_EQ(j["mem_mib"], 32768);
  EXPECT_EQ(j["stdout"], "logs/%x-%j.out");
  EXPECT_EQ(j["stderr"], "logs/%x-%j.err");
  EXPECT_EQ(j["array"], "0-9%2");
  EXPECT_EQ(j["project"], "vision");
  EXPECT_EQ(j["env"]["STAGE"], "train");
  EXPECT_EQ(j["script"], Slurp(script));
  EXPECT_EQ(j["workdir"], fs::current_path().string());
  EXPECT_TRUE(j["user"].is_string());
  EXPECT_FALSE(j.contains("command"));

  // The command line overrides the directives.
  j = DryRun({"-t", "30", "--gpus-per-node=2", "-J", "short", script.string()});
  EXPECT_EQ(j["time_limit_s"], 1800);
  EXPECT_EQ(j["gpus"], 4);
  EXPECT_EQ(j["name"], "short");
  EXPECT_FALSE(j.contains("gpu_models"));
}

TEST_F(JobCommands, DryRunOfACommandAndOfStdin) {
  Json j = DryRun({"--gpus", "2", "-t", "5:00", "-p", "nlp", "--", "python", "-c", "print(1)"});
  EXPECT_EQ(j["command"], Json::array({"python", "-c", "print(1)"}));
  EXPECT_EQ(j["name"], "python");
  EXPECT_EQ(j["gpus"], 2);
  EXPECT_EQ(j["time_limit_s"], 300);
  EXPECT_EQ(j["project"], "nlp");
  // Not a file here: a command, and the options after it are its own.
  j = DryRun({"-G", "1", "nvidia-smi", "-L", "--gpus", "3"});
  EXPECT_EQ(j["command"], Json::array({"nvidia-smi", "-L", "--gpus", "3"}));
  EXPECT_EQ(j["gpus"], 1);
  j = DryRun({}, "#!/bin/sh\n#SBATCH -t 2\necho from stdin\n");
  EXPECT_EQ(j["time_limit_s"], 120);
  EXPECT_EQ(j["script"], "#!/bin/sh\n#SBATCH -t 2\necho from stdin\n");
  j = DryRun({"--wrap", "echo hi"});
  EXPECT_EQ(j["name"], "wrap");
}

TEST_F(JobCommands, ScriptArgumentsFollowTheScript) {
  const fs::path script = dir_ / "job.sh";
  Spit(script, "#!/bin/sh\n#SBATCH -t 1\necho \"$@\"\n");
  Json j = DryRun({script.string(), "--time=9", "x"});
  EXPECT_EQ(j["time_limit_s"], 60);  // --time=9 is the script's argument
  ASSERT_TRUE(j["command"].is_array());
  EXPECT_EQ(j["command"][0], "/bin/sh");
  EXPECT_EQ(j["command"].back(), "x");
}

TEST_F(JobCommands, BadOptionsExitTwoNamingTheOption) {
  Outcome o = Kojo({"submit", "--bogus", "1", "--", "true"});
  EXPECT_EQ(o.code, 2);
  EXPECT_THAT(o.err, HasSubstr("--bogus"));
  o = Kojo({"submit", "--dependency=afterok:1", "--", "true"});
  EXPECT_EQ(o.code, 2);
  EXPECT_THAT(o.err, HasSubstr("--dependency: not supported"));
  o = Kojo({"submit", "--time=abc", "--", "true"});
  EXPECT_EQ(o.code, 2);
  EXPECT_THAT(o.err, HasSubstr("--time"));
  o = Kojo({"submit", "-N", "2", "--gpus=3", "--", "true"});
  EXPECT_EQ(o.code, 2);
  EXPECT_THAT(o.err, HasSubstr("--gpus: 3 GPUs cannot be split evenly"));
  const fs::path script = dir_ / "bad.sh";
  Spit(script, "#!/bin/sh\n#SBATCH -t 5\n#SBATCH --constraint=a100&\ntrue\n");
  o = Kojo({"submit", "--dry-run", script.string()});
  EXPECT_EQ(o.code, 2);
  EXPECT_THAT(o.err, HasSubstr("bad.sh:3: --constraint"));
  EXPECT_THAT(o.err, Not(HasSubstr("terminate")));
  o = Kojo({"submit", "--dry-run"});
  EXPECT_EQ(o.code, 2);
  EXPECT_THAT(o.err, HasSubstr("nothing to run"));
  o = Kojo({"show", "abc"});
  EXPECT_EQ(o.code, 2);
  EXPECT_THAT(o.err, HasSubstr("abc"));
  o = Kojo({"queue", "--state", "DONE"});
  EXPECT_EQ(o.code, 2);
  EXPECT_THAT(o.err, HasSubstr("--state"));
  o = Kojo({"cancel"});
  EXPECT_EQ(o.code, 2);
}

TEST_F(JobCommands, InformationalOptionsWarnOnStderr) {
  Outcome o = Kojo({"submit", "--dry-run", "--json", "--mail-user=a@b.c", "--qos=high", "--", "true"});
  EXPECT_EQ(o.code, 0) << o.err;
  EXPECT_THAT(o.err, HasSubstr("warning: --mail-user ignored"));
  EXPECT_THAT(o.err, HasSubstr("warning: --qos ignored"));
  EXPECT_TRUE(Json::parse(o.out, nullptr, false).is_object());
  o = Kojo({"submit", "--dry-run", "-Q", "--mail-user=a@b.c", "--", "true"});
  EXPECT_EQ(o.err, "");
}

TEST_F(JobCommands, HelpListsCommandsAndExitCodes) {
  Outcome o = Kojo({"--help"});
  EXPECT_EQ(o.code, 0);
  for (const char* c : {"submit", "queue", "show", "cancel", "hold", "release", "logs", "nodes", "Exit codes"})
    EXPECT_THAT(o.out, HasSubstr(c));
  o = Kojo({"submit", "--help"});
  EXPECT_EQ(o.code, 0);
  EXPECT_THAT(o.out, HasSubstr("#SBATCH"));
  o = Kojo({"queue", "--help"});
  EXPECT_EQ(o.code, 0);
  EXPECT_THAT(o.out, HasSubstr("KOJO_SERVER"));
}

TEST_F(JobCommands, UnreachableControllerIsOneClearLineAndFast) {
  const std::string url = "http://127.0.0.1:" + std::to_string(FreePort());
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"queue", "--server", url},
           {"submit", "--server", url, "--", "true"},
           {"nodes", "--server", url},
           {"logs", "--server", url, "1"}}) {
    Outcome o = Kojo(args);
    EXPECT_EQ(o.code, 1) << args[0] << ": " << o.err;
    EXPECT_THAT(o.err, HasSubstr("cannot reach the kojo controller at " + url + ": connection refused"));
    EXPECT_THAT(o.err, HasSubstr("kojod --dev"));
    EXPECT_EQ(std::count(o.err.begin(), o.err.end(), '\n'), 1) << o.err;
    EXPECT_LT(o.seconds, 5.0);
  }
}

TEST_F(JobCommands, ServerResolutionOrder) {
  const std::string a = "http://127.0.0.1:" + std::to_string(FreePort());
  const std::string b = "http://127.0.0.1:" + std::to_string(FreePort());
  // The default.
  Outcome o = Kojo({"queue"});
  EXPECT_EQ(o.code, 1);
  EXPECT_THAT(o.err, HasSubstr("http://127.0.0.1:7100"));
  // dev.json, then config.json over it, then the environment, then the flag.
  Spit(dir_ / "config" / "kojo" / "dev.json", "{\"server\": \"" + a + "\", \"token\": \"t\"}");
  o = Kojo({"queue"});
  EXPECT_THAT(o.err, HasSubstr(a));
  EXPECT_THAT(o.err, HasSubstr("dev.json"));
  Spit(dir_ / "config" / "kojo" / "config.json", "{\"server\": \"127.0.0.1:1\"}");
  o = Kojo({"queue"});
  EXPECT_THAT(o.err, HasSubstr("http://127.0.0.1:1"));
  EXPECT_THAT(o.err, HasSubstr("config.json"));
  o = Kojo({"queue"}, "", {{"KOJO_SERVER", b}});
  EXPECT_THAT(o.err, HasSubstr(b));
  EXPECT_THAT(o.err, HasSubstr("KOJO_SERVER"));
  o = Kojo({"queue", "--server", a}, "", {{"KOJO_SERVER", b}});
  EXPECT_THAT(o.err, HasSubstr(a));
  // A malformed config file is an input error naming it.
  Spit(dir_ / "config" / "kojo" / "config.json", "{not json");
  o = Kojo({"queue"});
  EXPECT_EQ(o.code, 2);
  EXPECT_THAT(o.err, HasSubstr("config.json"));
}

// ---- against a real controller ----

#if defined(KOJOD_BINARY) && defined(KOJO_AGENT_BINARY)

class LiveCli : public JobCommands {
 protected:
  void SetUp() override {
    JobCommands::SetUp();
    const fs::path data = dir_ / "data";
    fs::create_directories(data);
    std::vector<std::string> argv = {KOJOD_BINARY, "--dev", "--data-dir", data.string(), "--listen", "127.0.0.1:0",
                                     "--gpus", "4xH100-80GB", "--kill-grace", "1"};
    const pid_t parent = getpid();
    pid_ = fork();
    if (pid_ == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);  // dies with the test process, even one that aborts
      if (getppid() != parent) _exit(1);
      setpgid(0, 0);
      const int fd = ::open((dir_ / "kojod.log").c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      dup2(fd, 1);
      dup2(fd, 2);
      for (const auto& [k, v] : env_) {
        if (v.empty()) unsetenv(k.c_str());
        else setenv(k.c_str(), v.c_str(), 1);
      }
      std::vector<char*> args;
      for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
      args.push_back(nullptr);
      execv(args[0], args.data());
      _exit(127);
    }
    setpgid(pid_, pid_);
    ASSERT_TRUE(WaitFor([&] { return !Slurp(data / "kojod.addr").empty(); }, std::chrono::seconds(20)))
        << Slurp(dir_ / "kojod.log");
    url_ = Slurp(data / "kojod.addr");
    while (!url_.empty() && (url_.back() == '\n' || url_.back() == ' ')) url_.pop_back();
    // The agent registers its node.
    ASSERT_TRUE(WaitFor(
        [&] {
          Outcome o = Kojo({"nodes", "--json", "--server", url_});
          Json j = Json::parse(o.out, nullptr, false);
          return o.code == 0 && j.is_object() && !j["nodes"].empty() && j["nodes"][0]["state"] == "UP";
        },
        std::chrono::seconds(30)))
        << Slurp(dir_ / "kojod.log");
  }
  void TearDown() override {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      int status = 0;
      if (!WaitFor([&] { return waitpid(pid_, &status, WNOHANG) == pid_; }, std::chrono::seconds(15))) {
        ::kill(-pid_, SIGKILL);
        waitpid(pid_, &status, 0);
      }
      ::kill(-pid_, SIGKILL);  // anything left in its group
    }
    JobCommands::TearDown();
  }

  static bool WaitFor(const std::function<bool()>& pred, std::chrono::seconds timeout) {
    const auto deadline = Clock::now() + timeout;
    while (Clock::now() < deadline) {
      if (pred()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return pred();
  }

  std::int64_t Submit(std::vector<std::string> args) {
    args.insert(args.begin(), {"submit", "--parsable", "--server", url_});
    Outcome o = Kojo(args);
    EXPECT_EQ(o.code, 0) << o.err;
    try {
      return std::stoll(o.out);
    } catch (...) {
      ADD_FAILURE() << "no job id in: " << o.out << o.err;
      return 0;
    }
  }

  Json Show(std::int64_t id) {
    Outcome o = Kojo({"show", "--json", "--server", url_, std::to_string(id)});
    return Json::parse(o.out, nullptr, false);
  }

  bool WaitState(std::int64_t id, const std::string& state, int seconds = 30) {
    return WaitFor([&] { return Show(id).value("state", "") == state; }, std::chrono::seconds(seconds));
  }

  pid_t pid_ = -1;
  std::string url_;
};

TEST_F(LiveCli, SubmitQueueLogsCancel) {
  // A command, with the server given explicitly; the token comes from dev.json.
  const std::int64_t id = Submit({"-J", "hello", "--", "sh", "-c", "echo hello-kojo; echo oops >&2"});
  ASSERT_GT(id, 0);
  Outcome q = Kojo({"queue", "--all", "--json", "--server", url_});
  ASSERT_EQ(q.code, 0) << q.err;
  Json jobs = Json::parse(q.out, nullptr, false)["jobs"];
  ASSERT_TRUE(jobs.is_array());
  bool found = false;
  for (const auto& j : jobs) found = found || (j["id"] == id && j["spec"]["name"] == "hello");
  EXPECT_TRUE(found) << q.out;

  ASSERT_TRUE(WaitState(id, "COMPLETED")) << Show(id).dump() << Slurp(dir_ / "kojod.log");
  Outcome logs = Kojo({"logs", "--server", url_, std::to_string(id)});
  EXPECT_EQ(logs.code, 0) << logs.err;
  EXPECT_EQ(logs.out, "hello-kojo\n");
  logs = Kojo({"logs", "--stderr", "--server", url_, std::to_string(id)});
  EXPECT_EQ(logs.out, "oops\n");

  // Without --server: the CLI finds dev.json by itself.
  Outcome table = Kojo({"queue", "--all"});
  ASSERT_EQ(table.code, 0) << table.err;
  EXPECT_THAT(table.out, HasSubstr("NODES(REASON)"));
  EXPECT_THAT(table.out, HasSubstr("hello"));
  EXPECT_THAT(table.out, HasSubstr("COMPLETED"));
  Outcome show = Kojo({"show", std::to_string(id)});
  EXPECT_EQ(show.code, 0) << show.err;
  EXPECT_THAT(show.out, HasSubstr("COMPLETED"));
  // The command is shown quoted as a POSIX shell would need it.
  EXPECT_THAT(show.out, HasSubstr("command:     sh -c 'echo hello-kojo; echo oops >&2'\n")) << show.out;
  const std::int64_t quoted = Submit({"--", "printf", "%s|", "it's", "a $HOME"});
  ASSERT_TRUE(WaitState(quoted, "COMPLETED")) << Show(quoted).dump();
  show = Kojo({"show", std::to_string(quoted)});
  const std::string shown = "printf '%s|' 'it'\\''s' 'a $HOME'";
  EXPECT_THAT(show.out, HasSubstr("command:     " + shown + "\n")) << show.out;
  Outcome replay = Kojo({"logs", std::to_string(quoted)});
  EXPECT_EQ(replay.out, "it's|a $HOME|");

  // Cancel a sleeping job.
  const std::int64_t sleeper = Submit({"--", "sleep", "300"});
  ASSERT_TRUE(WaitState(sleeper, "RUNNING")) << Show(sleeper).dump();
  Outcome c = Kojo({"cancel", "--server", url_, std::to_string(sleeper)});
  EXPECT_EQ(c.code, 0) << c.err;
  EXPECT_TRUE(WaitState(sleeper, "CANCELLED")) << Show(sleeper).dump();

  // Cancelling an ended job is refused (1); an unknown job is not found (3).
  c = Kojo({"cancel", "--server", url_, std::to_string(id)});
  EXPECT_EQ(c.code, 1);
  EXPECT_THAT(c.err, HasSubstr("cannot be cancelled"));
  c = Kojo({"show", "--server", url_, "999999"});
  EXPECT_EQ(c.code, 3);
  EXPECT_THAT(c.err, HasSubstr("999999"));
  c = Kojo({"cancel", "--server", url_, "999999", std::to_string(sleeper)});
  EXPECT_EQ(c.code, 3);
}

TEST_F(LiveCli, WhyExplainsAWaitInTextAndJson) {
  // The test's node has 4 GPUs: a takes them all for at most 10 minutes.
  const std::int64_t a = Submit({"--gpus", "4", "-t", "10", "--", "sleep", "300"});
  const std::int64_t b = Submit({"--gpus", "4", "-t", "10", "--", "true"});
  ASSERT_TRUE(WaitState(a, "RUNNING")) << Show(a).dump();
  Json why;
  ASSERT_TRUE(WaitFor([&] {
    Outcome o = Kojo({"why", "--json", "--server", url_, std::to_string(b)});
    why = Json::parse(o.out, nullptr, false);
    return o.code == 0 && why.value("reason", "") == "Resources";
  }, std::chrono::seconds(15))) << why.dump();
  EXPECT_TRUE(why["message"].is_string());
  ASSERT_TRUE(why["estimated_start"].is_string()) << why.dump();
  EXPECT_EQ(why["estimated_start_unix"].get<std::int64_t>(), Show(a)["start_unix"].get<std::int64_t>() + 600);
  Outcome text = Kojo({"why", "--server", url_, std::to_string(b)});
  EXPECT_EQ(text.code, 0) << text.err;
  EXPECT_THAT(text.out, HasSubstr("is PENDING: Resources"));
  EXPECT_THAT(text.out, HasSubstr("estimated start: 20"));
  Outcome queue = Kojo({"queue", "--server", url_});
  EXPECT_THAT(queue.out, HasSubstr("(Resources, start by"));
  Outcome held = Kojo({"hold", "--server", url_, std::to_string(b)});
  EXPECT_EQ(held.code, 0) << held.err;
  text = Kojo({"why", "--server", url_, std::to_string(b)});
  EXPECT_THAT(text.out, HasSubstr("is HELD: Held"));
  EXPECT_EQ(Kojo({"why", "--server", url_, "999999"}).code, 3);
  Kojo({"cancel", "--server", url_, std::to_string(a), std::to_string(b)});
}

TEST_F(LiveCli, AHeldArrayIsOneRowOfTheQueueUntilItsTasksChange) {
  const std::int64_t first = Submit({"--hold", "--array", "0-9", "-J", "sweep", "--", "true"});
  ASSERT_GT(first, 0);
  Outcome released = Kojo({"release", "--server", url_, std::to_string(first + 4)});
  ASSERT_EQ(released.code, 0) << released.err;
  ASSERT_TRUE(WaitState(first + 4, "COMPLETED")) << Show(first + 4).dump();
  // Without --all the completed task is not listed: the held ones on
  // either side of it are adjacent rows and fold into one.
  Outcome q = Kojo({"queue", "--server", url_});
  ASSERT_EQ(q.code, 0) << q.err;
  EXPECT_THAT(q.out, HasSubstr(fmt::format("{}_[0-3,5-9]", first))) << q.out;
  EXPECT_THAT(q.out, ::testing::Not(HasSubstr(fmt::format("({}_1)", first)))) << q.out;
  Outcome all = Kojo({"queue", "--all", "--server", url_});
  EXPECT_THAT(all.out, HasSubstr(fmt::format("{}_[0-3]", first))) << all.out;
  EXPECT_THAT(all.out, HasSubstr(fmt::format("{} ({}_4)", first + 4, first))) << all.out;
  EXPECT_THAT(all.out, HasSubstr(fmt::format("{}_[5-9]", first))) << all.out;
  Outcome expanded = Kojo({"queue", "-r", "--server", url_});
  for (int k : {0, 3, 5, 9}) EXPECT_THAT(expanded.out, HasSubstr(fmt::format("{} ({}_{})", first + k, first, k))) << expanded.out;
  Outcome json = Kojo({"queue", "--json", "--server", url_});
  Json jobs = Json::parse(json.out, nullptr, false)["jobs"];
  ASSERT_TRUE(jobs.is_array()) << json.out;
  EXPECT_EQ(jobs.size(), 9u);  // every task
}

TEST_F(LiveCli, LogsOfAJobThatNeverLaunchedSayWhy) {
  const std::int64_t id = Submit({"--", "no-such-program-kojo"});
  ASSERT_GT(id, 0);
  ASSERT_TRUE(WaitState(id, "FAILED")) << Show(id).dump();
  Outcome logs = Kojo({"logs", "--server", url_, std::to_string(id)});
  EXPECT_EQ(logs.code, 0) << logs.err;
  EXPECT_THAT(logs.err, HasSubstr("without starting"));
  EXPECT_THAT(logs.err, HasSubstr("no-such-program-kojo"));
}

TEST_F(LiveCli, SbatchScriptFollowLogsHoldAndNodes) {
  const fs::path script = dir_ / "job.sh";
  Spit(script,
       "#!/bin/sh\n"
       "#SBATCH --job-name=scripted\n"
       "#SBATCH --gres=gpu:1 -t 5\n"
       "echo \"args: $1 $2\"\n"
       "echo \"gpus: $CUDA_VISIBLE_DEVICES\"\n"
       "sleep 1\n"
       "echo done\n");
  const std::int64_t id = Submit({script.string(), "one", "two"});
  ASSERT_GT(id, 0);
  Outcome f = Kojo({"logs", "-f", "--server", url_, std::to_string(id)});
  EXPECT_EQ(f.code, 0) << f.err;
  EXPECT_THAT(f.out, HasSubstr("args: one two\n"));
  EXPECT_THAT(f.out, HasSubstr("gpus: "));
  EXPECT_THAT(f.out, HasSubstr("done\n"));
  Json v = Show(id);
  EXPECT_EQ(v["spec"]["name"], "scripted");
  EXPECT_EQ(v["spec"]["gpus"], 1);
  EXPECT_EQ(v["spec"]["time_limit_s"], 300);

  // Hold and release.
  const std::int64_t held = Submit({"--hold", "--", "true"});
  EXPECT_EQ(Show(held)["state"], "HELD");
  Outcome r = Kojo({"release", "--server", url_, std::to_string(held)});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(WaitState(held, "COMPLETED"));

  // Nodes, drain and resume.
  Outcome n = Kojo({"nodes", "--server", url_});
  ASSERT_EQ(n.code, 0) << n.err;
  EXPECT_THAT(n.out, HasSubstr("CGROUPS"));
  EXPECT_THAT(n.out, HasSubstr("UP"));
  Json nodes = Json::parse(Kojo({"nodes", "--json", "--server", url_}).out, nullptr, false);
  const std::string node = nodes["nodes"][0]["name"];
  Outcome d = Kojo({"nodes", "drain", node, "--reason", "maintenance", "--server", url_});
  EXPECT_EQ(d.code, 0) << d.err;
  EXPECT_THAT(d.out, HasSubstr("maintenance"));
  d = Kojo({"resume", node, "--server", url_});
  EXPECT_EQ(d.code, 0) << d.err;
  EXPECT_THAT(d.out, HasSubstr("UP"));
  d = Kojo({"drain", "no-such-node", "--server", url_});
  EXPECT_EQ(d.code, 3);

  // A job no node can run is refused by the controller: exit 2.
  Outcome big = Kojo({"submit", "--server", url_, "--gpus", "64", "--", "true"});
  EXPECT_EQ(big.code, 2) << big.err;
  // A wrong token: exit 4.
  Outcome auth = Kojo({"queue", "--server", url_, "--token", "wrong"});
  EXPECT_EQ(auth.code, 4) << auth.err;
}

#endif

}  // namespace
