#pragma once
// kube-scheduler's volume plugins as pure checks over the storage objects the state holds:
// VolumeBinding (claims exist, Immediate claims are bound, WaitForFirstConsumer claims find a
// static volume or a provisioner that can serve the node), VolumeZone, VolumeRestrictions
// (ReadWriteOncePod) and NodeVolumeLimits (CSINode attach limits). docs/scheduling.md states
// each rule and its message.
//
// The cycle asks volume_prefilter once per pod (a failure there means no node can take the
// pod) and volume_filter per candidate node. A WaitForFirstConsumer claim matched to a static
// volume on a node is returned as a binding the edge performs before it binds the pod.

#include <optional>
#include <string>
#include <unordered_set>
#include <vector>

#include "scheduler/state/model.h"

namespace fairway {

class ClusterState;

// One claim to bind before the pod's Binding: to the static `volume` (PV claimRef and the claim's
// volumeName), or, when `volume` is empty, by a provisioner on `node` (the claim's annotation
// volume.kubernetes.io/selected-node).
struct VolumeBinding {
  std::string claim;   // namespace/name
  std::string volume;  // PersistentVolume name; empty: dynamic provisioning
  std::string node;
};

struct VolumeVerdict {
  bool fits = true;
  std::string reason;  // kube-scheduler's words when !fits
  std::vector<VolumeBinding> bindings;
};

// Pod-level failures, the same for every node: a missing claim, a claim being deleted (or Lost),
// an unbound Immediate claim, an ephemeral claim not yet created (or not owned by the pod).
// nullopt: the pod may fit somewhere. (A ReadWriteOncePod claim in use by another pod is the
// same on every node too, but kube-scheduler 1.28+ reports it from Filter, per node, as
// Unschedulable so that preemption may help: volume_filter reports it.)
std::optional<std::string> volume_prefilter(const ClusterState& state, const Pod& pod);

// May the pod's claims be served on `node`? `taken`: static volumes already promised this cycle
// (to other pods, or to earlier claims), which must not be matched again. The checks run in
// kube-scheduler's filter order (VolumeRestrictions, NodeVolumeLimits, VolumeBinding,
// VolumeZone) and the first failure is the reason. A pod without claims returns at once.
VolumeVerdict volume_filter(const ClusterState& state, const Pod& pod, const Node& node,
                            const std::unordered_set<std::string>& taken);

}  // namespace fairway
