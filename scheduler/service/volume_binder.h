#pragma once
// The edge of volume binding (kube-scheduler's PreBind of VolumeBinding): before the actuator
// posts a pod's Binding it performs the pod's Binding::volume_bindings and waits for the claims
// to be bound.
//
//   - static volume: the PV's spec.claimRef := {namespace, name, uid} of the claim (a merge
//     patch carrying the PV's resourceVersion, so a PV changed since it was read is a 409) and
//     annotation pv.kubernetes.io/bound-by-controller; then the claim's spec.volumeName (allowed
//     on an unbound claim).
//   - dynamic provisioning: the claim's annotation volume.kubernetes.io/selected-node := node;
//     the external provisioner creates the volume and the PV controller binds it.
//
// Bound means: claim status.phase Bound, or spec.volumeName set and that PV's claimRef naming
// the claim (with no PV controller, as in the embedded API server, fairway having written both
// sides is all there will be). Provisioning is done when the claim names a volume; a
// provisioner that gives up removes the selected-node annotation, which fails the wait at once.
// The wait polls and ends at the timeout (--volume-bind-timeout, kube-scheduler's
// bindTimeoutSeconds, 600 s).
//
// On failure or timeout, and when the pod's own Binding fails afterwards, rollback() undoes what
// this attempt wrote: the PV's claimRef, the claim's volumeName (a real API server refuses to
// clear it once set: the claim then stays pre-bound to the volume, which the PV controller
// finishes or the user deletes), the selected-node annotation (only while no volume was
// provisioned).

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <vector>

#include "scheduler/cycle/cycle.h"
#include "scheduler/service/cluster_writer.h"
#include "scheduler/state/clock.h"

namespace fairway {

struct VolumeBinderOptions {
  std::chrono::milliseconds timeout{std::chrono::seconds(600)};
  std::chrono::milliseconds poll{std::chrono::seconds(1)};
};

// What one attempt wrote, for rollback.
struct VolumeWrites {
  std::vector<std::string> claim_refs;      // PV names whose claimRef we set
  std::vector<std::string> volume_names;    // claim keys whose volumeName we set
  std::vector<std::string> selected_nodes;  // claim keys we annotated
  bool empty() const {
    return claim_refs.empty() && volume_names.empty() && selected_nodes.empty();
  }
};

class VolumeBinder {
 public:
  explicit VolumeBinder(ClusterWriter& client, VolumeBinderOptions options = {},
                        const Clock& clock = SystemClock::instance());

  // Writes the binding's volume bindings and waits until every claim is bound. nullopt: done,
  // `written` says what was written; otherwise why not, with this attempt's writes undone.
  std::optional<std::string> bind(const Binding& binding, VolumeWrites& written);
  // Undoes the writes of an attempt whose pod could not be bound. Best effort.
  void rollback(const VolumeWrites& written);
  // Ends every wait now (shutdown); the waits fail and roll back.
  void stop();

 private:
  // A failure that ends the wait, else nullopt with `done` telling whether every claim is bound.
  std::optional<std::string> check_bound(const Binding& binding, bool& done);
  // The PV's claimRef (and bound-by-controller); the error on failure.
  std::optional<std::string> write_claim_ref(const VolumeBinding& vb, const nlohmann::json& claim,
                                             const nlohmann::json& volume, VolumeWrites& written);

  ClusterWriter& client_;
  VolumeBinderOptions options_;
  const Clock& clock_;  // the wait for claims to be bound
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
};

}  // namespace fairway
