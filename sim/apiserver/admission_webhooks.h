#pragma once
// Mutating admission webhooks, as kube-apiserver calls them, small: on CREATE of an object the
// MutatingWebhookConfiguration objects whose rules match (operations, apiGroups, resources; "*"
// allowed) are called in name order with an AdmissionReview (admission.k8s.io/v1) over HTTPS,
// verified against the webhook's caBundle; a JSONPatch answer is applied, a denial fails the
// request with the webhook's message, and a call that fails obeys failurePolicy (Fail by
// default). Only clientConfig.url is supported (no in-cluster Services to route to here);
// namespaceSelector, objectSelector, matchPolicy and reinvocation are not evaluated.

#include <nlohmann/json.hpp>
#include <string>
#include <tl/expected.hpp>

#include "sim/apiserver/api_error.h"
#include "sim/apiserver/resource_types.h"
#include "sim/apiserver/store.h"

namespace fairway::apiserver {

// The object after every matching webhook, or the error to answer the CREATE with.
tl::expected<nlohmann::json, ApiError> run_mutating_webhooks(Store& store, const ResourceType& type,
                                                             const std::string& ns,
                                                             nlohmann::json object);

}  // namespace fairway::apiserver
