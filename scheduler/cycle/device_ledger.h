#pragma once
// The devices of Dynamic Resource Allocation claims during one cycle (scheduler/dra/): what the
// API shows allocated, plus what this cycle allocated for the pods it placed so far, so that a
// later pod (or a later member of the same gang) never gets a device twice and sees a claim it
// shares with an earlier pod as allocated.
//
// Devices are preferred on one island (allocator.h): the NVLink island of the GPU on its node's
// link graph when the device says which GPU it is (an int attribute `index` or `minor` of its
// driver) and the node's layout is known, else the value of a `cliqueId` attribute of any
// driver, else the standard `resource.kubernetes.io/pcieRoot`. docs/dra.md states the rule.
//
// Built lazily: a cycle without a pod that uses claims pays nothing.

#include <map>
#include <optional>
#include <string>
#include <tl/expected.hpp>
#include <unordered_set>
#include <vector>

#include "scheduler/dra/allocator.h"
#include "scheduler/state/cluster_state.h"

namespace fairway {

class DeviceLedger {
 public:
  // `evicted`: uids of pods a planner's what-if evicted (NodeLedger::evicted); the devices of
  // claims only they reserve count as free.
  explicit DeviceLedger(const ClusterState& state,
                        const std::unordered_set<std::string>* evicted = nullptr)
      : state_(state), evicted_(evicted) {}

  // The pod's claims as this cycle sees them (claims it allocated or reserved replace the
  // API's copy), or why they cannot be used on any node.
  tl::expected<std::vector<const dra::ResourceClaim*>, dra::ClaimLookupFailure> claims_of(
      const Pod& pod) const;
  // Allocates the pod's `claims` (from claims_of) on `node`.
  tl::expected<dra::PodAllocation, dra::AllocationFailure> allocate(
      NodeId node, const Pod& pod, const std::vector<const dra::ResourceClaim*>& claims);
  // What `allocation` means for each claim, to write before the Binding.
  static std::vector<dra::ClaimAllocation> decisions(
      const std::vector<const dra::ResourceClaim*>& claims, const dra::PodAllocation& allocation);

  // A placement of the cycle takes (or gives back) its claims' devices and reservations.
  void take(const Pod& pod, const std::vector<dra::ClaimAllocation>& claims);
  void give(const Pod& pod, const std::vector<dra::ClaimAllocation>& claims);

 private:
  void prepare();
  void release_evicted();

  const ClusterState& state_;
  const std::unordered_set<std::string>* evicted_;
  std::optional<dra::DeviceSet> allocated_;  // copied from the state on first use
  std::optional<dra::Allocator> allocator_;
  // Claims this cycle allocated or reserved, by "namespace/name", and how many placements
  // reserved each (a shared claim is deallocated again only when the last one gives it back).
  struct Tentative {
    dra::ResourceClaim claim;
    int placements = 0;
  };
  std::map<std::string, Tentative, std::less<>> tentative_;
};

// The island of a device as docs/dra.md says (see above); nullopt: none known.
std::optional<std::string> device_island(const ClusterState& state,
                                         const dra::CandidateDevice& device);

}  // namespace fairway
