#pragma once
// The preemption pass, pure: preempt (inside a queue), reclaim (across queues) and consolidate
// (defragment GPUs), all through one what-if simulator over the ClusterState.
//
// For each pending job that the cycle could not place, in order (higher priority, then older),
// the planner asks:
//   1. preempt: would evicting preemptible jobs of strictly lower priority in the same leaf queue
//      let it place?
//   2. reclaim: is its queue below its fair share (or its deserved quota) after placing it, and
//      would evicting jobs of queues above their fair share, compared at the level where the two
//      queues' paths in the tree diverge, let it place without pushing any victim queue below
//      its own fair share?
//   3. consolidate: is there enough free capacity in total, only scattered? Then move a few
//      preemptible pods (evict them so they are rescheduled) if every moved pod has a place too.
// Victims are whole jobs (a gang whole, or only its pods beyond minMember), taken lowest priority
// first, then least run time lost, then fewest pods. A plan is kept only if the simulation (the
// evictions on a scratch NodeLedger, then the cycle's own placement code) places the job; extra
// victims that the placement did not need are dropped again. Nothing is evicted otherwise.
//
// The pass changes nothing: it returns plans. The caller evicts the victims, nominates the
// placements' capacity to the preemptor (CycleOptions::nominations) and records a cool-down so
// an evicted job cannot evict its evictor back (PreemptionMemory). Time comes from an injected
// clock; the search stops at a time budget and at a victim limit.

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "scheduler/cycle/cycle.h"
#include "scheduler/state/cluster_state.h"

namespace fairway {

// kStaleGang: a gang bound below its minMember for longer than its grace gives its bound pods
// back, so it can start again whole and their resources serve others meanwhile (no preemptor).
enum class PreemptionAction { kPreempt, kReclaim, kConsolidate, kStaleGang };
// "preempt", "reclaim", "consolidate", "stale-gang": Event reasons, logs and counters.
const char* action_name(PreemptionAction action);

struct Victim {
  std::string pod;  // namespace/name
  std::string uid;
  std::string node;
  std::string job;
  std::string queue;
  // Why this pod was taken before others, for its Event; empty: the usual victim order.
  std::string chosen_first;
};

struct PreemptionPlan {
  PreemptionAction action = PreemptionAction::kPreempt;
  std::string preemptor;  // job key
  std::string queue;      // the preemptor's queue
  std::vector<std::string> preemptor_pods;
  std::vector<Victim> victims;
  // Where the simulation placed the preemptor's pods: the capacity to nominate to it.
  std::vector<Binding> placements;
  // The capacity those placements take, per node: what the cycle keeps for the preemptor.
  std::vector<Nomination> nominations;
  // One line for logs and Events, e.g. `reclaim for team-a/train: evicting 2 pods of 1 job in
  // queue "b" (above its fair share)`.
  std::string message;
};

struct PlannerOptions {
  // Pods with priority >= this are never victims unless labelled fairway.dev/preemptible=true.
  int32_t non_preemptible_priority = 1'000'000'000;
  // Bounds: pods evicted for one preemptor, and the whole pass's time (from `now`).
  uint32_t max_victims = 4'096;
  TimeMs time_budget_ms = 500;
  // Simulated moves tried per preemptor when consolidating.
  uint32_t max_consolidation_trials = 16;
  // How long an evicted job may not evict its evictor.
  TimeMs cool_down_ms = 5 * 60 * 1000;
  // How long capacity stays nominated to a preemptor that has not placed yet.
  TimeMs nomination_ms = 2 * 60 * 1000;
  // Once every victim is gone, how long the preemptor has to place before its nomination ends
  // and it rests for nomination_ms (no new plan): room the cycle cannot use for it (a queue
  // limit reached meanwhile, a cluster that changed) must not stay held from everyone else.
  TimeMs nomination_after_victims_ms = 15 * 1000;
  // A gang with some but fewer than minMember pods bound (a bind failed, a leader died between a
  // gang's binds, members were evicted) for this long — or its PodGroup's scheduleTimeoutSeconds —
  // has its bound pods evicted; 0: never.
  TimeMs stale_gang_grace_ms = 60 * 1000;
  // The idle-victim policy (--idle-victims-first, docs/utilization.md): pods whose GPUs sat idle,
  // by pod key, with the words that say so. Reclaim and consolidation take a job whose every
  // GPU-holding pod is here before any other candidate, when its queue holds more GPUs than its
  // fair share and than its deserved quota. nullptr: the policy is off.
  const std::unordered_map<std::string, std::string>* idle_gpu_pods = nullptr;
  bool preempt = true;
  bool reclaim = true;
  bool consolidate = true;
  CycleOptions cycle;  // placement strategy of the simulation (nominations are set by plan())
};

// What the pass remembers between runs. Owned by the caller (the service's loop thread).
class PreemptionMemory {
 public:
  // A plan is being carried out: nominate its placements, start the victims' cool-down.
  void record(const PreemptionPlan& plan, TimeMs now, const PlannerOptions& options);
  // A victim's eviction was refused (e.g. a PodDisruptionBudget, HTTP 429): drop the plan's
  // nominations and do not pick that pod again for `for_ms`, so the next pass tries another plan.
  void blocked(const std::string& preemptor, const std::string& pod, TimeMs now, TimeMs for_ms);
  // Drops nominations of jobs that placed, are gone, waited too long, or did not place within
  // nomination_after_victims_ms of their victims being gone; ends cool-downs; notes since when
  // each gang has been bound below its minMember.
  // Also drops the nominations of jobs that may not be scheduled at all (job_gate.h).
  void prune(ClusterState& state, TimeMs now, const PlannerOptions& options);
  // Since when `job` has been bound below its minMember (as seen by prune), if it is.
  std::optional<TimeMs> partial_since(const std::string& job) const;

