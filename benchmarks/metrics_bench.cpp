// The cost of exposing metrics, measured against the scheduling cycle on cycle_bench's synthetic
// cluster (benchmarks/synthetic_cluster.h). The bar: metrics cost at most 1% of a cycle at
// 10,000 nodes.
//   BM_CycleBaseline          a full cycle, as BM_FullCycle in cycle_bench
//   BM_CycleTimedWithMetrics  the same cycle with the phase clock injected and observe_cycle
//                             after it: what the scheduling loop does every cycle
//   BM_ObserveCycle           observe_cycle alone (counters and histograms)
//   BM_TakeSnapshot           the loop thread's share of a scrape (queues, nodes, GPU totals)
//   BM_RenderScrape           the HTTP thread's share: families + text (does not block the loop)
#include <benchmark/benchmark.h>

#include <chrono>

#include "benchmarks/synthetic_cluster.h"
#include "scheduler/cycle/cycle.h"
#include "scheduler/metrics/cluster_snapshot.h"
#include "scheduler/metrics/scheduler_metrics.h"

namespace fairway::bench {
namespace {

ClusterShape scaled(int64_t nodes) {
  ClusterShape shape;
  shape.nodes = static_cast<int>(nodes);
  shape.running_pods = static_cast<int>(nodes * 10);
  shape.pending_pods = static_cast<int>(nodes * 2);
  return shape;
}

int64_t now_ns() {
  return std::chrono::steady_clock::now().time_since_epoch().count();
}

void BM_CycleBaseline(benchmark::State& bench) {
  ClusterState cluster = make_cluster(scaled(bench.range(0)));
  cluster.queue_tree();
  for (auto _ : bench) {
    CycleResult result = run_cycle(cluster);
    benchmark::DoNotOptimize(result.bindings.data());
  }
}
BENCHMARK(BM_CycleBaseline)
    ->Arg(10'000)
    ->Unit(benchmark::kMillisecond)
    ->MeasureProcessCPUTime()
    ->UseRealTime();

void BM_CycleTimedWithMetrics(benchmark::State& bench) {
  ClusterState cluster = make_cluster(scaled(bench.range(0)));
  cluster.queue_tree();
  metrics::SchedulerMetrics metrics;
  CycleOptions options;
  options.clock_ns = now_ns;
  for (auto _ : bench) {
    CycleResult result = run_cycle(cluster, options);
    metrics.observe_cycle(result, {.snapshot = std::chrono::nanoseconds(0),
                                   .fairshare = std::chrono::nanoseconds(result.stats.fairshare_ns),
                                   .allocate = std::chrono::nanoseconds(result.stats.allocate_ns),
                                   .bind = std::chrono::nanoseconds(0)});
    benchmark::DoNotOptimize(result.bindings.data());
  }
}
BENCHMARK(BM_CycleTimedWithMetrics)
    ->Arg(10'000)
    ->Unit(benchmark::kMillisecond)
    ->MeasureProcessCPUTime()
    ->UseRealTime();

void BM_ObserveCycle(benchmark::State& bench) {
  ClusterState cluster = make_cluster(scaled(bench.range(0)));
  const CycleResult result = run_cycle(cluster);
  metrics::SchedulerMetrics metrics;
  const metrics::CyclePhases phases{.snapshot = std::chrono::microseconds(300),
                                    .fairshare = std::chrono::microseconds(150),
                                    .allocate = std::chrono::milliseconds(35),
                                    .bind = std::chrono::microseconds(900)};
  for (auto _ : bench) metrics.observe_cycle(result, phases);
  bench.counters["jobs_pending"] = static_cast<double>(result.pending.size());
}
BENCHMARK(BM_ObserveCycle)->Arg(10'000)->Unit(benchmark::kMicrosecond);

void BM_TakeSnapshot(benchmark::State& bench) {
  ClusterState cluster = make_cluster(scaled(bench.range(0)));
  const bool per_node = bench.range(1) != 0;
  size_t series = 0;
  for (auto _ : bench) {
    metrics::ClusterSnapshot snapshot = metrics::take_snapshot(cluster, per_node);
    series = snapshot.queues.size() + snapshot.nodes.size();
    benchmark::DoNotOptimize(snapshot.queues.data());
  }
  bench.counters["queues_plus_nodes"] = static_cast<double>(series);
}
BENCHMARK(BM_TakeSnapshot)->Args({10'000, 1})->Args({10'000, 0})->Unit(benchmark::kMillisecond);

void BM_RenderScrape(benchmark::State& bench) {
  ClusterState cluster = make_cluster(scaled(bench.range(0)));
  const metrics::ClusterSnapshot snapshot = metrics::take_snapshot(cluster, bench.range(1) != 0);
  metrics::SchedulerMetrics metrics;
  size_t bytes = 0;
  for (auto _ : bench) {
    const std::string text = metrics.scrape(metrics::snapshot_families(snapshot));
    bytes = text.size();
    benchmark::DoNotOptimize(text.data());
  }
  bench.counters["bytes"] = static_cast<double>(bytes);
}
BENCHMARK(BM_RenderScrape)->Args({10'000, 1})->Args({10'000, 0})->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace fairway::bench
