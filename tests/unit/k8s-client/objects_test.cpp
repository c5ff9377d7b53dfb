// Decoders and encoders for the Kubernetes objects fairway reads and writes.
#include "k8s-client/objects.h"

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

namespace fairway::k8s {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
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

// The scheduling constraints kube-scheduler honours besides node affinity and taints.
// metadata comes after spec: the ephemeral claim is named once the whole pod is read.
constexpr const char* kConstrainedPod = R"({
  "spec": {
    "affinity": {
      "nodeAffinity": {
        "preferredDuringSchedulingIgnoredDuringExecution": [
          {"weight": 80, "preference": {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a"]}]}},
          {"weight": 5, "preference": {"matchFields": [{"key": "metadata.name", "operator": "NotIn", "values": ["n1"]}]}}
        ]
      },
      "podAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": [
          {"labelSelector": {"matchLabels": {"app": "db"}, "matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["x", "y"]}]},
           "namespaces": ["data", "cache"], "topologyKey": "kubernetes.io/hostname",
           "matchLabelKeys": ["pod-template-hash"], "mismatchLabelKeys": ["tenant"]}
        ],
        "preferredDuringSchedulingIgnoredDuringExecution": [
          {"weight": 30, "podAffinityTerm": {"labelSelector": {}, "namespaceSelector": {"matchLabels": {"team": "a"}}, "topologyKey": "zone"}}
        ]
      },
      "podAntiAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": [
          {"labelSelector": null, "topologyKey": "kubernetes.io/hostname"},
          {"labelSelector": {"matchExpressions": [{"key": "app", "operator": "Exists"}]}, "namespaceSelector": {}, "topologyKey": "rack"}
        ],
        "preferredDuringSchedulingIgnoredDuringExecution": [
          {"weight": 100, "podAffinityTerm": {"labelSelector": {"matchExpressions": [{"key": "canary", "operator": "DoesNotExist"}]}, "topologyKey": "zone"}}
        ]
      }
    },
    "topologySpreadConstraints": [
      {"maxSkew": 1, "topologyKey": "zone", "whenUnsatisfiable": "DoNotSchedule", "labelSelector": {"matchLabels": {"app": "web"}}},
      {"maxSkew": 3, "topologyKey": "kubernetes.io/hostname", "whenUnsatisfiable": "ScheduleAnyway",
       "minDomains": 2, "nodeAffinityPolicy": "Ignore", "nodeTaintsPolicy": "Honor", "matchLabelKeys": ["pod-template-hash"]}
    ],
    "containers": [
      {"name": "web", "ports": [{"containerPort": 80, "hostPort": 8080},
                                {"containerPort": 53, "hostPort": 53, "protocol": "UDP", "hostIP": "10.0.0.1"},
                                {"containerPort": 9090}, {"containerPort": 9091, "hostPort": 0}]}
    ],
    "initContainers": [
      {"name": "init", "ports": [{"containerPort": 71, "hostPort": 7171}]},
      {"name": "sidecar", "ports": [{"containerPort": 70, "hostPort": 7070, "protocol": "SCTP"}], "restartPolicy": "Always"}
    ],
    "volumes": [
      {"name": "config", "configMap": {"name": "cfg"}},
      {"name": "data", "persistentVolumeClaim": {"claimName": "data-0", "readOnly": true}},
      {"name": "scratch", "ephemeral": {"volumeClaimTemplate": {"spec": {"accessModes": ["ReadWriteOnce"]}}}}
    ],
    "schedulingGates": [{"name": "example.com/quota"}, {"name": "example.com/ready"}]
  },
  "metadata": {"name": "web-0", "namespace": "web"}
})";

