#pragma once
// Which queue a pod's job uses, and where that queue comes from. One rule, read by the state
// (ClusterState::refresh_job charges the job there) and by the admission webhook (which refuses
// a pod whose namespace may not use that queue), so the two never disagree. In precedence order:
//   1. the spec.queue of the group object the pod's gang names (a PodGroup of any explicit gang
//      source, gangs.h), when it sets one;
//   2. the pod's own queue key (PodIntentConfig::queue_label_keys, labels before annotations);
//   3. the queue label of the outermost workload owning the pod that has one (owner-inferred
//      gangs: the PyTorchJob, the JobSet, the Job);
//   4. its namespace's label fairway.dev/queue;
//   5. the default queue.
// Pure.

#include <cstdint>
#include <string>

#include "scheduler/state/gangs.h"
#include "scheduler/state/model.h"
#include "scheduler/state/pod_intent.h"

namespace fairway {

enum class QueueOrigin : uint8_t { kGroup, kPod, kWorkload, kNamespace, kDefault };

struct QueueChoice {
  std::string queue;
  QueueOrigin origin = QueueOrigin::kDefault;
};

// A pod's queue and where it comes from, for the admission webhook (ClusterState::queue_of).
struct PodQueue {
  std::string queue;
  std::string description;  // describe_queue_choice()
};

// `group`: the group object of the pod's explicit gang source (nullptr: none, not seen, or an
// inferred gang); `namespace_labels`: nullptr when the namespace is unknown.
QueueChoice choose_queue(const PodIntent& intent, const GangRef& gang,
                         const Labels* namespace_labels, const PodGroup* group);

// Where the choice comes from, for messages: `queue "red-q" of Job blue/train`,
// `queue "gold" of annotation kai.scheduler/queue`, `queue "default" (the default)`.
std::string describe_queue_choice(const QueueChoice& choice, const Pod& pod, const GangRef& gang,
                                  const PodGroup* group, const PodIntentConfig& config);

}  // namespace fairway
