#pragma once
// What `helm install charts/fairway` would leave in a cluster, for the embedded API server's
// `--dev` mode (docs/embedded-apiserver.md): the namespaces the chart and the docs use, the
// reservation pods' PriorityClass and ServiceAccount, and the `default` Queue, with the chart's
// names and default values. The CRDs are not here: the server loads them itself at start.
//
// Written through the API (POST, as helm does), so admission and the CRD schema's defaults apply
// to them as to anything a user creates. Objects that already exist are left as they are.

#include <string>
#include <tl/expected.hpp>
#include <vector>

#include "k8s-client/rest_client.h"

namespace fairway::dev {

// The chart's names (charts/fairway/values.yaml; the release installed in fairway-system).
inline constexpr std::string_view kReleaseNamespace = "fairway-system";
inline constexpr std::string_view kReservationNamespace = "fairway-reservation";
inline constexpr std::string_view kReservationPriorityClass = "fairway-reservation";
inline constexpr std::string_view kReservationServiceAccount = "fairway-reservation";
inline constexpr long kReservationPriority = 1'000'000'000;
inline constexpr std::string_view kDefaultQueue = "default";

struct BootstrapOptions {
  // The chart's `default` Queue (no quota, overQuotaWeight 1). Off when the caller brings its
  // own (a sim scenario that declares a queue named default).
  bool default_queue = true;
};

// One object to create: the collection it is POSTed to and its body.
struct BootstrapObject {
  std::string path;
  std::string body;  // JSON
};

// The objects, in creation order (namespaces first).
std::vector<BootstrapObject> bootstrap_objects(const BootstrapOptions& options);

// Creates them; 409 AlreadyExists counts as done. The error names the object and the answer.
tl::expected<void, std::string> bootstrap_chart_objects(k8s::RestClient& client,
                                                        const BootstrapOptions& options);

}  // namespace fairway::dev
