#pragma once
// Private to k8s-client: what the per-kind decoders (decode_*.cpp) share. The error value R and
// its path, reading simdjson's DOM field by field, metadata, quantities and times; the Codec<T>
// each kind specializes; the documents around objects (one object, a LIST, a watch event) as
// templates that each kind's file instantiates for its types (FAIRWAY_K8S_INSTANTIATE).

#include <fmt/format.h>
#include <simdjson.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstring>
#include <functional>
#include <iterator>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "k8s-client/objects.h"
#include "queues/quantity.h"

namespace fairway::k8s::decoding {

namespace dom = simdjson::dom;

// A failure inside a decoder: where (a dotted path, grown while unwinding) and what.
struct Err {
  std::string path;
  std::string what;
};
// The result of every decoding step. Success is a null pointer, so the happy path (millions of
// fields per LIST) costs a register, not a 70-byte tl::expected moved through each level.
class [[nodiscard]] R {
 public:
  R() = default;
  R(tl::unexpected<Err> failure) : error_(std::make_unique<Err>(std::move(failure.value()))) {}
  explicit operator bool() const { return error_ == nullptr; }
  Err& error() { return *error_; }

 private:
  std::unique_ptr<Err> error_;
};

inline tl::unexpected<Err> fail(std::string what) {
  return tl::unexpected(Err{{}, std::move(what)});
}
inline tl::unexpected<Err> fail(simdjson::error_code code) {
  return tl::unexpected(Err{{}, simdjson::error_message(code)});
}

// Prepends a path segment: "spec" + "containers[0]" → "spec.containers[0]"; "[0]" joins bare.
inline R within(std::string_view segment, R result) {
  if (result) return result;
  Err& err = result.error();
  if (err.path.empty()) {
    err.path = segment;
  } else {
    err.path.insert(0, err.path.front() == '[' ? std::string(segment) : std::string(segment) + ".");
  }
  return result;
}
inline R within_index(std::string_view segment, size_t index, R result) {
  if (result) return result;
  return within(fmt::format("{}[{}]", segment, index), std::move(result));
}

inline std::string describe(const Err& err) {
  return err.path.empty() ? err.what : err.path + ": " + err.what;
}

inline bool is_null(dom::element value) {
  return value.is_null();
}

// Calls fn(key, value) for each field of an object; null counts as an empty object (Go's
// omitempty is not universal: "labels": null does occur).
template <typename Fn>
inline R for_each_field(dom::object object, Fn&& fn) {
  for (dom::key_value_pair field : object) {
    if (R r = fn(field.key, field.value); !r) return r;
  }
  return {};
}
template <typename Fn>
inline R for_each_field(dom::element value, Fn&& fn) {
  if (is_null(value)) return {};
  dom::object object;
  if (auto code = value.get_object().get(object)) return fail(code);
  return for_each_field(object, std::forward<Fn>(fn));
}

// Calls fn(index, value) for each element; null counts as empty.
template <typename Fn>
inline R for_each_element(dom::element value, Fn&& fn) {
  if (is_null(value)) return {};
  dom::array array;
  if (auto code = value.get_array().get(array)) return fail(code);
  size_t index = 0;
  for (dom::element element : array) {
    if (R r = fn(index, element); !r) return r;
    ++index;
  }
  return {};
}

// Reserves room for an array's elements up front (the DOM tape knows the count), so a vector
// of structs is allocated once instead of growing 1→2→4 and moving what it holds.
template <typename V>
void reserve_for(dom::element value, V& out) {
  dom::array array;
  if (!value.get_array().get(array)) out.reserve(out.size() + array.size());
}

inline R read_string(dom::element value, std::string& out) {
  if (is_null(value)) {
    out.clear();
    return {};
  }
  std::string_view text;
  if (auto code = value.get_string().get(text)) return fail(code);
  out.assign(text);
  return {};
}

inline R read_bool(dom::element value, bool& out) {
  if (is_null(value)) return {};
  if (auto code = value.get_bool().get(out)) return fail(code);
  return {};
}

inline R read_int64(dom::element value, int64_t& out) {
  if (auto code = value.get_int64().get(out)) return fail(code);
  return {};
}

inline R read_int32(dom::element value, int32_t& out) {
  int64_t wide = 0;
  if (R r = read_int64(value, wide); !r) return r;
  if (wide < std::numeric_limits<int32_t>::min() || wide > std::numeric_limits<int32_t>::max()) {
    return fail(fmt::format("{} is out of the int32 range", wide));
  }
  out = static_cast<int32_t>(wide);
  return {};
}

inline R read_double(dom::element value, double& out) {
  if (auto code = value.get_double().get(out)) return fail(code);
  return {};
}

// Go maps are written with sorted keys, so appending at the end is the common case.
// Reserves room for an object's fields up front (the DOM tape knows the count): one allocation
// per flat map.
template <typename M>
void reserve_fields(dom::element value, M& out) {
  dom::object object;
  if (!value.get_object().get(object)) out.reserve(out.size() + object.size());
}

inline R read_string_map(dom::element value, Labels& out) {
  reserve_fields(value, out);
  return for_each_field(value, [&](std::string_view key, dom::element field) -> R {
    std::string_view text;
    if (auto code = field.get_string().get(text)) return within(key, fail(code));
    out.emplace_hint(out.end(), key, text);
    return {};
  });
}

// kubectl's copy of the whole manifest: often kilobytes per pod, never needed to schedule.
inline constexpr std::string_view kLastApplied = "kubectl.kubernetes.io/last-applied-configuration";

inline R read_annotations(dom::element value, Labels& out) {
  reserve_fields(value, out);
  return for_each_field(value, [&](std::string_view key, dom::element field) -> R {
    std::string_view text;
    if (auto code = field.get_string().get(text)) return within(key, fail(code));
    if (key != kLastApplied) out.emplace_hint(out.end(), key, text);
    return {};
  });
}

// A resource.Quantity: a string ("500m", "16Gi") or, from hand-written manifests, a JSON number.
inline R read_quantity(dom::element value, std::string_view resource, int64_t& out) {
  std::string number_text;
  std::string_view text;
  switch (value.type()) {
    case dom::element_type::STRING:
      text = value.get_string().value_unsafe();
      break;
    case dom::element_type::INT64:
      number_text = fmt::format("{}", value.get_int64().value_unsafe());
      text = number_text;
      break;
    case dom::element_type::UINT64:
      number_text = fmt::format("{}", value.get_uint64().value_unsafe());
      text = number_text;
      break;
    case dom::element_type::DOUBLE:
      // Shortest round-trip form: 0.5 stays "0.5", so the quantity parser sees what was typed.
      number_text = fmt::format("{}", value.get_double().value_unsafe());
      text = number_text;
      break;
    default:
      return fail("quantity must be a string or a number");
  }
  auto parsed = parse_resource_quantity(resource, text);
  if (!parsed) return fail(parsed.error());
  out = *parsed;
  return {};
}

inline R read_resource_list(dom::element value, ResourceList& out) {
  reserve_fields(value, out);
  return for_each_field(value, [&](std::string_view key, dom::element field) -> R {
    int64_t quantity = 0;
    if (R r = read_quantity(field, key, quantity); !r) return within(key, std::move(r));
    // Go writes maps sorted, so this appends; a duplicate key keeps the last value.
    out.insert_or_assign(key, quantity);
    return {};
  });
}

inline R read_time_ms(dom::element value, int64_t& out) {
  if (is_null(value)) return {};
  std::string_view text;
  if (auto code = value.get_string().get(text)) return fail(code);
  auto parsed = parse_rfc3339_ms(text);
  if (!parsed) return fail(parsed.error());
  out = *parsed;
  return {};
}

inline R read_duration_seconds(dom::element value, std::optional<int64_t>& out) {
  if (is_null(value)) return {};
  if (value.is_number()) {  // lenient: a bare number is seconds
    int64_t seconds = 0;
    if (R r = read_int64(value, seconds); !r) return r;
    out = seconds;
    return {};
  }
  std::string_view text;
  if (auto code = value.get_string().get(text)) return fail(code);
  auto parsed = parse_go_duration_seconds(text);
  if (!parsed) return fail(parsed.error());
  out = *parsed;
  return {};
}

// What metadata a kind wants besides ObjectMeta.
struct MetaSink {
  Labels* labels = nullptr;
  Labels* annotations = nullptr;
  int64_t* creation_ms = nullptr;
  bool* deleting = nullptr;
  OwnerRef* owner = nullptr;  // the controller owner reference
};

// metadata.ownerReferences: the one with controller: true.
inline R read_owner_refs(dom::element value, OwnerRef& out) {
  return for_each_element(value, [&](size_t i, dom::element element) -> R {
    bool controller = false;
    OwnerRef ref;
    R r = for_each_field(element, [&](std::string_view key, dom::element v) -> R {
      if (key == "controller")
        return is_null(v) ? R{} : within("controller", read_bool(v, controller));
      if (key == "apiVersion") return within("apiVersion", read_string(v, ref.api_version));
      if (key == "kind") return within("kind", read_string(v, ref.kind));
      if (key == "name") return within("name", read_string(v, ref.name));
      if (key == "uid") return within("uid", read_string(v, ref.uid));
      return {};
    });
    if (!r) return within_index("", i, std::move(r));
    if (controller) out = std::move(ref);
    return {};
  });
}

inline R read_meta(dom::element value, ObjectMeta& meta, const MetaSink& sink) {
  return for_each_field(value, [&](std::string_view key, dom::element field) -> R {
    if (key == "name") return within("name", read_string(field, meta.name));
    if (key == "namespace") return within("namespace", read_string(field, meta.namespace_));
    if (key == "uid") return within("uid", read_string(field, meta.uid));
    if (key == "resourceVersion") {
      return within("resourceVersion", read_string(field, meta.resource_version));
    }
    if (key == "labels" && sink.labels)
      return within("labels", read_string_map(field, *sink.labels));
    if (key == "annotations" && sink.annotations) {
      return within("annotations", read_annotations(field, *sink.annotations));
    }
    if (key == "creationTimestamp" && sink.creation_ms) {
      return within("creationTimestamp", read_time_ms(field, *sink.creation_ms));
    }
    if (key == "deletionTimestamp" && sink.deleting) {
      *sink.deleting = !is_null(field);
      return {};
    }
    if (key == "ownerReferences" && sink.owner) {
      return within("ownerReferences", read_owner_refs(field, *sink.owner));
    }
    return {};
  });
}

// ---- Readers more than one kind uses (decode_selectors.cpp) --------------------------------

tl::expected<TaintEffect, std::string> parse_effect(std::string_view text);
R read_node_selector_term(dom::element value, NodeSelectorTerm& term);
R read_node_selector_terms(dom::element value, std::vector<NodeSelectorTerm>& out);
// A node selector: {nodeSelectorTerms: [...]}.
R read_node_selector(dom::element value, std::vector<NodeSelectorTerm>& out);
R read_label_selector(dom::element value, LabelSelector& out);
// A selector where null means "selects nothing" (nullopt) and {} means "selects everything".
R read_optional_selector(dom::element value, std::optional<LabelSelector>& out);
R read_string_list(dom::element value, std::vector<std::string>& out);

// ---- Per-kind top level: each kind's file specializes Codec<T> ------------------------------

template <typename T>
struct Codec;

// ---- Documents ----------------------------------------------------------------------------

// simdjson reads up to SIMDJSON_PADDING bytes past the end of its input, so input is copied
// into a padded buffer owned by the thread (a memcpy is ~1% of the decode). Two contexts: the
// envelope of a list or watch event and, for caller-provided item decoders, the items decoded
// inside it (a DOM element is only valid until its parser parses again).
//
// Why the DOM API and not On-Demand: On-Demand is header-only and compiled for the build's
// target ISA (baseline x86-64 here, i.e. its scalar fallback), while the DOM parser in
// libsimdjson picks AVX2/AVX-512 kernels at run time. The tape walk afterwards is cheap.
static_assert(kListPadding == simdjson::SIMDJSON_PADDING);

struct ParseContext {
  dom::parser parser;
  std::vector<char> buffer;

