#pragma once
// The embedded API server's storage: every object of every resource as JSON, with one global
// resourceVersion counter like etcd's revision, an event history window for watches, and the
// kube-apiserver semantics the scheduler depends on — optimistic concurrency, generateName,
// graceful pod deletion, pods/binding, pods/eviction against PodDisruptionBudgets, status
// subresources, CRDs that register resources.
//
// Thread-safe: one reader/writer lock around everything. Writers serialise (like etcd); readers
// share. Each stored object keeps its serialised JSON, so LIST and WATCH copy strings instead of
// re-encoding. Time comes from the injected clock (tests drive it by hand), and graceful
// deletions complete when the owner calls finalize_due() — the server does from a timer.

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <shared_mutex>
#include <string>
#include <tl/expected.hpp>
#include <unordered_map>
#include <vector>

#include "sim/apiserver/api_error.h"
#include "sim/apiserver/patch.h"
#include "sim/apiserver/resource_types.h"
#include "sim/apiserver/selectors.h"

namespace fairway::apiserver {

using Clock = std::function<std::chrono::system_clock::time_point()>;

struct StoreOptions {
  size_t history_window = 10'000;      // watch events kept for resuming watches
  size_t watcher_max_queued = 20'000;  // a watcher this far behind is closed (slow consumer)
};

// An object as stored: the JSON, its serialisation and its resourceVersion. Immutable.
struct Object {
  std::shared_ptr<const nlohmann::json> json;
  std::shared_ptr<const std::string> text;
  uint64_t resource_version = 0;
};

struct ListOptions {
  LabelSelector labels;
  FieldSelector fields;
  int64_t limit = 0;  // 0: everything
  std::string continue_token;
  // kube-apiserver's LIST resourceVersion semantics: "" a consistent (paged) read; "0" any
  // state, the whole list at once (limit ignored, as from the watch cache); "N" not older
  // than N, or exactly N with resourceVersionMatch=Exact (or a limit, the legacy rule).
  std::string resource_version;
  std::string resource_version_match;  // "", NotOlderThan, Exact
};

struct ListResult {
  std::vector<Object> items;
  uint64_t resource_version = 0;
  std::string continue_token;
  int64_t remaining = -1;  // remainingItemCount when paging, else -1
};

enum class WatchEventType { kAdded, kModified, kDeleted, kBookmark, kError };
const char* watch_event_name(WatchEventType type);

// Encodes one watch event as a line ("...\n"). Called under the store lock: keep it quick.
using WatchEncoder = std::function<std::string(WatchEventType, const Object&)>;

struct WatchOptions {
  LabelSelector labels;
  FieldSelector fields;
  std::string resource_version;  // "" / "0": current state as ADDED, then live
  WatchEncoder encoder;          // empty: {"type":..,"object":..}
  std::function<void()> notify;  // called (any thread) when lines arrive or the watch ends
};

// One open watch: the store queues encoded lines, the connection drains them.
class Watcher {
 public:
  struct Drained {
    std::string data;       // concatenated lines
    bool finished = false;  // closed and nothing left
  };
  Drained drain(size_t max_bytes = 1 << 20);
  // Ends the watch (timeout, client gone); the store forgets it on its next event or stop_watch.
  void close();
  bool closed() const;
  size_t queued() const;

 private:
  friend class Store;
  bool push(std::shared_ptr<const std::string> line);  // false: overflowed, now closed
  void close_and_notify();

  mutable std::mutex mu_;
  std::deque<std::shared_ptr<const std::string>> queue_;
  bool closed_ = false;
  size_t max_queued_ = 0;
  std::function<void()> notify_;
  // The filter; fixed at creation.
  std::string resource_key_;
  std::string namespace_;
  LabelSelector labels_;
  FieldSelector fields_;
  WatchEncoder encoder_;
  std::string kind_;
  std::string api_version_;
};

struct DeleteOptions {
  std::optional<int64_t> grace_period_seconds;
  std::string precondition_uid;
  std::string precondition_resource_version;
  static tl::expected<DeleteOptions, ApiError> from_json(const nlohmann::json& body);
};

class Store {
 public:
  explicit Store(StoreOptions options = {}, Clock clock = nullptr);
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // Registry. Lookups return nullptr for unknown resources.
  ResourceTypePtr resource(const std::string& group, const std::string& plural) const;
  std::vector<ResourceTypePtr> resources() const;

