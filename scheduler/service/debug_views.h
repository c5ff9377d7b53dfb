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
// cycle explains it. Node classes are the cycle's own per-node diagnosis (diagnose_pod, cycle.h):
// the reasons a node rejects the pod joined by ", ", or "fits". Returns null when the pod is
// unknown. `state` is not changed (diagnose_pod says why it is not const).
nlohmann::json debug_pod(ClusterState& state, std::string_view pod_key,
                         const std::string& last_message,
                         const std::vector<Nomination>* nominations = nullptr);
// Adds what dcgm-exporter says of a bound pod's GPUs (docs/utilization.md) as "gpuUse".
void add_gpu_use(nlohmann::json& answer, const PodUtilization& usage,
                 const UtilizationConfig& config, WallMs now);

// A person's reading of debug_pod (what `fairway explain` prints).
std::string render_pod_explanation(const nlohmann::json& answer);

}  // namespace fairway
