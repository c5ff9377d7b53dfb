#include "scheduler/service/reservations.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "k8s-client/api_error.h"
#include "k8s-client/objects.h"
#include "scheduler/service/log.h"
#include "scheduler/state/gpu_sharing.h"

namespace fairway {
namespace {

// A reservation pod asked to go is asked again after this long if it is still there.
constexpr auto kDeleteRetry = std::chrono::seconds(10);
constexpr auto kFirstBackoff = std::chrono::milliseconds(500);
constexpr auto kMaxBackoff = std::chrono::milliseconds(30'000);

nlohmann::json toleration_json(const Toleration& toleration) {
  nlohmann::json out = nlohmann::json::object();
  if (!toleration.key.empty()) out["key"] = toleration.key;
  out["operator"] = toleration.op == Toleration::Operator::kExists ? "Exists" : "Equal";
  if (!toleration.value.empty()) out["value"] = toleration.value;
  if (toleration.effect) out["effect"] = taint_effect_name(*toleration.effect);
  return out;
}

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& item : items) out += (out.empty() ? "" : ",") + item;
  return out;
}

}  // namespace

std::string default_reservation_image() {
  return "fairway:" FAIRWAY_VERSION;
}

namespace {

// Where the kubelet mounts a service-account token, and where in-cluster clients look for it.
constexpr std::string_view kTokenMountPath = "/var/run/secrets/kubernetes.io/serviceaccount";
// The shortest lifetime a projected token may ask for (the API server refuses less); the
// kubelet refreshes the file before it expires, for the pod's life.
constexpr int64_t kTokenExpirationSeconds = 600;

// What the kubelet's automount gives a container (a bound token, the cluster's CA, the
// namespace), as a volume only the reporting init container mounts.
nlohmann::json token_volume() {
  using nlohmann::json;
  const json token = {{"path", "token"}, {"expirationSeconds", kTokenExpirationSeconds}};
  const json ca = {{"name", "kube-root-ca.crt"},
                   {"items", json::array({{{"key", "ca.crt"}, {"path", "ca.crt"}}})}};
  const json namespace_file = {
      {"path", "namespace"},
      {"fieldRef", {{"apiVersion", "v1"}, {"fieldPath", "metadata.namespace"}}}};
  const json sources =
      json::array({json{{"serviceAccountToken", token}}, json{{"configMap", ca}},
                   json{{"downwardAPI", {{"items", json::array({namespace_file})}}}}});
  // 0644 as the kubelet's automount: readable by the pod's non-root user.
  return {{"name", std::string(kReservationTokenVolume)},
          {"projected", {{"defaultMode", 0644}, {"sources", sources}}}};
}

// One container of a reservation pod: the GPU alone, requested as limited, and the Pod Security
// Standards' "restricted" profile, which the chart enforces on the reservation namespace.
// No CPU or memory: the pod is created straight on a node whose CPU and memory the sharers may
// have filled exactly (fairway accounts a new shared GPU as one whole GPU), and the agent reads
// NVML once, annotates its pod and idles. The init container asks for the same one GPU: a pod's
// request is max(init, sum(app)), still one GPU, and the kubelet hands the init container's GPU
// on to the app container (docs/gpu-sharing.md).
nlohmann::json agent_container(const ReservationOptions& options, std::string_view name,
                               nlohmann::json args) {
  return {
      {"name", std::string(name)},
      {"image", options.image},
      {"args", std::move(args)},
      {"resources",
       {{"limits", {{std::string(kGpuResourceName), "1"}}},
        {"requests", {{std::string(kGpuResourceName), "1"}}}}},
      {"securityContext",
       {{"allowPrivilegeEscalation", false},
        {"readOnlyRootFilesystem", true},
        {"capabilities", {{"drop", {"ALL"}}}}}},
  };
}

}  // namespace

