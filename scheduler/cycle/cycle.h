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
//      cordons) and scored (bin-pack GPUs by default, spread as an option);
//   5. topology (docs/topology.md): when a Topology applies, a gang is placed as a whole into the
//      smallest fabric domain that holds it (best fit), at its required level (or it waits), else
//      as deep as its preferred level allows, relaxing one level at a time, else spread over the
//      fewest domains. Multi-GPU pods prefer nodes where one NVLink island has enough free GPUs,
//      and each binding records the GPU set chosen on the node's link graph.
//
// The cycle reads the state and returns decisions; it changes nothing. The caller assumes the
// bindings in the state and hands them to the actuator. Every job left pending carries a
// reason in kube-scheduler's words, plus fairway's own (queue limit, waiting for gang, ...).

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "queues/fair_share.h"
#include "scheduler/cycle/pod_constraints.h"
#include "scheduler/state/cluster_state.h"
#include "scheduler/state/volume_binding.h"

namespace fairway {

enum class ScoringStrategy { kBinPack, kSpread };

class NodeLedger;

// Capacity that the preemption pass (scheduler/planner) freed for one job: while its victims
// terminate, the cycle keeps up to `amount` free on `node` for `job` alone, so another job does
// not steal the room that was bought for it.
struct Nomination {
  std::string job;  // job key
  std::string node;
  ResourceVector amount;
};

struct CycleOptions {
  ScoringStrategy strategy = ScoringStrategy::kBinPack;
  // Once the best candidate group of nodes (same free-GPU count) holds this many feasible nodes,
  // stop looking further and score only those (kube-scheduler's percentageOfNodesToScore idea).
  uint32_t feasible_nodes_to_score = 16;
  // Optional injected clock (nanoseconds, any epoch) to time the cycle's phases into
  // CycleStats; unset: phases are not timed (tests, the in-process simulator).
  std::function<int64_t()> clock_ns;
  // Capacity held for jobs by the preemption pass; null or empty: none.
  const std::vector<Nomination>* nominations = nullptr;
  // Fractional pods (docs/gpu-sharing.md): bin-pack fills shared GPUs before splitting another
  // whole GPU; spread splits a new GPU first and then joins the emptiest shared one.
  ScoringStrategy gpu_sharing_strategy = ScoringStrategy::kBinPack;
  // How node and pod preferences weigh against resource packing (pod_constraints.h).
  ScoreWeights score_weights;
};

// A shared GPU a fractional pod joins. `reserve`: the group is new this cycle, so its
// reservation pod must be created (and report its GPU UUID) before the pod is bound.
struct GpuShare {
  std::string group;
  int index = 0;  // GPU slot on the node
  bool reserve = false;
};

struct Binding {
  std::string pod;  // namespace/name
  std::string uid;
  std::string node;
  std::string job;
  std::string queue;
  // GPU indices chosen on the node's link graph (NVLink island best fit); empty when the pod
  // asks no whole GPUs or the node's GPU layout is unknown. A hint for fractional and reserved
  // GPUs: the device plugin still assigns devices to ordinary pods.
  std::vector<int> gpus;
  // The pod's creation time, for the end-to-end latency metric.
  TimeMs pod_created_ms = 0;
  // Fractional pods only: the shared GPUs it joins (one per device), its share of each, and
  // what the edge needs to write the reservation pod and the ConfigMap.
  std::vector<GpuShare> shares;
  double gpu_fraction = 0;     // per device, 0 < x <= 1
  int64_t gpu_memory_mib = 0;  // per device, when the node's GPU memory is known
  std::string gpu_configmap;
  std::vector<Toleration> tolerations;
  // Claims to bind (static volume or provisioner on the node) before the pod's Binding.
  std::vector<VolumeBinding> volume_bindings;
  // ResourceClaims (scheduler/dra/) to allocate and reserve for the pod before its Binding.
  std::vector<dra::ClaimAllocation> claim_allocations;
};

// How well a placed job is connected, for its PodGroup status and a metric.
struct PlacementQuality {
  std::string job;
  std::string topology;  // the Topology that applied; empty when none
  // The deepest level every pod shares: "kubernetes.io/hostname" when all are on one node, else
  // a Topology level's node label; empty when the pods span top-level domains.
  std::string common_level;
  std::string common_domain;  // that level's value (the node name for one node)
  uint32_t pods = 0;
  uint32_t nodes = 0;
  // Estimated slowest link between any two of the job's GPUs, GB/s: widest path on the node's
  // GPU link graph inside a node, the common level's bandwidth between nodes. nullopt: unknown.
  std::optional<double> bottleneck_gbps;
};

// Why a job stays pending. Reasons are CamelCase for conditions and Events.
enum class PendingReason {
  kUnschedulable,   // no node fits (message in kube-scheduler's style)
  kGangIncomplete,  // fewer pods exist than minMember
  kQueueLimit,      // the queue or an ancestor would exceed its limit
  kQueueInvalid,    // the queue does not exist, is not a leaf, or is invalid
  kInvalidPod,      // bad annotations (the message names them)
  // Victims are being evicted to make room for this job: the cycle says so for a job that holds
  // a nomination from the preemption pass and does not fit yet.
  kReclaimInProgress,
  kQueueNotAllowed,  // the pod's namespace may not use its queue (Queue.spec.namespaceSelector)
  kSchedulingGated,  // spec.schedulingGates is not empty: kube-scheduler's SchedulingGated
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
  uint32_t topology_trials = 0;  // fabric domains tried for gangs
  int64_t fairshare_ns = 0;      // phase durations, when CycleOptions::clock_ns is set
  int64_t allocate_ns = 0;
};

struct CycleResult {
  std::vector<Binding> bindings;
  std::vector<PendingJob> pending;
  // Jobs placed this cycle with more than one pod or more than one GPU.
  std::vector<PlacementQuality> placements;
  FairShares shares;
  CycleStats stats;
};

CycleResult run_cycle(ClusterState& state, const CycleOptions& options = {});

// What-if placement for the planners (scheduler/planner): places `pods` (pods of `job`, in the
// given order) on `ledger` as run_cycle places them (filters, bin-pack or spread, NVLink islands,
// a gang's Topology), all or nothing, ignoring queue fair share and limits (the planners check
// those) and nominations. On success the ledger keeps the placements and their bindings are
// returned; on failure the ledger is unchanged and `why` (when given) says why.
std::optional<std::vector<Binding>> place_on_ledger(ClusterState& state, NodeLedger& ledger,
                                                    JobId job, const std::vector<PodId>& pods,
                                                    const CycleOptions& options = {},
                                                    std::string* why = nullptr);

// One node's verdict on a pod, in the cycle's own words: the reasons it rejects the pod in
// kube-scheduler's filter order (one per short resource, as "Insufficient nvidia.com/gpu");
// none when the pod fits there.
struct NodeDiagnosis {
  NodeId node = 0;
  std::vector<std::string> reasons;
};

// The one diagnosis of why a pod does (not) fit, node by node, before this cycle places anything:
// the per-node verdict the cycle counts into "0/N nodes are available: ..." for a pod that finds
// no node, here for every present node, for /debug/pods and so `fairway explain`. Room held for
// other waiting jobs (options.nominations) is "Capacity held for a preemption in progress", as
// the cycle holds it; the pod's own job's is free to it. A check no node can pass (a claim that
// does not exist...) is every node's one reason. Fractional pods get the shared-GPU verdicts.
// Changes nothing in `state` (not const only because its queue tree is built on first use).
std::vector<NodeDiagnosis> diagnose_pod(ClusterState& state, PodId pod,
                                        const CycleOptions& options = {});

// Assumes every binding of `result` in `state` (what the scheduler does before actuating).
void assume_all(ClusterState& state, const CycleResult& result);

}  // namespace fairway
