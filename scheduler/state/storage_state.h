#pragma once
// The storage objects the volume checks read (volume_binding.h): PersistentVolumes,
// PersistentVolumeClaims, StorageClasses and CSINodes, indexed so that every lookup the checks
// make is O(1):
//   - claims by "ns/name", volumes by name, classes by name, CSINodes by name;
//   - the default StorageClass (exactly one class annotated as default, else none);
//   - available volumes (no claimRef, not promised to a claim) by storage class, in name order;
//   - volumes whose claimRef names a claim, by that claim's key (pre-bound volumes);
//   - how many pods bound (or assumed) to a node use each claim (ReadWriteOncePod);
//   - which pods with claims run on each node (CSINode attach limits).
//
// Owned by ClusterState, which feeds it the storage events and tells it when a pod starts or
// stops counting on a node. Assumptions: when the cycle binds a pod whose claims are matched to
// static volumes, the caller assumes those bindings here, so the next cycle does not hand the
// same volume to another claim before the API shows the binding; an upsert of the volume (its
// claimRef names the claim) clears the assumption (a provisioning assumption: the claim showing
// the selected node or a volume), and forget() undoes it when the bind failed.

#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "scheduler/state/ids.h"
#include "scheduler/state/model.h"
#include "scheduler/state/volume_binding.h"

namespace fairway {

inline constexpr std::string_view kAnnSelectedNode = "volume.kubernetes.io/selected-node";
inline constexpr std::string_view kAnnBindCompleted = "pv.kubernetes.io/bind-completed";
inline constexpr std::string_view kAnnBetaStorageClass = "volume.beta.kubernetes.io/storage-class";
inline constexpr std::string_view kNoProvisioner = "kubernetes.io/no-provisioner";

// std::string-keyed hash maps looked up with a string_view, without building a string.
struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
template <typename Value>
using StringMap = std::unordered_map<std::string, Value, StringHash, std::equal_to<>>;

class StorageState {
 public:
  // --- events ---
  void upsert_volume(PersistentVolume volume);
  void remove_volume(std::string_view name);
  void upsert_claim(PersistentVolumeClaim claim);
  void remove_claim(std::string_view key);
  void upsert_class(StorageClass storage_class);
  void remove_class(std::string_view name);
  void upsert_csi_node(CsiNode node);
  void remove_csi_node(std::string_view name);

  // A pod with claims starts (add) or stops (remove) counting on `node`: bound or assumed there
  // and not terminated. Pods without claims are ignored.
  void add_pod(const Pod& pod, PodId id, std::string_view node);
  void remove_pod(const Pod& pod, PodId id, std::string_view node);

  // Static volumes promised to claims (entries with an empty volume are dynamic provisioning:
  // the claim is remembered as selected for the node until the claim shows it).
  void assume(const std::vector<VolumeBinding>& bindings);
  void forget(const std::vector<VolumeBinding>& bindings);

  // --- reads ---
  const PersistentVolumeClaim* find_claim(std::string_view key) const;
  const PersistentVolume* find_volume(std::string_view name) const;
  const StorageClass* find_class(std::string_view name) const;
  const CsiNode* find_csi_node(std::string_view name) const;
  // The class when exactly one is annotated storageclass.kubernetes.io/is-default-class.
  const StorageClass* default_class() const;
  // The claim's class name as kube-scheduler reads it: the beta annotation, else
  // spec.storageClassName, else (field unset) the default class; "" for none.
  std::string_view claim_class(const PersistentVolumeClaim& claim) const;
  // Bound: spec.volumeName is set and the binding is complete — status.phase Bound, or the
  // pv.kubernetes.io/bind-completed annotation (what the PV controller writes), or the named
  // volume's claimRef points back at the claim (both sides written; with no PV controller, as in
  // the embedded API server, that is all there will be).
  bool claim_bound(const PersistentVolumeClaim& claim) const;
  // Unbound volumes of a class not promised to any claim, in name order; nullptr when none.
  const std::set<std::string, std::less<>>* available_volumes(std::string_view storage_class) const;
  // Volumes whose claimRef names the claim "ns/name"; nullptr when none.
  const std::vector<std::string>* volumes_claiming(std::string_view claim_key) const;
  // The claim a volume is promised to by an assumption; nullptr when none.
  const std::string* assumed_claim(std::string_view volume) const;
  // The node a claim was assumed to be provisioned on; nullptr when none.
  const std::string* assumed_selected_node(std::string_view claim_key) const;
  // Pods bound or assumed to a node that use the claim.
  uint32_t claim_users(std::string_view claim_key) const;
  // Pods with claims bound or assumed to the node; nullptr when none.
  const std::vector<PodId>* pods_with_claims(std::string_view node) const;

  size_t volume_count() const { return volumes_.size(); }
  size_t claim_count() const { return claims_.size(); }

 private:
  void index_volume(const PersistentVolume& volume, int sign);
  bool available(const PersistentVolume& volume) const;

  StringMap<PersistentVolume> volumes_;
  StringMap<PersistentVolumeClaim> claims_;
  StringMap<StorageClass> classes_;
  StringMap<CsiNode> csi_nodes_;
  std::set<std::string, std::less<>> default_classes_;
  StringMap<std::set<std::string, std::less<>>> available_by_class_;
  StringMap<std::vector<std::string>> volumes_by_claim_;
  StringMap<std::string> assumed_volumes_;       // volume → claim key
  StringMap<std::string> assumed_provisioning_;  // claim key → node
  StringMap<uint32_t> claim_users_;
  StringMap<std::vector<PodId>> pods_by_node_;
};

}  // namespace fairway