  // The pass found no plan for `job`: skip it until `until`, so jobs that no eviction can help
  // do not take every pass's time budget from those behind them.
  void no_plan(const std::string& job, TimeMs until) { resting_[job] = until; }
  bool resting(const std::string& job, TimeMs now) const;

  const std::vector<Nomination>& nominations() const { return nominations_; }
  bool nominated(const std::string& job) const;
  // True while `job` may not evict `victim_job`, because `victim_job` evicted it.
  bool cooling_down(const std::string& job, const std::string& victim_job, TimeMs now) const;
  bool pod_blocked(const std::string& pod, TimeMs now) const;

 private:
  void drop_nomination(const std::string& job);

  std::vector<Nomination> nominations_;
  std::map<std::string, TimeMs> nomination_expiry_;  // by job
  // By nominated job: its victims (pod key, uid), and since when all of them are gone.
  std::map<std::string, std::vector<std::pair<std::string, std::string>>> victims_;
  std::map<std::string, TimeMs> victims_gone_since_;
  // Evicted job → its evictors → end of the cool-down. Looked up per candidate victim in every
  // pass, so the lookup takes the keys as they are (no string copies).
  std::map<std::string, std::map<std::string, TimeMs, std::less<>>, std::less<>> cool_downs_;
  std::map<std::string, TimeMs> blocked_pods_;
  std::map<std::string, TimeMs> resting_;        // jobs without a plan, until when
  std::map<std::string, TimeMs> partial_since_;  // gangs bound below their minMember, since
};

struct PlannerStats {
  uint32_t preemptors_considered = 0;
  uint32_t simulations = 0;  // what-if placements run
  bool out_of_time = false;
};

struct PlanResult {
  std::vector<PreemptionPlan> plans;
  // Jobs that were simulated and that no preemption, reclaim or consolidation could help.
  std::vector<std::string> without_plan;
  PlannerStats stats;
};

// Plans one pass. `now` is the injected clock (milliseconds since the epoch): it dates run time
// and cool-downs, and bounds the search. Plans do not overlap: a pod is the victim of at most one
// plan, and each plan is simulated on top of the ones before it.
PlanResult plan_preemptions(ClusterState& state, const PreemptionMemory& memory,
                            const PlannerOptions& options, const std::function<TimeMs()>& now);

}  // namespace fairway
