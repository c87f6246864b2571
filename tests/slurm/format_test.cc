// Slurm's formats for kojo's jobs: state names and codes, exit codes,
// durations, squeue/sinfo format strings, sacct fields and lines, scontrol's
// key=value text, and the plan of a step run by srun inside a job.
#include "slurm/format.h"

#include <ctime>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "slurm/options.h"

namespace kojo::slurm {
namespace {

using ::testing::HasSubstr;

api::JobView Job(api::JobState state) {
  api::JobView v;
  v.id = 42;
  v.state = state;
  v.spec.name = "train";
  v.spec.user = "alice";
  v.spec.project = "vision";
  v.spec.workdir = "/home/alice";
  v.spec.demand.gpus = 2;
  v.spec.demand.cpu_milli = 8000;
  v.spec.demand.mem_mib = 32768;
  v.spec.time_limit_s = 3600;
  v.submit_time = 1000;
  return v;
}

TEST(SlurmState, NamesAndCodes) {
  struct Case {
    api::JobState state;
    std::string reason, name, code;
  };
  const std::vector<Case> cases = {
      {api::JobState::kPending, "Priority", "PENDING", "PD"},
      {api::JobState::kHeld, "Held", "PENDING", "PD"},
      {api::JobState::kStarting, "", "CONFIGURING", "CF"},
      {api::JobState::kRunning, "", "RUNNING", "R"},
      {api::JobState::kStopping, "", "COMPLETING", "CG"},
      {api::JobState::kCompleted, "", "COMPLETED", "CD"},
      {api::JobState::kFailed, "NonZeroExit", "FAILED", "F"},
      {api::JobState::kFailed, "NodeLost", "NODE_FAIL", "NF"},
      {api::JobState::kFailed, "Preempted", "PREEMPTED", "PR"},
      {api::JobState::kCancelled, "", "CANCELLED", "CA"},
      {api::JobState::kTimeout, "", "TIMEOUT", "TO"},
  };
  for (const auto& c : cases) {
    api::JobView v = Job(c.state);
    v.reason = c.reason;
    EXPECT_EQ(StateName(v), c.name) << c.reason;
    EXPECT_EQ(StateCode(v), c.code) << c.reason;
  }
}

TEST(SlurmState, Filters) {
  EXPECT_EQ(*ParseStateFilter("pd"), std::vector<std::string>{"PENDING"});
  EXPECT_EQ(*ParseStateFilter("Running"), std::vector<std::string>{"RUNNING"});
  EXPECT_EQ(*ParseStateFilter("CA"), std::vector<std::string>{"CANCELLED"});
  EXPECT_EQ(*ParseStateFilter("canceled"), std::vector<std::string>{"CANCELLED"});
  EXPECT_GT(ParseStateFilter("all")->size(), 10u);
  EXPECT_FALSE(ParseStateFilter("sleeping"));
}

TEST(SlurmExitCode, ExitAndSignal) {
  api::JobView v = Job(api::JobState::kRunning);
  EXPECT_EQ(ExitCode(v), "0:0");
  v.state = api::JobState::kFailed;
  v.exit_code = 3;
  EXPECT_EQ(ExitCode(v), "3:0");
  v.exit_code.reset();
  v.signal = 9;
  EXPECT_EQ(ExitCode(v), "0:9");
  EXPECT_EQ(Reason(v), "RaisedSignal:9");
}

TEST(SlurmReason, PendingWords) {
  api::JobView v = Job(api::JobState::kPending);
  v.reason = "Resources";
  EXPECT_EQ(Reason(v), "Resources");
  v.reason = "Priority";
  EXPECT_EQ(Reason(v), "Priority");
  v.reason = "Submitted";
  EXPECT_EQ(Reason(v), "None");
  v.state = api::JobState::kHeld;
  EXPECT_EQ(Reason(v), "JobHeldUser");
}

TEST(SlurmDuration, Forms) {
  EXPECT_EQ(SqueueDuration(0), "0:00");
  EXPECT_EQ(SqueueDuration(65), "1:05");
  EXPECT_EQ(SqueueDuration(3725), "1:02:05");
  EXPECT_EQ(SqueueDuration(90061), "1-01:01:01");
  EXPECT_EQ(LongDuration(65), "00:01:05");
  EXPECT_EQ(LongDuration(90061), "1-01:01:01");
  EXPECT_EQ(TimeLimit(std::nullopt, true), "UNLIMITED");
  EXPECT_EQ(TimeLimit(3600, false), "1:00:00");
  EXPECT_EQ(TimeLimit(90, true), "00:02:00");  // whole minutes, rounded up
}

TEST(SqueueFormat, ParsesWidthsAndJustification) {
  auto f = ParseFormat("%.18i %.9P %8j|%t%%", kSqueueLetters);
  ASSERT_TRUE(f.ok()) << f.error().message;
  ASSERT_EQ(f->size(), 5u);
  EXPECT_EQ((*f)[0].letter, 'i');
  EXPECT_EQ((*f)[0].width, 18);
  EXPECT_TRUE((*f)[0].right);
  EXPECT_EQ((*f)[1].literal, " ");
  EXPECT_EQ((*f)[2].width, 8);
  EXPECT_FALSE((*f)[2].right);
  EXPECT_EQ((*f)[3].literal, "|");
  EXPECT_EQ((*f)[4].letter, 0);
  EXPECT_EQ((*f)[4].literal, "%");
  EXPECT_EQ(Fit((*f)[0], "42"), std::string(16, ' ') + "42");
  EXPECT_EQ(Fit((*f)[2], "a-long-name"), "a-long-n");  // truncated to the width
  EXPECT_EQ(Fit((*f)[2], "ab"), "ab      ");
  auto bad = ParseFormat("%i %Y", kSqueueLetters);
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.error().message, HasSubstr("%Y"));
  EXPECT_FALSE(ParseFormat("%.", kSqueueLetters).ok());
}

TEST(SqueueFormat, Values) {
  api::JobView v = Job(api::JobState::kRunning);
  v.start_time = 1000;
  v.placement = {api::Placement{"gpu01", {0, 1}, {}, 1000, 0}};
  EXPECT_EQ(SqueueValue('i', v, 1065), "42");
  EXPECT_EQ(SqueueValue('t', v, 1065), "R");
  EXPECT_EQ(SqueueValue('T', v, 1065), "RUNNING");
  EXPECT_EQ(SqueueValue('M', v, 1065), "1:05");
  EXPECT_EQ(SqueueValue('l', v, 1065), "1:00:00");
  EXPECT_EQ(SqueueValue('R', v, 1065), "gpu01");
  EXPECT_EQ(SqueueValue('P', v, 1065), DefaultPartition());
  EXPECT_TRUE(InPartitions(v, {DefaultPartition()}));
  EXPECT_FALSE(InPartitions(v, {"debug"}));
  api::JobView in_two = v;
  in_two.spec.demand.nodes.partitions = {"debug", "long"};
  EXPECT_EQ(SqueueValue('P', in_two, 1065), "debug");
  EXPECT_TRUE(InPartitions(in_two, {"long"}));
  EXPECT_FALSE(InPartitions(in_two, {DefaultPartition()}));
  EXPECT_EQ(SqueueValue('a', v, 1065), "vision");
  EXPECT_EQ(SqueueValue('C', v, 1065), "8");
  EXPECT_EQ(SqueueValue('D', v, 1065), "1");
  api::JobView p = Job(api::JobState::kPending);
  p.reason = "Resources";
  EXPECT_EQ(SqueueValue('R', p, 1065), "(Resources)");
  EXPECT_EQ(SqueueValue('M', p, 1065), "0:00");
  p.array_id = 40;
  p.array_index = 2;
  EXPECT_EQ(SqueueValue('i', p, 1065), "40_2");
  EXPECT_EQ(SqueueValue('A', p, 1065), "42");
  EXPECT_EQ(SqueueValue('K', p, 1065), "2");
}

TEST(SacctFormat, FieldsAndWidths) {
  auto f = ParseSacctFormat("jobidraw,State,ExitCode%5,Account%20");
  ASSERT_TRUE(f.ok()) << f.error().message;
  ASSERT_EQ(f->size(), 4u);
  EXPECT_EQ((*f)[0].name, "JobIDRaw");
  EXPECT_EQ((*f)[2].width, 5);
  EXPECT_EQ((*f)[3].width, 20);
  auto bad = ParseSacctFormat("JobID,MaxRSS");
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.error().message, HasSubstr("MaxRSS"));
}

