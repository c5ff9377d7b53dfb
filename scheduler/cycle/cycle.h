#pragma once
// One scheduling cycle: a pure function from the cluster state to decisions.
//
//   1. fair share: recompute hierarchical shares from the queues' allocated + pending totals;
//   2. order: serve queues by hierarchical DRF (queues/drf_order.h), and inside a queue jobs by
//      priority, then creation time;
//   3. allocate, in two phases: first only jobs that keep their queue (and every ancestor)
//      within fair share, then the rest, so a queue above its fair share only gets what no one
//      else with pending work below fair share could use. Queue limits hold in both phases;
//   4. place each job all-or-nothing: its gang needs minMember pods bound, so the cycle places
//      pods on a scratch ledger and keeps them only if enough fit; pods beyond minMember are
//      placed when they fit. Nodes are filtered (resources, selectors, required affinity, taints,
//      cordons) and scored (bin-pack GPUs by default, spread as an option).
//
// The cycle reads the state and returns decisions; it changes nothing. The caller assumes the
// bindings in the state and hands them to the actuator. Every job left pending carries a
// reason in kube-scheduler's words, plus fairway's own (queue limit, waiting for gang, ...).

#include <cstdint>
#include <string>
#include <vector>

#include "queues/fair_share.h"
#include "scheduler/state/cluster_state.h"

namespace fairway {

enum class ScoringStrategy { kBinPack, kSpread };

struct CycleOptions {
  ScoringStrategy strategy = ScoringStrategy::kBinPack;
  // Once the best candidate group of nodes (same free-GPU count) holds this many feasible nodes,
  // stop looking further and score only those (kube-scheduler's percentageOfNodesToScore idea).
  uint32_t feasible_nodes_to_score = 16;
};

struct Binding {
  std::string pod;  // namespace/name
  std::string uid;
  std::string node;
  std::string job;
  std::string queue;
};

// Why a job stays pending. Reasons are CamelCase for conditions and Events.
enum class PendingReason {
  kUnschedulable,      // no node fits (message in kube-scheduler's style)
  kGangIncomplete,     // fewer pods exist than minMember
  kQueueLimit,         // the queue or an ancestor would exceed its limit
  kQueueInvalid,       // the queue does not exist, is not a leaf, or is invalid
  kInvalidPod,         // bad annotations (the message names them)
};
const char* reason_name(PendingReason reason);

struct PendingJob {
  std::string job;
  std::string queue;
  std::vector<std::string> pods;
  PendingReason reason = PendingReason::kUnschedulable;
  std::string message;
};

struct CycleStats {
  uint32_t jobs_considered = 0;
  uint32_t jobs_scheduled = 0;
  uint32_t pods_bound = 0;
  uint64_t nodes_evaluated = 0;  // filter calls, for benchmarks
  uint32_t diagnoses = 0;        // full node scans to explain a failure
};

struct CycleResult {
  std::vector<Binding> bindings;
  std::vector<PendingJob> pending;
  FairShares shares;
  CycleStats stats;
};

CycleResult run_cycle(ClusterState& state, const CycleOptions& options = {});

// Assumes every binding of `result` in `state` (what the scheduler does before actuating).
void assume_all(ClusterState& state, const CycleResult& result);

}  // namespace fairway
