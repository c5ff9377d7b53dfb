#pragma once
// A cluster snapshot (`fairway snapshot`, docs/what-if.md): what the scheduler watches, as the
// API server listed it, in one JSON document:
//
//   {"apiVersion": "fairway.dev/v1alpha1", "kind": "ClusterSnapshot", "takenAt": RFC 3339,
//    "server": URL, "nodes": {"items": [...]}, "pods": {"items": [...]}, "queues": ..., ...}
//
// One member per kind of kSnapshotKinds, each a LIST answer's envelope holding every page's
// items (without managedFields and kubectl's last-applied copy). A kind the server does not
// serve is an empty list. Loading decodes each list with the scheduler's own decoders into a
// ClusterState, as its informers would.

#include <array>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <tl/expected.hpp>
#include <vector>

#include "k8s-client/resource_paths.h"
#include "scheduler/state/cluster_state.h"

namespace fairway::sim {

struct SnapshotKind {
  std::string_view key;   // the member of the snapshot
  std::string_view path;  // its collection path on the API server
};

inline constexpr std::array<SnapshotKind, 11> kSnapshotKinds = {{
    {"namespaces", k8s::kNamespacesPath},
    {"priorityClasses", k8s::kPriorityClassesPath},
    {"nodes", k8s::kNodesPath},
    {"queues", k8s::kQueuesPath},
    {"topologies", k8s::kTopologiesPath},
    {"podGroups", k8s::kPodGroupsPath},
    {"storageClasses", k8s::kStorageClassesPath},
    {"csiNodes", k8s::kCsiNodesPath},
    {"persistentVolumes", k8s::kPersistentVolumesPath},
    {"persistentVolumeClaims", k8s::kPersistentVolumeClaimsPath},
    {"pods", k8s::kPodsPath},
}};

inline constexpr std::string_view kSnapshotApiVersion = "fairway.dev/v1alpha1";
inline constexpr std::string_view kSnapshotKind = "ClusterSnapshot";

// An item as a snapshot keeps it: managedFields and kubectl's last-applied copy dropped (they
// are most of an object's size and never read by the scheduler).
void strip_for_snapshot(nlohmann::json& item);

struct SnapshotLoad {
  std::string taken_at;               // as written
  std::vector<std::string> problems;  // items that did not decode, "pods: ns/p: ..."
  size_t objects = 0;                 // items applied to the state
};

// Decodes `text` (a whole snapshot) into `state`, kinds in kSnapshotKinds' order (namespaces
// and priority classes before the pods that use them). A bad item is a problem and is skipped;
// a document that is not a snapshot is an error.
tl::expected<SnapshotLoad, std::string> load_snapshot(std::string_view text, ClusterState& state);

}  // namespace fairway::sim
