#pragma once
// Scheduler: the one scheduling loop. It owns the cluster state (priority classes included), the
// preemption pass and its memory, what was last explained and written (so each message and
// status goes out only when it changes) and where gangs were placed. Each step applies the
// changes seen since the last one and returns Decisions: binds (with their volume bindings,
// claim allocations and shared-GPU reservations), evictions, explanations, status patches,
// inferred PodGroups.
//
// Pure: no I/O, no threads, time only from the caller's Instant and the injected Clock (which
// times the phases). `fairway scheduler` (scheduler/service) drives it with the watches' changes
// and carries the decisions out through its workers; `fairway sim` (sim/driver) drives it on a
// simulated clock and plays the decisions out itself, so both run the same loop.
//
// One step, in order:
//   1. apply the changes (the state is dirty when there were any);
//   2. advance usage over time, at most once per usage_period (every replica keeps the history);
//   3. when leadership was lost, forget what was explained and written: those writes may never
//      have gone out (fenced), so a new term explains and publishes afresh;
//   4. publish the last cycle's Queue and PodGroup status, at most once per status_period;
//   5. run a cycle when the state is dirty, at most once per schedule_period, and assume its
//      placements;
//   6. run the preemption pass when it is due, on the state with those placements (so it never
//      evicts for a job the cycle just placed); its nominations hold the capacity it buys for
//      the preemptor in the next cycles.
// Steps 4 to 6 need a leader; 2, 5 and 6 a synced state.

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "scheduler/cycle/cycle.h"
#include "scheduler/loop/decisions.h"
#include "scheduler/loop/explanations.h"
#include "scheduler/loop/inferred_groups.h"
#include "scheduler/loop/preemption_pass.h"
#include "scheduler/state/clock.h"
#include "scheduler/state/cluster_state.h"

namespace fairway {

struct SchedulerConfig {
  StateConfig state;
  CycleOptions cycle;
  PreemptionOptions preemption;
  // At most one cycle per period: changes that arrive meanwhile coalesce into the next.
  std::chrono::milliseconds schedule_period{50};
  std::chrono::milliseconds status_period{1000};
  std::chrono::milliseconds usage_period{1000};
  // Cycle every step even when nothing changed (the simulator: usage over time moves fair
  // shares with the clock alone, and it samples every cycle's shares).
  bool cycle_when_unchanged = false;
  // Decide what the API server is told (explanations, Queue and PodGroup status, inferred
  // PodGroups); off where there is none (the in-process simulator).
  bool api_writes = true;
};

// A change to the state, as the watches decode it.
using StateChange = std::function<void(ClusterState&)>;

// The time of a step: monotonic for periods, wall milliseconds for what is persisted or
// compared with object timestamps.
struct Instant {
  Clock::time_point now;
  TimeMs wall_ms = 0;
  static Instant of(const Clock& clock) { return {clock.now(), clock.wall_ms()}; }
};

class Scheduler {
 public:
  Scheduler(SchedulerConfig config, const Clock& clock);

  // `applied`, when given, sees the state once the changes are applied and before anything is
  // decided: the service answers its webhook and /debug questions there, so that they never
  // wait for a cycle.
  Decisions step(Instant now, std::vector<StateChange> changes,
                 const std::function<void(ClusterState&)>& applied = nullptr);
  // The caller changed state() directly (the simulator's job controller, kubelet and
  // evictions): the next step cycles and the preemption pass may act.
  void state_changed() {
    dirty_ = true;
    pass_.state_changed();
  }

  // The loop's gates, set by the edge before a step: every watch has listed once; this replica
  // holds the Lease. The simulator leaves both true.
  void set_synced(bool synced) { synced_ = synced; }
  void set_leading(bool leading) { leading_ = leading; }
  // When a step has work to do even if no change arrives (a cycle, status or pass due).
  Clock::time_point next_due(Clock::time_point now) const;
  // When the preemption pass is next due (time_point::max(): not while nothing waits).
  Clock::time_point next_pass_due() const;
  // The edge could not carry out an eviction (PreemptionPass::refused).
  void eviction_refused(const std::string& preemptor, const std::string& pod, int status,
                        bool retryable, std::chrono::milliseconds backoff_left, TimeMs wall_ms) {
    pass_.refused(preemptor, pod, status, retryable, backoff_left, wall_ms);
  }
  void set_idle_gpu_pods(const std::unordered_map<std::string, std::string>* pods) {
    pass_.set_idle_gpu_pods(pods);
  }

  ClusterState& state() { return state_; }
  const ClusterState& state() const { return state_; }
  const std::vector<Nomination>& nominations() const { return pass_.nominations(); }
  // The last explanation per pod key (/debug/pods).
  const std::unordered_map<std::string, std::string>& explanations() const {
    return explanations_.by_pod();
  }
  uint64_t cycles() const { return cycles_; }

 private:
  int64_t apply(std::vector<StateChange>& changes);
  void publish_status(Decisions& decisions);
  void run_cycle_step(Instant now, Decisions& decisions);

  SchedulerConfig config_;
  const Clock& clock_;
  ClusterState state_;
  PreemptionPass pass_;
  Explanations explanations_;
  InferredGroupWrites inferred_;
  std::unordered_map<std::string, std::string> status_written_;   // body by path
  std::unordered_map<std::string, std::string> warnings_logged_;  // by queue name
  // Where each gang was placed (the cycle that placed it may not be the one published).
  std::unordered_map<std::string, PlacementQuality> placements_;
  std::shared_ptr<const CycleResult> status_due_;  // the last cycle, its status not yet written
  std::optional<Clock::time_point> last_cycle_, last_status_, last_usage_;
  bool synced_ = true;
  bool leading_ = true;
  bool was_leading_ = false;
  bool dirty_ = true;
  uint64_t cycles_ = 0;
};

}  // namespace fairway
