#include "scheduler/service/volume_binder.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "scheduler/service/log.h"
#include "scheduler/state/model.h"
#include "scheduler/state/storage_state.h"

namespace fairway {
namespace {

using nlohmann::json;

constexpr std::string_view kAnnBoundByController = "pv.kubernetes.io/bound-by-controller";

std::string claim_path(const std::string& key) {
  const auto [ns, name] = split_key(key);
  return fmt::format("/api/v1/namespaces/{}/persistentvolumeclaims/{}", ns, name);
}

std::string volume_path(const std::string& name) {
  return "/api/v1/persistentvolumes/" + name;
}

std::string describe(const WriteResult& response) {
  if (!response.answered()) return response.message;
  return fmt::format("HTTP {}", response.status);
}

// GET an object as JSON; nullopt with `why` set on failure.
std::optional<json> get_json(ClusterWriter& client, const std::string& path, std::string& why) {
  const WriteResult response = client.read(path);
  if (!response.ok()) {
    why = describe(response);
    return std::nullopt;
  }
  try {
    return json::parse(response.body);
  } catch (const json::exception& e) {
    why = e.what();
    return std::nullopt;
  }
}

std::string str(const json& j, const json::json_pointer& pointer) {
  return j.contains(pointer) && j.at(pointer).is_string() ? j.at(pointer).get<std::string>()
                                                          : std::string();
}

}  // namespace

VolumeBinder::VolumeBinder(ClusterWriter& client, VolumeBinderOptions options, const Clock& clock)
    : client_(client), options_(options), clock_(clock) {}

void VolumeBinder::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
}

std::optional<std::string> VolumeBinder::bind(const Binding& binding, VolumeWrites& written) {
  written = {};
  auto fail = [&](std::string why) -> std::optional<std::string> {
    log::warn("volume binding rolled back", {{"pod", binding.pod}, {"reason", why}});
    rollback(written);
    written = {};
    return why;
  };
  for (const VolumeBinding& vb : binding.volume_bindings) {
    std::string why;
    const auto claim = get_json(client_, claim_path(vb.claim), why);
    if (!claim) return fail(fmt::format("reading claim {}: {}", vb.claim, why));
    if (vb.volume.empty()) {
      const json patch = {
          {"metadata", {{"annotations", {{std::string(kAnnSelectedNode), vb.node}}}}}};
      auto response = client_.patch(claim_path(vb.claim), patch.dump(), kMergePatch);
      if (!response.ok()) {
        return fail(fmt::format("annotating claim {}: {}", vb.claim, describe(response)));
      }
      written.selected_nodes.push_back(vb.claim);
      continue;
    }
    const auto volume = get_json(client_, volume_path(vb.volume), why);
    if (!volume) return fail(fmt::format("reading volume {}: {}", vb.volume, why));
    const auto [ns, name] = split_key(vb.claim);
    const std::string ref_name = str(*volume, "/spec/claimRef/name"_json_pointer);
    const std::string ref_ns = str(*volume, "/spec/claimRef/namespace"_json_pointer);
    if (!ref_name.empty() && (ref_name != name || ref_ns != ns)) {
      return fail(fmt::format("volume {} is bound to claim {}/{}", vb.volume, ref_ns, ref_name));
    }
    if (ref_name.empty()) {
      if (auto error = write_claim_ref(vb, *claim, *volume, written)) {
        return fail(fmt::format("binding volume {}: {}", vb.volume, *error));
      }
    }
    if (str(*claim, "/spec/volumeName"_json_pointer) != vb.volume) {
      const json claim_patch = {{"spec", {{"volumeName", vb.volume}}}};
      auto response = client_.patch(claim_path(vb.claim), claim_patch.dump(), kMergePatch);
      if (!response.ok()) {
        return fail(fmt::format("binding claim {}: {}", vb.claim, describe(response)));
      }
      written.volume_names.push_back(vb.claim);
    }
  }

  // Wait for every claim to be bound.
  const auto deadline = clock_.now() + options_.timeout;
  for (;;) {
    bool done = false;
    if (auto failure = check_bound(binding, done)) return fail(*failure);
    if (done) return std::nullopt;
    std::unique_lock lock(mutex_);
    if (stopping_) return fail("stopping");
    const auto now = clock_.now();
    if (now >= deadline) {
      lock.unlock();
      return fail(fmt::format("binding volumes: timed out waiting for the condition after {}s",
                              options_.timeout.count() / 1000));
    }
    wait_until(clock_, wake_, lock, std::min(deadline, now + options_.poll),
               [this] { return stopping_; });
  }
}

