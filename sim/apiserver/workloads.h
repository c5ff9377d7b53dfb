#pragma once
// kube-apiserver's validation essentials for the apps/v1 workload controllers (Deployment,
// ReplicaSet, StatefulSet, DaemonSet), which the embedded API server stores without a controller
// behind them: a manifest it accepts is one a cluster accepts, and one a cluster refuses is
// refused here with the same field path and words (k8s.io/kubernetes pkg/apis/apps/validation):
//   spec.selector                    Required value; empty selector is invalid; immutable
//   spec.template.metadata.labels    `selector` does not match template `labels`
//   spec.template.spec.containers    Required value; each container's name and image required
//   spec.template.spec.restartPolicy Always only (StatefulSet, DaemonSet, Deployment, ReplicaSet)

#include <nlohmann/json.hpp>
#include <tl/expected.hpp>

#include "sim/apiserver/api_error.h"
#include "sim/apiserver/resource_types.h"

namespace fairway::apiserver {

// Whether `type` is one of the workload controllers checked here.
bool is_apps_controller(const ResourceType& type);

// Checks a workload object on create (previous == nullptr) or update (the stored object).
tl::expected<void, ApiError> validate_apps_controller(const ResourceType& type,
                                                      const nlohmann::json& object,
                                                      const nlohmann::json* previous);

}  // namespace fairway::apiserver
