#include "scheduler/service/discovered_watches.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <condition_variable>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <tuple>

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
    log::warn("discovery failed; the kinds of its group version stay watched or not as they are",
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
// `warning`: what to log the first time (empty: nothing).
bool readable(k8s::RestClient& client, const std::string& path, std::string_view warning) {
  const auto response = client.get(path + "?limit=1");
  if (response && (response->status == 401 || response->status == 403)) {
    if (!warning.empty())
      log::warn(warning, {{"path", path}, {"error", k8s::describe_api_error(response)}});
    return false;
  }
  return true;  // transient failures: the reflector retries
}

}  // namespace

// Every kind fairway watches where discovery finds it, in the order they are logged.
struct DiscoveredWatches::Source {
  enum class What : uint8_t {
    // Gang sources (docs/gangs.md).
    kWorkload,
    kPeerGroup,
    kUpstreamWorkload,
    // Dynamic Resource Allocation (docs/dra.md).
    kResourceSlice,
    kDeviceClass,
    kResourceClaim,
    kResourceClaimTemplate,
  };
  What what;
  std::string group;
  std::string version;
  std::string plural;
  std::string resource;  // for logs and metrics: "jobs", "podgroups.scheduling.run.ai"
  std::string kind;      // kWorkload: the workload's kind
  GangSource source = GangSource::kUpstream;  // kPeerGroup

  std::string api_version() const { return fmt::format("{}/{}", group, version); }
  std::string path() const { return fmt::format("/apis/{}/{}/{}", group, version, plural); }
  bool dra() const { return what >= What::kResourceSlice; }
  // What is logged once when the kind is served but this scheduler may not list it.
  std::string_view refused_warning() const {
    return dra() ? "cannot list a DRA kind; pods that claim devices wait until it can be read "
                   "(grant the chart's ClusterRole, see docs/dra.md)"
                 : "cannot list a gang source; its pods are grouped without it (see docs/gangs.md)";
  }
};

namespace {

const std::vector<DiscoveredWatches::Source>& all_sources();

template <typename T>
std::shared_ptr<k8s::Reflector<T>> make_reflector(
    k8s::RestClient& client, Inbox& inbox, const DiscoveredWatches::Source& source,
    typename k8s::Reflector<T>::Decoder decoder,
    std::function<void(ClusterState&, k8s::EventType, T&&)> apply) {
  return std::make_shared<k8s::Reflector<T>>(
      client, source.resource, source.path(), decoder,
      informer_handler<T>(inbox, source.resource, std::move(apply)));
}

// A DRA kind's changes, applied to the ClusterState (a deletion by the object's key).
template <typename T>
std::function<void(ClusterState&, k8s::EventType, T&&)> dra_apply(
    void (ClusterState::*upsert)(T), void (ClusterState::*remove)(std::string_view)) {
  return [upsert, remove](ClusterState& s, k8s::EventType type, T&& object) {
    if (type == k8s::EventType::kDeleted) {
      if constexpr (requires { object.namespace_; }) {
        (s.*remove)(object.namespace_ + "/" + object.name);
      } else {
        (s.*remove)(object.name);
      }
    } else {
      (s.*upsert)(std::move(object));
    }
  };
}

}  // namespace

bool DiscoveredWatches::synced() const {
  std::lock_guard lock(mutex_);
  for (const auto& [resource, watch] : watches_) {
    if (!watch.synced()) return false;
  }
  return true;
}

std::vector<std::string> DiscoveredWatches::watched() const {
  std::lock_guard lock(mutex_);
  std::vector<std::string> out;
  out.reserve(watches_.size());
  for (const auto& [resource, watch] : watches_) out.push_back(resource);
  return out;
}

void DiscoveredWatches::stop() {
  std::map<std::string, Watch> watches;
  {
    std::lock_guard lock(mutex_);
    watches.swap(watches_);
  }
  for (auto& [resource, watch] : watches) watch.thread.request_stop();
  watches.clear();  // joins
}

