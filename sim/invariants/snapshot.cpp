#include "sim/invariants/snapshot.h"

#include <fmt/format.h>

#include <chrono>
#include <thread>

namespace fairway::invariants {

tl::expected<std::vector<nlohmann::json>, std::string> list_all(k8s::RestClient& client,
                                                                const std::string& path,
                                                                const FetchOptions& options) {
  std::string last_error;
  for (int attempt = 0; attempt < options.attempts; ++attempt) {
    if (attempt > 0)
      std::this_thread::sleep_for(std::chrono::milliseconds(50 * std::min(attempt, 10)));
    std::vector<nlohmann::json> items;
    std::string token;
    bool failed = false;
    do {
      std::string url = fmt::format("{}?limit={}", path, options.page_size);
      if (!token.empty()) url += "&continue=" + token;
      auto response = client.get(url);
      if (!response) {
        last_error = response.error().message;
        failed = true;
        break;
      }
      if (!response->ok()) {
        // 410 on a continue token (history compacted): start the list over.
        last_error = fmt::format("HTTP {}: {}", response->status, response->body.substr(0, 200));
        failed = true;
        break;
      }
      auto body = nlohmann::json::parse(response->body, nullptr, false);
      if (!body.is_object()) {
        last_error = "LIST answer is not a JSON object";
        failed = true;
        break;
      }
      if (auto it = body.find("items"); it != body.end() && it->is_array()) {
        for (auto& item : *it) items.push_back(std::move(item));
      }
      token.clear();
      if (auto m = body.find("metadata"); m != body.end() && m->is_object()) {
        if (auto c = m->find("continue"); c != m->end() && c->is_string())
          token = c->get<std::string>();
      }
    } while (!token.empty());
    if (!failed) return items;
  }
  return tl::unexpected(fmt::format("LIST {}: {}", path, last_error));
}

tl::expected<Snapshot, std::string> fetch_snapshot(k8s::RestClient& client, TimeMs now_ms,
                                                   const FetchOptions& options) {
  Snapshot snapshot;
  snapshot.taken_ms = now_ms;
  // Pods last: a pod is never newer than the node or group it refers to in the snapshot.
  auto nodes = list_all(client, "/api/v1/nodes", options);
  if (!nodes) return tl::unexpected(nodes.error());
  auto queues = list_all(client, "/apis/scheduling.fairway.dev/v1alpha1/queues", options);
  if (!queues) return tl::unexpected(queues.error());
  auto groups = list_all(client, "/apis/scheduling.fairway.dev/v1alpha1/podgroups", options);
  if (!groups) return tl::unexpected(groups.error());
  auto pods = list_all(client, "/api/v1/pods", options);
  if (!pods) return tl::unexpected(pods.error());
  snapshot.nodes = std::move(*nodes);
  snapshot.queues = std::move(*queues);
  snapshot.pod_groups = std::move(*groups);
  snapshot.pods = std::move(*pods);
  return snapshot;
}

}  // namespace fairway::invariants
