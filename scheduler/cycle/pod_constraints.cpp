#include "scheduler/cycle/pod_constraints.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "scheduler/state/node_filters.h"
#include "scheduler/state/pod_selectors.h"

namespace fairway {
namespace {

const LabelSelector kEverything;

bool matches_all(const std::vector<PodAffinityTerm>& terms, std::string_view owner_namespace,
                 const Pod& candidate, const Labels* namespace_labels) {
  return std::all_of(terms.begin(), terms.end(), [&](const PodAffinityTerm& term) {
    return term_selects(term, owner_namespace, candidate, namespace_labels);
  });
}

// The label selector to start a candidate walk from for a term: its own, or nothing to walk.
const LabelSelector* walk_selector(const PodAffinityTerm& term) {
  return term.label_selector ? &*term.label_selector : nullptr;
}

std::string node_constraints_key(const Pod& pod, const TopologySpreadConstraint& constraint) {
  std::string key = constraint.topology_key;
  key += constraint.node_affinity_honor ? "|A" : "|a";
  key += constraint.node_taints_honor ? "T" : "t";
  for (const TopologySpreadConstraint& other : pod.topology_spread) {
    key += '|';
    key += other.topology_key;
  }
  if (constraint.node_affinity_honor) {
    for (const auto& [k, v] : pod.node_selector) key += fmt::format("|s{}={}", k, v);
    for (const NodeSelectorTerm& term : pod.required_node_affinity) {
      key += "|t";
      for (const auto* list : {&term.match_expressions, &term.match_fields}) {
        key += '/';
        for (const NodeSelectorRequirement& r : *list) {
          key += fmt::format("{}{}{},", r.key, static_cast<int>(r.op), fmt::join(r.values, ";"));
        }
      }
    }
  }
  if (constraint.node_taints_honor) {
    for (const Toleration& t : pod.tolerations) {
      key += fmt::format("|o{}{}{}{}", t.key, static_cast<int>(t.op), t.value,
                         t.effect ? static_cast<int>(*t.effect) : -1);
    }
  }
  return key;
}

}  // namespace

// ---------------------------------------------------------------------------- tentative pods

void TentativePods::add(PodId pod, NodeId node) {
  unindexed_.emplace_back(pod, node);
  nodes_[pod] = node;
  if (!state_.pods()[pod].pod.affinity.empty()) ++with_affinity_;
}

void TentativePods::remove(PodId pod) {
  const auto it = nodes_.find(pod);
  if (it == nodes_.end()) return;
  const Pod& removed = state_.pods()[pod].pod;
  if (!removed.affinity.empty()) --with_affinity_;
  auto waiting = std::find(unindexed_.begin(), unindexed_.end(), std::pair{pod, it->second});
  if (waiting != unindexed_.end()) {
    unindexed_.erase(waiting);
  } else {
    pods_.remove(pod, removed, it->second);
  }
  nodes_.erase(it);
}

const PlacedPods& TentativePods::pods() const {
  for (const auto& [pod, node] : unindexed_) pods_.add(pod, state_.pods()[pod].pod, node);
  unindexed_.clear();
  return pods_;
}

// ------------------------------------------------------------------------ spread node cache

// kube-scheduler counts a node for a spread constraint when it has every topology key of the
// pod's constraints and passes the inclusion policies: the pod's node affinity and selector
// (nodeAffinityPolicy Honor, the default) and its tolerations of NoSchedule/NoExecute taints
// (nodeTaintsPolicy Honor; Ignore by default).
const std::vector<uint8_t>& SpreadNodeCache::eligible(const ClusterState& state, const Pod& pod,
                                                      const TopologySpreadConstraint& constraint) {
  auto [it, fresh] = cache_.try_emplace(node_constraints_key(pod, constraint));
  if (!fresh) return it->second;
  const auto& nodes = state.nodes();
  std::vector<uint8_t>& out = it->second;
  out.assign(nodes.size(), 0);
  for (NodeId id = 0; id < nodes.size(); ++id) {
    const NodeRecord& record = nodes[id];
    if (!record.present) continue;
    const bool has_keys = std::all_of(
        pod.topology_spread.begin(), pod.topology_spread.end(),
        [&](const TopologySpreadConstraint& c) { return record.node.labels.contains(c.topology_key); });
    if (!has_keys) continue;
    if (constraint.node_affinity_honor && !filter_node_affinity(pod, record.node).fits()) continue;
    if (constraint.node_taints_honor && !filter_taint_toleration(pod, record.node).fits()) continue;
    out[id] = 1;
  }
  return out;
}

// --------------------------------------------------------------------------------- prepare

PodConstraints::PodConstraints(const ClusterState& state, PodId pod,
                               const TentativePods& tentative,
                               const std::unordered_set<std::string>& taken_volumes,
                               SpreadNodeCache& spread, const ScoreWeights& weights)
    : state_(state),
      pod_(state.pods()[pod].pod),
      id_(pod),
      tentative_(tentative),
      taken_volumes_(taken_volumes),
      weights_(weights) {
  if (!pod_.volume_claims.empty()) {
    pod_failure_ = volume_prefilter(state, pod_);
    active_ = true;
  }
  if (!pod_.host_ports.empty()) active_ = true;
  if (!pod_.affinity.empty()) effective_ = effective_affinity(pod_);
  prepare_affinity();
  prepare_existing_anti_affinity();
  prepare_preferred();
  if (!pod_.topology_spread.empty()) prepare_spread(spread);
  for (const PreferredSchedulingTerm& term : pod_.preferred_node_affinity) {
    node_affinity_total_ += std::max(term.weight, 0);
  }
  if (node_affinity_total_ > 0) has_preferences_ = true;
}

const Labels* PodConstraints::namespace_labels(const Pod& pod) const {
  return state_.namespace_labels(pod.namespace_);
}

const std::string* PodConstraints::label_of(NodeId node, const std::string& key) const {
  const Labels& labels = state_.nodes()[node].node.labels;
  const auto found = labels.find(key);
  return found == labels.end() ? nullptr : &found->second;
}

// Calls f(pod, node) for placed and tentative pods that may match `selector` (a superset).
template <typename F>
void PodConstraints::for_each_placed(const LabelSelector& selector, F&& f) const {
  const auto& pods = state_.pods();
  state_.placed().for_each_candidate(selector, [&](PodId id) {
    if (id != id_) f(pods[id].pod, pods[id].node);
  });
  tentative_.pods().for_each_candidate(selector, [&](PodId id) {
    if (id != id_) f(pods[id].pod, tentative_.node_of(id));
  });
}

// The pod's own required terms: how many placed pods each term selects per domain. For
// affinity a pod counts only when it matches every term (kube-scheduler's
// getIncomingAffinityAntiAffinityCounts); for anti-affinity each term counts on its own.
void PodConstraints::prepare_affinity() {
  const PodAffinity& affinity = pod_.affinity;
  if (affinity.required_affinity.empty() && affinity.required_anti_affinity.empty()) return;
  active_ = true;
  const PodAffinity& effective = effective_;
  if (!effective.required_affinity.empty()) {
    affinity_counts_.resize(effective.required_affinity.size());
    const auto& terms = effective.required_affinity;
    bool any = false;
    if (const LabelSelector* walk = walk_selector(terms.front())) {
      for_each_placed(*walk, [&](const Pod& other, NodeId node) {
        if (!matches_all(terms, pod_.namespace_, other, namespace_labels(other))) return;
        for (size_t i = 0; i < terms.size(); ++i) {
          if (const std::string* value = label_of(node, terms[i].topology_key)) {
            ++affinity_counts_[i][*value];
            any = true;
          }
        }
      });
    }
    // The first pod of a group that is affine to itself may go anywhere the keys exist.
    affinity_anywhere_ = !any && matches_all(terms, pod_.namespace_, pod_, namespace_labels(pod_));
  }
  anti_counts_.resize(effective.required_anti_affinity.size());
  for (size_t i = 0; i < effective.required_anti_affinity.size(); ++i) {
    const PodAffinityTerm& term = effective.required_anti_affinity[i];
    const LabelSelector* walk = walk_selector(term);
    if (walk == nullptr) continue;
    for_each_placed(*walk, [&](const Pod& other, NodeId node) {
      if (!term_selects(term, pod_.namespace_, other, namespace_labels(other))) return;
      if (const std::string* value = label_of(node, term.topology_key)) ++anti_counts_[i][*value];
    });
  }
}

// Existing pods whose required anti-affinity selects this pod keep it out of their domains.
void PodConstraints::prepare_existing_anti_affinity() {
  const Labels* own_namespace = namespace_labels(pod_);
  auto forbid = [&](const PodAffinityTerm& term, std::string_view owner_namespace, NodeId node) {
    if (!term_selects(term, owner_namespace, pod_, own_namespace)) return;
    if (const std::string* value = label_of(node, term.topology_key)) {
      auto it = forbidden_.find(term.topology_key);
      if (it == forbidden_.end()) it = forbidden_.try_emplace(term.topology_key).first;
      it->second.insert(*value);
    }
  };
  auto visit = [&](const PlacedPods::AffinityGroup& group) {
    for (const PodAffinityTerm& term : group.affinity.required_anti_affinity) {
      for (const auto& [node, count] : group.nodes) forbid(term, group.namespace_, node);
    }
  };
  state_.placed().for_each_anti_affinity_group(pod_.labels, visit);
  if (tentative_.has_affinity()) tentative_.pods().for_each_anti_affinity_group(pod_.labels, visit);
  if (!forbidden_.empty()) active_ = true;
}

// Preferred terms as kube-scheduler's InterPodAffinity score: the pod's own preferred terms
// over the pods they select, and the terms of existing pods that select this pod (their
// preferred terms by weight, their required affinity with weight 1), summed per domain.
void PodConstraints::prepare_preferred() {
  auto add = [&](const std::string& key, NodeId node, double weight) {
    if (const std::string* value = label_of(node, key)) preferred_pairs_[{key, *value}] += weight;
  };
  const PodAffinity& effective = effective_;
  for (const auto* list : {&effective.preferred_affinity, &effective.preferred_anti_affinity}) {
    const double sign = list == &effective.preferred_affinity ? 1 : -1;
    for (const WeightedPodAffinityTerm& weighted : *list) {
      const LabelSelector* walk = walk_selector(weighted.term);
      if (walk == nullptr) continue;
      for_each_placed(*walk, [&](const Pod& other, NodeId node) {
        if (term_selects(weighted.term, pod_.namespace_, other, namespace_labels(other))) {
          add(weighted.term.topology_key, node, sign * weighted.weight);
        }
      });
    }
  }
  const Labels* own_namespace = namespace_labels(pod_);
  const PlacedPods* tentative = tentative_.has_affinity() ? &tentative_.pods() : nullptr;
  for (const PlacedPods* placed : {&state_.placed(), tentative}) {
    if (placed == nullptr) continue;
    for (const PlacedPods::AffinityGroup* group : placed->scoring_groups()) {
      const PodAffinity& theirs = group->affinity;
      auto consider = [&](const PodAffinityTerm& term, double weight) {
        if (!term_selects(term, group->namespace_, pod_, own_namespace)) return;
        for (const auto& [node, count] : group->nodes) add(term.topology_key, node, weight * count);
      };
      for (const WeightedPodAffinityTerm& w : theirs.preferred_affinity) consider(w.term, w.weight);
      for (const WeightedPodAffinityTerm& w : theirs.preferred_anti_affinity) {
        consider(w.term, -w.weight);
      }
      for (const PodAffinityTerm& term : theirs.required_affinity) consider(term, 1);
    }
  }
  for (const auto& [pair, weight] : preferred_pairs_) {
    preferred_scale_ = std::max(preferred_scale_, std::abs(weight));
  }
  if (preferred_scale_ > 0) has_preferences_ = true;
}

void PodConstraints::prepare_spread(SpreadNodeCache& cache) {
  for (const TopologySpreadConstraint& constraint : pod_.topology_spread) {
    Spread spread{&constraint, {}, false, &cache.eligible(state_, pod_, constraint), {}, 0, 0, 0};
    if (constraint.label_selector) {
      spread.has_selector = true;
      spread.selector = *constraint.label_selector;
      for (const std::string& key : constraint.match_label_keys) {
        if (const auto found = pod_.labels.find(key); found != pod_.labels.end()) {
          spread.selector.match_expressions.push_back(
              {key, LabelSelectorRequirement::Operator::kIn, {found->second}});
        }
      }
    }
    // Every domain of an eligible node exists, with zero pods until counted.
    const auto& nodes = state_.nodes();
    for (NodeId id = 0; id < nodes.size(); ++id) {
      if ((*spread.eligible)[id] == 0) continue;
      spread.counts.try_emplace(*label_of(id, constraint.topology_key), 0);
    }
    if (spread.has_selector) {
      for_each_placed(spread.selector, [&](const Pod& other, NodeId node) {
        // Terminating pods do not count; only the pod's own namespace does.
        if (other.deleting || other.namespace_ != pod_.namespace_) return;
        if (node >= spread.eligible->size() || (*spread.eligible)[node] == 0) return;
        if (!matches_selector(spread.selector, other.labels)) return;
        ++spread.counts[*label_of(node, constraint.topology_key)];
        ++spread.total;
      });
      spread.self_match = matches_selector(spread.selector, pod_.labels) ? 1 : 0;
    }
    int64_t min_match = spread.counts.empty() ? 0 : INT64_MAX;
    for (const auto& [value, count] : spread.counts) min_match = std::min(min_match, count);
    // Fewer domains than minDomains: the global minimum is taken as 0.
    if (constraint.min_domains &&
        static_cast<int64_t>(spread.counts.size()) < *constraint.min_domains) {
      min_match = 0;
    }
    spread.min_match = min_match;
    if (constraint.do_not_schedule) {
      hard_spread_.push_back(std::move(spread));
      active_ = true;
    } else {
      soft_spread_.push_back(std::move(spread));
      has_preferences_ = true;
    }
  }
}

// ---------------------------------------------------------------------------------- filter

ConstraintCode PodConstraints::filter(NodeId node) {
  if (!active_) return ConstraintCode::kFits;
  // kube-scheduler's order: NodePorts, (resources), VolumeRestrictions, NodeVolumeLimits,
  // VolumeBinding, VolumeZone, PodTopologySpread, InterPodAffinity (the pod's affinity, its
  // anti-affinity, then existing pods' anti-affinity).
  for (const HostPort& wanted : pod_.host_ports) {
    for (PodId id : state_.placed().on_node(node)) {
      for (const HostPort& used : state_.pods()[id].pod.host_ports) {
        if (host_ports_conflict(wanted, used)) return ConstraintCode::kPorts;
      }
    }
    for (PodId id : tentative_.pods().on_node(node)) {
      for (const HostPort& used : state_.pods()[id].pod.host_ports) {
        if (host_ports_conflict(wanted, used)) return ConstraintCode::kPorts;
      }
    }
  }
  if (!pod_.volume_claims.empty()) {
    if (pod_failure_) return ConstraintCode::kVolume;
    VolumeVerdict verdict = volume_filter(state_, pod_, state_.nodes()[node].node, taken_volumes_);
    if (!verdict.fits) {
      volume_reason_ = std::move(verdict.reason);
      return ConstraintCode::kVolume;
    }
  }
  for (const Spread& spread : hard_spread_) {
    const std::string* value = label_of(node, spread.constraint->topology_key);
    if (value == nullptr) return ConstraintCode::kSpreadLabel;
    const auto found = spread.counts.find(*value);
    const int64_t count = found == spread.counts.end() ? 0 : found->second;
    if (count + spread.self_match - spread.min_match > spread.constraint->max_skew) {
      return ConstraintCode::kSpread;
    }
  }
  const auto& required = pod_.affinity.required_affinity;
  for (size_t i = 0; i < affinity_counts_.size(); ++i) {
    const std::string* value = label_of(node, required[i].topology_key);
    if (value == nullptr) return ConstraintCode::kAffinity;  // every key must exist
    if (affinity_anywhere_) continue;
    const auto found = affinity_counts_[i].find(*value);
    if (found == affinity_counts_[i].end() || found->second <= 0) return ConstraintCode::kAffinity;
  }
  const auto& anti = pod_.affinity.required_anti_affinity;
  for (size_t i = 0; i < anti_counts_.size(); ++i) {
    const std::string* value = label_of(node, anti[i].topology_key);
    if (value == nullptr) continue;
    const auto found = anti_counts_[i].find(*value);
    if (found != anti_counts_[i].end() && found->second > 0) return ConstraintCode::kAntiAffinity;
  }
  for (const auto& [key, values] : forbidden_) {
    const std::string* value = label_of(node, key);
    if (value != nullptr && values.contains(*value)) return ConstraintCode::kExistingAntiAffinity;
  }
  return ConstraintCode::kFits;
}

std::string PodConstraints::reason(ConstraintCode code) const {
  switch (code) {
    case ConstraintCode::kFits:
      return "";
    case ConstraintCode::kPorts:
      return std::string(kReasonPorts);
    case ConstraintCode::kAffinity:
      return std::string(kReasonAffinity);
    case ConstraintCode::kAntiAffinity:
      return std::string(kReasonAntiAffinity);
    case ConstraintCode::kExistingAntiAffinity:
      return std::string(kReasonExistingAntiAffinity);
    case ConstraintCode::kSpread:
      return std::string(kReasonSpread);
    case ConstraintCode::kSpreadLabel:
      return std::string(kReasonSpreadLabel);
    case ConstraintCode::kVolume:
      return pod_failure_ ? *pod_failure_ : volume_reason_;
  }
  return "";
}

std::vector<VolumeBinding> PodConstraints::volume_bindings(NodeId node) const {
  if (pod_.volume_claims.empty()) return {};
  return volume_filter(state_, pod_, state_.nodes()[node].node, taken_volumes_).bindings;
}

// ----------------------------------------------------------------------------------- score

double PodConstraints::spread_penalty(NodeId node) const {
  double penalty = 0;
  for (const Spread& spread : soft_spread_) {
    const std::string* value = label_of(node, spread.constraint->topology_key);
    if (value == nullptr) {
      penalty += 1;  // kube-scheduler scores nodes without the key lowest
      continue;
    }
    const auto found = spread.counts.find(*value);
    const int64_t count = found == spread.counts.end() ? 0 : found->second;
    penalty += static_cast<double>(count - spread.min_match) /
               static_cast<double>(spread.total - spread.min_match + 1);
  }
  return soft_spread_.empty() ? 0 : penalty / static_cast<double>(soft_spread_.size());
}

double PodConstraints::pod_affinity_score(NodeId node) const {
  if (preferred_scale_ <= 0) return 0;
  double sum = 0;
  for (const auto& [pair, weight] : preferred_pairs_) {
    const std::string* value = label_of(node, pair.first);
    if (value != nullptr && *value == pair.second) sum += weight;
  }
  return std::clamp(sum / preferred_scale_, -1.0, 1.0);
}

double PodConstraints::score(NodeId node) const {
  const Node& n = state_.nodes()[node].node;
  double penalty = 0;
  if (node_affinity_total_ > 0) {
    double matched = 0;
    for (const PreferredSchedulingTerm& term : pod_.preferred_node_affinity) {
      if (term.weight > 0 && matches_node_selector_term(term.preference, n)) matched += term.weight;
    }
    penalty -= weights_.node_affinity * matched / node_affinity_total_;
  }
  penalty -= weights_.pod_affinity * pod_affinity_score(node);
  penalty += weights_.topology_spread * spread_penalty(node);
  int untolerated = 0;
  for (const Taint& taint : n.taints) {
    if (taint.effect == TaintEffect::kPreferNoSchedule && !tolerates(pod_.tolerations, taint)) {
      ++untolerated;
    }
  }
  if (untolerated > 0) {
    penalty += weights_.taint_toleration * untolerated / (untolerated + 1.0);
  }
  return penalty;
}

}  // namespace fairway
