#include "scheduler/service/event_recorder.h"

#include <fmt/chrono.h>
#include <fmt/format.h>

#include <chrono>
#include <nlohmann/json.hpp>

#include "k8s-client/api_error.h"
#include "scheduler/service/log.h"

namespace fairway {
namespace {

// core/v1 Event timestamps are RFC 3339 to the second.
std::string rfc3339(int64_t epoch_ms) {
  const std::chrono::sys_seconds at{std::chrono::seconds(epoch_ms / 1000)};
  return fmt::format("{:%Y-%m-%dT%H:%M:%S}Z", at);
}

EventIdentity identity(const k8s::EventSpec& event) {
  return EventIdentity{.source = event.reporting_component,
                       .kind = event.involved_kind,
                       .namespace_ = event.namespace_,
                       .name = event.involved_name,
                       .uid = event.involved_uid,
                       .api_version = event.involved_api_version,
                       .type = event.type,
                       .reason = event.reason};
}

// Events about cluster-scoped objects live in "default" (k8s::event_body).
std::string events_path(const k8s::EventSpec& event) {
  return fmt::format("/api/v1/namespaces/{}/events",
                     event.namespace_.empty() ? "default" : event.namespace_);
}

void warn_failed(const k8s::EventSpec& event, const char* verb, const WriteResult& response) {
  log::warn("could not write event",
            {{"object", event.involved_kind + "/" + event.namespace_ + "/" + event.involved_name},
             {"reason", event.reason},
             {"verb", verb},
             {"code", std::to_string(response.status)},
             {"error", response.error}});
}

}  // namespace

EventRecorder::EventRecorder(ClusterWriter& client, const Clock& clock,
                             EventCorrelatorOptions options)
    : client_(client), clock_(clock), correlator_(options) {}

EventRecorder::Outcome EventRecorder::record(const k8s::EventSpec& event) {
  std::lock_guard lock(mutex_);
  const CorrelatedEvent correlated =
      correlator_.correlate(identity(event), event.message, clock_.wall_ms());
  switch (correlated.write) {
    case CorrelatedEvent::Write::kSkip:
      return Outcome::kDropped;
    case CorrelatedEvent::Write::kCreate:
      return create(event, correlated);
    case CorrelatedEvent::Write::kPatch:
      break;
  }
  const nlohmann::json patch = {{"count", correlated.count},
                                {"lastTimestamp", rfc3339(correlated.last_ms)},
                                {"message", correlated.message}};
  const WriteResult response =
      client_.patch(events_path(event) + "/" + correlated.name, patch.dump(), kStrategicMergePatch);
  if (response.ok()) return Outcome::kUpdated;
  if (response.status == 404) {
    // Expired (Events live an hour) or deleted: the recorder creates it again, count and all.
    correlator_.forget_name(correlated.key);
    return create(event, correlated);
  }
  warn_failed(event, "PATCH", response);
  return Outcome::kFailed;
}

EventRecorder::Outcome EventRecorder::create(const k8s::EventSpec& event,
                                             const CorrelatedEvent& correlated) {
  k8s::EventSpec body = event;
  body.message = correlated.message;
  body.count = correlated.count;
  body.first_timestamp = rfc3339(correlated.first_ms);
  const WriteResult response =
      client_.create(events_path(event), k8s::event_body(body, rfc3339(correlated.last_ms)));
  if (!response.ok()) {
    warn_failed(event, "POST", response);
    return Outcome::kFailed;
  }
  // The server named it (generateName): repeats patch that Event.
  const auto created = nlohmann::json::parse(response.body, nullptr, /*allow_exceptions=*/false);
  const auto* metadata =
      created.is_object() && created.contains("metadata") ? &created["metadata"] : nullptr;
  if (metadata != nullptr && metadata->is_object() && metadata->contains("name") &&
      (*metadata)["name"].is_string()) {
    correlator_.remember_name(correlated.key, (*metadata)["name"].get<std::string>());
  }
  return Outcome::kCreated;
}

}  // namespace fairway
