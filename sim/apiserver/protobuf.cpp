#include "sim/apiserver/protobuf.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
#include <ctime>
#include <map>
#include <utility>
#include <vector>

#include "sim/apiserver/base64.h"

namespace fairway::apiserver {

using nlohmann::json;

namespace {

// ---- the wire format --------------------------------------------------------------------------

enum WireType : uint32_t { kVarint = 0, kFixed64 = 1, kLengthDelimited = 2, kFixed32 = 5 };

class WireReader {
 public:
  explicit WireReader(std::string_view data) : data_(data) {}
  bool done() const { return pos_ >= data_.size(); }
  size_t offset() const { return pos_; }

  tl::expected<uint64_t, std::string> varint() {
    uint64_t value = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (pos_ >= data_.size()) return tl::unexpected(truncated());
      const auto byte = static_cast<uint8_t>(data_[pos_++]);
      value |= static_cast<uint64_t>(byte & 0x7f) << shift;
      if ((byte & 0x80) == 0) return value;
    }
    return tl::unexpected(fmt::format("malformed varint at offset {}", pos_));
  }

  tl::expected<std::string_view, std::string> length_delimited() {
    auto length = varint();
    if (!length) return tl::unexpected(length.error());
    if (*length > data_.size() - pos_) return tl::unexpected(truncated());
    const std::string_view out = data_.substr(pos_, *length);
    pos_ += *length;
    return out;
  }

  tl::expected<void, std::string> skip(uint32_t wire) {
    switch (wire) {
      case kVarint:
        if (auto v = varint(); !v) return tl::unexpected(v.error());
        return {};
      case kLengthDelimited:
        if (auto v = length_delimited(); !v) return tl::unexpected(v.error());
        return {};
      case kFixed64:
      case kFixed32: {
        const size_t n = wire == kFixed64 ? 8 : 4;
        if (n > data_.size() - pos_) return tl::unexpected(truncated());
        pos_ += n;
        return {};
      }
      default:
        return tl::unexpected(fmt::format("unsupported wire type {} at offset {}", wire, pos_));
    }
  }

 private:
  std::string truncated() const { return fmt::format("truncated message at offset {}", pos_); }
  std::string_view data_;
  size_t pos_ = 0;
};

bool valid_utf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<uint8_t>(s[i]);
    size_t n = 0;
    if (c < 0x80) {
      n = 0;
    } else if ((c & 0xe0) == 0xc0 && c >= 0xc2) {
      n = 1;
    } else if ((c & 0xf0) == 0xe0) {
      n = 2;
    } else if ((c & 0xf8) == 0xf0 && c <= 0xf4) {
      n = 3;
    } else {
      return false;
    }
    if (i + n >= s.size() && n > 0) return false;
    for (size_t k = 1; k <= n; ++k) {
      if ((static_cast<uint8_t>(s[i + k]) & 0xc0) != 0x80) return false;
    }
    i += n + 1;
  }
  return true;
}

// ---- the schema: Kubernetes' generated.proto field numbers for the kinds typed clients send ---

enum class FieldKind {
  kString,
  kBytes,  // base64 in JSON, as Go's encoding/json writes []byte
  kInt,    // int32 and int64 (negative int32 values are sign-extended varints)
  kBool,
  kMessage,
  kStringMap,    // map<string, string>
  kBytesMap,     // map<string, bytes>
  kQuantityMap,  // map<string, resource.Quantity>
  kTime,         // meta/v1 Time {seconds, nanos}: RFC 3339 in JSON
  kIgnored,      // read and dropped: managedFields, which the server rebuilds itself
};

struct Message;

struct Field {
  int number;
  const char* name;
  FieldKind kind;
  bool repeated = false;
  const Message* message = nullptr;
  // A Go pointer field (or one without omitempty): an explicit zero is kept, as JSON would.
  bool keep_zero = false;
};

struct Message {
  const char* name;
  std::vector<Field> fields;
  const Field* field(int number) const {
    const auto it = std::find_if(fields.begin(), fields.end(),
                                 [&](const Field& f) { return f.number == number; });
    return it == fields.end() ? nullptr : &*it;
  }
};

