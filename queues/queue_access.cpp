#include "queues/queue_access.h"

#include <fmt/format.h>

#include <algorithm>
#include <vector>

namespace fairway {

std::optional<std::string> queue_access_denial(
    const std::unordered_map<std::string, QueueSpec>& queues, std::string_view queue,
    std::string_view namespace_name, const FlatMap<std::string, std::string>* namespace_labels) {
  FlatMap<std::string, std::string> labels;
  if (namespace_labels != nullptr) labels = *namespace_labels;
  labels.insert_or_assign(std::string(kNamespaceNameLabel), std::string(namespace_name));

  std::vector<std::string> visited;  // a parent cycle must not loop forever
  std::string current(queue);
  while (!current.empty()) {
    if (std::find(visited.begin(), visited.end(), current) != visited.end()) break;
    visited.push_back(current);
    auto it = queues.find(current);
    if (it == queues.end()) break;
    const QueueSpec& spec = it->second;
    if (spec.namespace_selector) {
      if (namespace_labels == nullptr) {
        return fmt::format(
            "namespace \"{}\" may not use queue \"{}\": queue \"{}\" admits only "
            "selected namespaces and namespace \"{}\" is not known (yet)",
            namespace_name, queue, current, namespace_name);
      }
      if (!selector_matches(*spec.namespace_selector, labels)) {
        return fmt::format(
            "namespace \"{}\" may not use queue \"{}\": queue \"{}\" admits only "
            "namespaces matching {}",
            namespace_name, queue, current, describe_selector(*spec.namespace_selector));
      }
    }
    current = spec.parent;
  }
  return std::nullopt;
}

}  // namespace fairway
