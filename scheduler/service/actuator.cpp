#include "scheduler/service/actuator.h"

#include <fmt/chrono.h>
#include <fmt/format.h>

#include <chrono>

#include "k8s-client/api_error.h"
#include "k8s-client/objects.h"
#include "scheduler/cycle/reasons.h"
#include "scheduler/service/log.h"

namespace fairway {
namespace {

// Scheduled Events are a courtesy; under a flood of binds the oldest are dropped, never binds.
constexpr size_t kMaxQueuedEvents = 10'000;

// Back-off of a failed condition or status write: 1 s, 2 s, 4 s, ... at most 30 s.
constexpr std::chrono::milliseconds kFirstRetry{1000};
constexpr std::chrono::milliseconds kMaxRetry{30'000};

// Worth another try: the write never got an answer, was throttled, or the server failed.
bool transient(const tl::expected<k8s::Response, k8s::TransportError>& response) {
  return !response || response->status == 429 || response->status >= 500;
}

std::string now_rfc3339() {
  const auto now = std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
  return fmt::format("{:%Y-%m-%dT%H:%M:%S}Z", now);
}

// Moves the retries that are due into `batch` (with their attempt counts into `attempts`).
template <typename Item, typename Retries>
void take_due(Retries& retries, std::map<std::string, Item>& batch,
              std::map<std::string, int>& attempts) {
  const auto now = std::chrono::steady_clock::now();
  for (auto it = retries.begin(); it != retries.end();) {
    if (it->second.due > now) {
      ++it;
      continue;
    }
    attempts[it->first] = it->second.attempt;
    batch.try_emplace(it->first, std::move(it->second.item));
    it = retries.erase(it);
  }
}

}  // namespace

Actuator::Actuator(k8s::RestClient& client, int bind_workers, Hooks hooks,
                   VolumeBinderOptions volumes, k8s::RestClient* writer)
    : client_(client),
      writer_(writer != nullptr ? *writer : client),
      hooks_(std::move(hooks)),
      volume_binder_(client, volumes),
      claim_writer_(client),
      events_(writer_) {
  for (int i = 0; i < std::max(bind_workers, 1); ++i)
    bind_threads_.emplace_back([this] { bind_loop(); });
  write_thread_ = std::thread([this] { write_loop(); });
}

Actuator::~Actuator() {
  stop();
}

void Actuator::bind(Binding binding) {
  ++in_flight_;
  {
    std::lock_guard lock(bind_mutex_);
    binds_.push_back(std::move(binding));
  }
  bind_ready_.notify_one();
}

void Actuator::explain(Unschedulable pending) {
  {
    std::lock_guard lock(write_mutex_);
    std::string key = pending.kind + "/" + pending.pod;
    explanation_retries_.erase(key);
    explanations_.insert_or_assign(std::move(key), std::move(pending));
  }
  write_ready_.notify_one();
}

void Actuator::forget_explanation(const std::string& pod) {
  std::lock_guard lock(write_mutex_);
  explanations_.erase("Pod/" + pod);
  explanation_retries_.erase("Pod/" + pod);
  placed_.insert("Pod/" + pod);
}

void Actuator::scheduled(const Binding& binding) {
  {
    std::lock_guard lock(write_mutex_);
    if (scheduled_events_.size() >= kMaxQueuedEvents) scheduled_events_.pop_front();
    scheduled_events_.push_back(binding);
    explanations_.erase("Pod/" + binding.pod);
    explanation_retries_.erase("Pod/" + binding.pod);  // placed: nothing to explain
    placed_.insert("Pod/" + binding.pod);
  }
  write_ready_.notify_one();
}

void Actuator::patch_status(std::string path, std::string merge_patch) {
  {
    std::lock_guard lock(write_mutex_);
    status_retries_.erase(path);
    status_patches_.insert_or_assign(std::move(path), std::move(merge_patch));
  }
  write_ready_.notify_one();
}

void Actuator::apply_object(std::string path, std::string body) {
  {
    std::lock_guard lock(write_mutex_);
    objects_.insert_or_assign(std::move(path), std::move(body));
  }
  write_ready_.notify_one();
}

void Actuator::stop() {
  {
    std::lock_guard bind_lock(bind_mutex_);
    std::lock_guard write_lock(write_mutex_);
    if (stopping_ && bind_threads_.empty()) return;
    stopping_ = true;
  }
  volume_binder_.stop();
  bind_ready_.notify_all();
  write_ready_.notify_all();
  for (auto& thread : bind_threads_) thread.join();
  bind_threads_.clear();
  if (write_thread_.joinable()) write_thread_.join();
}

void Actuator::bind_loop() {
  for (;;) {
    Binding binding;
    {
      std::unique_lock lock(bind_mutex_);
      bind_ready_.wait(lock, [this] { return stopping_ || !binds_.empty(); });
      if (binds_.empty()) return;  // stopping, and every queued bind is done
      binding = std::move(binds_.front());
      binds_.pop_front();
    }
    do_bind(binding);
    --in_flight_;
  }
}

void Actuator::do_bind(const Binding& binding) {
  if (!hooks_.may_write()) {
    hooks_.on_failed(binding, "not the leader");
    return;
  }
  VolumeWrites volumes;
  if (!binding.volume_bindings.empty()) {
    if (auto why = volume_binder_.bind(binding, volumes)) {
      ++stats_.bind_errors;
      hooks_.on_failed(binding, *why);
      return;
    }
  }
  std::vector<ClaimWrite> claims;
  if (!binding.claim_allocations.empty()) {
    if (auto why = claim_writer_.write(binding, claims)) {
      if (!volumes.empty()) volume_binder_.rollback(volumes);
      ++stats_.bind_errors;
      log::warn("claim allocation not written", {{"pod", binding.pod}, {"error", *why}});
      hooks_.on_failed(binding, *why);
      return;
    }
  }
  const auto [ns, name] = split_key(binding.pod);
  const std::string path = fmt::format("/api/v1/namespaces/{}/pods/{}/binding", ns, name);
  const auto response =
      client_.request("POST", path, k8s::binding_body(ns, name, binding.uid, binding.node));
  if (!response || (!response->ok() && response->status != 409)) {
    if (!volumes.empty()) volume_binder_.rollback(volumes);
    if (!claims.empty()) claim_writer_.rollback(binding, claims);
  }
  if (!response) {
    ++stats_.bind_errors;
    log::warn("bind failed",
              {{"pod", binding.pod}, {"node", binding.node}, {"error", response.error().message}});
    hooks_.on_failed(binding, response.error().message);
    return;
  }
  if (response->ok()) {
    ++stats_.binds;
    if (hooks_.on_bound) hooks_.on_bound(binding);
    log::debug("bound", {{"pod", binding.pod}, {"node", binding.node}, {"queue", binding.queue}});
    scheduled(binding);
    return;
  }
  if (response->status == 409) {
    // Already assigned (by an earlier attempt of ours or by someone else): the pod's watch event
    // carries the node it really went to, and the state follows that, so nothing is counted twice.
    ++stats_.bind_conflicts;
    log::info("pod already bound", {{"pod", binding.pod}, {"node", binding.node}});
    return;
  }
  if (response->status == 404) {
    log::debug("pod vanished before binding", {{"pod", binding.pod}});
    hooks_.on_failed(binding, "pod not found");
    return;
  }
  ++stats_.bind_errors;
  const std::string error = k8s::describe_api_error(response);
  log::warn("bind rejected", {{"pod", binding.pod},
                              {"node", binding.node},
                              {"code", std::to_string(response->status)},
                              {"error", error}});
  hooks_.on_failed(binding, "binding rejected: " + error);
}

template <typename Item>
void Actuator::schedule_retry(std::map<std::string, Retry<Item>>& retries, const std::string& key,
                              Item item, int attempt) {
  const auto delay =
      std::min<std::chrono::milliseconds>(kFirstRetry * (1 << std::min(attempt, 5)), kMaxRetry);
  retries.insert_or_assign(
      key, Retry<Item>{std::move(item), std::chrono::steady_clock::now() + delay, attempt + 1});
}

std::chrono::steady_clock::time_point Actuator::next_retry_due() const {
  auto due = std::chrono::steady_clock::time_point::max();
  for (const auto& [key, retry] : explanation_retries_) due = std::min(due, retry.due);
  for (const auto& [key, retry] : status_retries_) due = std::min(due, retry.due);
  return due;
}

void Actuator::write_loop() {
  for (;;) {
    std::map<std::string, Unschedulable> explanations;
    std::map<std::string, std::string> status_patches;
    std::map<std::string, std::string> objects;
    std::map<std::string, int> attempts;  // of the retried writes in this batch, by key
    std::deque<Binding> scheduled;
    {
      std::unique_lock lock(write_mutex_);
      write_ready_.wait_until(lock, next_retry_due(), [this] {
        return stopping_ || !explanations_.empty() || !scheduled_events_.empty() ||
               !status_patches_.empty() || !objects_.empty() ||
               next_retry_due() <= std::chrono::steady_clock::now();
      });
      if (stopping_) return;  // explanations are re-derived by the next leader's cycles
      explanations.swap(explanations_);
      status_patches.swap(status_patches_);
      objects.swap(objects_);
      scheduled.swap(scheduled_events_);
      placed_.clear();
      take_due(explanation_retries_, explanations, attempts);
      take_due(status_retries_, status_patches, attempts);
    }
    std::vector<std::pair<std::string, Unschedulable>> failed_explanations;
    for (auto& [key, pending] : explanations) {
      if (!do_explain(pending)) failed_explanations.emplace_back(key, std::move(pending));
    }
    for (const auto& [path, body] : objects) do_apply_object(path, body);
    std::vector<std::pair<std::string, std::string>> failed_patches;
    for (auto& [path, patch] : status_patches) {
      if (!do_patch_status(path, patch)) failed_patches.emplace_back(path, std::move(patch));
    }
    if (!failed_explanations.empty() || !failed_patches.empty()) {
      // Queued again unless a newer write for the same object arrived meanwhile, or (for an
      // explanation) the pod was placed while this one was being written.
      std::lock_guard lock(write_mutex_);
      for (auto& [key, pending] : failed_explanations) {
        if (!explanations_.contains(key) && !placed_.contains(key))
          schedule_retry(explanation_retries_, key, std::move(pending), attempts[key]);
      }
      for (auto& [path, patch] : failed_patches) {
        if (!status_patches_.contains(path))
          schedule_retry(status_retries_, path, std::move(patch), attempts[path]);
      }
    }
    for (const Binding& binding : scheduled) {
      if (!hooks_.may_write()) break;
      const auto [ns, name] = split_key(binding.pod);
      post_event("Pod", ns, name, binding.uid, "Normal", std::string(reasons::kScheduled),
                 fmt::format("Successfully assigned {} to {}", binding.pod, binding.node));
    }
  }
}

bool Actuator::do_patch_status(const std::string& path, const std::string& patch) {
  // Not leading: the next term publishes afresh (the loop forgets what it wrote on lease loss).
  if (!hooks_.may_write()) return true;
  const auto response = writer_.request("PATCH", path, patch, "application/merge-patch+json");
  if (response && response->ok()) {
    ++stats_.status_writes;
    return true;
  }
  if (!response || response->status != 404) {
    // The Status's reason, message and field causes: a 422 names the field it refused.
    log::warn("could not write status", {{"path", path},
                                         {"code", std::to_string(response ? response->status : 0)},
                                         {"error", k8s::describe_api_error(response)}});
  }
  return !transient(response);
}

void Actuator::do_apply_object(const std::string& path, const std::string& body) {
  if (!hooks_.may_write()) return;
  auto response =
      writer_.request("POST", path.substr(0, path.rfind('/')), body, "application/json");
  if (response && response->status == 409) {
    response = writer_.request("PATCH", path, body, "application/merge-patch+json");
  }
  if (!response || !response->ok()) {
    log::warn("could not write object", {{"path", path},
                                         {"code", std::to_string(response ? response->status : 0)},
                                         {"error", k8s::describe_api_error(response)}});
  }
}

bool Actuator::do_explain(const Unschedulable& pending) {
  if (!hooks_.may_write()) return true;
  const auto [ns, name] = split_key(pending.pod);
  if (pending.kind == "PodGroup") {
    post_event("PodGroup", ns, name, pending.uid, "Warning", pending.reason, pending.message);
    return true;
  }
  const std::string path = fmt::format("/api/v1/namespaces/{}/pods/{}/status", ns, name);
  // kube-scheduler's two condition reasons: a gated pod is SchedulingGated and gets no Event
  // (it was never tried), everything else is Unschedulable with the message.
  const bool gated = pending.reason == reasons::kSchedulingGated;
  const auto response =
      writer_.request("PATCH", path,
                      k8s::unschedulable_condition_patch(
                          gated ? reasons::kSchedulingGated : reasons::kUnschedulable,
                          pending.message, now_rfc3339()),
                      "application/strategic-merge-patch+json");
  if (response && response->ok()) {
    ++stats_.status_writes;
  } else if (!response || response->status != 404) {
    log::warn("could not update pod condition",
              {{"pod", pending.pod},
               {"code", std::to_string(response ? response->status : 0)},
               {"error", k8s::describe_api_error(response)}});
  }
  if (!gated) {
    post_event("Pod", ns, name, pending.uid, "Warning", std::string(reasons::kFailedScheduling),
               pending.message);
  }
  return !transient(response);
}

void Actuator::post_event(const std::string& kind, const std::string& ns, const std::string& name,
                          const std::string& uid, const std::string& type,
                          const std::string& reason, const std::string& message) {
  k8s::EventSpec event;
  event.namespace_ = ns;
  event.involved_kind = kind;
  event.involved_name = name;
  event.involved_uid = uid;
  event.involved_api_version = kind == "Pod" ? "v1" : "scheduling.fairway.dev/v1alpha1";
  event.type = type;
  event.reason = reason;
  event.message = message;
  switch (events_.record(event)) {
    case EventRecorder::Outcome::kCreated:
    case EventRecorder::Outcome::kUpdated:
      ++stats_.events;
      break;
    case EventRecorder::Outcome::kDropped:
      ++stats_.events_dropped;
      break;
    case EventRecorder::Outcome::kFailed:
      break;
  }
}

}  // namespace fairway