constexpr bool kRepeated = true;
constexpr bool kKeepZero = true;

const Message kOwnerReference{
    "OwnerReference",
    {{1, "kind", FieldKind::kString},
     {3, "name", FieldKind::kString},
     {4, "uid", FieldKind::kString},
     {5, "apiVersion", FieldKind::kString},
     {6, "controller", FieldKind::kBool, false, nullptr, kKeepZero},
     {7, "blockOwnerDeletion", FieldKind::kBool, false, nullptr, kKeepZero}}};

const Message kObjectMeta{
    "ObjectMeta",
    {{1, "name", FieldKind::kString},
     {2, "generateName", FieldKind::kString},
     {3, "namespace", FieldKind::kString},
     {4, "selfLink", FieldKind::kString},
     {5, "uid", FieldKind::kString},
     {6, "resourceVersion", FieldKind::kString},
     {7, "generation", FieldKind::kInt},
     {8, "creationTimestamp", FieldKind::kTime},
     {9, "deletionTimestamp", FieldKind::kTime},
     {10, "deletionGracePeriodSeconds", FieldKind::kInt, false, nullptr, kKeepZero},
     {11, "labels", FieldKind::kStringMap},
     {12, "annotations", FieldKind::kStringMap},
     {13, "ownerReferences", FieldKind::kMessage, kRepeated, &kOwnerReference},
     {14, "finalizers", FieldKind::kString, kRepeated},
     {17, "managedFields", FieldKind::kIgnored, kRepeated}}};

const Message kNamespaceSpec{"NamespaceSpec", {{1, "finalizers", FieldKind::kString, kRepeated}}};
const Message kNamespaceStatus{"NamespaceStatus", {{1, "phase", FieldKind::kString}}};
const Message kNamespace{"Namespace",
                         {{1, "metadata", FieldKind::kMessage, false, &kObjectMeta},
                          {2, "spec", FieldKind::kMessage, false, &kNamespaceSpec},
                          {3, "status", FieldKind::kMessage, false, &kNamespaceStatus}}};

const Message kConfigMap{"ConfigMap",
                         {{1, "metadata", FieldKind::kMessage, false, &kObjectMeta},
                          {2, "data", FieldKind::kStringMap},
                          {3, "binaryData", FieldKind::kBytesMap},
                          {4, "immutable", FieldKind::kBool, false, nullptr, kKeepZero}}};

const Message kSecret{"Secret",
                      {{1, "metadata", FieldKind::kMessage, false, &kObjectMeta},
                       {2, "data", FieldKind::kBytesMap},
                       {3, "type", FieldKind::kString},
                       {4, "stringData", FieldKind::kStringMap},
                       {5, "immutable", FieldKind::kBool, false, nullptr, kKeepZero}}};

const Message kObjectReference{"ObjectReference",
                               {{1, "kind", FieldKind::kString},
                                {2, "namespace", FieldKind::kString},
                                {3, "name", FieldKind::kString},
                                {4, "uid", FieldKind::kString},
                                {5, "apiVersion", FieldKind::kString},
                                {6, "resourceVersion", FieldKind::kString},
                                {7, "fieldPath", FieldKind::kString}}};
const Message kLocalObjectReference{"LocalObjectReference", {{1, "name", FieldKind::kString}}};

const Message kServiceAccount{
    "ServiceAccount",
    {{1, "metadata", FieldKind::kMessage, false, &kObjectMeta},
     {2, "secrets", FieldKind::kMessage, kRepeated, &kObjectReference},
     {3, "imagePullSecrets", FieldKind::kMessage, kRepeated, &kLocalObjectReference},
     {4, "automountServiceAccountToken", FieldKind::kBool, false, nullptr, kKeepZero}}};

const Message kPriorityClass{"PriorityClass",
                             {{1, "metadata", FieldKind::kMessage, false, &kObjectMeta},
                              {2, "value", FieldKind::kInt, false, nullptr, kKeepZero},
                              {3, "globalDefault", FieldKind::kBool},
                              {4, "description", FieldKind::kString},
                              {5, "preemptionPolicy", FieldKind::kString}}};

