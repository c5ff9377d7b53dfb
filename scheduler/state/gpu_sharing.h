#pragma once
// Shared GPUs (docs/gpu-sharing.md): which GPUs of which nodes hold fractional pods, how much
// of each is in use, and which reservation pod holds each one.
//
// A shared GPU is a "GPU group": one whole GPU of a node, held for the scheduler by a
// reservation pod (namespace fairway-reservation, nvidia.com/gpu: 1, label fairway.dev/gpu-group)
// and shared by fractional pods ("sharers", labelled with the same group). The group's name is
// deterministic from the node and a GPU slot index, so a retry after a crash finds the same
// reservation pod instead of creating a second one.
//
// Shares are integer units (kFullGpu per GPU) so that sums never drift: a fraction f takes
// round(f * kFullGpu), an amount of memory m on a GPU of M MiB takes ceil(m * kFullGpu / M).
//
// Node capacity: a shared GPU costs its node one whole GPU. Once the reservation pod exists it
// is charged like any pod; between the cycle's decision and the reservation pod showing up in
// the API, the index asks its owner to charge a placeholder whole GPU instead (the `int`
// returned by the mutators: +1/-1 placeholders on the group's node). Queues are charged the
// sharers' fractions (ClusterState does that through the pods' requests).
//
// Pure: no I/O, no clock. Owned by ClusterState, which feeds it from pod events.

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "scheduler/state/ids.h"
#include "scheduler/state/model.h"
#include "scheduler/state/pod_intent.h"

namespace fairway {

inline constexpr std::string_view kGpuGroupLabel = "fairway.dev/gpu-group";
// Every group of a pod that shares several GPUs (gpu-fraction-num-devices > 1), comma separated;
// the label holds the first (a label value cannot hold a list).
inline constexpr std::string_view kGpuGroupsAnnotation = "fairway.dev/gpu-groups";
// Written by `fairway reservation-agent` on its reservation pod.
inline constexpr std::string_view kGpuUuidAnnotation = "fairway.dev/gpu-uuid";
// Set by the admission webhook: the ConfigMap the pod's containers read their GPU from.
inline constexpr std::string_view kGpuConfigMapAnnotation = "fairway.dev/gpu-configmap";
// GPU Feature Discovery's per-GPU memory label, MiB.
inline constexpr std::string_view kGpuMemoryLabel = "nvidia.com/gpu.memory";
inline constexpr std::string_view kDefaultReservationNamespace = "fairway-reservation";
inline constexpr int64_t kFullGpu = 1'000'000;

using GroupId = uint32_t;
inline constexpr GroupId kNoGroup = std::numeric_limits<GroupId>::max();

// The group of GPU slot `index` on `node`: "<node>-gpu<index>", shortened with a hash when that
// would not fit a label value (63 characters). Also the reservation pod's name.
std::string gpu_group_name(std::string_view node, int index);
// The ConfigMap a sharer reads NVIDIA_VISIBLE_DEVICES and GPU_FRACTION from: the webhook's
// annotation when set, else "<pod name>-fairway-gpu" (shortened with a hash past 253).
std::string gpu_configmap_name(const Pod& pod);
std::string gpu_configmap_name_for(std::string_view pod_name);
// Memory of one GPU of a node, MiB: label nvidia.com/gpu.memory, else the first GPU of the
// gpu-topology annotation; 0 when unknown.
int64_t node_gpu_memory_mib(const Labels& labels, const Labels& annotations);
// The groups a pod's labels and annotations name (annotation list first, else the label).
std::vector<std::string> pod_gpu_groups(const Pod& pod);
// The groups a sharer may hold: those its keys name, kept only if they name a GPU of the node the
// pod is bound to (when bound), at most `num_devices` of them. fairway writes these keys, but
// they sit on the tenant's pod: a list edited past the webhook must not make fairway account, or
// reserve, GPUs the pod was never given.
std::vector<std::string> sharer_gpu_groups(const Pod& pod, int32_t num_devices);
// Units of one device a share takes on a GPU of `gpu_memory_mib` (0: unknown). nullopt: the
// share asks for memory and the GPU's memory is unknown, or it asks for more than the GPU has.
std::optional<int64_t> share_units(const GpuFraction& share, int64_t gpu_memory_mib);
// The fraction of a GPU the share is, per device, for GPU_FRACTION ("0.25").
double share_fraction(int64_t units);

struct SharedGpu {
  std::string group;
  NodeId node = kNoNode;
  int index = 0;                      // GPU slot on the node (names the group, not a device id)
  int64_t used = 0;                   // share units held by sharers
  int64_t memory_used_mib = 0;        // known when the node's GPU memory is known
  std::vector<PodId> sharers;         // bound or assumed, not terminated
  std::optional<PodId> reservation;   // the reservation pod, once the API has it
  bool reservation_deleting = false;  // its pod has a deletionTimestamp
  bool retired = false;               // the scheduler asked to delete its pod
  std::string uuid;                   // fairway.dev/gpu-uuid of the reservation pod
  bool present = false;               // slot in use

  bool placeholder() const { return !sharers.empty() && !reservation; }
  // Whether new sharers may join: not on its way out.
  bool open() const { return present && !reservation_deleting && !retired; }
};

class GpuSharing {
 public:
  // Each returns the change of placeholder GPUs on the group's node (-1, 0 or +1).
  int add_sharer(std::string_view group, NodeId node, PodId pod, int64_t units, int64_t memory_mib);
  int remove_sharer(std::string_view group, PodId pod, int64_t units, int64_t memory_mib);
  int add_reservation(std::string_view group, NodeId node, PodId pod, std::string uuid,
                      bool deleting);
  int remove_reservation(std::string_view group, PodId pod);
  // The scheduler is deleting the group's reservation pod: no new sharers from now on.
  void retire(std::string_view group);

  const std::vector<SharedGpu>& gpus() const { return gpus_; }
  const SharedGpu* find(std::string_view group) const;
  std::optional<GroupId> id_of(std::string_view group) const;
  // Groups of a node (ids into gpus()).
  const std::vector<GroupId>& on_node(NodeId node) const;
  size_t size() const { return ids_.size(); }
  // Groups whose reservation pod holds a GPU for nobody: the edge deletes those pods.
  std::vector<GroupId> idle() const;
  // Groups with sharers but no reservation pod (being created, or lost): the edge makes sure
  // each gets one, so no sharer is left on a GPU the device plugin could hand to someone else.
  std::vector<GroupId> unreserved() const;

 private:
  GroupId slot(std::string_view group, NodeId node);
  void release_if_empty(GroupId id);

  std::vector<SharedGpu> gpus_;
  std::vector<GroupId> free_slots_;
  std::unordered_map<std::string, GroupId> ids_;
  std::unordered_map<NodeId, std::vector<GroupId>> by_node_;
};

}  // namespace fairway
