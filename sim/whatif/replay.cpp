#include "sim/whatif/replay.h"

#include <fmt/format.h>

#include <set>

namespace fairway::sim {
namespace {

double gpus(double canonical, const ClusterState& state) {
  return canonical / static_cast<double>(state.registry().scale(kGpu));
}

}  // namespace

ReplayOutcome replay(ClusterState& state, const ReplayOptions& options) {
  ReplayOutcome out;
  state.advance_usage(options.now_ms);
  CycleResult cycled = run_cycle(state, options.cycle);
  const QueueTree& tree = state.queue_tree();
  for (QueueIndex q = 0; q < tree.size(); ++q) {
    QueueOutcome& queue = out.queues[tree.node(q).name];
    queue.fair_share_gpus = gpus(cycled.shares.share(q, kGpu), state);
    if (kGpu < cycled.shares.resources) {
      queue.usage_share = cycled.shares.history[q * cycled.shares.resources + kGpu];
    }
  }
  for (const Binding& binding : cycled.bindings) out.bindings.emplace(binding.pod, binding.node);
  assume_all(state, cycled);

  const FairShares after = state.fair_shares();
  for (QueueIndex q = 0; q < tree.size(); ++q) {
    out.queues[tree.node(q).name].allocated_gpus =
        gpus(static_cast<double>(after.allocated[q][kGpu]), state);
  }
  for (const auto& [queue, jobs] : state.pending_jobs()) {
    for (JobId job : jobs) out.pending_pods += state.jobs()[job].pending.size();
  }

  const PreemptionMemory memory;
  const TimeMs now = options.now_ms;
  const auto& elapsed = options.elapsed_ms;
  const PlanResult planned = plan_preemptions(
      state, memory, options.planner, [now, &elapsed] { return elapsed ? now + elapsed() : now; });
  out.pass_out_of_time = planned.stats.out_of_time;
  for (const PreemptionPlan& plan : planned.plans) {
    for (const Victim& victim : plan.victims) out.evictions.emplace(victim.pod, plan.message);
  }
  return out;
}

nlohmann::json decisions_json(const ReplayOutcome& decisions) {
  nlohmann::json queues = nlohmann::json::object();
  for (const auto& [name, q] : decisions.queues) {
    queues[name] = {{"fairShareGpus", q.fair_share_gpus},
                    {"allocatedGpus", q.allocated_gpus},
                    {"usageShare", q.usage_share}};
  }
  return {{"bindings", decisions.bindings},
          {"evictions", decisions.evictions},
          {"queues", std::move(queues)},
          {"pendingPods", decisions.pending_pods},
          {"passOutOfTime", decisions.pass_out_of_time}};
}

namespace {

std::string or_dash(const std::map<std::string, std::string>& map, const std::string& key) {
  const auto it = map.find(key);
  return it == map.end() ? "-" : it->second;
}

// Pods a map holds in either decision, sorted.
std::set<std::string> keys(const std::map<std::string, std::string>& a,
                           const std::map<std::string, std::string>* b) {
  std::set<std::string> out;
  for (const auto& entry : a) out.insert(entry.first);
  if (b != nullptr) {
    for (const auto& entry : *b) out.insert(entry.first);
  }
  return out;
}

}  // namespace

std::string what_if_text(const ReplayOutcome& as_is, const ReplayOutcome* changed) {
  std::string out;
  out += changed ? fmt::format("{:<24} {:>22} {:>22}\n", "queue (GPUs)", "fair share as is",
                               "fair share changed")
                 : fmt::format("{:<24} {:>12} {:>12} {:>12}\n", "queue (GPUs)", "fair share",
                               "allocated", "usage");
  for (const auto& [name, q] : as_is.queues) {
    if (changed) {
      const auto other = changed->queues.find(name);
      const std::string after = other == changed->queues.end()
                                    ? "-"
                                    : fmt::format("{:.2f}", other->second.fair_share_gpus);
      out += fmt::format("{:<24} {:>22.2f} {:>22}\n", name, q.fair_share_gpus, after);
    } else {
      out += fmt::format("{:<24} {:>12.2f} {:>12.2f} {:>11.1f}%\n", name, q.fair_share_gpus,
                         q.allocated_gpus, q.usage_share * 100);
    }
  }
  auto list = [&](const char* title, const std::map<std::string, std::string>& a,
                  const std::map<std::string, std::string>* b) {
    size_t shown = 0;
    std::string lines;
    for (const std::string& pod : keys(a, b)) {
      const std::string left = or_dash(a, pod);
      if (b == nullptr) {
        lines += fmt::format("  {} → {}\n", pod, left);
      } else if (const std::string right = or_dash(*b, pod); right != left) {
        lines += fmt::format("  {}: {} → {}\n", pod, left, right);
      } else {
        continue;
      }
      ++shown;
    }
    out += fmt::format("\n{} ({}):\n{}", title, shown, shown == 0 ? "  none\n" : lines);
  };
  const auto* changed_bindings = changed ? &changed->bindings : nullptr;
  const auto* changed_evictions = changed ? &changed->evictions : nullptr;
  list(changed ? "bindings that change (as is → changed)" : "bindings", as_is.bindings,
       changed_bindings);
  list(changed ? "evictions that change (as is → changed)" : "evictions", as_is.evictions,
       changed_evictions);
  out += changed ? fmt::format("\npods still pending: {} as is, {} changed\n", as_is.pending_pods,
                               changed->pending_pods)
                 : fmt::format("\npods still pending: {}\n", as_is.pending_pods);
  if (as_is.pass_out_of_time || (changed && changed->pass_out_of_time)) {
    out +=
        "the preemption pass spent its time budget before considering every waiting job: "
        "the evictions are those it planned in that time, as a live pass would\n";
  }
  return out;
}

}  // namespace fairway::sim
