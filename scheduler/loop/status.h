#pragma once
// What fairway writes into the status of its custom resources. Pure: built from the last cycle
// and the state; the service writes them (only when they change).
//   Queue.status: allocated, fairShare, deserved and pending per resource (Kubernetes quantity
//     strings), children (names of child queues), gpus (quota, allocated and fair share in GPUs
//     with two decimals, and usage, the share of the cluster's GPUs used over time, in percent,
//     for `kubectl get queues`), usage (time, and shares per resource: what fair share over
//     time restores from after a restart), pendingPods, a Valid condition
//     (False with the problem's reason and message when the queue is unusable) and, when the
//     queue has non-blocking problems, a Warning condition (True; the first one's reason, every
//     message);
//   PodGroup.status: phase (Pending, Running), scheduled (pods bound), a Scheduled condition
//     whose reason and message say why the gang waits, and placement (common topology level
//     and domain, nodes, estimated bottleneck bandwidth) once the gang is placed.

#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <unordered_map>

#include "queues/fair_share.h"
#include "queues/queue_tree.h"
#include "queues/usage_history.h"
#include "scheduler/cycle/cycle.h"
#include "scheduler/state/cluster_state.h"

namespace fairway {

// status objects by queue name, for every Queue that has a spec (the implicit default has none)
// and for every queue left out of the tree with a problem. `usage`: the leaves' pods by queue
// name (pending pods are counted from it); `warnings`: non-blocking problems beyond the tree's
// own (capacity_problems).
std::unordered_map<std::string, nlohmann::json> queue_statuses(
    const QueueTree& tree, const FairShares& shares, const ResourceRegistry& registry,
    const std::unordered_map<std::string, QueueUsage>& usage, const UsageHistory& history,
    std::span<const QueueProblem> warnings);

// A usage share as `kubectl get queues` shows it: "12.5%".
std::string usage_percent_text(double share);

// A queue's Warning condition (type Warning, status True) from its non-blocking problems, in
// order: the first one's reason; the message, or with several "Reason: message; ...".
nlohmann::json warning_condition(std::span<const QueueProblem* const> problems);

// GPUs as `kubectl get queues` shows them: two decimals ("2.00", "0.50").
std::string gpus_text(int64_t canonical, int64_t scale);
std::string gpus_text(double canonical, int64_t scale);

// status objects by PodGroup key (namespace/name), for every PodGroup object that has pods.
// `placements`: the latest placement quality per job key, kept across cycles by the caller.
std::unordered_map<std::string, nlohmann::json> pod_group_statuses(
    const ClusterState& state, const CycleResult& result,
    const std::unordered_map<std::string, PlacementQuality>& placements);

// A share (a double in canonical units) as a quantity string: "12", "2.5", "1500m", "16Gi".
std::string share_quantity(double canonical, int64_t scale);

}  // namespace fairway
