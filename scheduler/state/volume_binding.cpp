#include "scheduler/state/volume_binding.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>

#include "queues/label_selector.h"
#include "scheduler/state/cluster_state.h"
#include "scheduler/state/node_filters.h"
#include "scheduler/state/storage_state.h"

namespace fairway {
namespace {

// kube-scheduler's reasons (volumebinding, volumezone, volumerestrictions, nodevolumelimits).
constexpr std::string_view kUnboundImmediate = "pod has unbound immediate PersistentVolumeClaims";
constexpr std::string_view kBindConflict =
    "node(s) didn't find available persistent volumes to bind";
constexpr std::string_view kNodeConflict = "node(s) had volume node affinity conflict";
constexpr std::string_view kPvNotExist =
    "node(s) unavailable due to one or more pvc(s) bound to non-existent pv(s)";
constexpr std::string_view kZoneConflict = "node(s) had no available volume zone";
constexpr std::string_view kReadWriteOncePodConflict =
    "node has pod using PersistentVolumeClaim with the same name and ReadWriteOncePod access mode";
constexpr std::string_view kMaxVolumeCount = "node(s) exceed max volume count";

constexpr std::string_view kZoneLabel = "topology.kubernetes.io/zone";
constexpr std::string_view kRegionLabel = "topology.kubernetes.io/region";
constexpr std::string_view kBetaZoneLabel = "failure-domain.beta.kubernetes.io/zone";
constexpr std::string_view kBetaRegionLabel = "failure-domain.beta.kubernetes.io/region";
constexpr std::array<std::string_view, 4> kTopologyLabels = {kBetaZoneLabel, kBetaRegionLabel,
                                                             kZoneLabel, kRegionLabel};

std::string claim_key(const Pod& pod, const PodVolumeClaim& claim) {
  return pod.namespace_ + "/" + claim.claim_name;
}

bool has_mode(AccessModes modes, AccessMode mode) {
  return (modes & static_cast<AccessModes>(mode)) != 0;
}

// A volume's spec.nodeAffinity.required against the node, as CheckNodeAffinity does it: terms
// ORed, each term's requirements ANDed, matched against a node that carries only the labels
// (so a matchFields on metadata.name sees an empty name). No terms: anywhere.
bool volume_affinity_matches(const PersistentVolume& volume, const Node& node) {
  if (volume.node_affinity.empty()) return true;
  static const Node kNameless{};
  for (const NodeSelectorTerm& term : volume.node_affinity) {
    if (term.match_expressions.empty() && term.match_fields.empty()) continue;
    bool matches = true;
    for (const auto& requirement : term.match_expressions) {
      if (!matches_label_requirement(requirement, node.labels)) {
        matches = false;
        break;
      }
    }
    for (const auto& requirement : term.match_fields) {
      if (!matches || !matches_field_requirement(requirement, kNameless)) {
        matches = false;
        break;
      }
    }
    if (matches) return true;
  }
  return false;
}

// A StorageClass's allowedTopologies (MatchTopologySelectorTerms): none matches every node; an
// empty term matches nothing; otherwise a term matches when each of its expressions does.
bool topology_allows(const StorageClass& storage_class, const Node& node) {
  if (storage_class.allowed_topologies.empty()) return true;
  for (const NodeSelectorTerm& term : storage_class.allowed_topologies) {
    if (term.match_expressions.empty()) continue;
    const bool matches = std::all_of(term.match_expressions.begin(), term.match_expressions.end(),
                                     [&](const NodeSelectorRequirement& r) {
                                       return matches_label_requirement(r, node.labels);
                                     });
    if (matches) return true;
  }
  return false;
}

// An unbound WaitForFirstConsumer claim and the class it resolves to.
struct ClaimToBind {
  const PersistentVolumeClaim* claim;
  std::string key;
  std::string_view class_name;
};

bool excluded(const std::string& volume, const std::unordered_set<std::string>& taken,
              const std::vector<VolumeBinding>& chosen) {
  if (taken.contains(volume)) return true;
  return std::any_of(chosen.begin(), chosen.end(),
                     [&](const VolumeBinding& b) { return b.volume == volume; });
}

// FindMatchingVolume (component-helpers/storage/volume) on the scheduler path: a volume
// pre-bound to the claim by its claimRef wins outright (or, if it cannot serve the node, no
// volume does); otherwise the smallest available volume of the claim's class that is big
// enough, in phase Available, matches the claim's selector and access modes and the node.
const PersistentVolume* find_matching_volume(const StorageState& storage, const ClaimToBind& c,
                                             const Node& node,
                                             const std::unordered_set<std::string>& taken,
                                             const std::vector<VolumeBinding>& chosen) {
  const PersistentVolumeClaim& claim = *c.claim;
  if (const auto* prebound = storage.volumes_claiming(c.key)) {
    for (const std::string& name : *prebound) {
      const PersistentVolume* volume = storage.find_volume(name);
      if (volume == nullptr || volume->storage_class != c.class_name) continue;
      if (!volume->claim_uid.empty() && !claim.uid.empty() && volume->claim_uid != claim.uid) {
        continue;
      }
      if (excluded(name, taken, chosen)) continue;
      if (volume->capacity_bytes < claim.request_bytes || volume->deleting) continue;
      return volume_affinity_matches(*volume, node) ? volume : nullptr;
    }
  }
  const auto* available = storage.available_volumes(c.class_name);
  if (available == nullptr) return nullptr;
  const PersistentVolume* smallest = nullptr;
  for (const std::string& name : *available) {
    const PersistentVolume* volume = storage.find_volume(name);
    if (volume == nullptr || excluded(name, taken, chosen)) continue;
    if (volume->capacity_bytes < claim.request_bytes || volume->deleting) continue;
    // FindMatchingVolume: a volume not yet Available is skipped (the PV controller makes it so).
    if (volume->phase != "Available") continue;
    if (claim.selector && !selector_matches(*claim.selector, volume->labels)) continue;
    if ((claim.access_modes & ~volume->access_modes) != 0) continue;
    if (!volume_affinity_matches(*volume, node)) continue;
    if (smallest == nullptr || volume->capacity_bytes < smallest->capacity_bytes) {
      smallest = volume;
    }
  }
  return smallest;
}

// NodeVolumeLimits (csi.go): the CSI volumes a pod's claims attach, by "driver/handle", into
// `out` with the driver. A bound claim counts its volume's driver (the volume name stands for
// the handle); an unbound one its class's provisioner, with a handle of its own.
void attachable_volumes(const StorageState& storage, const Pod& pod,
                        std::vector<std::pair<std::string, std::string_view>>& out) {
  for (const PodVolumeClaim& pod_claim : pod.volume_claims) {
    const PersistentVolumeClaim* claim = storage.find_claim(claim_key(pod, pod_claim));
    if (claim == nullptr) continue;
    if (claim->volume_name.empty()) {
      const StorageClass* storage_class = storage.find_class(storage.claim_class(*claim));
      if (storage_class == nullptr || storage_class->provisioner.empty()) continue;
      out.emplace_back(fmt::format("{}/unbound-{}-{}", storage_class->provisioner,
                                   claim->namespace_, claim->name),
                       storage_class->provisioner);
      continue;
    }
    const PersistentVolume* volume = storage.find_volume(claim->volume_name);
    if (volume == nullptr || volume->csi_driver.empty()) continue;
    out.emplace_back(volume->csi_driver + "/" + volume->name, volume->csi_driver);
  }
}

std::optional<std::string> csi_limits(const ClusterState& state, const Pod& pod, const Node& node) {
  const StorageState& storage = state.storage();
  const CsiNode* csi = storage.find_csi_node(node.name);
  if (csi == nullptr || csi->attach_limits.empty()) return std::nullopt;
  std::vector<std::pair<std::string, std::string_view>> wanted;
  attachable_volumes(storage, pod, wanted);
  std::erase_if(wanted, [&](const auto& v) { return !csi->attach_limits.contains(v.second); });
  if (wanted.empty()) return std::nullopt;
  std::vector<std::pair<std::string, std::string_view>> attached;
  if (const auto* ids = storage.pods_with_claims(node.name)) {
    for (PodId id : *ids) attachable_volumes(storage, state.pods()[id].pod, attached);
  }
  std::sort(attached.begin(), attached.end());
  attached.erase(std::unique(attached.begin(), attached.end()), attached.end());
  std::sort(wanted.begin(), wanted.end());
  wanted.erase(std::unique(wanted.begin(), wanted.end()), wanted.end());
  for (const auto& [driver, limit] : csi->attach_limits) {
    int64_t in_use = 0;
    int64_t adding = 0;
    for (const auto& v : attached) in_use += v.second == driver ? 1 : 0;
    for (const auto& v : wanted) {
      if (v.second != driver) continue;
      // A volume already attached for another pod is not attached again.
      if (!std::binary_search(attached.begin(), attached.end(), v)) ++adding;
    }
    if (adding > 0 && in_use + adding > limit) return std::string(kMaxVolumeCount);
  }
  return std::nullopt;
}

// VolumeZone: the zone/region labels of the pod's bound volumes against the node's. A node with
// none of those labels takes any volume (single-zone clusters); a volume's value may be a set
// "a__b"; a beta label on the volume also matches the GA label on the node.
bool zone_matches(const StorageState& storage, const Pod& pod, const Node& node) {
  const bool node_has_zone =
      std::any_of(kTopologyLabels.begin(), kTopologyLabels.end(),
                  [&](std::string_view k) { return node.labels.contains(k); });
  if (!node_has_zone) return true;
  for (const PodVolumeClaim& pod_claim : pod.volume_claims) {
    if (pod_claim.ephemeral) continue;  // VolumeZone reads persistentVolumeClaim volumes only
    const PersistentVolumeClaim* claim = storage.find_claim(claim_key(pod, pod_claim));
    if (claim == nullptr || claim->volume_name.empty()) continue;
    const PersistentVolume* volume = storage.find_volume(claim->volume_name);
    if (volume == nullptr) continue;
    for (std::string_view key : kTopologyLabels) {
      auto label = volume->labels.find(key);
      if (label == volume->labels.end()) continue;
      auto value = node.labels.find(key);
      if (value == node.labels.end()) {
        if (key == kBetaZoneLabel) value = node.labels.find(kZoneLabel);
        if (key == kBetaRegionLabel) value = node.labels.find(kRegionLabel);
      }
      if (value == node.labels.end()) return false;
      // The volume's value is a set of zones joined by "__".
      std::string_view zones = label->second;
      bool found = false;
      while (!found) {
        const size_t cut = zones.find("__");
        const std::string_view zone = zones.substr(0, cut);
        found = zone == value->second;
        if (cut == std::string_view::npos) break;
        zones.remove_prefix(cut + 2);
      }
      if (!found) return false;
    }
  }
  return true;
}

VolumeVerdict fail(std::string_view reason) {
  VolumeVerdict verdict;
  verdict.fits = false;
  verdict.reason = std::string(reason);
  return verdict;
}

}  // namespace

std::optional<std::string> volume_prefilter(const ClusterState& state, const Pod& pod) {
  if (pod.volume_claims.empty()) return std::nullopt;
  const StorageState& storage = state.storage();
  // VolumeBinding's podHasPVCs, volume by volume.
  for (const PodVolumeClaim& pod_claim : pod.volume_claims) {
    const PersistentVolumeClaim* claim = storage.find_claim(claim_key(pod, pod_claim));
    if (claim == nullptr) {
      if (pod_claim.ephemeral) {
        return fmt::format(
            "waiting for ephemeral volume controller to create the persistentvolumeclaim \"{}\"",
            pod_claim.claim_name);
      }
      return fmt::format("persistentvolumeclaim \"{}\" not found", pod_claim.claim_name);
    }
    if (claim->phase == "Lost") {
      return fmt::format(
          "persistentvolumeclaim \"{}\" bound to non-existent persistentvolume \"{}\"", claim->name,
          claim->volume_name);
    }
    if (claim->deleting) {
      return fmt::format("persistentvolumeclaim \"{}\" is being deleted", claim->name);
    }
    if (pod_claim.ephemeral && claim->owner_uid != pod.uid) {
      return fmt::format("PVC {}/{} was not created for pod {}/{} (pod is not owner)",
                         claim->namespace_, claim->name, pod.namespace_, pod.name);
    }
  }
  // GetPodVolumeClaims: an unbound claim must wait for its first consumer (a
  // WaitForFirstConsumer class, and no volume named yet); any other must be bound already.
  for (const PodVolumeClaim& pod_claim : pod.volume_claims) {
    const PersistentVolumeClaim& claim = *storage.find_claim(claim_key(pod, pod_claim));
    if (storage.claim_bound(claim)) continue;
    const StorageClass* storage_class = storage.find_class(storage.claim_class(claim));
    const bool delayed = storage_class != nullptr && storage_class->wait_for_first_consumer;
    if (!delayed || !claim.volume_name.empty()) return std::string(kUnboundImmediate);
  }
  return std::nullopt;
}

VolumeVerdict volume_filter(const ClusterState& state, const Pod& pod, const Node& node,
                            const std::unordered_set<std::string>& taken) {
  if (pod.volume_claims.empty()) return {};
  const StorageState& storage = state.storage();

  // VolumeRestrictions: a ReadWriteOncePod claim already used by a pod on some node.
  for (const PodVolumeClaim& pod_claim : pod.volume_claims) {
    const std::string key = claim_key(pod, pod_claim);
    const PersistentVolumeClaim* claim = storage.find_claim(key);
    if (claim != nullptr && has_mode(claim->access_modes, AccessMode::kReadWriteOncePod) &&
        storage.claim_users(key) > 0) {
      return fail(kReadWriteOncePodConflict);
    }
  }

  // NodeVolumeLimits (CSI).
  if (auto reason = csi_limits(state, pod, node)) return fail(*reason);

  // VolumeBinding: bound claims' volumes must exist and serve the node; unbound
  // WaitForFirstConsumer claims need a static volume or a provisioner for the node.
  bool bound_satisfied = true;
  bool bound_found = true;
  bool unbound_satisfied = true;
  std::vector<ClaimToBind> to_bind;
  for (const PodVolumeClaim& pod_claim : pod.volume_claims) {
    std::string key = claim_key(pod, pod_claim);
    const PersistentVolumeClaim* claim = storage.find_claim(key);
    if (claim == nullptr) {
      // volume_prefilter reports it; a cycle that skipped it still must not place the pod.
      return fail(fmt::format("persistentvolumeclaim \"{}\" not found", pod_claim.claim_name));
    }
    if (storage.claim_bound(*claim)) {
      if (!bound_found || !bound_satisfied) continue;
      const PersistentVolume* volume = storage.find_volume(claim->volume_name);
      if (volume == nullptr) {
        bound_found = false;
      } else if (!volume_affinity_matches(*volume, node)) {
        bound_satisfied = false;
      }
      continue;
    }
    const std::string_view class_name = storage.claim_class(*claim);
    const StorageClass* storage_class = storage.find_class(class_name);
    if (storage_class == nullptr || !storage_class->wait_for_first_consumer ||
        !claim->volume_name.empty()) {
      return fail(kUnboundImmediate);
    }
    to_bind.push_back({claim, std::move(key), class_name});
  }

  VolumeVerdict verdict;
  if (!to_bind.empty()) {
    std::vector<const ClaimToBind*> to_provision;
    std::vector<const ClaimToBind*> to_match;
    for (const ClaimToBind& c : to_bind) {
      const std::string* selected = nullptr;
      if (auto it = c.claim->annotations.find(kAnnSelectedNode); it != c.claim->annotations.end()) {
        selected = &it->second;
      } else {
        selected = storage.assumed_selected_node(c.key);
      }
      if (selected == nullptr) {
        to_match.push_back(&c);
      } else if (*selected != node.name) {
        unbound_satisfied = false;  // another node was chosen for its provisioning
        break;
      } else {
        to_provision.push_back(&c);
      }
    }
    if (unbound_satisfied) {
      // The smallest requests choose first, as kube-scheduler sorts them.
      std::stable_sort(to_match.begin(), to_match.end(), [](const auto* a, const auto* b) {
        return a->claim->request_bytes < b->claim->request_bytes;
      });
      for (const ClaimToBind* c : to_match) {
        const PersistentVolume* volume =
            find_matching_volume(storage, *c, node, taken, verdict.bindings);
        if (volume == nullptr) {
          to_provision.push_back(c);
        } else {
          verdict.bindings.push_back({c->key, volume->name, node.name});
        }
      }
      for (const ClaimToBind* c : to_provision) {
        const StorageClass* storage_class = storage.find_class(c->class_name);
        if (storage_class == nullptr || storage_class->provisioner.empty() ||
            storage_class->provisioner == kNoProvisioner ||
            !topology_allows(*storage_class, node)) {
          unbound_satisfied = false;
          break;
        }
        verdict.bindings.push_back({c->key, std::string(), node.name});
      }
    }
  }
  if (!bound_satisfied) return fail(kNodeConflict);
  if (!unbound_satisfied) return fail(kBindConflict);
  if (!bound_found) return fail(kPvNotExist);

  // VolumeZone.
  if (!zone_matches(storage, pod, node)) return fail(kZoneConflict);
  return verdict;
}

}  // namespace fairway
