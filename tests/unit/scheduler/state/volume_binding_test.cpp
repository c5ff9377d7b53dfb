// The volume checks must let a pod with PersistentVolumeClaims go only where kube-scheduler
// (1.28+) would, and say why in its words. Each case below is one rule of the Kubernetes
// storage docs (persistent volumes, storage classes' volumeBindingMode and allowedTopologies,
// ReadWriteOncePod, generic ephemeral volumes, CSI node attach limits).

#include "scheduler/state/volume_binding.h"

#include <gtest/gtest.h>

#include <functional>
#include <optional>
#include <string>
#include <unordered_set>
#include <utility>
#include <vector>

#include "scheduler/state/cluster_state.h"

namespace fairway {
namespace {

constexpr int64_t kGi = int64_t{1} << 30;
constexpr AccessModes kRWO = static_cast<AccessModes>(AccessMode::kReadWriteOnce);
constexpr AccessModes kRWX = static_cast<AccessModes>(AccessMode::kReadWriteMany);
constexpr AccessModes kRWOP = static_cast<AccessModes>(AccessMode::kReadWriteOncePod);
using Op = NodeSelectorRequirement::Operator;

constexpr std::string_view kZone = "topology.kubernetes.io/zone";

NodeSelectorTerm term(std::string key, std::vector<std::string> values) {
  NodeSelectorTerm t;
  t.match_expressions.push_back({std::move(key), Op::kIn, std::move(values)});
  return t;
}

PersistentVolume pv(std::string name, std::string storage_class, int64_t gi,
                    AccessModes modes = kRWO) {
  PersistentVolume v;
  v.name = std::move(name);
  v.storage_class = std::move(storage_class);
  v.capacity_bytes = gi * kGi;
  v.access_modes = modes;
  v.phase = "Available";  // what the PV controller makes of a new volume
  return v;
}

PersistentVolume bound_pv(std::string name, std::string claim) {
  PersistentVolume v = pv(std::move(name), "standard", 10);
  v.claim_namespace = "default";
  v.claim_name = std::move(claim);
  v.phase = "Bound";
  return v;
}

PersistentVolumeClaim pvc(std::string name, std::optional<std::string> storage_class,
                          int64_t gi = 10, AccessModes modes = kRWO) {
  PersistentVolumeClaim c;
  c.namespace_ = "default";
  c.name = std::move(name);
  c.uid = "uid-" + c.name;
  c.storage_class = std::move(storage_class);
  c.request_bytes = gi * kGi;
  c.access_modes = modes;
  c.phase = "Pending";
  return c;
}

PersistentVolumeClaim bound_pvc(std::string name, std::string volume) {
  PersistentVolumeClaim c = pvc(std::move(name), "standard");
  c.volume_name = std::move(volume);
  c.phase = "Bound";
  return c;
}

Pod pod_with(std::vector<std::string> claims, std::string name = "web-0") {
  Pod pod;
  pod.namespace_ = "default";
  pod.name = std::move(name);
  pod.uid = "uid-" + pod.name;
  pod.scheduler_name = "fairway";
  for (auto& claim : claims) pod.volume_claims.push_back({std::move(claim), false});
  return pod;
}

Pod ephemeral_pod() {
  Pod pod = pod_with({});
  pod.volume_claims.push_back({"web-0-scratch", true});
  return pod;
}

// Two nodes in two zones; the classes the cases use.
void world(ClusterState& state) {
  for (auto [name, zone] : {std::pair{"n1", "a"}, std::pair{"n2", "b"}}) {
    Node node;
    node.name = name;
    node.labels = {{"kubernetes.io/hostname", name}, {std::string(kZone), zone}};
    state.upsert_node(node);
  }
  state.upsert_storage_class({"standard", "ebs.csi.aws.com", false, false, {}});
  state.upsert_storage_class({"wffc", "csi.example.com", true, false, {}});
  state.upsert_storage_class({"local", "kubernetes.io/no-provisioner", true, false, {}});
  state.upsert_storage_class(
      {"zonal", "csi.example.com", true, false, {term(std::string(kZone), {"a"})}});
}

struct Case {
  Case(std::string name_, std::function<void(ClusterState&)> setup_, Pod pod_,
       std::string node_ = "n1", std::unordered_set<std::string> taken_ = {},
       std::optional<std::string> prefilter_ = std::nullopt, std::string reason_ = "",
       std::vector<std::pair<std::string, std::string>> bindings_ = {})
      : name(std::move(name_)),
        setup(std::move(setup_)),
        pod(std::move(pod_)),
        node(std::move(node_)),
        taken(std::move(taken_)),
        prefilter(std::move(prefilter_)),
        reason(std::move(reason_)),
        bindings(std::move(bindings_)) {}