  // dry_run: every check, default and admission rule, nothing stored or registered (dryRun=All).
  tl::expected<Object, ApiError> create(const ResourceType& type, const std::string& ns,
                                        nlohmann::json body, bool dry_run = false);
  tl::expected<Object, ApiError> get(const ResourceType& type, const std::string& ns,
                                     const std::string& name) const;
  tl::expected<ListResult, ApiError> list(const ResourceType& type, const std::string& ns,
                                          const ListOptions& options) const;
  // PUT. status_only: the /status subresource (only status changes).
  tl::expected<Object, ApiError> update(const ResourceType& type, const std::string& ns,
                                        const std::string& name, nlohmann::json body,
                                        bool status_only);
  tl::expected<Object, ApiError> patch(const ResourceType& type, const std::string& ns,
                                       const std::string& name, PatchType patch_type,
                                       std::string_view patch, bool status_only);
  // DELETE: the object as it is after the call (with deletionTimestamp when graceful).
  tl::expected<Object, ApiError> remove(const ResourceType& type, const std::string& ns,
                                        const std::string& name, const DeleteOptions& options);
  tl::expected<std::vector<Object>, ApiError> remove_collection(const ResourceType& type,
                                                                const std::string& ns,
                                                                const ListOptions& selection,
                                                                const DeleteOptions& options);

  // POST pods/{name}/binding (v1 Binding).
  tl::expected<void, ApiError> bind(const std::string& ns, const std::string& pod,
                                    const nlohmann::json& binding);
  // POST pods/{name}/eviction (policy/v1 Eviction): PDB check, then graceful delete.
  tl::expected<void, ApiError> evict(const std::string& ns, const std::string& pod,
                                     const nlohmann::json& eviction);

  // Opens a watch. A resourceVersion older than the history gives a watcher holding one ERROR
  // event (410 Expired) and already closed, as kube-apiserver answers.
  tl::expected<std::shared_ptr<Watcher>, ApiError> watch(const ResourceType& type,
                                                         const std::string& ns,
                                                         WatchOptions options);
  // Queues a BOOKMARK carrying the current resourceVersion.
  void bookmark(Watcher& watcher);
  void stop_watch(const std::shared_ptr<Watcher>& watcher);

  // In-process controllers (resource_claim_controller.h) see every committed change of one
  // resource as a watch would, without a connection or a queue that can overflow: `observer` is
  // called under the store's lock, in resourceVersion order, with each ADDED, MODIFIED or
  // DELETED object of `type` (the namespace controller's deletions included; dry runs never).
  // It must be quick and must not call the store. Returns the id remove_commit_observer takes.
  using CommitObserver = std::function<void(WatchEventType, const Object&)>;
  uint64_t add_commit_observer(const ResourceType& type, CommitObserver observer);
  void remove_commit_observer(uint64_t id);

  // Completes graceful deletions whose grace period has passed. Returns how many.
  size_t finalize_due();
  // Forgets the whole watch history and invalidates continue tokens: watches and continues
  // from an older resourceVersion get 410 (fault injection; etcd compaction).
  void compact();
  // Ends every open watch (fault injection; shutdown). Returns how many were open.
  size_t close_all_watches();

  uint64_t resource_version() const;
  size_t watcher_count() const;
  size_t object_count(const ResourceType& type) const;
  std::string now_rfc3339() const;

