#pragma once
// What a pod asks of fairway, read from its labels and annotations: its queue, its gang, a GPU
// fraction, whether it may be preempted. Reading never throws and never gives up half way: every
// problem found becomes a message in `errors`, and a pod with errors is not schedulable (the
// caller turns them into an Event). Keys follow DESIGN.md §4; KAI Scheduler's and Volcano's keys
// are accepted so that workloads move over unchanged.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "scheduler/state/model.h"

namespace fairway {

inline constexpr std::string_view kAnnotationPodGroup = "fairway.dev/pod-group";
inline constexpr std::string_view kKaiPodGroup = "pod-group-name";  // annotation or label
inline constexpr std::string_view kAnnotationMinMember = "fairway.dev/min-member";
inline constexpr std::string_view kAnnotationGpuFraction = "fairway.dev/gpu-fraction";
inline constexpr std::string_view kAnnotationGpuMemory = "fairway.dev/gpu-memory";
inline constexpr std::string_view kAnnotationGpuFractionNumDevices =
    "fairway.dev/gpu-fraction-num-devices";
inline constexpr std::string_view kKaiGpuFraction = "gpu-fraction";
inline constexpr std::string_view kKaiGpuMemory = "gpu-memory";
inline constexpr std::string_view kKaiGpuFractionNumDevices = "gpu-fraction-num-devices";
inline constexpr std::string_view kPreemptible = "fairway.dev/preemptible";  // label or annotation
// Topology constraint of a gang without a PodGroup CR (docs/topology.md); KAI's keys too.
inline constexpr std::string_view kAnnotationTopology = "fairway.dev/topology";
inline constexpr std::string_view kAnnotationRequiredLevel = "fairway.dev/topology-required-level";
inline constexpr std::string_view kAnnotationPreferredLevel =
    "fairway.dev/topology-preferred-level";
inline constexpr std::string_view kKaiTopology = "kai.scheduler/topology";
inline constexpr std::string_view kKaiRequiredPlacement =
    "kai.scheduler/topology-required-placement";
inline constexpr std::string_view kKaiPreferredPlacement =
    "kai.scheduler/topology-preferred-placement";

struct PodIntentConfig {
  // Looked up in order, first in labels, then in annotations (Volcano's queue key is usually an
  // annotation). The first non-empty value wins.
  std::vector<std::string> queue_label_keys = {"fairway.dev/queue", "kai.scheduler/queue",
                                               "scheduling.volcano.sh/queue-name"};
  std::string default_queue = "default";
};

// A share of a GPU. Exactly one of `fraction` and `memory_mib` is set in a valid intent.
struct GpuFraction {
  std::optional<double> fraction;     // 0 < fraction < 1 of each device
  std::optional<int64_t> memory_mib;  // GPU memory per device, MiB, > 0
  int32_t num_devices = 1;            // how many devices get that share
};

struct PodIntent {
  std::string queue;
  bool queue_from_pod = false;  // a label or annotation named it (else: the default)
  // The gang the pod belongs to; empty when it has none, and then it is a gang of one.
  std::string pod_group;
  std::optional<int32_t> min_member;
  std::optional<GpuFraction> gpu_fraction;
  std::optional<bool> preemptible;  // unset: the queue's / priority class's default applies
  TopologyConstraint topology;      // from annotations; a PodGroup CR's constraint wins
  // One message per problem, naming the key and the value, e.g.
  // `annotation fairway.dev/gpu-fraction="1.5": must be a number greater than 0 and less than 1`.
  std::vector<std::string> errors;

  bool valid() const { return errors.empty(); }
};

// Where a pod names its queue: the first of PodIntentConfig::queue_label_keys with a non-empty
// value in its labels, else in its annotations. nullopt: none (the default queue applies).
// Points into `pod` and `config`.
struct QueueKey {
  std::string_view map;  // "label" or "annotation"
  const std::string* key;
  const std::string* value;
};
std::optional<QueueKey> find_queue_key(const Pod& pod, const PodIntentConfig& config);

// Reads the intent. Keys with the fairway.dev/ prefix win over their KAI equivalents; a pod
// asking for a fraction must not also ask for whole nvidia.com/gpu in any container.
PodIntent read_pod_intent(const Pod& pod, const PodIntentConfig& config = {});

}  // namespace fairway
