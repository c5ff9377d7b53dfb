#pragma once
// What a tenant may not ask for, as pure functions the admission webhook calls before a pod or
// PodGroup is stored (docs/security.md). The scheduler enforces the same queue rules on objects
// that arrive anyway (the cycle's QueueNotAllowed, the planner's refusal to preempt for them), so
// the webhook fails fast; it is not the only line of defence.

#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "queues/queue_spec.h"
#include "scheduler/state/model.h"
#include "scheduler/state/pod_queue.h"

namespace fairway {

// Keys only fairway assigns. A tenant who sets or edits them is trying to sit on someone's GPU,
// to make fairway delete a reservation still in use, or to point fairway's writes at an object
// of its choosing (the GPU ConfigMap).
inline constexpr std::string_view kGpuGroupKey = "fairway.dev/gpu-group";
inline constexpr std::string_view kGpuGroupsKey = "fairway.dev/gpu-groups";
inline constexpr std::string_view kGpuUuidKey = "fairway.dev/gpu-uuid";
inline constexpr std::string_view kGpuConfigMapKey = "fairway.dev/gpu-configmap";
// What the GPU ConfigMap gives a sharer's containers; set by hand, it would bypass the shares.
inline constexpr std::string_view kVisibleDevicesEnv = "NVIDIA_VISIBLE_DEVICES";

struct AdmissionContext {
  const std::unordered_map<std::string, QueueSpec>* queues = nullptr;  // by name; null: none known
  const Labels* namespace_labels = nullptr;  // the object's namespace; null: unknown
  // The queue the pod will really use and where it comes from (ClusterState::queue_of: its
  // gang's PodGroup, its own key, its owner's label, its namespace's, the default). Null: the
  // queue is not judged.
  const PodQueue* queue = nullptr;
  // On UPDATE, the queue the stored pod uses: an update that leaves the queue as it is (a
  // controller removing a finalizer) is not judged on it. Null on CREATE.
  const PodQueue* old_queue = nullptr;
  std::string reservation_namespace = "fairway-reservation";
};

// Why the pod must be rejected; empty: admit. `old_pod` is the stored pod on UPDATE, null on
// CREATE. Covers: the queue the pod will use (context.queue) may not be used from its namespace,
// on CREATE and on an UPDATE that changes that queue; outside the reservation namespace, a
// fairway-assigned key set on create or changed on update. Requests from fairway itself are not
// judged (the caller skips them): it writes those keys.
std::vector<std::string> tenant_pod_denials(const Pod& pod, const Pod* old_pod,
                                            const AdmissionContext& context);

// Why a PodGroup must be rejected: the queue it names may not be used from its namespace.
std::vector<std::string> tenant_pod_group_denials(const PodGroup& group,
                                                  const AdmissionContext& context);

}  // namespace fairway
