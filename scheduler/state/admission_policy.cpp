#include "scheduler/state/admission_policy.h"

#include <fmt/format.h>

#include "queues/queue_access.h"

namespace fairway {
namespace {

constexpr std::string_view kFairwayKeys[] = {kGpuGroupKey, kGpuGroupsKey, kGpuUuidKey,
                                             kGpuConfigMapKey};

const std::string* value_of(const Labels& map, std::string_view key) {
  const auto it = map.find(key);
  return it == map.end() ? nullptr : &it->second;
}

bool same_value(const std::string* a, const std::string* b) {
  if (a == nullptr || b == nullptr) return a == b;
  return *a == *b;
}

// Fairway-assigned keys the request sets (create) or changes (update) in one map.
void key_denials(const Labels& now, const Labels* before, std::string_view what,
                 std::vector<std::string>& denials) {
  for (std::string_view key : kFairwayKeys) {
    const std::string* value = value_of(now, key);
    if (before == nullptr) {
      if (value != nullptr) {
        denials.push_back(
            fmt::format("{} {} is assigned by fairway and may not be set", what, key));
      }
    } else if (!same_value(value, value_of(*before, key))) {
      denials.push_back(
          fmt::format("{} {} is assigned by fairway and may not be changed", what, key));
    }
  }
}

}  // namespace

std::vector<std::string> tenant_pod_denials(const Pod& pod, const Pod* old_pod,
                                            const AdmissionContext& context) {
  std::vector<std::string> denials;
  const bool queue_changed =
      context.old_queue == nullptr ||
      (context.queue != nullptr && context.queue->queue != context.old_queue->queue);
  if (context.queues != nullptr && context.queue != nullptr && queue_changed) {
    if (auto denial = queue_access_denial(*context.queues, context.queue->queue, pod.namespace_,
                                          context.namespace_labels)) {
      denials.push_back(fmt::format("{}: {}", context.queue->description, *denial));
    }
  }
  if (pod.namespace_ != context.reservation_namespace) {
    key_denials(pod.labels, old_pod != nullptr ? &old_pod->labels : nullptr, "label", denials);
    key_denials(pod.annotations, old_pod != nullptr ? &old_pod->annotations : nullptr, "annotation",
                denials);
  }
  return denials;
}

std::vector<std::string> tenant_pod_group_denials(const PodGroup& group,
                                                  const AdmissionContext& context) {
  std::vector<std::string> denials;
  if (context.queues == nullptr || group.queue.empty()) return denials;
  if (auto denial = queue_access_denial(*context.queues, group.queue, group.namespace_,
                                        context.namespace_labels)) {
    denials.push_back(std::move(*denial));
  }
  return denials;
}

}  // namespace fairway