 private:
  struct HistoryEntry {
    uint64_t rv;
    std::string resource_key;
    WatchEventType type;
    Object object;
    Object previous;  // MODIFIED: the object before (for selector transitions)
  };
  struct Table {
    ResourceTypePtr type;
    std::map<std::string, Object, std::less<>> objects;  // "ns/name" or "name" (Objects)
    std::vector<std::shared_ptr<Watcher>> watchers;
    std::vector<std::pair<uint64_t, CommitObserver>> observers;
  };
  struct PendingDelete {
    std::string resource_key;
    std::string key;
    std::string uid;
  };

  // The stored PriorityClasses (for the Priority admission rules), but the one named `except`.
  std::vector<const nlohmann::json*> priority_classes_locked(const std::string& except = {}) const;
  // NamespaceLifecycle's delete: the namespace turns Terminating; finalize_due removes it and
  // its contents (the namespace controller's work).
  tl::expected<Object, ApiError> delete_namespace_locked(Table& table, const std::string& key,
                                                         const Object& current);
  Table* table_locked(const ResourceType& type);
  const Table* table_locked(const ResourceType& type) const;
  // An object that must exist: its table, key and current version, else NotFound.
  struct Existing {
    Table* table;
    std::string key;
    Object object;
  };
  tl::expected<Existing, ApiError> existing_locked(const ResourceType& type, const std::string& ns,
                                                   const std::string& name);
  void register_locked(ResourceType type);
  Object commit_locked(Table& table, const std::string& key, nlohmann::json object,
                       WatchEventType type, const Object* previous);
  void dispatch_locked(Table& table, const HistoryEntry& entry);
  void deliver(Watcher& w, WatchEventType type, const Object& object, const Object* previous,
               std::shared_ptr<const std::string>* cache) const;
  tl::expected<Object, ApiError> replace_locked(Table& table, const std::string& key,
                                                const Object& old, nlohmann::json next,
                                                bool status_only);
  tl::expected<Object, ApiError> delete_locked(Table& table, const std::string& key,
                                               const Object& current, const DeleteOptions& options);
  Object erase_locked(Table& table, const std::string& key, const Object& current);
  tl::expected<void, ApiError> prepare_create_locked(const ResourceType& type,
                                                     nlohmann::json& object);
  std::string random_suffix_locked(size_t n);
  std::string uid_locked();

  StoreOptions options_;
  Clock clock_;
  mutable std::shared_mutex mu_;
  std::unordered_map<std::string, Table> tables_;
  std::vector<std::string> order_;  // registration order, for discovery
  uint64_t rv_ = 1;
  uint64_t next_observer_id_ = 1;
  uint64_t compacted_rv_ = 0;           // watches from below this get 410
  uint64_t continue_compacted_rv_ = 0;  // continue tokens from below this get 410
  std::deque<HistoryEntry> history_;
  std::multimap<std::chrono::system_clock::time_point, PendingDelete> pending_deletes_;
  std::mt19937_64 rng_;

  // Paged LISTs are consistent, as etcd serves them: the first page of a LIST that is cut short
  // keeps the table as it stood (objects are immutable and shared, so this copies pointers, not
  // JSON), and the pages after it read that copy. A token whose copy has been dropped (the
  // oldest go first, past kMaxListSnapshots, or after a compaction) gets 410 Expired.
  using Objects = std::map<std::string, Object, std::less<>>;
  struct ListSnapshot {
    std::string resource_key;
    uint64_t rv = 0;
    std::shared_ptr<const Objects> objects;
  };
  static constexpr size_t kMaxListSnapshots = 32;
  mutable std::mutex snapshots_mu_;
  mutable std::deque<ListSnapshot> list_snapshots_;
};

// Helpers shared with the HTTP layer.
std::string format_rfc3339(std::chrono::system_clock::time_point t);
std::optional<std::chrono::system_clock::time_point> parse_rfc3339(const std::string& text);
std::string object_key(const std::string& ns, const std::string& name);

}  // namespace fairway::apiserver
