// The request bodies fairway writes: Binding, Eviction, the PodScheduled condition patch, Events.
#include <algorithm>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "k8s-client/objects.h"

namespace fairway::k8s {

namespace {
// Invalid UTF-8 (from a pod name in a message, say) is replaced rather than thrown on.
std::string dump(const nlohmann::json& body) {
  return body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}
}  // namespace

std::string binding_body(std::string_view ns, std::string_view pod, std::string_view uid,
                         std::string_view node) {
  nlohmann::json metadata = {{"name", pod}, {"namespace", ns}};
  // The uid makes the bind conditional on the pod not having been recreated under the same name.
  if (!uid.empty()) metadata["uid"] = uid;
  const nlohmann::json body = {
      {"apiVersion", "v1"},
      {"kind", "Binding"},
      {"metadata", std::move(metadata)},
      {"target", {{"apiVersion", "v1"}, {"kind", "Node"}, {"name", node}}},
  };
  return dump(body);
}

std::string eviction_body(std::string_view ns, std::string_view pod, std::string_view api_version) {
  const nlohmann::json body = {
      {"apiVersion", api_version},
      {"kind", "Eviction"},
      {"metadata", {{"name", pod}, {"namespace", ns}}},
  };
  return dump(body);
}

std::string unschedulable_condition_patch(std::string_view reason, std::string_view message,
                                          std::string_view now_rfc3339) {
  // As a JSON merge patch this replaces status.conditions; a pending, unbound pod carries no
  // other condition. As a strategic merge patch the same body merges by condition type.
  const nlohmann::json body = {
      {"status",
       {{"conditions", nlohmann::json::array({{
                           {"type", "PodScheduled"},
                           {"status", "False"},
                           {"reason", reason},
                           {"message", message},
                           {"lastProbeTime", nullptr},
                           {"lastTransitionTime", now_rfc3339},
                       }})}}},
  };
  return dump(body);
}

std::string event_body(const EventSpec& event, std::string_view now_rfc3339) {
  // Events about cluster-scoped objects (Queue, Node) live in "default", as kubectl expects.
  const std::string ns = event.namespace_.empty() ? "default" : event.namespace_;
  nlohmann::json involved = {
      {"kind", event.involved_kind},
      {"name", event.involved_name},
      {"apiVersion", event.involved_api_version.empty() ? "v1" : event.involved_api_version},
  };
  if (!event.namespace_.empty()) involved["namespace"] = event.namespace_;
  if (!event.involved_uid.empty()) involved["uid"] = event.involved_uid;
  const nlohmann::json body = {
      {"apiVersion", "v1"},
      {"kind", "Event"},
      {"metadata", {{"generateName", event.involved_name + "."}, {"namespace", ns}}},
      {"involvedObject", std::move(involved)},
      {"reason", event.reason},
      {"message", event.message},
      {"type", event.type},
      {"source", {{"component", event.reporting_component}}},
      {"firstTimestamp",
       event.first_timestamp.empty() ? std::string(now_rfc3339) : event.first_timestamp},
      {"lastTimestamp", now_rfc3339},
      {"count", std::max(event.count, 1)},
      {"reportingComponent", event.reporting_component},
      {"reportingInstance", event.reporting_component},
  };
  return dump(body);
}

}  // namespace fairway::k8s
