#pragma once
// Label selectors and pod affinity terms as kube-scheduler evaluates them against pods, and the
// host-port conflict rule of NodePorts. Pure functions over the model; no allocation on the
// common path.

#include <optional>
#include <string>
#include <string_view>

#include "scheduler/state/model.h"

namespace fairway {

// metav1.LabelSelector: every matchLabels pair and every expression must hold.
bool matches_selector(const LabelSelector& selector, const Labels& labels);
// A selector field that may be null: nullopt selects nothing (labels.Nothing()).
inline bool selects(const std::optional<LabelSelector>& selector, const Labels& labels) {
  return selector.has_value() && matches_selector(*selector, labels);
}

// A term as it applies to pods: matchLabelKeys and mismatchLabelKeys resolved against the labels
// of the pod that carries it (key In [value] / key NotIn [value]; keys it lacks are skipped), as
// kube-apiserver merges them into the selector. A null selector stays null.
PodAffinityTerm effective_term(const PodAffinityTerm& term, const Labels& owner_labels);

// Does `term`, carried by a pod of namespace `owner_namespace`, select `candidate`? Namespaces:
// the term's list ∪ those its namespaceSelector matches (`candidate_namespace_labels`, null when
// the namespace is unknown: only an empty selector matches it); neither set: the owner's own.
bool term_selects(const PodAffinityTerm& term, std::string_view owner_namespace,
                  const Pod& candidate, const Labels* candidate_namespace_labels);

// Two host ports collide when protocol and port are equal and the host IPs overlap: equal, or
// either is unset / 0.0.0.0 (NodePorts' HostPortInfo semantics).
bool host_ports_conflict(const HostPort& a, const HostPort& b);

// A canonical text of a pod's affinity terms (as effective terms) and its namespace, equal for
// pods whose terms select the same pods: existing pods are grouped by it.
std::string affinity_signature(std::string_view namespace_, const PodAffinity& affinity);

// Canonical texts of a selector and of a term, equal when they select the same pods.
std::string selector_signature(const std::optional<LabelSelector>& selector);
std::string term_signature(const PodAffinityTerm& term);

// The pod's affinity with every term made effective (effective_term).
PodAffinity effective_affinity(const Pod& pod);

}  // namespace fairway
