#pragma once
// What-if on a snapshot (docs/what-if.md): the pending work of a ClusterState loaded from a
// snapshot goes through what the scheduler's loop does next, in-process: the usage history is
// brought to the snapshot's time, one scheduling cycle binds what fits (assumed, as the service
// assumes), and one preemption pass plans evictions for what still waits. Pure: time is the
// snapshot's, the cycle and planner are deterministic, so a replay always decides the same —
// unless `elapsed_ms` is given: then the pass has the scheduler's time budget, counted on that
// clock, as it does live (on a large cluster it stops planning when the budget is spent, and
// what it planned by then can differ from run to run; ReplayOutcome::pass_out_of_time says so).

#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "scheduler/cycle/cycle.h"
#include "scheduler/planner/planner.h"
#include "scheduler/state/cluster_state.h"

namespace fairway::sim {

struct ReplayOptions {
  CycleOptions cycle;
  PlannerOptions planner;
  WallMs now_ms = 0;  // the snapshot's time: usage history and run times are taken at it
  std::function<int64_t()> elapsed_ms;  // real time since the replay began; empty: none passes
};

struct QueueOutcome {
  double fair_share_gpus = 0;  // before the cycle, as the cycle divides
  double allocated_gpus = 0;   // after the cycle's bindings
  double usage_share = 0;      // share of the cluster's GPUs used over time
};

struct ReplayOutcome {
  std::map<std::string, std::string> bindings;   // pod → node
  std::map<std::string, std::string> evictions;  // pod → the plan's one-line reason
  std::map<std::string, QueueOutcome> queues;    // by queue name
  size_t pending_pods = 0;                       // pods of fairway's still waiting after the cycle
  bool pass_out_of_time = false;                 // the pass spent its budget before the end
};

ReplayOutcome replay(ClusterState& state, const ReplayOptions& options);

// {"bindings": {pod: node}, "evictions": {pod: why}, "queues": {name: {...}}, "pendingPods": N}
nlohmann::json decisions_json(const ReplayOutcome& decisions);

// The report of `fairway sim --snapshot`: each queue's fair share and allocation, then every
// binding and eviction; with `changed`, both side by side and only what differs listed.
std::string what_if_text(const ReplayOutcome& as_is, const ReplayOutcome* changed);

}  // namespace fairway::sim
