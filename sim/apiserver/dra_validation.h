#pragma once
// Defaulting and validation of resource.k8s.io/v1 (Dynamic Resource Allocation) objects as
// kube-apiserver 1.34 does them (pkg/apis/resource/validation, v1 defaults): DeviceClass,
// ResourceSlice, ResourceClaim (and its status subresource), ResourceClaimTemplate. The rules,
// with kube-apiserver's words, are listed in docs/embedded-apiserver.md ("Dynamic Resource
// Allocation").

#include <nlohmann/json.hpp>
#include <string>
#include <tl/expected.hpp>

#include "sim/apiserver/api_error.h"

namespace fairway::apiserver {

// kube-apiserver's limits (pkg/apis/resource/types.go).
inline constexpr size_t kResourceSliceMaxDevices = 128;
inline constexpr size_t kResourceClaimReservedForMaxSize = 256;
inline constexpr size_t kDeviceRequestsMaxSize = 32;
inline constexpr size_t kDeviceConstraintsMaxSize = 32;
inline constexpr size_t kDeviceSelectorsMaxSize = 32;
inline constexpr size_t kAllocationResultsMaxSize = 32;
inline constexpr size_t kMaxAttributesAndCapacitiesPerDevice = 32;

// The v1 defaults kube-apiserver writes before validating: a request's (or subrequest's)
// allocationMode is ExactCount when unset, and an ExactCount request's count is 1.
void default_dra_object(const std::string& kind, nlohmann::json& object);

// A create (`old` nullptr) or a plain update of one of the four kinds (`kind` names it): a 422
// Invalid naming the first offending field, or nothing. On an update a claim's and a template's
// spec, a slice's driver, pool name and node name are immutable.
tl::expected<void, ApiError> validate_dra_object(const std::string& kind,
                                                 const nlohmann::json& object,
                                                 const nlohmann::json* old);

// A write through a ResourceClaim's status subresource: status.reservedFor (at most 256 distinct
// consumers, only with an allocation) and status.allocation (names requests of the claim; once
// set it cannot change, only be removed).
tl::expected<void, ApiError> validate_resource_claim_status(const nlohmann::json& claim,
                                                            const nlohmann::json& old);

}  // namespace fairway::apiserver
