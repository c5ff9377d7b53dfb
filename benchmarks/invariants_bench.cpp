// The independent invariant checker (sim/invariants) on a snapshot the size of a large cluster:
// how often the soak test can afford to check. N nodes × 8 GPUs, 10·N pods (3/4 bound, gangs of
// 8 among them), 20 queues with limits. The checker decodes nothing itself (the snapshot is
// already JSON); this is the cost of the checks and of the kubelet arithmetic per pod.

#include <benchmark/benchmark.h>
#include <fmt/format.h>

#include "sim/invariants/invariants.h"

namespace fairway::invariants {
namespace {

Snapshot make_snapshot(int nodes) {
  Snapshot s;
  s.taken_ms = 1000;
  for (int n = 0; n < nodes; ++n) {
    s.nodes.push_back(
        {{"metadata",
          {{"name", fmt::format("node-{}", n)},
           {"labels", {{"rack", fmt::format("r{}", n / 16)}}}}},
         {"status",
          {{"allocatable",
            {{"cpu", "128"}, {"memory", "1Ti"}, {"nvidia.com/gpu", "8"}, {"pods", "110"}}},
           {"conditions", {{{"type", "Ready"}, {"status", "True"}}}}}}});
  }
  for (int q = 0; q < 20; ++q) {
    s.queues.push_back(
        {{"metadata", {{"name", fmt::format("q{}", q)}}},
         {"spec", {{"resources", {{"nvidia.com/gpu", {{"quota", "100"}, {"limit", "100000"}}}}}}}});
  }
  const int pods = nodes * 10;
  for (int i = 0; i < pods; ++i) {
    const bool bound = i % 4 != 0;
    nlohmann::json metadata = {{"namespace", fmt::format("team-{}", i % 40)},
                               {"name", fmt::format("pod-{}", i)},
                               {"uid", fmt::format("uid-{}", i)},
                               {"labels", {{"fairway.dev/queue", fmt::format("q{}", i % 20)}}}};
    if (i % 5 == 0) {
      metadata["annotations"] = {{"fairway.dev/pod-group", fmt::format("g{}", i / 40)},
                                 {"fairway.dev/min-member", "8"}};
    }
    nlohmann::json pod = {{"metadata", metadata},
                          {"spec",
                           {{"schedulerName", "fairway"},
                            {"containers",
                             {{{"name", "main"},
                               {"resources",
                                {{"requests", {{"cpu", "1"}, {"memory", "8Gi"}}},
                                 {"limits", {{"nvidia.com/gpu", i % 8 == 0 ? "1" : "0"}}}}}}}}}},
                          {"status", {{"phase", bound ? "Running" : "Pending"}}}};
    if (bound) pod["spec"]["nodeName"] = fmt::format("node-{}", i % nodes);
    s.pods.push_back(std::move(pod));
  }
  return s;
}

void BM_CheckSnapshot(benchmark::State& state) {
  const Snapshot snapshot = make_snapshot(static_cast<int>(state.range(0)));
  Checker checker;
  size_t violations = 0;
  for (auto _ : state) {
    violations = checker.check(snapshot).size();
    benchmark::DoNotOptimize(violations);
  }
  state.counters["pods"] = static_cast<double>(snapshot.pods.size());
  state.counters["violations"] = static_cast<double>(violations);
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * snapshot.pods.size()));
}
BENCHMARK(BM_CheckSnapshot)->Arg(500)->Arg(5000)->Unit(benchmark::kMillisecond);

void BM_PendingFeasible(benchmark::State& state) {
  const Snapshot snapshot = make_snapshot(static_cast<int>(state.range(0)));
  Checker checker;
  for (auto _ : state) benchmark::DoNotOptimize(checker.pending_feasible(snapshot));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * snapshot.pods.size()));
}
BENCHMARK(BM_PendingFeasible)->Arg(500)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace fairway::invariants