const Message kContainerPort{"ContainerPort",
                             {{1, "name", FieldKind::kString},
                              {2, "hostPort", FieldKind::kInt},
                              {3, "containerPort", FieldKind::kInt, false, nullptr, kKeepZero},
                              {4, "protocol", FieldKind::kString},
                              {5, "hostIP", FieldKind::kString}}};
const Message kEnvVar{
    "EnvVar",
    {{1, "name", FieldKind::kString, false, nullptr, kKeepZero}, {2, "value", FieldKind::kString}}};
const Message kResourceRequirements{
    "ResourceRequirements",
    {{1, "limits", FieldKind::kQuantityMap}, {2, "requests", FieldKind::kQuantityMap}}};
const Message kContainer{"Container",
                         {{1, "name", FieldKind::kString, false, nullptr, kKeepZero},
                          {2, "image", FieldKind::kString},
                          {3, "command", FieldKind::kString, kRepeated},
                          {4, "args", FieldKind::kString, kRepeated},
                          {5, "workingDir", FieldKind::kString},
                          {6, "ports", FieldKind::kMessage, kRepeated, &kContainerPort},
                          {7, "env", FieldKind::kMessage, kRepeated, &kEnvVar},
                          {8, "resources", FieldKind::kMessage, false, &kResourceRequirements},
                          {13, "terminationMessagePath", FieldKind::kString},
                          {14, "imagePullPolicy", FieldKind::kString},
                          {16, "stdin", FieldKind::kBool},
                          {17, "stdinOnce", FieldKind::kBool},
                          {18, "tty", FieldKind::kBool},
                          {20, "terminationMessagePolicy", FieldKind::kString},
                          {24, "restartPolicy", FieldKind::kString}}};
const Message kToleration{"Toleration",
                          {{1, "key", FieldKind::kString},
                           {2, "operator", FieldKind::kString},
                           {3, "value", FieldKind::kString},
                           {4, "effect", FieldKind::kString},
                           {5, "tolerationSeconds", FieldKind::kInt, false, nullptr, kKeepZero}}};
const Message kPodSchedulingGate{"PodSchedulingGate", {{1, "name", FieldKind::kString}}};

const Message kPodSpec{
    "PodSpec",
    {{2, "containers", FieldKind::kMessage, kRepeated, &kContainer},
     {3, "restartPolicy", FieldKind::kString},
     {4, "terminationGracePeriodSeconds", FieldKind::kInt, false, nullptr, kKeepZero},
     {5, "activeDeadlineSeconds", FieldKind::kInt, false, nullptr, kKeepZero},
     {6, "dnsPolicy", FieldKind::kString},
     {7, "nodeSelector", FieldKind::kStringMap},
     {8, "serviceAccountName", FieldKind::kString},
     {9, "serviceAccount", FieldKind::kString},
     {10, "nodeName", FieldKind::kString},
     {11, "hostNetwork", FieldKind::kBool},
     {12, "hostPID", FieldKind::kBool},
     {13, "hostIPC", FieldKind::kBool},
     {15, "imagePullSecrets", FieldKind::kMessage, kRepeated, &kLocalObjectReference},
     {16, "hostname", FieldKind::kString},
     {17, "subdomain", FieldKind::kString},
     {19, "schedulerName", FieldKind::kString},
     {20, "initContainers", FieldKind::kMessage, kRepeated, &kContainer},
     {21, "automountServiceAccountToken", FieldKind::kBool, false, nullptr, kKeepZero},
     {22, "tolerations", FieldKind::kMessage, kRepeated, &kToleration},
     {24, "priorityClassName", FieldKind::kString},
     {25, "priority", FieldKind::kInt, false, nullptr, kKeepZero},
     {27, "shareProcessNamespace", FieldKind::kBool, false, nullptr, kKeepZero},
     {29, "runtimeClassName", FieldKind::kString},
     {30, "enableServiceLinks", FieldKind::kBool, false, nullptr, kKeepZero},
     {31, "preemptionPolicy", FieldKind::kString},
     {32, "overhead", FieldKind::kQuantityMap},
     {38, "schedulingGates", FieldKind::kMessage, kRepeated, &kPodSchedulingGate}}};

