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

std::string now_rfc3339(const Clock& clock) {
  const auto now = std::chrono::floor<std::chrono::seconds>(clock.wall());
  return fmt::format("{:%Y-%m-%dT%H:%M:%S}Z", now);
}

// The back-off before a failed write's retry number `attempt` + 1.
Clock::duration retry_delay(int attempt) {
  return std::min<std::chrono::milliseconds>(kFirstRetry * (1 << std::min(attempt, 5)), kMaxRetry);
}

}  // namespace

Actuator::Actuator(ClusterWriter& client, int bind_workers, Hooks hooks,
                   VolumeBinderOptions volumes, ClusterWriter* writer, const Clock& clock,
                   bool threads)
    : clock_(clock),
      client_(client),
      writer_(writer != nullptr ? *writer : client),
      hooks_(std::move(hooks)),
      volume_binder_(client, volumes, clock),
      claim_writer_(client),
      events_(writer_, clock),
      binds_(clock, threads ? std::max(bind_workers, 1) : 0,
             [this](Binding& binding, int) -> std::optional<Clock::duration> {
               do_bind(binding);
               --in_flight_;
               return std::nullopt;
             }),
      writes_(
          clock, threads ? 1 : 0,
          [this](Write& write, int attempt) { return do_write(write, attempt); },
          kMaxQueuedEvents) {}

Actuator::~Actuator() {
  stop();
}

void Actuator::bind(Binding binding) {
  ++in_flight_;
  if (!binds_.add(std::move(binding))) --in_flight_;
}

void Actuator::explain(Unschedulable pending) {
  std::string key = pending.kind + "/" + pending.pod;
  Write write;
  write.pending = std::move(pending);
  writes_.add(std::move(write), std::move(key));
}

void Actuator::forget_explanation(const std::string& pod) {
  // Queued, waiting for a retry or being written: a placed pod's explanation is not written again.
  writes_.forget("Pod/" + pod);
}

void Actuator::scheduled(const Binding& binding) {
  Write write;
  write.kind = Write::Kind::kScheduled;
  write.binding = binding;
  writes_.add(std::move(write));
  writes_.forget("Pod/" + binding.pod);  // placed: nothing to explain
}

void Actuator::patch_status(std::string path, std::string merge_patch) {
  std::string key = "status " + path;
  Write write;
  write.kind = Write::Kind::kStatus;
  write.path = std::move(path);
  write.body = std::move(merge_patch);
  writes_.add(std::move(write), std::move(key));
}

void Actuator::apply_object(std::string path, std::string body) {
  std::string key = "object " + path;
  Write write;
  write.kind = Write::Kind::kObject;
  write.path = std::move(path);
  write.body = std::move(body);
  writes_.add(std::move(write), std::move(key));
}

void Actuator::stop() {
  // Explanations are re-derived by the next leader's cycles: the writes still queued are dropped.
  writes_.stop(WorkQueue<Write>::Stop::kDrop);
  volume_binder_.stop();
  binds_.stop(WorkQueue<Binding>::Stop::kDrain);
}

size_t Actuator::run_pending() {
  size_t ran = 0;
  for (;;) {
    const size_t now = binds_.run_due() + writes_.run_due();
    if (now == 0) return ran;
    ran += now;
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
  const WriteResult response = client_.bind(ns, name, binding.uid, binding.node);
  if (!response.ok() && response.status != 409) {
    if (!volumes.empty()) volume_binder_.rollback(volumes);
    if (!claims.empty()) claim_writer_.rollback(binding, claims);
  }
  if (!response.answered()) {
    ++stats_.bind_errors;
    log::warn("bind failed",
              {{"pod", binding.pod}, {"node", binding.node}, {"error", response.message}});
    hooks_.on_failed(binding, response.message);
    return;
  }
  if (response.ok()) {
    ++stats_.binds;
    if (hooks_.on_bound) hooks_.on_bound(binding);
    log::debug("bound", {{"pod", binding.pod}, {"node", binding.node}, {"queue", binding.queue}});
    scheduled(binding);
    return;
  }
  if (response.status == 409) {
    // Already assigned (by an earlier attempt of ours or by someone else): the pod's watch event
    // carries the node it really went to, and the state follows that, so nothing is counted twice.
    ++stats_.bind_conflicts;
    log::info("pod already bound", {{"pod", binding.pod}, {"node", binding.node}});
    return;
  }
  if (response.status == 404) {
    log::debug("pod vanished before binding", {{"pod", binding.pod}});
    hooks_.on_failed(binding, "pod not found");
    return;
  }
  ++stats_.bind_errors;
  const std::string& error = response.error;
  log::warn("bind rejected", {{"pod", binding.pod},
                              {"node", binding.node},
                              {"code", std::to_string(response.status)},
                              {"error", error}});
  hooks_.on_failed(binding, "binding rejected: " + error);
}

std::optional<Clock::duration> Actuator::do_write(Write& write, int attempt) {
  switch (write.kind) {
    case Write::Kind::kExplain:
      if (do_explain(write.pending)) return std::nullopt;
      return retry_delay(attempt);
    case Write::Kind::kStatus:
      if (do_patch_status(write.path, write.body)) return std::nullopt;
      return retry_delay(attempt);
    case Write::Kind::kObject:
      do_apply_object(write.path, write.body);
      return std::nullopt;
    case Write::Kind::kScheduled: {
      if (!hooks_.may_write()) return std::nullopt;
      const Binding& binding = write.binding;
      const auto [ns, name] = split_key(binding.pod);
      post_event("Pod", ns, name, binding.uid, "Normal", std::string(reasons::kScheduled),
                 fmt::format("Successfully assigned {} to {}", binding.pod, binding.node));
      return std::nullopt;
    }
  }
  return std::nullopt;  // not reached: every kind is handled
}

bool Actuator::do_patch_status(const std::string& path, const std::string& patch) {
  // Not leading: the next term publishes afresh (the loop forgets what it wrote on lease loss).
  if (!hooks_.may_write()) return true;
  const WriteResult response = writer_.patch(path, patch, kMergePatch);
  if (response.ok()) {
    ++stats_.status_writes;
    return true;
  }
  if (response.status != 404) {
    // The Status's reason, message and field causes: a 422 names the field it refused.
    log::warn(
        "could not write status",
        {{"path", path}, {"code", std::to_string(response.status)}, {"error", response.error}});
  }
  return !response.transient();
}

void Actuator::do_apply_object(const std::string& path, const std::string& body) {
  if (!hooks_.may_write()) return;
  WriteResult response = writer_.create(path.substr(0, path.rfind('/')), body);
  if (response.status == 409) response = writer_.patch(path, body, kMergePatch);
  if (!response.ok()) {
    log::warn(
        "could not write object",
        {{"path", path}, {"code", std::to_string(response.status)}, {"error", response.error}});
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
  const WriteResult response =
      writer_.patch(path,
                    k8s::unschedulable_condition_patch(
                        gated ? reasons::kSchedulingGated : reasons::kUnschedulable,
                        pending.message, now_rfc3339(clock_)),
                    kStrategicMergePatch);
  if (response.ok()) {
    ++stats_.status_writes;
  } else if (response.status != 404) {
    log::warn("could not update pod condition", {{"pod", pending.pod},
                                                 {"code", std::to_string(response.status)},
                                                 {"error", response.error}});
  }
  if (!gated) {
    post_event("Pod", ns, name, pending.uid, "Warning", std::string(reasons::kFailedScheduling),
               pending.message);
  }
  return !response.transient();
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
