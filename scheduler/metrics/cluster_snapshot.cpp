#include "scheduler/metrics/cluster_snapshot.h"

#include <algorithm>
#include <limits>

namespace fairway::metrics {
namespace {

prometheus::MetricFamily gauge_family(std::string name, std::string help) {
  prometheus::MetricFamily family;
  family.name = std::move(name);
  family.help = std::move(help);
  family.type = prometheus::MetricType::Gauge;
  return family;
}

void add(prometheus::MetricFamily& family, std::vector<prometheus::ClientMetric::Label> labels,
         double value) {
  prometheus::ClientMetric metric;
  metric.label = std::move(labels);
  metric.gauge.value = value;
  family.metric.push_back(std::move(metric));
}

// GPU use against allocation (docs/utilization.md): series only for queues holding GPUs.
std::vector<prometheus::MetricFamily> utilization_families(
    const std::vector<QueueUtilization>& queues) {
  auto ratio = gauge_family(
      "fairway_queue_gpu_utilization_ratio",
      "GPU-weighted average utilisation (DCGM_FI_DEV_GPU_UTIL, 0-1) over --utilization-window "
      "of the GPUs the queue's pods hold; absent while none of them has samples.");
  auto measured = gauge_family("fairway_queue_gpus_measured",
                               "GPUs held by the queue's pods that have utilisation samples.");
  auto idle_pods = gauge_family("fairway_queue_idle_gpu_pods",
                                "Pods of the queue holding GPUs that stayed below "
                                "--idle-gpu-threshold for --idle-gpu-after.");
  auto idle_gpus =
      gauge_family("fairway_queue_idle_gpus", "GPUs held by the queue's idle GPU pods.");
  for (const QueueUtilization& q : queues) {
    const std::vector<prometheus::ClientMetric::Label> labels{{"queue", q.queue}};
    if (q.utilization_ratio) add(ratio, labels, *q.utilization_ratio);
    add(measured, labels, static_cast<double>(q.measured_gpu_milli) / 1000.0);
    add(idle_pods, labels, static_cast<double>(q.idle_pods));
    add(idle_gpus, labels, static_cast<double>(q.idle_gpu_milli) / 1000.0);
  }
  std::vector<prometheus::MetricFamily> out;
  for (auto* family : {&ratio, &measured, &idle_pods, &idle_gpus})
    out.push_back(std::move(*family));
  return out;
}

}  // namespace

ClusterSnapshot take_snapshot(ClusterState& state, bool per_node) {
  ClusterSnapshot out;
  const QueueTree& tree = state.queue_tree();
  const ResourceRegistry& registry = state.registry();

  std::vector<uint64_t> pending_pods(tree.size(), 0);
  for (const auto& [name, jobs] : state.pending_jobs()) {
    uint64_t pods = 0;
    for (JobId id : jobs) pods += state.jobs()[id].pending.size();
    out.pending_pods += pods;
    // Jobs naming a queue that does not exist are counted in the cluster total only: a per-queue
    // series for them would let users mint label values.
    if (const auto index = tree.find(name)) pending_pods[*index] += pods;
  }
  // Parents count the pending pods of their subtree, as their allocated and demand do.
  for (QueueIndex q = 0; q < tree.size(); ++q) {
    if (!tree.node(q).is_leaf() || pending_pods[q] == 0) continue;
    for (QueueIndex up = tree.node(q).parent; up != kNoQueue; up = tree.node(up).parent) {
      pending_pods[up] += pending_pods[q];
    }
  }
  const FairShares shares = state.fair_shares();  // as the cycle divides them

  out.queues.reserve(tree.size());
  for (QueueIndex q = 0; q < tree.size(); ++q) {
    const QueueNode& node = tree.node(q);
    QueueSample sample;
    sample.name = node.name;
    sample.parent = node.parent == kNoQueue ? "" : tree.node(node.parent).name;
    sample.leaf = node.is_leaf();
    sample.pending_pods = pending_pods[q];
    for (size_t i = 0; i < registry.size(); ++i) {
      const auto r = static_cast<ResourceId>(i);
      if (r == kPods) continue;
      const double scale = static_cast<double>(registry.scale(r));
      const int64_t allocated = q < shares.allocated.size() ? shares.allocated[q][r] : 0;
      const int64_t demand = q < shares.demand.size() ? shares.demand[q][r] : 0;
      const int64_t deserved = q < shares.deserved.size() ? shares.deserved[q][r] : 0;
      const double fair = shares.share(q, r);
      const int64_t limit = node.limit_of(r);
      const double past = r < shares.resources ? shares.history[q * shares.resources + r] : 0;
      // A resource nobody asks for, guarantees, limits or used would only add empty series.
      if (allocated == 0 && demand == 0 && deserved == 0 && fair == 0 && limit == kUnlimited &&
          past == 0)
        continue;
      QueueResourceSample resource;
      resource.resource = registry.name(r);
      resource.allocated = static_cast<double>(allocated) / scale;
      resource.deserved = static_cast<double>(deserved) / scale;
      resource.fair_share = fair / scale;
      resource.pending = static_cast<double>(std::max<int64_t>(demand - allocated, 0)) / scale;
      resource.limit = limit == kUnlimited ? -1 : static_cast<double>(limit) / scale;
      resource.usage_share = past;
      if (fair > 0)
        sample.dominant_share =
            std::max(sample.dominant_share, static_cast<double>(allocated) / fair);
      sample.resources.push_back(std::move(resource));
    }
    out.queues.push_back(std::move(sample));
  }

  // The smallest whole-GPU request of a pending pod: free GPUs on a node with fewer free than
  // that cannot be used by anything that waits.
  int64_t smallest_gpu_request = std::numeric_limits<int64_t>::max();
  for (const auto& [name, jobs] : state.pending_jobs()) {
    for (JobId id : jobs) {
      for (PodId pod : state.jobs()[id].pending) {
        const int64_t gpus = state.pods()[pod].requests[kGpu];
        if (gpus > 0) smallest_gpu_request = std::min(smallest_gpu_request, gpus);
      }
    }
  }
  const double gpu_scale = static_cast<double>(registry.scale(kGpu));
  const bool gpu_wanted = smallest_gpu_request != std::numeric_limits<int64_t>::max();
  for (const NodeRecord& record : state.nodes()) {
    if (!record.present) continue;
    ++out.nodes_total;
    const int64_t gpus = record.allocatable[kGpu];  // canonical units (milli-GPUs)
    const int64_t used = std::min(record.used[kGpu], gpus);
    if (record.schedulable()) {
      out.gpus += static_cast<double>(gpus) / gpu_scale;
      out.gpus_allocated += static_cast<double>(used) / gpu_scale;
      const int64_t free = gpus - used;
      if (gpu_wanted && free > 0 && free < smallest_gpu_request) {
        out.gpus_fragmented += static_cast<double>(free) / gpu_scale;
      }
    }
    if (per_node && gpus > 0) {
      NodeGpuSample sample{record.node.name, static_cast<double>(gpus) / gpu_scale,
                           static_cast<double>(used) / gpu_scale};
      const auto node = static_cast<NodeId>(&record - state.nodes().data());
      for (GroupId id : state.gpu_sharing().on_node(node)) {
        const SharedGpu& gpu = state.gpu_sharing().gpus()[id];
        if (!gpu.present) continue;
        sample.shared_gpus += 1;
        sample.gpu_fractions_allocated += share_fraction(gpu.used);
      }
      out.nodes.push_back(std::move(sample));
    }
  }
  return out;
}

std::vector<prometheus::MetricFamily> snapshot_families(const ClusterSnapshot& snapshot) {
  auto deserved =
      gauge_family("fairway_queue_deserved",
                   "Deserved quota of the queue (its guarantee), in the resource's base unit.");
  auto fair = gauge_family(
      "fairway_queue_fair_share",
      "Fair share of the queue computed by hierarchical DRF, in the resource's base unit.");
  auto allocated = gauge_family(
      "fairway_queue_allocated",
      "Requests of the queue's pods that are bound or being bound, in the resource's base unit.");
  auto limit =
      gauge_family("fairway_queue_limit",
                   "Limit of the queue (absent when unlimited), in the resource's base unit.");
  auto pending = gauge_family("fairway_queue_pending_demand",
                              "Requests of the queue's pending pods, in the resource's base unit.");
  auto pending_pods =
      gauge_family("fairway_queue_pending_pods", "Pods of the queue waiting for a node.");
  auto usage = gauge_family(
      "fairway_queue_usage_share",
      "Share of the cluster's capacity the queue (and its subtree) used over time, decayed with "
      "--usage-half-life (1 = all of it, all the time).");
  auto dominant =
      gauge_family("fairway_queue_dominant_share",
                   "Max over resources of allocated / fair share (1 = at its fair share).");
  auto info = gauge_family(
      "fairway_queue_info",
      "One series per queue, naming its parent (\"\" for a root) and whether it is a leaf.");
  for (const QueueSample& queue : snapshot.queues) {
    add(pending_pods, {{"queue", queue.name}}, static_cast<double>(queue.pending_pods));
    add(dominant, {{"queue", queue.name}}, queue.dominant_share);
    add(info,
        {{"leaf", queue.leaf ? "true" : "false"}, {"parent", queue.parent}, {"queue", queue.name}},
        1);
    for (const QueueResourceSample& r : queue.resources) {
      add(deserved, {{"queue", queue.name}, {"resource", r.resource}}, r.deserved);
      add(fair, {{"queue", queue.name}, {"resource", r.resource}}, r.fair_share);
      add(allocated, {{"queue", queue.name}, {"resource", r.resource}}, r.allocated);
      add(pending, {{"queue", queue.name}, {"resource", r.resource}}, r.pending);
      add(usage, {{"queue", queue.name}, {"resource", r.resource}}, r.usage_share);
      if (r.limit >= 0) add(limit, {{"queue", queue.name}, {"resource", r.resource}}, r.limit);
    }
  }
  auto node_gpus = gauge_family("fairway_node_gpus", "Allocatable whole GPUs of the node.");
  auto node_allocated =
      gauge_family("fairway_node_gpus_allocated",
                   "Whole GPUs requested by pods bound or being bound to the node.");
  auto node_shared = gauge_family(
      "fairway_node_shared_gpus",
      "GPUs of the node shared by fractional pods (each held by one reservation pod).");
  auto node_fractions =
      gauge_family("fairway_node_gpu_fractions_allocated",
                   "Sum of the fractions fractional pods hold on the node's shared GPUs.");
  for (const NodeGpuSample& node : snapshot.nodes) {
    add(node_gpus, {{"node", node.node}}, node.gpus);
    add(node_allocated, {{"node", node.node}}, node.gpus_allocated);
    add(node_shared, {{"node", node.node}}, node.shared_gpus);
    add(node_fractions, {{"node", node.node}}, node.gpu_fractions_allocated);
  }
  auto gpus =
      gauge_family("fairway_cluster_gpus", "Allocatable whole GPUs of ready, schedulable nodes.");
  add(gpus, {}, snapshot.gpus);
  auto gpus_allocated = gauge_family("fairway_cluster_gpus_allocated",
                                     "Whole GPUs requested by pods on ready, schedulable nodes.");
  add(gpus_allocated, {}, snapshot.gpus_allocated);
  auto fragmented = gauge_family("fairway_cluster_gpus_fragmented",
                                 "Free GPUs that no pending pod can use: on nodes with fewer free "
                                 "GPUs than the smallest pending GPU request.");
  add(fragmented, {}, snapshot.gpus_fragmented);
  auto pods =
      gauge_family("fairway_pending_pods", "Pods of fairway waiting for a node, in every queue.");
  add(pods, {}, static_cast<double>(snapshot.pending_pods));
  auto nodes = gauge_family("fairway_nodes", "Nodes known to the scheduler.");
  add(nodes, {}, static_cast<double>(snapshot.nodes_total));

  std::vector<prometheus::MetricFamily> out;
  for (auto* family : {&deserved, &fair, &allocated, &limit, &pending, &usage, &pending_pods,
                       &dominant, &info, &node_gpus, &node_allocated, &node_shared, &node_fractions,
                       &gpus, &gpus_allocated, &fragmented, &pods, &nodes}) {
    out.push_back(std::move(*family));
  }
  if (snapshot.gpu_utilization) {
    for (auto& family : utilization_families(*snapshot.gpu_utilization)) {
      out.push_back(std::move(family));
    }
  }
  return out;
}

}  // namespace fairway::metrics