TEST(DecodePod, SchedulingConstraints) {
  auto decoded = decode_pod(kConstrainedPod);
  ASSERT_TRUE(decoded) << decoded.error();
  const Pod& pod = decoded->object;
  EXPECT_TRUE(pod.problems.empty()) << pod.problems.front();
  EXPECT_EQ(pod.name, "web-0");

  ASSERT_EQ(pod.preferred_node_affinity.size(), 2U);
  EXPECT_EQ(pod.preferred_node_affinity[0].weight, 80);
  ASSERT_EQ(pod.preferred_node_affinity[0].preference.match_expressions.size(), 1U);
  EXPECT_EQ(pod.preferred_node_affinity[0].preference.match_expressions[0].key, "zone");
  EXPECT_EQ(pod.preferred_node_affinity[1].weight, 5);
  ASSERT_EQ(pod.preferred_node_affinity[1].preference.match_fields.size(), 1U);
  EXPECT_EQ(pod.preferred_node_affinity[1].preference.match_fields[0].op,
            NodeSelectorRequirement::Operator::kNotIn);
  EXPECT_TRUE(pod.required_node_affinity.empty());

  const PodAffinity& a = pod.affinity;
  ASSERT_EQ(a.required_affinity.size(), 1U);
  const PodAffinityTerm& term = a.required_affinity[0];
  ASSERT_TRUE(term.label_selector);
  EXPECT_EQ(describe_selector(*term.label_selector), "app=db,tier notin (x,y)");
  EXPECT_THAT(term.namespaces, ElementsAre("data", "cache"));
  EXPECT_FALSE(term.namespace_selector);
  EXPECT_EQ(term.topology_key, "kubernetes.io/hostname");
  EXPECT_THAT(term.match_label_keys, ElementsAre("pod-template-hash"));
  EXPECT_THAT(term.mismatch_label_keys, ElementsAre("tenant"));
  ASSERT_EQ(a.preferred_affinity.size(), 1U);
  EXPECT_EQ(a.preferred_affinity[0].weight, 30);
  // {} is a selector that matches every pod; a null one matches none.
  ASSERT_TRUE(a.preferred_affinity[0].term.label_selector);
  EXPECT_TRUE(a.preferred_affinity[0].term.label_selector->match_labels.empty());
  EXPECT_TRUE(a.preferred_affinity[0].term.label_selector->match_expressions.empty());
  ASSERT_TRUE(a.preferred_affinity[0].term.namespace_selector);
  EXPECT_EQ(describe_selector(*a.preferred_affinity[0].term.namespace_selector), "team=a");
  EXPECT_EQ(a.preferred_affinity[0].term.topology_key, "zone");
  ASSERT_EQ(a.required_anti_affinity.size(), 2U);
  EXPECT_FALSE(a.required_anti_affinity[0].label_selector);
  EXPECT_FALSE(a.required_anti_affinity[0].namespace_selector);
  ASSERT_TRUE(a.required_anti_affinity[1].label_selector);
  ASSERT_EQ(a.required_anti_affinity[1].label_selector->match_expressions.size(), 1U);
  EXPECT_EQ(a.required_anti_affinity[1].label_selector->match_expressions[0].op,
            LabelSelectorRequirement::Operator::kExists);
  ASSERT_TRUE(a.required_anti_affinity[1].namespace_selector);  // {}: every namespace
  EXPECT_TRUE(a.required_anti_affinity[1].namespace_selector->match_labels.empty());
  ASSERT_EQ(a.preferred_anti_affinity.size(), 1U);
  EXPECT_EQ(a.preferred_anti_affinity[0].weight, 100);
  EXPECT_EQ(a.preferred_anti_affinity[0].term.label_selector->match_expressions[0].op,
            LabelSelectorRequirement::Operator::kDoesNotExist);

  ASSERT_EQ(pod.topology_spread.size(), 2U);
  const TopologySpreadConstraint& zone = pod.topology_spread[0];
  EXPECT_EQ(zone.max_skew, 1);
  EXPECT_EQ(zone.topology_key, "zone");
  EXPECT_TRUE(zone.do_not_schedule);
  ASSERT_TRUE(zone.label_selector);
  EXPECT_EQ(describe_selector(*zone.label_selector), "app=web");
  EXPECT_FALSE(zone.min_domains);
  EXPECT_TRUE(zone.node_affinity_honor);  // the API server's defaults
  EXPECT_FALSE(zone.node_taints_honor);
  EXPECT_TRUE(zone.match_label_keys.empty());
  const TopologySpreadConstraint& host = pod.topology_spread[1];
  EXPECT_EQ(host.max_skew, 3);
  EXPECT_FALSE(host.do_not_schedule);
  EXPECT_FALSE(host.label_selector);  // absent: selects no pods
  EXPECT_EQ(host.min_domains, 2);
  EXPECT_FALSE(host.node_affinity_honor);
  EXPECT_TRUE(host.node_taints_honor);
  EXPECT_THAT(host.match_label_keys, ElementsAre("pod-template-hash"));

  ASSERT_EQ(pod.host_ports.size(), 3U);
  EXPECT_EQ(pod.host_ports[0].port, 8080);
  EXPECT_EQ(pod.host_ports[0].protocol, "TCP");
  EXPECT_EQ(pod.host_ports[0].host_ip, "");
  EXPECT_EQ(pod.host_ports[1].port, 53);
  EXPECT_EQ(pod.host_ports[1].protocol, "UDP");
  EXPECT_EQ(pod.host_ports[1].host_ip, "10.0.0.1");
  EXPECT_EQ(pod.host_ports[2].port, 7070);  // a sidecar's, not a plain init container's
  EXPECT_EQ(pod.host_ports[2].protocol, "SCTP");

  ASSERT_EQ(pod.volume_claims.size(), 2U);
  EXPECT_EQ(pod.volume_claims[0].claim_name, "data-0");
  EXPECT_FALSE(pod.volume_claims[0].ephemeral);
  EXPECT_EQ(pod.volume_claims[1].claim_name, "web-0-scratch");
  EXPECT_TRUE(pod.volume_claims[1].ephemeral);

  EXPECT_THAT(pod.scheduling_gates, ElementsAre("example.com/quota", "example.com/ready"));
}

