#pragma once
// Decoding Kubernetes JSON (simdjson, straight into the plain structs of scheduler/state/model.h)
// and encoding the bodies fairway writes. Decoders never throw: a malformed object becomes an
// error value naming the field. Annotations keep everything but kubectl's
// last-applied-configuration (a copy of the manifest, often kilobytes, useless to a scheduler).

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <tl/expected.hpp>
#include <vector>

#include "queues/queue_spec.h"
#include "scheduler/dra/model.h"
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
// Any workload kind owner inference reads (Job, PyTorchJob, JobSet, ...; scheduler/state/gangs.h).
// Items of typed lists carry no kind: the caller sets kind and apiVersion from what it watches.
tl::expected<Decoded<Workload>, std::string> decode_workload(std::string_view json);
// Kubernetes 1.35's scheduling.k8s.io/v1alpha1 Workload (the pod groups spec.workloadRef names).
tl::expected<Decoded<UpstreamWorkload>, std::string> decode_upstream_workload(
    std::string_view json);
tl::expected<Decoded<PriorityClass>, std::string> decode_priority_class(std::string_view json);
tl::expected<Decoded<Namespace>, std::string> decode_namespace(std::string_view json);
tl::expected<Decoded<PersistentVolume>, std::string> decode_persistent_volume(
    std::string_view json);
tl::expected<Decoded<PersistentVolumeClaim>, std::string> decode_persistent_volume_claim(
    std::string_view json);
tl::expected<Decoded<StorageClass>, std::string> decode_storage_class(std::string_view json);
tl::expected<Decoded<CsiNode>, std::string> decode_csi_node(std::string_view json);
// Dynamic Resource Allocation, resource.k8s.io/v1 (dra_objects.cpp): the object is decoded by
// scheduler/dra/decode.h, with the same field-naming errors; the metadata as for every kind. A
// ResourceClaim's resource_version is its metadata.resourceVersion.
tl::expected<Decoded<dra::ResourceSlice>, std::string> decode_resource_slice(std::string_view json);
tl::expected<Decoded<dra::DeviceClass>, std::string> decode_device_class(std::string_view json);
tl::expected<Decoded<dra::ResourceClaim>, std::string> decode_resource_claim(std::string_view json);
tl::expected<Decoded<dra::ResourceClaimTemplate>, std::string> decode_resource_claim_template(
    std::string_view json);

// The built-in decoder for T (one of Pod, Node, QueueSpec, PodGroup, TopologySpec, PriorityClass,
// Namespace, PersistentVolume, PersistentVolumeClaim, StorageClass, CsiNode, and the four DRA
// kinds):
// decode_object<Pod> is decode_pod, and so on.
template <typename T>
tl::expected<Decoded<T>, std::string> decode_object(std::string_view json);
// The object at `json_pointer` (RFC 6901, e.g. "/request/object") inside a larger document,
// decoded straight from the document's text: one simdjson parse (iterative, depth-limited), no
// re-serialisation of the enclosing document. An error when the pointer names nothing.
template <typename T>
tl::expected<Decoded<T>, std::string> decode_object_at(std::string_view json,
                                                       std::string_view json_pointer);
template <typename T>
using ObjectDecoder = tl::expected<Decoded<T>, std::string> (*)(std::string_view json);

// An object of a list or watch stream that could not be decoded. `key` is namespace/name when the
// metadata could still be read (a reflector keeps such keys alive instead of deleting them).
struct ItemError {
  std::string key;
  std::string message;
};

// A LIST answer: {"metadata":{"resourceVersion","continue"},"items":[...]}. A bad item does not
// fail the list: it lands in `errors` ("items[3]: spec.priority: ..."); a malformed envelope does.
template <typename T>
struct DecodedList {
  std::string resource_version;
  std::string continue_token;  // empty on the last page
  std::vector<Decoded<T>> items;
  std::vector<ItemError> errors;
};
template <typename T>
tl::expected<DecodedList<T>, std::string> decode_list(std::string_view json);
// The same for a body the caller owns and hands over for the call: parsed in place, without
// the padded copy the string_view form makes (~10% of a large LIST), when the string's capacity
// has kListPadding bytes to spare past its size (RestClient's bodies do); otherwise the string
// grows once (which moves its buffer). Its contents are unchanged afterwards.
inline constexpr size_t kListPadding = 64;  // == SIMDJSON_PADDING (checked in decode_support.h)
template <typename T>
tl::expected<DecodedList<T>, std::string> decode_list(std::string& json);
// The same with a caller-provided item decoder (fed each item's raw JSON; slower: two passes).
template <typename T>
tl::expected<DecodedList<T>, std::string> decode_list(std::string_view json,
                                                      ObjectDecoder<T> item_decoder);