DiscoveredWatches::Watch DiscoveredWatches::start_watch(const Source& source) {
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
    case Source::What::kResourceSlice:
      watch.forget = [](ClusterState& s) { s.forget_resource_slices(); };
      run(make_reflector<dra::ResourceSlice>(
          client_, inbox_, source, &k8s::decode_resource_slice,
          dra_apply(&ClusterState::upsert_resource_slice, &ClusterState::remove_resource_slice)));
      break;
    case Source::What::kDeviceClass:
      watch.forget = [](ClusterState& s) { s.forget_device_classes(); };
      run(make_reflector<dra::DeviceClass>(
          client_, inbox_, source, &k8s::decode_device_class,
          dra_apply(&ClusterState::upsert_device_class, &ClusterState::remove_device_class)));
      break;
    case Source::What::kResourceClaim:
      watch.forget = [](ClusterState& s) { s.forget_resource_claims(); };
      run(make_reflector<dra::ResourceClaim>(
          client_, inbox_, source, &k8s::decode_resource_claim,
          dra_apply(&ClusterState::upsert_resource_claim, &ClusterState::remove_resource_claim)));
      break;
    case Source::What::kResourceClaimTemplate:
      watch.forget = [](ClusterState& s) { s.forget_resource_claim_templates(); };
      run(make_reflector<dra::ResourceClaimTemplate>(
          client_, inbox_, source, &k8s::decode_resource_claim_template,
          dra_apply(&ClusterState::upsert_resource_claim_template,
                    &ClusterState::remove_resource_claim_template)));
      break;
  }
  return watch;
}

void DiscoveredWatches::rediscover() {
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
  std::vector<const Source*> removed;
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
    if (!is_served && watching.contains(source.resource)) removed.push_back(&source);
    if (!is_served || watching.contains(source.resource)) continue;
    if (!readable(client_, source.path(),
                  refused_.contains(source.resource) ? "" : source.refused_warning())) {
      refused_.insert(source.resource);
      continue;
    }
    refused_.erase(source.resource);
    appeared.push_back(&source);
  }

  // Logged by family: gang sources, DRA kinds.
  std::vector<std::string> added[2];
  std::vector<std::string> gone[2];
  std::vector<Watch> stopped;
  {
    std::lock_guard lock(mutex_);
    for (const Source* source : removed) {
      auto it = watches_.find(source->resource);
      it->second.thread.request_stop();
      stopped.push_back(std::move(it->second));
      watches_.erase(it);
      gone[source->dra()].push_back(source->resource);
    }
    for (const Source* source : appeared) {
      watches_.emplace(source->resource, start_watch(*source));
      added[source->dra()].push_back(source->resource);
    }
  }
  for (Watch& watch : stopped) {
    watch.thread = {};  // joins: nothing more of its kind reaches the inbox after `forget`
    inbox_.post(std::move(watch.forget));
  }
  auto names = [](const std::vector<std::string>& list) {
    return list.empty() ? std::string("none") : fmt::format("{}", fmt::join(list, ","));
  };
  constexpr const char* kWatched[2] = {"gang sources watched", "DRA kinds watched"};
  constexpr const char* kChanged[2] = {"gang sources changed (discovery)",
                                       "DRA kinds changed (discovery)"};
  for (const int family : {0, 1}) {
    if (first_) {
      log::info(kWatched[family], {{"resources", names(added[family])}});
    } else if (!added[family].empty() || !gone[family].empty()) {
      log::info(kChanged[family],
                {{"added", names(added[family])}, {"removed", names(gone[family])}});
    }
  }
  first_ = false;
}

void DiscoveredWatches::run(std::stop_token stop, std::chrono::milliseconds interval) {
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

const std::vector<DiscoveredWatches::Source>& all_sources() {
  using Source = DiscoveredWatches::Source;
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
    // Kubernetes 1.34: Dynamic Resource Allocation, GA as resource.k8s.io/v1.
    for (const auto& [what, plural, kind] : {
             std::tuple{Source::What::kResourceSlice, "resourceslices", "ResourceSlice"},
             std::tuple{Source::What::kDeviceClass, "deviceclasses", "DeviceClass"},
             std::tuple{Source::What::kResourceClaim, "resourceclaims", "ResourceClaim"},
             std::tuple{Source::What::kResourceClaimTemplate, "resourceclaimtemplates",
                        "ResourceClaimTemplate"},
         }) {
      out.push_back({.what = what,
                     .group = "resource.k8s.io",
                     .version = "v1",
                     .plural = plural,
                     .resource = fmt::format("{}.resource.k8s.io", plural),
                     .kind = kind});
    }
    return out;
  }();
  return sources;
}

}  // namespace

}  // namespace fairway
