// Decoders and encoders for the Kubernetes objects fairway reads and writes.
#include "k8s-client/objects.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

namespace fairway::k8s {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;

// What `kubectl get pod -o json` prints for a gang member, trimmed of nothing we care about:
// managedFields, ownerReferences and container status are there to be skipped.
constexpr const char* kPod = R"({
  "apiVersion": "v1",
  "kind": "Pod",
  "metadata": {
    "annotations": {"fairway.dev/pod-group": "train-1", "kubectl.kubernetes.io/last-applied-configuration": "{\"x\":1}"},
    "creationTimestamp": "2024-05-01T12:00:00Z",
    "generateName": "train-1-",
    "labels": {"app": "train", "fairway.dev/queue": "team-a"},
    "managedFields": [{"apiVersion": "v1", "fieldsType": "FieldsV1", "fieldsV1": {"f:metadata": {}}, "manager": "kubectl", "operation": "Update", "time": "2024-05-01T12:00:00Z"}],
    "name": "train-1-0",
    "namespace": "ml",
    "ownerReferences": [{"apiVersion": "batch/v1", "kind": "Job", "name": "train-1", "uid": "j-1"}],
    "resourceVersion": "12345",
    "uid": "3f1c2b9e-0000-4000-8000-000000000001"
  },
  "spec": {
    "affinity": {
      "nodeAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": {
          "nodeSelectorTerms": [
            {"matchExpressions": [{"key": "nvidia.com/gpu.product", "operator": "In", "values": ["H100", "A100"]},
                                  {"key": "spot", "operator": "DoesNotExist"}]},
            {"matchFields": [{"key": "metadata.name", "operator": "NotIn", "values": ["node-9"]}]}
          ]
        },
        "preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 1, "preference": {"matchExpressions": []}}]
      },
      "podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": []}
    },
    "containers": [
      {"image": "trainer:1", "name": "main",
       "resources": {"limits": {"nvidia.com/gpu": "8", "memory": "64Gi"},
                     "requests": {"cpu": "7500m", "memory": "64Gi", "nvidia.com/gpu": "8"}}},
      {"image": "logger:1", "name": "logger", "resources": {"requests": {"cpu": 0.5, "memory": 134217728}}}
    ],
    "initContainers": [
      {"name": "setup", "image": "setup:1", "resources": {"requests": {"cpu": "2"}}},
      {"name": "proxy", "image": "proxy:1", "restartPolicy": "Always", "resources": {"requests": {"cpu": "100m"}}}
    ],
    "nodeName": "node-3",
    "nodeSelector": {"kubernetes.io/arch": "amd64"},
    "overhead": {"cpu": "250m"},
    "priority": 1000,
    "priorityClassName": "high",
    "preemptionPolicy": "Never",
    "restartPolicy": "Never",
    "schedulerName": "fairway",
    "tolerations": [
      {"effect": "NoExecute", "key": "node.kubernetes.io/not-ready", "operator": "Exists", "tolerationSeconds": 300},
      {"effect": "NoSchedule", "key": "nvidia.com/gpu", "operator": "Equal", "value": "present"},
      {"operator": "Exists"}
    ]
  },
  "status": {
    "conditions": [{"type": "PodScheduled", "status": "True"}],
    "containerStatuses": [{"name": "main", "ready": true, "restartCount": 0}],
    "phase": "Running",
    "qosClass": "Burstable"
  }
})";

