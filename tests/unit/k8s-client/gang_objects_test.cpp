// Decoding what gangs come from (issue 18): pods' controller owners and upstream gang fields,
// workloads of every kind owner inference reads, and other schedulers' PodGroups.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "k8s-client/objects.h"

namespace fairway::k8s {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;

TEST(DecodeGangs, PodControllerOwnerAndUpstreamGangFields) {
  auto pod = decode_pod(R"({"metadata": {"name": "p", "namespace": "ns", "ownerReferences": [
      {"apiVersion": "v1", "kind": "ConfigMap", "name": "not-controller", "uid": "c"},
      {"apiVersion": "kubeflow.org/v1", "kind": "PyTorchJob", "name": "llama", "uid": "u-1",
       "controller": true, "blockOwnerDeletion": true}]},
    "spec": {"schedulingGroup": {"podGroupName": "training"},
             "workloadRef": {"name": "w", "podGroup": "workers", "podGroupReplicaKey": "2"}}})");
  ASSERT_TRUE(pod) << pod.error();
  EXPECT_EQ(pod->object.owner, (OwnerRef{"kubeflow.org/v1", "PyTorchJob", "llama", "u-1"}));
  EXPECT_EQ(pod->object.scheduling_group, "training");
  EXPECT_EQ(pod->object.workload_ref, "w");
  EXPECT_EQ(pod->object.workload_pod_group, "workers");
  EXPECT_EQ(pod->object.workload_replica_key, "2");
}

TEST(DecodeGangs, PodWithoutControllerHasNoOwner) {
  auto pod = decode_pod(R"({"metadata": {"name": "p", "ownerReferences": [
      {"apiVersion": "v1", "kind": "Node", "name": "n", "uid": "x", "controller": false}]}})");
  ASSERT_TRUE(pod) << pod.error();
  EXPECT_TRUE(pod->object.owner.kind.empty());
}

TEST(DecodeGangs, KubeflowJobReplicaSpecsAndMinAvailable) {
  auto job = decode_workload(R"({"apiVersion": "kubeflow.org/v1", "kind": "PyTorchJob",
    "metadata": {"name": "llama", "namespace": "team-a", "uid": "u", "labels": {"fairway.dev/queue": "q"},
                 "annotations": {"big": "dropped", "fairway.dev/gang": "true"}},
    "spec": {"runPolicy": {"schedulingPolicy": {"minAvailable": 5}},
             "pytorchReplicaSpecs": {"Master": {"replicas": 1}, "Worker": {"replicas": 7}}}})");
  ASSERT_TRUE(job) << job.error();
  const Workload& w = job->object;
  EXPECT_EQ(w.kind, "PyTorchJob");
  EXPECT_EQ(w.key(), "team-a/llama");
  EXPECT_EQ(w.min_available, 5);
  ASSERT_THAT(w.parts, SizeIs(2));
  EXPECT_EQ(w.parts[0].name, "Master");
  EXPECT_EQ(w.parts[1].replicas, 7);
  EXPECT_EQ(w.labels.find("fairway.dev/queue")->second, "q");
  EXPECT_THAT(w.annotations, SizeIs(1));  // only the gang key is kept
}

TEST(DecodeGangs, JobSetReplicatedJobsTakeParallelismCappedByCompletions) {
  auto set =
      decode_workload(R"({"metadata": {"name": "js", "uid": "u"}, "spec": {"replicatedJobs": [
      {"name": "a", "replicas": 2, "template": {"spec": {"parallelism": 4, "completions": 3}}},
      {"name": "b", "template": {"spec": {}}}]}})");
  ASSERT_TRUE(set) << set.error();
  ASSERT_THAT(set->object.parts, SizeIs(2));
  EXPECT_EQ(set->object.parts[0].replicas, 2);
  EXPECT_EQ(set->object.parts[0].pods_each, 3);
  EXPECT_EQ(set->object.parts[1].replicas, 1);  // defaults
  EXPECT_EQ(set->object.parts[1].pods_each, 1);
}

TEST(DecodeGangs, JobRayClusterAndLeaderWorkerSet) {
  auto job = decode_workload(R"({"metadata": {"name": "j", "uid": "u", "ownerReferences": [
      {"apiVersion": "batch/v1", "kind": "CronJob", "name": "c", "uid": "cu", "controller": true}]},
    "spec": {"parallelism": 4, "completions": 8, "completionMode": "Indexed"}})");
  ASSERT_TRUE(job) << job.error();
  EXPECT_EQ(job->object.parallelism, 4);
  EXPECT_EQ(job->object.completions, 8);
  EXPECT_TRUE(job->object.indexed);
  EXPECT_EQ(job->object.owner.uid, "cu");

  auto ray = decode_workload(R"({"metadata": {"name": "r", "uid": "u"}, "spec": {
      "headGroupSpec": {"rayStartParams": {}},
      "workerGroupSpecs": [{"groupName": "gpu", "replicas": 6, "minReplicas": 2}]}})");
  ASSERT_TRUE(ray) << ray.error();
  ASSERT_THAT(ray->object.parts, SizeIs(2));
  EXPECT_EQ(ray->object.parts[0].min_replicas, 1);
  EXPECT_EQ(ray->object.parts[1].name, "gpu");
  EXPECT_EQ(ray->object.parts[1].min_replicas, 2);

  auto lws = decode_workload(
      R"({"metadata": {"name": "l", "uid": "u"}, "spec": {"replicas": 2, "leaderWorkerTemplate": {"size": 4}}})");
  ASSERT_TRUE(lws) << lws.error();
  EXPECT_EQ(lws->object.replicas, 2);
  EXPECT_EQ(lws->object.group_size, 4);
}

