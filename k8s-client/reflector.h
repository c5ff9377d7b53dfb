#pragma once
// A reflector like client-go's: keeps a local picture of one resource in step with the server.
//
//   LIST  with resourceVersion=0 as client-go does (the API server answers from its watch cache,
//         whole, limit ignored); a consistent paged LIST (limit/continue, no resourceVersion)
//         after a 410 Expired or where the server refuses the cached read; either is then
//         diffed against what was known: objects that vanished
//         while we were away are reported as deleted, unchanged ones (same resourceVersion)
//         are not reported again;
//   WATCH from the LIST's resourceVersion with allowWatchBookmarks=true and a jittered
//         timeoutSeconds; resourceVersion tracked from every event including bookmarks; a
//         closed watch resumes from the last resourceVersion;
//   410 Gone / ERROR events / undecodable streams → relist; transport errors → reconnect with
//         exponential backoff and jitter.
//
// Events are delivered on the thread that calls run(). Decoding happens here, once.
//
// A DELETED event the server sent carries its object. One a relist finds (the key is no longer
// listed) carries only the object's identity: namespace, name, uid and resourceVersion, in the
// meta and in the object's own fields (client-go's DeletedFinalStateUnknown plays that part). The
// reflector keeps key → resourceVersion and uid, not the objects: the scheduler's state holds
// them already, and a second decoded copy of every pod was the largest part of its memory.
// Objects that fail to decode are reported through on_problem and skipped; a key that was known
// stays known (it is not deleted because its new version is unreadable).
// Explicitly instantiated for every kind objects.h decodes (Pod, Node, QueueSpec, PodGroup,
// Workload, UpstreamWorkload, TopologySpec, PriorityClass, Namespace, the storage kinds and the
// four DRA kinds).

#include <atomic>
#include <chrono>
#include <functional>
#include <stop_token>
#include <string>
#include <string_view>
#include <tl/expected.hpp>
#include <unordered_map>

#include "k8s-client/objects.h"
#include "k8s-client/rest_client.h"

namespace fairway::k8s {

enum class EventType { kAdded, kModified, kDeleted };
const char* event_type_name(EventType type);

struct ReflectorOptions {
  int page_size = 500;
  std::chrono::seconds min_watch_timeout{300};  // timeoutSeconds is random in [min, 2*min)
  std::chrono::milliseconds initial_backoff{800};
  std::chrono::milliseconds max_backoff{30'000};
};

struct ReflectorStats {
  std::atomic<uint64_t> lists{0};             // full (re)lists, the first one included
  std::atomic<uint64_t> consistent_lists{0};  // LISTs without resourceVersion=0 (see above)
  std::atomic<uint64_t> watch_restarts{0};    // watches opened after the first
  std::atomic<uint64_t> decode_errors{0};
  std::atomic<uint64_t> events{0};
};

template <typename T>
class Reflector {
 public:
  using Decoder = tl::expected<Decoded<T>, std::string> (*)(std::string_view json);
  struct Handler {
    std::function<void(EventType, Decoded<T>&&)> on_event;
    std::function<void()> on_synced;                   // after every completed (re)list
    std::function<void(std::string_view)> on_problem;  // decode errors, relists, backoffs
  };

  // list_path: collection path without query, e.g. "/api/v1/pods" or
  // "/apis/scheduling.fairway.dev/v1alpha1/queues". resource: a name for logs and metrics.
  Reflector(RestClient& client, std::string resource, std::string list_path, Decoder decoder,
            Handler handler, ReflectorOptions options = {});

  // Blocks until stop is requested (then closes the watch via RestClient::stop or the token).
  void run(std::stop_token stop);

  const std::string& resource() const { return resource_; }
  const ReflectorStats& stats() const { return stats_; }
  bool synced() const { return synced_.load(); }

 private:
  RestClient& client_;
  std::string resource_;
  std::string list_path_;
  Decoder decoder_;
  Handler handler_;
  ReflectorOptions options_;
  ReflectorStats stats_;
  std::atomic<bool> synced_{false};
  std::string resource_version_;
  bool consistent_list_ = false;  // the next LIST reads consistently (after a 410)
  struct Known {
    std::string resource_version;
    std::string uid;
  };
  std::unordered_map<std::string, Known> known_;  // key → the last version seen

  enum class WatchEnd { kResume, kRelist, kBackoff, kStopped };
  bool list(std::stop_token& stop);  // false: failed (backoff)
  WatchEnd watch(std::stop_token& stop);
  void apply(EventType type, Decoded<T>&& object);
  // What a deletion found by a relist carries: the identity of the object that was known.
  static Decoded<T> tombstone(const std::string& key, const Known& known);
  void problem(std::string_view message);
};

}  // namespace fairway::k8s
