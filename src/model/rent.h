// Renting partner capacity: providers of rented GPU nodes, the accounts that
// pay for them (a programme's or a project's budget) and what an hour of one
// GPU's waiting is worth to them. Value types only; the decision is
// sched/rent.h, the bookkeeping state/cluster_state.h.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "model/node.h"
#include "model/units.h"

namespace kojo {

// Money in millionths of the organisation's currency unit (integer, like
// every amount): 2.50 a GPU-hour is 2'500'000.
using Money = std::int64_t;
inline constexpr Money kMoneyUnit = 1'000'000;
// "12.50" (two decimals, rounded half away from zero; "-3.25" below zero).
std::string FormatMoney(Money m);
// "12.5", "3", "0.0001" -> Money; nullopt when not a non-negative decimal
// with at most 6 decimals.
std::optional<Money> ParseMoney(std::string_view text);
// A JSON number (double) -> Money, rounded to the millionth; nullopt when
// negative or not finite.
std::optional<Money> MoneyFromDouble(double v);
// price per GPU-hour x gpus x seconds, rounded up to the millionth.
Money RentFor(Money price_per_gpu_hour, int gpus, Seconds seconds);

// A partner that rents out nodes of one shape.
struct Provider {
  std::string name;
  // One rented node: GPU model, GPUs, CPUs, memory, features. Its name is
  // given when it is rented ("<provider>-<n>").
  NodeSpec node;
  Money price_per_gpu_hour = 0;
  int max_nodes = 1;          // rented at once (starting, up or stopping)
  Seconds startup_s = 120;    // expected time from the start program to a registered agent
  Seconds timeout_s = 600;    // a node not registered by then failed to start
  Seconds idle_timeout_s = 600;  // an up node with no job this long is given back
  // Programs run by kojod (not by kojo sim) with the node's name, the
  // provider's name and a one-time agent token in their environment.
  std::string start_program;
  std::string stop_program;
};

// A budget for rented capacity and the value of waiting, held by a
// programme or a project.
struct RentTerms {
  Money budget = 0;              // for rented capacity over the organisation's life
  Money value_per_gpu_hour = 0;  // what one GPU-hour of a job's waiting is worth
};

// What the state's renting reads: providers and, per project, the account
// that pays its rented nodes.
struct RentPolicy {
  std::vector<Provider> providers;
  // Accounts by name: "programme NAME" or "project NAME" (RentAccountName).
  std::unordered_map<std::string, RentTerms> accounts;
  std::unordered_map<std::string, std::string> account_of;  // project -> account
  // The account of projects without one ("" = none): kojo sim's what-ifs
  // give a whole trace one account.
  std::string default_account;
  // Baseline for comparisons (kojo sim): rent whenever a job waits for
  // capacity, whatever the value of waiting; budgets are not enforced.
  bool always = false;
  // A job's planned wait when the pass gave none (it is too far back in the
  // queue, or what it waits for has no time limit): the largest planned
  // wait of the jobs ahead of it, at least this.
  Seconds unknown_wait_s = 3600;

  bool Empty() const { return providers.empty(); }
  const Provider* FindProvider(std::string_view name) const;
};

std::string RentAccountName(bool programme, std::string_view name);

}  // namespace kojo
