// Gangs of subgroups (scheduler/state/subgroups.h): each part's minimum placed by its own
// constraint inside the gang's domain, all parts or none, and where pods beyond it may go.
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

// Each part's constraint on the gang's fabric tree. A subgroup naming no Topology uses its gang's;
// one naming another Topology than its gang's is refused (domains of two trees do not nest).
// A gang without a constraint of its own is still placed on the tree its subgroups use.
bool CycleRunner::resolve_parts(const JobRecord& job, GangTopology& gang,
                                const std::vector<GangPart>& parts,
                                const std::vector<PodId>& moving, std::vector<PartPlan>* plans,
                                std::string* error) {
  for (const GangPart& part : parts) {
    PartPlan& plan = plans->emplace_back();
    plan.part = &part;
    plan.demand = gpu_demand(part.core);
    if (part.subgroup == nullptr) continue;  // the gang's scope is its constraint
    TopologyConstraint wanted = part.subgroup->topology_constraint;
    if (wanted.required_level.empty() && wanted.preferred_level.empty()) continue;
    if (wanted.topology.empty() && gang.spec != nullptr) wanted.topology = gang.spec->name;
    std::string why;
    if (!resolve_topology(wanted, &plan.topo, &why)) {
      *error = fmt::format("subgroup \"{}\": {}", part.subgroup->name, why);
      return false;
    }
    if (plan.topo.tree == nullptr) continue;
    if (gang.tree == nullptr) {
      gang.spec = plan.topo.spec;
      gang.tree = plan.topo.tree;
      gang.capacity = plan.topo.capacity;
    } else if (gang.tree != plan.topo.tree) {
      *error = fmt::format(
          "subgroup \"{}\" uses Topology \"{}\", but its gang {} is placed on "
          "Topology \"{}\": a subgroup's levels must be levels of its gang's "
          "Topology",
          part.subgroup->name, plan.topo.spec->name, job.key, gang.spec->name);
      return false;
    }
    if (plan.topo.required) plan.anchor = anchor_of(job, part.subgroup, moving);
  }
  for (PartPlan& plan : *plans) {
    if (plan.topo.tree != nullptr) continue;
    // No level of its own: the gang's tree, nothing required beyond the gang's domain.
    plan.topo.spec = gang.spec;
    plan.topo.tree = gang.tree;
    plan.topo.capacity = gang.capacity;
  }
  // The biggest parts first: they have the fewest domains to choose from.
  std::stable_sort(plans->begin(), plans->end(),
                   [](const PartPlan& a, const PartPlan& b) { return a.demand > b.demand; });
  return true;
}

// A node where a pod of the job (of `subgroup` only, unless null) is bound and stays: pods in
// `moving` (victims the planner moves) do not count.
std::optional<NodeId> CycleRunner::anchor_of(const JobRecord& job, const SubGroup* subgroup,
                                             const std::vector<PodId>& moving) const {
  for (PodId id : job.all) {
    const PodRecord& record = state_.pods()[id];
    if (!record.counted_bound) continue;
    if (subgroup != nullptr && record.pod.subgroup != subgroup->name) continue;
    if (std::find(moving.begin(), moving.end(), id) != moving.end()) continue;
    return record.node;
  }
  return std::nullopt;
}

// The gang's required level: the smallest domain of it that holds every part, each part placed
// by its own constraint inside it (the next domain when one part does not fit). Without one: the
// gang's preferred level as a preference, relaxing a level at a time, then the whole fabric.
bool CycleRunner::place_parts(const GangTopology& gang, const std::vector<PartPlan>& plans,
                              std::optional<NodeId> anchor, std::vector<Placed>& placed,
                              std::string* why) {
  const FabricTree& tree = *gang.tree;
  int64_t demand = 0;
  size_t pods = 0;
  for (const PartPlan& plan : plans) {
    demand += plan.demand;
    pods += plan.part->core.size();
  }
  auto domains_at = [&](size_t level) {
    if (anchor) return std::vector<DomainId>{tree.domain_of(level, *anchor)};
    return fitting_domains(gang, -1, kNoDomain, static_cast<int>(level), demand);
  };
  if (gang.required) {
    const size_t level = *gang.required;
    std::vector<DomainId> tried;
    std::string trial_failure;
    for (DomainId domain : domains_at(level)) {
      if (tried.size() == static_cast<size_t>(kMaxDomainTrials)) break;
      tried.push_back(domain);
      ++result_.stats.topology_trials;
      if (place_parts_within(static_cast<int>(level), domain, plans, placed,
                             tried.size() == 1 ? &trial_failure : nullptr)) {
        return true;
      }
    }
    *why = required_failure(gang, demand, pods, tried, trial_failure);
    return false;
  }
  if (gang.preferred) {
    for (auto target = static_cast<int>(*gang.preferred); target >= 0; --target) {
      int trials = 0;
      for (DomainId domain : domains_at(static_cast<size_t>(target))) {
        if (trials++ == kMaxDomainTrials) break;
        ++result_.stats.topology_trials;
        if (place_parts_within(target, domain, plans, placed, nullptr)) return true;
      }
    }
  }
  ++result_.stats.topology_trials;
  return place_parts_within(-1, kNoDomain, plans, placed, why);
}

