// What-if on a snapshot (issue 20 bar: a 10,000-node snapshot replays in under 2 s): the
// BM_FullCycle cluster (10,000 nodes × 8 GPUs, 110,000 running and 20,000 pending pods, 1,110
// queues) written as a `fairway snapshot` document, then loaded and replayed as
// `fairway sim --snapshot` does: decoding every list into a ClusterState, one cycle, one
// preemption pass. Run: build/benchmarks/whatif_bench
#include <benchmark/benchmark.h>

#include <chrono>
#include <nlohmann/json.hpp>

#include "benchmarks/synthetic_cluster.h"
#include "sim/manifests.h"
#include "sim/whatif/replay.h"
#include "sim/whatif/snapshot.h"

namespace fairway::bench {
namespace {

// Collects the synthetic cluster's objects as the API server would list them.
struct SnapshotSink {
  nlohmann::json nodes = nlohmann::json::array();
  nlohmann::json pods = nlohmann::json::array();
  nlohmann::json queues = nlohmann::json::array();
  void upsert_node(const Node& node) { nodes.push_back(sim::node_manifest(node)); }
  void upsert_pod(const Pod& pod) { pods.push_back(sim::pod_manifest(pod)); }
  void upsert_queue(const QueueSpec& queue) { queues.push_back(sim::queue_manifest(queue)); }
};

std::string snapshot_of(const ClusterShape& shape) {
  SnapshotSink sink;
  make_objects(shape, sink);
  nlohmann::json document = {
      {"apiVersion", sim::kSnapshotApiVersion},    {"kind", sim::kSnapshotKind},
      {"takenAt", "2027-01-15T08:00:00Z"},         {"nodes", {{"items", std::move(sink.nodes)}}},
      {"pods", {{"items", std::move(sink.pods)}}}, {"queues", {{"items", std::move(sink.queues)}}}};
  return document.dump();
}

void BM_SnapshotReplay(benchmark::State& bench) {
  ClusterShape shape;
  shape.nodes = static_cast<int>(bench.range(0));
  shape.running_pods = shape.nodes * 10;
  shape.pending_pods = shape.nodes * 2;
  const std::string text = snapshot_of(shape);
  double load_s = 0;
  sim::ReplayOutcome decisions;
  for (auto _ : bench) {
    const auto start = std::chrono::steady_clock::now();
    ClusterState state;
    auto loaded = sim::load_snapshot(text, state);
    if (!loaded || !loaded->problems.empty()) {
      bench.SkipWithError("the snapshot did not load");
      return;
    }
    load_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    sim::ReplayOptions options;  // as `fairway sim --snapshot` runs it: the pass's real budget
    options.now_ms = 1'800'000'000'000;
    options.elapsed_ms = [start] {
      return std::chrono::duration_cast<std::chrono::milliseconds>(
                 std::chrono::steady_clock::now() - start)
          .count();
    };
    decisions = sim::replay(state, options);
    benchmark::DoNotOptimize(decisions.bindings.size());
  }
  bench.counters["snapshot_MB"] = static_cast<double>(text.size()) / 1e6;
  bench.counters["load_s"] = load_s;
  bench.counters["pods_bound"] = static_cast<double>(decisions.bindings.size());
  bench.counters["evictions"] = static_cast<double>(decisions.evictions.size());
  bench.counters["pass_out_of_time"] = decisions.pass_out_of_time ? 1 : 0;
}
BENCHMARK(BM_SnapshotReplay)
    ->Arg(1'000)
    ->Arg(10'000)
    ->Unit(benchmark::kMillisecond)
    ->MeasureProcessCPUTime()
    ->UseRealTime()
    ->Iterations(3);

}  // namespace
}  // namespace fairway::bench
