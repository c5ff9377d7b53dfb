#pragma once
// GPU use against GPU allocation, pure (docs/utilization.md).
//
// A GPU allocated is not a GPU used. NVIDIA's dcgm-exporter publishes, per GPU, its compute
// utilisation (DCGM_FI_DEV_GPU_UTIL, percent) and framebuffer memory in use (DCGM_FI_DEV_FB_USED,
// MiB), labelled with the pod the GPU is assigned to. The edge (scheduler/service/
// utilization_poller.h, `fairway report idle`) reads those series from Prometheus and feeds the
// samples here; this tracker keeps, per pod, the samples of a sliding window and answers:
//   - average and peak utilisation over the window (a pod's value at an instant is the mean of
//     its GPUs; the peak is the busiest GPU's),
//   - since when the pod has been idle: the start of the latest unbroken run of instants at which
//     every one of its GPUs was below the idle threshold,
// and, joined with the cluster state, the same per queue and the list of idle GPU-holding pods.
//
// A pod whose newest sample is older than `stale_after_ms` is not judged (the exporter or
// Prometheus stopped answering for it): unknown is never idle. Time is the caller's (wall clock
// milliseconds, as Prometheus timestamps are); nothing here reads a clock.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "queues/usage_history.h"
#include "scheduler/state/cluster_state.h"

namespace fairway {

struct UtilizationConfig {
  WallMs window_ms = 60LL * 60 * 1000;      // --utilization-window: averages and peaks span this
  double idle_below_percent = 5;            // --idle-gpu-threshold: a GPU under this is idle
  WallMs idle_after_ms = 30LL * 60 * 1000;  // --idle-gpu-after: idle this long makes an idle pod
  // A pod with no sample this recent is unknown: Prometheus' default lookback (5 minutes).
  WallMs stale_after_ms = 5LL * 60 * 1000;
};

// One series' value at one instant: the GPU `gpu` (its UUID) of pod `pod` ("namespace/name").
struct GpuSample {
  std::string pod;
  std::string gpu;
  WallMs at = 0;
  std::optional<double> utilization_percent;  // DCGM_FI_DEV_GPU_UTIL
  std::optional<double> memory_used_mib;      // DCGM_FI_DEV_FB_USED
};

struct PodUtilization {
  double average_percent = 0;  // mean over the window of the mean over its GPUs
  double peak_percent = 0;     // the busiest GPU at the busiest instant
  double peak_memory_mib = 0;  // the most framebuffer one of its GPUs held
  size_t gpus = 0;             // distinct GPUs seen
  WallMs first_seen = 0;       // oldest instant in the window
  WallMs last_seen = 0;
  // Start of the latest run of instants with every GPU below the threshold; empty when the
  // newest instant is busy.
  std::optional<WallMs> idle_since;
};

// Transparent hashing: pod keys are looked up by string_view.
struct KeyHash {
  using is_transparent = void;
  size_t operator()(std::string_view key) const { return std::hash<std::string_view>{}(key); }
};

// Pod key → its utilisation over the window: what the tracker hands the loop after each poll.
using PodUtilizations = std::unordered_map<std::string, PodUtilization, KeyHash, std::equal_to<>>;

// Whether `usage` is recent enough to judge at `now` (stale_after_ms), and idle at `now`.
bool current(const PodUtilization& usage, const UtilizationConfig& config, WallMs now);
bool idle(const PodUtilization& usage, const UtilizationConfig& config, WallMs now);

class UtilizationTracker {
 public:
  explicit UtilizationTracker(UtilizationConfig config = {}) : config_(config) {}

  // Samples may come in any order (a range query answers series by series).
  void add(const GpuSample& sample);
  // Forgets instants older than the window before `now`, and pods left with none: the window
  // is what prune leaves.
  void prune(WallMs now);

  // Every pod with utilisation samples. Walks every stored instant: the poller's thread calls
  // it after each poll, and the loop only reads the result.
  PodUtilizations summaries() const;
  // One pod; nullopt when it has no utilisation sample or none recent enough at `now`.
  std::optional<PodUtilization> pod(std::string_view pod, WallMs now) const;
  const UtilizationConfig& config() const { return config_; }

 private:
  // One instant of a pod, summed over its GPUs as their samples arrive (each (pod, GPU, instant)
  // comes once: polls ask disjoint ranges).
  struct Instant {
    WallMs at = 0;
    double utilization_sum = 0;
    double utilization_peak = 0;
    uint32_t utilization_count = 0;
    double memory_peak = 0;
  };
  struct Series {
    std::vector<Instant> instants;  // by time; polls append at the end
    std::vector<std::string> gpus;  // seen since the pod's first sample in the window
  };
  std::optional<PodUtilization> summarize(const Series& series) const;

  UtilizationConfig config_;
  std::unordered_map<std::string, Series, KeyHash, std::equal_to<>> pods_;
};

// A GPU-holding pod whose GPUs sat idle, as `fairway report idle` and the idle-victim policy see
// it.
struct IdleGpuPod {
  std::string pod;  // namespace/name
  std::string queue;
  std::string node;
  int64_t gpu_milli = 0;  // the GPUs it holds (a sharer: its share), milli-GPUs
  PodUtilization usage;
  WallMs idle_ms = 0;  // how long it has been idle
  // Where it holds them: the whole GPUs its eviction would give back to the node, in milli-GPUs
  // (a sharer frees nothing while others share its GPU).
  int64_t frees_gpu_milli = 0;
};

struct QueueUtilization {
  std::string queue;
  int64_t allocated_gpu_milli = 0;  // GPUs its bound pods hold
  int64_t measured_gpu_milli = 0;   // of those, held by pods with samples
  // GPU-weighted mean of the measured pods' average utilisation, 0..1; empty when none measured.
  std::optional<double> utilization_ratio;
  uint32_t idle_pods = 0;
  int64_t idle_gpu_milli = 0;
};

struct UtilizationReport {
  std::vector<QueueUtilization> queues;  // every leaf queue holding GPUs, by name
  std::vector<IdleGpuPod> idle;          // longest idle first
};

// Joins the pods' utilisation with the pods the state holds: bound pods of the scheduler's queues
// that request GPUs. A sharer of a fractional GPU has no series of its own (the device plugin gave
// the GPU to its reservation pod): it is judged by its reservation pod's samples.
UtilizationReport utilization_report(const ClusterState& state, const PodUtilizations& pods,
                                     const UtilizationConfig& config, WallMs now);

// The summary `pod` is judged by (its own, or a sharer's reservation pod's), if any; nullptr
// otherwise. Scans the state for a sharer's reservation pod: for one pod at a time (/debug).
const PodUtilization* utilization_of(const ClusterState& state, const PodRecord& pod,
                                     const PodUtilizations& pods);

// The words Events and reports use, e.g. `GPUs idle for 42m (average 3% over 1h, peak 7%)`.
std::string describe_idle(const IdleGpuPod& pod, const UtilizationConfig& config);
// "42m", "1h5m", "30s": a duration as kubectl prints ages.
std::string short_duration(WallMs ms);

}  // namespace fairway
