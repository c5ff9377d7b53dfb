#include "sim/apiserver/admission_webhooks.h"

#include <fmt/format.h>

#include <algorithm>

#include "k8s-client/rest_client.h"
#include "sim/apiserver/base64.h"
#include "sim/apiserver/patch.h"
#include "sim/apiserver/tls.h"

namespace fairway::apiserver {
namespace {

using nlohmann::json;

bool listed(const json& list, const std::string& value) {
  if (!list.is_array()) return false;
  return std::any_of(list.begin(), list.end(), [&](const json& item) {
    return item.is_string() && (item == "*" || item == value);
  });
}

bool rule_matches(const json& webhook, const ResourceType& type) {
  if (!webhook.contains("rules") || !webhook["rules"].is_array()) return false;
  for (const json& rule : webhook["rules"]) {
    if (listed(rule.value("operations", json()), "CREATE") &&
        listed(rule.value("apiGroups", json()), type.group) &&
        listed(rule.value("resources", json()), type.plural)) {
      return true;
    }
  }
  return false;
}

// One webhook call: the patched object, or why it failed (`denied`: the webhook said no).
tl::expected<json, std::string> call(const json& webhook, const ResourceType& type,
                                     const std::string& ns, const json& object, bool* denied) {
  const json client = webhook.value("clientConfig", json::object());
  const std::string url = client.value("url", std::string());
  if (url.rfind("https://", 0) != 0) {
    return tl::unexpected(std::string("only clientConfig.url with https:// is supported here"));
  }
  const size_t path_at = url.find('/', 8);
  k8s::ClusterConfig config;
  config.server = url.substr(0, path_at);
  const std::string path = path_at == std::string::npos ? "/" : url.substr(path_at);
  if (client.contains("caBundle")) {
    auto ca = base64_decode(client.value("caBundle", std::string()));
    if (!ca) return tl::unexpected(std::string("caBundle is not base64"));
    config.ca_pem = *ca;
  }
  k8s::RestOptions options;
  options.request_timeout = std::chrono::seconds(webhook.value("timeoutSeconds", 10));
  options.max_retries_429 = 0;
  options.user_agent = "fairway-apiserver";
  k8s::RestClient rest(config, options);
  const json metadata = object.value("metadata", json::object());
  const std::string version = type.versions.empty() ? std::string("v1") : type.versions.front();
  const json review = {
      {"apiVersion", "admission.k8s.io/v1"},
      {"kind", "AdmissionReview"},
      {"request",
       {{"uid", random_token(16)},
        {"kind", {{"group", type.group}, {"version", version}, {"kind", type.kind}}},
        {"resource", {{"group", type.group}, {"version", version}, {"resource", type.plural}}},
        {"operation", "CREATE"},
        {"namespace", ns},
        {"name", metadata.value("name", std::string())},
        {"object", object},
        {"dryRun", false},
        {"userInfo", {{"username", "fairway-apiserver"}}}}}};
  const auto response = rest.request("POST", path, review.dump());
  rest.stop();
  if (!response) return tl::unexpected(response.error().message);
  if (!response->ok()) return tl::unexpected(fmt::format("HTTP {}", response->status));
  const json answer = json::parse(response->body, nullptr, false);
  if (answer.is_discarded() || !answer.contains("response")) {
    return tl::unexpected(std::string("the answer is not an AdmissionReview"));
  }
  const json& result = answer["response"];
  if (!result.value("allowed", false)) {
    *denied = true;
    const json status = result.value("status", json::object());
    return tl::unexpected(status.value("message", std::string("denied")));
  }
  if (!result.contains("patch")) return object;
  if (result.value("patchType", std::string()) != "JSONPatch") {
    return tl::unexpected(std::string("patchType must be JSONPatch"));
  }
  const auto patch = base64_decode(result.value("patch", std::string()));
  if (!patch) return tl::unexpected(std::string("the patch is not base64"));
  auto patched = apply_patch(object, PatchType::kJsonPatch, *patch);
  if (!patched) return tl::unexpected("the patch does not apply: " + patched.error().message);
  return *patched;
}

}  // namespace

tl::expected<json, ApiError> run_mutating_webhooks(Store& store, const ResourceType& type,
                                                   const std::string& ns, json object) {
  const ResourceTypePtr configs =
      store.resource("admissionregistration.k8s.io", "mutatingwebhookconfigurations");
  if (!configs) return object;
  auto list = store.list(*configs, "", ListOptions{});
  if (!list) return object;
  std::vector<json> ordered;
  for (const Object& item : list->items) ordered.push_back(*item.json);
  std::sort(ordered.begin(), ordered.end(), [](const json& a, const json& b) {
    return a["metadata"].value("name", "") < b["metadata"].value("name", "");
  });
  for (const json& config : ordered) {
    if (!config.contains("webhooks") || !config["webhooks"].is_array()) continue;
    for (const json& webhook : config["webhooks"]) {
      if (!rule_matches(webhook, type)) continue;
      const std::string name = webhook.value("name", std::string("?"));
      bool denied = false;
      auto result = call(webhook, type, ns, object, &denied);
      if (result) {
        object = std::move(*result);
        continue;
      }
      if (denied) {
        return tl::unexpected(ApiError{
            400, "BadRequest",
            fmt::format("admission webhook \"{}\" denied the request: {}", name, result.error()),
            nullptr});
      }
      if (webhook.value("failurePolicy", std::string("Fail")) == "Ignore") continue;
      return tl::unexpected(
          internal(fmt::format("failed calling webhook \"{}\": {}", name, result.error())));
    }
  }
  return object;
}

}  // namespace fairway::apiserver
