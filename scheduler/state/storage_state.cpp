#include "scheduler/state/storage_state.h"

#include <algorithm>

namespace fairway {
namespace {

std::string claim_ref_key(const PersistentVolume& volume) {
  return volume.claim_namespace + "/" + volume.claim_name;
}

template <typename Map>
const typename Map::mapped_type* lookup(const Map& map, std::string_view key) {
  auto it = map.find(key);
  return it == map.end() ? nullptr : &it->second;
}

}  // namespace

// ------------------------------------------------------------------------------- volumes

bool StorageState::available(const PersistentVolume& volume) const {
  return volume.claim_name.empty() && !assumed_volumes_.contains(volume.name);
}

void StorageState::index_volume(const PersistentVolume& volume, int sign) {
  if (available(volume)) {
    if (sign > 0) {
      available_by_class_[volume.storage_class].insert(volume.name);
    } else if (auto it = available_by_class_.find(volume.storage_class);
               it != available_by_class_.end()) {
      it->second.erase(volume.name);
      if (it->second.empty()) available_by_class_.erase(it);
    }
  }
  if (!volume.claim_name.empty()) {
    const std::string key = claim_ref_key(volume);
    if (sign > 0) {
      volumes_by_claim_[key].push_back(volume.name);
    } else if (auto it = volumes_by_claim_.find(key); it != volumes_by_claim_.end()) {
      std::erase(it->second, volume.name);
      if (it->second.empty()) volumes_by_claim_.erase(it);
    }
  }
}

void StorageState::upsert_volume(PersistentVolume volume) {
  if (auto it = volumes_.find(volume.name); it != volumes_.end()) {
    index_volume(it->second, -1);
    volumes_.erase(it);
  }
  // The volume now names the claim it was promised to: the binding is done.
  if (auto it = assumed_volumes_.find(volume.name);
      it != assumed_volumes_.end() && !volume.claim_name.empty()) {
    assumed_volumes_.erase(it);
  }
  index_volume(volume, +1);
  std::string name = volume.name;
  volumes_.emplace(std::move(name), std::move(volume));
}

void StorageState::remove_volume(std::string_view name) {
  auto it = volumes_.find(name);
  if (it == volumes_.end()) return;
  index_volume(it->second, -1);
  volumes_.erase(it);
  assumed_volumes_.erase(std::string(name));
}

// -------------------------------------------------------------------------------- claims

void StorageState::upsert_claim(PersistentVolumeClaim claim) {
  std::string key = claim.key();
  // A static volume's assumption is cleared by the volume's own update (its claimRef), which is
  // what keeps it out of the available index; a provisioning assumption by the claim showing
  // the selected node (or a volume).
  if (!claim.volume_name.empty() || claim.annotations.contains(kAnnSelectedNode)) {
    if (auto it = assumed_provisioning_.find(key); it != assumed_provisioning_.end()) {
      assumed_provisioning_.erase(it);
    }
  }
  claims_.insert_or_assign(std::move(key), std::move(claim));
}

void StorageState::remove_claim(std::string_view key) {
  if (auto it = claims_.find(key); it != claims_.end()) claims_.erase(it);
  if (auto it = assumed_provisioning_.find(key); it != assumed_provisioning_.end()) {
    assumed_provisioning_.erase(it);
  }
}

// --------------------------------------------------------------------- classes, CSINodes

void StorageState::upsert_class(StorageClass storage_class) {
  if (storage_class.is_default) {
    default_classes_.insert(storage_class.name);
  } else {
    default_classes_.erase(storage_class.name);
  }
  std::string name = storage_class.name;
  classes_.insert_or_assign(std::move(name), std::move(storage_class));
}

void StorageState::remove_class(std::string_view name) {
  if (auto it = classes_.find(name); it != classes_.end()) classes_.erase(it);
  if (auto it = default_classes_.find(name); it != default_classes_.end()) {
    default_classes_.erase(it);
  }
}

void StorageState::upsert_csi_node(CsiNode node) {
  std::string name = node.name;
  csi_nodes_.insert_or_assign(std::move(name), std::move(node));
}

void StorageState::remove_csi_node(std::string_view name) {
  if (auto it = csi_nodes_.find(name); it != csi_nodes_.end()) csi_nodes_.erase(it);
}

// ---------------------------------------------------------------------------------- pods

void StorageState::add_pod(const Pod& pod, PodId id, std::string_view node) {
  if (pod.volume_claims.empty()) return;
  for (const PodVolumeClaim& claim : pod.volume_claims) {
    ++claim_users_[pod.namespace_ + "/" + claim.claim_name];
  }
  auto it = pods_by_node_.find(node);
  if (it == pods_by_node_.end()) it = pods_by_node_.emplace(std::string(node), 0).first;
  it->second.push_back(id);
}

void StorageState::remove_pod(const Pod& pod, PodId id, std::string_view node) {
  if (pod.volume_claims.empty()) return;
  for (const PodVolumeClaim& claim : pod.volume_claims) {
    auto it = claim_users_.find(pod.namespace_ + "/" + claim.claim_name);
    if (it == claim_users_.end()) continue;
    if (--it->second == 0) claim_users_.erase(it);
  }
  if (auto it = pods_by_node_.find(node); it != pods_by_node_.end()) {
    auto& ids = it->second;
    if (auto pos = std::find(ids.begin(), ids.end(), id); pos != ids.end()) {
      *pos = ids.back();
      ids.pop_back();
    }
    if (ids.empty()) pods_by_node_.erase(it);
  }
}

// ------------------------------------------------------------------------- assumptions

void StorageState::assume(const std::vector<VolumeBinding>& bindings) {
  for (const VolumeBinding& binding : bindings) {
    if (binding.volume.empty()) {
      assumed_provisioning_.insert_or_assign(binding.claim, binding.node);
      continue;
    }
    auto volume = volumes_.find(binding.volume);
    if (volume != volumes_.end()) index_volume(volume->second, -1);
    assumed_volumes_.insert_or_assign(binding.volume, binding.claim);
    if (volume != volumes_.end()) index_volume(volume->second, +1);
  }
}

void StorageState::forget(const std::vector<VolumeBinding>& bindings) {
  for (const VolumeBinding& binding : bindings) {
    if (binding.volume.empty()) {
      if (auto it = assumed_provisioning_.find(binding.claim);
          it != assumed_provisioning_.end() && it->second == binding.node) {
        assumed_provisioning_.erase(it);
      }
      continue;
    }
    auto assumed = assumed_volumes_.find(binding.volume);
    if (assumed == assumed_volumes_.end() || assumed->second != binding.claim) continue;
    auto volume = volumes_.find(binding.volume);
    if (volume != volumes_.end()) index_volume(volume->second, -1);
    assumed_volumes_.erase(assumed);
    if (volume != volumes_.end()) index_volume(volume->second, +1);
  }
}

// --------------------------------------------------------------------------------- reads

const PersistentVolumeClaim* StorageState::find_claim(std::string_view key) const {
  return lookup(claims_, key);
}

const PersistentVolume* StorageState::find_volume(std::string_view name) const {
  return lookup(volumes_, name);
}

const StorageClass* StorageState::find_class(std::string_view name) const {
  return lookup(classes_, name);
}

const CsiNode* StorageState::find_csi_node(std::string_view name) const {
  return lookup(csi_nodes_, name);
}

const StorageClass* StorageState::default_class() const {
  if (default_classes_.size() != 1) return nullptr;
  return find_class(*default_classes_.begin());
}

std::string_view StorageState::claim_class(const PersistentVolumeClaim& claim) const {
  if (auto it = claim.annotations.find(kAnnBetaStorageClass); it != claim.annotations.end()) {
    return it->second;
  }
  if (claim.storage_class) return *claim.storage_class;
  const StorageClass* fallback = default_class();
  return fallback ? std::string_view(fallback->name) : std::string_view();
}

bool StorageState::claim_bound(const PersistentVolumeClaim& claim) const {
  if (claim.volume_name.empty()) return false;
  if (claim.phase == "Bound" || claim.annotations.contains(kAnnBindCompleted)) return true;
  const PersistentVolume* volume = find_volume(claim.volume_name);
  return volume != nullptr && volume->claim_namespace == claim.namespace_ &&
         volume->claim_name == claim.name &&
         (volume->claim_uid.empty() || claim.uid.empty() || volume->claim_uid == claim.uid);
}

const std::set<std::string, std::less<>>* StorageState::available_volumes(
    std::string_view storage_class) const {
  return lookup(available_by_class_, storage_class);
}

const std::vector<std::string>* StorageState::volumes_claiming(std::string_view claim_key) const {
  return lookup(volumes_by_claim_, claim_key);
}

const std::string* StorageState::assumed_claim(std::string_view volume) const {
  return lookup(assumed_volumes_, volume);
}

const std::string* StorageState::assumed_selected_node(std::string_view claim_key) const {
  return lookup(assumed_provisioning_, claim_key);
}

uint32_t StorageState::claim_users(std::string_view claim_key) const {
  const uint32_t* users = lookup(claim_users_, claim_key);
  return users ? *users : 0;
}

const std::vector<PodId>* StorageState::pods_with_claims(std::string_view node) const {
  return lookup(pods_by_node_, node);
}

}  // namespace fairway
