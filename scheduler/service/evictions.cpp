#include "scheduler/service/evictions.h"

#include <fmt/chrono.h>
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "k8s-client/api_error.h"
#include "k8s-client/objects.h"
#include "scheduler/cycle/reasons.h"
#include "scheduler/service/log.h"

namespace fairway {
namespace {

// Event reasons (scheduler/cycle/reasons.h): on the victim, then on the preemptor.
const char* victim_reason(PreemptionAction action) {
  switch (action) {
    case PreemptionAction::kPreempt:
      return reasons::kPreempted.data();
    case PreemptionAction::kReclaim:
      return reasons::kReclaimed.data();
    case PreemptionAction::kConsolidate:
      return reasons::kConsolidated.data();
    case PreemptionAction::kStaleGang:
      return reasons::kStaleGang.data();
  }
  return reasons::kPreempted.data();  // not reached: every action is named
}

const char* preemptor_reason(PreemptionAction action) {
  switch (action) {
    case PreemptionAction::kPreempt:
      return reasons::kPreempting.data();
    case PreemptionAction::kReclaim:
      return reasons::kReclaiming.data();
    case PreemptionAction::kConsolidate:
      return reasons::kConsolidating.data();
    case PreemptionAction::kStaleGang:
      return reasons::kStaleGang.data();
  }
  return reasons::kPreempting.data();  // not reached
}

void raise_max(std::atomic<int64_t>& target, int64_t value) {
  int64_t seen = target.load();
  while (value > seen && !target.compare_exchange_weak(seen, value)) {
  }
}

}  // namespace

k8s::RestOptions eviction_rest_options(k8s::RestOptions rest) {
  rest.max_retries_429 = 0;  // a PodDisruptionBudget's 429 is an answer, not a rate limit
  rest.pool_size = 1;
  return rest;
}

// ------------------------------------------------------------------------------------ Evictor

Evictor::Evictor(ClusterWriter& writer, Hooks hooks, EvictionStats& stats, const Clock& clock,
                 bool threads)
    : clock_(clock),
      writer_(writer),
      hooks_(std::move(hooks)),
      stats_(stats),
      work_(clock, threads ? 1 : 0, [this](Work& work, int) -> std::optional<Clock::duration> {
        run_plan(work);
        return std::nullopt;
      }) {}

std::chrono::milliseconds Evictor::backoff_left(const std::string& pod) {
  const auto at = now();
  std::lock_guard lock(mutex_);
  const auto it = backoffs_.find(pod);
  if (it == backoffs_.end() || it->second.until <= at) return std::chrono::milliseconds(0);
  return std::chrono::ceil<std::chrono::milliseconds>(it->second.until - at);
}

std::string Evictor::eviction_version() {
  std::lock_guard lock(mutex_);
  return version_;
}

bool Evictor::discover() {
  discovered_ = true;
  last_discovery_ = now();
  const WriteResult response = writer_.read("/apis/policy");
  if (!response.ok()) {
    log::warn("discovery of the policy API group failed; evictions use policy/v1",
              {{"error", response.error}});
    return false;
  }
  const auto group = nlohmann::json::parse(response.body, nullptr, false);
  bool v1 = false;
  bool v1beta1 = false;
  if (group.is_object() && group.contains("versions") && group["versions"].is_array()) {
    for (const auto& v : group["versions"]) {
      if (!v.is_object()) continue;
      const std::string version = v.value("version", "");
      v1 = v1 || version == "v1";
      v1beta1 = v1beta1 || version == "v1beta1";
    }
  }
  const std::string chosen = v1 ? "policy/v1" : v1beta1 ? "policy/v1beta1" : "policy/v1";
  std::string before;
  {
    std::lock_guard lock(mutex_);
    before = version_;
    version_ = chosen;
  }
  if (!v1 && v1beta1) {
    log::warn(
        "the API server does not serve policy/v1 (Kubernetes before 1.22, below the chart's "
        "kubeVersion); evictions use policy/v1beta1",
        {});
  } else if (!v1) {
    log::warn("discovery lists neither policy/v1 nor policy/v1beta1; evictions use policy/v1", {});
  }
  if (before != chosen) log::info("eviction API version", {{"version", chosen}});
  return true;
}

Evictor::~Evictor() {
  stop();
}

void Evictor::carry_out(PreemptionPlan plan, Clock::time_point decided) {
  work_.add({std::move(plan), decided});  // refused once stopped
}

void Evictor::stop() {
  work_.stop();  // plans not started are dropped; the one in flight finishes
}

void Evictor::run_plan(const Work& work) {
  const PreemptionPlan& plan = work.plan;
  const char* action = action_name(plan.action);
  bool first = true;
  size_t evicted = 0;
  for (const Victim& victim : plan.victims) {
    if (!hooks_.may_write()) return;
    const auto [ns, name] = split_key(victim.pod);
    if (first) {
      const int64_t waited = (now() - work.decided).count();
      stats_.last_decision_to_request_ns = waited;
      raise_max(stats_.max_decision_to_request_ns, waited);
      first = false;
    }
    if (!discovered_) discover();
    if (const auto left = backoff_left(victim.pod); left.count() > 0) {
      // Still backing off from an earlier failure: no request, and the plan is dropped.
      ++stats_.backed_off;
      int last_status = 0;
      {
        std::lock_guard lock(mutex_);
        last_status = backoffs_[victim.pod].last_status;
      }
      hooks_.on_refused(plan.preemptor, victim.pod, last_status);
      return;
    }
    WriteResult response = writer_.evict(ns, name, eviction_version());
    if ((response.status == 400 || response.status == 404) &&
        now() - last_discovery_ >= std::chrono::seconds(30)) {
      // A server that does not know the Eviction version sent answers 400 ("no kind "Eviction"
      // is registered for version "policy/v1"") or 404: read discovery again, and if it offers
      // another version, ask once more with that one.
      const std::string sent = eviction_version();
      if (response.message.find(sent) != std::string::npos || response.status == 404) {
        discover();
        if (eviction_version() != sent) response = writer_.evict(ns, name, eviction_version());
      }
    }
    const int status = response.status;
    if (response.ok() || status == 404) {
      {
        std::lock_guard lock(mutex_);
        backoffs_.erase(victim.pod);
      }
      if (status != 404) {
        ++evicted;
        switch (plan.action) {
          case PreemptionAction::kPreempt:
            ++stats_.preempt_evictions;
            break;
          case PreemptionAction::kReclaim:
            ++stats_.reclaim_evictions;
            break;
          case PreemptionAction::kConsolidate:
            ++stats_.consolidate_evictions;
            break;
          case PreemptionAction::kStaleGang:
            ++stats_.stale_gang_evictions;
            break;
        }
        post_event(victim.pod, victim.uid, victim_reason(plan.action),
                   plan.action == PreemptionAction::kStaleGang
                       ? plan.message
                       : fmt::format("{}: evicted to make room for job {} of queue \"{}\"{}",
                                     action, plan.preemptor, plan.queue,
                                     victim.chosen_first.empty()
                                         ? std::string()
                                         : "; chosen first: " + victim.chosen_first));
      }
      continue;
    }
    if (status == 429) {
      ++stats_.refused;
      log::info("eviction refused by a disruption budget",
                {{"pod", victim.pod}, {"preemptor", plan.preemptor}, {"action", action}});
    } else {
      failed(plan, victim, response);
    }
    // The rest of this plan would not buy the placement: drop it and let the next pass plan anew.
    hooks_.on_refused(plan.preemptor, victim.pod, status);
    return;
  }
  log::info(
      "evicted",
      {{"action", action},
       {"preemptor", plan.preemptor},
       {"queue", plan.queue},
       {"pods", std::to_string(evicted)},
       {"decision_to_request_ms",
        fmt::format("{:.3f}",
                    static_cast<double>(stats_.last_decision_to_request_ns.load()) / 1e6)},
       {"pass_ms", fmt::format("{:.3f}", static_cast<double>(stats_.last_pass_ns.load()) / 1e6)},
       {"plan", plan.message}});
  std::string victims;
  for (const Victim& victim : plan.victims) {
    victims += (victims.empty() ? "" : ", ") + victim.pod;
  }
  for (const std::string& pod : plan.preemptor_pods) {
    std::string uid;
    for (const Binding& b : plan.placements) {
      if (b.pod == pod) uid = b.uid;
    }
    post_event(pod, uid, preemptor_reason(plan.action),
               fmt::format("{}: evicted {} (queue \"{}\") to make room for this job", action,
                           victims, plan.victims.empty() ? "" : plan.victims.front().queue));
  }
}

void Evictor::failed(const PreemptionPlan& plan, const Victim& victim,
                     const WriteResult& response) {
  ++stats_.errors;
  const int status = response.status;
  const std::string& error = response.error;
  std::chrono::milliseconds wait = kFirstBackoff;
  int failures = 0;
  {
    std::lock_guard lock(mutex_);
    Backoff& backoff = backoffs_[victim.pod];
    backoff.last_status = status;
    if (k8s::retryable_api_error(status)) {
      // Soon: the Retry-After the server asked for, else a second.
      if (!response.retry_after.empty()) {
        const long seconds = std::strtol(response.retry_after.c_str(), nullptr, 10);
        if (seconds > 0) wait = std::chrono::seconds(std::min<long>(seconds, 300));
      }
    } else {
      backoff.failures = std::min(backoff.failures + 1, 30);
      for (int i = 1; i < backoff.failures && wait < kMaxBackoff; ++i) wait *= 2;
      wait = std::min(wait, kMaxBackoff);
    }
    failures = backoff.failures;
    backoff.until = now() + wait;
  }
  log::warn("eviction failed", {{"pod", victim.pod},
                                {"preemptor", plan.preemptor},
                                {"action", action_name(plan.action)},
                                {"status", std::to_string(status)},
                                {"error", error},
                                {"retry_in_ms", std::to_string(wait.count())},
                                {"failures", std::to_string(failures)}});
  post_event(
      victim.pod, victim.uid, std::string(reasons::kEvictionFailed),
      fmt::format("{}: eviction for job {} failed: {}; next try in {}s", action_name(plan.action),
                  plan.preemptor, error, std::chrono::ceil<std::chrono::seconds>(wait).count()),
      "Warning");
}

void Evictor::post_event(const std::string& pod_key, const std::string& uid,
                         const std::string& reason, const std::string& message,
                         const std::string& type) {
  const auto [ns, name] = split_key(pod_key);
  k8s::EventSpec event;
  event.namespace_ = ns;
  event.involved_kind = "Pod";
  event.involved_name = name;
  event.involved_uid = uid;
  event.involved_api_version = "v1";
  event.type = type;
  event.reason = reason;
  event.message = message;
  const auto outcome = events_.record(event);
  if (outcome == EventRecorder::Outcome::kCreated || outcome == EventRecorder::Outcome::kUpdated)
    ++stats_.events;
}

}  // namespace fairway
