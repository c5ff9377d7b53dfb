#pragma once
// What a pod asks a node for, computed exactly as Kubernetes does (k8s.io/component-helpers
// resource.PodRequests), so that fairway and the kubelet agree on whether a pod fits.
//
// Contract, per resource name:
//   1. A container's request falls back to its limit when only the limit is set (the API
//      server's defaulting does this too; decoders may hand us undefaulted pods).
//   2. Sidecars (init containers with restartPolicy: Always, KEP-753) start before and keep
//      running beside everything declared after them. So a regular init container effectively
//      needs its own request plus the sum of the sidecars declared before it.
//   3. pod = max(max over init containers of the effective request,
//                sum(app containers) + sum(sidecars))
//            + pod overhead.
// Entries that come out zero are dropped, so an empty list means "asks for nothing".
// Pod-level resources (KEP-2837) are not in the model and are not considered.

#include "queues/resources.h"
#include "scheduler/state/model.h"

namespace fairway {

// A container's requests with the limit fallback applied (rule 1).
ResourceList container_requests(const Container& container);

// The pod's effective requests (rules 1-3).
ResourceList pod_requests(const Pod& pod);

}  // namespace fairway
