#pragma once
// Why a waiting job may not be scheduled at all, whatever the capacity: problems only its owner
// or an admin can fix. One function shared by every path that decides something for a waiting
// job (docs/security.md, docs/preemption.md):
//   - the scheduling cycle leaves the job pending with the matching reason (QueueInvalid,
//     InvalidPod, QueueNotAllowed) and holds no nominated room for it;
//   - the preemption planner never preempts, reclaims or consolidates for it, and the
//     preemption memory drops any room nominated to it.
// So a pod that joins a PodGroup naming a queue its namespace may not use cannot evict that
// queue's pods "to make room" it will never be allowed to take.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "queues/queue_tree.h"
#include "scheduler/state/cluster_state.h"

namespace fairway {

enum class JobRefusalKind {
  kQueueInvalid,     // the queue does not exist, is invalid, or is not a leaf
  kInvalidPod,       // a pod's annotations or spec, or its PodGroup, could not be read
  kQueueNotAllowed,  // the job's namespace may not use its queue (Queue.spec.namespaceSelector)
};

struct JobRefusal {
  JobRefusalKind kind = JobRefusalKind::kQueueInvalid;
  std::string message;
};

// The leaf queue `queue` resolves to, or nullopt with why not in `why`: "queue \"x\" does not
// exist", "queue \"x\" is invalid: ...", "queue \"x\" has child queues; ...".
std::optional<QueueIndex> resolve_leaf_queue(const ClusterState& state, const QueueTree& tree,
                                             std::string_view queue, std::string* why);

// The checks on the job itself, in the cycle's order: problems of `pods` (the pods about to be
// scheduled) and of its PodGroup, then queue access. Queue validity is not checked here.
std::optional<JobRefusal> job_refusal(const ClusterState& state, const JobRecord& job,
                                      const std::vector<PodId>& pods);

// Everything above for a waiting job and its pending pods that no scheduling gate holds back,
// queue validity first. `tree` is
// state.queue_tree() (passed in: building it is not a const operation).
std::optional<JobRefusal> waiting_job_refusal(const ClusterState& state, const QueueTree& tree,
                                              const JobRecord& job);

}  // namespace fairway