std::string reservation_pod_body(const ReservationOptions& options, const std::string& group,
                                 const std::string& node,
                                 const std::vector<Toleration>& tolerations) {
  nlohmann::json tolerations_json = nlohmann::json::array();
  for (const Toleration& toleration : tolerations) {
    tolerations_json.push_back(toleration_json(toleration));
  }
  auto field_env = [](const char* name, const char* path) {
    return nlohmann::json{{"name", name}, {"valueFrom", {{"fieldRef", {{"fieldPath", path}}}}}};
  };
  // The init container reports the GPU's UUID with the pod's only token, then exits.
  nlohmann::json report = agent_container(options, kReservationReportContainer,
                                          nlohmann::json::array({"reservation-agent", "--once"}));
  report["env"] = {field_env("POD_NAME", "metadata.name"),
                   field_env("POD_NAMESPACE", "metadata.namespace")};
  report["volumeMounts"] = nlohmann::json::array({{{"name", std::string(kReservationTokenVolume)},
                                                   {"mountPath", std::string(kTokenMountPath)},
                                                   {"readOnly", true}}});
  // The app container holds the GPU for the pod's life with no token and no API access.
  nlohmann::json hold = agent_container(options, kReservationHoldContainer,
                                        nlohmann::json::array({"reservation-agent", "hold"}));
  nlohmann::json spec = {
      {"nodeName", node},
      {"restartPolicy", "Always"},
      {"terminationGracePeriodSeconds", 5},
      // No token in any container but the one that mounts the volume above.
      {"automountServiceAccountToken", false},
      {"securityContext",
       {{"runAsNonRoot", true},
        {"runAsUser", 65532},
        {"runAsGroup", 65532},
        {"seccompProfile", {{"type", "RuntimeDefault"}}}}},
      {"tolerations", std::move(tolerations_json)},
      {"initContainers", nlohmann::json::array({std::move(report)})},
      {"containers", nlohmann::json::array({std::move(hold)})},
      {"volumes", nlohmann::json::array({token_volume()})},
  };
  if (!options.priority_class.empty()) spec["priorityClassName"] = options.priority_class;
  if (!options.runtime_class.empty()) spec["runtimeClassName"] = options.runtime_class;
  if (!options.service_account.empty()) spec["serviceAccountName"] = options.service_account;
  return nlohmann::json{
      {"apiVersion", "v1"},
      {"kind", "Pod"},
      {"metadata",
       {{"name", group},
        {"namespace", options.namespace_},
        {"labels",
         {{std::string(kGpuGroupLabel), group}, {"app.kubernetes.io/managed-by", "fairway"}}}}},
      {"spec", std::move(spec)},
  }
      .dump();
}

std::string sharer_configmap_body(const Binding& binding, const std::vector<std::string>& uuids) {
  const auto [ns, name] = split_key(binding.pod);
  nlohmann::json data = {{"NVIDIA_VISIBLE_DEVICES", join(uuids)},
                         {"GPU_FRACTION", fmt::format("{:g}", binding.gpu_fraction)}};
  if (binding.gpu_memory_mib > 0) data["GPU_MEMORY_MIB"] = std::to_string(binding.gpu_memory_mib);
  nlohmann::json metadata = {
      {"name", binding.gpu_configmap},
      {"namespace", ns},
      {"labels",
       {{std::string(kGpuGroupLabel), binding.shares.front().group},
        {"app.kubernetes.io/managed-by", "fairway"}}},
  };
  if (!binding.uid.empty()) {
    // Owned by the pod: the garbage collector removes it with the pod.
    metadata["ownerReferences"] = {
        {{"apiVersion", "v1"}, {"kind", "Pod"}, {"name", name}, {"uid", binding.uid}}};
  }
  return nlohmann::json{{"apiVersion", "v1"},
                        {"kind", "ConfigMap"},
                        {"metadata", std::move(metadata)},
                        {"data", std::move(data)}}
      .dump();
}

namespace {

// Whether a ConfigMap already in the API is one fairway wrote for this pod: owned by the pod
// (its uid) and labelled as fairway's. Any other is left untouched: the name is fairway's choice,
// but a tenant may have created an object of that name first.
bool written_for(const nlohmann::json& configmap, const Binding& binding) {
  const nlohmann::json& metadata = configmap.value("metadata", nlohmann::json::object());
  const nlohmann::json& labels = metadata.value("labels", nlohmann::json::object());
  if (labels.value("app.kubernetes.io/managed-by", "") != "fairway") return false;
  for (const auto& owner : metadata.value("ownerReferences", nlohmann::json::array())) {
    if (owner.is_object() && owner.value("kind", "") == "Pod" &&
        owner.value("uid", "") == binding.uid && !binding.uid.empty()) {
      return true;
    }
  }
  return false;
}

}  // namespace

