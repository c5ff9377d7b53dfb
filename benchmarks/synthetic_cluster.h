#pragma once
// A synthetic GPU cluster for benchmarks: N nodes × 8 GPUs, a 3-level queue tree, running pods
// spread over the nodes and a pending backlog of single pods and gangs. Deterministic (fixed
// seed) so every run measures the same work.

#include <cstdint>
#include <random>
#include <string>

#include "scheduler/state/cluster_state.h"

namespace fairway::bench {

struct ClusterShape {
  int nodes = 10'000;
  int gpus_per_node = 8;
  int running_pods = 100'000;
  int pending_pods = 20'000;
  int queue_fanout = 10;  // fanout^3 leaf queues in 3 levels
  int gang_size = 8;      // one pending job in ten is a gang of this many 1-GPU pods
  // Percent of pending jobs (in steps of 10) with kube-scheduler constraints: required
  // anti-affinity on hostname against their app (every gang), or a zone spread of maxSkew 1
  // over their app. Running pods then carry app labels too (kApps apps, kZones zones).
  int constrained_percent = 0;
};

inline constexpr int kApps = 50;
inline constexpr int kZones = 20;

inline std::string app_of(int index) {
  return "app-" + std::to_string(index % kApps);
}

inline LabelSelector app_selector(const std::string& app) {
  LabelSelector selector;
  selector.match_labels.emplace("app", app);
  return selector;
}

// Required anti-affinity on hostname against `app`, or a zone spread of it.
inline void constrain(Pod& pod, const std::string& app, bool anti) {
  pod.labels.emplace("app", app);
  if (anti) {
    PodAffinityTerm term;
    term.label_selector = app_selector(app);
    term.topology_key = "kubernetes.io/hostname";
    pod.affinity.required_anti_affinity.push_back(std::move(term));
  } else {
    TopologySpreadConstraint spread;
    spread.topology_key = "topology.kubernetes.io/zone";
    spread.label_selector = app_selector(app);
    pod.topology_spread.push_back(std::move(spread));
  }
}

inline Pod make_pod(const std::string& name, const std::string& queue, int64_t gpus,
                    int64_t milli_cpu, int64_t memory, int64_t created) {
  Pod pod;
  pod.namespace_ = "team";
  pod.name = name;
  pod.uid = name;
  pod.scheduler_name = "fairway";
  pod.creation_ms = created;
  pod.labels.emplace("fairway.dev/queue", queue);
  Container container;
  container.name = "main";
  container.requests.emplace("cpu", milli_cpu);
  container.requests.emplace("memory", memory);
  if (gpus > 0) container.requests.emplace("nvidia.com/gpu", gpus * 1000);
  pod.containers.push_back(std::move(container));
  return pod;
}

inline std::string leaf_name(int a, int b, int c) {
  return "q" + std::to_string(a) + "-" + std::to_string(b) + "-" + std::to_string(c);
}

template <typename Sink>
void add_queues(Sink& state, const ClusterShape& shape) {
  const int f = shape.queue_fanout;
  const int64_t total_gpus = int64_t{shape.nodes} * shape.gpus_per_node * 1000;
  auto spec = [](std::string name, std::string parent, int64_t gpu_quota) {
    QueueSpec q;
    q.name = std::move(name);
    q.parent = std::move(parent);
    q.resources["nvidia.com/gpu"].quota = gpu_quota;
    return q;
  };
  for (int a = 0; a < f; ++a) {
    const std::string top = "q" + std::to_string(a);
    state.upsert_queue(spec(top, "", total_gpus / f));
    for (int b = 0; b < f; ++b) {
      const std::string mid = top + "-" + std::to_string(b);
      state.upsert_queue(spec(mid, top, total_gpus / (f * f)));
      for (int c = 0; c < f; ++c) {
        state.upsert_queue(spec(leaf_name(a, b, c), mid, total_gpus / (f * f * f)));
      }
    }
  }
}

template <typename Sink>
void add_nodes(Sink& state, const ClusterShape& shape) {
  for (int n = 0; n < shape.nodes; ++n) {
    Node node;
    node.name = "node-" + std::to_string(n);
    node.labels.emplace("kubernetes.io/hostname", node.name);
    node.labels.emplace("topology.kubernetes.io/zone", "zone-" + std::to_string(n % kZones));
    node.labels.emplace("nvidia.com/gpu.product", n % 2 == 0 ? "H100-SXM" : "A100-SXM");
    node.allocatable = {{"cpu", 128'000},
                        {"memory", int64_t{1} << 40},
                        {"nvidia.com/gpu", int64_t{shape.gpus_per_node} * 1000},
                        {"pods", 110'000}};
    state.upsert_node(std::move(node));
  }
}

// Running pods: about three quarters of the GPUs are busy, spread unevenly over the nodes.
template <typename Sink>
void add_running(Sink& state, const ClusterShape& shape, std::mt19937& rng) {
  const int f = shape.queue_fanout;
  const int leaves = f * f * f;
  std::vector<int> free_gpus(static_cast<size_t>(shape.nodes), shape.gpus_per_node);
  for (int i = 0; i < shape.running_pods; ++i) {
    const int leaf = static_cast<int>(rng() % static_cast<uint32_t>(leaves));
    const int node = i % shape.nodes;
    const int64_t gpus = (rng() % 5 == 0 && free_gpus[static_cast<size_t>(node)] > 0) ? 1 : 0;
    free_gpus[static_cast<size_t>(node)] -= static_cast<int>(gpus);
    Pod pod =
        make_pod("run-" + std::to_string(i), leaf_name(leaf / (f * f), leaf / f % f, leaf % f),
                 gpus, 2000, int64_t{8} << 30, i);
    pod.node_name = "node-" + std::to_string(node);
    pod.phase = PodPhase::kRunning;
    if (shape.constrained_percent > 0) pod.labels.emplace("app", app_of(i));
    state.upsert_pod(std::move(pod));
  }
  // Fill three quarters of the remaining free GPUs with multi-GPU pods on the same nodes.
  for (int n = 0; n < shape.nodes; ++n) {
    const int take = free_gpus[static_cast<size_t>(n)] * 3 / 4;
    if (take <= 0) continue;
    const int leaf = static_cast<int>(rng() % static_cast<uint32_t>(leaves));
    Pod pod =
        make_pod("big-" + std::to_string(n), leaf_name(leaf / (f * f), leaf / f % f, leaf % f),
                 take, 8000, int64_t{64} << 30, n);
    pod.node_name = "node-" + std::to_string(n);
    pod.phase = PodPhase::kRunning;
    state.upsert_pod(std::move(pod));
  }
}

// Pending: single pods of 1, 2, 4 or 8 GPUs and gangs of 1-GPU pods, in every leaf queue.
template <typename Sink>
void add_pending(Sink& state, const ClusterShape& shape, std::mt19937& rng) {
  const int f = shape.queue_fanout;
  const int leaves = f * f * f;
  int made = 0;
  int job = 0;
  while (made < shape.pending_pods) {
    const int leaf = job % leaves;
    const std::string queue = leaf_name(leaf / (f * f), leaf / f % f, leaf % f);
    const int64_t created = 1'000'000 + job;
    const bool constrained = job % 10 < shape.constrained_percent / 10;
    if (job % 10 == 9) {
      const std::string group = "gang-" + std::to_string(job);
      for (int p = 0; p < shape.gang_size && made < shape.pending_pods; ++p, ++made) {
        Pod pod =
            make_pod(group + "-" + std::to_string(p), queue, 1, 4000, int64_t{32} << 30, created);
        pod.annotations.emplace("fairway.dev/pod-group", group);
        pod.annotations.emplace("fairway.dev/min-member", std::to_string(shape.gang_size));
        if (constrained) constrain(pod, group, true);
        state.upsert_pod(std::move(pod));
      }
    } else {
      static constexpr int64_t kSizes[] = {1, 1, 1, 2, 4, 8};
      const int64_t gpus = kSizes[rng() % 6];
      Pod pod = make_pod("pend-" + std::to_string(job), queue, gpus, 4000 * gpus, int64_t{32} << 30,
                         created);
      if (constrained) constrain(pod, app_of(job), job % 2 == 0);
      state.upsert_pod(std::move(pod));
      ++made;
    }
    ++job;
  }
}

// Hands every object of the cluster to `sink` (upsert_queue, upsert_node, upsert_pod): a
// ClusterState, or anything else that wants the same objects (the what-if benchmark writes
// them as a snapshot).
template <typename Sink>
void make_objects(const ClusterShape& shape, Sink& sink) {
  std::mt19937 rng(42);
  add_queues(sink, shape);
  add_nodes(sink, shape);
  add_running(sink, shape, rng);
  add_pending(sink, shape, rng);
}

inline ClusterState make_cluster(const ClusterShape& shape) {
  ClusterState state;
  make_objects(shape, state);
  return state;
}

}  // namespace fairway::bench