TEST(SacctFormat, Lines) {
  auto f = *ParseSacctFormat("JobIDRaw,State,ExitCode");
  api::JobView v = Job(api::JobState::kFailed);
  v.exit_code = 1;
  std::vector<std::string> values;
  for (const auto& field : f) values.push_back(SacctValue(field, v, 2000));
  EXPECT_EQ(SacctLine(f, values, true, false), "42|FAILED|1:0");
  EXPECT_EQ(SacctLine(f, values, true, true), "42|FAILED|1:0|");
  EXPECT_EQ(SacctLine(f, values, false, false), "42               FAILED      1:0 ");
  // Too long for its width: cut, ending in '+'.
  auto narrow = *ParseSacctFormat("JobName%4");
  EXPECT_EQ(SacctLine(narrow, {"training"}, false, false), "tra+ ");
}

TEST(SacctFormat, Values) {
  api::JobView v = Job(api::JobState::kCompleted);
  v.start_time = 1000;
  v.end_time = 1125;
  v.exit_code = 0;
  auto get = [&](const std::string& name) {
    auto f = ParseSacctFormat(name);
    return SacctValue((*f)[0], v, 5000);
  };
  EXPECT_EQ(get("State"), "COMPLETED");
  EXPECT_EQ(get("ExitCode"), "0:0");
  EXPECT_EQ(get("Elapsed"), "00:02:05");
  EXPECT_EQ(get("ElapsedRaw"), "125");
  EXPECT_EQ(get("Account"), "vision");
  EXPECT_EQ(get("JobName"), "train");
  EXPECT_EQ(get("Timelimit"), "01:00:00");
  EXPECT_EQ(get("ReqMem"), "32768M");
  EXPECT_THAT(get("ReqTRES"), HasSubstr("gres/gpu=2"));
  EXPECT_EQ(get("Partition"), DefaultPartition());
}