bool CycleRunner::place_parts_within(int level, DomainId domain, const std::vector<PartPlan>& plans,
                                     std::vector<Placed>& placed, std::string* why) {
  const size_t keep = placed.size();
  for (const PartPlan& plan : plans) {
    if (plan.part->core.empty()) continue;
    if (!place_part(level, domain, plan, placed, why)) {
      roll_back(placed, keep);
      return false;
    }
  }
  return true;
}

// One part inside the gang's domain (`level` -1: anywhere): at its required level the smallest
// domain that holds it, its preferred level as a preference, as place_gang does for a gang.
bool CycleRunner::place_part(int level, DomainId domain, const PartPlan& plan,
                             std::vector<Placed>& placed, std::string* why) {
  const GangTopology& topo = plan.topo;
  const FabricTree& tree = *topo.tree;
  const std::vector<PodId>& pods = plan.part->core;
  const int prefer =
      topo.preferred ? static_cast<int>(*topo.preferred) : static_cast<int>(tree.levels()) - 1;
  const std::string who = plan.part->subgroup != nullptr
                              ? fmt::format("subgroup \"{}\"", plan.part->subgroup->name)
                              : std::string("pods outside every subgroup");
  if (!topo.required || static_cast<int>(*topo.required) <= level) {
    // Nothing required below the gang's domain (or the gang's domain already meets it).
    return place_within(topo, level, domain, prefer, pods, placed, why, who);
  }
  const size_t at = *topo.required;
  std::vector<DomainId> candidates;
  if (plan.anchor) {
    // Its bound pods fix the domain; it must lie inside the gang's.
    if (level < 0 || tree.domain_of(static_cast<size_t>(level), *plan.anchor) == domain) {
      candidates.push_back(tree.domain_of(at, *plan.anchor));
    }
  } else {
    candidates = fitting_domains(topo, level, domain, static_cast<int>(at), plan.demand);
  }
  std::vector<DomainId> tried;
  std::string trial_failure;
  for (DomainId candidate : candidates) {
    if (tried.size() == static_cast<size_t>(kMaxDomainTrials)) break;
    tried.push_back(candidate);
    ++result_.stats.topology_trials;
    if (place_within(topo, static_cast<int>(at), candidate, prefer, pods, placed,
                     tried.size() == 1 && why != nullptr ? &trial_failure : nullptr, who)) {
      return true;
    }
  }
  if (why != nullptr) {
    *why = required_failure(topo, plan.demand, pods.size(), tried, trial_failure,
                            fmt::format("{} ({} pods)", who, pods.size()), level, domain);
  }
  return false;
}

std::vector<CycleRunner::Scope> CycleRunner::extra_scopes(const std::vector<PartPlan>& plans,
                                                          const std::vector<Placed>& placed,
                                                          const std::vector<PodId>& pending,
                                                          const Scope& gang) const {
  std::vector<Scope> scopes(pending.size(), gang);
  for (const PartPlan& plan : plans) {
    if (plan.topo.tree == nullptr || !plan.topo.required) continue;
    std::optional<NodeId> anchor = plan.anchor;
    for (size_t k = 0; !anchor && k < placed.size(); ++k) {
      const auto& core = plan.part->core;
      if (std::find(core.begin(), core.end(), placed[k].pod) != core.end()) {
        anchor = placed[k].node;
      }
    }
    if (!anchor) continue;
    const size_t level = *plan.topo.required;
    // The gang's required domain is the narrower scope when it sits at or below the subgroup's.
    if (gang.tree != nullptr && gang.level >= static_cast<int>(level)) continue;
    const Scope own{plan.topo.tree, static_cast<int>(level),
                    plan.topo.tree->domain_of(level, *anchor)};
    for (size_t i = 0; i < pending.size(); ++i) {
      const auto& extra = plan.part->extra;
      if (std::find(extra.begin(), extra.end(), pending[i]) != extra.end()) scopes[i] = own;
    }
  }
  return scopes;
}

}  // namespace fairway::cycle_internal
