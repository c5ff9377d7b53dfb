#include "scheduler/state/admission_policy.h"

#include <fmt/format.h>

#include "queues/queue_access.h"

namespace fairway {

std::vector<std::string> tenant_pod_denials(const Pod& pod, const AdmissionContext& context) {
  std::vector<std::string> denials;
  if (context.queues != nullptr) {
    const PodIntent intent = read_pod_intent(pod, context.intent);
    if (auto denial = queue_access_denial(*context.queues, intent.queue, pod.namespace_,
                                          context.namespace_labels)) {
      denials.push_back(std::move(*denial));
    }
  }
  if (pod.namespace_ != context.reservation_namespace) {
    for (std::string_view key : {kGpuGroupKey, kGpuUuidKey}) {
      if (pod.labels.contains(key)) {
        denials.push_back(fmt::format("label {} is assigned by fairway and may not be set", key));
      }
      if (pod.annotations.contains(key)) {
        denials.push_back(
            fmt::format("annotation {} is assigned by fairway and may not be set", key));
      }
    }
  }
  return denials;
}

}  // namespace fairway