const Message kPodCondition{"PodCondition",
                            {{1, "type", FieldKind::kString},
                             {2, "status", FieldKind::kString},
                             {3, "lastProbeTime", FieldKind::kTime},
                             {4, "lastTransitionTime", FieldKind::kTime},
                             {5, "reason", FieldKind::kString},
                             {6, "message", FieldKind::kString},
                             {7, "observedGeneration", FieldKind::kInt}}};
const Message kPodStatus{"PodStatus",
                         {{1, "phase", FieldKind::kString},
                          {2, "conditions", FieldKind::kMessage, kRepeated, &kPodCondition},
                          {3, "message", FieldKind::kString},
                          {4, "reason", FieldKind::kString},
                          {5, "hostIP", FieldKind::kString},
                          {6, "podIP", FieldKind::kString},
                          {7, "startTime", FieldKind::kTime},
                          {9, "qosClass", FieldKind::kString},
                          {11, "nominatedNodeName", FieldKind::kString},
                          {17, "observedGeneration", FieldKind::kInt}}};
const Message kPod{"Pod",
                   {{1, "metadata", FieldKind::kMessage, false, &kObjectMeta},
                    {2, "spec", FieldKind::kMessage, false, &kPodSpec},
                    {3, "status", FieldKind::kMessage, false, &kPodStatus}}};

// meta/v1 DeleteOptions: the body of a typed client's delete and of an Eviction (kubectl drain).
const Message kPreconditions{
    "Preconditions", {{1, "uid", FieldKind::kString}, {2, "resourceVersion", FieldKind::kString}}};
const Message kDeleteOptions{"DeleteOptions",
                             {{1, "gracePeriodSeconds", FieldKind::kInt, false, nullptr, kKeepZero},
                              {2, "preconditions", FieldKind::kMessage, false, &kPreconditions},
                              {3, "orphanDependents", FieldKind::kBool, false, nullptr, kKeepZero},
                              {4, "propagationPolicy", FieldKind::kString},
                              {5, "dryRun", FieldKind::kString, kRepeated}}};
const Message kEviction{"Eviction",
                        {{1, "metadata", FieldKind::kMessage, false, &kObjectMeta},
                         {2, "deleteOptions", FieldKind::kMessage, false, &kDeleteOptions}}};

const Message* message_for(const std::string& api_version, const std::string& kind) {
  // DeleteOptions is registered in every group version; a client encodes it in its own.
  if (kind == "DeleteOptions") return &kDeleteOptions;
  static const std::map<std::pair<std::string, std::string>, const Message*> kKinds = {
      {{"v1", "Namespace"}, &kNamespace},
      {{"v1", "ConfigMap"}, &kConfigMap},
      {{"v1", "Secret"}, &kSecret},
      {{"v1", "ServiceAccount"}, &kServiceAccount},
      {{"v1", "Pod"}, &kPod},
      {{"scheduling.k8s.io/v1", "PriorityClass"}, &kPriorityClass},
      {{"policy/v1", "Eviction"}, &kEviction},
      {{"policy/v1beta1", "Eviction"}, &kEviction}};
  const auto it = kKinds.find({api_version, kind});
  return it == kKinds.end() ? nullptr : it->second;
}

// ---- decoding ---------------------------------------------------------------------------------

bool is_zero(const json& v) {
  return (v.is_string() && v.get_ref<const std::string&>().empty()) ||
         (v.is_number_integer() && v.get<int64_t>() == 0) || (v.is_boolean() && !v.get<bool>()) ||
         (v.is_object() && v.empty()) || v.is_null();
}