// One JSON document parsed once, holding several LIST envelopes (a `fairway snapshot`): each
// list's items decode with the built-in decoders straight from the parse, one at a time, with
// no re-serialisation of the list and no vector of every decoded item.
class ParsedDocument {
 public:
  static tl::expected<ParsedDocument, std::string> parse(std::string_view json);
  ParsedDocument(ParsedDocument&&) noexcept;
  ParsedDocument& operator=(ParsedDocument&&) noexcept;
  ~ParsedDocument();

  bool contains(std::string_view json_pointer) const;
  // The string at `json_pointer` (RFC 6901); nullopt when absent or not a string.
  std::optional<std::string_view> string_at(std::string_view json_pointer) const;
  // The number of items of the LIST envelope at `json_pointer`; nullopt when there is none.
  std::optional<size_t> list_size(std::string_view json_pointer) const;
  // Decodes each item of the LIST envelope at `json_pointer` and hands it to `each` at once.
  // Items that do not decode are returned as decode_list reports them ("items[3]: ..."); an
  // envelope that is not an object, or items that are not an array, is an error.
  template <typename T>
  tl::expected<std::vector<ItemError>, std::string> for_each_item(
      std::string_view json_pointer, const std::function<void(Decoded<T>&&)>& each) const;

 private:
  struct Impl;
  explicit ParsedDocument(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// metav1.Status, as carried by ERROR watch events and non-2xx answers.
struct ApiStatus {
  int code = 0;        // 410 on ERROR events: the watch's resourceVersion is too old → relist
  std::string reason;  // "Expired", "Gone", "NotFound", "Conflict", ...
  std::string message;
};
// Decodes a Status body; fields missing stay default. Never fails on well-formed JSON.
tl::expected<ApiStatus, std::string> decode_status(std::string_view json);

enum class WatchEventKind { kAdded, kModified, kDeleted, kBookmark, kError };
const char* watch_event_kind_name(WatchEventKind kind);

// One line of a watch stream: {"type":"ADDED","object":{...}}.
//   ADDED/MODIFIED/DELETED: `object` is decoded with T's decoder;
//   BOOKMARK: only object.meta.resource_version is set;
//   ERROR: `status` holds the Status object (code 410: relist).
// The result is an error only when the envelope itself is unreadable (→ relist). An object that
// does not decode sets `object_error` instead, with `object.meta` filled as far as it was read
// (usually complete: metadata comes first), so a watcher can keep its resourceVersion and go on.
template <typename T>
struct WatchEvent {
  WatchEventKind kind = WatchEventKind::kAdded;
  Decoded<T> object;
  ApiStatus status;
  std::string object_error;  // empty: `object` is complete
};
template <typename T>
tl::expected<WatchEvent<T>, std::string> decode_watch_event(std::string_view json);
template <typename T>
tl::expected<WatchEvent<T>, std::string> decode_watch_event(std::string_view json,
                                                            ObjectDecoder<T> object_decoder);

// Small parsers the decoders use, exposed for tests and other edges.
// RFC 3339 ("2024-05-01T12:00:00Z", "…T12:00:00.123456+02:00") → milliseconds since the epoch.
tl::expected<int64_t, std::string> parse_rfc3339_ms(std::string_view text);
// Go duration ("90s", "5m", "1h30m", "1.5h", "250ms") → whole seconds, truncated.
tl::expected<int64_t, std::string> parse_go_duration_seconds(std::string_view text);
// Milliseconds since the epoch → "2024-05-01T12:00:00Z" (metav1.Time) or, with micro,
// "2024-05-01T12:00:00.123000Z" (metav1.MicroTime, used by Leases).
std::string format_rfc3339(int64_t epoch_ms, bool micro = false);

// Request bodies.
std::string binding_body(std::string_view ns, std::string_view pod, std::string_view uid,
                         std::string_view node);
// api_version: "policy/v1", or "policy/v1beta1" where discovery shows the server lacks v1 (the
// Eviction kind is policy/v1 from Kubernetes 1.22).
std::string eviction_body(std::string_view ns, std::string_view pod,
                          std::string_view api_version = "policy/v1");
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
  // A repeat the recorder creates afresh (scheduler/service/event_recorder.h) carries its count
  // and first occurrence; empty first_timestamp: now.
  int count = 1;
  std::string first_timestamp;
};
std::string event_body(const EventSpec& event, std::string_view now_rfc3339);

}  // namespace fairway::k8s
