// GPU use against allocation (docs/utilization.md), on BM_FullCycle's cluster (10,000 nodes,
// 100,000 running pods, about a third of them holding GPUs): what the loop pays per refresh
// (BM_UtilizationReport, on the loop thread: every GPU pod's summary joined with the state, per
// queue and idle list) and per poll (BM_UtilizationSamples, on the poller's thread: one instant
// of every GPU added, the window pruned, every pod summarized over an hour of samples).
// Run: build/benchmarks/utilization_bench
#include <benchmark/benchmark.h>

#include "benchmarks/synthetic_cluster.h"
#include "scheduler/cycle/cycle.h"
#include "scheduler/utilization/gpu_utilization.h"

namespace fairway::bench {
namespace {

constexpr WallMs kStart = 1'800'000'000'000;
constexpr WallMs kPeriod = 30'000;  // --utilization-period's default
constexpr int kInstants = 120;      // an hour (--utilization-window's default) of polls

ClusterShape shape() {
  ClusterShape s;
  s.nodes = 10'000;
  s.running_pods = 100'000;
  s.pending_pods = 20'000;
  return s;
}

// One sample per GPU of every bound GPU pod at `at`; one pod in eight idle.
void add_instant(const ClusterState& state, UtilizationTracker& tracker, WallMs at) {
  for (const PodRecord& record : state.pods()) {
    if (!record.counted_bound || record.requests[kGpu] <= 0) continue;
    const std::string key = record.pod.namespace_ + "/" + record.pod.name;
    const bool idle = std::hash<std::string>{}(key) % 8 == 0;
    for (int64_t gpu = 0; gpu < record.requests[kGpu] / 1000; ++gpu) {
      GpuSample sample;
      sample.pod = key;
      sample.gpu = "GPU-" + std::to_string(gpu);
      sample.at = at;
      sample.utilization_percent = idle ? 0.0 : 70.0;
      tracker.add(sample);
    }
  }
}

void BM_UtilizationReport(benchmark::State& bench) {
  const ClusterState cluster = make_cluster(shape());
  UtilizationTracker tracker;
  for (int i = 0; i < kInstants; ++i) add_instant(cluster, tracker, kStart + i * kPeriod);
  const WallMs now = kStart + (kInstants - 1) * kPeriod;
  const PodUtilizations pods = tracker.summaries();
  UtilizationReport report;
  for (auto _ : bench) {
    report = utilization_report(cluster, pods, tracker.config(), now);
    benchmark::DoNotOptimize(report.idle.data());
  }
  bench.counters["pods_measured"] = static_cast<double>(pods.size());
  bench.counters["idle_pods"] = static_cast<double>(report.idle.size());
  bench.counters["queues"] = static_cast<double>(report.queues.size());
}
BENCHMARK(BM_UtilizationReport)
    ->Unit(benchmark::kMillisecond)
    ->MeasureProcessCPUTime()
    ->UseRealTime();

void BM_UtilizationSamples(benchmark::State& bench) {
  const ClusterState cluster = make_cluster(shape());
  UtilizationTracker tracker;
  WallMs at = kStart;
  for (int i = 0; i < kInstants; ++i, at += kPeriod) add_instant(cluster, tracker, at);
  size_t summarized = 0;
  for (auto _ : bench) {
    add_instant(cluster, tracker, at);
    tracker.prune(at);
    summarized = tracker.summaries().size();
    at += kPeriod;
  }
  bench.counters["pods_summarized"] = static_cast<double>(summarized);
}
BENCHMARK(BM_UtilizationSamples)
    ->Unit(benchmark::kMillisecond)
    ->MeasureProcessCPUTime()
    ->UseRealTime();

}  // namespace
}  // namespace fairway::bench
