#pragma once
// kube-scheduler's node filters as pure predicates: may this pod run on this node, ignoring
// resources? Semantics and wording follow the in-tree plugins (NodeUnschedulable,
// TaintToleration, NodeAffinity) so that users read the same reasons they know.
//
// Speed: the cycle calls these for every (pod, node) pair, thousands of nodes per pod. The
// filters neither allocate nor build strings; a failure is a small code (plus a pointer to the
// offending taint) and failure_reason() renders the text only for pods that stay pending.

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <string_view>

#include "scheduler/state/model.h"

namespace fairway {

// Reasons in kube-scheduler's words.
inline constexpr std::string_view kReasonNodeAffinity =
    "node(s) didn't match Pod's node affinity/selector";
inline constexpr std::string_view kReasonUnschedulable = "node(s) were unschedulable";
// kube-scheduler has no readiness filter; the node lifecycle controller taints a not-ready node
// with node.kubernetes.io/not-ready:NoSchedule. fairway checks status.conditions[Ready] directly
// (no wait for the controller) and says so plainly.
inline constexpr std::string_view kReasonNotReady = "node(s) were not ready";

inline constexpr std::string_view kTaintNodeUnschedulable = "node.kubernetes.io/unschedulable";
inline constexpr std::string_view kTaintNodeNotReady = "node.kubernetes.io/not-ready";

enum class NodeFilterCode : uint8_t {
  kFits,
  kNotReady,          // !node.ready and the pod does not tolerate the not-ready taint
  kUnschedulable,     // cordoned and the pod does not tolerate the unschedulable taint
  kUntoleratedTaint,  // a NoSchedule/NoExecute taint no toleration matches
  kNodeAffinity,      // nodeSelector or required node affinity does not match
};

struct NodeFilterResult {
  NodeFilterCode code = NodeFilterCode::kFits;
  // For kUntoleratedTaint: the first such taint, in the node's order. Points into the Node
  // passed to the filter and is valid as long as that Node is.
  const Taint* taint = nullptr;

  bool fits() const { return code == NodeFilterCode::kFits; }
};

// --- Building blocks --------------------------------------------------------------------------

// v1.Toleration.ToleratesTaint: an empty effect matches every effect, an empty key matches every
// key, kExists ignores the value, kEqual compares it.
bool tolerates(const Toleration& toleration, const Taint& taint);
bool tolerates(std::span<const Toleration> tolerations, const Taint& taint);

// One requirement against node labels (labels.Selector semantics): kIn needs the label with one
// of the values; kNotIn matches when the label is absent or has none of them; kGt/kLt need exactly
// one value, and both it and the label must parse as base-10 int64 or nothing matches. A malformed
// requirement (kIn/kNotIn without values, kExists/kDoesNotExist with values) matches nothing, as a
// selector that fails to parse does in kube-scheduler.
bool matches_label_requirement(const NodeSelectorRequirement& requirement, const Labels& labels);

// One matchFields requirement. The only field is metadata.name (any other key reads as ""); the
// operator must be kIn or kNotIn with exactly one value, otherwise nothing matches.
bool matches_field_requirement(const NodeSelectorRequirement& requirement, const Node& node);

// A term matches when all of its requirements do. A term with no requirements matches nothing.
bool matches_node_selector_term(const NodeSelectorTerm& term, const Node& node);

// --- Filters, each returning kFits or its own failure code --------------------------------------

NodeFilterResult filter_node_ready(const Pod& pod, const Node& node);
NodeFilterResult filter_node_unschedulable(const Pod& pod, const Node& node);
// Only NoSchedule and NoExecute taints must be tolerated; PreferNoSchedule is a scoring concern.
NodeFilterResult filter_taint_toleration(const Pod& pod, const Node& node);
// nodeSelector (every label equal) AND required node affinity (terms ORed; none = no constraint).
NodeFilterResult filter_node_affinity(const Pod& pod, const Node& node);

// All of the above in kube-scheduler's plugin order (readiness first), stopping at the first
// failure, as kube-scheduler does per node.
NodeFilterResult filter_node(const Pod& pod, const Node& node);

// The reason text of a failure ("" for kFits), e.g. "node(s) had untolerated taint {gpu: true}".
std::string failure_reason(const NodeFilterResult& result);

// --- The message of a pod that fits nowhere ---------------------------------------------------

// Reason text → number of nodes that failed with it. A node may contribute several reasons
// (e.g. "Insufficient cpu" and "Insufficient memory").
using ReasonCounts = std::map<std::string, int64_t, std::less<>>;

// kube-scheduler's FitError message:
//   "0/1000 nodes are available: 400 node(s) had untolerated taint {gpu: true}, 600 Insufficient
//   nvidia.com/gpu."
// Entries are "<count> <reason>" sorted as strings, byte-wise, exactly as kube-scheduler's
// sort.Strings does (so "1000 x" sorts before "200 y"; users compare the two schedulers' Events).
// Reasons with a zero count are left out. With no reasons: "0/N nodes are available." and with no
// nodes at all kube-scheduler's "no nodes available to schedule pods".
std::string summarize_unschedulable(int64_t total_nodes, const ReasonCounts& reason_counts);

}  // namespace fairway
