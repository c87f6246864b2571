// Slurm's words and output formats for kojo's jobs and nodes, without I/O:
// job states and their compact codes, exit codes ("0:0"), durations and
// times as squeue/sacct/scontrol print them, squeue's and sinfo's "%.8j"
// format strings, sacct's field lists, and scontrol's key=value text.
// The commands (commands.h) fetch the jobs and print what these return.
#pragma once

#include <ctime>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/types.h"
#include "common/result.h"

namespace kojo::slurm {

// The partition shown when the organisation defines none: every node is
// in it, the default (sinfo's %P marks it with '*').
std::string DefaultPartition();
// The partition a job ran in: the first it may use (DefaultPartition()
// when it has none).
std::string PartitionOf(const api::JobView& v);
// True when the job may run in one of `wanted` (squeue/scancel/sacct -p).
bool InPartitions(const api::JobView& v, const std::vector<std::string>& wanted);

// Slurm's extended state name of a job: PENDING, CONFIGURING (placed, not
// yet started), RUNNING, COMPLETING, COMPLETED, FAILED, CANCELLED, TIMEOUT,
// NODE_FAIL (its node was lost), PREEMPTED (preempted and not requeued),
// OUT_OF_MEMORY.
std::string StateName(const api::JobView& v);
// squeue's compact code: PD, CF, R, CG, CD, F, CA, TO, NF, PR, OOM.
std::string StateCode(const api::JobView& v);
// A state given to squeue -t / sacct -s (either form, any case, "all"):
// the Slurm names it stands for; nullopt when it is not one.
std::optional<std::vector<std::string>> ParseStateFilter(std::string_view word);

// "exit:signal", e.g. "0:0", "1:0", "0:9"; "0:0" for a job that has not ended.
std::string ExitCode(const api::JobView& v);
// The reason squeue's %r and scontrol's Reason= show (Slurm's words where
// they exist: Priority, Resources, JobHeldUser, None, NonZeroExitCode, ...).
std::string Reason(const api::JobView& v);

// squeue's %M/%l form: "M:SS", "H:MM:SS", "D-HH:MM:SS".
std::string SqueueDuration(Seconds s);
// sacct's and scontrol's form: "HH:MM:SS", "D-HH:MM:SS".
std::string LongDuration(Seconds s);
// A time limit: "UNLIMITED" for none, else `fmt`.
std::string TimeLimit(const std::optional<Seconds>& limit, bool long_form);
// "2026-12-06T04:55:00" in local time; "Unknown" for none (scontrol),
// or `none` when given.
std::string SlurmTime(std::optional<Seconds> t, std::string_view none = "Unknown");
// Job's run time so far (end or `now` minus start; 0 when not started).
Seconds RunTime(const api::JobView& v, Seconds now);
// The nodes a job holds, in Slurm's hostlist form ("" when none).
std::string NodeList(const api::JobView& v);
int NodeCount(const api::JobView& v);
// Whole CPUs the job asks for (at least one per task).
int CpuCount(const api::JobView& v);
// scontrol's TresPerNode: "gres:gpu:2", "gres:gpu:h100:2" ("N/A" without GPUs).
std::string GresText(const api::JobView& v);

// ---- squeue / sinfo format strings: "%[[.]size]type[suffix]" ----

struct FormatField {
  std::string literal;  // text before the field (or all of it, letter == 0)
  char letter = 0;
  int width = 0;        // 0 = as wide as the value
  bool right = false;
  bool fit_column = false;  // sinfo's "%#P": as wide as the column's longest value
};
// Parses a format; an unknown letter is refused naming it (`known` lists
// the letters the command supports).
Result<std::vector<FormatField>> ParseFormat(std::string_view format, std::string_view known);
// Pads or truncates `value` to the field's width.
std::string Fit(const FormatField& f, const std::string& value);

// The header squeue prints for a letter ("JOBID", "PARTITION", ...).
std::string SqueueHeader(char letter);
// One job's value for a squeue letter.
std::string SqueueValue(char letter, const api::JobView& v, Seconds now);
inline constexpr std::string_view kSqueueLetters = "aAcCDeFijKlLmMNoPrRStTuVZ";
inline constexpr std::string_view kSqueueDefault = "%.18i %.9P %.8j %.8u %.2t %.10M %.6D %R";
inline constexpr std::string_view kSqueueLong = "%.18i %.9P %.8j %.8u %.8T %.10M %.9l %.6D %R";

// sinfo: one line per group of nodes that share a state.
struct NodeGroup {
  std::vector<std::string> names;
  std::string state;  // Slurm's: idle, mixed, allocated, draining, drained, down, unknown
  int cpus = 0;       // per node (the first node's)
  MiB mem_mib = 0;
  std::string gres;   // "gpu:H100:4"
  int gpus_total = 0;
  std::string partition = DefaultPartition();
  bool is_default = true;
  std::optional<Seconds> time_limit;  // the partition's max_time; none = infinite
};
std::string SinfoHeader(char letter);
std::string SinfoValue(char letter, const NodeGroup& g);
inline constexpr std::string_view kSinfoLetters = "aAcCDEfGlmNnPRtT";
inline constexpr std::string_view kSinfoDefault = "%#P %.5a %.10l %.6D %.6t %N";
// sinfo's compact state: idle, mix, alloc, drng, drain, down, unk.
std::string CompactNodeState(std::string_view state);
// Slurm's node state for a kojo node.
std::string NodeStateName(const api::NodeView& n);
// Nodes grouped as sinfo groups them (by state, in the order met);
// `by_node`: one group per node (sinfo -N).
std::vector<NodeGroup> GroupNodes(const std::vector<api::NodeView>& nodes, bool by_node);

// ---- sacct --format ----

struct SacctField {
  std::string name;  // canonical spelling, e.g. "JobIDRaw"
  int width = 0;     // from "Name%20"; 0 = the field's default
};
// "JobIdRaw,State,ExitCode%10" (case-insensitive names); unknown names are
// refused naming them.
Result<std::vector<SacctField>> ParseSacctFormat(std::string_view text);
inline constexpr std::string_view kSacctDefault = "JobID,JobName,Partition,Account,AllocCPUS,State,ExitCode";
int SacctDefaultWidth(std::string_view name);
std::string SacctValue(const SacctField& f, const api::JobView& v, Seconds now);
// One line: parsable ('|' between fields, `trailing` adds one at the end,
// as -p does and -P does not) or fixed width (each field padded to its
// width, right-justified but for JobID/JobName-like text, a space after
// each; longer values end in '+').
std::string SacctLine(const std::vector<SacctField>& fields, const std::vector<std::string>& values, bool parsable,
                      bool trailing);

// sacct's --starttime/--endtime: "now", "now-2days" (also +, and
// seconds/minutes/hours/days/weeks), "today"/"midnight" (00:00 today),
// "YYYY-MM-DD[THH:MM[:SS]]" in local time: Unix seconds.
Result<Seconds> ParseSlurmTime(std::string_view text, Seconds now);

// ---- scontrol show job ----

// Slurm's key=value description of one job, as `scontrol show job` prints
// it (details: -d adds the per-node lines).
std::string ScontrolJob(const api::JobView& v, Seconds now, bool details);

// ---- srun inside a job ----

// One rank of a step run on this node.
struct StepRank {
  int procid = 0;   // rank in the step
  int localid = 0;  // rank on this node
};
// The step's size: `ntasks` (-n, 0 = not given), `ntasks_per_node`
// (0 = not given), `nodes` (-N, 0 = not given), against the job's nodes.
// A step of `ntasks` tasks over the first `nodes` of the job's nodes, in
// Slurm's block distribution (the first nodes take one more when the tasks
// do not divide evenly; with --ntasks-per-node, that many per node). kojo
// runs a job's script on each of its nodes, so each node's srun starts its
// own share: `local` tasks from rank `first_rank` (none on a node past the
// step's).
struct StepPlan {
  int ntasks = 1;
  int nodes = 1;
  std::vector<int> per_node;  // tasks on each of the step's nodes
  int node_index = 0;         // this node (SLURM_NODEID)
  int first_rank = 0, local = 1;
  std::string error;  // set when the step cannot run
};
StepPlan PlanStep(int ntasks, int ntasks_per_node, int nodes, int job_nodes, int node_index = 0);

}  // namespace kojo::slurm
