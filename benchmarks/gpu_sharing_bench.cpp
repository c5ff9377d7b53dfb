// Fractional GPU placement (issue bar: 10,000 fractional pods onto 1,000 GPUs in-process
// ≤ 100 ms). 125 nodes × 8 GPUs of 80 GiB; pods ask for a tenth of a GPU or for 8000 MiB, so the
// backlog exactly fills every GPU: each GPU is split once and then packed by nine more pods.
// Run: build/benchmarks/gpu_sharing_bench
#include <benchmark/benchmark.h>

#include <set>
#include <string>

#include "scheduler/cycle/cycle.h"

namespace fairway::bench {
namespace {

constexpr int kGpusPerNode = 8;

ClusterState sharing_cluster(int gpus, int pods, bool by_memory) {
  ClusterState state;
  for (int n = 0; n < gpus / kGpusPerNode; ++n) {
    Node node;
    node.name = "node-" + std::to_string(n);
    node.labels["kubernetes.io/hostname"] = node.name;
    node.labels["nvidia.com/gpu.memory"] = "81920";
    node.allocatable = {{"cpu", 128'000},
                        {"memory", int64_t{1} << 40},
                        {"pods", 250'000},
                        {"nvidia.com/gpu", kGpusPerNode * 1000}};
    state.upsert_node(std::move(node));
  }
  for (int i = 0; i < pods; ++i) {
    Pod pod;
    pod.namespace_ = "team-" + std::to_string(i % 10);
    pod.name = "infer-" + std::to_string(i);
    pod.uid = "uid-" + std::to_string(i);
    pod.scheduler_name = "fairway";
    pod.creation_ms = i;
    pod.labels["fairway.dev/queue"] = "default";
    if (by_memory) {
      pod.annotations["fairway.dev/gpu-memory"] = "8192";
    } else {
      pod.annotations["fairway.dev/gpu-fraction"] = "0.1";
    }
    Container container;
    container.name = "main";
    container.requests = {{"cpu", 500}, {"memory", int64_t{1} << 30}};
    pod.containers.push_back(std::move(container));
    state.upsert_pod(std::move(pod));
  }
  state.queue_tree();
  return state;
}

// One cycle placing the whole backlog (decisions not assumed: every iteration does the same).
void BM_FractionalCycle(benchmark::State& bench) {
  const auto gpus = static_cast<int>(bench.range(0));
  ClusterState state = sharing_cluster(gpus, gpus * 10, bench.range(1) != 0);
  CycleResult last;
  for (auto _ : bench) {
    last = run_cycle(state);
    benchmark::DoNotOptimize(last.bindings.data());
  }
  std::set<std::string> groups;
  for (const Binding& binding : last.bindings) groups.insert(binding.shares.at(0).group);
  bench.counters["pods_bound"] = last.stats.pods_bound;
  bench.counters["pending_jobs"] = static_cast<double>(last.pending.size());
  bench.counters["shared_gpus"] = static_cast<double>(groups.size());
}
BENCHMARK(BM_FractionalCycle)
    ->ArgNames({"gpus", "by_memory"})
    ->Args({1'000, 0})
    ->Args({1'000, 1})
    ->Unit(benchmark::kMillisecond)
    ->MeasureProcessCPUTime()
    ->UseRealTime();

}  // namespace
}  // namespace fairway::bench
