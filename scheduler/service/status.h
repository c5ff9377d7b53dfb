#pragma once
// What fairway writes into the status of its custom resources. Pure: built from the last cycle
// and the state; the service writes them (only when they change).
//   Queue.status: allocated, fairShare, deserved and pending per resource (Kubernetes quantity
//     strings), children (names of child queues), and a Valid condition (False with the
//     problem's reason and message when the queue is unusable);
//   PodGroup.status: phase (Pending, Running), scheduled (pods bound), a Scheduled condition
//     whose reason and message say why the gang waits, and placement (common topology level
//     and domain, nodes, estimated bottleneck bandwidth) once the gang is placed.

#include <string>
#include <unordered_map>

#include <nlohmann/json.hpp>

#include "queues/fair_share.h"
#include "queues/queue_tree.h"
#include "scheduler/cycle/cycle.h"
#include "scheduler/state/cluster_state.h"

namespace fairway {

// status objects by queue name, for every Queue that has a spec (the implicit default has none)
// and for every queue left out of the tree with a problem.
std::unordered_map<std::string, nlohmann::json> queue_statuses(const QueueTree& tree,
                                                               const FairShares& shares,
                                                               const ResourceRegistry& registry);

// status objects by PodGroup key (namespace/name), for every PodGroup object that has pods.
// `placements`: the latest placement quality per job key, kept across cycles by the caller.
std::unordered_map<std::string, nlohmann::json> pod_group_statuses(
    const ClusterState& state, const CycleResult& result,
    const std::unordered_map<std::string, PlacementQuality>& placements);

// A share (a double in canonical units) as a quantity string: "12", "2.5", "1500m", "16Gi".
std::string share_quantity(double canonical, int64_t scale);

}  // namespace fairway
