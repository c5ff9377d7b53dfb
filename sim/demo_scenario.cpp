#include "sim/demo_scenario.h"

namespace fairway::sim {

// Kept byte for byte equal to examples/sim/demo.yaml (a unit test checks it), so the demo that
// `make run` shows is also a file users can copy and edit.
std::string_view demo_scenario_yaml() {
  static constexpr std::string_view kDemo =
      R"yaml(# fairway's built-in demo (`fairway sim` with no file, and `make run`).
# 16 GPU nodes in two kinds, a two-level queue tree, single pods and gangs arriving in bursts.
# Watch production's fair share jump when its burst arrives at 0:30 while research is over
# quota, and fairway reclaim it: its preemption pass evicts research pods until production has
# its share (the report lists them). The 16-GPU gang waits until two H100 nodes are free at once,
# four quarter-GPU pods share one GPU, and a PyTorchJob's pods (no PodGroup written) wait as one
# gang while a plain Job's pods start one by one.
name: demo
description: >-
  16 nodes x 8 GPUs (8 H100, 8 A100); queues production, research/{vision,nlp} and default;
  bursts of single pods and gangs, including one 16-GPU gang, a PyTorchJob, a plain Job and
  quarter-GPU pods sharing a GPU.
cyclePeriodSeconds: 1

nodes:
  - namePrefix: h100-
    count: 8
    labels: {nvidia.com/gpu.product: H100-SXM, topology.fairway.dev/rack: rack-a}
    allocatable: {cpu: 96, memory: 1Ti, nvidia.com/gpu: 8, pods: 110}
  - namePrefix: a100-
    count: 8
    labels: {nvidia.com/gpu.product: A100-SXM4, topology.fairway.dev/rack: rack-b}
    allocatable: {cpu: 64, memory: 512Gi, nvidia.com/gpu: 8, pods: 110}

queues:
  - name: production
    priority: 100
    resources:
      nvidia.com/gpu: {quota: 48, overQuotaWeight: 1}
  - name: research
    resources:
      nvidia.com/gpu: {quota: 64, limit: 112, overQuotaWeight: 2}
  - name: vision
    parent: research
    resources:
      nvidia.com/gpu: {quota: 40, overQuotaWeight: 2}
  - name: nlp
    parent: research
    resources:
      nvidia.com/gpu: {quota: 24, overQuotaWeight: 1}
  - name: default
    resources:
      nvidia.com/gpu: {quota: 0, overQuotaWeight: 1}

jobs:
  # Research fills the idle cluster, far beyond its quota.
  - name: vision-train
    queue: vision
    at: 0
    count: 12
    durationSeconds: 90
    requests: {cpu: 16, memory: 128Gi, nvidia.com/gpu: 4}
  - name: nlp-finetune
    queue: nlp
    at: 0
    count: 6
    durationSeconds: 70
    requests: {cpu: 12, memory: 96Gi, nvidia.com/gpu: 8}
  - name: nlp-eval
    queue: nlp
    at: 5
    every: 10
    count: 12
    durationSeconds: 30
    requests: {cpu: 4, memory: 32Gi, nvidia.com/gpu: 1}
  # The 16-GPU gang: two whole H100 nodes at once, or nothing.
  - name: nlp-pretrain
    queue: nlp
    at: 20
    pods: 2
    durationSeconds: 60
    nodeSelector: {nvidia.com/gpu.product: H100-SXM}
    requests: {cpu: 48, memory: 512Gi, nvidia.com/gpu: 8}
  # Production's burst: its fair share rises to its quota; it takes the free GPUs, and fairway
  # reclaims the rest from research (over its share), evicting research's youngest pods.
  - name: serve
    queue: production
    at: 30
    count: 10
    durationSeconds: 100
    requests: {cpu: 8, memory: 64Gi, nvidia.com/gpu: 4}
  - name: prod-gang
    queue: production
    at: 45
    pods: 4
    minMember: 4
    durationSeconds: 60
    requests: {cpu: 8, memory: 64Gi, nvidia.com/gpu: 2}
  # A second wave from both research teams while production still runs: vision (weight 2)
  # and nlp (weight 1) split what production leaves by their quotas and weights.
  - name: vision-sweep
    queue: vision
    at: 110
    every: 5
    count: 12
    pods: 2
    minMember: 2
    durationSeconds: 45
    requests: {cpu: 8, memory: 64Gi, nvidia.com/gpu: 4}
  - name: nlp-ablation
    queue: nlp
    at: 115
    every: 5
    count: 8
    durationSeconds: 50
    requests: {cpu: 12, memory: 96Gi, nvidia.com/gpu: 8}
  # Fractional GPUs: four inference pods of a quarter GPU each (annotation
  # fairway.dev/gpu-fraction) share one GPU, held for them by one reservation pod; their queue is
  # charged a quarter GPU per pod.
  - name: infer
    at: 10
    count: 4
    durationSeconds: 60
    gpuFraction: 0.25
    requests: {cpu: 2, memory: 16Gi}
  # Pods without a queue label land in the default queue, which has no quota.
  - name: notebook
    at: 10
    every: 40
    count: 4
    durationSeconds: 40
    requests: {cpu: 2, memory: 16Gi, nvidia.com/gpu: 1}
  # Workloads as their operators create them, with no PodGroup and no gang annotation; fairway
  # groups the pods by their ownerReferences. A PyTorchJob of 1 master + 3 workers is one gang:
  # it waits until all 4 fit and binds them in one go.
  - name: llama-ft
    queue: vision
    at: 60
    pods: 4
    workload: PyTorchJob
    durationSeconds: 40
    requests: {cpu: 16, memory: 128Gi, nvidia.com/gpu: 4}
  # A plain batch Job: one group for status and fair share, but its pods bind independently,
  # each as soon as there is room for it.
  - name: etl
    at: 62
    pods: 2
    workload: Job
    durationSeconds: 30
    requests: {cpu: 8, memory: 64Gi, nvidia.com/gpu: 4}
)yaml";
  return kDemo;
}

}  // namespace fairway::sim
