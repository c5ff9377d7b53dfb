#include "k8s-client/objects.h"

// Decoders use simdjson's DOM API (runtime-dispatched AVX2/AVX-512 kernels from libsimdjson; see
// "Why the DOM API" below), with one parser per thread reused across calls. Every object is
// iterated field by field once (not looked up by key), which is both the fastest access pattern
// and independent of the order the server writes fields in. Building the structs is mostly
// allocation: vectors are reserved from the array size the tape records, and maps (labels,
// annotations, resource lists) are appended at the end since Go writes map keys sorted.
// decode_list(std::string&) parses a body the caller owns in place (RestClient reserves the
// padding), saving the padded copy the string_view form makes.
//
// Errors are values all the way: simdjson's error-code API is used throughout (no exceptions),
// and a failure carries the path of the field it happened in, built back to front as it
// propagates ("resources.requests.cpu" → "containers[0].resources…" → "spec.containers[0]…").

#include <fmt/format.h>
#include <simdjson.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "k8s-client/decode_support.h"

// What every kind shares lives in decode_support.h; here: ParsedDocument, metav1.Status and
// the names of watch events. Each kind has its own file (decode_pods.cpp, decode_nodes.cpp,
// decode_queues.cpp, decode_podgroups.cpp, decode_workloads.cpp, decode_cluster_kinds.cpp,
// decode_storage.cpp, decode_dra.cpp; decode_selectors.cpp for readers several kinds share);
// time_text.cpp parses times and durations; encoders.cpp writes request bodies.

namespace fairway::k8s {

using decoding::read_status;

const char* watch_event_kind_name(WatchEventKind kind) {
  switch (kind) {
    case WatchEventKind::kAdded:
      return "ADDED";
    case WatchEventKind::kModified:
      return "MODIFIED";
    case WatchEventKind::kDeleted:
      return "DELETED";
    case WatchEventKind::kBookmark:
      return "BOOKMARK";
    case WatchEventKind::kError:
      return "ERROR";
  }
  return "UNKNOWN";
}

ParsedDocument::ParsedDocument(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ParsedDocument::ParsedDocument(ParsedDocument&&) noexcept = default;
ParsedDocument& ParsedDocument::operator=(ParsedDocument&&) noexcept = default;
ParsedDocument::~ParsedDocument() = default;

tl::expected<ParsedDocument, std::string> ParsedDocument::parse(std::string_view json) {
  auto impl = std::make_unique<Impl>();
  // The DOM keeps its strings in the parser's own buffer: the padded copy is not needed after.
  const simdjson::padded_string padded(json);
  if (auto code = impl->parser.parse(padded).get(impl->root)) {
    return tl::unexpected(std::string(simdjson::error_message(code)));
  }
  return ParsedDocument(std::move(impl));
}

bool ParsedDocument::contains(std::string_view json_pointer) const {
  dom::element value;
  return !impl_->root.at_pointer(json_pointer).get(value);
}

std::optional<std::string_view> ParsedDocument::string_at(std::string_view json_pointer) const {
  std::string_view value;
  if (impl_->root.at_pointer(json_pointer).get_string().get(value)) return std::nullopt;
  return value;
}

std::optional<size_t> ParsedDocument::list_size(std::string_view json_pointer) const {
  dom::array items;
  if (impl_->root.at_pointer(json_pointer)["items"].get_array().get(items)) return std::nullopt;
  return items.size();
}

tl::expected<ApiStatus, std::string> decode_status(std::string_view json) {
  auto root = object_context().parse(json);
  if (!root) return tl::unexpected(root.error());
  ApiStatus status;
  if (R r = read_status(*root, status); !r) return tl::unexpected(describe(r.error()));
  return status;
}

}  // namespace fairway::k8s