TEST(DecodePod, UnconstrainedPodHasNoConstraints) {
  auto decoded = decode_pod(kPod);
  ASSERT_TRUE(decoded) << decoded.error();
  const Pod& pod = decoded->object;
  EXPECT_TRUE(pod.affinity.empty());
  ASSERT_EQ(pod.preferred_node_affinity.size(), 1U);  // kPod's empty preference
  EXPECT_TRUE(pod.topology_spread.empty());
  EXPECT_TRUE(pod.host_ports.empty());
  EXPECT_TRUE(pod.volume_claims.empty());
  EXPECT_TRUE(pod.scheduling_gates.empty());
  EXPECT_TRUE(pod.problems.empty());
}

TEST(DecodePod, MalformedConstraintsAreProblemsNamingTheField) {
  // The pod stays visible (the scheduler says why it never places it) and later fields are read.
  const char* cases[][2] = {
      {R"("affinity":{"podAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":[)"
       R"({"labelSelector":{"matchExpressions":[{"key":"a","operator":"Near","values":["b"]}]},"topologyKey":"z"}]}})",
       "spec.affinity.podAffinity.requiredDuringSchedulingIgnoredDuringExecution[0]."
       "labelSelector.matchExpressions[0].operator: unknown operator \"Near\""},
      {R"("affinity":{"podAntiAffinity":{"preferredDuringSchedulingIgnoredDuringExecution":[)"
       R"({"weight":"heavy","podAffinityTerm":{}}]}})",
       "spec.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].weight"},
      {R"("affinity":{"nodeAffinity":{"preferredDuringSchedulingIgnoredDuringExecution":[)"
       R"({"weight":1,"preference":{"matchExpressions":[{"key":"a","operator":"Within"}]}}]}})",
       "spec.affinity.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].preference."
       "matchExpressions[0].operator"},
      {R"("topologySpreadConstraints":[{"maxSkew":1,"topologyKey":"z","whenUnsatisfiable":"Sometimes"}])",
       "spec.topologySpreadConstraints[0].whenUnsatisfiable"},
      {R"("topologySpreadConstraints":[{},{"nodeTaintsPolicy":"Maybe"}])",
       "spec.topologySpreadConstraints[1].nodeTaintsPolicy"},
      {R"("topologySpreadConstraints":[{"labelSelector":{"matchExpressions":[{"key":"a","operator":"In"}]}}])",
       "spec.topologySpreadConstraints[0].labelSelector.matchExpressions[0].values: required"},
      {R"("containers":[{"name":"c","ports":[{"hostPort":"80"}]}])",
       "spec.containers[0].ports[0].hostPort"},
      {R"("volumes":[{"name":"v","persistentVolumeClaim":{}}])",
       "spec.volumes[0].persistentVolumeClaim.claimName: required"},
      {R"("schedulingGates":[{"name":""}])", "spec.schedulingGates[0].name: required"},
      {R"("resourceClaims":[{"name":"gpus"}])",
       "spec.resourceClaims[0]: Invalid value: must specify one of: `resourceClaimName`, "
       "`resourceClaimTemplateName`"},
      {R"("resourceClaims":[{"name":"gpus","resourceClaimName":"a","resourceClaimTemplateName":"b"}])",
       "spec.resourceClaims[0]: Invalid value: at most one of `resourceClaimName` or "
       "`resourceClaimTemplateName` may be specified"},
      {R"("resourceClaims":[{"resourceClaimName":"a"}])",
       "spec.resourceClaims[0].name: Required value"},
      {R"("resourceClaims":[{"name":"g","resourceClaimName":"a"},{"name":"g","resourceClaimName":"b"}])",
       "spec.resourceClaims[1].name: Duplicate value: \"g\""},
      {R"("resourceClaims":[{"name":"g","resourceClaimTemplateName":7}])",
       "spec.resourceClaims[0].resourceClaimTemplateName"},
      {R"("resourceClaims":{"name":"g"})", "spec.resourceClaims"},
  };
  for (const auto& [fields, message] : cases) {
    const std::string json = std::string(R"({"metadata":{"name":"p","namespace":"d"},"spec":{)") +
                             fields + R"(,"schedulerName":"fairway"}})";
    auto decoded = decode_pod(json);
    ASSERT_TRUE(decoded) << json << ": " << decoded.error();
    EXPECT_EQ(decoded->object.scheduler_name, "fairway") << json;
    ASSERT_EQ(decoded->object.problems.size(), 1U) << json;
    EXPECT_THAT(decoded->object.problems[0], HasSubstr(message)) << json;
  }
}

