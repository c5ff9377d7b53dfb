#pragma once
// Collection paths of the kinds the scheduler watches (and `fairway snapshot` dumps).

namespace fairway::k8s {

inline constexpr const char* kPodsPath = "/api/v1/pods";
inline constexpr const char* kNodesPath = "/api/v1/nodes";
inline constexpr const char* kQueuesPath = "/apis/scheduling.fairway.dev/v1alpha1/queues";
inline constexpr const char* kPodGroupsPath = "/apis/scheduling.fairway.dev/v1alpha1/podgroups";
inline constexpr const char* kTopologiesPath = "/apis/scheduling.fairway.dev/v1alpha1/topologies";
inline constexpr const char* kPriorityClassesPath = "/apis/scheduling.k8s.io/v1/priorityclasses";
// Namespaces' labels decide which queues their pods may use (Queue.spec.namespaceSelector).
inline constexpr const char* kNamespacesPath = "/api/v1/namespaces";
// Storage, for the volume checks (scheduler/state/volume_binding.h).
inline constexpr const char* kPersistentVolumesPath = "/api/v1/persistentvolumes";
inline constexpr const char* kPersistentVolumeClaimsPath = "/api/v1/persistentvolumeclaims";
inline constexpr const char* kStorageClassesPath = "/apis/storage.k8s.io/v1/storageclasses";
inline constexpr const char* kCsiNodesPath = "/apis/storage.k8s.io/v1/csinodes";
// Dynamic Resource Allocation (Kubernetes 1.34+), watched only where discovery shows them served
// (scheduler/service/discovered_watches.h).
inline constexpr const char* kResourceSlicesPath = "/apis/resource.k8s.io/v1/resourceslices";
inline constexpr const char* kDeviceClassesPath = "/apis/resource.k8s.io/v1/deviceclasses";
inline constexpr const char* kResourceClaimsPath = "/apis/resource.k8s.io/v1/resourceclaims";
inline constexpr const char* kResourceClaimTemplatesPath =
    "/apis/resource.k8s.io/v1/resourceclaimtemplates";

}  // namespace fairway::k8s
