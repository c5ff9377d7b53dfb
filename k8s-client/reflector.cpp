#include "k8s-client/reflector.h"

#include <fmt/format.h>

#include <condition_variable>
#include <mutex>
#include <random>
#include <unordered_set>

namespace fairway::k8s {
namespace {

std::mt19937_64& rng() {
  thread_local std::mt19937_64 generator{std::random_device{}()};
  return generator;
}

// Uniform in [0, 1).
double unit_random() {
  return std::uniform_real_distribution<double>(0.0, 1.0)(rng());
}

std::string with_query(const std::string& path, std::string_view query) {
  return path + (path.find('?') == std::string::npos ? "?" : "&") + std::string(query);
}

// The named decoder for T, so a reflector built with decode_pod also gets the one-pass list path.
template <typename T>
constexpr auto named_decoder() {
  if constexpr (std::is_same_v<T, Pod>) return &decode_pod;
  if constexpr (std::is_same_v<T, Node>) return &decode_node;
  if constexpr (std::is_same_v<T, QueueSpec>) return &decode_queue;
  if constexpr (std::is_same_v<T, PodGroup>) return &decode_pod_group;
  if constexpr (std::is_same_v<T, Workload>) return &decode_workload;
  if constexpr (std::is_same_v<T, UpstreamWorkload>) return &decode_upstream_workload;
  if constexpr (std::is_same_v<T, TopologySpec>) return &decode_topology;
  if constexpr (std::is_same_v<T, PriorityClass>) return &decode_priority_class;
  if constexpr (std::is_same_v<T, Namespace>) return &decode_namespace;
  if constexpr (std::is_same_v<T, PersistentVolume>) return &decode_persistent_volume;
  if constexpr (std::is_same_v<T, PersistentVolumeClaim>) return &decode_persistent_volume_claim;
  if constexpr (std::is_same_v<T, StorageClass>) return &decode_storage_class;
  if constexpr (std::is_same_v<T, CsiNode>) return &decode_csi_node;
  if constexpr (std::is_same_v<T, dra::ResourceSlice>) return &decode_resource_slice;
  if constexpr (std::is_same_v<T, dra::DeviceClass>) return &decode_device_class;
  if constexpr (std::is_same_v<T, dra::ResourceClaim>) return &decode_resource_claim;
  if constexpr (std::is_same_v<T, dra::ResourceClaimTemplate>) {
    return &decode_resource_claim_template;
  }
}

template <typename T>
bool is_builtin(ObjectDecoder<T> decoder) {
  return decoder == &decode_object<T> || decoder == named_decoder<T>();
}

// An answer that refuses a resourceVersion=0 LIST itself, rather than a passing trouble: a 4xx
// other than 429 (400 a server that does not take the parameter, 410 Expired, 422), or 504
// "Too large resource version" (client-go relists consistently on 410 and that one).
bool refuses_cached_list(const Response& response,
                         const tl::expected<ApiStatus, std::string>& status) {
  if (response.status >= 400 && response.status < 500) return response.status != 429;
  return response.status == 504 && status &&
         status->message.find("Too large resource version") != std::string::npos;
}

}  // namespace

const char* event_type_name(EventType type) {
  switch (type) {
    case EventType::kAdded:
      return "ADDED";
    case EventType::kModified:
      return "MODIFIED";
    case EventType::kDeleted:
      return "DELETED";
  }
  return "UNKNOWN";
}

template <typename T>
Reflector<T>::Reflector(RestClient& client, std::string resource, std::string list_path,
                        Decoder decoder, Handler handler, ReflectorOptions options)
    : client_(client),
      resource_(std::move(resource)),
      list_path_(std::move(list_path)),
      decoder_(decoder),
      handler_(std::move(handler)),
      options_(options) {}

template <typename T>
void Reflector<T>::problem(std::string_view message) {
  if (handler_.on_problem) handler_.on_problem(message);
}

template <typename T>
Decoded<T> Reflector<T>::tombstone(const std::string& key, const Known& known) {
  Decoded<T> out;
  const size_t slash = key.find('/');
  if (slash != std::string::npos) {
    out.meta.namespace_ = key.substr(0, slash);
    out.meta.name = key.substr(slash + 1);
  } else {
    out.meta.name = key;
  }
  out.meta.uid = known.uid;
  out.meta.resource_version = known.resource_version;
  // Every kind's identity, in the fields its own type has.
  if constexpr (requires { out.object.namespace_; }) out.object.namespace_ = out.meta.namespace_;
  if constexpr (requires { out.object.name; }) out.object.name = out.meta.name;
  if constexpr (requires { out.object.uid; }) out.object.uid = out.meta.uid;
  return out;
}

template <typename T>
void Reflector<T>::apply(EventType type, Decoded<T>&& object) {
  stats_.events.fetch_add(1, std::memory_order_relaxed);
  if (handler_.on_event) handler_.on_event(type, std::move(object));
}

// LIST every page, then diff against known_: new keys → ADDED, changed resourceVersion →
// MODIFIED, keys not listed → DELETED (with the last object seen). Events for changed objects go
// out page by page; deletions only once the last page proves the key is gone.
template <typename T>
bool Reflector<T>::list(std::stop_token& stop) {
  const bool builtin = is_builtin<T>(decoder_);
  std::unordered_set<std::string> seen;
  std::string continue_token;
  std::string list_rv;
  // Like client-go: resourceVersion=0 first (any recent state, served whole from the API
  // server's watch cache, limit ignored); a consistent paged read (no resourceVersion) only after
  // a 410 or where the server refuses the cached read.
  bool from_cache = !consistent_list_;
  if (!from_cache) stats_.consistent_lists.fetch_add(1, std::memory_order_relaxed);
  while (true) {
    if (stop.stop_requested()) return false;
    std::string path = with_query(list_path_, fmt::format("limit={}", options_.page_size));
    if (!continue_token.empty()) {
      path += "&continue=" + url_escape(continue_token);
    } else if (from_cache) {
      path += "&resourceVersion=0";
    }
    auto response = client_.get(path);
    if (!response && client_.stopped()) return false;  // shutdown, not a problem
    if (!response) {
      problem(fmt::format("{}: list: {}", resource_, response.error().message));
      return false;
    }
    if (response->status == 410 && !continue_token.empty()) {
      // The continue token expired (the snapshot was compacted): start over from a fresh list.
      problem(fmt::format("{}: list continue token expired, listing from the start", resource_));
      continue_token.clear();
      seen.clear();
      continue;
    }
    if (!response->ok()) {
      auto status = decode_status(response->body);
      const std::string why = fmt::format("HTTP {}: {}", response->status,
                                          status ? status->message : response->body.substr(0, 200));
      if (from_cache && continue_token.empty() && refuses_cached_list(*response, status)) {
        problem(fmt::format("{}: list with resourceVersion=0 refused ({}), listing consistently",
                            resource_, why));
        from_cache = false;
        stats_.consistent_lists.fetch_add(1, std::memory_order_relaxed);
        continue;
      }
      problem(fmt::format("{}: list: {}", resource_, why));
      return false;
    }
    auto page = builtin ? decode_list<T>(response->body) : decode_list<T>(response->body, decoder_);
    if (!page) {
      stats_.decode_errors.fetch_add(1, std::memory_order_relaxed);
      problem(fmt::format("{}: list: undecodable answer: {}", resource_, page.error()));
      return false;
    }
    // Free the body before handing out objects: a 50k-pod page can be ~100 MB.
    response->body = std::string();
    for (ItemError& error : page->errors) {
      stats_.decode_errors.fetch_add(1, std::memory_order_relaxed);
      // A listed key that does not decode is still there: keep what we knew about it.
      if (!error.key.empty()) seen.insert(error.key);
      problem(fmt::format("{}: {}{}{}", resource_, error.key, error.key.empty() ? "" : ": ",
                          error.message));
    }
    for (Decoded<T>& item : page->items) {
      std::string key = item.meta.key();
      seen.insert(key);
      auto known = known_.find(key);
      if (known == known_.end()) {
        known_.emplace(std::move(key), Known{item.meta.resource_version, item.meta.uid});
        apply(EventType::kAdded, std::move(item));
      } else if (known->second.resource_version != item.meta.resource_version) {
        known->second = Known{item.meta.resource_version, item.meta.uid};
        apply(EventType::kModified, std::move(item));
      }
    }
    list_rv = page->resource_version;
    continue_token = page->continue_token;
    if (continue_token.empty()) break;
  }
  for (auto it = known_.begin(); it != known_.end();) {
    if (seen.contains(it->first)) {
      ++it;
      continue;
    }
    Decoded<T> gone = tombstone(it->first, it->second);
    it = known_.erase(it);
    apply(EventType::kDeleted, std::move(gone));
  }
  resource_version_ = list_rv;
  consistent_list_ = false;
  stats_.lists.fetch_add(1, std::memory_order_relaxed);
  synced_ = true;
  if (handler_.on_synced) handler_.on_synced();
  return true;
}

template <typename T>
typename Reflector<T>::WatchEnd Reflector<T>::watch(std::stop_token& stop) {
  const bool builtin = is_builtin<T>(decoder_);
  const auto min_timeout = std::max<int64_t>(options_.min_watch_timeout.count(), 1);
  // Jittered so that many watches opened together do not all expire together (client-go).
  const auto timeout =
      min_timeout + static_cast<int64_t>(unit_random() * static_cast<double>(min_timeout));
  const std::string path = with_query(
      list_path_,
      fmt::format("watch=1&resourceVersion={}&allowWatchBookmarks=true&timeoutSeconds={}",
                  url_escape(resource_version_), timeout));
  WatchEnd end = WatchEnd::kResume;
  auto on_line = [&](std::string_view line) -> bool {
    auto event = builtin ? decode_watch_event<T>(line) : decode_watch_event<T>(line, decoder_);
    if (!event) {
      // The stream itself is garbled: what we hold may have gaps now.
      stats_.decode_errors.fetch_add(1, std::memory_order_relaxed);
      problem(fmt::format("{}: undecodable watch event: {}", resource_, event.error()));
      end = WatchEnd::kRelist;
      return false;
    }
    if (event->kind == WatchEventKind::kError) {
      if (event->status.code == 410) {
        problem(fmt::format("{}: watch expired ({}), relisting", resource_, event->status.message));
        consistent_list_ = true;
        end = WatchEnd::kRelist;
      } else {
        problem(fmt::format("{}: watch error {} {}: {}", resource_, event->status.code,
                            event->status.reason, event->status.message));
        end = WatchEnd::kBackoff;
      }
      return false;
    }
    if (!event->object.meta.resource_version.empty()) {
      resource_version_ = event->object.meta.resource_version;
    }
    if (event->kind == WatchEventKind::kBookmark) return true;
    if (!event->object_error.empty()) {
      stats_.decode_errors.fetch_add(1, std::memory_order_relaxed);
      problem(fmt::format("{}: {}: {}", resource_, event->object.meta.key(), event->object_error));
      return true;
    }
    std::string key = event->object.meta.key();
    if (event->kind == WatchEventKind::kDeleted) {
      known_.erase(key);
      apply(EventType::kDeleted, std::move(event->object));
      return true;
    }
    Known version{event->object.meta.resource_version, event->object.meta.uid};
    auto [it, inserted] = known_.try_emplace(std::move(key), version);
    if (!inserted) it->second = std::move(version);
    // An ADDED for a key we hold (a watch resumed across a relist) is a modification to us.
    apply(inserted ? EventType::kAdded : EventType::kModified, std::move(event->object));
    return true;
  };
  auto response = client_.stream(path, on_line, stop);
  if (stop.stop_requested() || (!response && client_.stopped())) return WatchEnd::kStopped;
  if (!response) {
    problem(fmt::format("{}: watch: {}", resource_, response.error().message));
    return WatchEnd::kBackoff;
  }
  if (response->status == 410) {
    problem(fmt::format("{}: watch from resourceVersion {} is too old, relisting", resource_,
                        resource_version_));
    consistent_list_ = true;
    return WatchEnd::kRelist;
  }
  if (!response->ok()) {
    auto status = decode_status(response->body);
    problem(fmt::format("{}: watch: HTTP {}: {}", resource_, response->status,
                        status ? status->message : response->body.substr(0, 200)));
    return WatchEnd::kBackoff;
  }
  return end;
}

template <typename T>
void Reflector<T>::run(std::stop_token stop) {
  auto backoff = options_.initial_backoff;
  auto wait = [&]() -> bool {
    // Full jitter on top of the base, like client-go's backoff manager (jitter 1.0).
    const auto delay = std::chrono::milliseconds(
        static_cast<int64_t>(static_cast<double>(backoff.count()) * (1.0 + unit_random())));
    problem(fmt::format("{}: retrying in {} ms", resource_, delay.count()));
    backoff = std::min(backoff * 2, options_.max_backoff);
    return sleep_unless_stopped(client_.clock(), stop, delay);
  };
  bool need_list = true;
  bool first_watch = true;
  while (!stop.stop_requested()) {
    if (need_list) {
      if (!list(stop)) {
        if (stop.stop_requested() || client_.stopped() || !wait()) break;
        continue;
      }
      need_list = false;
      backoff = options_.initial_backoff;
    }
    if (!first_watch) stats_.watch_restarts.fetch_add(1, std::memory_order_relaxed);
    first_watch = false;
    const auto started = client_.clock().now();
    switch (watch(stop)) {
      case WatchEnd::kStopped:
        return;
      case WatchEnd::kResume:
        // A watch that ran its course resumes at once; one that ends right away (a server
        // closing it immediately) must not spin.
        if (client_.clock().now() - started > std::chrono::seconds(1)) {
          backoff = options_.initial_backoff;
        } else if (!wait()) {
          return;
        }
        break;
      case WatchEnd::kRelist:
        need_list = true;
        break;
      case WatchEnd::kBackoff:
        if (!wait()) return;
        break;
    }
  }
}

template class Reflector<Pod>;
template class Reflector<Node>;
template class Reflector<QueueSpec>;
template class Reflector<PodGroup>;
template class Reflector<Workload>;
template class Reflector<UpstreamWorkload>;
template class Reflector<TopologySpec>;
template class Reflector<PriorityClass>;
template class Reflector<Namespace>;
template class Reflector<PersistentVolume>;
template class Reflector<PersistentVolumeClaim>;
template class Reflector<StorageClass>;
template class Reflector<CsiNode>;
template class Reflector<dra::ResourceSlice>;
template class Reflector<dra::DeviceClass>;
template class Reflector<dra::ResourceClaim>;
template class Reflector<dra::ResourceClaimTemplate>;

}  // namespace fairway::k8s
