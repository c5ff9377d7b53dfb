#include "scheduler/webhook/admission.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>
#include <random>

#include "k8s-client/json_limits.h"
#include "k8s-client/objects.h"
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
  const auto request_field = object_field(document, "request", "request");
  if (!request_field) return tl::unexpected(request_field.error());
  if (*request_field == nullptr) {
    return tl::unexpected(malformed("not an AdmissionReview with a request uid"));
  }
  const json& request = **request_field;
  const auto uid = string_field(request, "uid", "request.uid");
  if (!uid) return tl::unexpected(uid.error());
  if (uid->empty()) return tl::unexpected(malformed("not an AdmissionReview with a request uid"));
  const auto operation = string_field(request, "operation", "request.operation");
  if (!operation) return tl::unexpected(operation.error());
  const auto kind_field = object_field(request, "kind", "request.kind");
  if (!kind_field) return tl::unexpected(kind_field.error());
  std::string kind;
  if (*kind_field != nullptr) {
    const auto read = string_field(**kind_field, "kind", "request.kind.kind");
    if (!read) return tl::unexpected(read.error());
    kind = *read;
  }
  const auto request_name = string_field(request, "name", "request.name");
  if (!request_name) return tl::unexpected(request_name.error());
  if (*operation != "CREATE" || kind != "Pod") return review(response_for(*uid, true));
  const auto object_found = object_field(request, "object", "request.object");
  if (!object_found) return tl::unexpected(object_found.error());
  if (*object_found == nullptr) return tl::unexpected(malformed("request.object is missing"));
  const json& object = **object_found;

  // The pod straight from the request's text (simdjson: iterative, depth-limited), not from a
  // re-serialised copy.
  const auto decoded = k8s::decode_object_at<Pod>(body, "/request/object");
  if (!decoded) {
    // Not ours to judge: the API server validates pods itself.
    return review(response_for(*uid, true));
  }
  const Pod& pod = decoded->object;
  if (pod.scheduler_name != config.scheduler_name) return review(response_for(*uid, true));
  if (config.tenant_denials) {
    if (const auto denials = config.tenant_denials(pod); !denials.empty()) {
      std::string message;
      for (const std::string& denial : denials) message += (message.empty() ? "" : "; ") + denial;
      json response = response_for(*uid, false);
      response["status"] = {
          {"code", 403}, {"reason", "Forbidden"}, {"message", fmt::format("fairway: {}", message)}};
      return review(std::move(response));
    }
  }
  if (!asks_for_share(pod)) return review(response_for(*uid, true));
  const PodIntent intent = read_pod_intent(pod, config.intent);
  if (!intent.valid() || !intent.gpu_fraction) {
    std::string message;
    for (const std::string& error : intent.errors) message += (message.empty() ? "" : "; ") + error;
    json response = response_for(*uid, false);
    response["status"] = {{"code", 400},
                          {"reason", "BadRequest"},
                          {"message", fmt::format("fairway: invalid GPU share: {}", message)}};
    return review(std::move(response));
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

  std::string configmap;
  const std::string name = object_name->empty() ? *request_name : *object_name;
  if (auto it = pod.annotations.find(kGpuConfigMapAnnotation); it != pod.annotations.end()) {
    configmap = it->second;
  } else if (!name.empty()) {
    configmap = gpu_configmap_name_for(name);
  } else {
    configmap = generated_configmap_name(generate_name->empty() ? "pod-" : *generate_name);
  }
  json patch = json::array();
  if (!pod.annotations.contains(kGpuConfigMapAnnotation)) {
    if (*annotations != nullptr) {
      patch.push_back(
          {{"op", "add"},
           {"path", "/metadata/annotations/" + pointer_segment(kGpuConfigMapAnnotation)},
           {"value", configmap}});
    } else {
      patch.push_back({{"op", "add"},
                       {"path", "/metadata/annotations"},
                       {"value", {{std::string(kGpuConfigMapAnnotation), configmap}}}});
    }
  }
  if (auto added = add_env_from(spec, "containers", configmap, patch); !added) {
    return tl::unexpected(added.error());
  }
  if (auto added = add_env_from(spec, "initContainers", configmap, patch); !added) {
    return tl::unexpected(added.error());
  }
  json response = response_for(*uid, true);
  if (!patch.empty()) {
    response["patchType"] = "JSONPatch";
    response["patch"] = base64_encode(patch.dump());
  }
  return review(std::move(response));
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
