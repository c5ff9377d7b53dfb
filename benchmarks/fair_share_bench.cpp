// Fair-share recompute and DRF ordering at cluster scale.
//
// The tree is `fanout` roots × `fanout` children × 10 leaves (fanout 10: 1,000 leaf queues, 1,110
// queues in all) over 5 resources (cpu, memory, nvidia.com/gpu, pods, ephemeral-storage), with
// quotas, limits, priorities and weights set the way an admin would, and demand drawn from a fixed
// seed so every run measures the same work. Bar (DESIGN: queues issue): a full recompute of the
// 1,000-leaf tree in at most 5 ms.

#include <benchmark/benchmark.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "queues/drf_order.h"
#include "queues/fair_share.h"
#include "queues/queue_tree.h"

namespace fairway {
namespace {

constexpr int64_t kGi = int64_t{1} << 30;
constexpr int kLeavesPerTeam = 10;

struct Scenario {
  ResourceRegistry registry;
  QueueTree tree;
  ResourceVector capacity;
  std::vector<QueueUsage> usage;
};

Scenario make_scenario(int fanout) {
  Scenario s;
  std::mt19937_64 random(42);
  auto between = [&](int64_t lo, int64_t hi) {
    return std::uniform_int_distribution<int64_t>(lo, hi)(random);
  };

  // One 8-GPU node per 8 GPUs: 10 GPUs per leaf on average, so the cluster is oversubscribed
  // about 2x by demand, which is where fair share has work to do.
  const int64_t leaves = int64_t{fanout} * fanout * kLeavesPerTeam;
  const int64_t nodes = leaves * 10 / 8;
  const int64_t gpus = nodes * 8;
  std::vector<QueueSpec> specs;
  auto gpu_quota = [](int64_t whole) { return QueueResourceSpec{whole * 1000, std::nullopt, 1}; };
  for (int org = 0; org < fanout; ++org) {
    QueueSpec root;
    root.name = "org-" + std::to_string(org);
    root.resources["nvidia.com/gpu"] = gpu_quota(gpus / fanout * 6 / 10);  // 60% guaranteed
    root.resources["cpu"] = {nodes * 96'000 / fanout / 2, std::nullopt, 1};
    root.resources["memory"] = {nodes * 1024 * kGi / fanout / 2, std::nullopt, 1};
    specs.push_back(root);
    for (int team = 0; team < fanout; ++team) {
      QueueSpec mid;
      mid.name = root.name + "-team-" + std::to_string(team);
      mid.parent = root.name;
      mid.priority = team % 3 == 0 ? 50 : 0;
      mid.resources["nvidia.com/gpu"] = gpu_quota(gpus / fanout / fanout * 5 / 10);
      mid.resources["nvidia.com/gpu"].over_quota_weight = static_cast<double>(1 + team % 4);
      specs.push_back(mid);
      for (int leaf = 0; leaf < kLeavesPerTeam; ++leaf) {
        QueueSpec q;
        q.name = mid.name + "-q-" + std::to_string(leaf);
        q.parent = mid.name;
        q.priority = leaf == 0 ? 100 : 0;
        q.resources["nvidia.com/gpu"] = gpu_quota(between(0, 3));
        if (leaf % 4 == 1) q.resources["nvidia.com/gpu"].limit = between(8, 32) * 1000;
        q.resources["nvidia.com/gpu"].over_quota_weight = static_cast<double>(between(0, 4));
        q.resources["ephemeral-storage"] = {0, between(1, 4) * 1024 * kGi, 1};
        specs.push_back(q);
      }
    }
  }
  s.tree = QueueTree::build(specs, s.registry);
  s.capacity.set(kGpu, gpus * 1000);
  s.capacity.set(kCpu, nodes * 96'000);
  s.capacity.set(kMemory, nodes * 1024 * kGi);
  s.capacity.set(kPods, nodes * 110'000);
  s.capacity.set(kEphemeralStorage, nodes * 2048 * kGi);

  s.usage.resize(s.tree.size());
  for (QueueIndex q = 0; q < s.tree.size(); ++q) {
    if (!s.tree.node(q).is_leaf()) continue;
    if (between(0, 9) == 0) continue;  // some queues are idle
    const int64_t pods = between(1, 40);
    const int64_t gpus_each = between(0, 2);
    const int64_t running = between(0, pods);
    auto demand_of = [&](int64_t count) {
      ResourceVector v;
      v.set(kGpu, count * gpus_each * 1000);
      v.set(kCpu, count * 8'000);
      v.set(kMemory, count * 64 * kGi);
      v.set(kPods, count * 1000);
      v.set(kEphemeralStorage, count * 50 * kGi);
      return v;
    };
    s.usage[q].allocated = demand_of(running);
    s.usage[q].pending = demand_of(pods - running);
  }
  return s;
}

void BM_FairShareRecompute(benchmark::State& state) {
  const Scenario s = make_scenario(static_cast<int>(state.range(0)));
  for (auto _ : state) {
    FairShares shares = compute_fair_shares(s.tree, s.capacity, s.usage, s.registry.size());
    benchmark::DoNotOptimize(shares.fair_share.data());
  }
  state.counters["queues"] = static_cast<double>(s.tree.size());
  state.counters["resources"] = static_cast<double>(s.registry.size());
}
BENCHMARK(BM_FairShareRecompute)->Arg(5)->Arg(10)->Arg(20)->Arg(32)->Unit(benchmark::kMicrosecond);

void BM_QueueTreeBuild(benchmark::State& state) {
  const int fanout = static_cast<int>(state.range(0));
  Scenario s = make_scenario(fanout);
  // Rebuild from the same specs a Queue watch would hand over.
  std::vector<QueueSpec> specs;
  for (QueueIndex q = 0; q < s.tree.size(); ++q) {
    const QueueNode& node = s.tree.node(q);
    if (node.implicit) continue;
    QueueSpec spec;
    spec.name = node.name;
    spec.parent = node.parent == kNoQueue ? "" : s.tree.node(node.parent).name;
    spec.priority = node.priority;
    spec.resources["nvidia.com/gpu"] = {node.quota[kGpu], std::nullopt, node.weight_of(kGpu)};
    specs.push_back(std::move(spec));
  }
  for (auto _ : state) {
    ResourceRegistry registry;
    QueueTree tree = QueueTree::build(specs, registry);
    benchmark::DoNotOptimize(tree.size());
  }
  state.counters["queues"] = static_cast<double>(specs.size());
}
BENCHMARK(BM_QueueTreeBuild)->Arg(10)->Arg(32)->Unit(benchmark::kMicrosecond);

// One scheduling decision: pick the next queue, then charge it one pod (1 GPU, 8 cores, 64Gi).
// Every 8th pick also deactivates the queue for a while, as a cycle does when a queue's head job
// does not fit, so pick() sees a changing set of active leaves.
void BM_DrfPickAndCharge(benchmark::State& state) {
  const Scenario s = make_scenario(static_cast<int>(state.range(0)));
  const FairShares shares = compute_fair_shares(s.tree, s.capacity, s.usage, s.registry.size());
  ResourceVector pod;
  pod.set(kGpu, 1000);
  pod.set(kCpu, 8'000);
  pod.set(kMemory, 64 * kGi);
  pod.set(kPods, 1000);

  auto fresh_order = [&] {
    DrfOrder order(s.tree, shares);
    for (QueueIndex q = 0; q < s.tree.size(); ++q) {
      if (s.tree.node(q).is_leaf() && !s.usage[q].pending.is_zero()) order.set_active(q, true);
    }
    return order;
  };
  DrfOrder order = fresh_order();
  std::vector<QueueIndex> parked;
  uint64_t decisions = 0;
  for (auto _ : state) {
    auto picked = order.pick();
    if (!picked) {  // everything parked: reactivate, as the next cycle would
      for (QueueIndex q : parked) order.set_active(q, true);
      parked.clear();
      picked = order.pick();
    }
    order.charge(*picked, pod);
    if (++decisions % 8 == 0) {
      order.set_active(*picked, false);
      parked.push_back(*picked);
      if (parked.size() > 64) {
        order.set_active(parked.front(), true);
        parked.erase(parked.begin());
      }
    }
    benchmark::DoNotOptimize(picked);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_DrfPickAndCharge)->Arg(10)->Arg(32);

}  // namespace
}  // namespace fairway