TEST(DecodePod, ReadsEveryModelledField) {
  auto decoded = decode_pod(kPod);
  ASSERT_TRUE(decoded) << decoded.error();
  const ObjectMeta& meta = decoded->meta;
  EXPECT_EQ(meta.key(), "ml/train-1-0");
  EXPECT_EQ(meta.resource_version, "12345");
  EXPECT_EQ(meta.uid, "3f1c2b9e-0000-4000-8000-000000000001");
  const Pod& pod = decoded->object;
  EXPECT_EQ(pod.key(), "ml/train-1-0");
  EXPECT_EQ(pod.uid, meta.uid);
  EXPECT_EQ(pod.scheduler_name, "fairway");
  EXPECT_EQ(pod.node_name, "node-3");
  EXPECT_EQ(pod.phase, PodPhase::kRunning);
  EXPECT_EQ(pod.priority, 1000);
  EXPECT_EQ(pod.priority_class_name, "high");
  EXPECT_EQ(pod.preemption_policy, "Never");
  EXPECT_EQ(pod.creation_ms, 1714564800000);
  EXPECT_FALSE(pod.deleting);
  EXPECT_THAT(pod.labels, ElementsAre(Pair("app", "train"), Pair("fairway.dev/queue", "team-a")));
  EXPECT_EQ(pod.annotations.at("fairway.dev/pod-group"), "train-1");
  EXPECT_FALSE(pod.annotations.contains("kubectl.kubernetes.io/last-applied-configuration"));
  ASSERT_EQ(pod.containers.size(), 2u);
  EXPECT_EQ(pod.containers[0].name, "main");
  EXPECT_EQ(pod.containers[0].requests.at("cpu"), 7500);
  EXPECT_EQ(pod.containers[0].requests.at("memory"), int64_t{64} << 30);
  EXPECT_EQ(pod.containers[0].requests.at("nvidia.com/gpu"), 8000);
  EXPECT_EQ(pod.containers[0].limits.at("nvidia.com/gpu"), 8000);
  EXPECT_EQ(pod.containers[1].requests.at("cpu"), 500);  // JSON number 0.5
  EXPECT_EQ(pod.containers[1].requests.at("memory"), 134217728);
  ASSERT_EQ(pod.init_containers.size(), 2u);
  EXPECT_FALSE(pod.init_containers[0].restart_always);
  EXPECT_TRUE(pod.init_containers[1].restart_always);
  EXPECT_EQ(pod.overhead.at("cpu"), 250);
  EXPECT_THAT(pod.node_selector, ElementsAre(Pair("kubernetes.io/arch", "amd64")));
  ASSERT_EQ(pod.required_node_affinity.size(), 2u);
  const auto& first = pod.required_node_affinity[0].match_expressions;
  ASSERT_EQ(first.size(), 2u);
  EXPECT_EQ(first[0].key, "nvidia.com/gpu.product");
  EXPECT_EQ(first[0].op, NodeSelectorRequirement::Operator::kIn);
  EXPECT_THAT(first[0].values, ElementsAre("H100", "A100"));
  EXPECT_EQ(first[1].op, NodeSelectorRequirement::Operator::kDoesNotExist);
  const auto& fields = pod.required_node_affinity[1].match_fields;
  ASSERT_EQ(fields.size(), 1u);
  EXPECT_EQ(fields[0].op, NodeSelectorRequirement::Operator::kNotIn);
  ASSERT_EQ(pod.tolerations.size(), 3u);
  EXPECT_EQ(pod.tolerations[0].op, Toleration::Operator::kExists);
  EXPECT_EQ(pod.tolerations[0].effect, TaintEffect::kNoExecute);
  EXPECT_EQ(pod.tolerations[1].value, "present");
  EXPECT_EQ(pod.tolerations[1].op, Toleration::Operator::kEqual);
  EXPECT_EQ(pod.tolerations[1].effect, TaintEffect::kNoSchedule);
  EXPECT_TRUE(pod.tolerations[2].key.empty());
  EXPECT_FALSE(pod.tolerations[2].effect.has_value());
}

TEST(DecodePod, MinimalPodTakesDefaults) {
  auto decoded = decode_pod(
      R"({"metadata":{"name":"p","namespace":"default","deletionTimestamp":"2024-05-01T12:00:00Z"},)"
      R"("spec":{"containers":[{"name":"c"}]}})");
  ASSERT_TRUE(decoded) << decoded.error();
  EXPECT_EQ(decoded->object.phase, PodPhase::kPending);
  EXPECT_EQ(decoded->object.priority, 0);
  EXPECT_TRUE(decoded->object.deleting);
  EXPECT_TRUE(decoded->object.containers[0].requests.empty());
}

TEST(DecodePod, NullsAreEmpty) {
  auto decoded = decode_pod(
      R"({"metadata":{"name":"p","namespace":"d","labels":null,"deletionTimestamp":null},)"
      R"("spec":{"nodeSelector":null,"tolerations":null,"containers":[{"name":"c","resources":{"requests":null}}]}})");
  ASSERT_TRUE(decoded) << decoded.error();
  EXPECT_FALSE(decoded->object.deleting);
  EXPECT_TRUE(decoded->object.labels.empty());
}

TEST(DecodePod, BadQuantityKeepsThePodWithAProblemNamingTheField) {
  // The pod must stay visible so the scheduler can say why it never places it; the fields after
  // the bad one (schedulerName) are still read.
  auto decoded = decode_pod(
      R"({"metadata":{"name":"p","namespace":"d"},"spec":{"containers":[{"name":"c","resources":)"
      R"({"requests":{"cpu":"abc"}}}],"overhead":{"nvidia.com/gpu":"1e100"},"schedulerName":"fairway"}})");
  ASSERT_TRUE(decoded) << decoded.error();
  EXPECT_EQ(decoded->object.scheduler_name, "fairway");
  ASSERT_EQ(decoded->object.problems.size(), 2U);
  EXPECT_THAT(decoded->object.problems[0],
              HasSubstr("spec.containers[0].resources.requests.cpu: quantity \"abc\""));
  EXPECT_THAT(decoded->object.problems[1],
              HasSubstr("spec.overhead.nvidia.com/gpu: quantity \"1e100\""));
}

