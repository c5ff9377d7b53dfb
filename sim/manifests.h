#pragma once
// Kubernetes manifests (JSON) for the cluster model's objects, as a client would POST them:
// the inverse of k8s-client's decoders. Quantities are written as Kubernetes strings.

#include <nlohmann/json.hpp>

#include "queues/queue_spec.h"
#include "scheduler/state/model.h"
#include "topology/topology_spec.h"

namespace fairway::sim {

nlohmann::json node_manifest(const Node& node);
nlohmann::json pod_manifest(const Pod& pod);
nlohmann::json queue_manifest(const QueueSpec& queue);
// A Topology CR (scheduling.fairway.dev/v1alpha1) with its levels, top to bottom.
nlohmann::json topology_manifest(const TopologySpec& topology);
// A PodGroup CR (scheduling.fairway.dev/v1alpha1): minMember, queue, topology, subGroups.
nlohmann::json pod_group_manifest(const PodGroup& group);
nlohmann::json namespace_manifest(const std::string& name);
// A workload as its user creates it (sim/scenario.h `workload`): a batch/v1 Job or a
// kubeflow.org/v1 PyTorchJob with the replica specs of Workload::parts. Its uid is the server's.
nlohmann::json workload_manifest(const Workload& workload);
// The CustomResourceDefinition the Kubeflow training operator installs for PyTorchJobs (schema
// left open, as owner_gangs.sh's fixture has it).
nlohmann::json pytorchjob_crd_manifest();

}  // namespace fairway::sim
