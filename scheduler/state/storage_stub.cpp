// TEMPORARY: no-op storage methods so the wire branch links before the storage state lands
// (another branch implements these in the state). Drop this file at merge.
#include "scheduler/state/cluster_state.h"

namespace fairway {

void ClusterState::upsert_persistent_volume(PersistentVolume) {}
void ClusterState::remove_persistent_volume(std::string_view) {}
void ClusterState::upsert_persistent_volume_claim(PersistentVolumeClaim) {}
void ClusterState::remove_persistent_volume_claim(std::string_view) {}
void ClusterState::upsert_storage_class(StorageClass) {}
void ClusterState::remove_storage_class(std::string_view) {}
void ClusterState::upsert_csi_node(CsiNode) {}
void ClusterState::remove_csi_node(std::string_view) {}

}  // namespace fairway
