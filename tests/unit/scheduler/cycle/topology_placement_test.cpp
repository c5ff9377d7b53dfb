// Scenario tests for topology-aware gang placement (issue 4): NVLink islands inside a node, the
// fabric tree between nodes, best fit, relaxation, and what a gang that cannot fit says.
#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "scheduler/cycle/cycle.h"
#include "support/builders.h"

namespace fairway {
namespace {

using ::testing::ElementsAre;
using testing::gang_pod;
using testing::gpu_node;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using testing::pod;
using ::testing::SizeIs;

constexpr const char* kSpine = "example.com/spine";
constexpr const char* kRack = "example.com/rack";
constexpr const char* kClique = "nvidia.com/gpu.clique";

Node labelled(std::string name, int gpus, std::string product,
              std::map<std::string, std::string> labels = {}) {
  Node node = gpu_node(std::move(name), gpus);
  node.labels["nvidia.com/gpu.product"] = std::move(product);
  node.labels["nvidia.com/gpu.count"] = std::to_string(gpus);
  for (auto& [key, value] : labels) node.labels[key] = value;
  return node;
}

Node hgx(std::string name, std::map<std::string, std::string> labels = {}) {
  return labelled(std::move(name), 8, "NVIDIA-H100-80GB-HBM3", std::move(labels));
}

TopologySpec fabric(std::vector<TopologyLevel> levels, std::string name = "fabric") {
  return {std::move(name), std::move(levels)};
}

void run_on(ClusterState& state, const std::string& node, int gpus, const std::string& name) {
  Pod running = pod("busy", name, "", {{"nvidia.com/gpu", std::to_string(gpus)}});
  running.node_name = node;
  running.phase = PodPhase::kRunning;
  state.upsert_pod(running);
}

void add_gang(ClusterState& state, const std::string& group, int pods, int gpus_each,
              std::map<std::string, std::string> annotations = {}, TimeMs created = 0) {
  for (int i = 0; i < pods; ++i) {
    Pod p = gang_pod("ml", fmt::format("{}-{:03}", group, i), "", group, pods,
                     {{"nvidia.com/gpu", std::to_string(gpus_each)}}, created);
    for (const auto& [key, value] : annotations) p.annotations[key] = value;
    state.upsert_pod(p);
  }
}

std::vector<const Binding*> bindings_of(const CycleResult& result, const std::string& job) {
  std::vector<const Binding*> out;
  for (const Binding& b : result.bindings) {
    if (b.job == job) out.push_back(&b);
  }
  return out;
}

std::set<std::string> label_values(const ClusterState& state, const CycleResult& result,
                                   const std::string& job, const std::string& label) {
  std::set<std::string> values;
  for (const Binding* b : bindings_of(result, job)) {
    const Node& node = state.find_node(b->node)->node;
    auto it = node.labels.find(label);
    values.insert(it == node.labels.end() ? "<none>" : it->second);
  }
  return values;
}

const PendingJob* pending_job(const CycleResult& result, const std::string& job) {
  for (const PendingJob& p : result.pending) {
    if (p.job == job) return &p;
  }
  return nullptr;
}

const PlacementQuality* quality_of(const CycleResult& result, const std::string& job) {
  for (const PlacementQuality& q : result.placements) {
    if (q.job == job) return &q;
  }
  return nullptr;
}

// A fabric of `spines` × `racks` × `nodes` HGX nodes named s{i}-r{j}-n{k}, racks r-{i}-{j}.
void add_fabric(ClusterState& state, int spines, int racks, int nodes) {
  for (int s = 0; s < spines; ++s) {
    for (int r = 0; r < racks; ++r) {
      for (int n = 0; n < nodes; ++n) {
        state.upsert_node(
            hgx(fmt::format("s{}-r{}-n{}", s, r, n),
                {{kSpine, fmt::format("s-{}", s)}, {kRack, fmt::format("r-{}-{}", s, r)}}));
      }
    }
  }
}

// ------------------------------------------------------------------------------ inside a node

TEST(TopologyPlacement, EightGpuPodGoesToTheHgxNodeNotAPcieNode) {
  ClusterState state;
  state.upsert_node(labelled("pcie-a", 8, "NVIDIA-L40S"));
  state.upsert_node(hgx("hgx"));
  state.upsert_node(labelled("pcie-b", 8, "NVIDIA-L40S"));
  state.upsert_pod(pod("ml", "train", "", {{"nvidia.com/gpu", "8"}}));
  state.upsert_pod(pod("ml", "second", "", {{"nvidia.com/gpu", "8"}}, 1));

  const CycleResult result = run_cycle(state);
  ASSERT_THAT(result.bindings, SizeIs(2));
  const Binding* train = bindings_of(result, "ml/train").front();
  EXPECT_EQ(train->node, "hgx");
  EXPECT_THAT(train->gpus, ElementsAre(0, 1, 2, 3, 4, 5, 6, 7));
  const PlacementQuality* on_hgx = quality_of(result, "ml/train");
  ASSERT_NE(on_hgx, nullptr);
  EXPECT_EQ(on_hgx->common_level, "kubernetes.io/hostname");
  EXPECT_EQ(on_hgx->bottleneck_gbps, 900);
  // The next one only has PCIe left, and its quality says so.
  EXPECT_THAT(bindings_of(result, "ml/second").front()->node, HasSubstr("pcie"));
  EXPECT_EQ(quality_of(result, "ml/second")->bottleneck_gbps, 32);
}

TEST(TopologyPlacement, TwoGpuPodPrefersAFreeNvLinkPairOverATighterSplitNode) {
  ClusterState state;
  // "nvl": H100 NVL, 4 GPUs bridged in pairs; one pair half used → 3 free but no whole pair
  // would remain if GPUs were split. "nvl-free" has both pairs free.
  state.upsert_node(labelled("nvl", 4, "NVIDIA-H100-NVL"));
  state.upsert_node(labelled("nvl-free", 4, "NVIDIA-H100-NVL"));
  state.upsert_node(labelled("pcie", 4, "NVIDIA-L4"));
  run_on(state, "nvl", 1, "one");
  run_on(state, "pcie", 2, "two");  // 2 free: the tightest for bin-pack, but no NVLink
  state.upsert_pod(pod("ml", "pair", "", {{"nvidia.com/gpu", "2"}}));

  const CycleResult result = run_cycle(state);
  ASSERT_THAT(result.bindings, SizeIs(1));
  // "nvl" (3 free) has a whole free pair under the assumed usage; it is tighter than nvl-free.
  EXPECT_EQ(result.bindings[0].node, "nvl");
  EXPECT_THAT(result.bindings[0].gpus, ElementsAre(2, 3));
  EXPECT_EQ(quality_of(result, "ml/pair")->bottleneck_gbps, 600);
}

TEST(TopologyPlacement, GpuSetsOfPodsOnTheSameNodeDoNotOverlap) {
  ClusterState state;
  state.upsert_node(hgx("hgx"));
  for (int i = 0; i < 4; ++i) {
    state.upsert_pod(pod("ml", "p" + std::to_string(i), "", {{"nvidia.com/gpu", "2"}}, i));
  }
  const CycleResult result = run_cycle(state);
  ASSERT_THAT(result.bindings, SizeIs(4));
  std::set<int> used;
  for (const Binding& b : result.bindings) {
    ASSERT_THAT(b.gpus, SizeIs(2));
    used.insert(b.gpus.begin(), b.gpus.end());
  }
  EXPECT_THAT(used, SizeIs(8));
}

TEST(TopologyPlacement, NodeWithoutLabelsOrAnnotationGetsNoGpuSet) {
  ClusterState state;
  state.upsert_node(gpu_node("plain", 8));
  state.upsert_pod(pod("ml", "p", "", {{"nvidia.com/gpu", "2"}}));
  const CycleResult result = run_cycle(state);
  ASSERT_THAT(result.bindings, SizeIs(1));
  EXPECT_THAT(result.bindings[0].gpus, IsEmpty());
  EXPECT_FALSE(quality_of(result, "ml/p")->bottleneck_gbps);
}

TEST(TopologyPlacement, AnnotationFromTheAgentWinsOverLabels) {
  ClusterState state;
  Node node = labelled("box", 2, "NVIDIA-L4");  // labels say PCIe
  GpuTopologyDoc doc;
  doc.gpus = {{0, "GPU-0", "", 0, 0}, {1, "GPU-1", "", 0, 0}};
  doc.links = {{0, 1, GpuLinkType::kNvLink, 400}};
  node.annotations["fairway.dev/gpu-topology"] = to_json(doc);
  state.upsert_node(node);
  EXPECT_EQ(state.find_node("box")->gpu_source, GpuTopologySource::kAnnotation);
  state.upsert_pod(pod("ml", "p", "", {{"nvidia.com/gpu", "2"}}));
  EXPECT_EQ(quality_of(run_cycle(state), "ml/p")->bottleneck_gbps, 400);
}

// ---------------------------------------------------------------------------- between nodes

TEST(TopologyPlacement, SixtyFourPodGangStaysInOneRack) {
  ClusterState state;
  state.upsert_topology(fabric({{kSpine, 25.0}, {kRack, 100.0}}));
  add_fabric(state, 2, 2, 8);              // 4 racks × 8 nodes × 8 GPUs = 64 GPUs per rack
  run_on(state, "s0-r0-n3", 1, "in-r00");  // r-0-0 can no longer hold 64 GPUs
  add_gang(state, "big", 64, 1, {{"fairway.dev/topology-required-level", kRack}});

  const CycleResult result = run_cycle(state);
  ASSERT_THAT(bindings_of(result, "ml/big"), SizeIs(64));
  const auto racks = label_values(state, result, "ml/big", kRack);
  EXPECT_THAT(racks, SizeIs(1));
  EXPECT_NE(*racks.begin(), "r-0-0");
  const PlacementQuality* quality = quality_of(result, "ml/big");
  ASSERT_NE(quality, nullptr);
  EXPECT_EQ(quality->topology, "fabric");
  EXPECT_EQ(quality->common_level, kRack);
  EXPECT_EQ(quality->nodes, 8U);
  EXPECT_EQ(quality->bottleneck_gbps, 100);
}

TEST(TopologyPlacement, RequiredLevelThatNoDomainMeetsWaitsAndSaysWhy) {
  ClusterState state;
  state.upsert_topology(fabric({{kSpine, {}}, {kRack, {}}}));
  add_fabric(state, 1, 2, 1);  // two racks of one 8-GPU node
  run_on(state, "s0-r0-n0", 2, "a");
  run_on(state, "s0-r1-n0", 3, "b");
  // 10 GPUs: the cluster has 11 free, but no rack has more than 6.
  add_gang(state, "wide", 5, 2, {{"fairway.dev/topology-required-level", "rack"}});

  const CycleResult result = run_cycle(state);
  EXPECT_THAT(bindings_of(result, "ml/wide"), IsEmpty());  // partial gangs never bind
  const PendingJob* job = pending_job(result, "ml/wide");
  ASSERT_NE(job, nullptr);
  EXPECT_EQ(job->reason, PendingReason::kUnschedulable);
  EXPECT_THAT(job->message, HasSubstr("gang needs 10 GPUs in one rack (required level "
                                      "example.com/rack)"));
  EXPECT_THAT(job->message,
              HasSubstr("rack r-0-0: 6 of 10 GPUs free; rack r-0-1: 5 of 10 GPUs free"));
}

TEST(TopologyPlacement, PreferredLevelRelaxesOneLevelAtATime) {
  ClusterState state;
  state.upsert_topology(fabric({{kSpine, 25.0}, {kRack, 100.0}}));
  add_fabric(state, 2, 2, 2);  // racks of 16 GPUs, spines of 32
  // No rack has 12 free any more; spine s-1 has 8 + 8 = 16, spine s-0 only 4 + 4.
  for (const char* node : {"s0-r0-n0", "s0-r1-n0"}) run_on(state, node, 8, node);
  for (const char* node : {"s0-r0-n1", "s0-r1-n1"}) run_on(state, node, 4, std::string(node) + "x");
  for (const char* node : {"s1-r0-n0", "s1-r1-n0"}) run_on(state, node, 8, node);
  add_gang(state, "relax", 12, 1, {{"fairway.dev/topology-preferred-level", kRack}});

  const CycleResult result = run_cycle(state);
  ASSERT_THAT(bindings_of(result, "ml/relax"), SizeIs(12));
  EXPECT_THAT(label_values(state, result, "ml/relax", kSpine), ElementsAre("s-1"));
  const PlacementQuality* quality = quality_of(result, "ml/relax");
  EXPECT_EQ(quality->common_level, kSpine);
  EXPECT_EQ(quality->bottleneck_gbps, 25);
}

TEST(TopologyPlacement, PreferredLevelIsMetWhenARackHasRoom) {
  ClusterState state;
  state.upsert_topology(fabric({{kSpine, 25.0}, {kRack, 100.0}}));
  add_fabric(state, 2, 2, 2);
  add_gang(state, "near", 12, 1, {{"fairway.dev/topology-preferred-level", kRack}});
  const CycleResult result = run_cycle(state);
  ASSERT_THAT(bindings_of(result, "ml/near"), SizeIs(12));
  EXPECT_THAT(label_values(state, result, "ml/near", kRack), SizeIs(1));
  EXPECT_EQ(quality_of(result, "ml/near")->bottleneck_gbps, 100);
}

TEST(TopologyPlacement, WithoutAConstraintAGangStillPrefersFewerCloserDomains) {
  ClusterState state;
  state.upsert_topology(fabric({{kSpine, {}}, {kRack, {}}, {"kubernetes.io/hostname", {}}}));
  add_fabric(state, 2, 2, 2);
  // Bin-pack alone would scatter 1-GPU pods onto the nodes with one free GPU each.
  for (const char* node : {"s0-r0-n0", "s0-r1-n1", "s1-r0-n0", "s1-r1-n1"}) {
    run_on(state, node, 7, node);
  }
  add_gang(state, "close", 8, 1);
  const CycleResult result = run_cycle(state);
  ASSERT_THAT(bindings_of(result, "ml/close"), SizeIs(8));
  EXPECT_EQ(quality_of(result, "ml/close")->nodes, 1U);
  EXPECT_EQ(quality_of(result, "ml/close")->bottleneck_gbps, 900);
}

TEST(TopologyPlacement, BestFitLeavesAWholeRackForTheNextBigGang) {
  ClusterState state;
  state.upsert_topology(fabric({{kRack, {}}}));
  // rack "big": 8 free nodes (64 GPUs); rack "small": 2 free nodes (16 GPUs) of 8.
  for (int n = 0; n < 8; ++n) state.upsert_node(hgx(fmt::format("big-{}", n), {{kRack, "big"}}));
  for (int n = 0; n < 8; ++n) {
    state.upsert_node(hgx(fmt::format("small-{}", n), {{kRack, "small"}}));
    if (n >= 2) run_on(state, fmt::format("small-{}", n), 8, fmt::format("s{}", n));
  }
  add_gang(state, "first", 2, 8, {{"fairway.dev/topology-required-level", kRack}}, 0);
  add_gang(state, "next", 8, 8, {{"fairway.dev/topology-required-level", kRack}}, 1);

  const CycleResult result = run_cycle(state);
  EXPECT_THAT(label_values(state, result, "ml/first", kRack), ElementsAre("small"));
  EXPECT_THAT(label_values(state, result, "ml/next", kRack), ElementsAre("big"));
  EXPECT_THAT(bindings_of(result, "ml/next"), SizeIs(8));
}

TEST(TopologyPlacement, UnlabelledNodesAreUsedButNeverCountAsARequiredDomain) {
  ClusterState state;
  state.upsert_topology(fabric({{kRack, {}}}));
  state.upsert_node(hgx("loose-a"));
  state.upsert_node(hgx("loose-b"));
  add_gang(state, "strict", 2, 8, {{"fairway.dev/topology-required-level", kRack}}, 0);
  add_gang(state, "easy", 2, 8, {}, 1);

  const CycleResult result = run_cycle(state);
  EXPECT_THAT(bindings_of(result, "ml/strict"), IsEmpty());
  EXPECT_THAT(pending_job(result, "ml/strict")->message,
              HasSubstr("no node has the label example.com/rack"));
  EXPECT_THAT(bindings_of(result, "ml/easy"), SizeIs(2));
  EXPECT_EQ(quality_of(result, "ml/easy")->common_level, "");  // no shared known rack
}

TEST(TopologyPlacement, Nvl72CliqueIsALevel) {
  ClusterState state;
  state.upsert_topology(fabric({{kClique, 1800.0}, {"kubernetes.io/hostname", {}}}, "nvl72"));
  // Two NVL72 racks: 18 trays of 4 GB200 GPUs each.
  for (const char* clique : {"cluster-a.0", "cluster-a.1"}) {
    for (int n = 0; n < 18; ++n) {
      state.upsert_node(
          labelled(fmt::format("{}-{}", clique, n), 4, "NVIDIA-GB200", {{kClique, clique}}));
    }
  }
  run_on(state, "cluster-a.0-5", 1, "in-a0");
  add_gang(state, "nvl", 18, 4, {{"fairway.dev/topology-required-level", kClique}});

  const CycleResult result = run_cycle(state);
  ASSERT_THAT(bindings_of(result, "ml/nvl"), SizeIs(18));
  EXPECT_THAT(label_values(state, result, "ml/nvl", kClique), ElementsAre("cluster-a.1"));
  const PlacementQuality* quality = quality_of(result, "ml/nvl");
  EXPECT_EQ(quality->common_level, kClique);
  EXPECT_EQ(quality->bottleneck_gbps, 1800);
}

TEST(TopologyPlacement, PartialGangNeverBindsEvenWhenMostPodsFit) {
  ClusterState state;
  state.upsert_topology(fabric({{kRack, {}}}));
  for (int n = 0; n < 3; ++n) state.upsert_node(hgx(fmt::format("n{}", n), {{kRack, "r"}}));
  add_gang(state, "toolarge", 4, 6);  // 24 GPUs on 24, but one pod per node
  const CycleResult result = run_cycle(state);
  EXPECT_THAT(result.bindings, IsEmpty());
  EXPECT_THAT(pending_job(result, "ml/toolarge")->message,
              HasSubstr("gang needs 4 more pods, 3 fit"));
  // What the failed gang took tentatively is free again for the next job.
  state.upsert_pod(pod("ml", "single", "", {{"nvidia.com/gpu", "8"}}, 5));
  EXPECT_THAT(run_cycle(state).bindings, SizeIs(1));
}

TEST(TopologyPlacement, ExtraPodsBeyondMinMemberJoinTheRequiredRack) {
  ClusterState state;
  state.upsert_topology(fabric({{kRack, {}}}));
  for (int n = 0; n < 2; ++n) state.upsert_node(hgx(fmt::format("a{}", n), {{kRack, "a"}}));
  for (int n = 0; n < 4; ++n) state.upsert_node(hgx(fmt::format("b{}", n), {{kRack, "b"}}));
  for (int i = 0; i < 4; ++i) {
    Pod p = gang_pod("ml", fmt::format("e-{}", i), "", "elastic", 2, {{"nvidia.com/gpu", "8"}});
    p.annotations["fairway.dev/topology-required-level"] = kRack;
    state.upsert_pod(p);
  }
  const CycleResult result = run_cycle(state);
  // minMember 2 fits rack a best; the two extra pods must stay in rack a, which is full.
  EXPECT_THAT(bindings_of(result, "ml/elastic"), SizeIs(2));
  EXPECT_THAT(label_values(state, result, "ml/elastic", kRack), ElementsAre("a"));
}

TEST(TopologyPlacement, PodGroupConstraintWinsOverPodAnnotations) {
  ClusterState state;
  state.upsert_topology(fabric({{kSpine, {}}, {kRack, {}}}));
  add_fabric(state, 1, 2, 1);
  PodGroup group;
  group.namespace_ = "ml";
  group.name = "pg";
  group.min_member = 2;
  group.topology_constraint.required_level = kRack;
  state.upsert_pod_group(group);
  // The pods ask only for the spine; the PodGroup's rack requirement holds.
  add_gang(state, "pg", 2, 8, {{"fairway.dev/topology-required-level", kSpine}});
  const CycleResult result = run_cycle(state);
  EXPECT_THAT(result.bindings, IsEmpty());
  EXPECT_THAT(pending_job(result, "ml/pg")->message, HasSubstr("in one rack"));
}

TEST(TopologyPlacement, UnknownTopologyOrLevelIsReported) {
  ClusterState state;
  state.upsert_topology(fabric({{kRack, {}}}));
  state.upsert_topology(fabric({{kSpine, {}}}, "other"));
  state.upsert_node(hgx("n", {{kRack, "r"}}));
  add_gang(state, "nolevel", 1, 1,
           {{"fairway.dev/topology", "fabric"}, {"fairway.dev/topology-required-level", "zone"}});
  add_gang(state, "notopo", 1, 1, {{"fairway.dev/topology", "missing"}});
  add_gang(state, "ambiguous", 1, 1, {{"fairway.dev/topology-required-level", kRack}});
  const CycleResult result = run_cycle(state);
  EXPECT_THAT(pending_job(result, "ml/nolevel")->message,
              HasSubstr("Topology \"fabric\" has no level \"zone\" (levels: example.com/rack)"));
  EXPECT_THAT(pending_job(result, "ml/notopo")->message,
              HasSubstr("Topology \"missing\" does not exist"));
  EXPECT_THAT(pending_job(result, "ml/ambiguous")->message, HasSubstr("names no Topology"));
}

TEST(TopologyPlacement, FabricIsRebuiltWhenNodesAreRelabelledNotOnStatusUpdates) {
  ClusterState state;
  state.upsert_topology(fabric({{kRack, {}}}));
  Node node = hgx("n", {{kRack, "r1"}});
  state.upsert_node(node);
  const FabricTree* tree = state.fabric("fabric");
  ASSERT_NE(tree, nullptr);
  EXPECT_EQ(tree->domain_name(0, tree->domain_of(0, 0)), "r1");
  const uint64_t generation = state.node_generation();
  node.ready = false;
  state.upsert_node(node);
  EXPECT_EQ(state.node_generation(), generation);
  node.labels[kRack] = "r2";
  state.upsert_node(node);
  EXPECT_GT(state.node_generation(), generation);
  tree = state.fabric("fabric");
  EXPECT_EQ(tree->domain_name(0, tree->domain_of(0, 0)), "r2");
  EXPECT_EQ(state.fabric("nope"), nullptr);
}

TEST(TopologyPlacement, KaiAnnotationsAreAccepted) {
  Pod p = pod("ml", "k", "", {{"nvidia.com/gpu", "1"}});
  p.annotations["kai.scheduler/topology"] = "fabric";
  p.annotations["kai.scheduler/topology-required-placement"] = kRack;
  const PodIntent intent = read_pod_intent(p);
  EXPECT_EQ(intent.topology.topology, "fabric");
  EXPECT_EQ(intent.topology.required_level, kRack);
}

}  // namespace
}  // namespace fairway