TEST(Scontrol, KeyValueText) {
  api::JobView v = Job(api::JobState::kCompleted);
  v.start_time = 1000;
  v.end_time = 1010;
  v.exit_code = 0;
  v.placement = {api::Placement{"gpu01", {0, 1}, {}, 1000, 0}};
  const std::string text = ScontrolJob(v, 2000, false);
  EXPECT_EQ(text.rfind("JobId=42 JobName=train\n", 0), 0u) << text;
  EXPECT_THAT(text, HasSubstr("   JobState=COMPLETED Reason=None"));
  EXPECT_THAT(text, HasSubstr("ExitCode=0:0"));
  EXPECT_THAT(text, HasSubstr("Account=vision"));
  EXPECT_THAT(text, HasSubstr("NodeList=gpu01"));
  EXPECT_THAT(text, HasSubstr("RunTime=00:00:10 TimeLimit=01:00:00"));
  EXPECT_THAT(text, HasSubstr("Partition=" + DefaultPartition()));
  EXPECT_THAT(text, ::testing::Not(HasSubstr("DerivedExitCode")));
  EXPECT_THAT(ScontrolJob(v, 2000, true), HasSubstr("DerivedExitCode=0:0"));
  EXPECT_THAT(ScontrolJob(v, 2000, true), HasSubstr("Nodes=gpu01"));
}