TEST(DecodePod, ResourceClaimsAndTheirStatuses) {
  auto decoded = decode_pod(R"({"metadata":{"name":"p","namespace":"d","uid":"u"},
    "spec":{"resourceClaims":[{"name":"gpus","resourceClaimTemplateName":"two-gpus"},
                              {"name":"shared","resourceClaimName":"team-nic"},
                              {"name":"maybe","resourceClaimTemplateName":"opt","resourceClaimName":null}]},
    "status":{"phase":"Pending","resourceClaimStatuses":[
      {"name":"gpus","resourceClaimName":"p-gpus-x7k2p"},
      {"name":"maybe"},
      {"name":"other","resourceClaimName":null}]}})");
  ASSERT_TRUE(decoded) << decoded.error();
  const Pod& pod = decoded->object;
  EXPECT_THAT(pod.problems, IsEmpty());
  ASSERT_EQ(pod.resource_claims.size(), 3u);
  EXPECT_EQ(pod.resource_claims[0].name, "gpus");
  EXPECT_EQ(pod.resource_claims[0].template_name, "two-gpus");
  EXPECT_EQ(pod.resource_claims[0].claim_name, "");
  EXPECT_EQ(pod.resource_claims[1].name, "shared");
  EXPECT_EQ(pod.resource_claims[1].claim_name, "team-nic");
  EXPECT_EQ(pod.resource_claims[1].template_name, "");
  EXPECT_EQ(pod.resource_claims[2].template_name, "opt");  // a null is no value
  ASSERT_EQ(pod.resource_claim_statuses.size(), 3u);
  EXPECT_EQ(pod.resource_claim_statuses[0].name, "gpus");
  EXPECT_EQ(pod.resource_claim_statuses[0].claim_name, "p-gpus-x7k2p");
  // Absent or null: the controller decided no claim is needed.
  EXPECT_EQ(pod.resource_claim_statuses[1].name, "maybe");
  EXPECT_EQ(pod.resource_claim_statuses[1].claim_name, "");
  EXPECT_EQ(pod.resource_claim_statuses[2].claim_name, "");

  auto none = decode_pod(kPod);
  ASSERT_TRUE(none) << none.error();
  EXPECT_TRUE(none->object.resource_claims.empty());
  EXPECT_TRUE(none->object.resource_claim_statuses.empty());
}

TEST(DecodePod, MalformedResourceClaimStatusesAreProblemsNamingTheField) {
  const char* cases[][2] = {
      {R"([{"resourceClaimName":"x"}])", "status.resourceClaimStatuses[0].name: Required value"},
      {R"([{"name":"a","resourceClaimName":3}])",
       "status.resourceClaimStatuses[0].resourceClaimName"},
      {R"([{"name":"a"},"b"])", "status.resourceClaimStatuses[1]"},
      {R"("all")", "status.resourceClaimStatuses"},
  };
  for (const auto& [statuses, message] : cases) {
    const std::string json =
        std::string(
            R"({"metadata":{"name":"p","namespace":"d"},"spec":{"schedulerName":"fairway"},)") +
        R"("status":{"resourceClaimStatuses":)" + statuses + R"(,"phase":"Running"}})";
    auto decoded = decode_pod(json);
    ASSERT_TRUE(decoded) << json << ": " << decoded.error();
    EXPECT_EQ(decoded->object.phase, PodPhase::kRunning) << json;  // later fields still read
    ASSERT_EQ(decoded->object.problems.size(), 1U) << json;
    EXPECT_THAT(decoded->object.problems[0], HasSubstr(message)) << json;
  }
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

TEST(DecodePodGroup, SubGroups) {
  auto decoded = decode_pod_group(R"({"metadata":{"name":"js","namespace":"ml"},"spec":{
      "minMember": 8, "topologyConstraint": {"requiredLevel": "spine"},
      "subGroups": [
        {"name": "workers", "minMember": 4,
         "topologyConstraint": {"topology": "fabric", "requiredLevel": "rack",
                                "preferredLevel": "kubernetes.io/hostname"}},
        {"name": "ps", "minMember": 1}]}})");
  ASSERT_TRUE(decoded) << decoded.error();
  const PodGroup& g = decoded->object;
  EXPECT_THAT(g.problems, IsEmpty());
  ASSERT_EQ(g.subgroups.size(), 2U);
  EXPECT_EQ(g.subgroups[0].name, "workers");
  EXPECT_EQ(g.subgroups[0].min_member, 4);
  EXPECT_EQ(g.subgroups[0].topology_constraint.topology, "fabric");
  EXPECT_EQ(g.subgroups[0].topology_constraint.required_level, "rack");
  EXPECT_EQ(g.subgroups[0].topology_constraint.preferred_level, "kubernetes.io/hostname");
  EXPECT_EQ(g.subgroups[1].name, "ps");
  EXPECT_EQ(g.subgroups[1].min_member, 1);
  EXPECT_TRUE(g.subgroups[1].topology_constraint.required_level.empty());
}