  // Large LIST bodies would otherwise pin hundreds of MB per thread after the first sync: the
  // parser keeps tape and string buffers sized for the largest document it ever parsed.
  static constexpr size_t kKeepBytes = size_t{64} << 20;

  // Lets go of buffers sized for a document far larger than what usually follows (a LIST).
  void shrink() {
    if (parser.capacity() > kKeepBytes) parser = dom::parser{};
    if (buffer.capacity() > kKeepBytes) std::vector<char>().swap(buffer);
  }

  tl::expected<dom::element, std::string> parse(std::string_view json) {
    if (buffer.capacity() > kKeepBytes && json.size() + simdjson::SIMDJSON_PADDING < kKeepBytes) {
      std::vector<char>().swap(buffer);
      parser = dom::parser{};
    }
    buffer.resize(json.size() + simdjson::SIMDJSON_PADDING);
    std::memcpy(buffer.data(), json.data(), json.size());
    std::memset(buffer.data() + json.size(), 0, simdjson::SIMDJSON_PADDING);
    dom::element root;
    if (auto code = parser.parse(buffer.data(), json.size(), false).get(root)) {
      return tl::unexpected(std::string(simdjson::error_message(code)));
    }
    return root;
  }

  // Parses a caller-owned body in place: simdjson only needs SIMDJSON_PADDING readable bytes past
  // the end, which the string provides by growing into its spare capacity (no copy when the
  // capacity is already there, as for RestClient's bodies). The body is left as it was. DOM
  // strings live in the parser's own buffer, so nothing decoded points into the body.
  tl::expected<dom::element, std::string> parse_in_place(std::string& json) {
    const size_t size = json.size();
    json.resize(size + simdjson::SIMDJSON_PADDING, '\0');
    dom::element root;
    const auto code = parser.parse(json.data(), size, false).get(root);
    json.resize(size);
    if (code) return tl::unexpected(std::string(simdjson::error_message(code)));
    return root;
  }
};

inline ParseContext& object_context() {
  thread_local ParseContext context;
  return context;
}
inline ParseContext& envelope_context() {
  thread_local ParseContext context;
  return context;
}

template <typename T>
tl::expected<Decoded<T>, std::string> decode_element(dom::element value) {
  dom::object object;
  if (auto code = value.get_object().get(object)) {
    return tl::unexpected(std::string(simdjson::error_message(code)));
  }
  Decoded<T> out;
  if (R r = Codec<T>::decode(object, out); !r) return tl::unexpected(describe(r.error()));
  return out;
}

template <typename T>
tl::expected<Decoded<T>, std::string> decode_document(std::string_view json) {
  auto root = object_context().parse(json);
  if (!root) return tl::unexpected(root.error());
  return decode_element<T>(*root);
}

// Decodes one item of a list from the envelope's own tape (fast path) or through a
// caller-provided decoder fed the item's text.
template <typename T>
struct ItemDecoder {
  ObjectDecoder<T> custom = nullptr;