TEST(Sinfo, GroupsAndValues) {
  auto node = [](const std::string& name, api::NodeState st, int used) {
    api::NodeView n;
    n.info.name = name;
    n.info.cpu_milli = 64000;
    n.info.mem_mib = 512000;
    for (int i = 0; i < 4; ++i) n.info.gpus.push_back(api::GpuInfo{i, "H100", 81920, ""});
    n.state = st;
    n.gpus_used = used;
    if (used > 0) n.jobs = {1};
    return n;
  };
  const std::vector<api::NodeView> nodes = {node("gpu01", api::NodeState::kUp, 0),
                                            node("gpu02", api::NodeState::kUp, 0),
                                            node("gpu03", api::NodeState::kUp, 4),
                                            node("gpu04", api::NodeState::kDrained, 0)};
  auto groups = GroupNodes(nodes, false);
  ASSERT_EQ(groups.size(), 3u);
  EXPECT_EQ(groups[0].state, "idle");
  EXPECT_EQ(SinfoValue('N', groups[0]), "gpu[01-02]");
  EXPECT_EQ(SinfoValue('D', groups[0]), "2");
  EXPECT_EQ(SinfoValue('t', groups[1]), "alloc");
  EXPECT_EQ(SinfoValue('t', groups[2]), "drain");
  EXPECT_EQ(SinfoValue('P', groups[0]), DefaultPartition() + "*");
  EXPECT_EQ(SinfoValue('G', groups[0]), "gpu:h100:4");
  EXPECT_EQ(SinfoValue('l', groups[0]), "infinite");
  // A partition of the organisation, not the default, with a time limit.
  NodeGroup debug = groups[0];
  debug.partition = "debug";
  debug.is_default = false;
  debug.time_limit = 1800;
  EXPECT_EQ(SinfoValue('P', debug), "debug");
  EXPECT_EQ(SinfoValue('R', debug), "debug");
  EXPECT_EQ(SinfoValue('l', debug), "30:00");
  EXPECT_EQ(GroupNodes(nodes, true).size(), 4u);
  auto f = ParseFormat(kSinfoDefault, kSinfoLetters);
  ASSERT_TRUE(f.ok());
  EXPECT_TRUE((*f)[0].fit_column);
}

TEST(Sinfo, RentedNodesShowTheirPowerStateAsSlurmsCloudNodesDo) {
  api::NodeView n;
  n.info.name = "partner-a-1";
  n.provider = "partner-a";
  n.state = api::NodeState::kDown;
  n.rent_state = "off";
  EXPECT_EQ(NodeStateName(n), "idle~");
  EXPECT_EQ(CompactNodeState(NodeStateName(n)), "idle~");
  n.rent_state = "starting";
  EXPECT_EQ(NodeStateName(n), "idle#");
  n.rent_state = "stopping";
  n.jobs = {7};
  EXPECT_EQ(NodeStateName(n), "mixed%");
  EXPECT_EQ(CompactNodeState(NodeStateName(n)), "mix%");
  n.rent_state = "up";
  n.state = api::NodeState::kUp;
  n.jobs.clear();
  EXPECT_EQ(NodeStateName(n), "idle");
}

TEST(SlurmTime, SacctForms) {
  const Seconds now = 1700000000;
  EXPECT_EQ(*ParseSlurmTime("now", now), now);
  EXPECT_EQ(*ParseSlurmTime("now-2days", now), now - 2 * 86400);
  EXPECT_EQ(*ParseSlurmTime("NOW-3hours", now), now - 3 * 3600);
  EXPECT_EQ(*ParseSlurmTime("now+10minutes", now), now + 600);
  EXPECT_EQ(*ParseSlurmTime("now-30", now), now - 30);
  std::tm tm{};
  tm.tm_year = 2026 - 1900;
  tm.tm_mon = 11;
  tm.tm_mday = 6;
  tm.tm_hour = 4;
  tm.tm_min = 5;
  tm.tm_isdst = -1;
  const Seconds t = static_cast<Seconds>(std::mktime(&tm));
  EXPECT_EQ(*ParseSlurmTime("2026-12-06T04:05", now), t);
  EXPECT_EQ(*ParseSlurmTime("2026-12-06T04:05:00", now), t);
  EXPECT_LE(*ParseSlurmTime("midnight", now), now);
  EXPECT_GT(*ParseSlurmTime("today", now), now - 86400);
  for (const char* bad : {"yesterday", "now-2fortnights", "now-", "2026-13-01", "12/06/2026", "2026-12-06T04:05:00Z"})
    EXPECT_FALSE(ParseSlurmTime(bad, now).ok()) << bad;
}