TEST(DecodePodGroup, SubGroupProblemsAreKeptWithTheGroup) {
  const std::pair<const char*, const char*> cases[] = {
      {R"([{"name":"a","minMember":1},{"name":"a","minMember":2}])",
       R"(spec.subGroups[1].name: Duplicate value: "a")"},
      {R"([{"name":"a","minMember":0}])",
       "spec.subGroups[0].minMember: Invalid value: 0: must be greater than or equal to 1"},
      {R"([{"name":"a"}])", "spec.subGroups[0].minMember: Required value"},
      {R"([{"minMember":1}])", "spec.subGroups[0].name: Required value"},
      {R"([{"name":"a","minMember":1,"parent":"b"}])", "spec.subGroups[0].parent: Unsupported"},
      {R"({"name":"a"})", "spec.subGroups"},
      {R"([{"name":"a","minMember":"two"}])", "spec.subGroups[0].minMember"},
  };
  for (const auto& [groups, problem] : cases) {
    auto decoded = decode_pod_group(fmt::format(
        R"({{"metadata":{{"name":"g","namespace":"n"}},"spec":{{"subGroups":{}}}}})", groups));
    ASSERT_TRUE(decoded) << groups << ": " << decoded.error();
    ASSERT_EQ(decoded->object.problems.size(), 1U) << groups;
    EXPECT_THAT(decoded->object.problems[0], HasSubstr(problem)) << groups;
  }
}

TEST(DecodePod, SubgroupLabelOfFairwayThenKai) {
  auto decoded = decode_pod(
      R"({"metadata":{"name":"p","namespace":"n","labels":{"kai.scheduler/subgroup-name":"kai",
          "fairway.dev/subgroup":"workers"}},"spec":{"containers":[{"name":"c"}]}})");
  ASSERT_TRUE(decoded) << decoded.error();
  EXPECT_EQ(decoded->object.subgroup, "workers");
  auto kai = decode_pod(
      R"({"metadata":{"name":"p","namespace":"n","labels":{"kai.scheduler/subgroup-name":"ps"}},
          "spec":{"containers":[{"name":"c"}]}})");
  ASSERT_TRUE(kai) << kai.error();
  EXPECT_EQ(kai->object.subgroup, "ps");
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