  // Returns the decoded item or fills `error` (with as much of the key as was read).
  // Decodes into `out` (a fresh element of the list, so nothing is moved afterwards); false and
  // `error` filled (with as much of the key as was read) when the item is bad.
  bool operator()(dom::element value, Decoded<T>& out, ItemError& error) const {
    if (custom == nullptr) {
      dom::object object;
      R r =
          value.get_object().get(object) ? R(fail("not an object")) : Codec<T>::decode(object, out);
      if (r) return true;
      error =
          ItemError{out.meta.name.empty() ? std::string() : out.meta.key(), describe(r.error())};
      return false;
    }
    auto decoded = custom(simdjson::minify(value));
    if (decoded) {
      out = std::move(*decoded);
      return true;
    }
    error = ItemError{{}, decoded.error()};
    return false;
  }
};

template <typename T>
tl::expected<DecodedList<T>, std::string> decode_list_root(
    const tl::expected<dom::element, std::string>& root, ItemDecoder<T> item_decoder);

template <typename T>
tl::expected<DecodedList<T>, std::string> decode_list_impl(std::string_view json,
                                                           ItemDecoder<T> item_decoder) {
  // A custom decoder parses each item separately and must not clobber the envelope's parser.
  ParseContext& context = item_decoder.custom ? envelope_context() : object_context();
  auto decoded = decode_list_root<T>(context.parse(json), item_decoder);
  context.shrink();
  return decoded;
}

template <typename T>
tl::expected<DecodedList<T>, std::string> decode_list_root(
    const tl::expected<dom::element, std::string>& root, ItemDecoder<T> item_decoder) {
  if (!root) return tl::unexpected(root.error());
  dom::object object;
  if (auto code = root->get_object().get(object)) {
    return tl::unexpected(std::string(simdjson::error_message(code)));
  }
  DecodedList<T> out;
  R r = for_each_field(object, [&](std::string_view key, dom::element field) -> R {
    if (key == "metadata") {
      return within("metadata",
                    for_each_field(field, [&](std::string_view k2, dom::element v) -> R {
                      if (k2 == "resourceVersion") {
                        return within("resourceVersion", read_string(v, out.resource_version));
                      }
                      if (k2 == "continue")
                        return within("continue", read_string(v, out.continue_token));
                      return {};
                    }));
    }
    if (key == "items") {
      if (dom::array items; !field.get_array().get(items)) out.items.reserve(items.size());
      return within("items", for_each_element(field, [&](size_t i, dom::element element) -> R {
                      ItemError error;
                      if (!item_decoder(element, out.items.emplace_back(), error)) {
                        out.items.pop_back();
                        error.message = fmt::format("items[{}]: {}", i, error.message);
                        out.errors.push_back(std::move(error));
                      }
                      return {};
                    }));
    }
    return {};
  });
  if (!r) return tl::unexpected(describe(r.error()));
  return out;
}

inline R read_status(dom::element value, ApiStatus& status) {
  return for_each_field(value, [&](std::string_view key, dom::element field) -> R {
    if (key == "code") {
      int64_t code = 0;
      if (R r = read_int64(field, code); !r) return within("code", std::move(r));
      status.code = static_cast<int>(code);
      return {};
    }
    if (key == "reason") return within("reason", read_string(field, status.reason));
    if (key == "message") return within("message", read_string(field, status.message));
    return {};
  });
}

inline tl::expected<WatchEventKind, std::string> parse_kind(std::string_view type) {
  if (type == "ADDED") return WatchEventKind::kAdded;
  if (type == "MODIFIED") return WatchEventKind::kModified;
  if (type == "DELETED") return WatchEventKind::kDeleted;
  if (type == "BOOKMARK") return WatchEventKind::kBookmark;
  if (type == "ERROR") return WatchEventKind::kError;
  return tl::unexpected(fmt::format("type: unknown watch event type \"{}\"", type));
}

template <typename T>
tl::expected<WatchEvent<T>, std::string> decode_event_impl(std::string_view json,
                                                           ObjectDecoder<T> custom) {
  ParseContext& context = custom ? envelope_context() : object_context();
  auto root = context.parse(json);
  if (!root) return tl::unexpected(root.error());
  dom::object envelope;
  if (auto code = root->get_object().get(envelope)) {
    return tl::unexpected(std::string(simdjson::error_message(code)));
  }
  std::string_view type;
  if (auto code = envelope["type"].get_string().get(type)) {
    return tl::unexpected(fmt::format("type: {}", simdjson::error_message(code)));
  }
  auto kind = parse_kind(type);
  if (!kind) return tl::unexpected(kind.error());
  dom::element object;
  if (auto code = envelope["object"].get(object)) {
    return tl::unexpected(fmt::format("object: {}", simdjson::error_message(code)));
  }
  WatchEvent<T> event;
  event.kind = *kind;
  if (*kind == WatchEventKind::kError) {
    if (R r = read_status(object, event.status); !r) {
      return tl::unexpected("object." + describe(r.error()));
    }
    return event;
  }
  if (*kind == WatchEventKind::kBookmark) {
    // A bookmark's object carries only metadata.resourceVersion; decoding it as a full T would
    // trip kinds whose spec has required fields.
    R r = for_each_field(object, [&](std::string_view key, dom::element field) -> R {
      if (key == "metadata") return within("metadata", read_meta(field, event.object.meta, {}));
      return {};
    });
    if (!r) return tl::unexpected("object." + describe(r.error()));
    return event;
  }
  if (custom) {
    auto decoded = custom(simdjson::minify(object));
    if (decoded) {
      event.object = std::move(*decoded);
    } else {
      event.object_error = "object: " + decoded.error();
    }
    return event;
  }
  dom::object item;
  if (auto code = object.get_object().get(item)) {
    return tl::unexpected(fmt::format("object: {}", simdjson::error_message(code)));
  }
  if (R r = Codec<T>::decode(item, event.object); !r) {
    event.object_error = "object." + describe(r.error());
  }
  return event;
}

}  // namespace fairway::k8s::decoding

