// DRA allocation at cluster scale: 1,000 nodes × 8 GPUs (two NVLink cliques of 4 per node) and
// 2,000 pending pods with one ResourceClaim each (1, 2 or 4 GPUs; the 4-GPU claims with
// matchAttribute on the clique), placed one after the other as a cycle would: each claim tries
// nodes from a rotating start until one can allocate it, and its devices are then allocated
// (BM_Dra*: the allocator alone). BM_CycleWithDra runs fairway's whole cycle on the same cluster
// (pods with claims, nodes without nvidia.com/gpu), beside BM_CycleWithoutDra: the same pods
// asking nvidia.com/gpu of nodes with 8 GPUs each.
#include <benchmark/benchmark.h>

#include <optional>
#include <string>
#include <vector>

#include "scheduler/cycle/cycle.h"
#include "scheduler/dra/allocator.h"

namespace fairway::dra {
namespace {

using fairway::ClusterState;
using fairway::Container;
using fairway::CycleResult;
using fairway::Node;
using fairway::Pod;

constexpr const char* kDriver = "gpu.example.com";

std::vector<ResourceSlice> cluster_slices(int nodes) {
  std::vector<ResourceSlice> slices;
  for (int n = 0; n < nodes; ++n) {
    ResourceSlice& slice = slices.emplace_back();
    const std::string node = "node-" + std::to_string(n);
    slice.name = node + "-gpus";
    slice.driver = kDriver;
    slice.pool = ResourcePool{node, 1, 1};
    slice.node_name = node;
    for (int i = 0; i < 8; ++i) {
      Device& device = slice.devices.emplace_back();
      device.name = "gpu-" + std::to_string(i);
      device.attributes = {
          {"gpu.example.com/model", AttributeValue{std::string("H100-SXM5-80GB")}},
          {"gpu.example.com/index", AttributeValue{int64_t{i}}},
          {"gpu.example.com/cliqueId", AttributeValue{node + "-" + std::to_string(i / 4)}},
      };
      device.capacity = {{"gpu.example.com/memory", Quantity{(int64_t{80} << 30) * 1000}}};
    }
  }
  return slices;
}

std::vector<ResourceClaim> pending_claims(int count) {
  std::vector<ResourceClaim> claims;
  for (int c = 0; c < count; ++c) {
    ResourceClaim& claim = claims.emplace_back();
    claim.namespace_ = "team";
    claim.name = "claim-" + std::to_string(c);
    const int64_t gpus = int64_t{1} << (c % 3);  // 1, 2, 4
    claim.spec.requests.push_back(DeviceRequest{
        "gpus",
        DeviceChoice{
            "gpu",
            {R"(device.capacity["gpu.example.com"].memory.compareTo(quantity("40Gi")) >= 0)"},
            AllocationMode::kExactCount,
            gpus,
            false},
        {}});
    if (gpus == 4) claim.spec.constraints.push_back({{}, "gpu.example.com/cliqueId"});
  }
  return claims;
}

// `feasible_to_find`: how many nodes that can take the claim the filter looks for before choosing
// (kube-scheduler stops at max(100, percentageOfNodesToScore) feasible nodes); 1 is first fit.
void run_cycle(benchmark::State& state, bool prefer_islands) {
  const int nodes = static_cast<int>(state.range(0));
  const int pods = static_cast<int>(state.range(1));
  const int feasible_to_find = static_cast<int>(state.range(2));
  const std::vector<ResourceSlice> slices = cluster_slices(nodes);
  const std::vector<ResourceClaim> claims = pending_claims(pods);
  const Allocator::Classes classes = {
      {"gpu", DeviceClass{"gpu", {R"(device.driver == "gpu.example.com")"}}}};
  std::vector<std::string> node_names;
  for (int n = 0; n < nodes; ++n) node_names.push_back("node-" + std::to_string(n));
  int64_t placed = 0, steps = 0, node_tries = 0;
  for (auto _ : state) {
    CelCache cel;
    DeviceSet allocated;
    const DevicePools pools(slices);
    AllocatorOptions options;
    if (prefer_islands) options.island_of = island_by_attribute("gpu.example.com/cliqueId");
    const Allocator allocator(pools, classes, allocated, cel, options);
    placed = steps = node_tries = 0;
    size_t start = 0;
    for (const ResourceClaim& claim : claims) {
      // Filter: nodes from a rotating start until enough are feasible; the fewest islands win.
      std::optional<PodAllocation> best;
      int feasible = 0;
      int tried = 0;
      for (; tried < nodes && feasible < feasible_to_find; ++tried) {
        const std::string& node = node_names[(start + tried) % node_names.size()];
        ++node_tries;
        auto result = allocator.allocate(node, nullptr, {&claim}, "pod");
        if (!result) continue;
        ++feasible;
        steps += result->steps;
        if (!best || result->islands < best->islands) best = std::move(*result);
      }
      start = (start + tried) % node_names.size();
      if (!best) continue;
      for (const auto& d : best->results[0].devices) allocated.insert({d.driver, d.pool, d.device});
      ++placed;
    }
    benchmark::DoNotOptimize(allocated);
  }
  state.counters["claims_placed"] = static_cast<double>(placed);
  state.counters["node_tries"] = static_cast<double>(node_tries);
  state.counters["steps"] = static_cast<double>(steps);
}

void BM_DraCycleFirstFit(benchmark::State& state) {
  run_cycle(state, false);
}
void BM_DraCycleIslandPreference(benchmark::State& state) {
  run_cycle(state, true);
}

BENCHMARK(BM_DraCycleFirstFit)->Args({1000, 2000, 1})->Unit(benchmark::kMillisecond);
BENCHMARK(BM_DraCycleIslandPreference)->Args({1000, 2000, 1})->Unit(benchmark::kMillisecond);
BENCHMARK(BM_DraCycleIslandPreference)
    ->Args({1000, 2000, 100})
    ->Unit(benchmark::kMillisecond)
    ->Iterations(1);

void BM_DevicePoolsBuild(benchmark::State& state) {
  const std::vector<ResourceSlice> slices = cluster_slices(static_cast<int>(state.range(0)));
  for (auto _ : state) {
    DevicePools pools(slices);
    benchmark::DoNotOptimize(pools);
  }
}
BENCHMARK(BM_DevicePoolsBuild)->Arg(1000)->Unit(benchmark::kMillisecond);

// One cycle of fairway's scheduler over `nodes` nodes and `pods` pending pods of 1, 2 or 4
// GPUs: through ResourceClaims (with_dra) or as nvidia.com/gpu.
void run_fairway_cycle(benchmark::State& state, bool with_dra) {
  const int nodes = static_cast<int>(state.range(0));
  const int pods = static_cast<int>(state.range(1));
  ClusterState cluster;
  for (int n = 0; n < nodes; ++n) {
    Node node;
    node.name = "node-" + std::to_string(n);
    node.labels["kubernetes.io/hostname"] = node.name;
    node.allocatable = {{"cpu", 64'000}, {"memory", int64_t{512} << 30}, {"pods", 110'000}};
    if (!with_dra) node.allocatable["nvidia.com/gpu"] = 8'000;
    cluster.upsert_node(std::move(node));
  }
  if (with_dra) {
    for (ResourceSlice& slice : cluster_slices(nodes)) cluster.upsert_resource_slice(slice);
    cluster.upsert_device_class(DeviceClass{"gpu", {R"(device.driver == "gpu.example.com")"}});
  }
  std::vector<ResourceClaim> claims = pending_claims(pods);
  for (int p = 0; p < pods; ++p) {
    Pod pod;
    pod.namespace_ = "team";
    pod.name = "pod-" + std::to_string(p);
    pod.uid = "uid-" + std::to_string(p);
    pod.scheduler_name = "fairway";
    pod.creation_ms = p;
    Container container;
    container.name = "main";
    container.requests = {{"cpu", 1'000}};
    const int64_t gpus = claims[static_cast<size_t>(p)].spec.requests[0].exactly->count;
    if (with_dra) {
      pod.resource_claims.push_back({"gpus", claims[static_cast<size_t>(p)].name, ""});
      cluster.upsert_resource_claim(claims[static_cast<size_t>(p)]);
    } else {
      container.requests["nvidia.com/gpu"] = gpus * 1000;
    }
    pod.containers.push_back(std::move(container));
    cluster.upsert_pod(std::move(pod));
  }
  size_t bound = 0;
  for (auto _ : state) {
    const CycleResult result = run_cycle(cluster);
    bound = result.bindings.size();
    benchmark::DoNotOptimize(result);
  }
  state.counters["pods_bound"] = static_cast<double>(bound);
}

void BM_CycleWithDra(benchmark::State& state) {
  run_fairway_cycle(state, true);
}
void BM_CycleWithoutDra(benchmark::State& state) {
  run_fairway_cycle(state, false);
}
BENCHMARK(BM_CycleWithoutDra)->Args({1000, 2000})->Unit(benchmark::kMillisecond);
BENCHMARK(BM_CycleWithDra)->Args({1000, 2000})->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace fairway::dra