TEST(DecodePersistentVolume, Fields) {
  auto decoded = decode_persistent_volume(R"({
    "apiVersion": "v1", "kind": "PersistentVolume",
    "metadata": {"name": "pv-1", "labels": {"topology.kubernetes.io/zone": "z1"}, "resourceVersion": "7",
                 "deletionTimestamp": "2024-05-01T12:00:00Z"},
    "spec": {"storageClassName": "fast", "capacity": {"storage": "10Gi"},
             "accessModes": ["ReadWriteOnce", "ReadOnlyMany"],
             "nodeAffinity": {"required": {"nodeSelectorTerms": [
               {"matchExpressions": [{"key": "kubernetes.io/hostname", "operator": "In", "values": ["n1"]}]}]}},
             "claimRef": {"kind": "PersistentVolumeClaim", "namespace": "ml", "name": "data-0", "uid": "c-1"},
             "csi": {"driver": "ebs.csi.aws.com", "volumeHandle": "vol-1"},
             "persistentVolumeReclaimPolicy": "Delete"},
    "status": {"phase": "Bound"}
  })");
  ASSERT_TRUE(decoded) << decoded.error();
  EXPECT_EQ(decoded->meta.key(), "pv-1");
  EXPECT_EQ(decoded->meta.resource_version, "7");
  const PersistentVolume& pv = decoded->object;
  EXPECT_EQ(pv.name, "pv-1");
  EXPECT_THAT(pv.labels, ElementsAre(Pair("topology.kubernetes.io/zone", "z1")));
  EXPECT_EQ(pv.storage_class, "fast");
  EXPECT_EQ(pv.capacity_bytes, int64_t{10} << 30);
  EXPECT_EQ(pv.access_modes, static_cast<AccessModes>(AccessMode::kReadWriteOnce) |
                                 static_cast<AccessModes>(AccessMode::kReadOnlyMany));
  ASSERT_EQ(pv.node_affinity.size(), 1U);
  EXPECT_THAT(pv.node_affinity[0].match_expressions[0].values, ElementsAre("n1"));
  EXPECT_EQ(pv.claim_namespace, "ml");
  EXPECT_EQ(pv.claim_name, "data-0");
  EXPECT_EQ(pv.claim_uid, "c-1");
  EXPECT_EQ(pv.csi_driver, "ebs.csi.aws.com");
  EXPECT_EQ(pv.phase, "Bound");
  EXPECT_TRUE(pv.deleting);

  auto bare =
      decode_persistent_volume(R"({"metadata":{"name":"pv-2"},"spec":{"hostPath":{"path":"/x"}}})");
  ASSERT_TRUE(bare) << bare.error();
  EXPECT_EQ(bare->object.access_modes, 0);
  EXPECT_TRUE(bare->object.node_affinity.empty());
  EXPECT_EQ(bare->object.claim_name, "");
  EXPECT_FALSE(bare->object.deleting);

  auto bad = decode_persistent_volume(
      R"({"metadata":{"name":"pv-3"},"spec":{"accessModes":["ReadWriteSometimes"]}})");
  ASSERT_FALSE(bad);
  EXPECT_THAT(bad.error(), HasSubstr("spec.accessModes[0]: unknown access mode"));
}

TEST(DecodePersistentVolumeClaim, Fields) {
  auto decoded = decode_persistent_volume_claim(R"({
    "apiVersion": "v1", "kind": "PersistentVolumeClaim",
    "metadata": {"name": "web-0-scratch", "namespace": "web", "uid": "c-2",
                 "annotations": {"volume.kubernetes.io/selected-node": "n1"},
                 "ownerReferences": [{"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "web", "uid": "s-1"},
                                     {"apiVersion": "v1", "kind": "Pod", "name": "web-0", "uid": "p-1", "controller": true}]},
    "spec": {"storageClassName": "fast", "volumeName": "pv-1", "accessModes": ["ReadWriteOncePod"],
             "resources": {"requests": {"storage": "1500Mi"}},
             "selector": {"matchLabels": {"disk": "ssd"}}},
    "status": {"phase": "Pending"}
  })");
  ASSERT_TRUE(decoded) << decoded.error();
  const PersistentVolumeClaim& pvc = decoded->object;
  EXPECT_EQ(pvc.key(), "web/web-0-scratch");
  EXPECT_EQ(decoded->meta.key(), "web/web-0-scratch");
  EXPECT_EQ(pvc.uid, "c-2");
  EXPECT_EQ(pvc.annotations.at("volume.kubernetes.io/selected-node"), "n1");
  EXPECT_EQ(pvc.owner_kind, "Pod");
  EXPECT_EQ(pvc.owner_uid, "p-1");
  EXPECT_EQ(pvc.storage_class, "fast");
  EXPECT_EQ(pvc.volume_name, "pv-1");
  EXPECT_EQ(pvc.access_modes, static_cast<AccessModes>(AccessMode::kReadWriteOncePod));
  EXPECT_EQ(pvc.request_bytes, int64_t{1500} << 20);
  ASSERT_TRUE(pvc.selector);
  EXPECT_EQ(describe_selector(*pvc.selector), "disk=ssd");
  EXPECT_EQ(pvc.phase, "Pending");
  EXPECT_FALSE(pvc.deleting);

  // storageClassName: absent or null is the default class, "" is no class.
  auto absent = decode_persistent_volume_claim(
      R"({"metadata":{"name":"a","namespace":"n","ownerReferences":[{"kind":"Job","uid":"j"}]},"spec":{}})");
  ASSERT_TRUE(absent) << absent.error();
  EXPECT_FALSE(absent->object.storage_class);
  EXPECT_FALSE(absent->object.selector);
  EXPECT_EQ(absent->object.owner_kind, "");  // not a controller reference
  auto null_class = decode_persistent_volume_claim(
      R"({"metadata":{"name":"a","namespace":"n"},"spec":{"storageClassName":null,"selector":null}})");
  ASSERT_TRUE(null_class) << null_class.error();
  EXPECT_FALSE(null_class->object.storage_class);
  EXPECT_FALSE(null_class->object.selector);
  auto empty_class = decode_persistent_volume_claim(
      R"({"metadata":{"name":"a","namespace":"n"},"spec":{"storageClassName":""}})");
  ASSERT_TRUE(empty_class) << empty_class.error();
  ASSERT_TRUE(empty_class->object.storage_class);
  EXPECT_EQ(*empty_class->object.storage_class, "");

  auto bad = decode_persistent_volume_claim(
      R"({"metadata":{"name":"a","namespace":"n"},"spec":{"resources":{"requests":{"storage":"lots"}}}})");
  ASSERT_FALSE(bad);
  EXPECT_THAT(bad.error(), HasSubstr("spec.resources.requests.storage: quantity \"lots\""));
}

