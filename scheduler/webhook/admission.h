#pragma once
// The admission webhook (docs/gpu-sharing.md, docs/security.md), as pure functions: an
// AdmissionReview (admission.k8s.io/v1) in, an AdmissionReview out. Mounted at /mutate on an
// HTTPS server; no I/O here.
//
// For a pod of ours (spec.schedulerName), on CREATE and UPDATE:
//   - tenant denials (the queue the pod will really use, wherever it comes from: its gang's
//     PodGroup, its own label or annotation, its controller owner's label, its namespace's
//     label; its namespace may not use it; a fairway-assigned key set or changed) → denied, 403;
//   - NVIDIA_VISIBLE_DEVICES set in a container's env (CREATE) → denied: fairway hands out GPUs;
// and on CREATE only, for a pod asking for a GPU share:
//   - invalid share annotations (1.5, "abc", fraction and memory together, a share plus whole
//     nvidia.com/gpu) → denied, the message naming the annotation and what is wrong;
//   - valid → a JSONPatch that records the ConfigMap name in fairway.dev/gpu-configmap and adds
//     envFrom: [{configMapRef: {name, optional: false}}] to every container, so the containers
//     start only once the scheduler has written NVIDIA_VISIBLE_DEVICES and GPU_FRACTION there.
// A fairway PodGroup (scheduling.fairway.dev) on CREATE and UPDATE: denied when its namespace may
// not use its queue. Requests from a trusted user (fairway's own service account, which writes
// the fairway-assigned keys) are not judged. Everything else is allowed unchanged.

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
  // Why a pod of ours must be rejected whatever it asks (the queue it will use may not be used
  // from its namespace, a fairway-assigned key set or changed:
  // scheduler/state/admission_policy.h, the queue from ClusterState::queue_of); `old_pod` is the
  // stored pod on UPDATE, null on CREATE. Empty: no objection. Unset: not checked.
  std::function<std::vector<std::string>(const Pod& pod, const Pod* old_pod)> tenant_denials;
  // Why a PodGroup must be rejected (a queue its namespace may not use). Unset: not checked.
  std::function<std::vector<std::string>(const PodGroup&)> pod_group_denials;
  // request.userInfo.username values whose requests are not judged: fairway's own identity.
  std::vector<std::string> trusted_users;
};

// Why a body got no review: there is no uid to answer to, so this is an HTTP error, never a
// review. `status` is 413 for a body over k8s::kMaxRequestBodyBytes, 400 otherwise (not JSON,
// nested deeper than k8s::kMaxJsonDepth, not an AdmissionReview, a field of the wrong type);
// `message` says which, and never carries a parser's internal exception text.
struct ReviewError {
  int status = 400;
  std::string message;
};

// The review's answer. Limits are checked before any DOM is built, and the pod is decoded
// straight from `body` (request.object), so no body can drive the decoder into deep recursion
// (docs/security.md).
tl::expected<std::string, ReviewError> review_pod_admission(std::string_view body,
                                                            const AdmissionConfig& config = {});

std::string base64_encode(std::string_view data);

}  // namespace fairway::webhook
