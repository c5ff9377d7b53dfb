#pragma once
// The gauges that describe the cluster (per queue, per node, GPU totals), taken at scrape time.
//
// Why at scrape time: at 10,000 nodes and 1,110 queues these are tens of thousands of series;
// setting them every cycle would cost more than the 1% of a cycle that metrics may take. A
// scrape (every 15-60 s) instead asks the scheduling loop for a ClusterSnapshot, a copy of plain
// numbers taken on the loop thread (the only thread that may read the ClusterState), and turns it
// into text on the HTTP thread. take_snapshot is pure: no clock, no I/O.

#include <prometheus/metric_family.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "scheduler/state/cluster_state.h"
#include "scheduler/utilization/gpu_utilization.h"

namespace fairway::metrics {

struct QueueResourceSample {
  std::string resource;
  // In the resource's unit (cores, bytes, GPUs): canonical / scale.
  double deserved = 0;
  double fair_share = 0;
  double allocated = 0;
  double pending = 0;      // pending demand, requests of pending pods
  double limit = -1;       // -1: unlimited (no series)
  double usage_share = 0;  // share of the cluster used over time (usage_history.h)
};

struct QueueSample {
  std::string name;
  std::string parent;  // "" for a root
  bool leaf = true;
  uint64_t pending_pods = 0;
  double dominant_share = 0;  // max over resources of allocated / fair share
  std::vector<QueueResourceSample> resources;
};

struct NodeGpuSample {
  std::string node;
  double gpus = 0;            // allocatable GPUs
  double gpus_allocated = 0;  // requested by pods bound or assumed there (a shared GPU is one)
  double shared_gpus = 0;     // GPUs split between fractional pods
  double gpu_fractions_allocated = 0;  // the fractions held on those GPUs
};

struct ClusterSnapshot {
  std::vector<QueueSample> queues;
  std::vector<NodeGpuSample> nodes;  // empty when per-node series are off
  double gpus = 0;                   // allocatable GPUs of ready, schedulable nodes
  double gpus_allocated = 0;
  // Free GPUs on nodes where no pending pod's whole-GPU request fits (a free GPU is wasted when
  // every pending GPU pod needs more GPUs on one node than that node has free); 0 when nothing
  // GPU-bound is pending, because then no free GPU is wanted.
  double gpus_fragmented = 0;
  uint64_t pending_pods = 0;
  uint64_t nodes_total = 0;
  // GPU use against allocation per queue (--utilization-prometheus); empty when off. Not taken
  // by take_snapshot: the loop adds its latest utilization_report.
  std::optional<std::vector<QueueUtilization>> gpu_utilization;
};

// Reads the state (on the loop thread). Fair shares are recomputed from the state's incremental
// totals (0.15 ms at 1,111 queues): the same numbers the next cycle would use.
ClusterSnapshot take_snapshot(ClusterState& state, bool per_node);

// The snapshot as metric families (fairway_queue_*, fairway_node_gpus_*, fairway_cluster_*).
std::vector<prometheus::MetricFamily> snapshot_families(const ClusterSnapshot& snapshot);

}  // namespace fairway::metrics
