#pragma once
// Validation of Kubernetes 1.35's scheduling.k8s.io/v1alpha1 Workload, as kube-apiserver does
// it (pkg/apis/scheduling/validation): the pod groups pods join through spec.workloadRef. The
// rules and their words are listed in docs/gangs.md ("1.35 Workload objects").

#include <nlohmann/json.hpp>
#include <tl/expected.hpp>

#include "sim/apiserver/api_error.h"

namespace fairway::apiserver {

// At most this many pod groups in one Workload (WorkloadMaxPodGroups).
inline constexpr size_t kWorkloadMaxPodGroups = 8;

// A 422 Invalid naming the first offending field, or nothing. `old`: the stored object on an
// update (spec.podGroups and spec.controllerRef are immutable), nullptr on a create.
tl::expected<void, ApiError> validate_workload(const nlohmann::json& workload,
                                               const nlohmann::json* old);

}  // namespace fairway::apiserver
