#pragma once
// Which namespaces may submit pods to a queue (Queue.spec.namespaceSelector). A pure function
// shared by the scheduler (a pod that arrives anyway stays pending with reason QueueNotAllowed)
// and the admission webhook (which rejects the pod before it is stored).
//
// Rules (docs/security.md): a namespace may use a queue when the queue and every ancestor of it
// either have no namespaceSelector or have one that matches the namespace's labels. Kubernetes
// labels every namespace with kubernetes.io/metadata.name=<name>; that label is assumed here
// too, so a selector can name namespaces even where the label is missing. A namespace whose
// labels are unknown matches no selector (fail closed). A queue that does not exist is not an
// access question (the scheduler reports it as QueueInvalid), so it is allowed here.

#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "queues/flat_map.h"
#include "queues/queue_spec.h"

namespace fairway {

inline constexpr std::string_view kNamespaceNameLabel = "kubernetes.io/metadata.name";

// nullopt: allowed. Otherwise why not, e.g. `namespace "blue" may not use queue "vision":
// queue "research" admits only namespaces matching tenant=red`.
std::optional<std::string> queue_access_denial(
    const std::unordered_map<std::string, QueueSpec>& queues, std::string_view queue,
    std::string_view namespace_name, const FlatMap<std::string, std::string>* namespace_labels);

}  // namespace fairway
