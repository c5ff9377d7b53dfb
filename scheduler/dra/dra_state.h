#pragma once
// The cluster's Dynamic Resource Allocation objects as the scheduler holds them: ResourceSlices,
// DeviceClasses, ResourceClaims and ResourceClaimTemplates, plus what is derived from them once
// per change rather than per pod — the slices grouped into pools (allocator.h DevicePools), the
// set of devices allocated to claims, and one CEL cache for the process.
//
// Assumptions: when the cycle binds a pod whose claims it allocated (ClaimAllocation), the
// caller assumes them here, so the next cycle sees the claims allocated and reserved for the pod
// and does not hand the same devices to another claim before the watch shows the write. An
// update of the claim that shows an allocation ends the assumption; forget() undoes it when the
// write or the bind failed.
//
// Pure: no I/O, no clock. Owned by ClusterState (scheduler/state), fed by the service's watches.

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <tl/expected.hpp>
#include <vector>

#include "scheduler/dra/allocator.h"
#include "scheduler/dra/cel.h"
#include "scheduler/dra/model.h"
#include "scheduler/state/model.h"

namespace fairway::dra {

// Why a pod's claims cannot be looked up, the same on every node (kube-scheduler's PreFilter).
struct ClaimLookupFailure {
  std::string message;
};

class DraState {
 public:
  DraState();
  ~DraState();
  DraState(DraState&&) noexcept;
  DraState& operator=(DraState&&) noexcept;

  // --- events ---
  void upsert_slice(ResourceSlice slice);
  void remove_slice(std::string_view name);
  void upsert_class(DeviceClass device_class);
  void remove_class(std::string_view name);
  void upsert_claim(ResourceClaim claim);
  void remove_claim(std::string_view key);  // "namespace/name"
  void upsert_template(ResourceClaimTemplate claim_template);
  void remove_template(std::string_view key);
  // Forget every object of one kind (its watch stopped: the cluster no longer serves it, or this
  // scheduler may no longer read it). clear_claims also drops the assumptions; it and
  // clear_templates return the keys they removed.
  void clear_slices();
  void clear_classes();
  std::vector<std::string> clear_claims();
  std::vector<std::string> clear_templates();

  // --- assumptions (see above) ---
  // `pod_name`, `pod_uid`: the pod the claims are reserved for.
  void assume(const std::vector<ClaimAllocation>& claims, std::string_view pod_name,
              std::string_view pod_uid);
  void forget(const std::vector<ClaimAllocation>& claims);

  // --- reads ---
  // The pod's claims in spec.resourceClaims order (entries whose generated claim the
  // controller said is not needed are skipped), or why they cannot be used yet: the claim of a
  // template not created yet, a claim missing, one made for another pod, or being deleted.
  tl::expected<std::vector<const ResourceClaim*>, ClaimLookupFailure> claims_of(
      const Pod& pod) const;
  // How many devices of the named DeviceClasses the pod's claims hold (allocated claims) or ask
  // for (claims not allocated yet, and claims of templates not created yet: ExactCount requests,
  // the first firstAvailable choice; `All` counts once allocated). What its queue is charged.
  int64_t devices_of_classes(const Pod& pod,
                             const std::set<std::string, std::less<>>& classes) const;
  // How many published devices (of complete pools) the named DeviceClasses select: what they
  // add to the cluster's capacity for fair shares. Cached until a slice or class changes.
  int64_t published_devices_of_classes(const std::set<std::string, std::less<>>& classes) const;
  const ResourceClaim* find_claim(std::string_view key) const;
  const std::map<std::string, ResourceClaim, std::less<>>& claims() const { return claims_; }
  const ResourceClaimTemplate* find_template(std::string_view key) const;
  const Allocator::Classes& classes() const { return classes_; }
  // Rebuilt on first use after a slice changed (caches: the loop thread alone uses a state).
  const DevicePools& pools() const;
  // Devices allocated to claims (admin-access results excluded: they do not hold a device),
  // assumed allocations included. Rebuilt on first use after a claim changed.
  const DeviceSet& allocated() const;
  // Compiled selectors, shared by every allocation (thread-safe).
  CelCache& cel() const { return *cel_; }
  bool empty() const { return slices_.empty() && claims_.empty(); }
  size_t slice_count() const { return slices_.size(); }
  size_t claim_count() const { return claims_.size(); }

 private:
  std::map<std::string, ResourceSlice, std::less<>> slices_;
  Allocator::Classes classes_;
  std::map<std::string, ResourceClaim, std::less<>> claims_;
  std::map<std::string, ResourceClaimTemplate, std::less<>> templates_;
  // Claims shown with an assumed allocation: key → the claim as the API last showed it.
  std::map<std::string, ResourceClaim, std::less<>> assumed_;

  mutable std::vector<ResourceSlice> slice_list_;  // what pools_ points into
  mutable std::unique_ptr<DevicePools> pools_;
  mutable DeviceSet allocated_;
  mutable bool allocated_dirty_ = true;
  std::unique_ptr<CelCache> cel_;             // behind a pointer: it holds a mutex, the state moves
  mutable std::optional<int64_t> published_;  // published_devices_of_classes, while valid
};

}  // namespace fairway::dra