ReservationManager::ReservationManager(ClusterWriter& client, ReservationOptions options,
                                       ReservationStats& stats, Hooks hooks, const Clock& clock,
                                       bool threads)
    : clock_(clock),
      client_(client),
      options_(std::move(options)),
      stats_(stats),
      hooks_(std::move(hooks)),
      jobs_(clock, threads ? std::max(options_.workers, 1) : 0,
            [this](Job& job, int) -> std::optional<Clock::duration> {
              work(job);
              return std::nullopt;
            }) {}

ReservationManager::~ReservationManager() {
  stop();
}

void ReservationManager::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  jobs_.close();  // no job starts from now on
  uuid_ready_.notify_all();
  stopped_.notify_all();
  // Not bound: the next leader's cycles place these pods again.
  for (Job& left : jobs_.stop()) hooks_.on_failed(left.binding, "scheduler stopping");
}

void ReservationManager::submit(Binding binding, const ClusterState& state) {
  Job job;
  for (const GpuShare& share : binding.shares) {
    const SharedGpu* gpu = state.gpu_sharing().find(share.group);
    job.known_uuids.push_back(gpu != nullptr && gpu->reservation ? gpu->uuid : std::string());
  }
  job.binding = std::move(binding);
  ++in_flight_;
  {
    std::lock_guard lock(mutex_);
    for (const GpuShare& share : job.binding.shares) ++busy_[share.group];
  }
  jobs_.add(std::move(job));
}

void ReservationManager::observe(const ClusterState& state) {
  bool any = false;
  {
    std::lock_guard lock(mutex_);
    for (const auto& [group, count] : busy_) {
      const SharedGpu* gpu = state.gpu_sharing().find(group);
      if (gpu == nullptr || gpu->uuid.empty()) continue;
      auto& known = uuids_[group];
      if (known != gpu->uuid) {
        known = gpu->uuid;
        any = true;
      }
    }
  }
  if (any) uuid_ready_.notify_all();
}

void ReservationManager::reconcile(ClusterState& state) {
  const GpuSharing& sharing = state.gpu_sharing();
  const auto now = clock_.now();
  std::vector<std::string> to_delete;
  std::vector<std::pair<std::string, std::string>> to_create;  // group, node
  std::vector<std::vector<Toleration>> create_tolerations;
  {
    std::lock_guard lock(mutex_);
    for (GroupId id : sharing.idle()) {
      const SharedGpu& gpu = sharing.gpus()[id];
      if (busy_.contains(gpu.group)) continue;  // a worker is about to use it
      auto it = deleting_.find(gpu.group);
      if (it != deleting_.end() && now - it->second < kDeleteRetry) continue;
      deleting_[gpu.group] = now;
      to_delete.push_back(gpu.group);
    }
    for (GroupId id : sharing.unreserved()) {
      const SharedGpu& gpu = sharing.gpus()[id];
      if (busy_.contains(gpu.group) || created_.contains(gpu.group)) continue;
      const PodRecord& sharer = state.pods()[gpu.sharers.front()];
      to_create.emplace_back(gpu.group, state.nodes()[gpu.node].node.name);
      create_tolerations.push_back(sharer.pod.tolerations);
    }
    // Groups that are gone from the state need no bookkeeping.
    std::erase_if(deleting_,
                  [&](const auto& entry) { return sharing.find(entry.first) == nullptr; });
    std::erase_if(created_, [&](const std::string& group) {
      const SharedGpu* gpu = sharing.find(group);
      return gpu == nullptr || gpu->reservation.has_value();
    });
    std::erase_if(uuids_, [&](const auto& entry) { return !busy_.contains(entry.first); });
    std::erase_if(failures_,
                  [&](const auto& entry) { return state.find_pod(entry.first) == nullptr; });
  }
  for (const std::string& group : to_delete) {
    state.retire_gpu_group(group);
    delete_reservation(group);
  }
  for (size_t i = 0; i < to_create.size(); ++i) {
    const auto& [group, node] = to_create[i];
    log::warn("shared GPU has sharers but no reservation pod; recreating it",
              {{"group", group}, {"node", node}});
    std::string why;
    if (!create_reservation(group, node, create_tolerations[i], &why)) {
      log::warn("could not recreate reservation pod", {{"group", group}, {"error", why}});
    }
  }
}

