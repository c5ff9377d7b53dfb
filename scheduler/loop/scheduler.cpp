#include "scheduler/loop/scheduler.h"

#include <fmt/format.h>

#include <algorithm>
#include <unordered_set>

#include "scheduler/loop/status.h"

namespace fairway {
namespace {

bool period_over(const std::optional<Clock::time_point>& last, Clock::time_point now,
                 std::chrono::milliseconds period) {
  return !last || now - *last >= period;
}

// A queue's Warning condition as "reason: message"; empty when it has none.
std::string warning_text(const nlohmann::json& status, QueueWarning& warning) {
  const auto conditions = status.find("conditions");
  if (conditions == status.end() || !conditions->is_array()) return {};
  for (const auto& condition : *conditions) {
    if (!condition.is_object() || condition.value("type", "") != "Warning") continue;
    warning.reason = condition.value("reason", "");
    warning.message = condition.value("message", "");
    return warning.reason + ": " + warning.message;
  }
  return {};
}

// A queue's Warning condition that appeared, changed or cleared since the last statuses: once
// per change, not per cycle. `logged`: the last warning reported per queue.
void queue_warnings(const std::unordered_map<std::string, nlohmann::json>& statuses,
                    std::unordered_map<std::string, std::string>& logged,
                    std::vector<QueueWarning>& out) {
  for (const auto& [name, status] : statuses) {
    QueueWarning warning{.queue = name, .reason = {}, .message = {}, .cleared = false};
    const std::string now = warning_text(status, warning);
    auto it = logged.find(name);
    if ((it == logged.end() ? std::string() : it->second) == now) continue;
    if (now.empty()) {
      warning.cleared = true;
      logged.erase(it);
    } else {
      logged[name] = now;
    }
    out.push_back(std::move(warning));
  }
  std::erase_if(logged, [&statuses](const auto& entry) { return !statuses.contains(entry.first); });
}

}  // namespace

Scheduler::Scheduler(SchedulerConfig config, const Clock& clock)
    : config_(std::move(config)),
      clock_(clock),
      state_(config_.state),
      pass_(config_.preemption, clock) {
  config_.cycle.clock_ns = [&clock] { return clock.now().time_since_epoch().count(); };
}

Clock::time_point Scheduler::next_due(Clock::time_point now) const {
  auto after = [now](const std::optional<Clock::time_point>& last, auto period) {
    return last ? std::max(now, *last + period) : now;
  };
  Clock::time_point next =
      dirty_ ? after(last_cycle_, config_.schedule_period) : now + std::chrono::seconds(1);
  if (status_due_) next = std::min(next, after(last_status_, config_.status_period));
  return std::min(next, std::max(now, pass_.next_due()));
}

Clock::time_point Scheduler::next_pass_due() const {
  return state_.pending_jobs().empty() ? Clock::time_point::max() : pass_.next_due();
}

int64_t Scheduler::apply(std::vector<StateChange>& changes) {
  if (changes.empty()) return 0;
  const auto start = clock_.now();
  for (StateChange& change : changes) change(state_);
  state_changed();
  return (clock_.now() - start).count();
}

Decisions Scheduler::step(Instant now, std::vector<StateChange> changes,
                          const std::function<void(ClusterState&)>& applied) {
  Decisions decisions;
  decisions.apply_ns = apply(changes);
  if (applied) applied(state_);
  if (synced_ && period_over(last_usage_, now.now, config_.usage_period)) {
    last_usage_ = now.now;
    state_.advance_usage(now.wall_ms);
  }
  if (was_leading_ && !leading_) {
    explanations_.forget_all();
    status_written_.clear();
    inferred_.asked.clear();
  }
  was_leading_ = leading_;
  if (!leading_) return decisions;
  if (config_.api_writes && status_due_ &&
      period_over(last_status_, now.now, config_.status_period)) {
    last_status_ = now.now;
    publish_status(decisions);
  }
  if (!synced_) return decisions;
  if ((dirty_ || config_.cycle_when_unchanged) &&
      period_over(last_cycle_, now.now, config_.schedule_period)) {
    run_cycle_step(now, decisions);
  }
  pass_.maybe_run(state_, now.now, now.wall_ms, decisions);
  return decisions;
}

void Scheduler::run_cycle_step(Instant now, Decisions& decisions) {
  last_cycle_ = now.now;
  dirty_ = false;
  CycleOptions options = config_.cycle;
  options.nominations = &pass_.nominations();  // room bought by evictions, held for its job
  CycleResult result = run_cycle(state_, options);
  ++cycles_;
  assume_all(state_, result);
  if (!result.bindings.empty()) pass_.state_changed();
  for (Binding& binding : result.bindings) {
    if (config_.api_writes) explanations_.placed(binding);
    decisions.binds.push_back(std::move(binding));
  }
  result.bindings.clear();
  auto cycled = std::make_shared<const CycleResult>(std::move(result));
  decisions.cycle = cycled;
  if (!config_.api_writes) return;
  explanations_.publish(cycled->pending, state_, decisions.explanations);
  for (const PlacementQuality& quality : cycled->placements) {
    placements_.insert_or_assign(quality.job, quality);
  }
  publish_inferred_groups(state_, inferred_, now.now, decisions.pod_groups);
  explanations_.prune(state_);
  status_due_ = std::move(cycled);
}

// The status of Queues and PodGroups whose status changed since it was last written.
void Scheduler::publish_status(Decisions& decisions) {
  std::erase_if(placements_, [this](const auto& entry) {
    return state_.find_pod_group(entry.first) == nullptr;
  });
  std::unordered_set<std::string> current;
  auto publish = [&](std::string path, nlohmann::json status) {
    current.insert(path);
    std::string body = nlohmann::json{{"status", std::move(status)}}.dump();
    auto& last = status_written_[path];
    if (last == body) return;
    last = body;
    decisions.status_patches.push_back({std::move(path), std::move(body)});
  };
  auto queues =
      queue_statuses(state_.queue_tree(), status_due_->shares, state_.registry(),
                     state_.queue_usage(), state_.usage_history(),
                     capacity_problems(state_.queue_tree(), state_.capacity(), state_.registry()));
  std::erase_if(queues, [this](const auto& entry) {
    return !state_.queue_specs().contains(entry.first);  // the implicit default has no object
  });
  queue_warnings(queues, warnings_logged_, decisions.queue_warnings);
  for (auto& [name, status] : queues) {
    publish(fmt::format("/apis/scheduling.fairway.dev/v1alpha1/queues/{}/status", name),
            std::move(status));
  }
  for (auto& [key, status] : pod_group_statuses(state_, *status_due_, placements_)) {
    const auto [ns, name] = split_key(key);
    publish(fmt::format("/apis/scheduling.fairway.dev/v1alpha1/namespaces/{}/podgroups/{}/status",
                        ns, name),
            std::move(status));
  }
  status_due_.reset();
  // Objects that are gone: forget what was written for them, so the map stays bounded.
  if (status_written_.size() > 2 * current.size() + 1024) {
    std::erase_if(status_written_,
                  [&current](const auto& entry) { return !current.contains(entry.first); });
  }
}

}  // namespace fairway
