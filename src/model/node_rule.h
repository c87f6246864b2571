// Where a job may run, besides its GPU model: node features with Slurm's
// constraint syntax, partitions, and node lists. Value types and pure
// functions; the scheduler asks NodeRule::Allows for each node it looks at.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "model/units.h"

namespace kojo {

struct NodeSpec;

// A constraint in Slurm's syntax, as a disjunction of conjunctions of
// feature names: "a100&ib" is {{a100, ib}}, "a100|h100" is {{a100},
// {h100}}, "(a|b)&ib" is {{a, ib}, {b, ib}}. Names compare without regard
// to case. "[r1|r2]" (a matching OR) means, as in Slurm, that every node of
// the job has the same one of them: the terms of the bracket are then
// `matching` alternatives. A count ("a100*2": at least two nodes with it) is
// taken as the feature on every node of the job; `counts` says one was seen.
struct Constraint {
  std::vector<std::vector<std::string>> any_of;  // empty = any node
  bool matching = false;
  bool counts = false;
};

// Parses `text` ("" = no constraint). The error says where it went wrong,
// e.g. "constraint 'a100&': expected a feature name at position 6".
Result<Constraint> ParseConstraint(std::string_view text);

struct NodeRule {
  std::string constraint;                // as written; parsed into `parsed`
  Constraint parsed;
  std::vector<std::string> partitions;  // any of them; empty = any
  std::vector<std::string> nodelist;    // only these nodes; empty = any
  std::vector<std::string> exclude;     // never these nodes
  // Rented capacity: `no_rent` keeps the job on owned nodes (data that must
  // stay on site); `account` is the account that pays its project's rented
  // nodes (set at admission, "" = none): a rented node runs only jobs of the
  // account that pays for it (RentAllows).
  bool no_rent = false;
  std::string account;

  bool Empty() const {
    return constraint.empty() && partitions.empty() && nodelist.empty() && exclude.empty() && !no_rent;
  }
  // Sets `constraint` and `parsed`.
  Status SetConstraint(std::string text);
  bool Allows(const NodeSpec& spec) const;
  // The rules to try one after another for a job that spans nodes: one per
  // alternative of a matching OR ("[r1|r2]": all on r1, else all on r2),
  // else this rule alone.
  std::vector<NodeRule> Alternatives() const;
  // "constraint a100&ib, partition gpu", for messages; "" when Empty().
  std::string Describe() const;
  // A key that two rules share exactly when they allow the same nodes.
  std::string Key() const;
};

// Whether a job with `rule` (null = none) may use `spec` as far as renting
// goes: owned nodes always; a rented node only for a job that did not opt
// out and whose account pays for it (a slot not rented yet, account "",
// for any job that did not opt out).
bool RentAllows(const NodeRule* rule, const NodeSpec& spec);

// A node's features as the scheduler matches them: the agent's, plus its
// GPU model as an implicit one, lower case, sorted, without duplicates.
std::vector<std::string> NodeFeatures(const std::vector<std::string>& given, std::string_view gpu_model);

// A named set of nodes with its own limits, as Slurm's partitions.
struct Partition {
  std::string name;
  std::vector<std::string> nodes;  // node names; empty (and no features) = every node
  std::string features;            // nodes with these features (constraint syntax); "" = no filter
  std::optional<Seconds> max_time;
  std::optional<Seconds> default_time;
  std::vector<std::string> projects;  // allowed; empty = every project
  bool is_default = false;

  bool Holds(const NodeSpec& spec) const;
  bool AllowsProject(std::string_view project) const;
};

// The names of the partitions that hold `spec`, in the order given.
std::vector<std::string> PartitionsOf(const std::vector<Partition>& partitions, const NodeSpec& spec);

// A job entering partitions, as at submission: `asked` names partitions
// ("" or none = the default ones, or any node when none is marked default).
// Every name must exist; the partitions that allow `project` and whose
// max_time holds `time_limit` are kept (an error names the field and the
// limit when none is left); a job without a time limit takes the first
// kept partition's default_time. On success the rule's partitions and the
// job's time limit are set.
struct Admitted {
  std::vector<std::string> partitions;
  std::optional<Seconds> time_limit;
  std::string rent_account;  // NodeRule::account (ClusterState::Admit sets it)
};
Result<Admitted> AdmitToPartitions(const std::vector<Partition>& partitions, const std::vector<std::string>& asked,
                                   std::string_view project, std::optional<Seconds> time_limit);

}  // namespace kojo
