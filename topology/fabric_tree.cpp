#include "topology/fabric_tree.h"

#include <algorithm>
#include <cstring>
#include <unordered_map>

namespace fairway {
namespace {

// Hash-map key of a domain: its parent's id (4 raw bytes) followed by the label value, with a
// marker byte that keeps the unknown domain apart from a label whose value is empty.
std::string domain_key(DomainId parent, const std::string* value) {
  std::string key(sizeof(DomainId) + 1, '\0');
  std::memcpy(key.data(), &parent, sizeof(DomainId));
  if (value != nullptr) {
    key[sizeof(DomainId)] = 'v';
    key += *value;
  }
  return key;
}

std::string_view last_segment(std::string_view label) {
  const auto slash = label.rfind('/');
  return slash == std::string_view::npos ? label : label.substr(slash + 1);
}

}  // namespace

FabricTree FabricTree::build(const TopologySpec& spec, std::span<const LabelMap* const> nodes) {
  FabricTree tree;
  tree.spec_ = spec;
  tree.node_slots_ = nodes.size();
  const size_t levels = spec.levels.size();
  tree.levels_.resize(levels);
  tree.domain_of_.assign(levels * nodes.size(), kNoDomain);

  std::vector<std::unordered_map<std::string, DomainId>> index(levels);
  for (uint32_t node = 0; node < nodes.size(); ++node) {
    const LabelMap* labels = nodes[node];
    if (labels == nullptr) continue;
    tree.order_.push_back(node);
    DomainId parent = kNoDomain;
    for (size_t level = 0; level < levels; ++level) {
      const auto it = labels->find(spec.levels[level].node_label);
      const std::string* value = it == labels->end() ? nullptr : &it->second;
      auto [slot, inserted] = index[level].try_emplace(domain_key(parent, value), 0);
      auto& domains = tree.levels_[level];
      if (inserted) {
        slot->second = static_cast<DomainId>(domains.size());
        FabricDomain domain;
        domain.value = value == nullptr ? std::string() : *value;
        domain.unknown = value == nullptr;
        domain.parent = parent;
        domains.push_back(std::move(domain));
        if (parent != kNoDomain) tree.levels_[level - 1][parent].children.push_back(slot->second);
      }
      tree.domain_of_[level * nodes.size() + node] = slot->second;
      parent = slot->second;
    }
  }

  // Lexicographic order of the domain path makes every domain of every level contiguous.
  const size_t slots = nodes.size();
  const DomainId* of = tree.domain_of_.data();
  std::sort(tree.order_.begin(), tree.order_.end(), [of, levels, slots](uint32_t a, uint32_t b) {
    for (size_t level = 0; level < levels; ++level) {
      const DomainId da = of[level * slots + a];
      const DomainId db = of[level * slots + b];
      if (da != db) return da < db;
    }
    return a < b;
  });
  for (size_t level = 0; level < levels; ++level) {
    auto& domains = tree.levels_[level];
    for (uint32_t pos = 0; pos < tree.order_.size(); ++pos) {
      FabricDomain& domain = domains[of[level * slots + tree.order_[pos]]];
      if (domain.count == 0) domain.first = pos;
      ++domain.count;
    }
  }
  return tree;
}

std::optional<size_t> FabricTree::level_index(std::string_view label) const {
  for (size_t level = 0; level < spec_.levels.size(); ++level) {
    if (spec_.levels[level].node_label == label) return level;
  }
  std::optional<size_t> found;
  for (size_t level = 0; level < spec_.levels.size(); ++level) {
    if (last_segment(spec_.levels[level].node_label) == label) {
      if (found) return std::nullopt;  // ambiguous short name
      found = level;
    }
  }
  return found;
}

std::string FabricTree::level_name(size_t level) const {
  return std::string(last_segment(spec_.levels[level].node_label));
}

std::string FabricTree::domain_name(size_t level, DomainId id) const {
  const FabricDomain& domain = levels_[level][id];
  return domain.unknown ? std::string("(unlabelled)") : domain.value;
}

std::optional<double> FabricTree::bandwidth_at(size_t level) const {
  for (size_t l = level + 1; l-- > 0;) {
    if (spec_.levels[l].bandwidth_gbps) return spec_.levels[l].bandwidth_gbps;
  }
  return std::nullopt;
}

FabricCapacity::FabricCapacity(const FabricTree& tree, std::span<const int64_t> free_gpus,
                               std::span<const int64_t> total_gpus)
    : tree_(&tree), free_(tree.levels()), total_(tree.levels()) {
  max_node_free_.resize(tree.levels());
  for (size_t level = 0; level < tree.levels(); ++level) {
    free_[level].assign(tree.domains(level).size(), 0);
    total_[level].assign(tree.domains(level).size(), 0);
    max_node_free_[level].assign(tree.domains(level).size(), 0);
  }
  node_free_.assign(tree.node_slots(), 0);
  for (uint32_t node : tree.node_order()) {
    const int64_t free = node < free_gpus.size() ? free_gpus[node] : 0;
    const int64_t total = node < total_gpus.size() ? total_gpus[node] : 0;
    node_free_[node] = free;
    for (size_t level = 0; level < tree.levels(); ++level) {
      const DomainId id = tree.domain_of(level, node);
      free_[level][id] += free;
      total_[level][id] += total;
      max_node_free_[level][id] = std::max(max_node_free_[level][id], free);
    }
  }
  max_total_.assign(tree.levels(), 0);
  for (size_t level = 0; level < tree.levels(); ++level) {
    for (int64_t total : total_[level]) max_total_[level] = std::max(max_total_[level], total);
  }
}

void FabricCapacity::adjust(uint32_t node, int64_t delta_gpus) {
  if (delta_gpus == 0 || node >= node_free_.size()) return;
  node_free_[node] += delta_gpus;
  for (size_t level = 0; level < free_.size(); ++level) {
    const DomainId id = tree_->domain_of(level, node);
    if (id == kNoDomain) continue;
    free_[level][id] += delta_gpus;
    if (delta_gpus > 0) {
      max_node_free_[level][id] = std::max(max_node_free_[level][id], node_free_[node]);
    }
  }
}

}  // namespace fairway