TEST(DecodePod, BadFieldsNeverThrow) {
  const char* cases[][2] = {
      {R"({"spec":{"priority":"high"}})", "spec.priority"},
      {R"({"spec":{"priority":99999999999}})", "spec.priority"},
      {R"({"spec":{"tolerations":[{"operator":"Maybe"}]}})", "spec.tolerations[0].operator"},
      {R"({"spec":{"tolerations":[{},{"effect":"Sometimes"}]}})", "spec.tolerations[1].effect"},
      {R"({"metadata":{"labels":{"a":1}}})", "metadata.labels.a"},
      {R"({"metadata":{"creationTimestamp":"yesterday"}})", "metadata.creationTimestamp"},
      {R"({"spec":{"affinity":{"nodeAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":)"
       R"({"nodeSelectorTerms":[{"matchExpressions":[{"key":"a","operator":"Near"}]}]}}}}})",
       "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution."
       "nodeSelectorTerms[0].matchExpressions[0].operator"},
  };
  for (const auto& [json, path] : cases) {
    auto decoded = decode_pod(json);
    ASSERT_FALSE(decoded) << json;
    EXPECT_THAT(decoded.error(), HasSubstr(std::string(path) + ": ")) << json;
  }
  for (const char* json : {R"({"spec":{"containers":[{"resources":{"limits":{"memory":true}}}]}})",
                           R"({"spec":{"containers":{}}})"}) {
    auto decoded = decode_pod(json);
    ASSERT_TRUE(decoded) << json;
    EXPECT_EQ(decoded->object.problems.size(), 1U) << json;
  }
  EXPECT_FALSE(decode_pod("not json"));
  EXPECT_FALSE(decode_pod("[1,2]"));
  EXPECT_FALSE(decode_pod(""));
  EXPECT_FALSE(decode_pod(R"({"metadata":{"name":"p")"));
}

TEST(DecodeNode, TaintsAllocatableReadiness) {
  auto decoded = decode_node(R"({
    "apiVersion": "v1", "kind": "Node",
    "metadata": {"name": "gpu-1", "uid": "n-1", "resourceVersion": "7",
                 "labels": {"kubernetes.io/hostname": "gpu-1", "nvidia.com/gpu.clique": "c1"},
                 "annotations": {"node.alpha.kubernetes.io/ttl": "0"}},
    "spec": {"podCIDR": "10.0.0.0/24", "unschedulable": true,
             "taints": [{"effect": "NoSchedule", "key": "nvidia.com/gpu", "value": "present"},
                        {"effect": "PreferNoSchedule", "key": "spot"}]},
    "status": {"allocatable": {"cpu": "95500m", "memory": "1056589616Ki", "nvidia.com/gpu": "8", "pods": "110"},
               "capacity": {"cpu": "96"},
               "conditions": [{"type": "MemoryPressure", "status": "False"}, {"type": "Ready", "status": "False"}],
               "nodeInfo": {"kubeletVersion": "v1.29.0"}}
  })");
  ASSERT_TRUE(decoded) << decoded.error();
  const Node& node = decoded->object;
  EXPECT_EQ(node.name, "gpu-1");
  EXPECT_EQ(node.uid, "n-1");
  EXPECT_EQ(decoded->meta.key(), "gpu-1");
  EXPECT_TRUE(node.unschedulable);
  EXPECT_FALSE(node.ready);
  ASSERT_EQ(node.taints.size(), 2u);
  EXPECT_EQ(node.taints[0].value, "present");
  EXPECT_EQ(node.taints[1].effect, TaintEffect::kPreferNoSchedule);
  EXPECT_EQ(node.allocatable.at("cpu"), 95500);
  EXPECT_EQ(node.allocatable.at("memory"), int64_t{1056589616} * 1024);
  EXPECT_EQ(node.allocatable.at("nvidia.com/gpu"), 8000);
  EXPECT_EQ(node.allocatable.at("pods"), 110000);
  EXPECT_EQ(node.labels.at("nvidia.com/gpu.clique"), "c1");

  auto ready = decode_node(
      R"({"metadata":{"name":"n"},"status":{"conditions":[{"type":"Ready","status":"True"}]}})");
  ASSERT_TRUE(ready);
  EXPECT_TRUE(ready->object.ready);
  auto unknown = decode_node(R"({"metadata":{"name":"n"}})");
  ASSERT_TRUE(unknown);
  EXPECT_TRUE(unknown->object.ready);  // no Ready condition reported: not held against it
}