TEST(DecodeStorageClass, Fields) {
  auto decoded = decode_storage_class(R"({
    "apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
    "metadata": {"name": "fast", "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}},
    "provisioner": "ebs.csi.aws.com", "volumeBindingMode": "WaitForFirstConsumer",
    "reclaimPolicy": "Delete", "parameters": {"type": "gp3"},
    "allowedTopologies": [{"matchLabelExpressions": [
      {"key": "topology.kubernetes.io/zone", "values": ["z1", "z2"]},
      {"key": "disk", "values": ["ssd"]}]}]
  })");
  ASSERT_TRUE(decoded) << decoded.error();
  const StorageClass& sc = decoded->object;
  EXPECT_EQ(sc.name, "fast");
  EXPECT_EQ(sc.provisioner, "ebs.csi.aws.com");
  EXPECT_TRUE(sc.wait_for_first_consumer);
  EXPECT_TRUE(sc.is_default);
  ASSERT_EQ(sc.allowed_topologies.size(), 1U);
  const auto& requirements = sc.allowed_topologies[0].match_expressions;
  ASSERT_EQ(requirements.size(), 2U);
  EXPECT_EQ(requirements[0].key, "topology.kubernetes.io/zone");
  EXPECT_EQ(requirements[0].op, NodeSelectorRequirement::Operator::kIn);
  EXPECT_THAT(requirements[0].values, ElementsAre("z1", "z2"));
  EXPECT_EQ(requirements[1].key, "disk");

  auto immediate = decode_storage_class(
      R"({"metadata":{"name":"slow","annotations":{"storageclass.kubernetes.io/is-default-class":"false"}},)"
      R"("provisioner":"kubernetes.io/no-provisioner","volumeBindingMode":"Immediate"})");
  ASSERT_TRUE(immediate) << immediate.error();
  EXPECT_FALSE(immediate->object.wait_for_first_consumer);
  EXPECT_FALSE(immediate->object.is_default);
  EXPECT_TRUE(immediate->object.allowed_topologies.empty());
}

TEST(DecodeCsiNode, AttachLimits) {
  auto decoded = decode_csi_node(R"({
    "apiVersion": "storage.k8s.io/v1", "kind": "CSINode",
    "metadata": {"name": "n1"},
    "spec": {"drivers": [
      {"name": "ebs.csi.aws.com", "nodeID": "i-1", "allocatable": {"count": 25}, "topologyKeys": ["zone"]},
      {"name": "nfs.csi.k8s.io", "nodeID": "n1"},
      {"name": "other.csi", "nodeID": "n1", "allocatable": {}}]}
  })");
  ASSERT_TRUE(decoded) << decoded.error();
  EXPECT_EQ(decoded->object.name, "n1");
  EXPECT_THAT(decoded->object.attach_limits, ElementsAre(Pair("ebs.csi.aws.com", 25)));
  auto bad = decode_csi_node(
      R"({"metadata":{"name":"n1"},"spec":{"drivers":[{"name":"d","allocatable":{"count":"many"}}]}})");
  ASSERT_FALSE(bad);
  EXPECT_THAT(bad.error(), HasSubstr("spec.drivers[0].allocatable.count"));
}

