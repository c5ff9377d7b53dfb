#pragma once
// An independent invariant checker for reliability tests: it reads only what the API server
// holds (pods, nodes, Queues, PodGroups as JSON, listed by the caller) and knows nothing of the
// scheduler's own state or decoders, so a bug in fairway's model cannot hide itself. Pure: no
// I/O and no clock of its own (a snapshot carries the time it was taken); fetching lives in
// snapshot.h.
//
// Invariants (issue 9):
//   node-overcommit    the requests of the non-terminated pods bound to a node fit its
//                      allocatable, for every resource (pods count as the "pods" resource);
//   double-bind        a pod's spec.nodeName never changes once set (tracked across snapshots);
//   gang-partial       a gang never stays bound below minMember longer than a grace period;
//   queue-limit        the requests of a Queue subtree's bound pods never exceed its limit;
//   reservation-orphan a GPU reservation pod (namespace fairway-reservation, label
//                      fairway.dev/gpu-group) does not outlive its sharers beyond a grace period;
//   sharer-orphan      a pod sharing a GPU (label or annotation fairway.dev/gpu-group) has a
//                      reservation pod of that group on its node (after the grace period);
//   gpu-share-overcommit the fractions (fairway.dev/gpu-fraction) and memory
//                      (fairway.dev/gpu-memory, MiB) of one shared GPU's sharers fit one GPU.
// Liveness ("every feasible pod is eventually bound") is a separate query, pending_feasible(),
// because it only holds once faults stop: the caller polls it until it is empty or time is up.

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <unordered_map>
#include <vector>

namespace fairway::invariants {

using TimeMs = int64_t;

// What the API server held at one moment: the `items` of each LIST.
struct Snapshot {
  TimeMs taken_ms = 0;
  std::vector<nlohmann::json> pods;
  std::vector<nlohmann::json> nodes;
  std::vector<nlohmann::json> queues;
  std::vector<nlohmann::json> pod_groups;
};

struct Violation {
  std::string invariant;  // one of the names above
  std::string object;     // "ns/pod", "node/NAME", "queue/NAME", "gang/ns/name", "gpu-group/G"
  std::string message;
};

struct CheckerOptions {
  std::string scheduler_name = "fairway";
  // Same keys, same order as the scheduler's defaults (DESIGN.md §4).
  std::vector<std::string> queue_label_keys = {"fairway.dev/queue", "kai.scheduler/queue",
                                               "scheduling.volcano.sh/queue-name"};
  std::string default_queue = "default";
  std::string reservation_namespace = "fairway-reservation";
  // A gang may be partially bound while its binds are in flight; beyond this it is a violation.
  TimeMs gang_grace_ms = 30'000;
  // A reservation pod is created before its sharer binds and deleted after the last one leaves.
  TimeMs reservation_grace_ms = 90'000;
};

// Well-known names the checks read (DESIGN.md §4).
inline constexpr const char* kGpuGroupKey = "fairway.dev/gpu-group";
inline constexpr const char* kGpuFractionKey = "fairway.dev/gpu-fraction";
inline constexpr const char* kGpuMemoryKey = "fairway.dev/gpu-memory";
inline constexpr const char* kGpuNumDevicesKey = "fairway.dev/gpu-fraction-num-devices";
inline constexpr const char* kNodeGpuMemoryLabel =
    "nvidia.com/gpu.memory";  // MiB, GPU Feature Discovery

// Requests of a pod in canonical units (queues/quantity.h), computed from its JSON the way the
// kubelet does: containers summed, init containers as a peak, sidecars (restartPolicy Always)
// running beside both, plus overhead; a container's missing request defaults to its limit.
std::map<std::string, int64_t> pod_requests(const nlohmann::json& pod);

class Checker {
 public:
  explicit Checker(CheckerOptions options = {});

  // Checks one snapshot. Remembers across calls what the checks need: each pod's first node
  // (double-bind) and since when a gang or a reservation has been incomplete (grace periods).
  std::vector<Violation> check(const Snapshot& snapshot);

  // Pods of ours that are pending although they could run now: not in a gang and not sharing a
  // GPU (their feasibility depends on more than one pod), no affinity, and their requests fit
  // the free capacity of some ready, schedulable, untainted node whose labels match their
  // nodeSelector, without taking any Queue of theirs past its limit. "ns/name" each.
  std::vector<std::string> pending_feasible(const Snapshot& snapshot) const;

  uint64_t snapshots_checked() const { return snapshots_checked_; }
  uint64_t pods_checked() const { return pods_checked_; }

 private:
  CheckerOptions options_;
  std::unordered_map<std::string, std::string> first_node_;  // pod uid → first nodeName seen
  std::unordered_map<std::string, TimeMs> gang_partial_since_;
  std::unordered_map<std::string, TimeMs> reservation_incomplete_since_;
  uint64_t snapshots_checked_ = 0;
  uint64_t pods_checked_ = 0;
};

}  // namespace fairway::invariants