TEST(DecodeQueue, QuantitiesWeightsDurations) {
  auto decoded = decode_queue(R"({
    "apiVersion": "scheduling.fairway.dev/v1alpha1", "kind": "Queue",
    "metadata": {"name": "team-a", "resourceVersion": "3", "uid": "q-1"},
    "spec": {"parent": "org", "priority": 5,
             "resources": {"cpu": {"quota": 64, "limit": "128", "overQuotaWeight": 2},
                           "memory": {"quota": "256Gi"},
                           "nvidia.com/gpu": {"quota": "16", "limit": 32, "overQuotaWeight": 0.5}},
             "preemptMinRuntime": "5m", "reclaimMinRuntime": "1h30m"},
    "status": {"allocated": {"cpu": "3"}}
  })");
  ASSERT_TRUE(decoded) << decoded.error();
  const QueueSpec& q = decoded->object;
  EXPECT_EQ(q.name, "team-a");
  EXPECT_EQ(q.parent, "org");
  EXPECT_EQ(q.priority, 5);
  EXPECT_EQ(q.resources.at("cpu").quota, 64000);
  EXPECT_EQ(q.resources.at("cpu").limit, 128000);
  EXPECT_EQ(q.resources.at("cpu").over_quota_weight, 2);
  EXPECT_EQ(q.resources.at("memory").quota, int64_t{256} << 30);
  EXPECT_FALSE(q.resources.at("memory").limit.has_value());
  EXPECT_EQ(q.resources.at("memory").over_quota_weight, 1);
  EXPECT_EQ(q.resources.at("nvidia.com/gpu").limit, 32000);
  EXPECT_EQ(q.resources.at("nvidia.com/gpu").over_quota_weight, 0.5);
  EXPECT_EQ(q.preempt_min_runtime_seconds, 300);
  EXPECT_EQ(q.reclaim_min_runtime_seconds, 5400);

  // A bad spec keeps the Queue, with a problem naming the field (Valid=False/InvalidSpec).
  auto problem_of = [](const char* json) {
    auto result = decode_queue(json);
    EXPECT_TRUE(result) << json;
    if (!result || result->object.problems.size() != 1) return std::string("<no single problem>");
    EXPECT_EQ(result->object.name, "q");
    return result->object.problems[0];
  };
  EXPECT_THAT(
      problem_of(R"({"metadata":{"name":"q"},"spec":{"resources":{"cpu":{"quota":"lots"}}}})"),
      HasSubstr("spec.resources.cpu.quota: quantity \"lots\""));
  EXPECT_THAT(problem_of(R"({"metadata":{"name":"q"},"spec":{"preemptMinRuntime":"5 minutes"}})"),
              HasSubstr("spec.preemptMinRuntime: duration"));
  EXPECT_THAT(
      problem_of(
          R"({"metadata":{"name":"q"},"spec":{"resources":{"cpu":{"overQuotaWeight":-1}}}})"),
      HasSubstr("spec.resources.cpu.overQuotaWeight"));
  auto not_an_object = decode_queue(R"({"metadata":{"name":"q"},"spec":[1]})");
  ASSERT_TRUE(not_an_object);
  EXPECT_FALSE(not_an_object->object.problems.empty());
}

TEST(DecodeQueue, NamespaceSelector) {
  auto decoded = decode_queue(R"({"metadata":{"name":"q"},"spec":{"namespaceSelector":{
      "matchLabels":{"tenant":"red"},
      "matchExpressions":[{"key":"tier","operator":"NotIn","values":["free"]},
                          {"key":"team","operator":"Exists"}]}}})");
  ASSERT_TRUE(decoded) << decoded.error();
  ASSERT_TRUE(decoded->object.namespace_selector);
  const LabelSelector& s = *decoded->object.namespace_selector;
  EXPECT_EQ(s.invalid, "");
  EXPECT_EQ(describe_selector(s), "tenant=red,tier notin (free),team");

  auto absent = decode_queue(R"({"metadata":{"name":"q"},"spec":{}})");
  ASSERT_TRUE(absent);
  EXPECT_FALSE(absent->object.namespace_selector);
}

