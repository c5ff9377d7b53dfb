#pragma once
// Pods charged to nodes (bound, assumed, or running there whatever their scheduler), indexed for
// the inter-pod checks (scheduler/cycle/pod_constraints.h), so that affinity, anti-affinity and
// topology spread cost the pods that match, not every pod, per scheduled pod:
//   - the pods of each node (host ports, and the fallback for selectors with no indexable pair);
//   - pods by label pair (key=value), the posting lists selectors start from;
//   - pods that carry affinity terms, grouped by identical effective terms and namespace, each
//     group counting its pods per node; groups with required anti-affinity are indexed by a label
//     pair their terms require, so an incoming pod visits only groups that may select it.
// Maintained by ClusterState::account in time proportional to the pod.

#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "scheduler/state/ids.h"
#include "scheduler/state/model.h"

namespace fairway {

class PlacedPods {
 public:
  struct AffinityGroup {
    std::string namespace_;
    PodAffinity affinity;                        // effective terms (pod_selectors.h)
    std::unordered_map<NodeId, uint32_t> nodes;  // the group's pods per node
    uint32_t pods = 0;
  };

  void add(PodId id, const Pod& pod, NodeId node);
  void remove(PodId id, const Pod& pod, NodeId node);

  const std::vector<PodId>& on_node(NodeId node) const;

  // Calls f(PodId) for a superset of the placed pods `selector` matches: the shortest posting
  // list of its matchLabels pairs and single-value In expressions, else every placed pod. The
  // caller checks the whole selector.
  template <typename F>
  void for_each_candidate(const LabelSelector& selector, F&& f) const {
    if (const std::unordered_set<PodId>* list = shortest_list(selector)) {
      for (PodId id : *list) f(id);
      return;
    }
    for (const std::vector<PodId>& pods : on_node_) {
      for (PodId id : pods) f(id);
    }
  }

  const std::unordered_map<std::string, AffinityGroup>& affinity_groups() const { return groups_; }
  // Groups with terms that score other pods (preferred terms, required affinity).
  const std::vector<const AffinityGroup*>& scoring_groups() const { return scoring_; }

  // Calls f(const AffinityGroup&) for every group with required anti-affinity whose terms may
  // select a pod with `labels` (a group may be visited more than once).
  template <typename F>
  void for_each_anti_affinity_group(const Labels& labels, F&& f) const {
    for (const AffinityGroup* group : anti_unindexed_) f(*group);
    if (anti_by_label_.empty()) return;
    std::string pair;
    for (const auto& [key, value] : labels) {
      pair.assign(key).append(1, '\0').append(value);
      if (auto it = anti_by_label_.find(pair); it != anti_by_label_.end()) {
        for (const AffinityGroup* group : it->second) f(*group);
      }
    }
  }

 private:
  static std::string pair_key(std::string_view key, std::string_view value);
  const std::unordered_set<PodId>* shortest_list(const LabelSelector& selector) const;
  void index_anti_affinity(const AffinityGroup* group, bool add);

  std::vector<std::vector<PodId>> on_node_;
  std::unordered_map<std::string, std::unordered_set<PodId>> by_label_;
  std::unordered_map<std::string, AffinityGroup> groups_;
  std::unordered_map<std::string, std::vector<const AffinityGroup*>> anti_by_label_;
  std::vector<const AffinityGroup*> anti_unindexed_;
  std::vector<const AffinityGroup*> scoring_;
};

}  // namespace fairway
