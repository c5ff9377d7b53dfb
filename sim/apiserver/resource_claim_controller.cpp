#include "sim/apiserver/resource_claim_controller.h"

#include <fmt/format.h>

#include <algorithm>
#include <utility>

#include "sim/apiserver/dra_validation.h"
#include "sim/apiserver/json_util.h"

namespace fairway::apiserver {

using nlohmann::json;
using std::chrono::system_clock;

namespace {

constexpr std::string_view kPodPrefix = "pod:";
constexpr std::string_view kClaimPrefix = "claim:";
constexpr std::string_view kGcPrefix = "gc:";
constexpr size_t kMaxDeletedPods = 500;  // maxUIDCacheEntries
// workqueue.DefaultTypedControllerRateLimiter's per-item backoff.
constexpr auto kBaseDelay = std::chrono::milliseconds(5);
constexpr auto kMaxDelay = std::chrono::seconds(1000);
// The controller's generated names: <pod>-<claim>- fits 57 characters, so that 5 random ones
// keep the name within 63.
constexpr size_t kMaxGenerateNameBase = 57;
// A write that conflicts with another writer is read again and redone this often, then retried
// later with the backoff.
constexpr int kConflictAttempts = 3;
// sync() stops after this many rounds of events and work (what is left waits for the next call):
// a bound for a loop that should never happen, two writers undoing each other.
constexpr int kMaxRounds = 1000;
// Events remembered for counting repeats (the recorder's cache holds 4096 too).
constexpr size_t kMaxRecordedEvents = 4096;

const json& meta(const json& o) {
  return member(o, "metadata");
}
std::string name_of(const json& o) {
  return str(meta(o), "name");
}
std::string namespace_of(const json& o) {
  return str(meta(o), "namespace");
}
std::string uid_of(const json& o) {
  return str(meta(o), "uid");
}
std::string key_of(const json& o) {
  return namespace_of(o) + "/" + name_of(o);
}
const json& pod_claims(const json& pod) {
  return member(member(pod, "spec"), "resourceClaims");
}

// resourceclaim.Name (k8s.io/dynamic-resource-allocation/resourceclaim): which claim a pod's
// claim entry means.
struct ClaimName {
  enum class Kind {
    kNamed,        // `name` (check_owner: a claim made from a template must be owned by the pod)
    kNotNeeded,    // the status entry has no resourceClaimName: no claim is needed
    kNotCreated,   // a template's claim not recorded in the pod's status yet (ErrClaimNotFound)
    kUnsupported,  // neither field set: an API this client does not know (ErrAPIUnsupported)
  };
  Kind kind = Kind::kUnsupported;
  std::string name;
  bool check_owner = false;
  std::string error;
};

ClaimName claim_name(const json& pod, const json& pod_claim) {
  const std::string entry = str(pod_claim, "name");
  if (const json& direct = member(pod_claim, "resourceClaimName"); direct.is_string()) {
    return {ClaimName::Kind::kNamed, direct.get<std::string>(), false, {}};
  }
  if (member(pod_claim, "resourceClaimTemplateName").is_string()) {
    for (const json& status : member(member(pod, "status"), "resourceClaimStatuses")) {
      if (str(status, "name") != entry) continue;
      const json& made = member(status, "resourceClaimName");
      if (!made.is_string()) return {ClaimName::Kind::kNotNeeded, {}, true, {}};
      return {ClaimName::Kind::kNamed, made.get<std::string>(), true, {}};
    }
    return {ClaimName::Kind::kNotCreated,
            {},
            false,
            fmt::format("pod \"{}\": ResourceClaim not created yet", key_of(pod))};
  }
  return {ClaimName::Kind::kUnsupported,
          {},
          false,
          fmt::format("pod \"{}\", spec.resourceClaim \"{}\": unknown API", key_of(pod), entry)};
}

// metav1.GetControllerOf: the owner reference with controller: true.
const json* controller_of(const json& object) {
  for (const json& owner : member(meta(object), "ownerReferences")) {
    if (flag(owner, "controller", false)) return &owner;
  }
  return nullptr;
}

// resourceclaim.IsForPod: the claim is controlled by the pod.
tl::expected<void, std::string> is_for_pod(const json& pod, const json& claim) {
  const json* owner = controller_of(claim);
  if (namespace_of(claim) != namespace_of(pod) || owner == nullptr ||
      str(*owner, "uid") != uid_of(pod)) {
    return tl::unexpected(
        fmt::format("ResourceClaim {} was not created for pod {} (pod is not owner)", key_of(claim),
                    key_of(pod)));
  }
  return {};
}

const json& reserved_for(const json& claim) {
  return member(member(claim, "status"), "reservedFor");
}

bool is_reserved_for_pod(const json& pod, const json& claim) {
  const std::string uid = uid_of(pod);
  return std::any_of(reserved_for(claim).begin(), reserved_for(claim).end(),
                     [&](const json& r) { return str(r, "uid") == uid; });
}

bool can_be_reserved(const json& claim) {
  const json& reserved = reserved_for(claim);
  return !reserved.is_array() || reserved.size() < kResourceClaimReservedForMaxSize;
}

bool allocated(const json& claim) {
  const json& allocation = member(member(claim, "status"), "allocation");
  return !allocation.is_null();
}

bool being_deleted(const json& object) {
  return meta(object).contains("deletionTimestamp");
}

bool bound(const json& pod) {
  return !str(member(pod, "spec"), "nodeName").empty();
}

bool terminal(const json& pod) {
  const std::string phase = str(member(pod, "status"), "phase");
  return phase == "Succeeded" || phase == "Failed";
}

// isPodDone: none of its containers runs or ever will.
bool pod_done(const json& pod) {
  return terminal(pod) || (being_deleted(pod) && !bound(pod));
}

// podNeedsClaims: false when the pod's reservations can be released.
bool pod_needs_claims(const json& pod, bool deleted) {
  return !deleted && !terminal(pod) && !(being_deleted(pod) && !bound(pod));
}

bool has_finalizer(const json& claim) {
  for (const json& f : member(meta(claim), "finalizers")) {
    if (f.is_string() && f.get<std::string>() == kClaimDeleteProtectionFinalizer) return true;
  }
  return false;
}

// The claim's controlling owner when it is a pod: (name, uid), else empty.
std::pair<std::string, std::string> owning_pod(const json& claim) {
  const json* owner = controller_of(claim);
  if (owner == nullptr || str(*owner, "apiVersion") != "v1" || str(*owner, "kind") != "Pod") {
    return {};
  }
  return {str(*owner, "name"), str(*owner, "uid")};
}

std::pair<std::string, std::string> split_key(std::string_view key) {
  const size_t slash = key.find('/');
  if (slash == std::string_view::npos) return {std::string(key), {}};
  return {std::string(key.substr(0, slash)), std::string(key.substr(slash + 1))};
}

// The controller's generateName: `<pod>-<claim>-`, or both names cut in proportion to their
// lengths (and no trailing hyphen) when that is longer than 57 characters.
std::string generate_name(const std::string& pod, const std::string& claim) {
  const std::string full = pod + "-" + claim + "-";
  if (full.size() <= kMaxGenerateNameBase) return full;
  return pod.substr(0, pod.size() * kMaxGenerateNameBase / full.size()) + "-" +
         claim.substr(0, claim.size() * kMaxGenerateNameBase / full.size());
}

}  // namespace

bool ResourceClaimController::runs_at(const Store& store, KubernetesVersion version) {
  const ResourceTypePtr claims = store.resource("resource.k8s.io", "resourceclaims");
  if (!claims) return false;
  const auto it = claims->served_minors.find("v1");
  return it != claims->served_minors.end() && it->second.contains(version.minor);
}

ResourceClaimController::ResourceClaimController(Store& store,
                                                 ResourceClaimControllerOptions options)
    : store_(store),
      options_(std::move(options)),
      pods_(store.resource("", "pods")),
      claims_(store.resource("resource.k8s.io", "resourceclaims")),
      templates_(store.resource("resource.k8s.io", "resourceclaimtemplates")),
      events_(store.resource("", "events")) {
  if (!options_.clock) options_.clock = [] { return system_clock::now(); };
  if (!pods_ || !claims_ || !templates_ || !events_) return;  // a store without DRA: inert
  observer_ids_.push_back(store_.add_commit_observer(
      *pods_, [this](WatchEventType type, const Object& o) { observe(true, type, o); }));
  observer_ids_.push_back(store_.add_commit_observer(
      *claims_, [this](WatchEventType type, const Object& o) { observe(false, type, o); }));
  // The informers' initial LIST: what the store held before the observers were added.
  for (const auto& [type, pod] : {std::pair{claims_, false}, std::pair{pods_, true}}) {
    auto listed = store_.list(*type, "", ListOptions{});
    if (!listed) continue;
    for (const Object& o : listed->items) observe(pod, WatchEventType::kAdded, o);
  }
}

ResourceClaimController::~ResourceClaimController() {
  for (const uint64_t id : observer_ids_) store_.remove_commit_observer(id);
}

void ResourceClaimController::observe(bool pod, WatchEventType type, const Object& object) {
  // Under the store's lock: remember it, nothing more. Pods without claims are of no interest
  // (enqueuePod returns at once for them).
  if (pod && (!pod_claims(*object.json).is_array() || pod_claims(*object.json).empty())) return;
  {
    std::lock_guard lock(inbox_mu_);
    inbox_.push_back({pod, type, object});
  }
  if (options_.wake) options_.wake();
}

void ResourceClaimController::log(int level, const std::string& message) const {
  if (options_.log) options_.log(level, "resourceclaim controller: " + message);
}

bool ResourceClaimController::retry_due() const {
  std::unique_lock lock(mu_, std::try_to_lock);
  if (!lock.owns_lock()) return false;  // a sync is running; it takes due retries itself
  const auto now = options_.clock();
  return std::any_of(retries_.begin(), retries_.end(),
                     [&](const auto& r) { return r.second.due <= now; });
}

size_t ResourceClaimController::sync() {
  std::lock_guard lock(mu_);
  size_t ran = 0;
  for (int round = 0; round < kMaxRounds; ++round) {
    std::vector<Observed> events;
    {
      std::lock_guard inbox_lock(inbox_mu_);
      events.swap(inbox_);
    }
    for (const Observed& e : events) handle_event(e);
    const auto now = options_.clock();
    for (const auto& [key, retry] : retries_) {
      if (retry.due <= now) enqueue(key);
    }
    if (queue_.empty()) break;
    while (!queue_.empty()) {
      const std::string key = queue_.front();
      queue_.pop_front();
      queued_.erase(key);
      ++ran;
      auto done = run(key);
      if (done) {
        retries_.erase(key);  // queue.Forget
        continue;
      }
      Retry& retry = retries_[key];  // queue.AddRateLimited
      ++retry.failures;
      auto delay = std::chrono::duration_cast<system_clock::duration>(kBaseDelay);
      for (int i = 1; i < retry.failures && delay < kMaxDelay; ++i) delay *= 2;
      retry.due = options_.clock() + std::min<system_clock::duration>(delay, kMaxDelay);
      log(1, fmt::format("{} failed with: {}", key, done.error()));
    }
  }
  return ran;
}

void ResourceClaimController::enqueue(const std::string& key) {
  if (queued_.insert(key).second) queue_.push_back(key);
}

// ---- informer event handlers ------------------------------------------------------------------

void ResourceClaimController::handle_event(const Observed& event) {
  const bool deleted = event.type == WatchEventType::kDeleted;
  if (event.pod) {
    enqueue_pod(*event.object.json, deleted);
  } else {
    enqueue_claim(*event.object.json, deleted);
  }
}

void ResourceClaimController::index_pod(const json& pod, bool deleted) {
  const std::string key = key_of(pod);
  if (auto old = claims_of_pod_.find(key); old != claims_of_pod_.end()) {
    for (const std::string& claim : old->second) {
      auto it = pods_by_claim_.find(claim);
      if (it == pods_by_claim_.end()) continue;
      it->second.erase(key);
      if (it->second.empty()) pods_by_claim_.erase(it);
    }
    claims_of_pod_.erase(old);
  }
  if (deleted) return;
  std::vector<std::string> claims;
  for (const json& pod_claim : pod_claims(pod)) {
    const ClaimName c = claim_name(pod, pod_claim);
    if (c.kind != ClaimName::Kind::kNamed) continue;
    claims.push_back(namespace_of(pod) + "/" + c.name);
    pods_by_claim_[claims.back()].insert(key);
  }
  if (!claims.empty()) claims_of_pod_[key] = std::move(claims);
}

void ResourceClaimController::index_claim(const std::string& key, const json& claim, bool deleted) {
  if (auto old = owner_of_claim_.find(key); old != owner_of_claim_.end()) {
    auto it = claims_by_owner_.find(old->second);
    if (it != claims_by_owner_.end()) {
      it->second.erase(key);
      if (it->second.empty()) claims_by_owner_.erase(it);
    }
    owner_of_claim_.erase(old);
  }
  if (auto old = consumers_of_claim_.find(key); old != consumers_of_claim_.end()) {
    for (const std::string& uid : old->second) {
      auto it = claims_by_consumer_.find(uid);
      if (it == claims_by_consumer_.end()) continue;
      it->second.erase(key);
      if (it->second.empty()) claims_by_consumer_.erase(it);
    }
    consumers_of_claim_.erase(old);
  }
  if (deleted) return;
  std::vector<std::string> consumers;
  for (const json& r : reserved_for(claim)) {
    const std::string uid = str(r, "uid");
    if (uid.empty()) continue;
    consumers.push_back(uid);
    claims_by_consumer_[uid].insert(key);
  }
  if (!consumers.empty()) consumers_of_claim_[key] = std::move(consumers);
  const auto [pod, uid] = owning_pod(claim);
  if (uid.empty()) return;
  owner_of_claim_[key] = uid;
  claims_by_owner_[uid].insert(key);
}

// enqueuePod: release the claims of a pod that is gone or done; sync a pod that needs work.
void ResourceClaimController::enqueue_pod(const json& pod, bool deleted) {
  if (!pod_claims(pod).is_array() || pod_claims(pod).empty()) return;
  index_pod(pod, deleted);
  if (deleted) {
    const std::string uid = uid_of(pod);
    if (deleted_pods_.insert(uid).second) {
      deleted_pod_order_.push_back(uid);
      if (deleted_pod_order_.size() > kMaxDeletedPods) {
        deleted_pods_.erase(deleted_pod_order_.front());
        deleted_pod_order_.pop_front();
      }
    }
    // The garbage collector: the claims this pod owned lose their owner.
    if (auto owned = claims_by_owner_.find(uid); owned != claims_by_owner_.end()) {
      for (const std::string& claim : owned->second) enqueue(std::string(kGcPrefix) + claim);
    }
  }
  if (!pod_needs_claims(pod, deleted)) {
    for (const json& pod_claim : pod_claims(pod)) {
      const ClaimName c = claim_name(pod, pod_claim);
      if (c.kind == ClaimName::Kind::kNamed) {
        enqueue(std::string(kClaimPrefix) + namespace_of(pod) + "/" + c.name);
      }
    }
    if (auto listing = claims_by_consumer_.find(uid_of(pod));
        listing != claims_by_consumer_.end()) {
      for (const std::string& claim : listing->second) enqueue(std::string(kClaimPrefix) + claim);
    }
  }
  if (!deleted && pod_needs_work(pod)) enqueue(std::string(kPodPrefix) + key_of(pod));
}

// podNeedsWork: whether a new or changed pod is worth a syncPod.
bool ResourceClaimController::pod_needs_work(const json& pod) {
  if (being_deleted(pod)) return false;
  for (const json& pod_claim : pod_claims(pod)) {
    const ClaimName c = claim_name(pod, pod_claim);
    if (c.kind == ClaimName::Kind::kNotCreated || c.kind == ClaimName::Kind::kUnsupported) {
      return true;
    }
    if (c.kind == ClaimName::Kind::kNotNeeded) return false;
    auto claim = store_.get(*claims_, namespace_of(pod), c.name);
    if (!claim) {
      if (claim.error().code != 404) return true;
      // A template's claim must be made (again); a named claim is the user's to create.
      return member(pod_claim, "resourceClaimTemplateName").is_string();
    }
    if (c.check_owner && !is_for_pod(pod, *claim->json)) return false;
    if (!bound(pod)) continue;
    if (allocated(*claim->json) && !is_reserved_for_pod(pod, *claim->json) &&
        can_be_reserved(*claim->json)) {
      return true;
    }
  }
  return false;
}

// enqueueResourceClaim: check a new or changed claim's reservations, and the pods using it.
void ResourceClaimController::enqueue_claim(const json& claim, bool deleted) {
  const std::string key = key_of(claim);
  index_claim(key, claim, deleted);
  if (!deleted) {
    enqueue(std::string(kClaimPrefix) + key);
    if (!owning_pod(claim).second.empty()) enqueue(std::string(kGcPrefix) + key);
  }
  const auto users = pods_by_claim_.find(key);
  if (users == pods_by_claim_.end()) return;
  const std::set<std::string> pods = users->second;  // enqueue_pod re-indexes
  for (const std::string& pod_key : pods) {
    const auto [ns, name] = split_key(pod_key);
    if (auto pod = store_.get(*pods_, ns, name)) enqueue_pod(*pod->json, false);
  }
}

// ---- work items -------------------------------------------------------------------------------

tl::expected<void, std::string> ResourceClaimController::run(const std::string& key) {
  const auto sep = key.find(':');
  const auto [ns, name] = split_key(std::string_view(key).substr(sep + 1));
  const std::string_view prefix = std::string_view(key).substr(0, sep + 1);
  if (prefix == kPodPrefix) return sync_pod(ns, name);
  if (prefix == kClaimPrefix) return sync_claim(ns, name);
  return collect_garbage(ns, name);
}

tl::expected<void, std::string> ResourceClaimController::sync_pod(const std::string& ns,
                                                                  const std::string& name) {
  auto found = store_.get(*pods_, ns, name);
  if (!found) return {};  // gone
  json pod = *found->json;
  if (being_deleted(pod)) return {};
  std::map<std::string, std::string> new_claims;
  for (const json& pod_claim : pod_claims(pod)) {
    if (auto ok = handle_claim(pod, pod_claim, new_claims); !ok) {
      warn(pod, "FailedResourceClaimCreation",
           fmt::format("PodResourceClaim {}: {}", str(pod_claim, "name"), ok.error()));
      return tl::unexpected(fmt::format("pod {}/{}, PodResourceClaim {}: {}", ns, name,
                                        str(pod_claim, "name"), ok.error()));
    }
  }
  if (!new_claims.empty()) {
    auto updated = record_claim_statuses(ns, name, new_claims);
    if (!updated) return tl::unexpected(updated.error());
    pod = std::move(*updated);
  }
  if (!bound(pod)) return {};  // the scheduler deals with reservations
  for (const json& pod_claim : pod_claims(pod)) {
    const ClaimName c = claim_name(pod, pod_claim);
    if (c.kind == ClaimName::Kind::kNotNeeded) continue;
    if (c.kind != ClaimName::Kind::kNamed) return tl::unexpected(c.error);
    auto claim = store_.get(*claims_, ns, c.name);
    if (!claim) {
      if (claim.error().code == 404) return {};
      return tl::unexpected("retrieve claim: " + claim.error().message);
    }
    if (c.check_owner) {
      if (auto ok = is_for_pod(pod, *claim->json); !ok) return ok;
    }
    if (allocated(*claim->json) && !is_reserved_for_pod(pod, *claim->json) &&
        can_be_reserved(*claim->json)) {
      // reserveForPod: an UpdateStatus of the claim as read, so a concurrent change conflicts.
      json next = *claim->json;
      json& reserved = next["status"]["reservedFor"];
      if (!reserved.is_array()) reserved = json::array();
      reserved.push_back({{"resource", "pods"}, {"name", name}, {"uid", uid_of(pod)}});
      auto written = store_.update(*claims_, ns, c.name, std::move(next), true);
      if (!written) {
        return tl::unexpected(
            fmt::format("reserve claim {}/{} for pod: {}", ns, c.name, written.error().message));
      }
      log(2, fmt::format("reserved claim {}/{} for bound pod {}", ns, c.name, name));
    }
  }
  return {};
}

// handleClaim: make sure the pod's claim entry has its claim, creating it from the template.
tl::expected<void, std::string> ResourceClaimController::handle_claim(
    const json& pod, const json& pod_claim, std::map<std::string, std::string>& new_claims) {
  const std::string entry = str(pod_claim, "name");
  const std::string ns = namespace_of(pod);
  const ClaimName c = claim_name(pod, pod_claim);
  switch (c.kind) {
    case ClaimName::Kind::kNotCreated:
      break;
    case ClaimName::Kind::kUnsupported:
      return tl::unexpected("checking for claim before creating it: " + c.error);
    case ClaimName::Kind::kNotNeeded:
      return {};
    case ClaimName::Kind::kNamed: {
      // Recorded in the pod's status; perhaps deleted by accident since: then made again.
      auto claim = store_.get(*claims_, ns, c.name);
      if (!claim && claim.error().code != 404) return tl::unexpected(claim.error().message);
      if (claim) {
        auto owned =
            c.check_owner ? is_for_pod(pod, *claim->json) : tl::expected<void, std::string>{};
        if (owned) return {};  // already created
        log(0, fmt::format("claim that was created for the pod is no longer owned by the pod, "
                           "creating a new one: pod {}, podClaim {}, resourceClaim {}: {}",
                           key_of(pod), entry, c.name, owned.error()));
      }
      break;
    }
  }
  const json& template_name = member(pod_claim, "resourceClaimTemplateName");
  if (!template_name.is_string()) return {};
  // A claim made before, whose pod status update failed, is used rather than a second one.
  std::optional<json> claim = find_pod_claim(pod, entry);
  if (!claim) {
    const std::string tname = template_name.get<std::string>();
    auto tmpl = store_.get(*templates_, ns, tname);
    if (!tmpl) {
      const std::string why =
          tmpl.error().code == 404
              ? fmt::format("resourceclaimtemplate.resource.k8s.io \"{}\" not found", tname)
              : tmpl.error().message;
      return tl::unexpected(fmt::format("resource claim template \"{}\": {}", tname, why));
    }
    const json& template_meta = member(member(*tmpl->json, "spec"), "metadata");
    json annotations = member(template_meta, "annotations");
    if (!annotations.is_object()) annotations = json::object();
    annotations[std::string(kPodClaimNameAnnotation)] = entry;
    json metadata = {{"generateName", generate_name(name_of(pod), entry)},
                     {"ownerReferences", json::array({{{"apiVersion", "v1"},
                                                       {"kind", "Pod"},
                                                       {"name", name_of(pod)},
                                                       {"uid", uid_of(pod)},
                                                       {"controller", true},
                                                       {"blockOwnerDeletion", true}}})},
                     {"annotations", annotations}};
    if (const json& labels = member(template_meta, "labels"); labels.is_object()) {
      metadata["labels"] = labels;
    }
    json body = {{"apiVersion", "resource.k8s.io/v1"},
                 {"kind", "ResourceClaim"},
                 {"metadata", std::move(metadata)},
                 {"spec", member(member(*tmpl->json, "spec"), "spec")}};
    auto created = store_.create(*claims_, ns, std::move(body));
    if (!created) {
      // The claim's name is not known before the server generates it (hence the empty name,
      // as in the controller's message).
      return tl::unexpected("create ResourceClaim : " + created.error().message);
    }
    claim = *created->json;
    index_claim(key_of(*claim), *claim, false);  // the mutation cache: known before its event
    log(2, fmt::format("created ResourceClaim {} for pod {}", key_of(*claim), key_of(pod)));
  }
  new_claims[entry] = name_of(*claim);
  return {};
}

// findPodResourceClaim: a claim the pod owns that was made for this entry of it.
std::optional<json> ResourceClaimController::find_pod_claim(const json& pod,
                                                            const std::string& pod_claim_name) {
  const auto owned = claims_by_owner_.find(uid_of(pod));
  if (owned == claims_by_owner_.end()) return std::nullopt;
  for (const std::string& key : owned->second) {
    const auto [ns, name] = split_key(key);
    auto claim = store_.get(*claims_, ns, name);
    if (!claim) continue;
    const json& made_for =
        member(member(meta(*claim->json), "annotations"), kPodClaimNameAnnotation);
    if (made_for.is_string() && made_for.get<std::string>() == pod_claim_name) {
      return *claim->json;
    }
  }
  return std::nullopt;
}

// The pod's status.resourceClaimStatuses gets the new entries (an apply of the status with the
// list keyed by name: other entries and the rest of the status are kept).
tl::expected<json, std::string> ResourceClaimController::record_claim_statuses(
    const std::string& ns, const std::string& name,
    const std::map<std::string, std::string>& new_claims) {
  std::string last_error;
  for (int attempt = 0; attempt < kConflictAttempts; ++attempt) {
    auto current = store_.get(*pods_, ns, name);
    if (!current) return tl::unexpected(current.error().message);
    json pod = *current->json;
    json& statuses = pod["status"]["resourceClaimStatuses"];
    if (!statuses.is_array()) statuses = json::array();
    for (const auto& [entry, claim] : new_claims) {
      auto it = std::find_if(statuses.begin(), statuses.end(),
                             [&](const json& s) { return str(s, "name") == entry; });
      if (it == statuses.end()) {
        statuses.push_back({{"name", entry}, {"resourceClaimName", claim}});
      } else {
        (*it)["resourceClaimName"] = claim;
      }
    }
    auto written = store_.update(*pods_, ns, name, std::move(pod), true);
    if (written) return *written->json;
    last_error = written.error().message;
    if (written.error().code != 409) break;
  }
  return tl::unexpected(
      fmt::format("update pod {}/{} ResourceClaimStatuses: {}", ns, name, last_error));
}

// syncClaim: drop reservations of pods that will not run, deallocate a claim nobody uses any
// more, delete a generated claim whose pod is done.
tl::expected<void, std::string> ResourceClaimController::sync_claim(const std::string& ns,
                                                                    const std::string& name) {
  auto found = store_.get(*claims_, ns, name);
  if (!found) return {};  // gone
  const json& claim = *found->json;
  json valid = json::array();
  for (const json& r : reserved_for(claim)) {
    if (!str(r, "apiGroup").empty() || str(r, "resource") != "pods") {
      return tl::unexpected("unsupported ReservedFor entry: " + r.dump());
    }
    const std::string uid = str(r, "uid");
    bool keep = true;
    if (deleted_pods_.contains(uid)) {
      keep = false;  // seen deleted
    } else {
      auto pod = store_.get(*pods_, ns, str(r, "name"));
      if (!pod) {
        if (pod.error().code != 404) return tl::unexpected(pod.error().message);
        keep = false;  // gone
      } else if (uid_of(*pod->json) != uid) {
        keep = false;  // replaced by a new pod of that name
      } else if (pod_done(*pod->json)) {
        keep = false;  // will not run any more
      }
    }
    if (keep) valid.push_back(r);
  }
  const bool finalizer = has_finalizer(claim);
  const auto drop_finalizer = [&](const json& current) -> tl::expected<void, std::string> {
    json next = current;
    json& finalizers = next["metadata"]["finalizers"];
    finalizers.erase(std::remove(finalizers.begin(), finalizers.end(),
                                 json(std::string(kClaimDeleteProtectionFinalizer))),
                     finalizers.end());
    if (finalizers.empty()) next["metadata"].erase("finalizers");
    auto written = store_.update(*claims_, ns, name, std::move(next), false);
    if (!written) return tl::unexpected(written.error().message);
    return {};
  };
  if (valid.size() < reserved_for(claim).size()) {
    json next = claim;
    if (valid.empty()) {
      next["status"].erase("reservedFor");
      // Deallocation by the last consumer leaving: a claim the scheduler allocated (it carries
      // the finalizer) is free again for any future consumer, and its devices for other claims.
      if (finalizer) next["status"].erase("allocation");
    } else {
      next["status"]["reservedFor"] = valid;
    }
    auto written = store_.update(*claims_, ns, name, std::move(next), true);
    if (!written) return tl::unexpected(written.error().message);
    log(2,
        fmt::format("claim {}/{}: {} of {} reservations left{}", ns, name, valid.size(),
                    reserved_for(claim).size(), valid.empty() && finalizer ? ", deallocated" : ""));
    const json& now = *written->json;
    if (has_finalizer(now) && !allocated(now)) {
      if (auto ok = drop_finalizer(now); !ok) return ok;
    }
  } else if (finalizer && being_deleted(claim) && valid.empty()) {
    json current = claim;
    if (allocated(claim)) {
      // Allocated, unused, then deleted: cleared like above before the finalizer goes.
      json next = claim;
      next["status"].erase("allocation");
      auto written = store_.update(*claims_, ns, name, std::move(next), true);
      if (!written) return tl::unexpected(written.error().message);
      current = *written->json;
    }
    if (auto ok = drop_finalizer(current); !ok) return ok;
  }
  if (!valid.empty()) return {};
  // Not reserved: a claim generated for a pod that will not run is deleted now (the garbage
  // collector would only do so once the pod itself is gone).
  const auto [pod_name, pod_uid] = owning_pod(claim);
  if (pod_name.empty()) return {};
  auto pod = store_.get(*pods_, ns, pod_name);
  if (!pod) {
    if (pod.error().code != 404) return tl::unexpected("lookup pod: " + pod.error().message);
    enqueue(std::string(kGcPrefix) + ns + "/" + name);  // the garbage collector's case
    return {};
  }
  if (uid_of(*pod->json) != pod_uid || pod_done(*pod->json)) {
    DeleteOptions options;
    options.precondition_uid = uid_of(claim);
    auto removed = store_.remove(*claims_, ns, name, options);
    if (!removed && removed.error().code != 404) {
      return tl::unexpected(
          fmt::format("delete claim {}/{}: {}", ns, name, removed.error().message));
    }
    log(2, fmt::format("deleted unused generated claim {}/{} of pod {}", ns, name, pod_name));
  }
  return {};
}

// The garbage collector, for claims owned by pods: deleted (in the background) once all their
// Pod owners are gone. A claim with an owner of another kind is left alone.
tl::expected<void, std::string> ResourceClaimController::collect_garbage(const std::string& ns,
                                                                         const std::string& name) {
  auto found = store_.get(*claims_, ns, name);
  if (!found) return {};
  const json& claim = *found->json;
  const json& owners = member(meta(claim), "ownerReferences");
  if (being_deleted(claim) || !owners.is_array() || owners.empty()) return {};
  for (const json& owner : owners) {
    if (str(owner, "apiVersion") != "v1" || str(owner, "kind") != "Pod") return {};
    auto pod = store_.get(*pods_, ns, str(owner, "name"));
    if (pod && uid_of(*pod->json) == str(owner, "uid")) return {};  // an owner is alive
    if (!pod && pod.error().code != 404) return tl::unexpected(pod.error().message);
  }
  DeleteOptions options;
  options.precondition_uid = uid_of(claim);
  auto removed = store_.remove(*claims_, ns, name, options);
  if (!removed && removed.error().code != 404) {
    return tl::unexpected(fmt::format("delete claim {}/{}: {}", ns, name, removed.error().message));
  }
  log(2, fmt::format("garbage collected claim {}/{}: its pod is gone", ns, name));
  return {};
}

// An Event as client-go's recorder writes it (source component resource_claim); the same event
// again counts up (the event correlator's patch) instead of making another.
void ResourceClaimController::warn(const json& pod, const std::string& reason,
                                   const std::string& message) {
  const auto now = options_.clock();
  const std::string now_text = format_rfc3339(now);
  const std::string ns = namespace_of(pod);
  const std::string id = key_of(pod) + "\n" + uid_of(pod) + "\n" + reason + "\n" + message;
  if (auto seen = recorded_events_.find(id); seen != recorded_events_.end()) {
    if (auto event = store_.get(*events_, ns, seen->second)) {
      json next = *event->json;
      next["count"] = integer(next, "count", 1) + 1;
      next["lastTimestamp"] = now_text;
      if (store_.update(*events_, ns, seen->second, std::move(next), false)) return;
    }
    recorded_events_.erase(seen);
  }
  const auto nanos =
      std::chrono::duration_cast<std::chrono::nanoseconds>(now.time_since_epoch()).count();
  const std::string event_name = fmt::format("{}.{:x}", name_of(pod), nanos);
  json event = {{"apiVersion", "v1"},
                {"kind", "Event"},
                {"metadata", {{"name", event_name}, {"namespace", ns}}},
                {"involvedObject",
                 {{"kind", "Pod"},
                  {"namespace", ns},
                  {"name", name_of(pod)},
                  {"uid", uid_of(pod)},
                  {"apiVersion", "v1"},
                  {"resourceVersion", str(meta(pod), "resourceVersion")}}},
                {"reason", reason},
                {"message", message},
                {"source", {{"component", "resource_claim"}}},
                {"firstTimestamp", now_text},
                {"lastTimestamp", now_text},
                {"count", 1},
                {"type", "Warning"},
                {"eventTime", nullptr},
                {"reportingComponent", "resource_claim"},
                {"reportingInstance", ""}};
  if (recorded_events_.size() >= kMaxRecordedEvents) recorded_events_.clear();
  if (store_.create(*events_, ns, std::move(event))) recorded_events_[id] = event_name;
}

}  // namespace fairway::apiserver
