// A gang in the fabric (docs/topology.md): the Topology that applies, the smallest domain of the
// required level that holds it, the preferred level relaxed one level at a time, the fewest
// domains otherwise, and the message when no domain holds it.
#include <fmt/format.h>

#include <algorithm>
#include <bit>
#include <limits>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "scheduler/cycle/cycle_runner.h"

namespace fairway::cycle_internal {

bool CycleRunner::resolve_topology(const JobRecord& job, GangTopology* topo, std::string* error) {
  return resolve_topology(job.topology, topo, error);
}

bool CycleRunner::resolve_topology(const TopologyConstraint& wanted, GangTopology* topo,
                                   std::string* error) {
  const bool asks_level = !wanted.required_level.empty() || !wanted.preferred_level.empty();
  const TopologySpec* spec = state_.topology_for(wanted);
  if (spec == nullptr) {
    if (!wanted.topology.empty()) {
      *error = fmt::format("Topology \"{}\" does not exist", wanted.topology);
      return false;
    }
    if (asks_level) {
      *error = state_.topologies().empty()
                   ? std::string("the job asks for a topology level, but no Topology exists")
                   : fmt::format(
                         "the job asks for a topology level but names no Topology, and "
                         "{} exist: name one in topologyConstraint.topology (or "
                         "annotation {})",
                         state_.topologies().size(), kAnnotationTopology);
      return false;
    }
    return true;
  }
  const FabricTree* tree = state_.fabric(spec->name);
  if (tree == nullptr || tree->levels() == 0) return true;
  auto level_of = [&](const std::string& label, std::optional<size_t>* out) {
    if (label.empty()) return true;
    *out = tree->level_index(label);
    if (*out) return true;
    std::string levels;
    for (const TopologyLevel& level : spec->levels) {
      levels += (levels.empty() ? "" : ", ") + level.node_label;
    }
    *error =
        fmt::format("Topology \"{}\" has no level \"{}\" (levels: {})", spec->name, label, levels);
    return false;
  };
  if (!level_of(wanted.required_level, &topo->required) ||
      !level_of(wanted.preferred_level, &topo->preferred)) {
    return false;
  }
  // A preferred level at or above the required one is met by the requirement itself.
  if (topo->required && topo->preferred && *topo->preferred <= *topo->required) {
    topo->preferred.reset();
  }
  topo->spec = spec;
  topo->tree = tree;
  topo->capacity = capacity_for(spec->name, *tree);
  return true;
}

FabricCapacity* CycleRunner::capacity_for(const std::string& name, const FabricTree& tree) {
  auto it = capacities_.find(name);
  if (it != capacities_.end()) return it->second.get();
  const auto& nodes = state_.nodes();
  std::vector<int64_t> free(nodes.size(), 0);
  std::vector<int64_t> total(nodes.size(), 0);
  for (NodeId id = 0; id < nodes.size(); ++id) {
    if (!nodes[id].schedulable()) continue;
    free[id] = whole_gpus(ledger_.free(id));
    total[id] = whole_gpus(nodes[id].allocatable);
  }
  auto capacity = std::make_unique<FabricCapacity>(tree, free, total);
  FabricCapacity* raw = capacity.get();
  capacities_.emplace(name, std::move(capacity));
  active_capacities_.push_back(raw);
  return raw;
}

int64_t CycleRunner::gpu_demand(const std::vector<PodId>& pods) const {
  int64_t demand = 0;
  for (PodId pod : pods) demand += whole_gpus(state_.pods()[pod].requests);
  return demand;
}

// Required level: the smallest domain of that level that holds the gang (best fit), trying the
// next one when pods do not fit node by node; inside it, the preferred level as below.
// Otherwise: as deep as the preferred level (default: the lowest) allows, relaxing one level at a
// time, and at last spread over the fewest domains of the whole fabric.
bool CycleRunner::place_gang(const GangTopology& topo, const std::vector<PodId>& gang,
                             std::vector<Placed>& placed, std::string* why) {
  const FabricTree& tree = *topo.tree;
  const int lowest = static_cast<int>(tree.levels()) - 1;
  if (!topo.required) {
    const int prefer = topo.preferred ? static_cast<int>(*topo.preferred) : lowest;
    return place_within(topo, -1, kNoDomain, prefer, gang, placed, why);
  }
  const size_t level = *topo.required;
  const int64_t demand = gpu_demand(gang);
  const std::vector<DomainId> candidates =
      fitting_domains(topo, -1, kNoDomain, static_cast<int>(level), demand);
  const int prefer = topo.preferred ? static_cast<int>(*topo.preferred) : lowest;
  std::vector<DomainId> tried;
  std::string trial_failure;
  for (DomainId domain : candidates) {
    if (tried.size() == static_cast<size_t>(kMaxDomainTrials)) break;
    tried.push_back(domain);
    if (place_within(topo, static_cast<int>(level), domain, prefer, gang, placed,
                     tried.size() == 1 ? &trial_failure : nullptr)) {
      return true;
    }
  }
  *why = required_failure(topo, demand, gang.size(), tried, trial_failure);
  return false;
}

bool CycleRunner::place_within(const GangTopology& topo, int level, DomainId domain, int prefer,
                               const std::vector<PodId>& gang, std::vector<Placed>& placed,
                               std::string* why, std::string_view who) {
  const int64_t demand = gpu_demand(gang);
  const size_t keep = placed.size();
  for (int target = prefer; target > level; --target) {
    const std::vector<DomainId> candidates = fitting_domains(topo, level, domain, target, demand);
    int trials = 0;
    for (DomainId candidate : candidates) {
      if (trials++ == kMaxDomainTrials) break;
      ++result_.stats.topology_trials;
      if (fill(topo, target, candidate, gang, placed).empty()) return true;
      roll_back(placed, keep);
    }
  }
  // No single domain below holds it: spread over the fewest, closest domains.
  ++result_.stats.topology_trials;
  const std::vector<PodId> left = fill(topo, level, domain, gang, placed);
  if (left.empty()) return true;
  const size_t fit = placed.size() - keep;
  roll_back(placed, keep);
  if (why != nullptr) {
    const Scope scope{level < 0 ? nullptr : topo.tree, level, domain};
    const std::string reason = diagnose(state_.pods()[left.front()], scope);
    ++result_.stats.diagnoses;
    if (gang.size() > 1) {
      *why = fmt::format("{} needs {} more pods, {} fit: {}", who, gang.size(), fit, reason);
    } else {
      *why = who == "gang" ? reason : fmt::format("{}: {}", who, reason);
    }
  }
  return false;
}

// Domains of level `target` inside `domain` (of `level`; -1: the whole fabric) with at least
// `demand` free GPUs, smallest first. Subtrees without enough free GPUs are not entered.
std::vector<DomainId> CycleRunner::fitting_domains(const GangTopology& topo, int level,
                                                   DomainId domain, int target,
                                                   int64_t demand) const {
  const FabricTree& tree = *topo.tree;
  const FabricCapacity& capacity = *topo.capacity;
  if (demand > capacity.max_total(static_cast<size_t>(target))) return {};
  // Looking for one node that holds the gang: skip subtrees where no node can.
  const bool one_node = tree.one_node_per_domain(static_cast<size_t>(target));
  std::vector<std::pair<int64_t, DomainId>> found;
  size_t exact = 0;  // domains with exactly `demand` free: nothing fits better, stop at enough
  std::vector<std::pair<int, DomainId>> stack;
  auto push_children = [&](int at, DomainId id) {
    const auto next = static_cast<size_t>(at + 1);
    if (at < 0) {
      for (DomainId child = static_cast<DomainId>(tree.domains(0).size()); child-- > 0;) {
        stack.emplace_back(0, child);
      }
      return;
    }
    const auto& children = tree.domain(static_cast<size_t>(at), id).children;
    for (auto it = children.rbegin(); it != children.rend(); ++it) {
      stack.emplace_back(static_cast<int>(next), *it);
    }
  };
  push_children(level, domain);
  while (!stack.empty()) {
    const auto [at, id] = stack.back();
    stack.pop_back();
    const int64_t free = capacity.free(static_cast<size_t>(at), id);
    if (free < demand) continue;
    if (one_node && capacity.max_node_free(static_cast<size_t>(at), id) < demand) continue;
    if (at == target) {
      if (tree.domain(static_cast<size_t>(at), id).unknown) continue;
      found.emplace_back(free, id);
      if (free == demand && ++exact == static_cast<size_t>(kMaxDomainTrials)) break;
      continue;
    }
    push_children(at, id);
  }
  std::stable_sort(found.begin(), found.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<DomainId> out;
  out.reserve(found.size());
  for (const auto& [free, id] : found) out.push_back(id);
  return out;
}

// Places as many of `pods` (in order) as fit inside a domain, returning those left. In a domain
// of the lowest level, node by node; above, child by child: the smallest child that holds all
// that is left (best fit), else the child with the most free GPUs, so the gang uses few domains.
std::vector<PodId> CycleRunner::fill(const GangTopology& topo, int level, DomainId domain,
                                     std::vector<PodId> pods, std::vector<Placed>& placed) {
  const FabricTree& tree = *topo.tree;
  if (level == static_cast<int>(tree.levels()) - 1) {
    const Scope scope{&tree, level, domain};
    size_t done = 0;
    for (; done < pods.size(); ++done) {
      const auto node = choose_node(state_.pods()[pods[done]], scope);
      if (!node) break;
      Placed p{pods[done], *node, 0, {}, 0, {}, {}};
      take(p);
      placed.push_back(p);
    }
    pods.erase(pods.begin(), pods.begin() + static_cast<std::ptrdiff_t>(done));
    return pods;
  }
  int64_t smallest_pod = std::numeric_limits<int64_t>::max();
  for (PodId pod : pods) {
    smallest_pod = std::min(smallest_pod, whole_gpus(state_.pods()[pod].requests));
  }
  const auto child_level = static_cast<size_t>(level + 1);
  std::vector<std::pair<int64_t, DomainId>> children;
  auto consider = [&](DomainId child) {
    const int64_t free = topo.capacity->free(child_level, child);
    if (free >= smallest_pod) children.emplace_back(free, child);
  };
  if (level < 0) {
    for (DomainId child = 0; child < tree.domains(0).size(); ++child) consider(child);
  } else {
    for (DomainId child : tree.domain(static_cast<size_t>(level), domain).children) consider(child);
  }
  std::stable_sort(children.begin(), children.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  while (!pods.empty() && !children.empty()) {
    const int64_t demand = gpu_demand(pods);
    auto it = std::lower_bound(children.begin(), children.end(), demand,
                               [](const auto& child, int64_t want) { return child.first < want; });
    if (it == children.end()) it = std::prev(children.end());
    const DomainId child = it->second;
    children.erase(it);
    pods = fill(topo, static_cast<int>(child_level), child, std::move(pods), placed);
  }
  return pods;
}

std::string CycleRunner::required_failure(const GangTopology& topo, int64_t demand, size_t pods,
                                          const std::vector<DomainId>& tried,
                                          const std::string& trial_failure, std::string_view who,
                                          int within, DomainId domain) const {
  const FabricTree& tree = *topo.tree;
  const size_t level = *topo.required;
  const std::string name = tree.level_name(level);
  const std::string wants =
      demand > 0 ? fmt::format("{} GPUs", demand) : fmt::format("{} pods", pods);
  std::string message = fmt::format("{} needs {} in one {} (required level {}): ", who, wants, name,
                                    tree.spec().levels[level].node_label);
  if (!tried.empty()) {
    return message + fmt::format("{} {}: {} of {} GPUs free, but {}", name,
                                 tree.domain_name(level, tried.front()),
                                 topo.capacity->free(level, tried.front()), demand, trial_failure);
  }
  // The closest domains, most free first.
  std::vector<std::pair<int64_t, DomainId>> known;
  // Inside the domain searched (a subgroup's racks within its gang's spine), else all of them.
  auto inside = [&](DomainId id) {
    if (within < 0) return true;
    for (auto at = static_cast<int>(level); at > within; --at) {
      id = tree.domain(static_cast<size_t>(at), id).parent;
    }
    return id == domain;
  };
  for (DomainId id = 0; id < tree.domains(level).size(); ++id) {
    if (!tree.domain(level, id).unknown && inside(id)) {
      known.emplace_back(topo.capacity->free(level, id), id);
    }
  }
  if (known.empty()) {
    return message + fmt::format("no node has the label {}", tree.spec().levels[level].node_label);
  }
  std::stable_sort(known.begin(), known.end(),
                   [](const auto& a, const auto& b) { return a.first > b.first; });
  constexpr size_t kShown = 3;
  for (size_t k = 0; k < known.size() && k < kShown; ++k) {
    message += fmt::format("{}{} {}: {} of {} GPUs free", k == 0 ? "" : "; ", name,
                           tree.domain_name(level, known[k].second), known[k].first, demand);
  }
  if (known.size() > kShown) {
    message += fmt::format("; {} more {} domains have fewer", known.size() - kShown, name);
  }
  return message;
}

}  // namespace fairway::cycle_internal
