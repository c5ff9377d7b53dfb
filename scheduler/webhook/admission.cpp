#include "scheduler/webhook/admission.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>
#include <random>

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

json response_for(const json& request, bool allowed) {
  return json{{"uid", request.value("uid", std::string())}, {"allowed", allowed}};
}

std::string review(json response) {
  return json{{"apiVersion", "admission.k8s.io/v1"},
              {"kind", "AdmissionReview"},
              {"response", std::move(response)}}
      .dump();
}

// envFrom for one container list ("containers" or "initContainers"), unless already there.
void add_env_from(const json& spec, const char* list, const std::string& configmap, json& patch) {
  if (!spec.contains(list) || !spec[list].is_array()) return;
  const json reference = {{"configMapRef", {{"name", configmap}, {"optional", false}}}};
  for (size_t i = 0; i < spec[list].size(); ++i) {
    const json& container = spec[list][i];
    const std::string path = fmt::format("/spec/{}/{}/envFrom", list, i);
    if (!container.contains("envFrom") || !container["envFrom"].is_array()) {
      patch.push_back({{"op", "add"}, {"path", path}, {"value", json::array({reference})}});
      continue;
    }
    bool present = false;
    for (const json& source : container["envFrom"]) {
      present = present || (source.contains("configMapRef") &&
                            source["configMapRef"].value("name", std::string()) == configmap);
    }
    if (!present) patch.push_back({{"op", "add"}, {"path", path + "/-"}, {"value", reference}});
  }
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

tl::expected<std::string, std::string> review_pod_admission(std::string_view body,
                                                            const AdmissionConfig& config) {
  const json document = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (document.is_discarded() || !document.is_object()) {
    return tl::unexpected(std::string("the body is not JSON"));
  }
  if (!document.contains("request") || !document["request"].is_object() ||
      !document["request"].contains("uid")) {
    return tl::unexpected(std::string("not an AdmissionReview with a request uid"));
  }
  const json& request = document["request"];
  const json kind = request.value("kind", json::object());
  if (request.value("operation", std::string()) != "CREATE" ||
      kind.value("kind", std::string()) != "Pod" || !request.contains("object") ||
      !request["object"].is_object()) {
    return review(response_for(request, true));
  }
  const json& object = request["object"];
  const auto decoded = k8s::decode_pod(object.dump());
  if (!decoded) {
    // Not ours to judge: the API server validates pods itself.
    return review(response_for(request, true));
  }
  const Pod& pod = decoded->object;
  if (pod.scheduler_name != config.scheduler_name) return review(response_for(request, true));
  if (config.tenant_denials) {
    if (const auto denials = config.tenant_denials(pod); !denials.empty()) {
      std::string message;
      for (const std::string& denial : denials) message += (message.empty() ? "" : "; ") + denial;
      json response = response_for(request, false);
      response["status"] = {{"code", 403},
                            {"reason", "Forbidden"},
                            {"message", fmt::format("fairway: {}", message)}};
      return review(std::move(response));
    }
  }
  if (!asks_for_share(pod)) return review(response_for(request, true));
  const PodIntent intent = read_pod_intent(pod, config.intent);
  if (!intent.valid() || !intent.gpu_fraction) {
    std::string message;
    for (const std::string& error : intent.errors) message += (message.empty() ? "" : "; ") + error;
    json response = response_for(request, false);
    response["status"] = {{"code", 400},
                          {"reason", "BadRequest"},
                          {"message", fmt::format("fairway: invalid GPU share: {}", message)}};
    return review(std::move(response));
  }

  std::string configmap;
  const json metadata = object.value("metadata", json::object());
  const std::string name = metadata.value("name", std::string(request.value("name", "")));
  if (auto it = pod.annotations.find(kGpuConfigMapAnnotation); it != pod.annotations.end()) {
    configmap = it->second;
  } else if (!name.empty()) {
    configmap = gpu_configmap_name_for(name);
  } else {
    configmap = generated_configmap_name(metadata.value("generateName", std::string("pod-")));
  }
  json patch = json::array();
  if (!pod.annotations.contains(kGpuConfigMapAnnotation)) {
    if (metadata.contains("annotations") && metadata["annotations"].is_object()) {
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
  const json spec = object.value("spec", json::object());
  add_env_from(spec, "containers", configmap, patch);
  add_env_from(spec, "initContainers", configmap, patch);
  json response = response_for(request, true);
  if (!patch.empty()) {
    response["patchType"] = "JSONPatch";
    response["patch"] = base64_encode(patch.dump());
  }
  return review(std::move(response));
}

}  // namespace fairway::webhook
