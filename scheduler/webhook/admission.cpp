#include "scheduler/webhook/admission.h"

#include <fmt/format.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>

#include "k8s-client/json_limits.h"
#include "k8s-client/objects.h"
#include "scheduler/state/admission_policy.h"
#include "scheduler/state/gpu_sharing.h"

namespace fairway::webhook {
namespace {

using nlohmann::json;

bool asks_for_share(const Pod& pod) {
  for (std::string_view key :
       {kAnnotationGpuFraction, kAnnotationGpuMemory, kAnnotationGpuFractionNumDevices,
        kKaiGpuFraction, kKaiGpuMemory, kKaiGpuFractionNumDevices}) {
    if (pod.annotations.contains(key)) return true;
  }
  return false;
}

// JSON Pointer escaping (RFC 6901) of one path segment.
std::string pointer_segment(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '~')
      out += "~0";
    else if (c == '/')
      out += "~1";
    else
      out += c;
  }
  return out;
}

// A name for the ConfigMap of a pod created with generateName only: its final name is not known
// yet, so the webhook picks one and records it on the pod.
std::string generated_configmap_name(std::string_view generate_name) {
  static constexpr std::string_view kAlphabet = "bcdfghjklmnpqrstvwxz2456789";
  std::random_device random;
  std::string suffix;
  for (int i = 0; i < 5; ++i) suffix += kAlphabet[random() % kAlphabet.size()];
  return gpu_configmap_name_for(fmt::format("{}{}", generate_name, suffix));
}

ReviewError malformed(std::string message) {
  return ReviewError{400, "malformed AdmissionReview: " + std::move(message)};
}

// A string member of `parent`: "" when absent or null, an error naming `path` when of another
// type (nlohmann's value() would throw, and the exception text is not an answer).
tl::expected<std::string, ReviewError> string_field(const json& parent, const char* key,
                                                    std::string_view path) {
  const auto it = parent.find(key);
  if (it == parent.end() || it->is_null()) return std::string();
  if (!it->is_string()) return tl::unexpected(malformed(fmt::format("{} must be a string", path)));
  return it->get<std::string>();
}

// An object member of `parent`: nullptr when absent or null, an error when of another type.
tl::expected<const json*, ReviewError> object_field(const json& parent, const char* key,
                                                    std::string_view path) {
  const auto it = parent.find(key);
  if (it == parent.end() || it->is_null()) return nullptr;
  if (!it->is_object()) return tl::unexpected(malformed(fmt::format("{} must be an object", path)));
  return &*it;
}

// An array member of `parent`: nullptr when absent or null, an error when of another type.
tl::expected<const json*, ReviewError> array_field(const json& parent, const char* key,
                                                   std::string_view path) {
  const auto it = parent.find(key);
  if (it == parent.end() || it->is_null()) return nullptr;
  if (!it->is_array()) return tl::unexpected(malformed(fmt::format("{} must be an array", path)));
  return &*it;
}

json response_for(const std::string& uid, bool allowed) {
  return json{{"uid", uid}, {"allowed", allowed}};
}

std::string review(json response) {
  return json{{"apiVersion", "admission.k8s.io/v1"},
              {"kind", "AdmissionReview"},
              {"response", std::move(response)}}
      .dump();
}

// envFrom for one container list ("containers" or "initContainers"), unless already there.
tl::expected<void, ReviewError> add_env_from(const json& spec, const char* list,
                                             const std::string& configmap, json& patch) {
  const std::string list_path = fmt::format("request.object.spec.{}", list);
  const auto containers = array_field(spec, list, list_path);
  if (!containers) return tl::unexpected(containers.error());
  if (*containers == nullptr) return {};
  const json reference = {{"configMapRef", {{"name", configmap}, {"optional", false}}}};
  for (size_t i = 0; i < (*containers)->size(); ++i) {
    const json& container = (**containers)[i];
    const std::string container_path = fmt::format("{}[{}]", list_path, i);
    if (!container.is_object()) {
      return tl::unexpected(malformed(container_path + " must be an object"));
    }
    const std::string path = fmt::format("/spec/{}/{}/envFrom", list, i);
    const auto sources = array_field(container, "envFrom", container_path + ".envFrom");
    if (!sources) return tl::unexpected(sources.error());
    if (*sources == nullptr) {
      patch.push_back({{"op", "add"}, {"path", path}, {"value", json::array({reference})}});
      continue;
    }
    bool present = false;
    for (size_t j = 0; j < (*sources)->size(); ++j) {
      const json& source = (**sources)[j];
      const std::string source_path = fmt::format("{}.envFrom[{}]", container_path, j);
      if (!source.is_object()) return tl::unexpected(malformed(source_path + " must be an object"));
      const auto ref = object_field(source, "configMapRef", source_path + ".configMapRef");
      if (!ref) return tl::unexpected(ref.error());
      if (*ref == nullptr) continue;
      const auto name = string_field(**ref, "name", source_path + ".configMapRef.name");
      if (!name) return tl::unexpected(name.error());
      present = present || *name == configmap;
    }
    if (!present) patch.push_back({{"op", "add"}, {"path", path + "/-"}, {"value", reference}});
  }
  return {};
}

}  // namespace

