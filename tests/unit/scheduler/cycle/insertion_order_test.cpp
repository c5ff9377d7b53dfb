// The cycle's decisions do not depend on the order in which the watches delivered the objects:
// the same cluster built in shuffled orders binds the same pods, fills its nodes alike and
// explains the same pending jobs in the same words. (Building identical input in identical order
// twice could not catch an unordered container leaking into a decision.)
// Which of several interchangeable nodes a pod lands on may differ: among equal nodes the cycle
// takes the first in its free-GPU index, as kube-scheduler takes one of the best at random.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <set>
#include <variant>

#include "scheduler/cycle/cycle.h"
#include "support/builders.h"

namespace fairway {
namespace {

using testing::gang_pod;
using testing::gpu_node;
using testing::pod;
using testing::queue;

using Object = std::variant<QueueSpec, Node, Pod>;

Pod running_on(Pod p, std::string node) {
  p.node_name = std::move(node);
  p.phase = PodPhase::kRunning;
  return p;
}

// Ties everywhere: identical nodes, pods created in the same millisecond, queues of equal
// weight, two gangs that cannot both fit, pods that fit nowhere.
std::vector<Object> cluster() {
  std::vector<Object> objects;
  objects.emplace_back(queue("a", "", 8));
  objects.emplace_back(queue("b", "", 8));
  objects.emplace_back(queue("c", "", 0));
  for (int n = 0; n < 6; ++n) objects.emplace_back(gpu_node("n" + std::to_string(n), 8));
  objects.emplace_back(running_on(pod("ns", "held-0", "b", {{"nvidia.com/gpu", "3"}}, 1), "n1"));
  objects.emplace_back(running_on(pod("ns", "held-1", "c", {{"nvidia.com/gpu", "5"}}, 1), "n4"));
  const char* sizes[] = {"1", "2", "1", "4", "8", "1", "2", "16"};
  for (int i = 0; i < 8; ++i) {
    const char* q = i % 3 == 0 ? "a" : i % 3 == 1 ? "b" : "c";
    objects.emplace_back(
        pod("ns", "single-" + std::to_string(i), q, {{"nvidia.com/gpu", sizes[i]}}, 10));
  }
  for (int i = 0; i < 4; ++i) {
    objects.emplace_back(
        gang_pod("ns", "ga-" + std::to_string(i), "a", "ga", 4, {{"nvidia.com/gpu", "4"}}, 10));
    objects.emplace_back(
        gang_pod("ns", "gb-" + std::to_string(i), "b", "gb", 4, {{"nvidia.com/gpu", "6"}}, 10));
  }
  return objects;
}

struct Outcome {
  std::set<std::string> bound;                     // pods
  std::multiset<int64_t> free_gpus;                // per node, after the cycle's bindings
  std::map<std::string, size_t> nodes_of_gang;     // how many nodes each bound gang spans
  std::map<std::string, std::string> pending_why;  // pending job → message
};

Outcome run(std::vector<Object> objects, unsigned seed) {
  if (seed != 0) std::shuffle(objects.begin(), objects.end(), std::mt19937(seed));
  std::map<std::string, int64_t> used;  // GPUs (milli) per node: running and just bound
  for (const Object& object : objects) {
    if (const Pod* p = std::get_if<Pod>(&object); p != nullptr && !p->node_name.empty()) {
      used[p->node_name] += p->containers.front().requests.at("nvidia.com/gpu");
    }
  }
  ClusterState state;
  for (Object& object : objects) {
    std::visit(
        [&](auto& o) {
          using T = std::decay_t<decltype(o)>;
          if constexpr (std::is_same_v<T, QueueSpec>) state.upsert_queue(std::move(o));
          if constexpr (std::is_same_v<T, Node>) state.upsert_node(std::move(o));
          if constexpr (std::is_same_v<T, Pod>) state.upsert_pod(std::move(o));
        },
        object);
  }
  const CycleResult result = run_cycle(state);
  Outcome outcome;
  std::map<std::string, std::set<std::string>> gang_nodes;
  for (const Binding& binding : result.bindings) {
    outcome.bound.insert(binding.pod);
    used[binding.node] += state.find_pod(binding.pod)->requests[kGpu];
    if (binding.job != binding.pod) gang_nodes[binding.job].insert(binding.node);
  }
  for (int n = 0; n < 6; ++n) outcome.free_gpus.insert(8000 - used["n" + std::to_string(n)]);
  for (const auto& [gang, nodes] : gang_nodes) outcome.nodes_of_gang[gang] = nodes.size();
  for (const PendingJob& job : result.pending) outcome.pending_why[job.job] = job.message;
  return outcome;
}

TEST(InsertionOrder, ShuffledWatchOrdersGiveTheSameCycle) {
  const Outcome reference = run(cluster(), 0);
  // Not a vacuous comparison: some pods bind, on more than one node, and some jobs wait.
  ASSERT_GE(reference.bound.size(), 6U);
  ASSERT_FALSE(reference.nodes_of_gang.empty());
  ASSERT_FALSE(reference.pending_why.empty());
  for (unsigned seed = 1; seed <= 20; ++seed) {
    const Outcome shuffled = run(cluster(), seed);
    EXPECT_EQ(shuffled.bound, reference.bound) << "seed " << seed;
    EXPECT_EQ(shuffled.free_gpus, reference.free_gpus) << "seed " << seed;
    EXPECT_EQ(shuffled.nodes_of_gang, reference.nodes_of_gang) << "seed " << seed;
    EXPECT_EQ(shuffled.pending_why, reference.pending_why) << "seed " << seed;
  }
}

}  // namespace
}  // namespace fairway
