#include "scheduler/cycle/device_ledger.h"

#include <algorithm>

#include "scheduler/state/node_filters.h"

namespace fairway {
namespace {

// The value of the attribute `name` of any domain ("gpu.nvidia.com/cliqueId" for "cliqueId").
const dra::AttributeValue* attribute_named(const dra::Device& device, std::string_view name) {
  for (const auto& [qualified, value] : device.attributes) {
    const size_t slash = qualified.rfind('/');
    if (slash != std::string::npos && std::string_view(qualified).substr(slash + 1) == name) {
      return &value;
    }
  }
  return nullptr;
}

std::optional<std::string> text_of(const dra::AttributeValue* value) {
  if (value == nullptr) return std::nullopt;
  if (const auto* s = std::get_if<std::string>(value)) return *s;
  if (const auto* i = std::get_if<int64_t>(value)) return std::to_string(*i);
  return std::nullopt;
}

// The GPU's NVLink island on its node's link graph, when both are known.
std::optional<std::string> link_graph_island(const ClusterState& state,
                                             const dra::CandidateDevice& device) {
  if (device.slice->node_name.empty()) return std::nullopt;
  const dra::AttributeValue* index = attribute_named(*device.device, "index");
  if (index == nullptr) index = attribute_named(*device.device, "minor");
  const auto* gpu = index != nullptr ? std::get_if<int64_t>(index) : nullptr;
  const NodeRecord* node = state.find_node(device.slice->node_name);
  if (gpu == nullptr || node == nullptr) return std::nullopt;
  const auto& graph = node->gpu_graph;
  if (graph == nullptr || *gpu < 0 || *gpu >= graph->gpu_count()) return std::nullopt;
  return device.slice->node_name + "/nvlink-" +
         std::to_string(graph->island_of(static_cast<int>(*gpu)));
}

}  // namespace

std::optional<std::string> device_island(const ClusterState& state,
                                         const dra::CandidateDevice& device) {
  if (auto island = link_graph_island(state, device)) return island;
  if (auto clique = text_of(attribute_named(*device.device, "cliqueId"))) {
    return "clique/" + *clique;
  }
  auto root = device.device->attributes.find("resource.kubernetes.io/pcieRoot");
  if (root != device.device->attributes.end()) {
    if (auto text = text_of(&root->second)) return device.slice->node_name + "/pcie/" + *text;
  }
  return std::nullopt;
}

void DeviceLedger::prepare() {
  if (allocator_) return;
  const dra::DraState& dra = state_.dra();
  allocated_.emplace(dra.allocated());
  if (evicted_ != nullptr && !evicted_->empty()) release_evicted();
  dra::AllocatorOptions options;
  options.island_of = [this](const dra::CandidateDevice& device) {
    return device_island(state_, device);
  };
  allocator_.emplace(dra.pools(), dra.classes(), *allocated_, dra.cel(), std::move(options));
}

void DeviceLedger::release_evicted() {
  for (const auto& [key, claim] : state_.dra().claims()) {
    if (!claim.allocation || claim.reserved_for.empty()) continue;
    const bool only_evicted =
        std::all_of(claim.reserved_for.begin(), claim.reserved_for.end(),
                    [&](const dra::ConsumerReference& c) { return evicted_->contains(c.uid); });
    if (!only_evicted) continue;
    for (const auto& result : claim.allocation->devices) {
      allocated_->erase({result.driver, result.pool, result.device});
    }
  }
}

tl::expected<std::vector<const dra::ResourceClaim*>, dra::ClaimLookupFailure>
DeviceLedger::claims_of(const Pod& pod) const {
  auto claims = state_.dra().claims_of(pod);
  if (!claims || tentative_.empty()) return claims;
  for (const dra::ResourceClaim*& claim : *claims) {
    auto it = tentative_.find(claim->namespace_ + "/" + claim->name);
    if (it != tentative_.end()) claim = &it->second.claim;
  }
  return claims;
}

tl::expected<dra::PodAllocation, dra::AllocationFailure> DeviceLedger::allocate(
    NodeId node, const Pod& pod, const std::vector<const dra::ResourceClaim*>& claims) {
  prepare();
  const Node& target = state_.nodes()[node].node;
  const auto selects = [&target](const std::vector<NodeSelectorTerm>& terms) {
    return std::any_of(terms.begin(), terms.end(), [&](const NodeSelectorTerm& term) {
      return matches_node_selector_term(term, target);
    });
  };
  return allocator_->allocate(target.name, selects, claims, pod.uid);
}

std::vector<dra::ClaimAllocation> DeviceLedger::decisions(
    const std::vector<const dra::ResourceClaim*>& claims, const dra::PodAllocation& allocation) {
  std::vector<dra::ClaimAllocation> out;
  out.reserve(claims.size());
  for (size_t i = 0; i < claims.size(); ++i) {
    const dra::ResourceClaim& claim = *claims[i];
    out.push_back(dra::ClaimAllocation{claim.namespace_, claim.name, claim.uid,
                                       allocation.results[i],
                                       static_cast<bool>(allocation.newly_allocated[i])});
  }
  return out;
}

void DeviceLedger::take(const Pod& pod, const std::vector<dra::ClaimAllocation>& claims) {
  prepare();
  for (const dra::ClaimAllocation& decided : claims) {
    auto it = tentative_.find(decided.key());
    if (it == tentative_.end()) {
      const dra::ResourceClaim* claim = state_.dra().find_claim(decided.key());
      if (claim == nullptr) continue;
      it = tentative_.emplace(decided.key(), Tentative{*claim, 0}).first;
    }
    Tentative& tentative = it->second;
    ++tentative.placements;
    if (decided.newly_allocated) {
      tentative.claim.allocation = decided.allocation;
      for (const auto& result : decided.allocation.devices) {
        if (!result.admin_access) allocated_->insert({result.driver, result.pool, result.device});
      }
    }
    tentative.claim.reserved_for.push_back({"", "pods", pod.name, pod.uid});
  }
}

void DeviceLedger::give(const Pod& pod, const std::vector<dra::ClaimAllocation>& claims) {
  for (const dra::ClaimAllocation& decided : claims) {
    auto it = tentative_.find(decided.key());
    if (it == tentative_.end()) continue;
    Tentative& tentative = it->second;
    auto& reserved = tentative.claim.reserved_for;
    reserved.erase(
        std::remove_if(reserved.begin(), reserved.end(),
                       [&](const dra::ConsumerReference& c) { return c.uid == pod.uid; }),
        reserved.end());
    if (decided.newly_allocated) {
      tentative.claim.allocation.reset();
      for (const auto& result : decided.allocation.devices) {
        allocated_->erase({result.driver, result.pool, result.device});
      }
    }
    if (--tentative.placements == 0) tentative_.erase(it);
  }
}

}  // namespace fairway
