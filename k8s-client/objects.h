#pragma once
// Decoding Kubernetes JSON (simdjson, straight into the plain structs of scheduler/state/model.h)
// and encoding the bodies fairway writes. Decoders never throw: a malformed object becomes an
// error value naming the field.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <tl/expected.hpp>

#include "queues/queue_spec.h"
#include "scheduler/state/model.h"
#include "topology/topology_spec.h"

namespace fairway::k8s {

// Common metadata every watched object carries.
struct ObjectMeta {
  std::string namespace_;
  std::string name;
  std::string uid;
  std::string resource_version;
  std::string key() const { return namespace_.empty() ? name : namespace_ + "/" + name; }
};

// A decoded object plus its metadata (decoders fill both).
template <typename T>
struct Decoded {
  ObjectMeta meta;
  T object;
};

tl::expected<Decoded<Pod>, std::string> decode_pod(std::string_view json);
tl::expected<Decoded<Node>, std::string> decode_node(std::string_view json);
tl::expected<Decoded<QueueSpec>, std::string> decode_queue(std::string_view json);
tl::expected<Decoded<PodGroup>, std::string> decode_pod_group(std::string_view json);
tl::expected<Decoded<TopologySpec>, std::string> decode_topology(std::string_view json);
tl::expected<Decoded<PriorityClass>, std::string> decode_priority_class(std::string_view json);

// Request bodies.
std::string binding_body(std::string_view ns, std::string_view pod, std::string_view uid,
                         std::string_view node);
std::string eviction_body(std::string_view ns, std::string_view pod);
// PodScheduled=False/Unschedulable condition as a strategic-merge-free JSON merge patch of status.
std::string unschedulable_condition_patch(std::string_view reason, std::string_view message,
                                          std::string_view now_rfc3339);
struct EventSpec {
  std::string namespace_;
  std::string involved_kind;  // Pod, PodGroup, Queue
  std::string involved_name;
  std::string involved_uid;
  std::string involved_api_version;  // v1, scheduling.fairway.dev/v1alpha1
  std::string type = "Normal";       // Normal | Warning
  std::string reason;                // Scheduled, FailedScheduling, ...
  std::string message;
  std::string reporting_component = "fairway";
};
std::string event_body(const EventSpec& event, std::string_view now_rfc3339);

}  // namespace fairway::k8s
