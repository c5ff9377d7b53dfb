#pragma once
// kube-controller-manager's resourceclaim controller (k8s.io/kubernetes
// pkg/controller/resourceclaim/controller.go, Kubernetes 1.34) for the embedded API server, which
// has no controller-manager. From 1.34 (when resource.k8s.io/v1 is served) Server runs one:
//
//   - syncPod: a pod's `spec.resourceClaims[i].resourceClaimTemplateName` without an entry in
//     `status.resourceClaimStatuses` gets a ResourceClaim made from the template (generateName
//     `<pod>-<claim>-`, both truncated in proportion past 57 characters; the template's
//     `spec.metadata` labels and annotations plus `resource.kubernetes.io/pod-claim-name`; the
//     pod as controlling owner), then the entry `{name, resourceClaimName}` in the pod's status.
//     A claim the pod already owns with that annotation is reused, never a second one made. A
//     missing template is retried with the controller's backoff (5 ms doubling to 1000 s) and
//     reported as a Warning Event `FailedResourceClaimCreation` on the pod. A bound pod is added
//     to `status.reservedFor` of an allocated claim that does not list it.
//   - syncClaim: `status.reservedFor` entries of pods that are gone, replaced (other uid) or done
//     (Succeeded/Failed, or deleted before being bound) are removed; a claim left with none is
//     deallocated (`status.allocation` cleared) when it carries the scheduler's finalizer
//     `resource.kubernetes.io/delete-protection`, which is then removed; a claim generated for a
//     pod that is done or replaced is deleted.
//   - the garbage collector's part, for these claims only: a claim whose Pod owners are all gone
//     is deleted (background propagation; there is no garbage collector here otherwise).
//
// Every read and write goes through the Store like any client's, so watchers see the claims
// and the pod status updates with their own resourceVersions. The controller learns of changes
// through Store commit observers (its informers) and does its work in sync(), which the server
// runs on one of its threads soon after a change (`wake`) and on housekeeping ticks when a retry
// is due; tests call sync() themselves.

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <tl/expected.hpp>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "sim/apiserver/kubernetes_version.h"
#include "sim/apiserver/store.h"

namespace fairway::apiserver {

// The annotation on a claim made from a template: the pod's claim name it was made for.
inline constexpr std::string_view kPodClaimNameAnnotation = "resource.kubernetes.io/pod-claim-name";
// The finalizer kube-scheduler puts on a claim it allocates (resourceapi.Finalizer).
inline constexpr std::string_view kClaimDeleteProtectionFinalizer =
    "resource.kubernetes.io/delete-protection";

struct ResourceClaimControllerOptions {
  Clock clock;                                     // backoff, Events; empty: system clock
  std::function<void()> wake;                      // there is work: run sync() soon
  std::function<void(int, std::string_view)> log;  // (level, message); may be empty
};

class ResourceClaimController {
 public:
  // Whether a cluster of this release runs the controller: when it serves resource.k8s.io/v1.
  static bool runs_at(const Store& store, KubernetesVersion version);

  ResourceClaimController(Store& store, ResourceClaimControllerOptions options);
  ~ResourceClaimController();  // stops observing the store
  ResourceClaimController(const ResourceClaimController&) = delete;
  ResourceClaimController& operator=(const ResourceClaimController&) = delete;

  // Handles what the store committed since the last call and the retries that are due, until
  // nothing is left (the controller's own writes are handled in the same call). Returns how many
  // work items ran. One sync at a time; any thread.
  size_t sync();
  // Whether a failed item's retry is due now (the server's housekeeping asks).
  bool retry_due() const;

 private:
  struct Observed {
    bool pod = false;
    WatchEventType type = WatchEventType::kAdded;
    Object object;
  };
  using Json = nlohmann::json;

  void observe(bool pod, WatchEventType type, const Object& object);
  void handle_event(const Observed& event);
  void enqueue(const std::string& key);
  void enqueue_pod(const Json& pod, bool deleted);
  void enqueue_claim(const Json& claim, bool deleted);
  bool pod_needs_work(const Json& pod);
  void index_pod(const Json& pod, bool deleted);
  void index_claim(const std::string& key, const Json& claim, bool deleted);

  tl::expected<void, std::string> run(const std::string& key);
  tl::expected<void, std::string> sync_pod(const std::string& ns, const std::string& name);
  tl::expected<void, std::string> handle_claim(const Json& pod, const Json& pod_claim,
                                               std::map<std::string, std::string>& new_claims);
  tl::expected<Json, std::string> record_claim_statuses(
      const std::string& ns, const std::string& name,
      const std::map<std::string, std::string>& new_claims);
  tl::expected<void, std::string> sync_claim(const std::string& ns, const std::string& name);
  tl::expected<void, std::string> collect_garbage(const std::string& ns, const std::string& name);
  std::optional<Json> find_pod_claim(const Json& pod, const std::string& pod_claim_name);
  void warn(const Json& pod, const std::string& reason, const std::string& message);
  void log(int level, const std::string& message) const;

  Store& store_;
  ResourceClaimControllerOptions options_;
  ResourceTypePtr pods_;
  ResourceTypePtr claims_;
  ResourceTypePtr templates_;
  ResourceTypePtr events_;
  std::vector<uint64_t> observer_ids_;

  // Filled by the store's observers (under the store's lock), emptied by sync().
  std::mutex inbox_mu_;
  std::vector<Observed> inbox_;

  // Everything below belongs to the sync() that holds mu_.
  mutable std::mutex mu_;
  std::deque<std::string> queue_;  // "pod:ns/name", "claim:ns/name", "gc:ns/name"
  std::unordered_set<std::string> queued_;
  struct Retry {
    int failures = 0;
    std::chrono::system_clock::time_point due;
  };
  std::map<std::string, Retry> retries_;
  std::deque<std::string> deleted_pod_order_;  // uids of deleted pods, the newest 500
  std::unordered_set<std::string> deleted_pods_;
  // The informers' indexes: pods by the claims they use (ns/claim), claims by owning pod uid.
  std::unordered_map<std::string, std::set<std::string>> pods_by_claim_;
  std::unordered_map<std::string, std::vector<std::string>> claims_of_pod_;
  std::unordered_map<std::string, std::set<std::string>> claims_by_owner_;
  std::unordered_map<std::string, std::string> owner_of_claim_;
  // Claims by the pod uids in their status.reservedFor, so that a pod that goes releases every
  // claim listing it, also one it does not name (a cluster's controller finds those at the
  // claim's next change or informer resync).
  std::unordered_map<std::string, std::set<std::string>> claims_by_consumer_;
  std::unordered_map<std::string, std::vector<std::string>> consumers_of_claim_;
  // The Events it recorded (pod key + reason + message → event name), for counting repeats.
  std::unordered_map<std::string, std::string> recorded_events_;
};

}  // namespace fairway::apiserver