  std::string name;
  std::function<void(ClusterState&)> setup;
  Pod pod;
  std::string node;
  std::unordered_set<std::string> taken;
  std::optional<std::string> prefilter;                       // expected pod-level failure
  std::string reason;                                         // expected node failure; "" fits
  std::vector<std::pair<std::string, std::string>> bindings;  // claim key, volume
};

std::vector<Case> cases() {
  std::vector<Case> c;
  c.push_back({"pod without claims costs nothing", [](ClusterState&) {}, pod_with({})});
  c.push_back({"missing claim",
               [](ClusterState&) {},
               pod_with({"data"}),
               "n1",
               {},
               "persistentvolumeclaim \"data\" not found"});
  c.push_back({"claim being deleted",
               [](ClusterState& s) {
                 auto claim = pvc("data", "wffc");
                 claim.deleting = true;
                 s.upsert_persistent_volume_claim(claim);
               },
               pod_with({"data"}),
               "n1",
               {},
               "persistentvolumeclaim \"data\" is being deleted"});
  c.push_back({"lost claim",
               [](ClusterState& s) {
                 auto claim = bound_pvc("data", "gone");
                 claim.phase = "Lost";
                 s.upsert_persistent_volume_claim(claim);
               },
               pod_with({"data"}),
               "n1",
               {},
               "persistentvolumeclaim \"data\" bound to non-existent persistentvolume \"gone\""});
  c.push_back({"unbound claim of an Immediate class",
               [](ClusterState& s) { s.upsert_persistent_volume_claim(pvc("data", "standard")); },
               pod_with({"data"}),
               "n1",
               {},
               "pod has unbound immediate PersistentVolumeClaims"});
  c.push_back({"unbound claim of a class that does not exist is Immediate",
               [](ClusterState& s) { s.upsert_persistent_volume_claim(pvc("data", "nosuch")); },
               pod_with({"data"}),
               "n1",
               {},
               "pod has unbound immediate PersistentVolumeClaims"});
  c.push_back({"claim without class and no default class is Immediate",
               [](ClusterState& s) { s.upsert_persistent_volume_claim(pvc("data", std::nullopt)); },
               pod_with({"data"}),
               "n1",
               {},
               "pod has unbound immediate PersistentVolumeClaims"});
  c.push_back({"claim without class takes the one default class (WaitForFirstConsumer)",
               [](ClusterState& s) {
                 s.upsert_storage_class({"wffc", "csi.example.com", true, true, {}});
                 s.upsert_persistent_volume_claim(pvc("data", std::nullopt));
               },
               pod_with({"data"}),
               "n1",
               {},
               std::nullopt,
               "",
               {{"default/data", ""}}});
  c.push_back({"two default classes: none applies",
               [](ClusterState& s) {
                 s.upsert_storage_class({"wffc", "csi.example.com", true, true, {}});
                 s.upsert_storage_class({"local", "kubernetes.io/no-provisioner", true, true, {}});
                 s.upsert_persistent_volume_claim(pvc("data", std::nullopt));
               },
               pod_with({"data"}),
               "n1",
               {},
               "pod has unbound immediate PersistentVolumeClaims"});
  c.push_back({"claim naming a volume that does not name it back is not bound",
               [](ClusterState& s) {
                 auto claim = pvc("data", "wffc");
                 claim.volume_name = "pv-1";
                 s.upsert_persistent_volume_claim(claim);
                 s.upsert_persistent_volume(pv("pv-1", "wffc", 10));
               },
               pod_with({"data"}),
               "n1",
               {},
               "pod has unbound immediate PersistentVolumeClaims"});
  // Bound claims.
  auto pinned = [](ClusterState& s) {
    auto volume = bound_pv("pv-1", "data");
    volume.node_affinity = {term("kubernetes.io/hostname", {"n1"})};
    s.upsert_persistent_volume(volume);
    s.upsert_persistent_volume_claim(bound_pvc("data", "pv-1"));
  };
  c.push_back({"bound volume's node affinity matches", pinned, pod_with({"data"}), "n1"});
  c.push_back({"bound volume's node affinity conflicts",
               pinned,
               pod_with({"data"}),
               "n2",
               {},
               std::nullopt,
               "node(s) had volume node affinity conflict"});
  c.push_back({"bound by fairway on both sides, no phase yet",
               [](ClusterState& s) {
                 auto volume = bound_pv("pv-1", "data");
                 volume.phase.clear();
                 s.upsert_persistent_volume(volume);
                 auto claim = bound_pvc("data", "pv-1");
                 claim.phase = "Pending";
                 s.upsert_persistent_volume_claim(claim);
               },
               pod_with({"data"}), "n2"});
  c.push_back({"bound volume missing",
               [](ClusterState& s) { s.upsert_persistent_volume_claim(bound_pvc("data", "pv-1")); },
               pod_with({"data"}),
               "n1",
               {},
               std::nullopt,
               "node(s) unavailable due to one or more pvc(s) bound to non-existent pv(s)"});
  // VolumeZone.
  auto zoned = [](std::string key, std::string zones) {
    return [key, zones](ClusterState& s) {
      auto volume = bound_pv("pv-1", "data");
      volume.labels = {{key, zones}};
      s.upsert_persistent_volume(volume);
      s.upsert_persistent_volume_claim(bound_pvc("data", "pv-1"));
    };
  };
  c.push_back({"volume zone matches", zoned(std::string(kZone), "a"), pod_with({"data"}), "n1"});
  c.push_back({"volume zone mismatch",
               zoned(std::string(kZone), "a"),
               pod_with({"data"}),
               "n2",
               {},
               std::nullopt,
               "node(s) had no available volume zone"});
  c.push_back(
      {"multi-zone volume a__b", zoned(std::string(kZone), "a__b"), pod_with({"data"}), "n2"});
  c.push_back({"beta zone label on the volume, GA label on the node",
               zoned("failure-domain.beta.kubernetes.io/zone", "a"),
               pod_with({"data"}),
               "n2",
               {},
               std::nullopt,
               "node(s) had no available volume zone"});
  c.push_back({"volume region label the node lacks",
               zoned("topology.kubernetes.io/region", "eu"),
               pod_with({"data"}),
               "n1",
               {},
               std::nullopt,
               "node(s) had no available volume zone"});
  // WaitForFirstConsumer, static volumes.
  auto local = [](std::vector<PersistentVolume> volumes, PersistentVolumeClaim claim) {
    return [volumes, claim](ClusterState& s) {
      for (const auto& v : volumes) s.upsert_persistent_volume(v);
      s.upsert_persistent_volume_claim(claim);
    };
  };
  c.push_back({"smallest fitting volume",
               local({pv("pv-5", "local", 5), pv("pv-20", "local", 20), pv("pv-10", "local", 10)},
                     pvc("data", "local", 10)),
               pod_with({"data"}),
               "n1",
               {},
               std::nullopt,
               "",
               {{"default/data", "pv-10"}}});
  c.push_back({"volume of another class does not match",
               local({pv("pv-10", "wffc", 10)}, pvc("data", "local", 10)),
               pod_with({"data"}),
               "n1",
               {},
               std::nullopt,
               "node(s) didn't find available persistent volumes to bind"});
  c.push_back({"access modes must include the claim's",
               local({pv("pv-10", "local", 10, kRWO)}, pvc("data", "local", 10, kRWX)),
               pod_with({"data"}),
               "n1",
               {},
               std::nullopt,
               "node(s) didn't find available persistent volumes to bind"});
  c.push_back({"capacity below the request",
               local({pv("pv-5", "local", 5)}, pvc("data", "local", 10)),
               pod_with({"data"}),
               "n1",
               {},
               std::nullopt,
               "node(s) didn't find available persistent volumes to bind"});
  {
    auto gold = pv("pv-50", "local", 50);
    gold.labels = {{"tier", "gold"}};
    auto claim = pvc("data", "local", 10);
    claim.selector = LabelSelector{};
    claim.selector->match_labels = {{"tier", "gold"}};
    c.push_back({"selector picks the labelled volume",
                 local({pv("pv-10", "local", 10), gold}, claim),
                 pod_with({"data"}),
                 "n1",
                 {},
                 std::nullopt,
                 "",
                 {{"default/data", "pv-50"}}});
  }
  {
    auto far = pv("pv-10", "local", 10);
    far.node_affinity = {term("kubernetes.io/hostname", {"n2"})};
    c.push_back({"volume pinned to another node",
                 local({far}, pvc("data", "local")),
                 pod_with({"data"}),
                 "n1",
                 {},
                 std::nullopt,
                 "node(s) didn't find available persistent volumes to bind"});
    c.push_back({"volume pinned to this node",
                 local({far}, pvc("data", "local")),
                 pod_with({"data"}),
                 "n2",
                 {},
                 std::nullopt,
                 "",
                 {{"default/data", "pv-10"}}});
  }
  c.push_back({"volume taken this cycle is skipped",
               local({pv("pv-10", "local", 10), pv("pv-20", "local", 20)}, pvc("data", "local")),
               pod_with({"data"}),
               "n1",
               {"pv-10"},
               std::nullopt,
               "",
               {{"default/data", "pv-20"}}});
  {
    auto deleting = pv("pv-10", "local", 10);
    deleting.deleting = true;
    auto released = pv("pv-11", "local", 11);
    released.phase = "Released";
    auto fresh = pv("pv-12", "local", 12);
    fresh.phase.clear();  // no status yet: not seen by the PV controller
    c.push_back({"deleting, released and not yet available volumes are skipped",
                 local({deleting, released, fresh, pv("pv-30", "local", 30)}, pvc("data", "local")),
                 pod_with({"data"}),
                 "n1",
                 {},
                 std::nullopt,
                 "",
                 {{"default/data", "pv-30"}}});
  }
  c.push_back({"two claims of a pod take two volumes",
               [](ClusterState& s) {
                 s.upsert_persistent_volume(pv("pv-a", "local", 10));
                 s.upsert_persistent_volume(pv("pv-b", "local", 20));
                 s.upsert_persistent_volume_claim(pvc("big", "local", 15));
                 s.upsert_persistent_volume_claim(pvc("small", "local", 5));
               },
               pod_with({"big", "small"}),
               "n1",
               {},
               std::nullopt,
               "",
               // The smaller request chooses first and takes the smallest volume.
               {{"default/small", "pv-a"}, {"default/big", "pv-b"}}});
  c.push_back({"two claims, one volume",
               [](ClusterState& s) {
                 s.upsert_persistent_volume(pv("pv-a", "local", 10));
                 s.upsert_persistent_volume_claim(pvc("one", "local", 5));
                 s.upsert_persistent_volume_claim(pvc("two", "local", 5));
               },
               pod_with({"one", "two"}),
               "n1",
               {},
               std::nullopt,
               "node(s) didn't find available persistent volumes to bind"});
  {
    auto pre = pv("pv-pre", "local", 100);
    pre.claim_namespace = "default";
    pre.claim_name = "data";
    c.push_back({"volume pre-bound by claimRef wins over a smaller one",
                 local({pv("pv-10", "local", 10), pre}, pvc("data", "local")),
                 pod_with({"data"}),
                 "n1",
                 {},
                 std::nullopt,
                 "",
                 {{"default/data", "pv-pre"}}});
    auto other = pre;
    other.claim_name = "someone-else";
    c.push_back({"volume pre-bound to another claim is not available",
                 local({other}, pvc("data", "local")),
                 pod_with({"data"}),
                 "n1",
                 {},
                 std::nullopt,
                 "node(s) didn't find available persistent volumes to bind"});
    auto pinned_pre = pre;
    pinned_pre.node_affinity = {term("kubernetes.io/hostname", {"n2"})};
    c.push_back({"pre-bound volume that cannot serve the node: no other volume is chosen",
                 local({pv("pv-10", "local", 10), pinned_pre}, pvc("data", "local")),
                 pod_with({"data"}),
                 "n1",
                 {},
                 std::nullopt,
                 "node(s) didn't find available persistent volumes to bind"});
  }
  // WaitForFirstConsumer, dynamic provisioning.
  c.push_back({"provisioner serves the node",
               [](ClusterState& s) { s.upsert_persistent_volume_claim(pvc("data", "wffc")); },
               pod_with({"data"}),
               "n2",
               {},
               std::nullopt,
               "",
               {{"default/data", ""}}});
  c.push_back({"static volume preferred to provisioning",
               local({pv("pv-10", "wffc", 10)}, pvc("data", "wffc")),
               pod_with({"data"}),
               "n1",
               {},
               std::nullopt,
               "",
               {{"default/data", "pv-10"}}});
  c.push_back({"allowedTopologies match",
               [](ClusterState& s) { s.upsert_persistent_volume_claim(pvc("data", "zonal")); },
               pod_with({"data"}),
               "n1",
               {},
               std::nullopt,
               "",
               {{"default/data", ""}}});
  c.push_back({"allowedTopologies exclude the node",
               [](ClusterState& s) { s.upsert_persistent_volume_claim(pvc("data", "zonal")); },
               pod_with({"data"}),
               "n2",
               {},
               std::nullopt,
               "node(s) didn't find available persistent volumes to bind"});
  c.push_back({"no-provisioner class without a volume",
               [](ClusterState& s) { s.upsert_persistent_volume_claim(pvc("data", "local")); },
               pod_with({"data"}),
               "n1",
               {},
               std::nullopt,
               "node(s) didn't find available persistent volumes to bind"});
  {
    auto selected = pvc("data", "wffc");
    selected.annotations = {{"volume.kubernetes.io/selected-node", "n2"}};
    c.push_back({"claim already selected for another node",
                 local({}, selected),
                 pod_with({"data"}),
                 "n1",
                 {},
                 std::nullopt,
                 "node(s) didn't find available persistent volumes to bind"});
    c.push_back({"claim selected for this node is provisioned here",
                 local({}, selected),
                 pod_with({"data"}),
                 "n2",
                 {},
                 std::nullopt,
                 "",
                 {{"default/data", ""}}});
  }
  // ReadWriteOncePod.
  auto rwop = [](bool in_use) {
    return [in_use](ClusterState& s) {
      s.upsert_persistent_volume(bound_pv("pv-1", "data"));
      auto claim = bound_pvc("data", "pv-1");
      claim.access_modes = kRWOP;
      s.upsert_persistent_volume_claim(claim);
      if (in_use) {
        Pod other = pod_with({"data"}, "other");
        other.node_name = "n2";
        other.phase = PodPhase::kRunning;
        s.upsert_pod(other);
      }
    };
  };
  c.push_back({"ReadWriteOncePod claim in use by another pod",
               rwop(true),
               pod_with({"data"}),
               "n1",
               {},
               std::nullopt,
               "node has pod using PersistentVolumeClaim with the same name and ReadWriteOncePod "
               "access mode"});
  c.push_back({"ReadWriteOncePod claim not in use", rwop(false), pod_with({"data"}), "n1"});
  // Generic ephemeral volumes.
  c.push_back({"ephemeral claim not created yet",
               [](ClusterState&) {},
               ephemeral_pod(),
               "n1",
               {},
               "waiting for ephemeral volume controller to create the persistentvolumeclaim "
               "\"web-0-scratch\""});
  c.push_back({"ephemeral claim owned by another pod",
               [](ClusterState& s) {
                 auto claim = pvc("web-0-scratch", "wffc");
                 claim.owner_kind = "Pod";
                 claim.owner_uid = "uid-of-an-older-web-0";
                 s.upsert_persistent_volume_claim(claim);
               },
               ephemeral_pod(),
               "n1",
               {},
               "PVC default/web-0-scratch was not created for pod default/web-0 (pod is not "
               "owner)"});
  c.push_back({"ephemeral claim owned by the pod",
               [](ClusterState& s) {
                 auto claim = pvc("web-0-scratch", "wffc");
                 claim.owner_kind = "Pod";
                 claim.owner_uid = "uid-web-0";
                 s.upsert_persistent_volume_claim(claim);
               },
               ephemeral_pod(),
               "n1",
               {},
               std::nullopt,
               "",
               {{"default/web-0-scratch", ""}}});
  // CSINode attach limits.
  auto csi = [](int64_t limit, bool same_volume) {
    return [limit, same_volume](ClusterState& s) {
      s.upsert_csi_node({"n1", {{"ebs.csi.aws.com", limit}}});
      for (const char* name : {"pv-1", "pv-2"}) {
        auto volume = bound_pv(name, name == std::string("pv-1") ? "old" : "new");
        volume.csi_driver = "ebs.csi.aws.com";
        s.upsert_persistent_volume(volume);
      }
      s.upsert_persistent_volume_claim(bound_pvc("old", "pv-1"));
      s.upsert_persistent_volume_claim(bound_pvc("new", same_volume ? "pv-1" : "pv-2"));
      Pod running = pod_with({"old"}, "running");
      running.node_name = "n1";
      running.phase = PodPhase::kRunning;
      s.upsert_pod(running);
    };
  };
  c.push_back({"CSI attach limit reached",
               csi(1, false),
               pod_with({"new"}),
               "n1",
               {},
               std::nullopt,
               "node(s) exceed max volume count"});
  c.push_back({"CSI attach limit with room", csi(2, false), pod_with({"new"}), "n1"});
  c.push_back(
      {"CSI volume already attached is not counted twice", csi(1, true), pod_with({"old"}), "n1"});
  c.push_back({"node without CSINode has no limit", csi(1, false), pod_with({"new"}), "n2"});
  return c;
}

class VolumeBindingTest : public ::testing::TestWithParam<Case> {};

TEST_P(VolumeBindingTest, FollowsKubeScheduler) {
  const Case& c = GetParam();
  ClusterState state;
  world(state);
  c.setup(state);
  EXPECT_EQ(volume_prefilter(state, c.pod), c.prefilter);
  if (c.prefilter) return;
  const NodeRecord* node = state.find_node(c.node);
  ASSERT_NE(node, nullptr);
  const VolumeVerdict verdict = volume_filter(state, c.pod, node->node, c.taken);
  EXPECT_EQ(verdict.fits, c.reason.empty());
  EXPECT_EQ(verdict.reason, c.reason);
  std::vector<std::pair<std::string, std::string>> bindings;
  for (const VolumeBinding& b : verdict.bindings) {
    EXPECT_EQ(b.node, c.node);
    bindings.emplace_back(b.claim, b.volume);
  }
  EXPECT_EQ(bindings, c.bindings);
}

INSTANTIATE_TEST_SUITE_P(Rules, VolumeBindingTest, ::testing::ValuesIn(cases()),
                         [](const ::testing::TestParamInfo<Case>& param) {
                           std::string name;
                           for (char ch : param.param.name) {
                             name += std::isalnum(static_cast<unsigned char>(ch)) ? ch : '_';
                           }
                           return name;
                         });

}  // namespace
}  // namespace fairway