namespace fairway::k8s {

namespace dom = simdjson::dom;
using decoding::decode_document;
using decoding::decode_element;
using decoding::decode_event_impl;
using decoding::decode_list_impl;
using decoding::decode_list_root;
using decoding::describe;
using decoding::for_each_element;
using decoding::ItemDecoder;
using decoding::object_context;
using decoding::R;
using decoding::within;

template <typename T>
tl::expected<Decoded<T>, std::string> decode_object(std::string_view json) {
  return decode_document<T>(json);
}

template <typename T>
tl::expected<Decoded<T>, std::string> decode_object_at(std::string_view json,
                                                       std::string_view json_pointer) {
  auto root = object_context().parse(json);
  if (!root) return tl::unexpected(root.error());
  dom::element value;
  if (auto code = root->at_pointer(json_pointer).get(value)) {
    return tl::unexpected(std::string(json_pointer) + ": " + simdjson::error_message(code));
  }
  return decode_element<T>(value);
}

template <typename T>
tl::expected<DecodedList<T>, std::string> decode_list(std::string_view json) {
  return decode_list_impl<T>(json, ItemDecoder<T>{});
}
template <typename T>
tl::expected<DecodedList<T>, std::string> decode_list(std::string& json) {
  auto decoded = decode_list_root<T>(object_context().parse_in_place(json), ItemDecoder<T>{});
  object_context().shrink();  // the items are decoded: the parse buffers are no longer needed
  return decoded;
}
template <typename T>
tl::expected<DecodedList<T>, std::string> decode_list(std::string_view json,
                                                      ObjectDecoder<T> item_decoder) {
  return decode_list_impl<T>(json, ItemDecoder<T>{item_decoder});
}
template <typename T>
tl::expected<WatchEvent<T>, std::string> decode_watch_event(std::string_view json) {
  return decode_event_impl<T>(json, nullptr);
}
template <typename T>
tl::expected<WatchEvent<T>, std::string> decode_watch_event(std::string_view json,
                                                            ObjectDecoder<T> object_decoder) {
  return decode_event_impl<T>(json, object_decoder);
}

struct ParsedDocument::Impl {
  dom::parser parser;
  dom::element root;
};

template <typename T>
tl::expected<std::vector<ItemError>, std::string> ParsedDocument::for_each_item(
    std::string_view json_pointer, const std::function<void(Decoded<T>&&)>& each) const {
  dom::object envelope;
  if (auto code = impl_->root.at_pointer(json_pointer).get_object().get(envelope)) {
    return tl::unexpected(fmt::format("{}: {}", json_pointer, simdjson::error_message(code)));
  }
  dom::element items;
  if (envelope["items"].get(items)) return std::vector<ItemError>{};  // none, as an empty list
  std::vector<ItemError> errors;
  const ItemDecoder<T> decoder;
  R r = within("items", for_each_element(items, [&](size_t i, dom::element element) -> R {
                 Decoded<T> item;
                 ItemError error;
                 if (decoder(element, item, error)) {
                   each(std::move(item));
                 } else {
                   error.message = fmt::format("items[{}]: {}", i, error.message);
                   errors.push_back(std::move(error));
                 }
                 return {};
               }));
  if (!r) return tl::unexpected(describe(r.error()));
  return errors;
}

// Instantiates the public templates of objects.h for one kind; each kind's file does so for its
// own types after specializing Codec<T>.
#define FAIRWAY_K8S_INSTANTIATE(T)                                                             \
  template tl::expected<Decoded<T>, std::string> decode_object<T>(std::string_view);           \
  template tl::expected<Decoded<T>, std::string> decode_object_at<T>(std::string_view,         \
                                                                     std::string_view);        \
  template tl::expected<DecodedList<T>, std::string> decode_list<T>(std::string_view);         \
  template tl::expected<DecodedList<T>, std::string> decode_list<T>(std::string&);             \
  template tl::expected<DecodedList<T>, std::string> decode_list<T>(std::string_view,          \
                                                                    ObjectDecoder<T>);         \
  template tl::expected<WatchEvent<T>, std::string> decode_watch_event<T>(std::string_view);   \
  template tl::expected<WatchEvent<T>, std::string> decode_watch_event<T>(std::string_view,    \
                                                                          ObjectDecoder<T>);   \
  template tl::expected<std::vector<ItemError>, std::string> ParsedDocument::for_each_item<T>( \
      std::string_view, const std::function<void(Decoded<T> &&)>&) const;

}  // namespace fairway::k8s
