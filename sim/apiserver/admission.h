#pragma once
// The admission and defaulting rules of a default kube-apiserver that the embedded server
// applies to built-in kinds, as pure functions on the JSON objects (the store holds the lock and
// passes what they read): NamespaceLifecycle, Priority (pods and PriorityClasses) and the Secret
// conversion (stringData merged into data, data as base64, type defaulted).

#include <nlohmann/json.hpp>
#include <string>
#include <tl/expected.hpp>
#include <vector>

#include "sim/apiserver/api_error.h"

namespace fairway::apiserver {

// NamespaceLifecycle: namespaces that can never be deleted (kube-apiserver's immortal ones;
// kube-node-lease may be deleted, and kube-apiserver recreates it).
bool immortal_namespace(const std::string& name);
// NamespaceLifecycle: a create of a namespaced object into a namespace being deleted.
ApiError namespace_terminating(const std::string& plural, const std::string& group,
                               const std::string& name, const std::string& ns);
// NamespaceLifecycle: a delete of an immortal namespace.
ApiError namespace_immortal(const std::string& name);

// The PriorityClasses every cluster has from the start (kube-apiserver's bootstrap).
std::vector<nlohmann::json> system_priority_classes();

// Priority admission for a pod being created: resolves spec.priorityClassName (or the
// globalDefault class with the lowest value, or none: 0) into spec.priority and
// spec.preemptionPolicy; an unknown class or a conflicting spec.priority is refused with 403.
tl::expected<void, ApiError> admit_pod_priority(nlohmann::json& pod,
                                                const std::vector<const nlohmann::json*>& classes);

// PriorityClass validation, defaulting and admission: value required and at most 1000000000
// unless the name starts with "system-" (reserved for the system classes), preemptionPolicy
// defaulted, only one globalDefault. `others` are the other stored classes.
tl::expected<void, ApiError> admit_priority_class(nlohmann::json& pc,
                                                  const std::vector<const nlohmann::json*>& others,
                                                  bool creating);

// The Secret's conversion from v1 as kube-apiserver does it on every write: stringData merged
// into data (base64-encoded, winning over data) and dropped, data values checked as base64 (a
// 400 as the JSON decoder answers), keys checked as config keys (422), type defaulted to Opaque.
tl::expected<void, ApiError> normalize_secret(nlohmann::json& secret);

}  // namespace fairway::apiserver
