#pragma once
// The preemption pass's timing and memory, on the loop thread: when a pass is due, the
// PreemptionMemory between passes (nominations the cycle honours, cool-downs, refusals), and the
// pure planner (scheduler/planner) run within its time budget. Its plans leave as
// Decisions::evictions; the edge's Evictor (scheduler/service/evictions.h) carries them out and
// reports refusals back through refused().

#include <chrono>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "scheduler/loop/decisions.h"
#include "scheduler/planner/planner.h"
#include "scheduler/state/clock.h"

namespace fairway {

struct PreemptionOptions {
  // How often the pass runs while jobs wait; zero disables preemption, reclaim and consolidation.
  std::chrono::milliseconds period{5000};
  // The loop thread spends at most this on one pass.
  std::chrono::milliseconds budget{250};
  // A pod whose eviction was refused (PodDisruptionBudget) is not picked again for this long.
  std::chrono::milliseconds refused_backoff{60'000};
  // A job for which no plan was found is not simulated again for this long, so jobs that no
  // eviction can help do not use up every pass's budget.
  std::chrono::milliseconds no_plan_backoff{30'000};
  // Run a pass only when the state changed since the last one or capacity is nominated. The
  // planner is deterministic, so on an unchanged state it plans what it planned before; only
  // worth it where the memory holds nothing that time alone changes (no_plan_backoff 0: the
  // in-process simulator).
  bool only_after_changes = false;
  PlannerOptions planner;
};

class PreemptionPass {
 public:
  PreemptionPass(PreemptionOptions options, const Clock& clock);

  // Capacity held for preemptors (CycleOptions::nominations).
  const std::vector<Nomination>& nominations() const { return memory_.nominations(); }
  // When the next pass is due (time_point::max() when disabled or nothing waits).
  Clock::time_point next_due() const;
  // The state changed since the last pass.
  void state_changed() { changed_ = true; }
  // Runs a pass if one is due and some job waits; its plans go to `decisions`.
  void maybe_run(ClusterState& state, Clock::time_point now, TimeMs wall_ms, Decisions& decisions);
  // The eviction of `pod` for `preemptor` failed with HTTP `status` (0: transport). `retryable`:
  // the failure may pass (5xx, transport); `backoff_left`: how long the evictor avoids the pod.
  void refused(const std::string& preemptor, const std::string& pod, int status, bool retryable,
               std::chrono::milliseconds backoff_left, TimeMs wall_ms);
  // The idle-victim policy's input (PlannerOptions::idle_gpu_pods); nullptr: off.
  void set_idle_gpu_pods(const std::unordered_map<std::string, std::string>* pods) {
    options_.planner.idle_gpu_pods = pods;
  }

 private:
  PreemptionOptions options_;
  const Clock& clock_;
  PreemptionMemory memory_;
  std::optional<Clock::time_point> last_pass_;  // none yet: due at once
  bool retry_now_ = false;
  bool waiting_ = true;  // some job was pending at the last look
  bool changed_ = true;  // the state changed since the last pass
};

}  // namespace fairway
