#include "scheduler/state/pod_selectors.h"

#include <algorithm>

namespace fairway {
namespace {

using Op = LabelSelectorRequirement::Operator;

bool is_any_address(std::string_view ip) {
  return ip.empty() || ip == "0.0.0.0" || ip == "::";
}

void append_selector(std::string& out, const std::optional<LabelSelector>& selector) {
  if (!selector) {
    out += "null;";
    return;
  }
  for (const auto& [key, value] : selector->match_labels) {
    out += key;
    out += '=';
    out += value;
    out += ',';
  }
  for (const LabelSelectorRequirement& requirement : selector->match_expressions) {
    out += requirement.key;
    out += static_cast<char>('0' + static_cast<int>(requirement.op));
    for (const std::string& value : requirement.values) {
      out += value;
      out += '|';
    }
    out += ',';
  }
  out += ';';
}

void append_term(std::string& out, const PodAffinityTerm& term) {
  append_selector(out, term.label_selector);
  for (const std::string& ns : term.namespaces) {
    out += ns;
    out += ',';
  }
  out += ';';
  append_selector(out, term.namespace_selector);
  out += term.topology_key;
  out += '\x1e';
}

}  // namespace

std::string selector_signature(const std::optional<LabelSelector>& selector) {
  std::string out;
  append_selector(out, selector);
  return out;
}

std::string term_signature(const PodAffinityTerm& term) {
  std::string out;
  append_term(out, term);
  return out;
}

bool matches_selector(const LabelSelector& selector, const Labels& labels) {
  return selector.invalid.empty() && selector_matches(selector, labels);
}

PodAffinityTerm effective_term(const PodAffinityTerm& term, const Labels& owner_labels) {
  PodAffinityTerm out = term;
  out.match_label_keys.clear();
  out.mismatch_label_keys.clear();
  if (!out.label_selector) return out;
  auto merge = [&](const std::vector<std::string>& keys, Op op) {
    for (const std::string& key : keys) {
      const auto found = owner_labels.find(key);
      if (found == owner_labels.end()) continue;
      out.label_selector->match_expressions.push_back({key, op, {found->second}});
    }
  };
  merge(term.match_label_keys, Op::kIn);
  merge(term.mismatch_label_keys, Op::kNotIn);
  return out;
}

bool term_selects(const PodAffinityTerm& term, std::string_view owner_namespace,
                  const Pod& candidate, const Labels* candidate_namespace_labels) {
  bool namespace_ok = false;
  if (term.namespaces.empty() && !term.namespace_selector) {
    namespace_ok = candidate.namespace_ == owner_namespace;
  } else {
    namespace_ok = std::find(term.namespaces.begin(), term.namespaces.end(),
                             candidate.namespace_) != term.namespaces.end();
    if (!namespace_ok && term.namespace_selector) {
      static const Labels kNoLabels;
      namespace_ok = matches_selector(
          *term.namespace_selector,
          candidate_namespace_labels != nullptr ? *candidate_namespace_labels : kNoLabels);
    }
  }
  return namespace_ok && selects(term.label_selector, candidate.labels);
}

bool host_ports_conflict(const HostPort& a, const HostPort& b) {
  if (a.port != b.port || a.protocol != b.protocol) return false;
  return is_any_address(a.host_ip) || is_any_address(b.host_ip) || a.host_ip == b.host_ip;
}

std::string affinity_signature(std::string_view namespace_, const PodAffinity& affinity) {
  std::string out(namespace_);
  out += '\x1d';
  for (const PodAffinityTerm& term : affinity.required_affinity) append_term(out, term);
  out += '\x1d';
  for (const PodAffinityTerm& term : affinity.required_anti_affinity) append_term(out, term);
  out += '\x1d';
  for (const auto* list : {&affinity.preferred_affinity, &affinity.preferred_anti_affinity}) {
    for (const WeightedPodAffinityTerm& weighted : *list) {
      out += std::to_string(weighted.weight);
      append_term(out, weighted.term);
    }
    out += '\x1d';
  }
  return out;
}

PodAffinity effective_affinity(const Pod& pod) {
  PodAffinity out;
  auto resolve = [&pod](const std::vector<PodAffinityTerm>& terms) {
    std::vector<PodAffinityTerm> resolved;
    resolved.reserve(terms.size());
    for (const PodAffinityTerm& term : terms) resolved.push_back(effective_term(term, pod.labels));
    return resolved;
  };
  auto resolve_weighted = [&pod](const std::vector<WeightedPodAffinityTerm>& terms) {
    std::vector<WeightedPodAffinityTerm> resolved;
    resolved.reserve(terms.size());
    for (const WeightedPodAffinityTerm& weighted : terms) {
      resolved.push_back({weighted.weight, effective_term(weighted.term, pod.labels)});
    }
    return resolved;
  };
  out.required_affinity = resolve(pod.affinity.required_affinity);
  out.required_anti_affinity = resolve(pod.affinity.required_anti_affinity);
  out.preferred_affinity = resolve_weighted(pod.affinity.preferred_affinity);
  out.preferred_anti_affinity = resolve_weighted(pod.affinity.preferred_anti_affinity);
  return out;
}

}  // namespace fairway