TEST(DecodeList, StorageKinds) {
  auto pvs = decode_list<PersistentVolume>(
      R"({"metadata":{"resourceVersion":"3"},"items":[{"metadata":{"name":"a"}},{"metadata":{"name":"b"}}]})");
  ASSERT_TRUE(pvs) << pvs.error();
  ASSERT_EQ(pvs->items.size(), 2U);
  EXPECT_EQ(pvs->items[1].object.name, "b");
  auto claims = decode_list<PersistentVolumeClaim>(
      R"({"metadata":{"resourceVersion":"4"},"items":[{"metadata":{"name":"c","namespace":"n"}}]})");
  ASSERT_TRUE(claims) << claims.error();
  EXPECT_EQ(claims->items[0].meta.key(), "n/c");
  auto event = decode_watch_event<StorageClass>(
      R"({"type":"ADDED","object":{"metadata":{"name":"fast","resourceVersion":"9"},"provisioner":"p"}})");
  ASSERT_TRUE(event) << event.error();
  EXPECT_EQ(event->object.object.provisioner, "p");
  auto deleted = decode_watch_event<CsiNode>(
      R"({"type":"DELETED","object":{"metadata":{"name":"n1","resourceVersion":"10"},"spec":{"drivers":[]}}})");
  ASSERT_TRUE(deleted) << deleted.error();
  EXPECT_EQ(deleted->kind, WatchEventKind::kDeleted);
  EXPECT_EQ(deleted->object.meta.name, "n1");
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

TEST(ParsedDocument, DecodesEachListOfOneDocumentItemByItem) {
  auto document = ParsedDocument::parse(R"({"kind":"ClusterSnapshot","takenAt":"t",
      "pods":{"items":[{"metadata":{"name":"a","namespace":"n","labels":{"x":"1"}}},
                       {"metadata":{"name":"b","namespace":"n"},"spec":{"priority":"x"}},
                       {"metadata":{"name":"c","namespace":"n"}}]},
      "nodes":{"items":[{"metadata":{"name":"n1"}}]},
      "queues":{"items":null}, "bad":{"items":{}}, "notAList":"x"})");
  ASSERT_TRUE(document) << document.error();
  EXPECT_EQ(document->string_at("/kind"), "ClusterSnapshot");
  EXPECT_EQ(document->string_at("/nodes"), std::nullopt);
  EXPECT_TRUE(document->contains("/nodes"));
  EXPECT_FALSE(document->contains("/topologies"));
  EXPECT_EQ(document->list_size("/pods"), 3u);
  EXPECT_EQ(document->list_size("/topologies"), std::nullopt);

  std::vector<Pod> pods;
  auto errors = document->for_each_item<Pod>(
      "/pods", [&](Decoded<Pod>&& pod) { pods.push_back(std::move(pod.object)); });
  ASSERT_TRUE(errors) << errors.error();
  ASSERT_EQ(pods.size(), 2u);
  EXPECT_EQ(pods[0].labels.at("x"), "1");
  EXPECT_EQ(pods[1].name, "c");
  // A bad item is reported as decode_list reports it, and the others still decode.
  ASSERT_EQ(errors->size(), 1u);
  EXPECT_EQ((*errors)[0].key, "n/b");
  EXPECT_THAT((*errors)[0].message, HasSubstr("items[1]: spec.priority"));

  size_t nodes = 0;
  ASSERT_TRUE(document->for_each_item<Node>("/nodes", [&](Decoded<Node>&&) { ++nodes; }));
  EXPECT_EQ(nodes, 1u);
  auto none = document->for_each_item<QueueSpec>("/queues", [](Decoded<QueueSpec>&&) {});
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->empty());
  EXPECT_FALSE(document->for_each_item<Node>("/bad", [](Decoded<Node>&&) {}));
  EXPECT_FALSE(document->for_each_item<Node>("/notAList", [](Decoded<Node>&&) {}));
  EXPECT_FALSE(document->for_each_item<Node>("/absent", [](Decoded<Node>&&) {}));

  EXPECT_FALSE(ParsedDocument::parse(R"({"items":[)"));
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

// The webhook decodes the pod of an AdmissionReview in place, without re-serialising it.
TEST(DecodeObjectAt, DecodesTheObjectAtAPointerOfALargerDocument) {
  const std::string review =
      R"({"request":{"uid":"u","object":{"metadata":{"name":"p","namespace":"ns"},)"
      R"("spec":{"schedulerName":"fairway","containers":[]}}}})";
  const auto pod = decode_object_at<Pod>(review, "/request/object");
  ASSERT_TRUE(pod) << pod.error();
  EXPECT_EQ(pod->meta.key(), "ns/p");
  EXPECT_EQ(pod->object.scheduler_name, "fairway");
  const auto missing = decode_object_at<Pod>(review, "/request/oldObject");
  ASSERT_FALSE(missing);
  EXPECT_THAT(missing.error(), HasSubstr("/request/oldObject"));
  EXPECT_FALSE(decode_object_at<Pod>(review, "/request/uid"));  // not an object
  // simdjson's parser is iterative and stops at its depth limit: an error, not a crash.
  const std::string deep =
      R"({"request":{"object":)" + std::string(100000, '[') + std::string(100000, ']') + "}}";
  EXPECT_FALSE(decode_object_at<Pod>(deep, "/request/object"));
}

}  // namespace
}  // namespace fairway::k8s