TEST(DecodeQueue, MalformedNamespaceSelectorClosesTheQueue) {
  for (const char* selector :
       {R"({"matchExpressions":[{"key":"a","operator":"Like","values":["x"]}]})",
        R"({"matchExpressions":[{"key":"a","operator":"In"}]})",
        R"({"matchExpressions":[{"operator":"Exists"}]})", R"({"matchLabels":{"a":1}})",
        R"("red")"}) {
    auto decoded = decode_queue(
        std::string(R"({"metadata":{"name":"q"},"spec":{"namespaceSelector":)") + selector + "}}");
    ASSERT_TRUE(decoded) << selector << ": " << decoded.error();
    ASSERT_TRUE(decoded->object.namespace_selector) << selector;
    EXPECT_THAT(decoded->object.namespace_selector->invalid, HasSubstr("spec.namespaceSelector"))
        << selector;
  }
}

TEST(DecodeNamespace, Labels) {
  auto decoded = decode_namespace(
      R"({"metadata":{"name":"team-a","labels":{"tenant":"red"}},"spec":{"finalizers":["kubernetes"]}})");
  ASSERT_TRUE(decoded) << decoded.error();
  EXPECT_EQ(decoded->object.name, "team-a");
  EXPECT_THAT(decoded->object.labels, ElementsAre(Pair("tenant", "red")));
}

TEST(DecodePodGroup, AllFields) {
  auto decoded = decode_pod_group(R"({
    "apiVersion": "scheduling.fairway.dev/v1alpha1", "kind": "PodGroup",
    "metadata": {"name": "train-1", "namespace": "ml", "creationTimestamp": "2024-05-01T12:00:01Z"},
    "spec": {"minMember": 16, "queue": "team-a", "priorityClassName": "high",
             "scheduleTimeoutSeconds": 600,
             "topologyConstraint": {"topology": "fabric", "requiredLevel": "rack", "preferredLevel": "nvidia.com/gpu.clique"}},
    "status": {"phase": "Pending"}
  })");
  ASSERT_TRUE(decoded) << decoded.error();
  const PodGroup& g = decoded->object;
  EXPECT_EQ(g.key(), "ml/train-1");
  EXPECT_EQ(g.min_member, 16);
  EXPECT_EQ(g.queue, "team-a");
  EXPECT_EQ(g.priority_class_name, "high");
  EXPECT_EQ(g.schedule_timeout_seconds, 600);
  EXPECT_EQ(g.topology_constraint.topology, "fabric");
  EXPECT_EQ(g.topology_constraint.required_level, "rack");
  EXPECT_EQ(g.topology_constraint.preferred_level, "nvidia.com/gpu.clique");
  EXPECT_EQ(g.creation_ms, 1714564801000);
  auto bad =
      decode_pod_group(R"({"metadata":{"name":"g","namespace":"n"},"spec":{"minMember":-2}})");
  ASSERT_TRUE(bad) << bad.error();  // kept, with the problem: its gang says why it waits
  ASSERT_EQ(bad->object.problems.size(), 1U);
  EXPECT_THAT(bad->object.problems[0], HasSubstr("spec.minMember"));
  EXPECT_EQ(bad->object.name, "g");
}

TEST(DecodeTopology, Levels) {
  auto decoded = decode_topology(R"({"metadata":{"name":"fabric"},"spec":{"levels":[
      {"nodeLabel":"fabric.example/spine"},{"nodeLabel":"fabric.example/rack","bandwidthGBps":50},
      {"nodeLabel":"kubernetes.io/hostname","bandwidthGBps":400.5}]}})");
  ASSERT_TRUE(decoded) << decoded.error();
  const TopologySpec& t = decoded->object;
  EXPECT_EQ(t.name, "fabric");
  ASSERT_EQ(t.levels.size(), 3u);
  EXPECT_FALSE(t.levels[0].bandwidth_gbps);
  EXPECT_EQ(t.levels[1].bandwidth_gbps, 50);
  EXPECT_EQ(t.levels[2].bandwidth_gbps, 400.5);
  auto bad =
      decode_topology(R"({"metadata":{"name":"f"},"spec":{"levels":[{"bandwidthGBps":1}]}})");
  ASSERT_FALSE(bad);
  EXPECT_THAT(bad.error(), HasSubstr("spec.levels[0].nodeLabel: required"));
}

TEST(DecodePriorityClass, Fields) {
  auto decoded =
      decode_priority_class(R"({"apiVersion":"scheduling.k8s.io/v1","kind":"PriorityClass",
      "metadata":{"name":"high"},"value":100000,"globalDefault":true,"preemptionPolicy":"Never",
      "description":"x"})");
  ASSERT_TRUE(decoded) << decoded.error();
  EXPECT_EQ(decoded->object.name, "high");
  EXPECT_EQ(decoded->object.value, 100000);
  EXPECT_TRUE(decoded->object.global_default);
  EXPECT_EQ(decoded->object.preemption_policy, "Never");
}

