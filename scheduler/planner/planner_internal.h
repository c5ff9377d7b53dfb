#pragma once
// Private to scheduler/planner: the Planner that plan_preemptions (planner.h) runs, its victim
// units and preemptors. Its members live in one file per action over shared what-if code:
//   planner.cpp      the pass: units, preemptors, victim order;
//   what_if.cpp      the simulation on a scratch ledger, victim choice, committing a plan;
//   preempt.cpp, reclaim.cpp, consolidate.cpp, stale_gang.cpp: the actions.

#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "queues/fair_share.h"
#include "scheduler/cycle/node_ledger.h"
#include "scheduler/planner/planner.h"

namespace fairway::planner_internal {

inline constexpr double kShareSlack = 1e-9;
// Trials spent dropping victims the placement turned out not to need.
inline constexpr size_t kMaxTrimTrials = 64;

inline bool above(double value, double bound) {
  return value > bound + kShareSlack * std::max(1.0, std::abs(bound));
}

// A set of pods evicted together: a whole job, or the pods of a gang beyond its minMember
// (part 1) and then the rest (part 2), so a gang is never left running below minMember.
struct Unit {
  JobId job = 0;
  QueueIndex leaf = kNoQueue;
  std::vector<PodId> pods;
  ResourceVector charge;
  int32_t priority = 0;
  TimeMs started = 0;
  int part = 0;  // 0: whole job; 1: beyond minMember; 2: the minimum, after part 1
  size_t sibling = std::numeric_limits<size_t>::max();  // the other part of the same job
  bool preempt_protected = false;  // younger than its queue's preemptMinRuntime
  bool reclaim_protected = false;  // younger than its queue's reclaimMinRuntime
  bool used = false;               // a victim of an earlier plan of this pass
  // The idle-victim policy: every GPU pod idle, its queue above its fair share and deserved
  // quota of GPUs; taken first by reclaim and consolidation. `idle_note` says why, for Events.
  bool idle_first = false;
  std::string idle_note;
};

struct Preemptor {
  JobId job = 0;
  QueueIndex leaf = kNoQueue;
  std::vector<PodId> pods;  // the pods it needs placed now (up to its minMember)
  ResourceVector charge;
  int32_t priority = 0;
};

class Planner {
 public:
  Planner(ClusterState& state, const PreemptionMemory& memory, const PlannerOptions& options,
          const std::function<TimeMs()>& now)
      : state_(state),
        tree_(state.queue_tree()),
        memory_(memory),
        options_(options),
        clock_(now),
        start_(now()),
        ledger_(state) {
    cycle_options_ = options.cycle;
    cycle_options_.nominations = nullptr;
  }

  PlanResult run();

 private:
  bool preemptible(const PodRecord& pod) const;
  std::optional<int64_t> min_runtime_s(const std::string& queue, bool reclaim) const;
  void prepare_ledger();
  void build_units();
  std::vector<Preemptor> preemptors() const;
  bool out_of_time();

  std::optional<PreemptionPlan> preempt(const Preemptor& p);
  std::optional<PreemptionPlan> reclaim(const Preemptor& p);
  std::optional<PreemptionPlan> consolidate(const Preemptor& p);
  // Plans evicting the bound pods of gangs stuck below their minMember past their grace; returns
  // those gangs (not preemptors in this pass: they start again whole).
  std::unordered_set<JobId> stale_gangs();

  // Whether a candidate may join the victims taken so far (reclaim keeps victim queues at their
  // fair share): `allows` only asks, `take` records it, `reset` forgets every victim taken.
  struct Accept {
    std::function<bool(size_t unit)> allows;
    std::function<void(size_t unit)> take;
    std::function<void()> reset;
  };
  static Accept accept_all() {
    return {[](size_t) { return true; }, [](size_t) {}, [] {}};
  }
  std::optional<std::vector<size_t>> choose_victims(const Preemptor& p,
                                                    const std::vector<size_t>& candidates,
                                                    const Accept& accept,
                                                    std::vector<Binding>* placements);
  std::optional<std::vector<size_t>> victims_by_node(const Preemptor& p,
                                                     const std::vector<size_t>& candidates,
                                                     const Accept& accept,
                                                     std::vector<Binding>* placements);
  std::optional<std::vector<Binding>> simulate(const Preemptor& p,
                                               const std::vector<size_t>& victims,
                                               bool place_victims);
  bool within_limits(const Preemptor& p, const std::vector<size_t>& victims) const;
  void evict_on_ledger(const Unit& unit, bool evict);
  NodeId node_id(const std::string& name) const;
  PreemptionPlan commit(PreemptionAction action, const Preemptor& p,
                        const std::vector<size_t>& victims, std::vector<Binding> placements,
                        bool place_victims);
  // Victim order; `idle_first`: units the idle-victim policy picks come before all others.
  void order(std::vector<size_t>& units, bool idle_first) const;
  void mark_idle(Unit& unit) const;
  std::vector<QueueIndex> path(QueueIndex leaf) const;

  ClusterState& state_;
  const QueueTree& tree_;
  const PreemptionMemory& memory_;
  const PlannerOptions& options_;
  const std::function<TimeMs()>& clock_;
  TimeMs start_;
  CycleOptions cycle_options_;
  NodeLedger ledger_;
  // Free capacity of schedulable nodes on the ledger, summed (queue charge: without "pods").
  ResourceVector free_total_;
  FairShares shares_;
  std::vector<ResourceVector> allocated_;  // per queue, with this pass's plans applied
  std::vector<Unit> units_;
  // Consolidation's view: units by node, in victim order (made on first use).
  std::unordered_map<NodeId, std::vector<size_t>> units_by_node_;
  bool units_by_node_ready_ = false;
  PlanResult result_;
};

}  // namespace fairway::planner_internal
