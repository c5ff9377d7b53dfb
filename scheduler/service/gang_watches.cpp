#include "scheduler/service/gang_watches.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <condition_variable>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
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

// The plural resource names a group version serves; empty when it is not served (404),
// nullopt when discovery failed (then what is watched stays as it is, as client-go's
// garbage collector keeps its monitors over a failed discovery).
std::optional<std::set<std::string>> served_resources(k8s::RestClient& client,
                                                      std::string_view group,
                                                      std::string_view version) {
  std::set<std::string> out;
  const std::string path =
      group.empty() ? fmt::format("/api/{}", version) : fmt::format("/apis/{}/{}", group, version);
  const auto response = client.get(path);
  if (!response || !response->ok()) {
    if (response && response->status == 404) return out;
    log::warn("discovery failed; its gang sources stay as they are",
              {{"path", path}, {"error", k8s::describe_api_error(response)}});
    return std::nullopt;
  }
  const auto list = nlohmann::json::parse(response->body, nullptr, false);
  if (!list.is_object() || !list.contains("resources") || !list["resources"].is_array()) {
    return std::nullopt;
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
bool readable(k8s::RestClient& client, const std::string& path, bool warn) {
  const auto response = client.get(path + "?limit=1");
  if (response && (response->status == 401 || response->status == 403)) {
    if (warn)
      log::warn("cannot list a gang source; its pods are grouped without it (see docs/gangs.md)",
                {{"path", path}, {"error", k8s::describe_api_error(response)}});
    return false;
  }
  return true;  // transient failures: the reflector retries
}

}  // namespace

// Every kind fairway can watch for gangs, in the order they are logged.
struct GangWatches::Source {
  enum class What : uint8_t { kWorkload, kPeerGroup, kUpstreamWorkload };
  What what;
  std::string group;
  std::string version;
  std::string plural;
  std::string resource;  // for logs and metrics: "jobs", "podgroups.scheduling.run.ai"
  std::string kind;      // kWorkload: the workload's kind
  GangSource source = GangSource::kUpstream;  // kPeerGroup

  std::string api_version() const { return fmt::format("{}/{}", group, version); }
  std::string path() const { return fmt::format("/apis/{}/{}/{}", group, version, plural); }
};

namespace {

const std::vector<GangWatches::Source>& all_sources();

}  // namespace

bool GangWatches::synced() const {
  std::lock_guard lock(mutex_);
  for (const auto& [resource, watch] : watches_) {
    if (!watch.synced()) return false;
  }
  return true;
}

void GangWatches::stop() {
  std::map<std::string, Watch> watches;
  {
    std::lock_guard lock(mutex_);
    watches.swap(watches_);
  }
  for (auto& [resource, watch] : watches) watch.thread.request_stop();
  watches.clear();  // joins
}

GangWatches::Watch GangWatches::start_watch(const Source& source) {
  Watch watch;
  auto run = [&watch](auto reflector) {
    watch.synced = [r = reflector.get()] { return r->synced(); };
    watch.thread = std::jthread([r = reflector.get()](std::stop_token token) { r->run(token); });
    watch.reflector = std::move(reflector);
  };
  switch (source.what) {
    case Source::What::kWorkload: {
      inbox_.post([group = source.group, kind = source.kind](ClusterState& s) {
        s.set_workload_kind_watched(group, kind, true);
      });
      watch.forget = [group = source.group, kind = source.kind](ClusterState& s) {
        s.set_workload_kind_watched(group, kind, false);
      };
      std::function<void(ClusterState&, k8s::EventType, Workload &&)> apply =
          [api_version = source.api_version(), kind = source.kind](
              ClusterState& s, k8s::EventType type, Workload&& w) {
            if (w.kind.empty()) w.kind = kind;  // items of typed lists carry no kind
            if (w.api_version.empty()) w.api_version = api_version;
            if (type == k8s::EventType::kDeleted) {
              s.remove_workload(w.uid);
            } else {
              s.upsert_workload(std::move(w));
            }
          };
      run(std::make_shared<k8s::Reflector<Workload>>(
          client_, source.resource, source.path(), &k8s::decode_workload,
          informer_handler<Workload>(inbox_, source.resource, std::move(apply))));
      break;
    }
    case Source::What::kPeerGroup: {
      watch.forget = [peer = source.source](ClusterState& s) { s.forget_peer_groups(peer); };
      std::function<void(ClusterState&, k8s::EventType, PodGroup &&)> apply =
          [peer = source.source](ClusterState& s, k8s::EventType type, PodGroup&& group) {
            if (type == k8s::EventType::kDeleted) {
              s.remove_peer_group(peer, group.key());
            } else {
              s.upsert_peer_group(peer, std::move(group));
            }
          };
      run(std::make_shared<k8s::Reflector<PodGroup>>(
          client_, source.resource, source.path(), &k8s::decode_pod_group,
          informer_handler<PodGroup>(inbox_, source.resource, std::move(apply))));
      break;
    }
    case Source::What::kUpstreamWorkload: {
      watch.forget = [](ClusterState& s) { s.forget_upstream_workloads(); };
      std::function<void(ClusterState&, k8s::EventType, UpstreamWorkload &&)> apply =
          [](ClusterState& s, k8s::EventType type, UpstreamWorkload&& w) {
            if (type == k8s::EventType::kDeleted) {
              s.remove_upstream_workload(w.key());
            } else {
              s.upsert_upstream_workload(std::move(w));
            }
          };
      run(std::make_shared<k8s::Reflector<UpstreamWorkload>>(
          client_, source.resource, source.path(), &k8s::decode_upstream_workload,
          informer_handler<UpstreamWorkload>(inbox_, source.resource, std::move(apply))));
      break;
    }
  }
  return watch;
}

void GangWatches::rediscover() {
  // The network first, without the lock: the loop asks synced() every turn and must not wait
  // on discovery. Only this thread (start-up, then run) adds or removes watches.
  std::set<std::string> watching;
  {
    std::lock_guard lock(mutex_);
    for (const auto& [resource, watch] : watches_) watching.insert(resource);
  }
  // By "group/version"; nullopt: discovery failed, leave its sources as they are.
  std::map<std::string, std::optional<std::set<std::string>>> served;
  std::vector<const Source*> appeared;
  std::vector<std::string> removed;
  for (const Source& source : all_sources()) {
    auto it = served.find(source.api_version());
    if (it == served.end()) {
      it = served
               .emplace(source.api_version(),
                        served_resources(client_, source.group, source.version))
               .first;
    }
    if (!it->second) continue;
    const bool is_served = it->second->contains(source.plural);
    if (!is_served) refused_.erase(source.resource);
    if (!is_served && watching.contains(source.resource)) removed.push_back(source.resource);
    if (!is_served || watching.contains(source.resource)) continue;
    if (!readable(client_, source.path(), !refused_.contains(source.resource))) {
      refused_.insert(source.resource);
      continue;
    }
    refused_.erase(source.resource);
    appeared.push_back(&source);
  }

  std::vector<std::string> added;
  std::vector<Watch> stopped;
  {
    std::lock_guard lock(mutex_);
    for (const std::string& resource : removed) {
      auto it = watches_.find(resource);
      it->second.thread.request_stop();
      stopped.push_back(std::move(it->second));
      watches_.erase(it);
    }
    for (const Source* source : appeared) {
      watches_.emplace(source->resource, start_watch(*source));
      added.push_back(source->resource);
    }
  }
  for (Watch& watch : stopped) {
    watch.thread = {};  // joins: nothing more of its kind reaches the inbox after `forget`
    inbox_.post(std::move(watch.forget));
  }
  auto names = [](const std::vector<std::string>& list) {
    return list.empty() ? std::string("none") : fmt::format("{}", fmt::join(list, ","));
  };
  if (first_) {
    log::info("gang sources watched", {{"resources", names(added)}});
    first_ = false;
  } else if (!added.empty() || !removed.empty()) {
    log::info("gang sources changed (discovery)",
              {{"added", names(added)}, {"removed", names(removed)}});
  }
}

void GangWatches::run(std::stop_token stop, std::chrono::milliseconds interval) {
  std::mutex mutex;
  std::condition_variable_any cv;
  while (true) {
    std::unique_lock lock(mutex);
    if (cv.wait_for(lock, stop, interval, [] { return false; }) || stop.stop_requested()) return;
    lock.unlock();
    rediscover();
  }
}

namespace {

const std::vector<GangWatches::Source>& all_sources() {
  using Source = GangWatches::Source;
  static const std::vector<Source> sources = [] {
    std::vector<Source> out;
    for (const WorkloadKind& kind : known_workload_kinds()) {
      out.push_back({.what = Source::What::kWorkload,
                     .group = std::string(kind.group),
                     .version = std::string(kind.version),
                     .plural = std::string(kind.resource),
                     .resource = std::string(kind.resource),
                     .kind = std::string(kind.kind)});
    }
    for (const PeerKind& peer : kPeerKinds) {
      out.push_back({.what = Source::What::kPeerGroup,
                     .group = std::string(peer.group),
                     .version = std::string(peer.version),
                     .plural = "podgroups",
                     .resource = fmt::format("podgroups.{}", peer.group),
                     .kind = "PodGroup",
                     .source = peer.source});
    }
    // Kubernetes 1.35: pods name a pod group of a Workload object through spec.workloadRef.
    out.push_back({.what = Source::What::kUpstreamWorkload,
                   .group = "scheduling.k8s.io",
                   .version = "v1alpha1",
                   .plural = "workloads",
                   .resource = "workloads.scheduling.k8s.io",
                   .kind = "Workload"});
    return out;
  }();
  return sources;
}

}  // namespace

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
