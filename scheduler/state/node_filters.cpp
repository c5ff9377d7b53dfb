#include "scheduler/state/node_filters.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <optional>
#include <vector>

namespace fairway {
namespace {

using Op = NodeSelectorRequirement::Operator;

// The taint-shaped check without building a Taint (the fixed keys are longer than the small
// string buffer, and this runs per node).
bool tolerates_taint(const Toleration& toleration, std::string_view key, std::string_view value,
                     TaintEffect effect) {
  if (toleration.effect && *toleration.effect != effect) return false;
  if (!toleration.key.empty() && toleration.key != key) return false;
  switch (toleration.op) {
    case Toleration::Operator::kExists:
      return true;
    case Toleration::Operator::kEqual:
      return toleration.value == value;
  }
  return false;
}

bool any_tolerates(std::span<const Toleration> tolerations, std::string_view key,
                   TaintEffect effect) {
  return std::any_of(tolerations.begin(), tolerations.end(), [&](const Toleration& toleration) {
    return tolerates_taint(toleration, key, "", effect);
  });
}

// strconv.ParseInt(text, 10, 64): optional sign, decimal digits, no spaces, no overflow.
std::optional<int64_t> parse_int64(std::string_view text) {
  if (!text.empty() && text.front() == '+') {
    text.remove_prefix(1);
    if (text.empty() || text.front() == '-') return std::nullopt;
  }
  int64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return value;
}

bool contains(const std::vector<std::string>& values, std::string_view value) {
  return std::find(values.begin(), values.end(), value) != values.end();
}

}  // namespace

bool tolerates(const Toleration& toleration, const Taint& taint) {
  return tolerates_taint(toleration, taint.key, taint.value, taint.effect);
}

bool tolerates(std::span<const Toleration> tolerations, const Taint& taint) {
  return std::any_of(tolerations.begin(), tolerations.end(),
                     [&](const Toleration& toleration) { return tolerates(toleration, taint); });
}

bool matches_label_requirement(const NodeSelectorRequirement& requirement, const Labels& labels) {
  const auto found = labels.find(requirement.key);
  const bool has_label = found != labels.end();
  switch (requirement.op) {
    case Op::kIn:
      return !requirement.values.empty() && has_label &&
             contains(requirement.values, found->second);
    case Op::kNotIn:
      return !requirement.values.empty() &&
             (!has_label || !contains(requirement.values, found->second));
    case Op::kExists:
      return requirement.values.empty() && has_label;
    case Op::kDoesNotExist:
      return requirement.values.empty() && !has_label;
    case Op::kGt:
    case Op::kLt: {
      if (requirement.values.size() != 1 || !has_label) return false;
      const auto bound = parse_int64(requirement.values.front());
      const auto actual = parse_int64(found->second);
      if (!bound || !actual) return false;
      return requirement.op == Op::kGt ? *actual > *bound : *actual < *bound;
    }
  }
  return false;
}

bool matches_field_requirement(const NodeSelectorRequirement& requirement, const Node& node) {
  if (requirement.values.size() != 1) return false;
  // fields.Set{"metadata.name": ...}: any other field reads as the empty string.
  const std::string_view actual =
      requirement.key == "metadata.name" ? std::string_view(node.name) : std::string_view();
  switch (requirement.op) {
    case Op::kIn:
      return actual == requirement.values.front();
    case Op::kNotIn:
      return actual != requirement.values.front();
    default:
      return false;
  }
}

bool matches_node_selector_term(const NodeSelectorTerm& term, const Node& node) {
  if (term.match_expressions.empty() && term.match_fields.empty()) return false;
  return std::all_of(term.match_expressions.begin(), term.match_expressions.end(),
                     [&](const auto& r) { return matches_label_requirement(r, node.labels); }) &&
         std::all_of(term.match_fields.begin(), term.match_fields.end(),
                     [&](const auto& r) { return matches_field_requirement(r, node); });
}

NodeFilterResult filter_node_ready(const Pod& pod, const Node& node) {
  if (node.ready || any_tolerates(pod.tolerations, kTaintNodeNotReady, TaintEffect::kNoSchedule)) {
    return {};
  }
  return {NodeFilterCode::kNotReady, nullptr};
}

NodeFilterResult filter_node_unschedulable(const Pod& pod, const Node& node) {
  if (!node.unschedulable ||
      any_tolerates(pod.tolerations, kTaintNodeUnschedulable, TaintEffect::kNoSchedule)) {
    return {};
  }
  return {NodeFilterCode::kUnschedulable, nullptr};
}

NodeFilterResult filter_taint_toleration(const Pod& pod, const Node& node) {
  for (const Taint& taint : node.taints) {
    if (taint.effect == TaintEffect::kPreferNoSchedule) continue;
    if (!tolerates(pod.tolerations, taint)) return {NodeFilterCode::kUntoleratedTaint, &taint};
  }
  return {};
}

NodeFilterResult filter_node_affinity(const Pod& pod, const Node& node) {
  for (const auto& [key, value] : pod.node_selector) {
    const auto found = node.labels.find(key);
    if (found == node.labels.end() || found->second != value) {
      return {NodeFilterCode::kNodeAffinity, nullptr};
    }
  }
  const auto& terms = pod.required_node_affinity;
  if (!terms.empty() && std::none_of(terms.begin(), terms.end(), [&](const NodeSelectorTerm& t) {
        return matches_node_selector_term(t, node);
      })) {
    return {NodeFilterCode::kNodeAffinity, nullptr};
  }
  return {};
}

NodeFilterResult filter_node(const Pod& pod, const Node& node) {
  // kube-scheduler's default order: NodeUnschedulable, NodeName, TaintToleration, NodeAffinity.
  for (auto filter : {filter_node_ready, filter_node_unschedulable, filter_taint_toleration,
                      filter_node_affinity}) {
    if (auto result = filter(pod, node); !result.fits()) return result;
  }
  return {};
}

std::string failure_reason(const NodeFilterResult& result) {
  switch (result.code) {
    case NodeFilterCode::kFits:
      return "";
    case NodeFilterCode::kNotReady:
      return std::string(kReasonNotReady);
    case NodeFilterCode::kUnschedulable:
      return std::string(kReasonUnschedulable);
    case NodeFilterCode::kUntoleratedTaint:
      if (result.taint == nullptr) return "node(s) had untolerated taint";
      return fmt::format("node(s) had untolerated taint {{{}: {}}}", result.taint->key,
                         result.taint->value);
    case NodeFilterCode::kNodeAffinity:
      return std::string(kReasonNodeAffinity);
  }
  return "";
}

std::string summarize_unschedulable(int64_t total_nodes, const ReasonCounts& reason_counts) {
  std::vector<std::string> entries;
  entries.reserve(reason_counts.size());
  for (const auto& [reason, count] : reason_counts) {
    if (count > 0) entries.push_back(fmt::format("{} {}", count, reason));
  }
  if (total_nodes == 0 && entries.empty()) return "no nodes available to schedule pods";
  std::sort(entries.begin(), entries.end());
  std::string message = fmt::format("0/{} nodes are available", total_nodes);
  if (entries.empty()) return message + ".";
  for (size_t i = 0; i < entries.size(); ++i) {
    message += i == 0 ? ": " : ", ";
    message += entries[i];
  }
  message += '.';
  return message;
}

}  // namespace fairway