void ReservationManager::work(const Job& job) {
  run(job);
  {
    std::lock_guard lock(mutex_);
    for (const GpuShare& share : job.binding.shares) {
      if (auto it = busy_.find(share.group); it != busy_.end() && --it->second == 0) {
        busy_.erase(it);
      }
    }
  }
  --in_flight_;
}

bool ReservationManager::create_reservation(const std::string& group, const std::string& node,
                                            const std::vector<Toleration>& tolerations,
                                            std::string* why) {
  {
    std::lock_guard lock(mutex_);
    if (created_.contains(group)) return true;
    created_.insert(group);
  }
  const WriteResult response =
      client_.create(fmt::format("/api/v1/namespaces/{}/pods", options_.namespace_),
                     reservation_pod_body(options_, group, node, tolerations));
  if (response.ok() || response.status == 409) {
    // 409: an earlier attempt (or replica) created it; same name, same GPU group.
    if (response.ok()) {
      ++stats_.reservations_created;
      log::info("reservation pod created", {{"group", group}, {"node", node}});
    }
    return true;
  }
  std::lock_guard lock(mutex_);
  created_.erase(group);
  *why =
      fmt::format("creating reservation pod {}/{}: {}", options_.namespace_, group, response.error);
  return false;
}

void ReservationManager::delete_reservation(const std::string& group) {
  if (!hooks_.may_write()) return;
  const WriteResult response =
      client_.remove(fmt::format("/api/v1/namespaces/{}/pods/{}", options_.namespace_, group));
  if (response.ok()) {
    ++stats_.reservations_deleted;
    log::info("reservation pod deleted: no pod shares its GPU", {{"group", group}});
  } else if (response.status != 404) {
    log::warn("could not delete reservation pod", {{"group", group}, {"error", response.error}});
  }
  std::lock_guard lock(mutex_);
  created_.erase(group);
}

std::string ReservationManager::reserve(const Binding& binding, const GpuShare& share,
                                        std::string* why) {
  if (!create_reservation(share.group, binding.node, binding.tolerations, why)) return {};
  std::unique_lock lock(mutex_);
  const bool reported = wait_until(clock_, uuid_ready_, lock, clock_.now() + options_.timeout, [&] {
    auto it = uuids_.find(share.group);
    return stopping_ || (it != uuids_.end() && !it->second.empty());
  });
  if (stopping_) {
    *why = "scheduler stopping";
    return {};
  }
  if (!reported) {
    ++stats_.uuid_timeouts;
    *why =
        fmt::format("reservation pod {}/{} did not report its GPU UUID (annotation {}) within {}s",
                    options_.namespace_, share.group, kGpuUuidAnnotation,
                    std::chrono::duration_cast<std::chrono::seconds>(options_.timeout).count());
    return {};
  }
  return uuids_.at(share.group);
}

