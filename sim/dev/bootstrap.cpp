#include "sim/dev/bootstrap.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "k8s-client/api_error.h"

namespace fairway::dev {
namespace {

using nlohmann::json;

json metadata(std::string_view name, json labels = json::object()) {
  labels["app.kubernetes.io/name"] = "fairway";
  return {{"name", name}, {"labels", std::move(labels)}};
}

BootstrapObject object(std::string path, const json& body) {
  return {std::move(path), body.dump()};
}

}  // namespace

std::vector<BootstrapObject> bootstrap_objects(const BootstrapOptions& options) {
  std::vector<BootstrapObject> objects;
  // `helm install --namespace fairway-system --create-namespace`: the release's namespace.
  objects.push_back(object(
      "/api/v1/namespaces",
      {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", kReleaseNamespace}}}}));
  // templates/reservation.yaml: reservation pods run only `fairway reservation-agent`.
  objects.push_back(object(
      "/api/v1/namespaces",
      {{"apiVersion", "v1"},
       {"kind", "Namespace"},
       {"metadata",
        metadata(kReservationNamespace, {{"pod-security.kubernetes.io/enforce", "restricted"}})}}));
  objects.push_back(
      object(fmt::format("/api/v1/namespaces/{}/serviceaccounts", kReservationNamespace),
             {{"apiVersion", "v1"},
              {"kind", "ServiceAccount"},
              {"metadata", metadata(kReservationServiceAccount)}}));
  objects.push_back(
      object("/apis/scheduling.k8s.io/v1/priorityclasses",
             {{"apiVersion", "scheduling.k8s.io/v1"},
              {"kind", "PriorityClass"},
              {"metadata", metadata(kReservationPriorityClass)},
              {"value", kReservationPriority},
              {"preemptionPolicy", "Never"},
              {"globalDefault", false},
              {"description", "fairway GPU reservation pods (one per shared GPU)."}}));
  // templates/queues.yaml with values.yaml's `queues`.
  if (options.default_queue) {
    objects.push_back(object(
        "/apis/scheduling.fairway.dev/v1alpha1/queues",
        {{"apiVersion", "scheduling.fairway.dev/v1alpha1"},
         {"kind", "Queue"},
         {"metadata", metadata(kDefaultQueue)},
         {"spec", {{"resources", {{"nvidia.com/gpu", {{"quota", 0}, {"overQuotaWeight", 1}}}}}}}}));
  }
  return objects;
}

tl::expected<void, std::string> bootstrap_chart_objects(k8s::RestClient& client,
                                                        const BootstrapOptions& options) {
  for (const BootstrapObject& object : bootstrap_objects(options)) {
    const auto response = client.request("POST", object.path, object.body);
    if (response && (response->ok() || response->status == 409)) continue;
    const auto name = json::parse(object.body)["metadata"]["name"].get<std::string>();
    return tl::unexpected(
        fmt::format("creating {} in {}: {}", name, object.path, k8s::describe_api_error(response)));
  }
  return {};
}

}  // namespace fairway::dev