TEST(DecodeList, PagesAndBadItems) {
  auto list = decode_list<Pod>(R"({"apiVersion":"v1","kind":"PodList",
      "metadata":{"resourceVersion":"900","continue":"tok"},
      "items":[{"metadata":{"name":"a","namespace":"n","resourceVersion":"1"}},
               {"metadata":{"name":"b","namespace":"n","resourceVersion":"2"},"spec":{"priority":"x"}},
               {"metadata":{"name":"c","namespace":"n","resourceVersion":"3"}}]})");
  ASSERT_TRUE(list) << list.error();
  EXPECT_EQ(list->resource_version, "900");
  EXPECT_EQ(list->continue_token, "tok");
  ASSERT_EQ(list->items.size(), 2u);
  EXPECT_EQ(list->items[1].meta.name, "c");
  ASSERT_EQ(list->errors.size(), 1u);
  EXPECT_EQ(list->errors[0].key, "n/b");
  EXPECT_THAT(list->errors[0].message, HasSubstr("items[1]: spec.priority"));

  // Same through a caller-provided decoder.
  auto custom = decode_list<Pod>(
      R"({"metadata":{"resourceVersion":"5"},"items":[{"metadata":{"name":"a","namespace":"n"}}]})",
      &decode_pod);
  ASSERT_TRUE(custom) << custom.error();
  ASSERT_EQ(custom->items.size(), 1u);
  EXPECT_EQ(custom->items[0].object.name, "a");

  auto empty = decode_list<Node>(R"({"metadata":{"resourceVersion":"5"},"items":null})");
  ASSERT_TRUE(empty);
  EXPECT_TRUE(empty->items.empty());
  EXPECT_FALSE(decode_list<Node>(R"({"metadata":{"resourceVersion":"5"},"items":{}})"));
}

TEST(DecodeList, OwnedBodyParsesInPlaceAndLeavesItAsItWas) {
  const std::string text = R"({"metadata":{"resourceVersion":"900"},
      "items":[{"metadata":{"name":"a","namespace":"n","labels":{"x":"1","y":"2"}},
                "spec":{"containers":[{"name":"c","resources":{"requests":{"cpu":"1","memory":"1Gi"}}}],
                        "tolerations":[{"key":"k","operator":"Exists"},{"key":"j","value":"v"}]}},
               {"metadata":{"name":"b","namespace":"n"},"spec":{"priority":"x"}}]})";
  const auto viewed = decode_list<Pod>(std::string_view(text));
  ASSERT_TRUE(viewed) << viewed.error();
  // With room for the padding (RestClient's bodies) and without (the string grows once).
  std::string padded;
  padded.reserve(text.size() + kListPadding);
  padded = text;
  const char* before = padded.data();
  std::string tight = text;
  tight.shrink_to_fit();
  for (std::string* body : {&padded, &tight}) {
    auto owned = decode_list<Pod>(*body);
    ASSERT_TRUE(owned) << owned.error();
    EXPECT_EQ(*body, text);
    EXPECT_EQ(owned->resource_version, "900");
    ASSERT_EQ(owned->items.size(), 1u);
    const Pod& pod = owned->items[0].object;
    EXPECT_EQ(pod.labels, viewed->items[0].object.labels);
    ASSERT_EQ(pod.containers.size(), 1u);
    EXPECT_EQ(pod.containers[0].requests, viewed->items[0].object.containers[0].requests);
    ASSERT_EQ(pod.tolerations.size(), 2u);
    EXPECT_EQ(pod.tolerations[1].value, "v");
    ASSERT_EQ(owned->errors.size(), 1u);
    EXPECT_EQ(owned->errors[0].message, viewed->errors[0].message);
  }
  EXPECT_EQ(padded.data(), before);  // parsed in place: no copy

  std::string malformed = R"({"items":[{"metadata":)";
  auto bad = decode_list<Pod>(malformed);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error(), decode_list<Pod>(std::string_view(malformed)).error());
  EXPECT_EQ(malformed, R"({"items":[{"metadata":)");
}

TEST(DecodeList, ResourceListKeepsTheLastOfDuplicateKeysInAnyOrder) {
  auto list = decode_list<Pod>(R"({"items":[{"metadata":{"name":"a"},"spec":{"containers":[
      {"name":"c","resources":{"requests":{"memory":"1Gi","cpu":"1","cpu":"2","a":"3"}}}]}}]})");
  ASSERT_TRUE(list) << list.error();
  ASSERT_EQ(list->items.size(), 1u);
  const ResourceList expected = {{"a", 3000}, {"cpu", 2000}, {"memory", int64_t{1} << 30}};
  EXPECT_EQ(list->items[0].object.containers[0].requests, expected);
}

