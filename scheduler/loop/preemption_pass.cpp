#include "scheduler/loop/preemption_pass.h"

#include <algorithm>

namespace fairway {

PreemptionPass::PreemptionPass(PreemptionOptions options, const Clock& clock)
    : options_(std::move(options)), clock_(clock) {
  options_.planner.time_budget_ms = options_.budget.count();
}

Clock::time_point PreemptionPass::next_due() const {
  if (options_.period.count() <= 0 || !waiting_) return Clock::time_point::max();
  if (options_.only_after_changes && !changed_ && memory_.nominations().empty()) {
    return Clock::time_point::max();
  }
  if (retry_now_ || !last_pass_) return Clock::time_point::min();
  return *last_pass_ + options_.period;
}

void PreemptionPass::maybe_run(ClusterState& state, Clock::time_point now, TimeMs wall_ms,
                               Decisions& decisions) {
  if (options_.period.count() <= 0) return;
  waiting_ = !state.pending_jobs().empty();
  if (!waiting_ || now < next_due()) return;
  last_pass_ = now;
  retry_now_ = false;
  changed_ = false;
  const auto started = clock_.now();
  memory_.prune(state, wall_ms, options_.planner);
  PlanResult result =
      plan_preemptions(state, memory_, options_.planner, [this] { return clock_.wall_ms(); });
  decisions.pass = {.ran = true,
                    .out_of_time = result.stats.out_of_time,
                    .pass_ns = (clock_.now() - started).count(),
                    .decided = clock_.now()};
  if (options_.no_plan_backoff.count() > 0) {
    for (const std::string& job : result.without_plan) {
      memory_.no_plan(job, wall_ms + options_.no_plan_backoff.count());
    }
  }
  for (PreemptionPlan& plan : result.plans) {
    memory_.record(plan, wall_ms, options_.planner);
    decisions.evictions.push_back(std::move(plan));
  }
}

void PreemptionPass::refused(const std::string& preemptor, const std::string& pod, int status,
                             bool retryable, std::chrono::milliseconds backoff_left,
                             TimeMs wall_ms) {
  waiting_ = true;
  changed_ = true;
  if (status == 429) {
    // A PodDisruptionBudget said no: avoid the pod a while and try the next plan at once.
    memory_.blocked(preemptor, pod, wall_ms, options_.refused_backoff.count());
    retry_now_ = true;
    return;
  }
  // Any other failure: the pod is avoided while the evictor backs it off, and only a failure
  // that may pass (5xx, transport) brings the next pass forward; a 400 or 403 for ever must not
  // turn the pass into a loop (docs/reliability.md).
  const auto left = std::max(backoff_left, std::chrono::milliseconds(1000));
  memory_.blocked(preemptor, pod, wall_ms, left.count());
  retry_now_ = retryable;
}

}  // namespace fairway