std::string rfc3339(int64_t seconds) {
  const auto t = static_cast<std::time_t>(seconds);
  std::tm tm{};
  if (gmtime_r(&t, &tm) == nullptr) return {};
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

tl::expected<json, std::string> decode_message(std::string_view bytes, const Message& message);

tl::expected<std::string, std::string> checked_string(std::string_view s, const Message& message,
                                                      const Field& field) {
  if (!valid_utf8(s)) {
    return tl::unexpected(
        fmt::format("{}.{}: string field is not valid UTF-8", message.name, field.name));
  }
  return std::string(s);
}

// One map entry {key = 1, value = 2}; the value as JSON (string, base64 or Quantity string).
tl::expected<std::pair<std::string, json>, std::string> decode_map_entry(std::string_view bytes,
                                                                         const Message& message,
                                                                         const Field& field) {
  WireReader r(bytes);
  std::string key;
  json value = "";
  while (!r.done()) {
    auto tag = r.varint();
    if (!tag) return tl::unexpected(tag.error());
    const auto number = *tag >> 3;
    const auto wire = static_cast<uint32_t>(*tag & 7);
    if ((number != 1 && number != 2) || wire != kLengthDelimited) {
      if (auto ok = r.skip(wire); !ok) return tl::unexpected(ok.error());
      continue;
    }
    auto data = r.length_delimited();
    if (!data) return tl::unexpected(data.error());
    if (number == 1) {
      auto k = checked_string(*data, message, field);
      if (!k) return tl::unexpected(k.error());
      key = std::move(*k);
    } else if (field.kind == FieldKind::kBytesMap) {
      value = base64_encode(*data);
    } else if (field.kind == FieldKind::kQuantityMap) {
      static const Message kQuantity{"Quantity", {{1, "string", FieldKind::kString}}};
      auto q = decode_message(*data, kQuantity);
      if (!q) return tl::unexpected(q.error());
      value = q->value("string", "");
    } else {
      auto v = checked_string(*data, message, field);
      if (!v) return tl::unexpected(v.error());
      value = std::move(*v);
    }
  }
  return std::pair{std::move(key), std::move(value)};
}

tl::expected<json, std::string> decode_time(std::string_view bytes) {
  WireReader r(bytes);
  int64_t seconds = 0;
  while (!r.done()) {
    auto tag = r.varint();
    if (!tag) return tl::unexpected(tag.error());
    const auto wire = static_cast<uint32_t>(*tag & 7);
    if ((*tag >> 3) == 1 && wire == kVarint) {
      auto v = r.varint();
      if (!v) return tl::unexpected(v.error());
      seconds = static_cast<int64_t>(*v);
    } else if (auto ok = r.skip(wire); !ok) {
      return tl::unexpected(ok.error());
    }
  }
  // Go's zero time.Time (seconds 0 here too: the generated code writes Unix seconds).
  if (seconds == 0) return json();
  return rfc3339(seconds);
}

// The value of one field occurrence, or null when the field is read and dropped.
tl::expected<json, std::string> decode_field(WireReader& r, uint32_t wire, const Message& message,
                                             const Field& field) {
  const bool varint_kind = field.kind == FieldKind::kInt || field.kind == FieldKind::kBool;
  if (field.kind == FieldKind::kIgnored) {
    if (auto ok = r.skip(wire); !ok) return tl::unexpected(ok.error());
    return json();
  }
  if (wire != (varint_kind ? kVarint : kLengthDelimited)) {
    return tl::unexpected(fmt::format("{}.{} (field {}): unexpected wire type {}", message.name,
                                      field.name, field.number, wire));
  }
  if (varint_kind) {
    auto v = r.varint();
    if (!v) return tl::unexpected(v.error());
    if (field.kind == FieldKind::kBool) return json(*v != 0);
    return json(static_cast<int64_t>(*v));
  }
  auto data = r.length_delimited();
  if (!data) return tl::unexpected(data.error());
  switch (field.kind) {
    case FieldKind::kString: {
      auto s = checked_string(*data, message, field);
      if (!s) return tl::unexpected(s.error());
      return json(std::move(*s));
    }
    case FieldKind::kBytes:
      return json(base64_encode(*data));
    case FieldKind::kMessage:
      return decode_message(*data, *field.message);
    case FieldKind::kTime:
      return decode_time(*data);
    default:
      return tl::unexpected(fmt::format("{}.{}: unexpected field kind", message.name, field.name));
  }
}

tl::expected<json, std::string> decode_message(std::string_view bytes, const Message& message) {
  json out = json::object();
  WireReader r(bytes);
  while (!r.done()) {
    auto tag = r.varint();
    if (!tag) return tl::unexpected(tag.error());
    const auto number = static_cast<int>(*tag >> 3);
    const auto wire = static_cast<uint32_t>(*tag & 7);
    const Field* field = message.field(number);
    if (field == nullptr) {
      return tl::unexpected(fmt::format(
          "{} field {} is not supported by the embedded API server's protobuf decoder; send the "
          "object as application/json",
          message.name, number));
    }
    const bool map = field->kind == FieldKind::kStringMap || field->kind == FieldKind::kBytesMap ||
                     field->kind == FieldKind::kQuantityMap;
    if (map) {
      if (wire != kLengthDelimited) {
        return tl::unexpected(
            fmt::format("{}.{}: unexpected wire type {}", message.name, field->name, wire));
      }
      auto data = r.length_delimited();
      if (!data) return tl::unexpected(data.error());
      auto entry = decode_map_entry(*data, message, *field);
      if (!entry) return tl::unexpected(entry.error());
      out[field->name][entry->first] = std::move(entry->second);
      continue;
    }
    auto value = decode_field(r, wire, message, *field);
    if (!value) return tl::unexpected(value.error());
    if (field->repeated) {
      if (!value->is_null()) out[field->name].push_back(std::move(*value));
      continue;
    }
    if (is_zero(*value) && !(field->keep_zero && !value->is_null())) {
      out.erase(field->name);
    } else {
      out[field->name] = std::move(*value);
    }
  }
  return out;
}

}  // namespace

