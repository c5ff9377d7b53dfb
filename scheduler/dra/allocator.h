#pragma once
// Allocating the devices of a pod's ResourceClaims on one node, with the semantics of
// kube-scheduler's DynamicResources plugin (k8s.io/dynamic-resource-allocation/structured):
//
//   - the devices a node sees are those of slices whose nodeName is the node, whose nodeSelector
//     matches it, or that are for allNodes; of a pool, the latest generation among those; a pool
//     whose number of such slices is not its resourceSliceCount is incomplete and gives no
//     devices (an `All` request fails on it);
//   - a request is `exactly` one choice or `firstAvailable` choices tried in order; a choice asks
//     for `count` devices (ExactCount) or every matching device (All) of its DeviceClass that pass
//     the class's selectors AND the request's (CEL, cel.h);
//   - `matchAttribute` constraints: all devices chosen for the named requests (all requests when
//     none are named) have the attribute, with one value;
//   - a device is used once: not if allocated to another claim, not twice in one pod's claims
//     (adminAccess requests may use allocated devices, as in Kubernetes);
//   - claims already allocated (shared between pods) are not reallocated: they must be usable on
//     the node, and their devices are among `allocated`.
//
// The search is depth-first with backtracking, bounded by a number of steps (device
// placements tried). Without an island preference the first solution wins, as in
// kube-scheduler; with one, the search goes on (branch and bound) for the solution whose newly
// allocated devices span the fewest islands (e.g. NVLink cliques), stopping at one island.
//
// Pure: no I/O and no clock. An Allocator is a value over the cluster's slices, classes and
// allocated devices; allocate() may be called for many nodes and pods.

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <tl/expected.hpp>
#include <unordered_set>
#include <vector>

#include "scheduler/dra/cel.h"
#include "scheduler/dra/model.h"

namespace fairway::dra {

struct DeviceIdHash {
  size_t operator()(const DeviceId& id) const {
    const std::hash<std::string> hash;
    return hash(id.device) ^ (hash(id.pool) * 31) ^ (hash(id.driver) * 961);
  }
};
// Devices allocated to claims (driver/pool/device).
using DeviceSet = std::unordered_set<DeviceId, DeviceIdHash>;

// One device as the allocator sees it: where it comes from and the slice that publishes it.
struct CandidateDevice {
  DeviceId id;
  const Device* device = nullptr;
  const ResourceSlice* slice = nullptr;
  size_t index = 0;  // in DevicePools::all_devices()
};

// The slices of a cluster grouped into pools once, so that the devices a node sees are found
// without walking every slice per node. Holds pointers into `slices`: keep them alive.
class DevicePools {
 public:
  explicit DevicePools(const std::vector<ResourceSlice>& slices);

  // Does `terms` (a slice's nodeSelector, ORed terms) select the node? Given by the caller (the
  // cluster state knows node labels).
  using SelectorMatches = std::function<bool(const std::vector<NodeSelectorTerm>& terms)>;

  struct Visible {
    std::vector<const CandidateDevice*> devices;  // of complete, valid pools, in a stable order
    std::vector<std::string> incomplete_pools;    // "driver/pool" whose slices are being updated
    std::vector<std::string> invalid_pools;       // "driver/pool" with a device name twice
  };
  Visible visible_on(std::string_view node_name, const SelectorMatches& selector_matches) const;

  // Every device of the latest generation of every pool, numbered by CandidateDevice::index.
  const std::vector<const CandidateDevice*>& all_devices() const { return all_devices_; }

 private:
  struct Pool {
    std::string driver;
    std::string name;
    std::vector<const ResourceSlice*> slices;  // every generation, by name
    std::vector<CandidateDevice> devices;      // of `slices`, in their order
    std::vector<size_t> slice_begin;           // slice i's devices: [slice_begin[i], [i + 1])
    std::vector<bool> slice_has_duplicates;    // a device name twice within slice i
  };
  std::vector<Pool> pools_;                                             // sorted by driver, name
  std::map<std::string, std::vector<size_t>, std::less<>> node_pools_;  // node name → pools_
  std::vector<size_t> shared_pools_;  // pools with a slice for allNodes or a nodeSelector
  std::vector<const CandidateDevice*> all_devices_;
};

struct AllocatorOptions {
  // Bound on device placements tried per allocate() call.
  int64_t max_steps = 100'000;
  // The island of a device (NVLink clique, PCIe root, ...); empty: none. When set, the solution
  // with the fewest distinct islands among newly allocated devices wins.
  std::function<std::optional<std::string>(const CandidateDevice&)> island_of;
};

// The island preference on a device attribute (e.g. "gpu.nvidia.com/cliqueId"): devices with
// equal values share an island; devices without the attribute each form an island of their own.
std::function<std::optional<std::string>(const CandidateDevice&)> island_by_attribute(
    std::string attribute);

struct PodAllocation {
  // One per claim, in the order given: the existing allocation of an allocated claim, else the
  // new one (to be written to status.allocation before the Binding).
  std::vector<AllocationResult> results;
  std::vector<bool> newly_allocated;
  int islands = 0;  // distinct islands of the newly allocated devices (0 without a preference)
  int64_t steps = 0;
};

struct AllocationFailure {
  enum class Kind {
    kUnschedulable,  // this node cannot take the pod now; another node may
    kInvalid,        // the claim or a class is unusable (a CEL error, a missing class): any node
  };
  Kind kind = Kind::kUnschedulable;
  std::string message;  // the pending reason, in kube-scheduler's words where it has them
};

class Allocator {
 public:
  using Classes = std::map<std::string, DeviceClass, std::less<>>;
  // `allocated`: devices of all allocated claims in the cluster (those of the pod's own
  // allocated claims included).
  Allocator(const DevicePools& pools, const Classes& classes, const DeviceSet& allocated,
            CelCache& cel, AllocatorOptions options = {});

  // Allocates the pod's unallocated `claims` on the node, or says why not. `pod_uid` is for
  // the reservedFor check of allocated claims.
  tl::expected<PodAllocation, AllocationFailure> allocate(
      std::string_view node_name, const DevicePools::SelectorMatches& selector_matches,
      const std::vector<const ResourceClaim*>& claims, std::string_view pod_uid) const;

 private:
  const DevicePools& pools_;
  const Classes& classes_;
  const DeviceSet& allocated_;
  CelCache& cel_;
  AllocatorOptions options_;
  // The island of each device (by CandidateDevice::index), computed once: -1 for none.
  std::vector<int> islands_;
};

// Pending reasons (docs/dra.md).
inline constexpr std::string_view kReasonCannotAllocate = "cannot allocate all claims";
inline constexpr std::string_view kReasonNotAvailableOnNode =
    "resourceclaim not available on the node";
inline constexpr std::string_view kReasonInUse = "resourceclaim in use";
// Kubernetes' limit on reservedFor entries and on devices per claim.
inline constexpr size_t kReservedForMaxSize = 256;
inline constexpr size_t kAllocationResultsMaxSize = 32;

}  // namespace fairway::dra