TEST(DecodeWatchEvent, Kinds) {
  auto added = decode_watch_event<Pod>(
      R"({"type":"ADDED","object":{"metadata":{"name":"a","namespace":"n","resourceVersion":"10"}}})");
  ASSERT_TRUE(added) << added.error();
  EXPECT_EQ(added->kind, WatchEventKind::kAdded);
  EXPECT_EQ(added->object.object.name, "a");
  EXPECT_EQ(added->object.meta.resource_version, "10");

  // "object" before "type" is legal JSON and must work too.
  auto deleted = decode_watch_event<Node>(
      R"({"object":{"metadata":{"name":"n1","resourceVersion":"11"}},"type":"DELETED"})");
  ASSERT_TRUE(deleted) << deleted.error();
  EXPECT_EQ(deleted->kind, WatchEventKind::kDeleted);
  EXPECT_EQ(deleted->object.object.name, "n1");

  // A bookmark of a kind whose spec has required fields still decodes.
  auto bookmark = decode_watch_event<TopologySpec>(
      R"({"type":"BOOKMARK","object":{"kind":"Topology","apiVersion":"scheduling.fairway.dev/v1alpha1","metadata":{"resourceVersion":"12","annotations":{"k8s.io/initial-events-end":"true"}},"spec":{"levels":[{}]}}})");
  ASSERT_TRUE(bookmark) << bookmark.error();
  EXPECT_EQ(bookmark->kind, WatchEventKind::kBookmark);
  EXPECT_EQ(bookmark->object.meta.resource_version, "12");

  auto error = decode_watch_event<Pod>(
      R"j({"type":"ERROR","object":{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"too old resource version: 1 (5)","reason":"Expired","code":410}})j");
  ASSERT_TRUE(error) << error.error();
  EXPECT_EQ(error->kind, WatchEventKind::kError);
  EXPECT_EQ(error->status.code, 410);
  EXPECT_EQ(error->status.reason, "Expired");

  auto bad_object = decode_watch_event<Pod>(
      R"({"type":"MODIFIED","object":{"metadata":{"name":"a","namespace":"n","resourceVersion":"13"},"spec":{"priority":[]}}})");
  ASSERT_TRUE(bad_object) << bad_object.error();
  EXPECT_THAT(bad_object->object_error, HasSubstr("object.spec.priority"));
  EXPECT_EQ(bad_object->object.meta.resource_version, "13");

  EXPECT_FALSE(decode_watch_event<Pod>(R"({"type":"EXPLODED","object":{}})"));
  EXPECT_FALSE(decode_watch_event<Pod>(R"({"type":"ADDED"})"));
  EXPECT_FALSE(decode_watch_event<Pod>(R"({"type":"ADDED","obj)"));
}

TEST(DecodeStatus, Fields) {
  auto status = decode_status(
      R"({"kind":"Status","status":"Failure","message":"pods \"x\" already bound","reason":"Conflict","code":409})");
  ASSERT_TRUE(status);
  EXPECT_EQ(status->code, 409);
  EXPECT_EQ(status->reason, "Conflict");
}