std::string base64_encode(std::string_view data) {
  static constexpr char kTable[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((data.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < data.size(); i += 3) {
    const uint32_t n = static_cast<uint32_t>(static_cast<uint8_t>(data[i])) << 16 |
                       static_cast<uint32_t>(static_cast<uint8_t>(data[i + 1])) << 8 |
                       static_cast<uint8_t>(data[i + 2]);
    out += kTable[n >> 18 & 63];
    out += kTable[n >> 12 & 63];
    out += kTable[n >> 6 & 63];
    out += kTable[n & 63];
  }
  if (i < data.size()) {
    uint32_t n = static_cast<uint32_t>(static_cast<uint8_t>(data[i])) << 16;
    if (i + 1 < data.size()) n |= static_cast<uint32_t>(static_cast<uint8_t>(data[i + 1])) << 8;
    out += kTable[n >> 18 & 63];
    out += kTable[n >> 12 & 63];
    out += i + 1 < data.size() ? kTable[n >> 6 & 63] : '=';
    out += '=';
  }
  return out;
}

namespace {

// The fields of request every review reads.
struct Request {
  std::string uid;
  std::string operation;
  std::string group;
  std::string kind;
  std::string name;
  std::string username;
  const json* object = nullptr;  // request.object; null when absent
};

tl::expected<Request, ReviewError> read_request(const json& document) {
  const auto request_field = object_field(document, "request", "request");
  if (!request_field) return tl::unexpected(request_field.error());
  if (*request_field == nullptr) {
    return tl::unexpected(malformed("not an AdmissionReview with a request uid"));
  }
  const json& request = **request_field;
  Request out;
  const auto read = [](const json& parent, const char* key, std::string_view path,
                       std::string& into) -> tl::expected<void, ReviewError> {
    auto value = string_field(parent, key, path);
    if (!value) return tl::unexpected(value.error());
    into = std::move(*value);
    return {};
  };
  if (auto r = read(request, "uid", "request.uid", out.uid); !r) return tl::unexpected(r.error());
  if (out.uid.empty())
    return tl::unexpected(malformed("not an AdmissionReview with a request uid"));
  if (auto r = read(request, "operation", "request.operation", out.operation); !r) {
    return tl::unexpected(r.error());
  }
  if (auto r = read(request, "name", "request.name", out.name); !r) {
    return tl::unexpected(r.error());
  }
  const auto kind_field = object_field(request, "kind", "request.kind");
  if (!kind_field) return tl::unexpected(kind_field.error());
  if (*kind_field != nullptr) {
    if (auto r = read(**kind_field, "kind", "request.kind.kind", out.kind); !r) {
      return tl::unexpected(r.error());
    }
    if (auto r = read(**kind_field, "group", "request.kind.group", out.group); !r) {
      return tl::unexpected(r.error());
    }
  }
  const auto user = object_field(request, "userInfo", "request.userInfo");
  if (!user) return tl::unexpected(user.error());
  if (*user != nullptr) {
    if (auto r = read(**user, "username", "request.userInfo.username", out.username); !r) {
      return tl::unexpected(r.error());
    }
  }
  const auto object = object_field(request, "object", "request.object");
  if (!object) return tl::unexpected(object.error());
  out.object = *object;
  return out;
}

std::string denied(const std::string& uid, int code, std::string_view reason,
                   const std::string& message) {
  json response = response_for(uid, false);
  response["status"] = {{"code", code}, {"reason", reason}, {"message", message}};
  return review(std::move(response));
}

std::string joined(const std::vector<std::string>& parts) {
  std::string out;
  for (const std::string& part : parts) out += (out.empty() ? "" : "; ") + part;
  return out;
}

// Containers (and init containers) of `spec` that set NVIDIA_VISIBLE_DEVICES in env: a pod that
// picks its own GPU would use one that fairway accounts to someone else.
std::vector<std::string> visible_devices_denials(const json& spec) {
  std::vector<std::string> denials;
  for (const char* list : {"containers", "initContainers"}) {
    const auto containers = spec.find(list);
    if (containers == spec.end() || !containers->is_array()) continue;
    for (const json& container : *containers) {
      const auto env = container.is_object() ? container.find("env") : container.end();
      if (!container.is_object() || env == container.end() || !env->is_array()) continue;
      for (const json& var : *env) {
        if (!var.is_object() || var.value("name", json()) != kVisibleDevicesEnv) continue;
        const auto name = container.find("name");
        denials.push_back(fmt::format(
            "container {}: env {} is set by fairway for the GPUs it assigns and may not be set",
            name != container.end() && name->is_string() ? name->get<std::string>() : "?",
            kVisibleDevicesEnv));
      }
    }
  }
  return denials;
}

// The ConfigMap wiring of a pod that asks for a GPU share (CREATE only).
tl::expected<std::string, ReviewError> wire_gpu_configmap(const Request& request, const Pod& pod,
                                                          const AdmissionConfig& config) {
  const json& object = *request.object;
  const PodIntent intent = read_pod_intent(pod, config.intent);
  if (!intent.valid() || !intent.gpu_fraction) {
    return denied(request.uid, 400, "BadRequest",
                  fmt::format("fairway: invalid GPU share: {}", joined(intent.errors)));
  }
  const auto metadata = object_field(object, "metadata", "request.object.metadata");
  if (!metadata) return tl::unexpected(metadata.error());
  const json empty = json::object();
  const json& meta = *metadata ? **metadata : empty;
  const auto object_name = string_field(meta, "name", "request.object.metadata.name");
  if (!object_name) return tl::unexpected(object_name.error());
  const auto generate_name =
      string_field(meta, "generateName", "request.object.metadata.generateName");
  if (!generate_name) return tl::unexpected(generate_name.error());
  const auto annotations = object_field(meta, "annotations", "request.object.metadata.annotations");
  if (!annotations) return tl::unexpected(annotations.error());
  const auto spec_field = object_field(object, "spec", "request.object.spec");
  if (!spec_field) return tl::unexpected(spec_field.error());
  const json& spec = *spec_field ? **spec_field : empty;

  // Named by fairway, never by the pod: tenant denials refuse a pod that brings its own
  // fairway.dev/gpu-configmap, so fairway's ConfigMap writes cannot be pointed elsewhere.
  const std::string name = object_name->empty() ? request.name : *object_name;
  const std::string configmap =
      !name.empty() ? gpu_configmap_name_for(name)
                    : generated_configmap_name(generate_name->empty() ? "pod-" : *generate_name);
  json patch = json::array();
  if (*annotations != nullptr) {
    patch.push_back({{"op", "add"},
                     {"path", "/metadata/annotations/" + pointer_segment(kGpuConfigMapAnnotation)},
                     {"value", configmap}});
  } else {
    patch.push_back({{"op", "add"},
                     {"path", "/metadata/annotations"},
                     {"value", {{std::string(kGpuConfigMapAnnotation), configmap}}}});
  }
  if (auto added = add_env_from(spec, "containers", configmap, patch); !added) {
    return tl::unexpected(added.error());
  }
  if (auto added = add_env_from(spec, "initContainers", configmap, patch); !added) {
    return tl::unexpected(added.error());
  }
  json response = response_for(request.uid, true);
  response["patchType"] = "JSONPatch";
  response["patch"] = base64_encode(patch.dump());
  return review(std::move(response));
}

tl::expected<std::string, ReviewError> review_pod(std::string_view body, const Request& request,
                                                  const AdmissionConfig& config) {
  if (request.object == nullptr) return tl::unexpected(malformed("request.object is missing"));
  // The pod straight from the request's text (simdjson: iterative, depth-limited), not from a
  // re-serialised copy.
  const auto decoded = k8s::decode_object_at<Pod>(body, "/request/object");
  if (!decoded) {
    // Not ours to judge: the API server validates pods itself.
    return review(response_for(request.uid, true));
  }
  const Pod& pod = decoded->object;
  if (pod.scheduler_name != config.scheduler_name) return review(response_for(request.uid, true));
  const bool update = request.operation == "UPDATE";
  std::optional<Pod> old_pod;
  if (update) {
    auto old_decoded = k8s::decode_object_at<Pod>(body, "/request/oldObject");
    if (!old_decoded) return tl::unexpected(malformed("request.oldObject: " + old_decoded.error()));
    old_pod = std::move(old_decoded->object);
  }
  std::vector<std::string> denials;
  if (config.tenant_denials) denials = config.tenant_denials(pod, old_pod ? &*old_pod : nullptr);
  if (!update) {
    const auto spec = request.object->find("spec");
    if (spec != request.object->end() && spec->is_object()) {
      for (std::string& denial : visible_devices_denials(*spec)) {
        denials.push_back(std::move(denial));
      }
    }
  }
  if (!denials.empty()) {
    return denied(request.uid, 403, "Forbidden", fmt::format("fairway: {}", joined(denials)));
  }
  if (update || !asks_for_share(pod)) return review(response_for(request.uid, true));
  return wire_gpu_configmap(request, pod, config);
}

tl::expected<std::string, ReviewError> review_pod_group(std::string_view body,
                                                        const Request& request,
                                                        const AdmissionConfig& config) {
  if (request.object == nullptr) return tl::unexpected(malformed("request.object is missing"));
  const auto decoded = k8s::decode_object_at<PodGroup>(body, "/request/object");
  // A PodGroup fairway cannot read is not scheduled, and says why (its status): not refused here.
  if (!decoded || !config.pod_group_denials) return review(response_for(request.uid, true));
  const auto denials = config.pod_group_denials(decoded->object);
  if (denials.empty()) return review(response_for(request.uid, true));
  return denied(request.uid, 403, "Forbidden", fmt::format("fairway: {}", joined(denials)));
}

tl::expected<std::string, ReviewError> review_checked(std::string_view body,
                                                      const AdmissionConfig& config) {
  // Limits first, before any DOM: a body nested 100,000 deep once ended the process with a stack
  // overflow in the recursive re-serialisation of request.object.
  if (body.size() > k8s::kMaxRequestBodyBytes) {
    return tl::unexpected(ReviewError{
        413, fmt::format("Request entity too large: limit is {}", k8s::kMaxRequestBodyBytes)});
  }
  if (!k8s::json_depth_within(body, k8s::kMaxJsonDepth)) {
    return tl::unexpected(
        malformed(fmt::format("JSON nested deeper than {} levels", k8s::kMaxJsonDepth)));
  }
  const json document = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (document.is_discarded() || !document.is_object()) {
    return tl::unexpected(ReviewError{400, "the body is not a JSON object"});
  }
  const auto request = read_request(document);
  if (!request) return tl::unexpected(request.error());
  const bool judged = request->operation == "CREATE" || request->operation == "UPDATE";
  const auto& trusted = config.trusted_users;
  if (!judged || std::find(trusted.begin(), trusted.end(), request->username) != trusted.end()) {
    return review(response_for(request->uid, true));
  }
  if (request->group.empty() && request->kind == "Pod") return review_pod(body, *request, config);
  if (request->group == "scheduling.fairway.dev" && request->kind == "PodGroup") {
    return review_pod_group(body, *request, config);
  }
  return review(response_for(request->uid, true));
}

}  // namespace

tl::expected<std::string, ReviewError> review_pod_admission(std::string_view body,
                                                            const AdmissionConfig& config) {
  try {
    return review_checked(body, config);
  } catch (const json::exception&) {
    // Every field is type-checked above; this is the last line, and its text stays internal.
    return tl::unexpected(malformed("a field has the wrong type"));
  }
}

}  // namespace fairway::webhook