bool is_protobuf_content_type(std::string_view content_type) {
  const std::string_view media = content_type.substr(0, content_type.find(';'));
  return media.find(kProtobufContentType) != std::string_view::npos;
}

tl::expected<json, std::string> decode_protobuf_object(std::string_view body) {
  static constexpr std::string_view kMagic("k8s\0", 4);
  if (!body.starts_with(kMagic)) {
    return tl::unexpected(
        std::string("the body does not start with the protobuf magic \"k8s\\0\""));
  }
  // runtime.Unknown: typeMeta = 1 {apiVersion = 1, kind = 2}, raw = 2, contentEncoding = 3,
  // contentType = 4.
  static const Message kTypeMeta{
      "TypeMeta", {{1, "apiVersion", FieldKind::kString}, {2, "kind", FieldKind::kString}}};
  static const Message kUnknown{"Unknown",
                                {{1, "typeMeta", FieldKind::kMessage, false, &kTypeMeta},
                                 {2, "raw", FieldKind::kBytes},
                                 {3, "contentEncoding", FieldKind::kString},
                                 {4, "contentType", FieldKind::kString}}};
  auto envelope = decode_message(body.substr(kMagic.size()), kUnknown);
  if (!envelope) return tl::unexpected(envelope.error());
  if (const std::string encoding = envelope->value("contentEncoding", ""); !encoding.empty()) {
    return tl::unexpected("content encoding \"" + encoding + "\" is not supported");
  }
  const json type_meta = envelope->value("typeMeta", json::object());
  const std::string api_version = type_meta.value("apiVersion", "");
  const std::string kind = type_meta.value("kind", "");
  const Message* message = message_for(api_version, kind);
  if (message == nullptr) {
    return tl::unexpected(fmt::format(
        "the embedded API server cannot decode kind \"{}\" of \"{}\" from protobuf; send it as "
        "application/json",
        kind, api_version));
  }
  const auto raw = base64_decode(envelope->value("raw", ""));
  if (!raw) return tl::unexpected(std::string("the envelope's raw bytes are malformed"));
  auto object = decode_message(*raw, *message);
  if (!object) return tl::unexpected(object.error());
  json out = {{"apiVersion", api_version}, {"kind", kind}};
  out.update(*object);
  return out;
}

}  // namespace fairway::apiserver