TEST(DecodeGangs, BadWorkloadSpecIsKeptWithAProblem) {
  auto job = decode_workload(
      R"({"metadata": {"name": "j", "uid": "u"}, "spec": {"parallelism": "four"}})");
  ASSERT_TRUE(job) << job.error();
  EXPECT_EQ(job->object.name, "j");
  ASSERT_THAT(job->object.problems, SizeIs(1));
  EXPECT_THAT(job->object.problems[0], HasSubstr("spec.parallelism"));
  auto negative = decode_workload(
      R"({"metadata": {"name": "j", "uid": "u"}, "spec": {"replicatedJobs": [{"name": "a", "replicas": -1}]}})");
  ASSERT_TRUE(negative) << negative.error();
  EXPECT_THAT(negative->object.problems, SizeIs(1));
}

TEST(DecodeGangs, A135WorkloadBecomesOnePodGroupPerPodGroupOfIt) {
  auto w = decode_upstream_workload(R"({"apiVersion": "scheduling.k8s.io/v1alpha1",
    "kind": "Workload", "metadata": {"name": "llm", "namespace": "team-a"},
    "spec": {"controllerRef": {"apiGroup": "batch", "kind": "Job", "name": "llm"},
             "podGroups": [{"name": "workers", "policy": {"gang": {"minCount": 4}}},
                           {"name": "driver", "policy": {"basic": {}}}]}})");
  ASSERT_TRUE(w) << w.error();
  EXPECT_EQ(w->object.key(), "team-a/llm");
  ASSERT_THAT(w->object.pod_groups, SizeIs(2));
  EXPECT_EQ(w->object.pod_groups[0].key(), "team-a/llm#workers");
  EXPECT_EQ(w->object.pod_groups[0].min_member, 4);
  EXPECT_EQ(w->object.pod_groups[1].key(), "team-a/llm#driver");
  EXPECT_EQ(w->object.pod_groups[1].min_member, 1);

  auto bad = decode_upstream_workload(R"({"metadata": {"name": "x", "namespace": "n"},
    "spec": {"podGroups": [{"name": "g", "policy": {"gang": {"minCount": 0}}}]}})");
  ASSERT_FALSE(bad);
  EXPECT_THAT(bad.error(), HasSubstr("spec.podGroups[0].policy.gang.minCount"));
}

TEST(DecodeGangs, UpstreamAndKaiPodGroups) {
  auto upstream = decode_pod_group(R"({"metadata": {"name": "training", "namespace": "ns"},
    "spec": {"schedulingPolicy": {"gang": {"minCount": 4}}}})");
  ASSERT_TRUE(upstream) << upstream.error();
  EXPECT_EQ(upstream->object.min_member, 4);
  EXPECT_THAT(upstream->object.problems, IsEmpty());

  auto basic = decode_pod_group(
      R"({"metadata": {"name": "b"}, "spec": {"schedulingPolicy": {"basic": {}}}})");
  ASSERT_TRUE(basic) << basic.error();
  EXPECT_EQ(basic->object.min_member, 1);

  auto zero = decode_pod_group(
      R"({"metadata": {"name": "z"}, "spec": {"schedulingPolicy": {"gang": {"minCount": 0}}}})");
  ASSERT_TRUE(zero) << zero.error();
  ASSERT_THAT(zero->object.problems, SizeIs(1));
  EXPECT_THAT(zero->object.problems[0], HasSubstr("minCount"));

  auto kai = decode_pod_group(R"({"metadata": {"name": "k"}, "spec": {"minMember": 8,
    "queue": "q", "subGroups": [{"name": "leader", "minMember": 1}, {"name": "workers", "minMember": 7}],
    "topologyConstraint": {"topology": "t", "requiredTopologyLevel": "rack"}}})");
  ASSERT_TRUE(kai) << kai.error();
  ASSERT_THAT(kai->object.subgroups, SizeIs(2));
  EXPECT_EQ(kai->object.subgroups[1].min_member, 7);
  EXPECT_EQ(kai->object.topology_constraint.required_level, "rack");
}

}  // namespace
}  // namespace fairway::k8s
