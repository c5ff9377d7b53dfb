// Preemption pass benchmarks (issue bar: a reclaim decision for a 2,000-GPU gang on 1,000 nodes
// ≤ 1 s in-process; KAI Scheduler's published reclaim benchmark took 76 s at 1,000 nodes).
// Run: build/benchmarks/preemption_bench
//
// The cluster: N nodes × 8 GPUs, full. Queue "hog" (quota half the cluster) runs everything;
// queue "starved" (quota the other half) has one pending gang of 250 pods × 8 GPUs = 2,000 GPUs
// (minMember 250). The pass must find victims in hog that free 250 whole nodes without pushing
// hog below its fair share, and simulate the gang's placement. Two shapes of victims:
//   /8: hog runs one 8-GPU pod per node (training jobs);
//   /1: hog runs eight 1-GPU pods per node (the planner must free whole nodes out of small pods).
// Pods on later nodes are younger, so "least run time lost first" picks whole nodes; the arg
// after the node count is the GPUs per victim pod.
#include <benchmark/benchmark.h>

#include "benchmarks/synthetic_cluster.h"
#include "scheduler/planner/planner.h"

namespace fairway::bench {
namespace {

constexpr TimeMs kNow = 1'700'000'000'000;

// `shuffled`: victims' ages are random, so the youngest pods are spread over all nodes.
ClusterState reclaim_cluster(int nodes, int victim_gpus, int gang_pods, bool shuffled = false) {
  std::mt19937 random(42);
  ClusterState state;
  ClusterShape shape;
  shape.nodes = nodes;
  add_nodes(state, shape);
  const int64_t half = int64_t{nodes} * shape.gpus_per_node * 1000 / 2;
  for (const char* name : {"hog", "starved"}) {
    QueueSpec q;
    q.name = name;
    q.resources["nvidia.com/gpu"].quota = half;
    state.upsert_queue(q);
  }
  const int per_node = shape.gpus_per_node / victim_gpus;
  for (int n = 0; n < nodes; ++n) {
    for (int k = 0; k < per_node; ++k) {
      Pod pod = make_pod("hog-" + std::to_string(n) + "-" + std::to_string(k), "hog", victim_gpus,
                         1000, int64_t{8} << 30,
                         kNow - 3'600'000 + (shuffled ? static_cast<int>(random() % 100'000) : n));
      pod.node_name = "node-" + std::to_string(n);
      pod.phase = PodPhase::kRunning;
      state.upsert_pod(std::move(pod));
    }
  }
  for (int i = 0; i < gang_pods; ++i) {
    Pod pod = make_pod("gang-" + std::to_string(i), "starved", 8, 1000, int64_t{8} << 30, kNow);
    pod.annotations["fairway.dev/pod-group"] = "big";
    pod.annotations["fairway.dev/min-member"] = std::to_string(gang_pods);
    state.upsert_pod(std::move(pod));
  }
  state.queue_tree();
  return state;
}

void BM_ReclaimGang(benchmark::State& bench) {
  const auto nodes = static_cast<int>(bench.range(0));
  const auto victim_gpus = static_cast<int>(bench.range(1));
  constexpr int kGangPods = 250;  // × 8 GPUs = 2,000 GPUs
  ClusterState state = reclaim_cluster(nodes, victim_gpus, kGangPods, bench.range(2) != 0);
  PreemptionMemory memory;
  PlannerOptions options;
  options.time_budget_ms = 60'000;  // measure the work, not the budget
  const std::function<TimeMs()> clock = [] { return kNow; };
  PlanResult last;
  for (auto _ : bench) {
    last = plan_preemptions(state, memory, options, clock);
    benchmark::DoNotOptimize(last.plans.data());
  }
  if (last.plans.size() != 1 || last.plans[0].placements.size() != kGangPods) {
    bench.SkipWithError("the gang was not placed");
    return;
  }
  bench.counters["victims"] = static_cast<double>(last.plans[0].victims.size());
  bench.counters["simulations"] = last.stats.simulations;
}
BENCHMARK(BM_ReclaimGang)
    ->Args({1'000, 8, 0})
    ->Args({1'000, 1, 0})
    ->Args({1'000, 1, 1})
    ->Unit(benchmark::kMillisecond);

// One single-GPU pod reclaiming one GPU on a full cluster: the common case, the in-process part
// of the "decision to eviction request" figure.
void BM_ReclaimOneGpu(benchmark::State& bench) {
  const auto nodes = static_cast<int>(bench.range(0));
  ClusterState state = reclaim_cluster(nodes, 1, 0);
  state.upsert_pod(make_pod("one", "starved", 1, 1000, int64_t{8} << 30, kNow));
  PreemptionMemory memory;
  PlannerOptions options;
  const std::function<TimeMs()> clock = [] { return kNow; };
  PlanResult last;
  for (auto _ : bench) {
    last = plan_preemptions(state, memory, options, clock);
    benchmark::DoNotOptimize(last.plans.data());
  }
  if (last.plans.size() != 1) bench.SkipWithError("no plan");
}
BENCHMARK(BM_ReclaimOneGpu)->Arg(1'000)->Unit(benchmark::kMillisecond);

// A whole pass over the cycle benchmark's busy cluster (N nodes, 11·N running pods, 2·N pending in
// 1,000 leaf queues, quotas everywhere): what the loop thread spends between two cycles when many
// jobs wait. Bounded in the service by the pass's budget (250 ms); here the budget is lifted.
void BM_PassOnBusyCluster(benchmark::State& bench) {
  ClusterShape shape;
  shape.nodes = static_cast<int>(bench.range(0));
  shape.running_pods = shape.nodes * 10;
  shape.pending_pods = shape.nodes * 2;
  ClusterState state = make_cluster(shape);
  state.queue_tree();
  PreemptionMemory memory;
  PlannerOptions options;
  options.time_budget_ms = 600'000;
  const std::function<TimeMs()> clock = [] { return kNow; };
  PlanResult last;
  for (auto _ : bench) {
    last = plan_preemptions(state, memory, options, clock);
    benchmark::DoNotOptimize(last.plans.data());
  }
  size_t victims = 0;
  for (const PreemptionPlan& plan : last.plans) victims += plan.victims.size();
  bench.counters["preemptors"] = last.stats.preemptors_considered;
  bench.counters["plans"] = static_cast<double>(last.plans.size());
  bench.counters["victims"] = static_cast<double>(victims);
  bench.counters["simulations"] = last.stats.simulations;
}
BENCHMARK(BM_PassOnBusyCluster)->Arg(1'000)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace fairway::bench
