#include "scheduler/cycle/pod_constraints.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "scheduler/state/node_filters.h"
#include "scheduler/state/pod_selectors.h"

namespace fairway {
namespace {

const DomainCounts kNoCounts;

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
  const Pod& added = state_.pods()[pod].pod;
  if (!added.affinity.empty()) ++with_affinity_;
  for (auto& [key, memo] : memo_) count(memo, added, node, +1);
}

void TentativePods::count(Memo& memo, const Pod& pod, NodeId node, int sign) const {
  if (!memo.matches(pod, node)) return;
  const Labels& labels = state_.nodes()[node].node.labels;
  const auto value = labels.find(memo.topology_key);
  if (value == labels.end()) return;
  memo.counts.by_domain[value->second] += sign;
  memo.counts.total += sign;
}

const DomainCounts& TentativePods::counts(const std::string& key, const LabelSelector& walk,
                                          const std::string& topology_key, Matcher matches) {
  auto [it, fresh] = memo_.try_emplace(key);
  Memo& memo = it->second;
  if (!fresh) return memo.counts;
  memo.topology_key = topology_key;
  memo.matches = std::move(matches);
  const auto& pods = state_.pods();
  state_.placed().for_each_candidate(
      walk, [&](PodId id) { count(memo, pods[id].pod, pods[id].node, +1); });
  pods_.for_each_candidate(walk, [&](PodId id) { count(memo, pods[id].pod, indexed_.at(id), +1); });
  for (const auto& [pod, node] : unindexed_) count(memo, pods[pod].pod, node, +1);
  return memo.counts;
}

void TentativePods::remove(PodId pod) {
  const Pod& removed = state_.pods()[pod].pod;
  // Placements are undone newest first: the pod is usually at the back.
  for (auto it = unindexed_.rbegin(); it != unindexed_.rend(); ++it) {
    if (it->first != pod) continue;
    for (auto& [key, memo] : memo_) count(memo, removed, it->second, -1);
    unindexed_.erase(std::next(it).base());
    if (!removed.affinity.empty()) --with_affinity_;
    return;
  }
  if (auto it = indexed_.find(pod); it != indexed_.end()) {
    for (auto& [key, memo] : memo_) count(memo, removed, it->second, -1);
    pods_.remove(pod, removed, it->second);
    indexed_.erase(it);
    if (!removed.affinity.empty()) --with_affinity_;
  }
}

const PlacedPods& TentativePods::pods() const {
  for (const auto& [pod, node] : unindexed_) {
    pods_.add(pod, state_.pods()[pod].pod, node);
    indexed_[pod] = node;
  }
  unindexed_.clear();
  return pods_;
}

NodeId TentativePods::node_of(PodId pod) const {
  return indexed_.at(pod);
}

// ------------------------------------------------------------------------ spread node cache

// kube-scheduler counts a node for a spread constraint when it has every topology key of the
// pod's constraints and passes the inclusion policies: the pod's node affinity and selector
// (nodeAffinityPolicy Honor, the default) and its tolerations of NoSchedule/NoExecute taints
// (nodeTaintsPolicy Honor; Ignore by default).
const SpreadNodeCache::Nodes& SpreadNodeCache::eligible(
    const ClusterState& state, const Pod& pod, const TopologySpreadConstraint& constraint) {
  auto [it, fresh] = cache_.try_emplace(node_constraints_key(pod, constraint));
  if (!fresh) return it->second;
  const auto& nodes = state.nodes();
  std::vector<uint8_t>& out = it->second.counted;
  std::unordered_set<std::string_view> domains;
  out.assign(nodes.size(), 0);
  for (NodeId id = 0; id < nodes.size(); ++id) {
    const NodeRecord& record = nodes[id];
    if (!record.present) continue;
    const bool has_keys = std::all_of(pod.topology_spread.begin(), pod.topology_spread.end(),
                                      [&](const TopologySpreadConstraint& c) {
                                        return record.node.labels.contains(c.topology_key);
                                      });
    if (!has_keys) continue;
    if (constraint.node_affinity_honor && !filter_node_affinity(pod, record.node).fits()) continue;
    if (constraint.node_taints_honor && !filter_taint_toleration(pod, record.node).fits()) continue;
    out[id] = 1;
    domains.insert(record.node.labels.find(constraint.topology_key)->second);
  }
  it->second.domains.assign(domains.begin(), domains.end());
  return it->second;
}

// --------------------------------------------------------------------------------- prepare

PodConstraints::PodConstraints(const ClusterState& state, PodId pod, TentativePods& tentative,
                               const std::unordered_set<std::string>& taken_volumes,
                               DeviceLedger& devices, SpreadNodeCache& spread,
                               const ScoreWeights& weights)
    : state_(state),
      pod_(state.pods()[pod].pod),
      id_(pod),
      tentative_(tentative),
      taken_volumes_(taken_volumes),
      devices_(devices),
      weights_(weights) {
  if (!pod_.volume_claims.empty()) {
    pod_failure_ = volume_prefilter(state, pod_);
    active_ = true;
  }
  if (!pod_.resource_claims.empty()) {
    active_ = true;
    auto claims = devices.claims_of(pod_);
    if (claims) {
      claims_ = std::move(*claims);
    } else if (!pod_failure_) {
      pod_failure_ = std::move(claims.error().message);
      pod_failure_code_ = ConstraintCode::kDevices;
    }
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
  const ClusterState& state = state_;
  const std::string ns = pod_.namespace_;
  if (!effective.required_affinity.empty()) {
    const auto& terms = effective.required_affinity;
    std::string all = "affinity|" + ns + "|";
    for (const PodAffinityTerm& term : terms) all += term_signature(term);
    int64_t any = 0;
    if (const LabelSelector* walk = walk_selector(terms.front())) {
      for (size_t i = 0; i < terms.size(); ++i) {
        const DomainCounts& counts = tentative_.counts(
            all + "|" + std::to_string(i), *walk, terms[i].topology_key,
            [&state, ns, terms](const Pod& other, NodeId) {
              return matches_all(terms, ns, other, state.namespace_labels(other.namespace_));
            });
        affinity_counts_.push_back(&counts);
        any += counts.total;
      }
    }
    // The first pod of a group that is affine to itself may go anywhere the keys exist.
    affinity_anywhere_ =
        any == 0 && matches_all(terms, pod_.namespace_, pod_, namespace_labels(pod_));
    if (affinity_counts_.empty()) affinity_counts_.assign(terms.size(), &kNoCounts);
  }
  for (const PodAffinityTerm& term : effective.required_anti_affinity) {
    const LabelSelector* walk = walk_selector(term);
    if (walk == nullptr) {
      anti_counts_.push_back(&kNoCounts);
      continue;
    }
    anti_counts_.push_back(&tentative_.counts(
        "anti|" + ns + "|" + term_signature(term), *walk, term.topology_key,
        [&state, ns, term](const Pod& other, NodeId) {
          return term_selects(term, ns, other, state.namespace_labels(other.namespace_));
        }));
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
    const SpreadNodeCache::Nodes& nodes = cache.eligible(state_, pod_, constraint);
    Spread spread{&constraint, &kNoCounts, 0, 0};
    if (constraint.label_selector) {
      LabelSelector selector = *constraint.label_selector;
      for (const std::string& key : constraint.match_label_keys) {
        if (const auto found = pod_.labels.find(key); found != pod_.labels.end()) {
          selector.match_expressions.push_back(
              {key, LabelSelectorRequirement::Operator::kIn, {found->second}});
        }
      }
      spread.self_match = matches_selector(selector, pod_.labels) ? 1 : 0;
      // Terminating pods do not count; only the pod's own namespace does, on counted nodes.
      const std::vector<uint8_t>* counted = &nodes.counted;
      std::string key =
          fmt::format("spread|{}|{}|{}|{}", pod_.namespace_, selector_signature(selector),
                      constraint.topology_key, static_cast<const void*>(counted));
      spread.counts = &tentative_.counts(
          key, selector, constraint.topology_key,
          [ns = pod_.namespace_, selector, counted](const Pod& other, NodeId node) {
            return !other.deleting && other.namespace_ == ns && node < counted->size() &&
                   (*counted)[node] != 0 && matches_selector(selector, other.labels);
          });
    }
    // The minimum over every domain of a counted node, empty ones included.
    int64_t min_match = nodes.domains.empty() ? 0 : INT64_MAX;
    for (const std::string& domain : nodes.domains) {
      min_match = std::min(min_match, spread.counts->at(domain));
    }
    // Fewer domains than minDomains: the global minimum is taken as 0.
    if (constraint.min_domains &&
        static_cast<int64_t>(nodes.domains.size()) < *constraint.min_domains) {
      min_match = 0;
    }
    spread.min_match = min_match;
    if (constraint.do_not_schedule) {
      hard_spread_.push_back(spread);
      active_ = true;
    } else {
      soft_spread_.push_back(spread);
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
  if (pod_failure_) return pod_failure_code_;
  if (!pod_.volume_claims.empty()) {
    VolumeVerdict verdict = volume_filter(state_, pod_, state_.nodes()[node].node, taken_volumes_);
    if (!verdict.fits) {
      volume_reason_ = std::move(verdict.reason);
      return ConstraintCode::kVolume;
    }
  }
  for (const Spread& spread : hard_spread_) {
    const std::string* value = label_of(node, spread.constraint->topology_key);
    if (value == nullptr) return ConstraintCode::kSpreadLabel;
    const int64_t count = spread.counts->at(*value);
    if (count + spread.self_match - spread.min_match > spread.constraint->max_skew) {
      return ConstraintCode::kSpread;
    }
  }
  const auto& required = pod_.affinity.required_affinity;
  for (size_t i = 0; i < affinity_counts_.size(); ++i) {
    const std::string* value = label_of(node, required[i].topology_key);
    if (value == nullptr) return ConstraintCode::kAffinity;  // every key must exist
    if (affinity_anywhere_) continue;
    if (affinity_counts_[i]->at(*value) <= 0) return ConstraintCode::kAffinity;
  }
  const auto& anti = pod_.affinity.required_anti_affinity;
  for (size_t i = 0; i < anti_counts_.size(); ++i) {
    const std::string* value = label_of(node, anti[i].topology_key);
    if (value == nullptr) continue;
    if (anti_counts_[i]->at(*value) > 0) return ConstraintCode::kAntiAffinity;
  }
  for (const auto& [key, values] : forbidden_) {
    const std::string* value = label_of(node, key);
    if (value != nullptr && values.contains(*value)) return ConstraintCode::kExistingAntiAffinity;
  }
  // Last: allocating devices costs more than any check above.
  if (!claims_.empty()) {
    auto allocation = devices_.allocate(node, pod_, claims_);
    if (!allocation) {
      device_reason_ = std::move(allocation.error().message);
      return ConstraintCode::kDevices;
    }
    allocations_.insert_or_assign(node, std::move(*allocation));
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
    case ConstraintCode::kDevices:
      if (pod_failure_ && code == pod_failure_code_) return *pod_failure_;
      return code == ConstraintCode::kVolume ? volume_reason_ : device_reason_;
  }
  return "";
}

std::vector<VolumeBinding> PodConstraints::volume_bindings(NodeId node) const {
  if (pod_.volume_claims.empty()) return {};
  return volume_filter(state_, pod_, state_.nodes()[node].node, taken_volumes_).bindings;
}

std::vector<dra::ClaimAllocation> PodConstraints::claim_allocations(NodeId node) {
  if (claims_.empty()) return {};
  auto it = allocations_.find(node);
  if (it == allocations_.end() && filter(node) == ConstraintCode::kFits) {
    it = allocations_.find(node);
  }
  if (it == allocations_.end()) return {};
  return DeviceLedger::decisions(claims_, it->second);
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
    const int64_t count = spread.counts->at(*value);
    penalty += static_cast<double>(count - spread.min_match) /
               static_cast<double>(spread.counts->total - spread.min_match + 1);
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

bool carries_constraints(const Pod& pod) {
  return !pod.affinity.empty() || !pod.topology_spread.empty() || !pod.host_ports.empty() ||
         !pod.volume_claims.empty() || !pod.resource_claims.empty() ||
         !pod.preferred_node_affinity.empty();
}

double taint_penalty(const Pod& pod, const Node& node, const ScoreWeights& weights) {
  int untolerated = 0;
  for (const Taint& taint : node.taints) {
    if (taint.effect == TaintEffect::kPreferNoSchedule && !tolerates(pod.tolerations, taint)) {
      ++untolerated;
    }
  }
  return untolerated == 0 ? 0 : weights.taint_toleration * untolerated / (untolerated + 1.0);
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
  // Devices split over islands (NVLink, clique, PCIe root) talk slower: each extra island costs.
  if (auto it = allocations_.find(node); it != allocations_.end() && it->second.islands > 1) {
    penalty += weights_.device_islands * (it->second.islands - 1);
  }
  return penalty + taint_penalty(pod_, n, weights_);
}

}  // namespace fairway
