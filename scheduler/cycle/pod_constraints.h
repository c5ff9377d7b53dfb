#pragma once
// The inter-pod and storage checks of one pod, as kube-scheduler's plugins make them, against
// the pods already placed (ClusterState::placed()) plus the placements the cycle made so far
// (a gang's earlier members, earlier jobs of the cycle):
//   - NodePorts: a host port (protocol, port, host IP) free on the node;
//   - InterPodAffinity: required affinity and anti-affinity of the pod, the required
//     anti-affinity of existing pods against it (symmetry), preferred terms of both as a score;
//   - PodTopologySpread: DoNotSchedule as a filter (maxSkew, minDomains, nodeAffinityPolicy,
//     nodeTaintsPolicy, matchLabelKeys), ScheduleAnyway as a score;
//   - node preferences: preferred node affinity and PreferNoSchedule taints as scores;
//   - volumes (scheduler/state/volume_binding.h);
//   - DynamicResources: the pod's ResourceClaims allocated on the node (device_ledger.h), and
//     as a score the number of islands the new devices span.
// Built once per pod and placement state (kube-scheduler's PreFilter: counts per topology
// domain from the label index), then asked per node (Filter, Score) in O(terms + domains).
// docs/scheduling.md lists the rules, the messages and the score weights.

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "scheduler/cycle/device_ledger.h"
#include "scheduler/state/cluster_state.h"
#include "scheduler/state/volume_binding.h"

namespace fairway {

// kube-scheduler's words.
inline constexpr std::string_view kReasonPorts =
    "node(s) didn't have free ports for the requested pod ports";
inline constexpr std::string_view kReasonAffinity = "node(s) didn't match pod affinity rules";
inline constexpr std::string_view kReasonAntiAffinity =
    "node(s) didn't match pod anti-affinity rules";
inline constexpr std::string_view kReasonExistingAntiAffinity =
    "node(s) didn't satisfy existing pods anti-affinity rules";
inline constexpr std::string_view kReasonSpread =
    "node(s) didn't match pod topology spread constraints";
inline constexpr std::string_view kReasonSpreadLabel =
    "node(s) didn't match pod topology spread constraints (missing required label)";

// How much each preference moves a node's score against the resource fit (which spans 0..2:
// the CPU and memory left after placing, as a fraction of allocatable). Each preference term is
// normalised to 0..1, so with the defaults a preference outweighs packing among nodes with the
// same free GPUs; GPU packing itself (the free-GPU bucket walk) always comes first.
struct ScoreWeights {
  double node_affinity = 2;     // preferred node affinity
  double pod_affinity = 2;      // preferred pod affinity and anti-affinity
  double topology_spread = 2;   // ScheduleAnyway constraints
  double taint_toleration = 3;  // PreferNoSchedule taints
  double device_islands = 4;    // per island beyond the first that a pod's new devices span
};

// The placements the cycle made and has not handed to the state yet, indexed as the state's
// placed pods are, so later pods' checks cost what their selectors match here too.
// Placed and tentative pods that one predicate selects, counted per value of a topology key
// (pods on nodes without the key are not counted).
struct DomainCounts {
  std::unordered_map<std::string, int64_t> by_domain;
  int64_t total = 0;
  int64_t at(const std::string& domain) const {
    const auto found = by_domain.find(domain);
    return found == by_domain.end() ? 0 : found->second;
  }
};

class TentativePods {
 public:
  using Matcher = std::function<bool(const Pod& pod, NodeId node)>;

  explicit TentativePods(const ClusterState& state) : state_(state) {}
  void add(PodId pod, NodeId node);
  void remove(PodId pod);
  // The index, brought up to date first: placements are indexed only once a pod with
  // constraints asks, so cycles without constraints pay a vector push per placement.
  const PlacedPods& pods() const;
  NodeId node_of(PodId pod) const;
  // Whether any tentative pod carries affinity terms (that may reject or score others).
  bool has_affinity() const { return with_affinity_ > 0; }
  // The pods (placed or tentative) `matches` selects, per value of `topology_key`: counted once
  // per cycle under `key` (what the predicate means), from the candidates of `walk`, then kept
  // current as placements come and go, so pods with the same terms pay nothing more.
  const DomainCounts& counts(const std::string& key, const LabelSelector& walk,
                             const std::string& topology_key, Matcher matches);

