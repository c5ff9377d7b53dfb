#pragma once
// What a tenant's pod may not ask for, as pure functions the admission webhook calls before the
// pod is stored (docs/security.md). The scheduler enforces the same rules on pods that arrive
// anyway (the cycle's QueueNotAllowed), so the webhook is a courtesy that fails fast, not the
// only line of defence.

#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "queues/queue_spec.h"
#include "scheduler/state/model.h"
#include "scheduler/state/pod_intent.h"

namespace fairway {

// Keys only fairway assigns: a pod that sets them itself is trying to sit on someone's GPU.
inline constexpr std::string_view kGpuGroupKey = "fairway.dev/gpu-group";
inline constexpr std::string_view kGpuUuidKey = "fairway.dev/gpu-uuid";

struct AdmissionContext {
  const std::unordered_map<std::string, QueueSpec>* queues = nullptr;  // by name; null: none known
  const Labels* namespace_labels = nullptr;  // the pod's namespace; null: unknown
  PodIntentConfig intent;
  std::string reservation_namespace = "fairway-reservation";
};

// Why the pod must be rejected; empty: admit. Covers: the queue the pod names (label or
// annotation) may not be used from its namespace; the pod carries a fairway-assigned key
// (fairway.dev/gpu-group, fairway.dev/gpu-uuid) outside the reservation namespace.
std::vector<std::string> tenant_pod_denials(const Pod& pod, const AdmissionContext& context);

}  // namespace fairway