TEST(Time, Rfc3339) {
  EXPECT_EQ(parse_rfc3339_ms("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(parse_rfc3339_ms("2024-05-01T12:00:00Z"), 1714564800000);
  EXPECT_EQ(parse_rfc3339_ms("2024-05-01T12:00:00.123456Z"), 1714564800123);
  EXPECT_EQ(parse_rfc3339_ms("2024-05-01T14:00:00+02:00"), 1714564800000);
  EXPECT_EQ(parse_rfc3339_ms("2024-02-29T00:00:00Z"), 1709164800000);
  EXPECT_FALSE(parse_rfc3339_ms("2024-05-01"));
  EXPECT_FALSE(parse_rfc3339_ms("2024-13-01T00:00:00Z"));
  EXPECT_FALSE(parse_rfc3339_ms("2024-05-01T12:00:00"));
  EXPECT_EQ(format_rfc3339(1714564800000), "2024-05-01T12:00:00Z");
  EXPECT_EQ(format_rfc3339(1714564800123, true), "2024-05-01T12:00:00.123000Z");
  EXPECT_EQ(parse_rfc3339_ms(format_rfc3339(1709164800000)), 1709164800000);
}

TEST(Time, GoDurations) {
  EXPECT_EQ(parse_go_duration_seconds("90s"), 90);
  EXPECT_EQ(parse_go_duration_seconds("5m"), 300);
  EXPECT_EQ(parse_go_duration_seconds("1h30m"), 5400);
  EXPECT_EQ(parse_go_duration_seconds("1.5h"), 5400);
  EXPECT_EQ(parse_go_duration_seconds("2m0.5s"), 120);
  EXPECT_EQ(parse_go_duration_seconds("1500ms"), 1);
  EXPECT_EQ(parse_go_duration_seconds("0"), 0);
  EXPECT_EQ(parse_go_duration_seconds("-1m"), -60);
  EXPECT_FALSE(parse_go_duration_seconds("5"));
  EXPECT_FALSE(parse_go_duration_seconds("5 m"));
  EXPECT_FALSE(parse_go_duration_seconds("5d"));
  EXPECT_FALSE(parse_go_duration_seconds(""));
}

TEST(Encode, BindingRoundTrips) {
  auto body = nlohmann::json::parse(binding_body("ml", "train-1-0", "uid-1", "node-3"));
  EXPECT_EQ(body["apiVersion"], "v1");
  EXPECT_EQ(body["kind"], "Binding");
  EXPECT_EQ(body["metadata"]["name"], "train-1-0");
  EXPECT_EQ(body["metadata"]["namespace"], "ml");
  EXPECT_EQ(body["metadata"]["uid"], "uid-1");
  EXPECT_EQ(body["target"],
            (nlohmann::json{{"apiVersion", "v1"}, {"kind", "Node"}, {"name", "node-3"}}));
  auto no_uid = nlohmann::json::parse(binding_body("ml", "p", "", "n"));
  EXPECT_FALSE(no_uid["metadata"].contains("uid"));
}

TEST(Encode, EvictionAndCondition) {
  auto eviction = nlohmann::json::parse(eviction_body("ml", "p"));
  EXPECT_EQ(eviction["apiVersion"], "policy/v1");
  EXPECT_EQ(eviction["kind"], "Eviction");
  EXPECT_EQ(eviction["metadata"]["name"], "p");
  auto patch = nlohmann::json::parse(unschedulable_condition_patch(
      "Unschedulable", "0/3 nodes are available: \"quoted\"\n", "2024-05-01T12:00:00Z"));
  const auto& condition = patch["status"]["conditions"][0];
  EXPECT_EQ(condition["type"], "PodScheduled");
  EXPECT_EQ(condition["status"], "False");
  EXPECT_EQ(condition["reason"], "Unschedulable");
  EXPECT_EQ(condition["message"], "0/3 nodes are available: \"quoted\"\n");
  EXPECT_EQ(condition["lastTransitionTime"], "2024-05-01T12:00:00Z");
}

TEST(Encode, Event) {
  EventSpec spec;
  spec.namespace_ = "ml";
  spec.involved_kind = "Pod";
  spec.involved_name = "train-1-0";
  spec.involved_uid = "u1";
  spec.involved_api_version = "v1";
  spec.type = "Warning";
  spec.reason = "FailedScheduling";
  spec.message = "0/2 nodes are available: 2 Insufficient nvidia.com/gpu. \xff";
  auto event = nlohmann::json::parse(event_body(spec, "2024-05-01T12:00:00Z"));
  EXPECT_EQ(event["kind"], "Event");
  EXPECT_EQ(event["metadata"]["generateName"], "train-1-0.");
  EXPECT_EQ(event["metadata"]["namespace"], "ml");
  EXPECT_EQ(event["involvedObject"]["kind"], "Pod");
  EXPECT_EQ(event["involvedObject"]["uid"], "u1");
  EXPECT_EQ(event["involvedObject"]["namespace"], "ml");
  EXPECT_EQ(event["reason"], "FailedScheduling");
  EXPECT_EQ(event["type"], "Warning");
  EXPECT_EQ(event["source"]["component"], "fairway");
  EXPECT_EQ(event["reportingComponent"], "fairway");
  EXPECT_EQ(event["count"], 1);
  EXPECT_EQ(event["firstTimestamp"], "2024-05-01T12:00:00Z");
  EXPECT_EQ(event["lastTimestamp"], "2024-05-01T12:00:00Z");

  EventSpec queue_event;
  queue_event.involved_kind = "Queue";
  queue_event.involved_name = "team-a";
  queue_event.involved_api_version = "scheduling.fairway.dev/v1alpha1";
  auto cluster_scoped = nlohmann::json::parse(event_body(queue_event, "2024-05-01T12:00:00Z"));
  EXPECT_EQ(cluster_scoped["metadata"]["namespace"], "default");
  EXPECT_FALSE(cluster_scoped["involvedObject"].contains("namespace"));
}

}  // namespace
}  // namespace fairway::k8s