std::optional<std::string> VolumeBinder::write_claim_ref(const VolumeBinding& vb,
                                                         const nlohmann::json& claim,
                                                         const nlohmann::json& volume,
                                                         VolumeWrites& written) {
  const auto [ns, name] = split_key(vb.claim);
  const json pv_patch = {
      {"metadata",
       {{"resourceVersion", str(volume, "/metadata/resourceVersion"_json_pointer)},
        {"annotations", {{std::string(kAnnBoundByController), "yes"}}}}},
      {"spec",
       {{"claimRef",
         {{"kind", "PersistentVolumeClaim"},
          {"apiVersion", "v1"},
          {"namespace", ns},
          {"name", name},
          {"uid", str(claim, "/metadata/uid"_json_pointer)},
          {"resourceVersion", str(claim, "/metadata/resourceVersion"_json_pointer)}}}}}};
  auto response = client_.patch(volume_path(vb.volume), pv_patch.dump(), kMergePatch);
  if (!response.ok()) return describe(response);
  written.claim_refs.push_back(vb.volume);
  return std::nullopt;
}

std::optional<std::string> VolumeBinder::check_bound(const Binding& binding, bool& done) {
  done = false;
  for (const VolumeBinding& vb : binding.volume_bindings) {
    std::string why;
    const auto claim = get_json(client_, claim_path(vb.claim), why);
    if (!claim) return fmt::format("reading claim {}: {}", vb.claim, why);
    if (claim->contains("/metadata/deletionTimestamp"_json_pointer)) {
      return fmt::format("persistentvolumeclaim {} is being deleted", vb.claim);
    }
    const std::string volume_name = str(*claim, "/spec/volumeName"_json_pointer);
    if (vb.volume.empty() && volume_name.empty()) {
      // The provisioner has not finished; one that gave up removed the annotation.
      const std::string selected = str(
          *claim, json::json_pointer("/metadata/annotations/volume.kubernetes.io~1selected-node"));
      if (selected != vb.node) {
        return fmt::format("provisioning failed for PVC \"{}\"", split_key(vb.claim).second);
      }
      return std::nullopt;
    }
    if (!vb.volume.empty() && volume_name != vb.volume) {
      return fmt::format("claim {} was bound to another volume", vb.claim);
    }
    if (str(*claim, "/status/phase"_json_pointer) == "Bound") continue;
    const auto volume = get_json(client_, volume_path(volume_name), why);
    if (!volume) return std::nullopt;  // a provisioned volume may not be listed yet
    const auto [ns, name] = split_key(vb.claim);
    if (str(*volume, "/spec/claimRef/name"_json_pointer) != name ||
        str(*volume, "/spec/claimRef/namespace"_json_pointer) != ns) {
      return std::nullopt;  // the PV controller has not written its side yet
    }
  }
  done = true;
  return std::nullopt;
}

void VolumeBinder::rollback(const VolumeWrites& written) {
  for (const std::string& key : written.volume_names) {
    const json patch = {{"spec", {{"volumeName", nullptr}}}};
    auto response = client_.patch(claim_path(key), patch.dump(), kMergePatch);
    if (!response.ok()) {
      log::info("claim volumeName left in place", {{"claim", key}, {"reason", describe(response)}});
    }
  }
  for (const std::string& volume : written.claim_refs) {
    const json patch = {
        {"metadata", {{"annotations", {{std::string(kAnnBoundByController), nullptr}}}}},
        {"spec", {{"claimRef", nullptr}}}};
    auto response = client_.patch(volume_path(volume), patch.dump(), kMergePatch);
    if (!response.ok()) {
      log::warn("volume claimRef not cleared",
                {{"volume", volume}, {"reason", describe(response)}});
    }
  }
  for (const std::string& key : written.selected_nodes) {
    std::string why;
    const auto claim = get_json(client_, claim_path(key), why);
    // A volume was provisioned: the claim is bound to it, nothing to undo.
    if (claim && !str(*claim, "/spec/volumeName"_json_pointer).empty()) continue;
    const json patch = {
        {"metadata", {{"annotations", {{std::string(kAnnSelectedNode), nullptr}}}}}};
    auto response = client_.patch(claim_path(key), patch.dump(), kMergePatch);
    if (!response.ok()) {
      log::warn("selected-node annotation not removed",
                {{"claim", key}, {"reason", describe(response)}});
    }
  }
}

}  // namespace fairway
