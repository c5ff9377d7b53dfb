#include "scheduler/state/pod_queue.h"

#include <fmt/format.h>

namespace fairway {

QueueChoice choose_queue(const PodIntent& intent, const GangRef& gang,
                         const Labels* namespace_labels, const PodGroup* group) {
  if (group != nullptr && !group->queue.empty()) return {group->queue, QueueOrigin::kGroup};
  if (intent.queue_from_pod) return {intent.queue, QueueOrigin::kPod};
  if (!gang.queue.empty()) return {gang.queue, QueueOrigin::kWorkload};
  if (namespace_labels != nullptr) {
    if (const auto label = namespace_labels->find(kNamespaceQueueLabel);
        label != namespace_labels->end() && !label->second.empty()) {
      return {label->second, QueueOrigin::kNamespace};
    }
  }
  return {intent.queue, QueueOrigin::kDefault};  // read_pod_intent put the default there
}

std::string describe_queue_choice(const QueueChoice& choice, const Pod& pod, const GangRef& gang,
                                  const PodGroup* group, const PodIntentConfig& config) {
  std::string from;
  switch (choice.origin) {
    case QueueOrigin::kGroup:
      from = fmt::format("of PodGroup {}/{}", group != nullptr ? group->namespace_ : pod.namespace_,
                         group != nullptr ? group->name : gang.object);
      break;
    case QueueOrigin::kPod:
      if (const auto key = find_queue_key(pod, config)) {
        from = fmt::format("of {} {}", key->map, *key->key);
      }
      break;
    case QueueOrigin::kWorkload:
      from = "of " + gang.queue_from;
      break;
    case QueueOrigin::kNamespace:
      from = fmt::format("of namespace {} (label {})", pod.namespace_, kNamespaceQueueLabel);
      break;
    case QueueOrigin::kDefault:
      from = "(the default)";
      break;
  }
  return fmt::format("queue \"{}\" {}", choice.queue, from);
}

}  // namespace fairway