 private:
  const ClusterState& state_;
  mutable PlacedPods pods_;
  mutable std::vector<std::pair<PodId, NodeId>> unindexed_;
  mutable std::unordered_map<PodId, NodeId> indexed_;
  struct Memo {
    std::string topology_key;
    Matcher matches;
    DomainCounts counts;
  };
  void count(Memo& memo, const Pod& pod, NodeId node, int sign) const;
  std::unordered_map<std::string, Memo> memo_;
  int with_affinity_ = 0;
};

enum class ConstraintCode : uint8_t {
  kFits,
  kPorts,
  kAffinity,
  kAntiAffinity,
  kExistingAntiAffinity,
  kSpread,
  kSpreadLabel,
  kVolume,   // VolumeVerdict::reason says which
  kDevices,  // the allocator's message says why (scheduler/dra/allocator.h)
};

// Per-cycle memory of which nodes count for a spread constraint (node inclusion policies and
// required keys), shared by pods with the same node constraints.
class SpreadNodeCache {
 public:
  struct Nodes {
    std::vector<uint8_t> counted;      // per node: 1 when it counts
    std::vector<std::string> domains;  // the distinct topology values of those nodes
  };
  const Nodes& eligible(const ClusterState& state, const Pod& pod,
                        const TopologySpreadConstraint& constraint);

 private:
  std::unordered_map<std::string, Nodes> cache_;
};

// Whether the pod itself carries anything PodConstraints checks or scores (besides the
// PreferNoSchedule taints every pod is scored by).
bool carries_constraints(const Pod& pod);

// The PreferNoSchedule score of a node for a pod: weight × n ÷ (n + 1) for n untolerated taints.
double taint_penalty(const Pod& pod, const Node& node, const ScoreWeights& weights);

class PodConstraints {
 public:
  PodConstraints(const ClusterState& state, PodId pod, TentativePods& tentative,
                 const std::unordered_set<std::string>& taken_volumes, DeviceLedger& devices,
                 SpreadNodeCache& spread, const ScoreWeights& weights);

  // Anything to check per node? (false for most pods: then filter() always fits)
  bool active() const { return active_; }
  // A reason no node can fix (a volume claim missing, unbound, in use; a ResourceClaim not
  // created yet, missing or being deleted), as kube-scheduler's PreFilter rejects; nullopt
  // otherwise.
  const std::optional<std::string>& pod_failure() const { return pod_failure_; }
  // Whether any preference can tell nodes apart (then the cycle scores every feasible node).
  bool has_preferences() const { return has_preferences_; }

  ConstraintCode filter(NodeId node);
  // The reason text of the last kVolume or kDevices failure, or of a code.
  std::string reason(ConstraintCode code) const;
  // Preference penalty of a node, lower is better; 0 without preferences.
  double score(NodeId node) const;
  // The volume bindings to perform on `node` (call after filter() said it fits).
  std::vector<VolumeBinding> volume_bindings(NodeId node) const;
  // The claims to allocate and reserve on `node` (after filter() said it fits).
  std::vector<dra::ClaimAllocation> claim_allocations(NodeId node);

 private:
  struct Spread {
    const TopologySpreadConstraint* constraint;
    const DomainCounts* counts;  // matching pods per domain (matchLabelKeys merged)
    int64_t min_match = 0;
    int self_match = 0;
  };
  template <typename F>
  void for_each_placed(const LabelSelector& selector, F&& f) const;
  void prepare_affinity();
  void prepare_existing_anti_affinity();
  void prepare_preferred();
  void prepare_spread(SpreadNodeCache& cache);
  const Labels* namespace_labels(const Pod& pod) const;
  const std::string* label_of(NodeId node, const std::string& key) const;
  double spread_penalty(NodeId node) const;
  double pod_affinity_score(NodeId node) const;

  const ClusterState& state_;
  const Pod& pod_;
  PodId id_;
  TentativePods& tentative_;
  const std::unordered_set<std::string>& taken_volumes_;
  DeviceLedger& devices_;
  const ScoreWeights& weights_;
  bool active_ = false;
  bool has_preferences_ = false;
  std::optional<std::string> pod_failure_;
  ConstraintCode pod_failure_code_ = ConstraintCode::kVolume;
  std::string volume_reason_;
  std::vector<const dra::ResourceClaim*> claims_;  // the pod's ResourceClaims
  std::string device_reason_;
  std::unordered_map<NodeId, dra::PodAllocation> allocations_;  // by node, from filter()
  PodAffinity effective_;  // the pod's terms with matchLabelKeys resolved
  // Required terms of the pod: counts per (term, domain value).
  std::vector<const DomainCounts*> affinity_counts_;
  bool affinity_anywhere_ = false;
  std::vector<const DomainCounts*> anti_counts_;
  // Domains existing pods' required anti-affinity forbids: topology key → values.
  std::map<std::string, std::unordered_set<std::string>, std::less<>> forbidden_;
  // Preferred pod (anti-)affinity, both directions: (key, value) → summed weight.
  std::map<std::pair<std::string, std::string>, double> preferred_pairs_;
  double preferred_scale_ = 0;
  std::vector<Spread> hard_spread_;
  std::vector<Spread> soft_spread_;
  double node_affinity_total_ = 0;
};

}  // namespace fairway
