#pragma once
// The mutating admission webhook for fractional GPUs (docs/gpu-sharing.md), as pure functions:
// an AdmissionReview (admission.k8s.io/v1) in, an AdmissionReview out. Mounted at /mutate on
// an HTTPS server; no I/O here.
//
// For a pod of ours (spec.schedulerName) that asks for a GPU share:
//   - invalid share annotations (1.5, "abc", fraction and memory together, a share plus whole
//     nvidia.com/gpu) → denied, the message naming the annotation and what is wrong;
//   - valid → a JSONPatch that records the ConfigMap name in fairway.dev/gpu-configmap and adds
//     envFrom: [{configMapRef: {name, optional: false}}] to every container, so the containers
//     start only once the scheduler has written NVIDIA_VISIBLE_DEVICES and GPU_FRACTION there.
// Everything else is allowed unchanged.

#include <functional>
#include <string>
#include <string_view>
#include <tl/expected.hpp>
#include <vector>

#include "scheduler/state/pod_intent.h"

namespace fairway::webhook {

struct AdmissionConfig {
  std::string scheduler_name = "fairway";
  PodIntentConfig intent;
  // Why a pod of ours must be rejected whatever it asks (a queue its namespace may not use, a
  // fairway-assigned key it set itself: scheduler/state/admission_policy.h); empty: no objection.
  // Unset: not checked.
  std::function<std::vector<std::string>(const Pod&)> tenant_denials;
};

// The review's answer. An error (the body is not an AdmissionReview with a request uid) is for
// an HTTP 400: there is no uid to answer to.
tl::expected<std::string, std::string> review_pod_admission(std::string_view body,
                                                            const AdmissionConfig& config = {});

std::string base64_encode(std::string_view data);

}  // namespace fairway::webhook
