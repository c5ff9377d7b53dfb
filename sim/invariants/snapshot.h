#pragma once
// Reads a Snapshot (invariants.h) from an API server through the Kubernetes REST client: paged
// LISTs of pods, nodes, Queues and PodGroups. The edge of the invariant checker. Retries what a
// fault-injecting server throws at it (429/5xx, resets, 410 on a continue token) a bounded
// number of times, then gives up with a message.

#include <string>
#include <tl/expected.hpp>

#include "k8s-client/rest_client.h"
#include "sim/invariants/invariants.h"

namespace fairway::invariants {

struct FetchOptions {
  int page_size = 1000;
  int attempts = 20;  // per LIST
};

tl::expected<Snapshot, std::string> fetch_snapshot(k8s::RestClient& client, TimeMs now_ms,
                                                   const FetchOptions& options = {});

// The items of one paged LIST (e.g. "/api/v1/pods").
tl::expected<std::vector<nlohmann::json>, std::string> list_all(k8s::RestClient& client,
                                                                const std::string& path,
                                                                const FetchOptions& options = {});

}  // namespace fairway::invariants