TEST(SrunStep, Plans) {
  StepPlan p = PlanStep(0, 0, 0, 1);
  EXPECT_EQ(p.ntasks, 1);
  EXPECT_TRUE(p.error.empty());
  p = PlanStep(4, 0, 0, 1);
  EXPECT_EQ(p.ntasks, 4);
  EXPECT_EQ(p.nodes, 1);
  p = PlanStep(0, 3, 0, 1);
  EXPECT_EQ(p.ntasks, 3);
  p = PlanStep(1, 0, 0, 2);  // one task: this node
  EXPECT_TRUE(p.error.empty());
  // The job's two nodes: each node's srun runs its share.
  p = PlanStep(0, 0, 0, 2, 1);
  EXPECT_TRUE(p.error.empty()) << p.error;
  EXPECT_EQ(p.nodes, 2);
  EXPECT_EQ(p.per_node, (std::vector<int>{1, 1}));
  EXPECT_EQ(p.first_rank, 1);
  EXPECT_EQ(p.local, 1);
  // Block distribution: 5 tasks over 2 nodes are 3 + 2.
  p = PlanStep(5, 0, 2, 2, 1);
  EXPECT_EQ(p.per_node, (std::vector<int>{3, 2}));
  EXPECT_EQ(p.first_rank, 3);
  EXPECT_EQ(p.local, 2);
  p = PlanStep(3, 2, 0, 4, 0);  // --ntasks-per-node=2: 2 + 1 on 2 of the 4 nodes
  EXPECT_EQ(p.nodes, 2);
  EXPECT_EQ(p.per_node, (std::vector<int>{2, 1}));
  p = PlanStep(3, 2, 0, 4, 3);  // a node past the step's runs nothing
  EXPECT_TRUE(p.error.empty());
  EXPECT_EQ(p.local, 0);
  p = PlanStep(1, 0, 2, 2);
  EXPECT_THAT(p.error, HasSubstr("1 tasks cannot be spread over 2 nodes"));
  p = PlanStep(2, 0, 3, 1);
  EXPECT_THAT(p.error, HasSubstr("the job has 1"));
}

TEST(SlurmOptions, GetoptForms) {
  const std::vector<OptSpec> specs = {{"noheader", 'h', ArgKind::kNone},
                                      {"format", 'o', ArgKind::kRequired},
                                      {"parsable2", 'P', ArgKind::kNone},
                                      {"jobs", 'j', ArgKind::kRequired},
                                      {"kill-on-bad-exit", 'K', ArgKind::kOptional}};
  auto p = ParseArgs({"-hP", "-o%i", "--form", "x", "--jobs=1,2", "5", "-K"}, specs, false);
  ASSERT_TRUE(p.ok()) << p.error().message;
  ASSERT_EQ(p->opts.size(), 6u);
  EXPECT_EQ(p->opts[0].name, "noheader");
  EXPECT_EQ(p->opts[1].name, "parsable2");
  EXPECT_EQ(p->opts[2].value, "%i");
  EXPECT_EQ(p->opts[3].name, "format");
  EXPECT_EQ(p->opts[3].value, "x");
  EXPECT_EQ(p->opts[4].value, "1,2");
  EXPECT_EQ(p->opts[5].value, "");
  EXPECT_EQ(p->positional, std::vector<std::string>{"5"});
  // srun: the command ends the options.
  p = ParseArgs({"-h", "cmd", "-o", "x"}, specs, true);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->positional, (std::vector<std::string>{"cmd", "-o", "x"}));
  auto bad = ParseArgs({"--bogus"}, specs, false);
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.error().message, HasSubstr("--bogus"));
  EXPECT_FALSE(ParseArgs({"-o"}, specs, false).ok());
  EXPECT_FALSE(ParseArgs({"-x"}, specs, false).ok());
}

}  // namespace
}  // namespace kojo::slurm
