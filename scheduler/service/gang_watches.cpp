#include "scheduler/service/gang_watches.h"

#include <fmt/format.h>

#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "k8s-client/api_error.h"
#include "scheduler/service/informer_handler.h"
#include "scheduler/service/log.h"

namespace fairway {
namespace {

// Other schedulers' and the upstream gang API's PodGroups: the source, group, version, plural.
struct PeerKind {
  GangSource source;
  std::string_view group;
  std::string_view version;
};
constexpr PeerKind kPeerKinds[] = {
    {GangSource::kUpstream, "scheduling.k8s.io", "v1alpha2"},
    {GangSource::kKai, "scheduling.run.ai", "v2alpha2"},
    {GangSource::kVolcano, "scheduling.volcano.sh", "v1beta1"},
    {GangSource::kSchedulerPlugins, "scheduling.x-k8s.io", "v1alpha1"},
};

// The plural resource names a group version serves; empty when it is not served (404) or
// discovery fails (then the kinds are not watched, and their pods fall back as if unknown).
std::set<std::string> served_resources(k8s::RestClient& client, std::string_view group,
                                       std::string_view version) {
  std::set<std::string> out;
  const std::string path =
      group.empty() ? fmt::format("/api/{}", version) : fmt::format("/apis/{}/{}", group, version);
  const auto response = client.get(path);
  if (!response || !response->ok()) {
    if (!response || response->status != 404) {
      log::warn("discovery failed; its kinds are not read for gangs",
                {{"path", path}, {"error", k8s::describe_api_error(response)}});
    }
    return out;
  }
  const auto list = nlohmann::json::parse(response->body, nullptr, false);
  if (!list.is_object() || !list.contains("resources") || !list["resources"].is_array()) {
    return out;
  }
  for (const auto& resource : list["resources"]) {
    if (resource.is_object() && resource.contains("name") && resource["name"].is_string()) {
      out.insert(resource["name"].get<std::string>());
    }
  }
  return out;
}

// Whether this scheduler may list the resource. A kind it may not read (a ClusterRole older
// than this release) is left unwatched: a reflector refused forever would keep the informers
// from ever syncing, and the scheduler from ever scheduling.
bool readable(k8s::RestClient& client, const std::string& path) {
  const auto response = client.get(path + "?limit=1");
  if (response && (response->status == 401 || response->status == 403)) {
    log::warn("cannot list a gang source; its pods are grouped without it (see docs/gangs.md)",
              {{"path", path}, {"error", k8s::describe_api_error(response)}});
    return false;
  }
  return true;  // transient failures: the reflector retries
}

}  // namespace

bool GangWatches::synced() const {
  for (const auto& r : workloads) {
    if (!r->synced()) return false;
  }
  for (const auto& r : peer_groups) {
    if (!r->synced()) return false;
  }
  return true;
}

void GangWatches::start(std::vector<std::jthread>& threads) {
  for (auto& r : workloads) {
    threads.emplace_back([reflector = r.get()](std::stop_token token) { reflector->run(token); });
  }
  for (auto& r : peer_groups) {
    threads.emplace_back([reflector = r.get()](std::stop_token token) { reflector->run(token); });
  }
}

GangWatches discover_gang_watches(k8s::RestClient& client, Inbox& inbox, ClusterState& state) {
  GangWatches watches;
  std::map<std::string, std::set<std::string>> served;  // by "group/version"
  auto serves = [&](std::string_view group, std::string_view version, std::string_view resource) {
    const std::string gv = fmt::format("{}/{}", group, version);
    auto it = served.find(gv);
    if (it == served.end()) it = served.emplace(gv, served_resources(client, group, version)).first;
    return it->second.contains(std::string(resource));
  };
  for (const WorkloadKind& kind : known_workload_kinds()) {
    if (!serves(kind.group, kind.version, kind.resource)) continue;
    const std::string api_version = fmt::format("{}/{}", kind.group, kind.version);
    const std::string resource = std::string(kind.resource);
    const std::string path = fmt::format("/apis/{}/{}", api_version, resource);
    if (!readable(client, path)) continue;
    state.set_workload_kind_watched(kind.group, kind.kind);
    std::function<void(ClusterState&, k8s::EventType, Workload &&)> apply =
        [api_version, kind_name = std::string(kind.kind)](ClusterState& s, k8s::EventType type,
                                                          Workload&& w) {
          if (w.kind.empty()) w.kind = kind_name;  // items of typed lists carry no kind
          if (w.api_version.empty()) w.api_version = api_version;
          if (type == k8s::EventType::kDeleted) {
            s.remove_workload(w.uid);
          } else {
            s.upsert_workload(std::move(w));
          }
        };
    watches.workloads.push_back(std::make_unique<k8s::Reflector<Workload>>(
        client, resource, fmt::format("/apis/{}/{}", api_version, resource), &k8s::decode_workload,
        informer_handler<Workload>(inbox, resource, std::move(apply))));
  }
  for (const PeerKind& peer : kPeerKinds) {
    if (!serves(peer.group, peer.version, "podgroups")) continue;
    const std::string resource = fmt::format("podgroups.{}", peer.group);
    const std::string path = fmt::format("/apis/{}/{}/podgroups", peer.group, peer.version);
    if (!readable(client, path)) continue;
    std::function<void(ClusterState&, k8s::EventType, PodGroup &&)> apply =
        [source = peer.source](ClusterState& s, k8s::EventType type, PodGroup&& group) {
          if (type == k8s::EventType::kDeleted) {
            s.remove_peer_group(source, group.key());
          } else {
            s.upsert_peer_group(source, std::move(group));
          }
        };
    watches.peer_groups.push_back(std::make_unique<k8s::Reflector<PodGroup>>(
        client, resource, path, &k8s::decode_pod_group,
        informer_handler<PodGroup>(inbox, resource, std::move(apply))));
  }
  std::string names;
  for (const auto& r : watches.workloads) names += (names.empty() ? "" : ",") + r->resource();
  for (const auto& r : watches.peer_groups) names += (names.empty() ? "" : ",") + r->resource();
  log::info("gang sources watched", {{"resources", names.empty() ? "none" : names}});
  return watches;
}

std::string inferred_pod_group_body(const JobRecord& job) {
  const auto [ns, name] = split_key(job.key);
  nlohmann::json owner = {{"apiVersion", job.owner.api_version},
                          {"kind", job.owner.kind},
                          {"name", job.owner.name},
                          {"uid", job.owner.uid},
                          {"blockOwnerDeletion", false}};
  nlohmann::json body = {
      {"apiVersion", "scheduling.fairway.dev/v1alpha1"},
      {"kind", "PodGroup"},
      {"metadata",
       {{"name", name},
        {"namespace", ns},
        {"labels", {{"fairway.dev/inferred", "true"}}},
        {"annotations", {{kInferredFromAnnotation, "inferred from " + job.inferred_from}}},
        {"ownerReferences", nlohmann::json::array({std::move(owner)})}}},
      {"spec", {{"minMember", job.min_member}, {"queue", job.queue}}},
  };
  return body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

void publish_inferred_groups(const ClusterState& state, InferredGroupWrites& writes,
                             Actuator& actuator, std::chrono::steady_clock::time_point now) {
  constexpr auto kAskAgainAfter = std::chrono::seconds(10);
  std::unordered_map<std::string, InferredGroupWrites::Asked> still;
  for (const JobRecord& job : state.jobs()) {
    if (!job.present || !job.inferred() || job.owner.uid.empty()) continue;
    const PodGroup* seen = state.pod_group_object(job.key);
    auto previous = writes.asked.find(job.key);
    const bool current =
        seen != nullptr && seen->min_member == job.min_member && seen->queue == job.queue;
    if (current) {
      if (previous != writes.asked.end()) still.emplace(job.key, std::move(previous->second));
      continue;
    }
    std::string body = inferred_pod_group_body(job);
    if (previous != writes.asked.end() && previous->second.body == body &&
        now - previous->second.at < kAskAgainAfter) {
      still.emplace(job.key, std::move(previous->second));
      continue;
    }
    const auto [ns, name] = split_key(job.key);
    actuator.apply_object(
        fmt::format("/apis/scheduling.fairway.dev/v1alpha1/namespaces/{}/podgroups/{}", ns, name),
        body);
    still.emplace(job.key, InferredGroupWrites::Asked{std::move(body), now});
  }
  writes.asked = std::move(still);  // gangs that are gone are forgotten
}

}  // namespace fairway
