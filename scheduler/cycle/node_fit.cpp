// Filter and score: the nodes one pod may go to (resources, node filters, inter-pod and volume
// checks), scored for bin-pack or spread, visited by free-GPU bucket, NVLink islands first.
#include <fmt/format.h>

#include <algorithm>
#include <bit>
#include <limits>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "scheduler/cycle/cycle_runner.h"
#include "scheduler/state/node_filters.h"

namespace fairway::cycle_internal {

namespace {

// Hash of everything that decides where a pod can go, so that within a cycle (where free
// capacity only shrinks) a pod shaped like one that already found no node is not searched again.
uint64_t placement_signature(const PodRecord& record) {
  uint64_t hash = 1469598103934665603ULL;
  auto mix = [&hash](uint64_t value) { hash = (hash ^ value) * 1099511628211ULL; };
  auto mix_text = [&mix](const std::string& text) { mix(std::hash<std::string>{}(text)); };
  for (size_t i = 0; i < record.requests.size(); ++i) {
    mix(static_cast<uint64_t>(record.requests[static_cast<ResourceId>(i)]));
  }
  const Pod& pod = record.pod;
  for (const auto& [key, value] : pod.node_selector) {
    mix_text(key);
    mix_text(value);
  }
  for (const auto& term : pod.required_node_affinity) {
    mix(0xA5);
    for (const auto* list : {&term.match_expressions, &term.match_fields}) {
      mix(0x5A);
      for (const auto& requirement : *list) {
        mix_text(requirement.key);
        mix(static_cast<uint64_t>(requirement.op));
        for (const auto& value : requirement.values) mix_text(value);
      }
    }
  }
  for (const auto& toleration : pod.tolerations) {
    mix_text(toleration.key);
    mix_text(toleration.value);
    mix(static_cast<uint64_t>(toleration.op));
    mix(toleration.effect ? static_cast<uint64_t>(*toleration.effect) + 1 : 0);
  }
  for (const HostPort& port : pod.host_ports) {
    mix(static_cast<uint64_t>(port.port));
    mix_text(port.protocol);
    mix_text(port.host_ip);
  }
  return hash;
}

}  // namespace

// Lower is better. Bin-pack keeps nodes full (least free CPU and memory left after placing);
// spread does the opposite. GPU order is already decided by the bucket walk.
std::optional<double> CycleRunner::fit_score(const PodRecord& pod, const ResourceVector& requests,
                                             NodeId node) {
  ++result_.stats.nodes_evaluated;
  const ResourceVector& free = ledger_.free(node);
  if (!requests.fits_in(free)) return std::nullopt;
  const NodeRecord& record = state_.nodes()[node];
  // A share of GPU memory needs a node whose GPUs are known to have that much.
  if (pod.intent.gpu_fraction && pod.intent.gpu_fraction->memory_mib &&
      record.gpu_memory_mib < *pod.intent.gpu_fraction->memory_mib) {
    return std::nullopt;
  }
  if (!filter_node(pod.pod, record.node).fits()) return std::nullopt;
  PodConstraints* constraints = constraints_for(id_of(pod));
  if (constraints != nullptr && constraints->filter(node) != ConstraintCode::kFits) {
    return std::nullopt;
  }
  double left = 0;
  for (ResourceId r : {kCpu, kMemory}) {
    const int64_t allocatable = record.allocatable[r];
    if (allocatable > 0) {
      left += static_cast<double>(free[r] - requests[r]) / static_cast<double>(allocatable);
    }
  }
  const double preference = constraints != nullptr
                                ? constraints->score(node)
                                : taint_penalty(pod.pod, record.node, options_.score_weights);
  return (options_.strategy == ScoringStrategy::kBinPack ? left : -left) + preference;
}

uint64_t CycleRunner::failure_shape(const PodRecord& record) const {
  // A pod with claims says its volume or device problem first: its message is its own.
  if (!record.pod.volume_claims.empty() || !record.pod.resource_claims.empty()) return 0;
  const uint64_t shape = placement_signature(record);
  return shape == 0 ? 1 : shape;
}

PodConstraints* CycleRunner::constraints_for(PodId pod) {
  if (!carries_constraints(state_.pods()[pod].pod) && state_.placed().affinity_groups().empty() &&
      !tentative_.has_affinity()) {
    return nullptr;
  }
  if (!constraints_ || constraints_pod_ != pod || constraints_version_ != tentative_version_) {
    constraints_.reset();
    constraints_.emplace(state_, pod, tentative_, taken_volumes_, devices_, spread_nodes_,
                         options_.score_weights);
    constraints_pod_ = pod;
    constraints_version_ = tentative_version_;
  }
  return &*constraints_;
}

std::optional<NodeId> CycleRunner::choose_node(const PodRecord& pod, const Scope& scope,
                                               const ResourceVector& requests) {
  const int64_t gpus = (requests[kGpu] + 999) / 1000;
  const bool spread = options_.strategy == ScoringStrategy::kSpread;
  // Multi-GPU pods prefer nodes where one NVLink island holds them: class 0 fits an island,
  // 1 is a node of unknown layout, 2 a node that would split the pod over PCIe.
  const bool islands = gpus >= 2 && islands_matter_;
  auto in_scope = [&scope](NodeId node) {
    return scope.tree == nullptr ||
           scope.tree->domain_of(static_cast<size_t>(scope.level), node) == scope.domain;
  };

  if (scope.tree != nullptr &&
      scope.tree->domain(static_cast<size_t>(scope.level), scope.domain).count <=
          kDirectScanNodes) {
    // A small domain: score every node of it, in the same order the bucket walk would use.
    std::optional<NodeId> best;
    std::tuple<int, int64_t, double> best_key;
    for (NodeId node : scope.tree->nodes_in(static_cast<size_t>(scope.level), scope.domain)) {
      if (!state_.nodes()[node].schedulable()) continue;
      const auto score = fit_score(pod, requests, node);
      if (!score) continue;
      const int64_t free = whole_gpus(ledger_.free(node));
      int64_t order = spread ? -free : free;
      if (gpus == 0) order = (state_.nodes()[node].allocatable[kGpu] > 0 ? 1'000'000 : 0) + free;
      const std::tuple<int, int64_t, double> key{islands ? island_class(node, gpus) : 0, order,
                                                 *score};
      if (!best || key < best_key) {
        best = node;
        best_key = key;
      }
    }
    return best;
  }

  struct Best {
    std::optional<NodeId> node;
    int island = 3;
    double score = 0;
  };
  // Preferences (affinity, spread, taints) can only pick the best node if every node is seen.
  const PodConstraints* constraints = constraints_for(id_of(pod));
  const uint32_t enough = constraints != nullptr && constraints->has_preferences()
                              ? std::numeric_limits<uint32_t>::max()
                              : std::max<uint32_t>(options_.feasible_nodes_to_score, 1);
  auto best_in = [&](const std::vector<NodeId>& group, size_t start) {
    Best best;
    uint32_t feasible = 0;
    const size_t n = group.size();
    for (size_t k = 0; k < n && feasible < enough; ++k) {
      const NodeId node = group[(start + k) % n];
      if (!in_scope(node)) continue;
      const auto score = fit_score(pod, requests, node);
      if (!score) continue;
      ++feasible;
      const int island = islands ? island_class(node, gpus) : 0;
      if (!best.node || island < best.island || (island == best.island && *score < best.score)) {
        best = {node, island, *score};
      }
    }
    return best;
  };

  const int top = ledger_.max_free_gpus();
  if (gpus > 0) {
    if (gpus > top) return std::nullopt;
    // Bin-pack walks from the fullest node that can still hold the pod; spread from the emptiest.
    // A node that keeps the pod inside one NVLink island wins over a tighter one that does not.
    Best fallback;
    for (int k = 0; k <= top - gpus; ++k) {
      const int bucket = spread ? top - k : static_cast<int>(gpus) + k;
      const Best best = best_in(ledger_.bucket(bucket), 0);
      if (!best.node) continue;
      if (best.island == 0) return best.node;
      if (best.island < fallback.island) fallback = best;
    }
    return fallback.node;
  }
  // Pods without GPUs go to nodes without GPUs first, so GPU nodes keep their CPU for GPU pods;
  // the start rotates so full nodes at the front are not scanned by every pod.
  const auto& cpu_nodes = ledger_.cpu_nodes();
  if (!cpu_nodes.empty()) {
    if (auto best = best_in(cpu_nodes, cpu_cursor_ % cpu_nodes.size()).node) {
      cpu_cursor_ = (cpu_cursor_ + 1) % cpu_nodes.size();
      return best;
    }
  }
  for (int k = 0; k <= top; ++k) {
    if (auto best = best_in(ledger_.bucket(k), 0).node) return best;
  }
  return std::nullopt;
}

}  // namespace fairway::cycle_internal
