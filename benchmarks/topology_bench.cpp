// Topology-aware placement benchmarks (issue 4 bar: a 512-pod gang of 8-GPU pods on 4,096
// nodes with a 3-level fabric placed in ≤ 50 ms in-process; fabric rebuild for 10,000 nodes in
// ≤ 100 ms). Run: build/benchmarks/topology_bench
#include <benchmark/benchmark.h>
#include <fmt/format.h>

#include <random>
#include <string>
#include <vector>

#include "scheduler/cycle/cycle.h"
#include "topology/fabric_tree.h"

namespace fairway::bench {
namespace {

constexpr const char* kBlock = "example.com/block";
constexpr const char* kSpine = "example.com/spine";
constexpr const char* kRack = "example.com/rack";

// 4 blocks × 8 spines per block × (nodes / 512) racks per spine × 16 nodes per rack.
Node fabric_node(int n) {
  Node node;
  node.name = fmt::format("node-{}", n);
  const int rack = n / 16;
  const int spine = rack / 8;
  node.labels = {{"kubernetes.io/hostname", node.name},
                 {"nvidia.com/gpu.product", "NVIDIA-H100-80GB-HBM3"},
                 {kRack, fmt::format("rack-{}", rack)},
                 {kSpine, fmt::format("spine-{}", spine)},
                 {kBlock, fmt::format("block-{}", spine / 8)}};
  node.allocatable = {
      {"cpu", 128'000}, {"memory", int64_t{1} << 40}, {"nvidia.com/gpu", 8'000}, {"pods", 110'000}};
  return node;
}

TopologySpec three_level_fabric() {
  return {"fabric", {{kBlock, 12.5}, {kSpine, 25.0}, {kRack, 50.0}}};
}

Pod gpu_pod(const std::string& name, int64_t gpus) {
  Pod pod;
  pod.namespace_ = "ml";
  pod.name = name;
  pod.uid = name;
  pod.scheduler_name = "fairway";
  Container container;
  container.name = "main";
  container.requests = {
      {"cpu", 8'000}, {"memory", int64_t{64} << 30}, {"nvidia.com/gpu", gpus * 1000}};
  pod.containers.push_back(std::move(container));
  return pod;
}

// 4,096 nodes; one in four runs something (1 to 8 GPUs), so racks differ in free capacity; one
// pending gang of 512 pods × 8 GPUs that prefers a rack and must relax to a block.
ClusterState gang_cluster(int nodes, const std::string& level_key, const std::string& level) {
  ClusterState state;
  state.upsert_topology(three_level_fabric());
  for (int n = 0; n < nodes; ++n) state.upsert_node(fabric_node(n));
  std::mt19937 rng(7);
  for (int n = 0; n < nodes; ++n) {
    if (rng() % 4 != 0) continue;
    Pod running = gpu_pod(fmt::format("run-{}", n), 1 + static_cast<int64_t>(rng() % 8));
    running.node_name = fmt::format("node-{}", n);
    running.phase = PodPhase::kRunning;
    state.upsert_pod(std::move(running));
  }
  for (int i = 0; i < 512; ++i) {
    Pod pod = gpu_pod(fmt::format("gang-{:03}", i), 8);
    pod.annotations = {
        {"fairway.dev/pod-group", "gang"}, {"fairway.dev/min-member", "512"}, {level_key, level}};
    state.upsert_pod(std::move(pod));
  }
  state.queue_tree();
  state.fabric("fabric");  // built once per node-set change, measured below
  return state;
}

void report(benchmark::State& bench, const CycleResult& last) {
  bench.counters["pods_bound"] = last.stats.pods_bound;
  bench.counters["nodes_evaluated"] = static_cast<double>(last.stats.nodes_evaluated);
  bench.counters["domain_trials"] = last.stats.topology_trials;
  if (!last.placements.empty() && last.placements.front().bottleneck_gbps) {
    bench.counters["bottleneck_gbps"] = *last.placements.front().bottleneck_gbps;
  }
}

// A whole cycle that places the gang (fair share, order, topology, nodes, GPU sets).
void BM_PlaceGang512(benchmark::State& bench) {
  ClusterState state =
      gang_cluster(static_cast<int>(bench.range(0)), "fairway.dev/topology-preferred-level", kRack);
  CycleResult last;
  for (auto _ : bench) {
    last = run_cycle(state);
    benchmark::DoNotOptimize(last.bindings.data());
  }
  report(bench, last);
}
BENCHMARK(BM_PlaceGang512)->Arg(4'096)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_PlaceGang512RequiredBlock(benchmark::State& bench) {
  ClusterState state =
      gang_cluster(static_cast<int>(bench.range(0)), "fairway.dev/topology-required-level", kBlock);
  CycleResult last;
  for (auto _ : bench) {
    last = run_cycle(state);
    benchmark::DoNotOptimize(last.bindings.data());
  }
  report(bench, last);
}
BENCHMARK(BM_PlaceGang512RequiredBlock)->Arg(4'096)->Unit(benchmark::kMillisecond)->UseRealTime();

// Rebuilding the level tree after a node-set change.
void BM_FabricRebuild(benchmark::State& bench) {
  std::vector<Node> nodes;
  for (int n = 0; n < bench.range(0); ++n) nodes.push_back(fabric_node(n));
  std::vector<const LabelMap*> labels;
  for (const Node& node : nodes) labels.push_back(&node.labels);
  const TopologySpec spec = three_level_fabric();
  size_t domains = 0;
  for (auto _ : bench) {
    const FabricTree tree = FabricTree::build(spec, labels);
    domains = tree.domains(2).size();
    benchmark::DoNotOptimize(domains);
  }
  bench.counters["racks"] = static_cast<double>(domains);
}
BENCHMARK(BM_FabricRebuild)->Arg(4'096)->Arg(10'000)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace fairway::bench
