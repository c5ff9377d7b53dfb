#pragma once
// The fabric level tree of one Topology: every node sits in one domain per level (spine, rack,
// NVL72 clique, ...), domains nest, and each domain is a contiguous range of one node order, so
// "the nodes of rack r-12" is a slice, not a search.
//
// Built once per node-set or Topology change (O(nodes × levels)); the scheduling cycle keeps the
// free GPUs per domain in a FabricCapacity beside it and updates that in O(levels) per placement.
//
// A domain is identified by its parent and its label value, so rack "1" under spine "a" and rack
// "1" under spine "b" are different racks. A node without a level's label goes to the "unknown"
// domain of that level under its parent: it is never dropped, but an unknown domain is not a real
// rack, so it never satisfies a required level (see docs/topology.md).

#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "queues/flat_map.h"
#include "topology/topology_spec.h"

namespace fairway {

// Same type as the cluster model's Labels (scheduler/state/model.h).
using LabelMap = FlatMap<std::string, std::string>;

using DomainId = uint32_t;
inline constexpr DomainId kNoDomain = std::numeric_limits<DomainId>::max();

struct FabricDomain {
  std::string value;               // the label value; empty for the unknown domain
  bool unknown = false;            // nodes missing this level's label
  DomainId parent = kNoDomain;     // in the level above; kNoDomain at the top level
  std::vector<DomainId> children;  // in the level below
  uint32_t first = 0;              // [first, first + count) in FabricTree::node_order()
  uint32_t count = 0;
};

class FabricTree {
 public:
  FabricTree() = default;

  // nodes[i] is the labels of node slot i, or nullptr for a slot without a present node.
  static FabricTree build(const TopologySpec& spec, std::span<const LabelMap* const> nodes);

  const TopologySpec& spec() const { return spec_; }
  size_t levels() const { return levels_.size(); }
  size_t node_slots() const { return node_slots_; }
  const std::vector<FabricDomain>& domains(size_t level) const { return levels_[level]; }
  const FabricDomain& domain(size_t level, DomainId id) const { return levels_[level][id]; }
  // The node's domain at a level; kNoDomain for slots without a present node.
  DomainId domain_of(size_t level, uint32_t node) const {
    return node < node_slots_ ? domain_of_[level * node_slots_ + node] : kNoDomain;
  }
  // Present nodes, grouped so every domain of every level is one contiguous range.
  const std::vector<uint32_t>& node_order() const { return order_; }
  std::span<const uint32_t> nodes_in(size_t level, DomainId id) const {
    const FabricDomain& d = levels_[level][id];
    return {order_.data() + d.first, d.count};
  }
  // Level index of a node label key, or of its last path segment ("rack" for
  // "example.com/rack") when that is unambiguous.
  std::optional<size_t> level_index(std::string_view label) const;
  // Every domain of the level holds one node (e.g. kubernetes.io/hostname).
  bool one_node_per_domain(size_t level) const {
    return levels_[level].size() == order_.size() && !order_.empty();
  }
  // Short level name for messages: the label key's last path segment.
  std::string level_name(size_t level) const;
  // "r-12", or "(unlabelled)" for the unknown domain.
  std::string domain_name(size_t level, DomainId id) const;
  // Bandwidth between two nodes whose deepest shared domain is at `level`: the level's own
  // bandwidth, else the nearest level above that has one (a smaller domain is never slower than
  // the one containing it, so this is a lower bound).
  std::optional<double> bandwidth_at(size_t level) const;

 private:
  TopologySpec spec_;
  size_t node_slots_ = 0;
  std::vector<std::vector<FabricDomain>> levels_;
  std::vector<DomainId> domain_of_;  // level-major: [level * node_slots_ + node]
  std::vector<uint32_t> order_;
};

// Free and total whole GPUs per domain of one FabricTree, for one scheduling cycle. The cycle
// starts it from its ledger and calls adjust() on every take/give, so domain checks are O(1)
// and updates O(levels).
class FabricCapacity {
 public:
  FabricCapacity(const FabricTree& tree, std::span<const int64_t> free_gpus,
                 std::span<const int64_t> total_gpus);

  int64_t free(size_t level, DomainId id) const { return free_[level][id]; }
  int64_t total(size_t level, DomainId id) const { return total_[level][id]; }
  // The largest total of any domain of a level: a gang needing more skips the level at once.
  int64_t max_total(size_t level) const { return max_total_[level]; }
  // An upper bound of the free GPUs of any one node inside the domain: exact at construction,
  // raised when GPUs are given back, left as is when they are taken (a bound stays a bound).
  // A search for one node that holds a whole gang skips domains below the demand.
  int64_t max_node_free(size_t level, DomainId id) const { return max_node_free_[level][id]; }
  void adjust(uint32_t node, int64_t delta_gpus);

 private:
  const FabricTree* tree_;
  std::vector<std::vector<int64_t>> free_;
  std::vector<std::vector<int64_t>> total_;
  std::vector<int64_t> max_total_;
  std::vector<std::vector<int64_t>> max_node_free_;
  std::vector<int64_t> node_free_;
};

}  // namespace fairway
