#pragma once
// PATCH bodies: JSON merge patch (RFC 7386), JSON patch (RFC 6902) and an approximation of
// Kubernetes strategic merge patch.
//
// Strategic merge patch is approximated: it is a merge patch, except that lists kube marks
// `patchStrategy: merge` (containers, env, volumes, ports, conditions, finalizers, ...) are merged
// by their merge key, and the directives `$patch: delete|replace`, `$setElementOrder/<list>`,
// `$retainKeys` and `$deleteFromPrimitiveList/<list>` are honoured or dropped. That covers what
// `kubectl apply` sends for built-in kinds; per-type schemas are not consulted.

#include <nlohmann/json.hpp>
#include <string_view>
#include <tl/expected.hpp>

#include "sim/apiserver/api_error.h"

namespace fairway::apiserver {

enum class PatchType { kMerge, kStrategicMerge, kJsonPatch, kApply };

// From a Content-Type header; nullopt-like error for unsupported media types (415).
tl::expected<PatchType, ApiError> patch_type_from_content_type(std::string_view content_type);

// Applies `patch` to `target`, returning the patched document.
tl::expected<nlohmann::json, ApiError> apply_patch(const nlohmann::json& target, PatchType type,
                                                   std::string_view patch);

// RFC 7386 merge patch (exposed for tests).
nlohmann::json merge_patch(nlohmann::json target, const nlohmann::json& patch);
nlohmann::json strategic_merge_patch(nlohmann::json target, const nlohmann::json& patch);

}  // namespace fairway::apiserver
