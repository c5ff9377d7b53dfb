#pragma once
// Kubernetes manifests (JSON) for the cluster model's objects, as a client would POST them:
// the inverse of k8s-client's decoders. Quantities are written as Kubernetes strings.

#include <nlohmann/json.hpp>

#include "queues/queue_spec.h"
#include "scheduler/state/model.h"

namespace fairway::sim {

nlohmann::json node_manifest(const Node& node);
nlohmann::json pod_manifest(const Pod& pod);
nlohmann::json queue_manifest(const QueueSpec& queue);
nlohmann::json namespace_manifest(const std::string& name);

}  // namespace fairway::sim