void ReservationManager::run(const Job& job) {
  const Binding& binding = job.binding;
  const auto [ns, name] = split_key(binding.pod);
  bool configmap_written = false;
  bool labelled = false;
  auto fail = [&](const std::string& why) {
    // Undo this attempt's writes; the reservation pod goes when its group is empty (reconcile).
    ++stats_.rollbacks;
    if (configmap_written) {
      client_.remove(fmt::format("/api/v1/namespaces/{}/configmaps/{}", ns, binding.gpu_configmap));
    }
    if (labelled) {
      const nlohmann::json undo = {
          {"metadata",
           {{"labels", {{std::string(kGpuGroupLabel), nullptr}}},
            {"annotations", {{std::string(kGpuGroupsAnnotation), nullptr}}}}}};
      client_.patch(fmt::format("/api/v1/namespaces/{}/pods/{}", ns, name), undo.dump(),
                    kMergePatch);
    }
    log::warn("shared GPU placement rolled back",
              {{"pod", binding.pod}, {"node", binding.node}, {"reason", why}});
    if (hooks_.on_rollback) hooks_.on_rollback(binding, why);
    std::unique_lock lock(mutex_);
    const int failures = ++failures_[binding.pod];
    const auto backoff = std::min<std::chrono::milliseconds>(
        kMaxBackoff, kFirstBackoff * (1 << std::min(failures - 1, 10)));
    wait_until(clock_, stopped_, lock, clock_.now() + backoff, [this] { return stopping_; });
    lock.unlock();
    hooks_.on_failed(binding, why);
  };
  if (!hooks_.may_write()) {
    hooks_.on_failed(binding, "not the leader");
    return;
  }
  if (hooks_.blocker) {
    if (std::string why = hooks_.blocker(); !why.empty()) return fail(why);
  }

  std::vector<std::string> uuids;
  std::vector<std::string> groups;
  for (size_t i = 0; i < binding.shares.size(); ++i) {
    const GpuShare& share = binding.shares[i];
    groups.push_back(share.group);
    std::string uuid = job.known_uuids[i];
    if (uuid.empty()) {
      std::string why;
      uuid = reserve(binding, share, &why);
      if (uuid.empty()) return fail(why);
    }
    uuids.push_back(std::move(uuid));
  }

  const std::string configmaps = fmt::format("/api/v1/namespaces/{}/configmaps", ns);
  const std::string body = sharer_configmap_body(binding, uuids);
  WriteResult created = client_.create(configmaps, body);
  if (created.status == 409) {
    // Left by an earlier attempt: replace it, its UUIDs may be stale. One fairway did not write
    // for this pod is never touched.
    const std::string path = fmt::format("{}/{}", configmaps, binding.gpu_configmap);
    const WriteResult existing = client_.read(path);
    if (!existing.ok()) return fail("reading ConfigMap: " + existing.error);
    const auto stored = nlohmann::json::parse(existing.body, nullptr, false);
    if (!written_for(stored, binding)) {
      return fail(fmt::format(
          "ConfigMap {}/{} exists and was not written by fairway for this pod; it is not replaced",
          ns, binding.gpu_configmap));
    }
    nlohmann::json replacement = nlohmann::json::parse(body);
    replacement["metadata"]["resourceVersion"] =
        stored["metadata"].value("resourceVersion", std::string());
    created = client_.replace(path, replacement.dump());
  }
  if (!created.ok()) return fail("writing ConfigMap: " + created.error);
  configmap_written = true;
  ++stats_.configmaps_created;

  const nlohmann::json labels = {
      {"metadata",
       {{"labels", {{std::string(kGpuGroupLabel), groups.front()}}},
        {"annotations", {{std::string(kGpuGroupsAnnotation), join(groups)}}}}}};
  const WriteResult patched = client_.patch(fmt::format("/api/v1/namespaces/{}/pods/{}", ns, name),
                                            labels.dump(), kMergePatch);
  if (!patched.ok()) return fail("labelling pod: " + patched.error);
  labelled = true;

  const WriteResult bound = client_.bind(ns, name, binding.uid, binding.node);
  if (bound.status == 409) {
    // Already bound (an earlier attempt of ours): the watch tells where; nothing to undo.
    log::info("pod already bound", {{"pod", binding.pod}, {"node", binding.node}});
    return;
  }
  if (!bound.ok()) return fail("binding: " + bound.error);
  ++stats_.shared_binds;
  {
    std::lock_guard lock(mutex_);
    failures_.erase(binding.pod);
  }
  log::debug("bound to shared GPU", {{"pod", binding.pod},
                                     {"node", binding.node},
                                     {"groups", join(groups)},
                                     {"uuids", join(uuids)}});
  if (hooks_.on_bound) hooks_.on_bound(binding);
}

}  // namespace fairway
