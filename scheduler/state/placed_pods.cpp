#include "scheduler/state/placed_pods.h"

#include <algorithm>

#include "scheduler/state/pod_selectors.h"

namespace fairway {
namespace {

const std::vector<PodId> kNoPods;

void erase_one(std::vector<PodId>& pods, PodId id) {
  if (auto it = std::find(pods.begin(), pods.end(), id); it != pods.end()) {
    *it = pods.back();
    pods.pop_back();
  }
}

// A label pair every pod the term selects must carry, for the anti-affinity index: the first
// matchLabels pair, else the first single-value In expression. Empty: none.
std::pair<std::string, std::string> required_pair(const PodAffinityTerm& term) {
  if (!term.label_selector) return {};
  if (!term.label_selector->match_labels.empty()) {
    const auto& [key, value] = *term.label_selector->match_labels.begin();
    return {key, value};
  }
  for (const LabelSelectorRequirement& requirement : term.label_selector->match_expressions) {
    if (requirement.op == LabelSelectorRequirement::Operator::kIn &&
        requirement.values.size() == 1) {
      return {requirement.key, requirement.values.front()};
    }
  }
  return {};
}

bool scores(const PodAffinity& affinity) {
  return !affinity.preferred_affinity.empty() || !affinity.preferred_anti_affinity.empty() ||
         !affinity.required_affinity.empty();
}

}  // namespace

std::string PlacedPods::pair_key(std::string_view key, std::string_view value) {
  std::string out;
  out.reserve(key.size() + value.size() + 1);
  out.append(key).append(1, '\0').append(value);
  return out;
}

void PlacedPods::add(PodId id, const Pod& pod, NodeId node) {
  if (on_node_.size() <= node) on_node_.resize(node + 1);
  on_node_[node].push_back(id);
  for (const auto& [key, value] : pod.labels) by_label_[pair_key(key, value)].insert(id);
  if (pod.affinity.empty()) return;
  PodAffinity affinity = effective_affinity(pod);
  auto [it, fresh] = groups_.try_emplace(affinity_signature(pod.namespace_, affinity));
  AffinityGroup& group = it->second;
  if (fresh) {
    group.namespace_ = pod.namespace_;
    group.affinity = std::move(affinity);
    if (!group.affinity.required_anti_affinity.empty()) index_anti_affinity(&group, true);
    if (scores(group.affinity)) scoring_.push_back(&group);
  }
  ++group.nodes[node];
  ++group.pods;
}

void PlacedPods::remove(PodId id, const Pod& pod, NodeId node) {
  if (node < on_node_.size()) erase_one(on_node_[node], id);
  for (const auto& [key, value] : pod.labels) {
    auto it = by_label_.find(pair_key(key, value));
    if (it == by_label_.end()) continue;
    it->second.erase(id);
    if (it->second.empty()) by_label_.erase(it);
  }
  if (pod.affinity.empty()) return;
  auto it = groups_.find(affinity_signature(pod.namespace_, effective_affinity(pod)));
  if (it == groups_.end()) return;
  AffinityGroup& group = it->second;
  if (auto on = group.nodes.find(node); on != group.nodes.end() && --on->second == 0) {
    group.nodes.erase(on);
  }
  if (--group.pods > 0) return;
  if (!group.affinity.required_anti_affinity.empty()) index_anti_affinity(&group, false);
  if (scores(group.affinity)) std::erase(scoring_, &group);
  groups_.erase(it);
}

const std::vector<PodId>& PlacedPods::on_node(NodeId node) const {
  return node < on_node_.size() ? on_node_[node] : kNoPods;
}

const std::unordered_set<PodId>* PlacedPods::shortest_list(const LabelSelector& selector) const {
  static const std::unordered_set<PodId> kEmpty;
  const std::unordered_set<PodId>* best = nullptr;
  auto consider = [&](std::string_view key, std::string_view value) {
    auto it = by_label_.find(pair_key(key, value));
    const std::unordered_set<PodId>* list = it == by_label_.end() ? &kEmpty : &it->second;
    if (best == nullptr || list->size() < best->size()) best = list;
  };
  for (const auto& [key, value] : selector.match_labels) consider(key, value);
  for (const LabelSelectorRequirement& requirement : selector.match_expressions) {
    if (requirement.op == LabelSelectorRequirement::Operator::kIn &&
        requirement.values.size() == 1) {
      consider(requirement.key, requirement.values.front());
    }
  }
  return best;
}

void PlacedPods::index_anti_affinity(const AffinityGroup* group, bool add) {
  auto update = [&](std::vector<const AffinityGroup*>& list) {
    if (add) {
      list.push_back(group);
    } else if (auto it = std::find(list.begin(), list.end(), group); it != list.end()) {
      list.erase(it);
    }
  };
  for (const PodAffinityTerm& term : group->affinity.required_anti_affinity) {
    if (!term.label_selector) continue;  // selects no pod
    const auto [key, value] = required_pair(term);
    if (key.empty()) {
      update(anti_unindexed_);
      continue;
    }
    auto& list = anti_by_label_[pair_key(key, value)];
    update(list);
    if (list.empty()) anti_by_label_.erase(pair_key(key, value));
  }
}

}  // namespace fairway
