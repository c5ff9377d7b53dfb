#pragma once
// The edge of kube-scheduler's DynamicResources PreBind: before the actuator posts a pod's
// Binding it writes each of Binding::claim_allocations to the claim's status subresource —
// `status.allocation` (devices, nodeSelector) when fairway allocated the claim, and the pod
// added to `status.reservedFor` — so the kubelet finds the devices prepared for the pod.
//
// A claim fairway allocates first gets kube-scheduler's finalizer
// `resource.kubernetes.io/delete-protection` (the resourceclaim controller deallocates a claim
// nobody reserves only when it is there, and removes it then).
//
// Each write is a read-modify-write of the claim carrying its resourceVersion (PUT .../status),
// so a claim changed since it was read is a 409, read again: if somebody else allocated it in
// between (another scheduler, a user), the write fails and the next cycle sees the truth; a
// claim reserved for this pod already is left as it is.
//
// rollback() undoes an attempt whose pod could not be bound: the pod leaves reservedFor, and an
// allocation this attempt wrote is cleared (with its finalizer) when no other consumer is left.
// Once a pod is bound, releasing its claims when it goes is kube-controller-manager's resourceclaim
// controller's job, as on any cluster (it removes gone pods from reservedFor and deallocates claims
// nobody reserves).

#include <optional>
#include <string>
#include <vector>

#include "scheduler/cycle/cycle.h"
#include "scheduler/service/cluster_writer.h"

namespace fairway {

// What one attempt wrote, for rollback.
struct ClaimWrite {
  std::string key;         // namespace/name
  bool allocated = false;  // this attempt wrote status.allocation
};

class ClaimWriter {
 public:
  explicit ClaimWriter(ClusterWriter& client) : client_(client) {}

  // Writes every claim of the binding. nullopt: done (`written` lists the writes); otherwise
  // why not, with this attempt's writes undone.
  std::optional<std::string> write(const Binding& binding, std::vector<ClaimWrite>& written);
  // Undoes the writes of an attempt whose pod could not be bound. Best effort, logged.
  void rollback(const Binding& binding, const std::vector<ClaimWrite>& written);

 private:
  ClusterWriter& client_;
};

// The status.allocation object of a claim (resource.k8s.io/v1 AllocationResult), as JSON text.
std::string allocation_json(const dra::AllocationResult& allocation);

}  // namespace fairway
