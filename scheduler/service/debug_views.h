#pragma once
// The JSON answers of /debug/queues and /debug/pods/NS/NAME (and so of `fairway explain`).
// Pure: built from the state on the loop thread, no I/O.
//
// /debug/queues: the queue tree, each queue with its parent's children nested, and per resource
//   deserved, fairShare, allocated, pending, limit; pendingPods and dominantShare.
// /debug/pods/NS/NAME: what fairway knows of the pod (queue, job, gang size, requests, node or
//   pending explanation) and the filter result of every node, grouped into classes of nodes that
//   fail (or fit) for the same reasons: {"result": "Insufficient nvidia.com/gpu", "nodes": 412,
//   "examples": [...]}.

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "scheduler/cycle/cycle.h"
#include "scheduler/metrics/cluster_snapshot.h"
#include "scheduler/state/cluster_state.h"
#include "scheduler/utilization/gpu_utilization.h"

namespace fairway {

nlohmann::json debug_queues(const metrics::ClusterSnapshot& snapshot);

// `last_message`: the pending explanation last written for the pod ("" when none).
// `nominations`: capacity the preemption pass holds for waiting jobs (may be null); a node whose
// room is held for another job is classed "Capacity held for a preemption in progress", as the
// cycle explains it. Returns null when the pod is unknown.
nlohmann::json debug_pod(const ClusterState& state, std::string_view pod_key,
                         const std::string& last_message,
                         const std::vector<Nomination>* nominations = nullptr);
// Adds what dcgm-exporter says of a bound pod's GPUs (docs/utilization.md) as "gpuUse".
void add_gpu_use(nlohmann::json& answer, const PodUtilization& usage,
                 const UtilizationConfig& config, WallMs now);

// The node-class text that explains why `pod` may not run on `node` (`id`), "fits" when it may:
// the first failing filter in the cycle's order (kube-scheduler's words), with every short
// resource as "Insufficient <resource>" joined by ", ". `constraints`: the pod's inter-pod and
// volume checks (pod_constraints.h) against what is placed now.
std::string node_class(const PodRecord& pod, const NodeRecord& node, NodeId id,
                       const ResourceRegistry& registry, PodConstraints& constraints);

// A person's reading of debug_pod (what `fairway explain` prints).
std::string render_pod_explanation(const nlohmann::json& answer);

}  // namespace fairway
