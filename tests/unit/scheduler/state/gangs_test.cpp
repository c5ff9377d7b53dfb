// Gangs from every source (issue 18): owner inference per workload kind, the precedence of
// explicit sources, conflicts, pods that arrive before their group or owner, unserved kinds, and
// the queue chain (pod, workload, namespace, default). Driven through ClusterState, as the
// informers drive it.

#include "scheduler/state/gangs.h"

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "scheduler/state/cluster_state.h"

namespace fairway {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;

Workload workload(std::string api_version, std::string kind, std::string name,
                  OwnerRef owner = {}) {
  Workload w;
  w.api_version = std::move(api_version);
  w.kind = std::move(kind);
  w.namespace_ = "team-a";
  w.name = std::move(name);
  w.uid = "uid-" + w.kind + "-" + w.name;
  w.owner = std::move(owner);
  return w;
}

OwnerRef ref(const Workload& w) {
  return {w.api_version, w.kind, w.name, w.uid};
}

Pod pod(std::string name, OwnerRef owner = {}) {
  Pod p;
  p.namespace_ = "team-a";
  p.name = std::move(name);
  p.uid = "uid-" + p.name;
  p.scheduler_name = "fairway";
  p.owner = std::move(owner);
  return p;
}

// Every kind owner inference knows is watched, as if discovery served them all.
ClusterState state_serving_all() {
  ClusterState state;
  for (const WorkloadKind& kind : known_workload_kinds()) {
    state.set_workload_kind_watched(kind.group, kind.kind);
  }
  return state;
}

const JobRecord& job_of(const ClusterState& state, const std::string& pod_name) {
  const PodRecord* record = state.find_pod("team-a/" + pod_name);
  EXPECT_NE(record, nullptr);
  return state.jobs()[record->job];
}

Workload pytorch_job(std::string name, int32_t workers) {
  Workload w = workload("kubeflow.org/v1", "PyTorchJob", std::move(name));
  w.parts = {{.name = "Master", .replicas = 1}, {.name = "Worker", .replicas = workers}};
  return w;
}

TEST(Gangs, PyTorchJobIsOneGangOfAllItsReplicas) {
  ClusterState state = state_serving_all();
  Workload job = pytorch_job("llama-ft", 7);
  job.labels["fairway.dev/queue"] = "research";
  state.upsert_workload(job);
  for (int i = 0; i < 8; ++i) state.upsert_pod(pod("llama-ft-" + std::to_string(i), ref(job)));

  const JobRecord& gang = job_of(state, "llama-ft-0");
  EXPECT_EQ(gang.key, "team-a/pytorchjob-llama-ft");
  EXPECT_EQ(gang.min_member, 8);
  EXPECT_EQ(gang.all.size(), 8u);
  EXPECT_EQ(gang.queue, "research");  // the workload's label, the pods have none
  EXPECT_EQ(gang.inferred_from, "PyTorchJob team-a/llama-ft");
  EXPECT_EQ(gang.owner.uid, job.uid);
  EXPECT_FALSE(gang.awaiting_group);
  const PodGroup* group = state.find_pod_group(gang.key);
  ASSERT_NE(group, nullptr);
  EXPECT_EQ(group->min_member, 8);
}

TEST(Gangs, KubeflowMinAvailableSetsTheGangSize) {
  ClusterState state = state_serving_all();
  Workload job = pytorch_job("elastic", 7);
  job.kind = "MPIJob";
  job.uid = "uid-mpi";
  job.min_available = 3;
  state.upsert_workload(job);
  state.upsert_pod(pod("elastic-0", ref(job)));
  EXPECT_EQ(job_of(state, "elastic-0").min_member, 3);
  EXPECT_EQ(job_of(state, "elastic-0").key, "team-a/mpijob-elastic");
}

TEST(Gangs, PlainWorkloadsGroupTheirPodsButLeaveThemIndependent) {
  ClusterState state = state_serving_all();
  Workload job = workload("batch/v1", "Job", "etl");
  job.parallelism = 4;
  Workload deployment = workload("apps/v1", "Deployment", "web");
  Workload replica_set = workload("apps/v1", "ReplicaSet", "web-5d8f", ref(deployment));
  Workload cron = workload("batch/v1", "CronJob", "nightly");
  Workload run = workload("batch/v1", "Job", "nightly-29001", ref(cron));
  for (const Workload& w : {job, deployment, replica_set, cron, run}) state.upsert_workload(w);
  for (int i = 0; i < 2; ++i) {
    state.upsert_pod(pod("etl-" + std::to_string(i), ref(job)));
    state.upsert_pod(pod("web-" + std::to_string(i), ref(replica_set)));
    state.upsert_pod(pod("nightly-" + std::to_string(i), ref(run)));
  }
  for (const auto& [pod_name, key] :
       std::vector<std::pair<std::string, std::string>>{{"etl-1", "team-a/job-etl"},
                                                        {"web-1", "team-a/deployment-web"},
                                                        {"nightly-1", "team-a/cronjob-nightly"}}) {
    const JobRecord& group = job_of(state, pod_name);
    EXPECT_EQ(group.key, key);
    EXPECT_EQ(group.min_member, 1) << key;
    EXPECT_EQ(group.all.size(), 2u) << key;
  }
  EXPECT_EQ(job_of(state, "web-0").inferred_from,
            "Deployment team-a/web");  // the top of the chain names it
}

TEST(Gangs, IndexedJobAnnotatedGangIsAGangOfItsParallelism) {
  ClusterState state = state_serving_all();
  Workload job = workload("batch/v1", "Job", "allreduce");
  job.parallelism = 4;
  job.completions = 6;
  job.indexed = true;
  job.annotations["fairway.dev/gang"] = "true";
  state.upsert_workload(job);
  state.upsert_pod(pod("allreduce-0", ref(job)));
  EXPECT_EQ(job_of(state, "allreduce-0").min_member, 4);

  job.indexed = false;  // only an Indexed Job knows its pods apart; a NonIndexed one is plain
  state.upsert_workload(job);
  EXPECT_EQ(job_of(state, "allreduce-0").min_member, 1);
}

Workload jobset(std::string name) {
  Workload w = workload("jobset.x-k8s.io/v1alpha2", "JobSet", std::move(name));
  w.parts = {{.name = "driver", .replicas = 1, .pods_each = 4},
             {.name = "workers", .replicas = 2, .pods_each = 2}};
  return w;
}

TEST(Gangs, JobSetIsOneGangWithASubgroupPerReplicatedJob) {
  ClusterState state = state_serving_all();
  Workload set = jobset("train");
  Workload child = workload("batch/v1", "Job", "train-workers-0", ref(set));
  child.parallelism = 2;
  state.upsert_workload(set);
  state.upsert_workload(child);
  Pod worker = pod("train-workers-0-0", ref(child));
  worker.labels["jobset.sigs.k8s.io/replicatedjob-name"] = "workers";
  state.upsert_pod(worker);

  const JobRecord& gang = job_of(state, worker.name);
  EXPECT_EQ(gang.key, "team-a/jobset-train");
  EXPECT_EQ(gang.min_member, 8);  // 1×4 + 2×2
  const PodGroup* group = state.find_pod_group(gang.key);
  ASSERT_NE(group, nullptr);
  ASSERT_EQ(group->subgroups.size(), 2u);
  EXPECT_EQ(group->subgroups[0].name, "driver");
  EXPECT_EQ(group->subgroups[0].min_member, 4);
  EXPECT_EQ(group->subgroups[1].name, "workers");
  EXPECT_EQ(group->subgroups[1].min_member, 4);
  EXPECT_EQ(state.find_pod("team-a/" + worker.name)->pod.subgroup, "workers");
}

TEST(Gangs, AJobSetsAnnotationsGiveTheGangAndEachReplicatedJobATopology) {
  // "Every replicated job in one rack, the whole within one spine", said on the JobSet.
  ClusterState state = state_serving_all();
  Workload set = jobset("racked");
  set.annotations["fairway.dev/topology"] = "fabric";
  set.annotations["fairway.dev/topology-required-level"] = "example.com/spine";
  set.annotations["fairway.dev/subgroup-topology-required-level"] = "example.com/rack";
  state.upsert_workload(set);
  Workload child = workload("batch/v1", "Job", "racked-driver-0", ref(set));
  state.upsert_workload(child);
  Pod driver = pod("racked-driver-0-0", ref(child));
  driver.labels["jobset.sigs.k8s.io/replicatedjob-name"] = "driver";
  state.upsert_pod(driver);
  const PodGroup* group = state.find_pod_group(job_of(state, driver.name).key);
  ASSERT_NE(group, nullptr);
  EXPECT_EQ(group->topology_constraint.topology, "fabric");
  EXPECT_EQ(group->topology_constraint.required_level, "example.com/spine");
  ASSERT_EQ(group->subgroups.size(), 2u);
  for (const SubGroup& subgroup : group->subgroups) {
    EXPECT_EQ(subgroup.topology_constraint.topology, "fabric");
    EXPECT_EQ(subgroup.topology_constraint.required_level, "example.com/rack");
  }
}

TEST(Gangs, TrainJobIsGangedThroughTheJobSetItCreates) {
  ClusterState state = state_serving_all();
  Workload train = workload("trainer.kubeflow.org/v1alpha1", "TrainJob", "bert");
  Workload set = jobset("bert");
  set.owner = ref(train);
  Workload child = workload("batch/v1", "Job", "bert-driver-0", ref(set));
  for (const Workload& w : {train, set, child}) state.upsert_workload(w);
  state.upsert_pod(pod("bert-driver-0-0", ref(child)));
  const JobRecord& gang = job_of(state, "bert-driver-0-0");
  EXPECT_EQ(gang.key, "team-a/jobset-bert");
  EXPECT_EQ(gang.min_member, 8);
  EXPECT_EQ(gang.owner.kind, "TrainJob");  // the PodGroup is owned by the top workload
  EXPECT_EQ(gang.inferred_from, "JobSet team-a/bert (of TrainJob team-a/bert)");
}

TEST(Gangs, LeaderWorkerSetIsOneGangPerGroup) {
  ClusterState state = state_serving_all();
  Workload lws = workload("leaderworkerset.x-k8s.io/v1", "LeaderWorkerSet", "vllm");
  lws.replicas = 2;
  lws.group_size = 4;
  state.upsert_workload(lws);
  Workload sts = workload("apps/v1", "StatefulSet", "vllm-0");  // its owner is a leader pod
  sts.owner = {"v1", "Pod", "vllm-0", "uid-vllm-0"};
  state.upsert_workload(sts);
  for (const std::string group : {"0", "1"}) {
    Pod p = pod("vllm-" + group + "-1", ref(sts));
    p.labels["leaderworkerset.sigs.k8s.io/name"] = "vllm";
    p.labels["leaderworkerset.sigs.k8s.io/group-index"] = group;
    state.upsert_pod(p);
  }
  EXPECT_EQ(job_of(state, "vllm-0-1").key, "team-a/leaderworkerset-vllm-0");
  EXPECT_EQ(job_of(state, "vllm-1-1").key, "team-a/leaderworkerset-vllm-1");
  EXPECT_EQ(job_of(state, "vllm-1-1").min_member, 4);
}

TEST(Gangs, RayClusterGangIsTheHeadPlusMinimumWorkers) {
  ClusterState state = state_serving_all();
  Workload ray_job = workload("ray.io/v1", "RayJob", "tune");
  Workload cluster = workload("ray.io/v1", "RayCluster", "tune-raycluster", ref(ray_job));
  cluster.parts = {{.name = "head", .replicas = 1, .min_replicas = 1},
                   {.name = "gpu", .replicas = 6, .min_replicas = 2}};
  state.upsert_workload(ray_job);
  state.upsert_workload(cluster);
  for (int i = 0; i < 7; ++i) state.upsert_pod(pod("ray-" + std::to_string(i), ref(cluster)));
  const JobRecord& gang = job_of(state, "ray-0");
  EXPECT_EQ(gang.key, "team-a/raycluster-tune-raycluster");
  EXPECT_EQ(gang.min_member, 3);  // further workers are elastic
  EXPECT_EQ(gang.all.size(), 7u);
}

TEST(Gangs, PodArrivingBeforeItsOwnerWaitsThenJoinsTheGang) {
  ClusterState state = state_serving_all();
  Workload job = pytorch_job("late", 1);
  state.upsert_pod(pod("late-0", ref(job)));
  const JobRecord& alone = job_of(state, "late-0");
  EXPECT_TRUE(alone.awaiting_group);
  EXPECT_EQ(alone.awaiting_reason, "waiting for PyTorchJob team-a/late (its owner) to be seen");

  state.upsert_workload(job);
  const JobRecord& gang = job_of(state, "late-0");
  EXPECT_EQ(gang.key, "team-a/pytorchjob-late");
  EXPECT_FALSE(gang.awaiting_group);
  EXPECT_EQ(gang.min_member, 2);

  // Scaling the workload regroups its pods; deleting it leaves them waiting again.
  state.upsert_workload(pytorch_job("late", 3));
  EXPECT_EQ(job_of(state, "late-0").min_member, 4);
  state.remove_workload(job.uid);
  EXPECT_TRUE(job_of(state, "late-0").awaiting_group);
}

TEST(Gangs, OwnerOfAKindNotServedOrUnknownLeavesThePodAlone) {
  ClusterState state;  // serves nothing
  Workload job = pytorch_job("unserved", 7);
  state.upsert_workload(job);
  state.upsert_pod(pod("unserved-0", ref(job)));
  EXPECT_EQ(job_of(state, "unserved-0").key, "team-a/unserved-0");
  EXPECT_EQ(job_of(state, "unserved-0").min_member, 1);
  EXPECT_FALSE(job_of(state, "unserved-0").awaiting_group);

  ClusterState serving = state_serving_all();
  serving.upsert_pod(pod("custom-0", {"example.com/v1", "Widget", "w", "uid-w"}));
  EXPECT_EQ(job_of(serving, "custom-0").key, "team-a/custom-0");
  EXPECT_FALSE(job_of(serving, "custom-0").awaiting_group);
}

// An ownerReference is the pod's own namespace's object, as the garbage collector reads it: a
// uid copied from another namespace's workload (or a reference whose kind or name is not that
// workload's) gives the pod neither that gang nor that workload's queue.
TEST(Gangs, AnOwnerFromAnotherNamespaceOrMisnamedIsNoOwner) {
  ClusterState state = state_serving_all();
  Workload red = pytorch_job("red-train", 3);
  red.namespace_ = "red";
  red.labels["fairway.dev/queue"] = "red-q";
  state.upsert_workload(red);
  state.upsert_pod(pod("intruder", ref(red)));  // in team-a, naming red's uid
  EXPECT_EQ(job_of(state, "intruder").min_member, 1);
  EXPECT_EQ(job_of(state, "intruder").queue, "default");
  EXPECT_TRUE(job_of(state, "intruder").inferred_from.empty());

  Workload own = pytorch_job("own", 3);
  state.upsert_workload(own);
  OwnerRef misnamed = ref(own);
  misnamed.name = "someone-else";
  state.upsert_pod(pod("misnamed", misnamed));
  EXPECT_EQ(job_of(state, "misnamed").min_member, 1);
  state.upsert_pod(pod("own-0", ref(own)));  // the same uid, named right: the gang
  EXPECT_EQ(job_of(state, "own-0").min_member, 4);
}

TEST(Gangs, QueueComesFromPodThenWorkloadThenNamespaceThenDefault) {
  ClusterState state = state_serving_all();
  Workload job = workload("batch/v1", "Job", "q");
  state.upsert_workload(job);
  state.upsert_pod(pod("q-0", ref(job)));
  EXPECT_EQ(job_of(state, "q-0").queue, "default");
  state.upsert_namespace({"team-a", {{"fairway.dev/queue", "team-a-queue"}}});
  EXPECT_EQ(job_of(state, "q-0").queue, "team-a-queue");
  job.labels["kai.scheduler/queue"] = "workload-queue";
  state.upsert_workload(job);
  EXPECT_EQ(job_of(state, "q-0").queue, "workload-queue");
  Pod labelled = pod("q-0", ref(job));
  labelled.labels["fairway.dev/queue"] = "pod-queue";
  state.upsert_pod(labelled);
  EXPECT_EQ(job_of(state, "q-0").queue, "pod-queue");
}

PodGroup group(std::string name, int32_t min_member) {
  PodGroup g;
  g.namespace_ = "team-a";
  g.name = std::move(name);
  g.min_member = min_member;
  return g;
}

TEST(Gangs, UpstreamSchedulingGroupWaitsForItsPodGroupThenUsesMinCount) {
  ClusterState state = state_serving_all();
  Workload job = workload("batch/v1", "Job", "owner");
  state.upsert_workload(job);
  Pod p = pod("up-0", ref(job));
  p.scheduling_group = "training";  // names a gang: owner inference is not consulted
  state.upsert_pod(p);
  const JobRecord& waiting = job_of(state, "up-0");
  EXPECT_EQ(waiting.key, "team-a/training");
  EXPECT_TRUE(waiting.awaiting_group);
  EXPECT_EQ(waiting.awaiting_reason,
            "waiting for PodGroup team-a/training (scheduling.k8s.io/v1alpha2) to exist");

  state.upsert_peer_group(GangSource::kUpstream, group("training", 4));
  EXPECT_FALSE(job_of(state, "up-0").awaiting_group);
  EXPECT_EQ(job_of(state, "up-0").min_member, 4);
  state.remove_peer_group(GangSource::kUpstream, "team-a/training");
  EXPECT_TRUE(job_of(state, "up-0").awaiting_group);
}

TEST(Gangs, WorkloadRefOf135NamesAPodGroupOfAWorkloadObject) {
  ClusterState state;
  Pod p = pod("wr-0");
  p.workload_ref = "llm";
  p.workload_pod_group = "workers";
  p.workload_replica_key = "0";
  state.upsert_pod(p);
  EXPECT_EQ(job_of(state, "wr-0").key, "team-a/llm-workers-0");
  EXPECT_THAT(job_of(state, "wr-0").awaiting_reason, HasSubstr("Workload team-a/llm"));
  state.upsert_peer_group(GangSource::kUpstream, group("llm#workers", 3));
  EXPECT_FALSE(job_of(state, "wr-0").awaiting_group);
  EXPECT_EQ(job_of(state, "wr-0").min_member, 3);
}

UpstreamWorkload upstream_workload(std::string name, std::vector<PodGroup> groups) {
  UpstreamWorkload w{.namespace_ = "team-a", .name = std::move(name), .pod_groups = {}};
  for (PodGroup& g : groups) {
    g.name = w.name + "#" + g.name;
    w.pod_groups.push_back(std::move(g));
  }
  return w;
}

Pod workload_ref_pod(std::string name, std::string pod_group, std::string replica_key = "") {
  Pod p = pod(std::move(name));
  p.workload_ref = "llm";
  p.workload_pod_group = std::move(pod_group);
  p.workload_replica_key = std::move(replica_key);
  return p;
}

TEST(Gangs, A135WorkloadGivesEachPodGroupAndReplicaKeyItsOwnGang) {
  ClusterState state;
  for (const char* key : {"0", "1"}) {
    for (int i = 0; i < 2; ++i) {
      state.upsert_pod(workload_ref_pod(fmt::format("w{}-{}", key, i), "workers", key));
    }
  }
  state.upsert_pod(workload_ref_pod("d-0", "driver"));
  EXPECT_EQ(job_of(state, "d-0").awaiting_reason,
            "waiting for Workload team-a/llm (scheduling.k8s.io/v1alpha1) with pod group driver "
            "to exist");

  // workers: gang of minCount 4 per replica; driver: the basic policy (min 1).
  state.upsert_upstream_workload(
      upstream_workload("llm", {group("workers", 4), group("driver", 1)}));
  const JobRecord& replica0 = job_of(state, "w0-0");
  EXPECT_EQ(replica0.key, "team-a/llm-workers-0");
  EXPECT_FALSE(replica0.awaiting_group);
  EXPECT_EQ(replica0.min_member, 4);
  EXPECT_EQ(replica0.all.size(), 2u);  // the replica key splits the pod group
  EXPECT_EQ(job_of(state, "w1-1").key, "team-a/llm-workers-1");
  EXPECT_EQ(job_of(state, "w1-1").min_member, 4);
  EXPECT_FALSE(job_of(state, "d-0").awaiting_group);
  EXPECT_EQ(job_of(state, "d-0").min_member, 1);

  // A pod group a newer version no longer has, then the Workload itself, make pods wait again.
  state.upsert_upstream_workload(upstream_workload("llm", {group("workers", 2)}));
  EXPECT_EQ(job_of(state, "w0-0").min_member, 2);
  EXPECT_TRUE(job_of(state, "d-0").awaiting_group);
  state.remove_upstream_workload("team-a/llm");
  EXPECT_TRUE(job_of(state, "w0-0").awaiting_group);
  EXPECT_THAT(job_of(state, "w0-0").awaiting_reason, HasSubstr("Workload team-a/llm"));
}

TEST(Gangs, AKindWatchedLaterRegroupsPodsAndOneNoLongerServedEndsTheirWalk) {
  ClusterState state;
  state.set_workload_kind_watched("batch", "Job");
  Workload jobset = workload("jobset.x-k8s.io/v1alpha2", "JobSet", "bert");
  jobset.parts = {{.name = "left", .replicas = 1, .pods_each = 2}};
  Workload child = workload("batch/v1", "Job", "bert-left-0", ref(jobset));
  state.upsert_workload(child);
  state.upsert_pod(pod("bert-left-0-0", ref(child)));
  state.upsert_pod(pod("bert-left-0-1", ref(child)));
  EXPECT_EQ(job_of(state, "bert-left-0-0").key, "team-a/job-bert-left-0");  // JobSet unknown
  EXPECT_EQ(job_of(state, "bert-left-0-0").min_member, 1);

  // The JobSet CRD appears (discovery re-run): the pods wait for the JobSet, then gang.
  state.set_workload_kind_watched("jobset.x-k8s.io", "JobSet");
  EXPECT_EQ(job_of(state, "bert-left-0-0").awaiting_reason,
            "waiting for JobSet team-a/bert (its owner) to be seen");
  state.upsert_workload(jobset);
  EXPECT_EQ(job_of(state, "bert-left-0-0").key, "team-a/jobset-bert");
  EXPECT_EQ(job_of(state, "bert-left-0-0").min_member, 2);

  // The CRD goes: its JobSets are dropped and the pods are grouped by their Job again.
  state.set_workload_kind_watched("jobset.x-k8s.io", "JobSet", false);
  EXPECT_EQ(state.workloads().find("JobSet", "team-a", "bert"), nullptr);
  EXPECT_EQ(job_of(state, "bert-left-0-1").key, "team-a/job-bert-left-0");
  EXPECT_FALSE(job_of(state, "bert-left-0-1").awaiting_group);
}

TEST(Gangs, PeerGroupsOfASourceNoLongerServedAreForgotten) {
  ClusterState state;
  Pod p = pod("vc-0");
  p.annotations["scheduling.k8s.io/group-name"] = "vc-group";
  state.upsert_pod(p);
  state.upsert_peer_group(GangSource::kVolcano, group("vc-group", 3));
  EXPECT_EQ(job_of(state, "vc-0").min_member, 3);
  state.forget_peer_groups(GangSource::kVolcano);
  EXPECT_TRUE(job_of(state, "vc-0").awaiting_group);
}

TEST(Gangs, PeerPodGroupsOfKaiVolcanoAndSchedulerPlugins) {
  ClusterState state;
  Pod kai = pod("kai-0");
  kai.annotations["pod-group-name"] = "kai-group";
  Pod volcano = pod("vc-0");
  volcano.annotations["scheduling.k8s.io/group-name"] = "vc-group";
  Pod plugins = pod("sp-0");
  plugins.labels["scheduling.x-k8s.io/pod-group"] = "sp-group";
  for (const Pod& p : {kai, volcano, plugins}) state.upsert_pod(p);
  PodGroup kai_group = group("kai-group", 2);
  kai_group.queue = "kai-queue";
  kai_group.subgroups = {{.name = "leader", .min_member = 1, .topology_constraint = {}},
                         {.name = "workers", .min_member = 1, .topology_constraint = {}}};
  state.upsert_peer_group(GangSource::kKai, kai_group);
  state.upsert_peer_group(GangSource::kVolcano, group("vc-group", 3));
  state.upsert_peer_group(GangSource::kSchedulerPlugins, group("sp-group", 5));
  EXPECT_EQ(job_of(state, "kai-0").min_member, 2);
  EXPECT_EQ(job_of(state, "kai-0").queue, "kai-queue");
  // Placement reads a gang's subgroups from its group, whatever the source.
  const PodGroup* kai_followed = state.job_group(job_of(state, "kai-0"));
  ASSERT_NE(kai_followed, nullptr);
  EXPECT_EQ(kai_followed->subgroups.size(), 2u);
  EXPECT_EQ(job_of(state, "vc-0").min_member, 3);
  EXPECT_EQ(job_of(state, "sp-0").min_member, 5);
  // A Volcano PodGroup does not answer for a scheduler-plugins label of the same name.
  state.remove_peer_group(GangSource::kSchedulerPlugins, "team-a/sp-group");
  state.upsert_peer_group(GangSource::kVolcano, group("sp-group", 9));
  EXPECT_TRUE(job_of(state, "sp-0").awaiting_group);
}

TEST(Gangs, SourcesNamingTheSameGangUseTheFirstGroupThatExists) {
  ClusterState state;
  Pod p = pod("both-0");
  p.annotations["fairway.dev/pod-group"] = "shared";
  p.annotations["scheduling.k8s.io/group-name"] = "shared";  // left from Volcano
  state.upsert_pod(p);
  state.upsert_peer_group(GangSource::kVolcano, group("shared", 3));
  EXPECT_EQ(job_of(state, "both-0").min_member, 3);  // fairway's is not there: Volcano's
  state.upsert_pod_group(group("shared", 2));
  EXPECT_EQ(job_of(state, "both-0").min_member, 2);  // fairway's wins
  EXPECT_THAT(state.find_pod("team-a/both-0")->intent.errors, IsEmpty());
}

TEST(Gangs, ConflictingSourcesAreAnErrorOnThePod) {
  ClusterState state;
  Pod p = pod("conflict-0");
  p.annotations["fairway.dev/pod-group"] = "a";
  p.labels["scheduling.x-k8s.io/pod-group"] = "b";
  state.upsert_pod(p);
  const PodRecord* record = state.find_pod("team-a/conflict-0");
  ASSERT_EQ(record->intent.errors.size(), 1u);
  EXPECT_EQ(record->intent.errors[0],
            "the pod names two different gangs: annotation fairway.dev/pod-group=\"a\" and label "
            "scheduling.x-k8s.io/pod-group=\"b\"; name one gang (or the same one in both places)");
}

TEST(Gangs, ExplicitSourceWinsOverOwnerInference) {
  ClusterState state = state_serving_all();
  Workload job = pytorch_job("explicit", 7);
  state.upsert_workload(job);
  Pod p = pod("explicit-0", ref(job));
  p.annotations["fairway.dev/pod-group"] = "mine";
  p.annotations["fairway.dev/min-member"] = "2";
  state.upsert_pod(p);
  EXPECT_EQ(job_of(state, "explicit-0").key, "team-a/mine");
  EXPECT_EQ(job_of(state, "explicit-0").min_member, 2);
  EXPECT_FALSE(job_of(state, "explicit-0").inferred());
}

TEST(Gangs, OddCountsAreClampedNotOverflowed) {
  ClusterState state = state_serving_all();
  Workload set = workload("jobset.x-k8s.io/v1alpha2", "JobSet", "huge");
  set.parts = {{.name = "a", .replicas = 2'000'000'000, .pods_each = 2'000'000'000}};
  state.upsert_workload(set);
  Workload child = workload("batch/v1", "Job", "huge-a-0", ref(set));
  state.upsert_workload(child);
  state.upsert_pod(pod("huge-0", ref(child)));
  EXPECT_EQ(job_of(state, "huge-0").min_member, std::numeric_limits<int32_t>::max());
}

}  // namespace
}  // namespace fairway
