// kube-scheduler's inter-pod rules in the cycle (scheduler/cycle/pod_constraints.h): NodePorts,
// InterPodAffinity, PodTopologySpread, scheduling gates and node preferences. Each case is
// written from the Kubernetes documentation's semantics ("Assigning Pods to Nodes", "Pod
// Topology Spread Constraints", "Pod Scheduling Readiness") and uses its words.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "scheduler/cycle/cycle.h"
#include "support/builders.h"

namespace fairway {
namespace {

using testing::gang_pod;
using testing::gpu_node;
using ::testing::HasSubstr;
using testing::pod;

constexpr const char* kZone = "topology.kubernetes.io/zone";
constexpr const char* kHost = "kubernetes.io/hostname";

Node zoned(const std::string& name, const std::string& zone, std::string cpu = "8") {
  Node node = gpu_node(name, 0, std::move(cpu));
  node.labels[kZone] = zone;
  return node;
}

Pod app(const std::string& name, const std::string& label, const std::string& ns = "ns") {
  Pod p = pod(ns, name, "", {{"cpu", "1"}});
  p.labels["app"] = label;
  return p;
}

LabelSelector app_selector(const std::string& label) {
  LabelSelector selector;
  selector.match_labels["app"] = label;
  return selector;
}

PodAffinityTerm term(const std::string& label, const std::string& key) {
  PodAffinityTerm t;
  t.label_selector = app_selector(label);
  t.topology_key = key;
  return t;
}

TopologySpreadConstraint spread(const std::string& label, const std::string& key, int skew = 1) {
  TopologySpreadConstraint c;
  c.max_skew = skew;
  c.topology_key = key;
  c.label_selector = app_selector(label);
  return c;
}

Pod running(Pod p, const std::string& node) {
  p.node_name = node;
  p.phase = PodPhase::kRunning;
  return p;
}

std::map<std::string, std::string> placements(const CycleResult& result) {
  std::map<std::string, std::string> out;
  for (const Binding& b : result.bindings) out[b.pod] = b.node;
  return out;
}

std::string message_of(const CycleResult& result, const std::string& pod_key) {
  for (const PendingJob& p : result.pending) {
    for (const std::string& key : p.pods) {
      if (key == pod_key) return p.message;
    }
  }
  return "";
}

const PendingJob* pending_of(const CycleResult& result, const std::string& pod_key) {
  for (const PendingJob& p : result.pending) {
    for (const std::string& key : p.pods) {
      if (key == pod_key) return &p;
    }
  }
  return nullptr;
}

// ------------------------------------------------------------------------------- NodePorts

struct PortCase {
  const char* name;
  HostPort first;
  HostPort second;
  bool both_fit;
};

class NodePorts : public ::testing::TestWithParam<PortCase> {};

TEST_P(NodePorts, TwoPodsShareANodeOnlyWhenTheirHostPortsDoNotCollide) {
  const PortCase& c = GetParam();
  ClusterState state;
  state.upsert_node(gpu_node("only", 0));
  Pod a = pod("ns", "a", "", {{"cpu", "1"}});
  a.host_ports = {c.first};
  Pod b = pod("ns", "b", "", {{"cpu", "1"}});
  b.host_ports = {c.second};
  state.upsert_pod(a);
  state.upsert_pod(b);
  const CycleResult result = run_cycle(state);
  if (c.both_fit) {
    EXPECT_EQ(result.bindings.size(), 2U);
  } else {
    ASSERT_EQ(result.bindings.size(), 1U);
    EXPECT_EQ(message_of(result, "ns/b"),
              "0/1 nodes are available: 1 node(s) didn't have free ports for the requested pod "
              "ports.");
  }
}

INSTANTIATE_TEST_SUITE_P(
    Cases, NodePorts,
    ::testing::Values(
        PortCase{"same_port", {8080, "TCP", ""}, {8080, "TCP", ""}, false},
        PortCase{"other_protocol", {8080, "TCP", ""}, {8080, "UDP", ""}, true},
        PortCase{"other_port", {8080, "TCP", ""}, {8081, "TCP", ""}, true},
        PortCase{"distinct_ips", {53, "UDP", "10.0.0.1"}, {53, "UDP", "10.0.0.2"}, true},
        PortCase{"any_ip_vs_one", {53, "UDP", "0.0.0.0"}, {53, "UDP", "10.0.0.2"}, false},
        PortCase{"same_ip", {53, "UDP", "10.0.0.1"}, {53, "UDP", "10.0.0.1"}, false}),
    [](const auto& test) { return std::string(test.param.name); });

TEST(NodePortsTest, APortHeldByAPodOfAnotherSchedulerCounts) {
  ClusterState state;
  state.upsert_node(gpu_node("a", 0));
  state.upsert_node(gpu_node("b", 0));
  Pod other = running(pod("kube-system", "proxy", "", {{"cpu", "1"}}), "a");
  other.scheduler_name = "default-scheduler";
  other.host_ports = {{8080, "TCP", ""}};
  state.upsert_pod(other);
  for (const char* name : {"x", "y"}) {
    Pod p = pod("ns", name, "", {{"cpu", "1"}});
    p.host_ports = {{8080, "TCP", ""}};
    state.upsert_pod(p);
  }
  const CycleResult result = run_cycle(state);
  const auto placed = placements(result);
  ASSERT_EQ(placed.size(), 1U);
  EXPECT_EQ(placed.begin()->second, "b");
  EXPECT_THAT(message_of(result, "ns/y"),
              HasSubstr("2 node(s) didn't have free ports for the requested pod ports"));
}

// ------------------------------------------------------------------------ InterPodAffinity

TEST(InterPodAffinity, RequiredAntiAffinityOnHostnamePutsEachPodOnItsOwnNode) {
  ClusterState state;
  for (const char* name : {"n1", "n2", "n3", "n4"}) state.upsert_node(gpu_node(name, 0));
  for (int i = 0; i < 5; ++i) {
    Pod p = app("web-" + std::to_string(i), "web");
    p.affinity.required_anti_affinity = {term("web", kHost)};
    state.upsert_pod(p);
  }
  const CycleResult result = run_cycle(state);
  const auto placed = placements(result);
  ASSERT_EQ(placed.size(), 4U);
  std::set<std::string> nodes;
  for (const auto& [pod_key, node] : placed) nodes.insert(node);
  EXPECT_EQ(nodes.size(), 4U);
  EXPECT_EQ(message_of(result, "ns/web-4"),
            "0/4 nodes are available: 4 node(s) didn't match pod anti-affinity rules.");
}

TEST(InterPodAffinity, AnExistingPodsAntiAffinityKeepsMatchingPodsOutOfItsDomain) {
  ClusterState state;
  state.upsert_node(zoned("a1", "a"));
  state.upsert_node(zoned("a2", "a"));
  state.upsert_node(zoned("b1", "b"));
  Pod guard = running(app("guard", "db"), "a1");
  guard.affinity.required_anti_affinity = {term("web", kZone)};
  state.upsert_pod(guard);
  state.upsert_pod(app("web", "web"));
  state.upsert_pod(app("api", "api"));  // not selected by the guard's term
  const auto placed = placements(run_cycle(state));
  EXPECT_EQ(placed.at("ns/web"), "b1");
  EXPECT_EQ(placed.size(), 2U);
}

TEST(InterPodAffinity, ExistingAntiAffinityIsNamedWhenNoNodeIsLeft) {
  ClusterState state;
  state.upsert_node(zoned("a1", "a"));
  Pod guard = running(app("guard", "db"), "a1");
  guard.affinity.required_anti_affinity = {term("web", kZone)};
  state.upsert_pod(guard);
  state.upsert_pod(app("web", "web"));
  const CycleResult result = run_cycle(state);
  EXPECT_TRUE(result.bindings.empty());
  EXPECT_EQ(message_of(result, "ns/web"),
            "0/1 nodes are available: 1 node(s) didn't satisfy existing pods anti-affinity rules.");
}

TEST(InterPodAffinity, RequiredAffinityFollowsTheAnchorsZone) {
  ClusterState state;
  state.upsert_node(zoned("a1", "a"));
  state.upsert_node(zoned("b1", "b"));
  state.upsert_node(zoned("b2", "b"));
  state.upsert_pod(running(app("anchor", "cache"), "b2"));
  for (const char* name : {"f1", "f2", "f3"}) {
    Pod p = app(name, "follower");
    p.affinity.required_affinity = {term("cache", kZone)};
    state.upsert_pod(p);
  }
  for (const auto& [pod_key, node] : placements(run_cycle(state))) {
    EXPECT_TRUE(node == "b1" || node == "b2") << pod_key << " on " << node;
  }
}

TEST(InterPodAffinity, RequiredAffinityWithoutAMatchingPodWaits) {
  ClusterState state;
  state.upsert_node(zoned("a1", "a"));
  state.upsert_node(zoned("b1", "b"));
  Pod p = app("follower", "follower");
  p.affinity.required_affinity = {term("cache", kZone)};
  state.upsert_pod(p);
  const CycleResult result = run_cycle(state);
  EXPECT_TRUE(result.bindings.empty());
  EXPECT_EQ(message_of(result, "ns/follower"),
            "0/2 nodes are available: 2 node(s) didn't match pod affinity rules.");
}

TEST(InterPodAffinity, TheFirstPodOfASelfAffineGroupGoesAnywhereAndTheRestFollow) {
  ClusterState state;
  state.upsert_node(zoned("a1", "a"));
  state.upsert_node(zoned("b1", "b"));
  state.upsert_node(zoned("b2", "b"));
  for (const char* name : {"p1", "p2", "p3"}) {
    Pod p = app(name, "team");
    p.affinity.required_affinity = {term("team", kZone)};
    state.upsert_pod(p);
  }
  const auto placed = placements(run_cycle(state));
  ASSERT_EQ(placed.size(), 3U);
  std::set<std::string> zones;
  for (const auto& [pod_key, node] : placed) zones.insert(node.substr(0, 1));
  EXPECT_EQ(zones.size(), 1U) << "all three share the first pod's zone";
}

TEST(InterPodAffinity, TermsSelectOnlyTheirNamespacesUnlessTheyNameOthers) {
  ClusterState state;
  state.upsert_node(gpu_node("n1", 0));
  state.upsert_node(gpu_node("n2", 0));
  state.upsert_pod(running(app("other-ns-web", "web", "other"), "n1"));
  Namespace labelled;
  labelled.name = "other";
  labelled.labels["team"] = "x";
  state.upsert_namespace(labelled);

  Pod same_ns_only = app("a", "web");
  same_ns_only.affinity.required_anti_affinity = {term("web", kHost)};
  state.upsert_pod(same_ns_only);
  CycleResult result = run_cycle(state);
  EXPECT_EQ(result.bindings.size(), 1U) << "the pod in namespace other is not selected";

  ClusterState second;
  second.upsert_node(gpu_node("n1", 0));
  second.upsert_namespace(labelled);
  second.upsert_pod(running(app("other-ns-web", "web", "other"), "n1"));
  Pod by_selector = app("b", "web");
  PodAffinityTerm t = term("web", kHost);
  LabelSelector ns_selector;
  ns_selector.match_labels["team"] = "x";
  t.namespace_selector = ns_selector;
  by_selector.affinity.required_anti_affinity = {t};
  second.upsert_pod(by_selector);
  result = run_cycle(second);
  EXPECT_TRUE(result.bindings.empty()) << "namespaceSelector team=x selects namespace other";

  ClusterState third;
  third.upsert_node(gpu_node("n1", 0));
  third.upsert_pod(running(app("other-ns-web", "web", "other"), "n1"));
  Pod by_name = app("c", "web");
  PodAffinityTerm named = term("web", kHost);
  named.namespaces = {"other"};
  by_name.affinity.required_anti_affinity = {named};
  third.upsert_pod(by_name);
  EXPECT_TRUE(run_cycle(third).bindings.empty()) << "namespaces: [other]";
}

TEST(InterPodAffinity, ANullLabelSelectorSelectsNothing) {
  ClusterState state;
  state.upsert_node(gpu_node("n1", 0));
  state.upsert_pod(running(app("web", "web"), "n1"));
  Pod p = app("p", "web");
  PodAffinityTerm t;
  t.topology_key = kHost;  // labelSelector: null
  p.affinity.required_anti_affinity = {t};
  state.upsert_pod(p);
  EXPECT_EQ(run_cycle(state).bindings.size(), 1U);
}

TEST(InterPodAffinity, GangMembersSeeEachOthersTentativePlacements) {
  ClusterState state;
  for (const char* name : {"n1", "n2", "n3"}) state.upsert_node(gpu_node(name, 4));
  for (int i = 0; i < 3; ++i) {
    Pod p = gang_pod("ns", "w" + std::to_string(i), "", "train", 3, {{"nvidia.com/gpu", "1"}});
    p.labels["app"] = "train";
    p.affinity.required_anti_affinity = {term("train", kHost)};
    state.upsert_pod(p);
  }
  std::set<std::string> nodes;
  for (const auto& [pod_key, node] : placements(run_cycle(state))) nodes.insert(node);
  EXPECT_EQ(nodes.size(), 3U) << "bin-packing alone would put all three on one node";

  ClusterState small;
  for (const char* name : {"n1", "n2"}) small.upsert_node(gpu_node(name, 4));
  for (int i = 0; i < 3; ++i) {
    Pod p = gang_pod("ns", "w" + std::to_string(i), "", "train", 3, {{"nvidia.com/gpu", "1"}});
    p.labels["app"] = "train";
    p.affinity.required_anti_affinity = {term("train", kHost)};
    small.upsert_pod(p);
  }
  const CycleResult result = run_cycle(small);
  EXPECT_TRUE(result.bindings.empty()) << "all or nothing";
  EXPECT_THAT(message_of(result, "ns/w0"), HasSubstr("didn't match pod anti-affinity rules"));
}

TEST(InterPodAffinity, PreferredAffinityPicksTheNodeOfThePodItLikes) {
  ClusterState state;
  for (const char* name : {"n1", "n2", "n3"}) state.upsert_node(gpu_node(name, 0));
  state.upsert_pod(running(app("cache", "cache"), "n3"));
  Pod p = app("web", "web");
  p.affinity.preferred_affinity = {{100, term("cache", kHost)}};
  state.upsert_pod(p);
  EXPECT_EQ(placements(run_cycle(state)).at("ns/web"), "n3");

  Pod q = app("lonely", "lonely");
  q.affinity.preferred_anti_affinity = {{100, term("cache", kHost)}};
  state.upsert_pod(q);
  EXPECT_NE(placements(run_cycle(state)).at("ns/lonely"), "n3");
}

// ----------------------------------------------------------------------- PodTopologySpread

TEST(PodTopologySpread, MaxSkewOneOverZonesSpreadsSixPodsTwoPerZone) {
  ClusterState state;
  for (const char* zone : {"a", "b", "c"}) {
    for (int i = 0; i < 4; ++i)
      state.upsert_node(zoned(std::string(zone) + std::to_string(i), zone));
  }
  for (int i = 0; i < 6; ++i) {
    Pod p = app("s" + std::to_string(i), "spread");
    p.topology_spread = {spread("spread", kZone)};
    state.upsert_pod(p);
  }
  std::map<std::string, int> per_zone;
  for (const auto& [pod_key, node] : placements(run_cycle(state))) ++per_zone[node.substr(0, 1)];
  EXPECT_EQ(per_zone, (std::map<std::string, int>{{"a", 2}, {"b", 2}, {"c", 2}}));
}

TEST(PodTopologySpread, ExistingPodsCountAndTheSkewBlocksTheFullZone) {
  ClusterState state;
  state.upsert_node(zoned("a1", "a"));
  state.upsert_node(zoned("b1", "b"));
  state.upsert_pod(running(app("old", "spread"), "a1"));
  Pod p = app("new", "spread");
  p.topology_spread = {spread("spread", kZone)};
  state.upsert_pod(p);
  EXPECT_EQ(placements(run_cycle(state)).at("ns/new"), "b1");
}

TEST(PodTopologySpread, ANodeWithoutTheKeyIsRejectedWithTheMissingLabelReason) {
  ClusterState state;
  state.upsert_node(gpu_node("bare", 0));
  Pod p = app("p", "spread");
  p.topology_spread = {spread("spread", kZone)};
  state.upsert_pod(p);
  const CycleResult result = run_cycle(state);
  EXPECT_EQ(message_of(result, "ns/p"),
            "0/1 nodes are available: 1 node(s) didn't match pod topology spread constraints "
            "(missing required label).");
}

TEST(PodTopologySpread, MinDomainsAboveTheDomainsThatExistCountsTheMinimumAsZero) {
  ClusterState state;
  state.upsert_node(zoned("a1", "a"));
  state.upsert_node(zoned("b1", "b"));
  for (int i = 0; i < 3; ++i) {
    Pod p = app("m" + std::to_string(i), "m");
    TopologySpreadConstraint c = spread("m", kZone);
    c.min_domains = 3;
    p.topology_spread = {c};
    state.upsert_pod(p);
  }
  const CycleResult result = run_cycle(state);
  EXPECT_EQ(result.bindings.size(), 2U) << "one per zone; a third would make skew 2 against 0";
  EXPECT_THAT(message_of(result, "ns/m2"),
              HasSubstr("didn't match pod topology spread constraints"));
}

TEST(PodTopologySpread, NodeAffinityPolicyDecidesWhichDomainsCount) {
  // Zone c is outside the pod's nodeSelector. With Honor (the default) it is not a domain, so
  // the minimum is taken over a and b; with Ignore its zero pods hold the minimum at 0.
  for (const bool honor : {true, false}) {
    ClusterState state;
    for (const char* zone : {"a", "b", "c"}) {
      Node node = zoned(std::string(zone) + "1", zone);
      node.labels["pool"] = std::string(zone) == "c" ? "other" : "mine";
      state.upsert_node(node);
    }
    state.upsert_pod(running(app("old-a", "s"), "a1"));
    state.upsert_pod(running(app("old-b", "s"), "b1"));
    Pod p = app("new", "s");
    p.node_selector["pool"] = "mine";
    TopologySpreadConstraint c = spread("s", kZone);
    c.node_affinity_honor = honor;
    p.topology_spread = {c};
    state.upsert_pod(p);
    EXPECT_EQ(run_cycle(state).bindings.size(), honor ? 1U : 0U) << "honor=" << honor;
  }
}

TEST(PodTopologySpread, MatchLabelKeysCountOnlyPodsOfTheSameRevision) {
  ClusterState state;
  state.upsert_node(zoned("a1", "a"));
  state.upsert_node(zoned("b1", "b"));
  Pod old = app("old", "s");
  old.labels["rev"] = "1";
  state.upsert_pod(running(old, "a1"));
  Pod p = app("new", "s");
  p.labels["rev"] = "2";
  TopologySpreadConstraint c = spread("s", kZone);
  c.match_label_keys = {"rev"};
  // Pinned to zone a, with zone b still a domain (Ignore): allowed only because the rev-1 pod
  // does not count; without matchLabelKeys the skew would be 2.
  c.node_affinity_honor = false;
  p.node_selector[kZone] = "a";
  p.topology_spread = {c};
  state.upsert_pod(p);
  EXPECT_EQ(placements(run_cycle(state)).at("ns/new"), "a1");
  Pod q = app("same-rev", "s");
  q.labels["rev"] = "1";
  q.node_selector[kZone] = "a";
  q.topology_spread = {c};
  ClusterState again;
  again.upsert_node(zoned("a1", "a"));
  again.upsert_node(zoned("b1", "b"));
  again.upsert_pod(running(old, "a1"));
  again.upsert_pod(q);
  EXPECT_TRUE(run_cycle(again).bindings.empty());
}

TEST(PodTopologySpread, ScheduleAnywayPrefersTheEmptierZoneButNeverBlocks) {
  ClusterState state;
  state.upsert_node(zoned("a1", "a"));
  state.upsert_node(zoned("b1", "b"));
  state.upsert_pod(running(app("old", "s"), "a1"));
  Pod p = app("new", "s");
  TopologySpreadConstraint c = spread("s", kZone);
  c.do_not_schedule = false;
  p.topology_spread = {c};
  state.upsert_pod(p);
  EXPECT_EQ(placements(run_cycle(state)).at("ns/new"), "b1");
}

// -------------------------------------------------------------------------- gates, scores

TEST(SchedulingGates, AGatedPodWaitsWithKubeSchedulersReasonAndTheRestBinds) {
  ClusterState state;
  state.upsert_node(gpu_node("n1", 0));
  Pod gated = pod("ns", "gated", "", {{"cpu", "1"}});
  gated.scheduling_gates = {"example.com/wait"};
  state.upsert_pod(gated);
  state.upsert_pod(pod("ns", "free", "", {{"cpu", "1"}}));
  const CycleResult result = run_cycle(state);
  EXPECT_EQ(placements(result).count("ns/free"), 1U);
  const PendingJob* waiting = pending_of(result, "ns/gated");
  ASSERT_NE(waiting, nullptr);
  EXPECT_EQ(waiting->reason, PendingReason::kSchedulingGated);
  EXPECT_STREQ(reason_name(waiting->reason), "SchedulingGated");
  EXPECT_EQ(state.queue_usage().at("default").pending[kCpu], 1000)
      << "only the ungated pod asks its queue for CPU";
}

TEST(NodeName, APodThatNamesItsNodeIsChargedThereAndNeverBound) {
  ClusterState state;
  state.upsert_node(gpu_node("n1", 0, "2"));
  state.upsert_node(gpu_node("n2", 0, "2"));
  Pod pinned = pod("ns", "pinned", "", {{"cpu", "2"}});
  pinned.node_name = "n1";  // spec.nodeName set at creation: the kubelet runs it, nobody binds
  state.upsert_pod(pinned);
  state.upsert_pod(pod("ns", "other", "", {{"cpu", "2"}}));
  const auto placed = placements(run_cycle(state));
  EXPECT_EQ(placed.count("ns/pinned"), 0U);
  EXPECT_EQ(placed.at("ns/other"), "n2") << "n1's CPU is charged to the pinned pod";
}

TEST(NodePreferences, PreferredNodeAffinityAndPreferNoScheduleTaintsSteerThePod) {
  ClusterState state;
  for (const char* name : {"n1", "n2", "n3"}) {
    Node node = gpu_node(name, 0);
    node.labels["disk"] = std::string(name) == "n2" ? "ssd" : "hdd";
    state.upsert_node(node);
  }
  Pod p = app("p", "p");
  NodeSelectorTerm ssd;
  ssd.match_expressions = {{"disk", NodeSelectorRequirement::Operator::kIn, {"ssd"}}};
  p.preferred_node_affinity = {{50, ssd}};
  state.upsert_pod(p);
  EXPECT_EQ(placements(run_cycle(state)).at("ns/p"), "n2");

  ClusterState tainted;
  for (const char* name : {"n1", "n2"}) {
    Node node = gpu_node(name, 0);
    if (std::string(name) == "n1") node.taints = {{"spot", "true", TaintEffect::kPreferNoSchedule}};
    tainted.upsert_node(node);
  }
  tainted.upsert_pod(app("q", "q"));
  EXPECT_EQ(placements(run_cycle(tainted)).at("ns/q"), "n2");
}

}  // namespace
}  // namespace fairway
