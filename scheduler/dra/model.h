#pragma once
// Dynamic Resource Allocation (resource.k8s.io/v1, GA in Kubernetes 1.34): the plain structs of
// ResourceSlices, DeviceClasses, ResourceClaims and ResourceClaimTemplates, decoded once at the
// edge (decode.h). Only what allocation reads is kept: device configs, taints, counters and the
// other alpha fields are dropped.
//
// Attribute and capacity names are stored fully qualified ("gpu.example.com/model"): a slice's
// unqualified name ("model") is in the domain of its driver, so decoding qualifies it once and
// every later lookup (CEL's device.attributes["gpu.example.com"].model, a constraint's
// matchAttribute) is one exact map lookup.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "scheduler/state/model.h"  // NodeSelectorTerm

namespace fairway::dra {

// A semantic version ("1.2.3-rc.1+build"), kept as text: semver 2.0 requires the minimal form,
// so equality is string equality (as in kube-scheduler's matchAttribute); ordering is in cel.cpp.
struct Version {
  std::string text;
  bool operator==(const Version&) const = default;
};

// One of bool, int, string, version: the DeviceAttribute union.
using AttributeValue = std::variant<bool, int64_t, std::string, Version>;

// A resource.Quantity of a device capacity, exact in milli-units ("80Gi" → 85899345920000).
// Values past ±9.2e15 whole units do not fit and are rejected when decoded.
struct Quantity {
  int64_t milli = 0;
  auto operator<=>(const Quantity&) const = default;
};

struct Device {
  std::string name;
  // Fully qualified name → value; std::less<> so that a name can be looked up as a string_view.
  std::map<std::string, AttributeValue, std::less<>> attributes;
  std::map<std::string, Quantity, std::less<>> capacity;
};

struct ResourcePool {
  std::string name;
  int64_t generation = 0;
  int64_t resource_slice_count = 1;
};

// Exactly one of node_name, node_selector, all_nodes says where the devices are reachable.
struct ResourceSlice {
  std::string name;
  std::string driver;
  ResourcePool pool;
  std::string node_name;
  std::vector<NodeSelectorTerm> node_selector;  // ORed terms; empty: none given
  bool all_nodes = false;
  std::vector<Device> devices;
};

struct DeviceClass {
  std::string name;
  std::vector<std::string> selectors;  // CEL expressions, ANDed
};

enum class AllocationMode { kExactCount, kAll };

// What `exactly` and each `firstAvailable` entry ask for.
struct DeviceChoice {
  std::string device_class_name;
  std::vector<std::string> selectors;  // CEL expressions, ANDed with the class's
  AllocationMode allocation_mode = AllocationMode::kExactCount;
  int64_t count = 1;  // ExactCount only
  bool admin_access = false;
};

struct DeviceSubRequest {
  std::string name;
  DeviceChoice choice;
};

// Either `exactly` or a non-empty `first_available` (tried in order).
struct DeviceRequest {
  std::string name;
  std::optional<DeviceChoice> exactly;
  std::vector<DeviceSubRequest> first_available;
};

// All devices chosen for `requests` (all of the claim's requests when empty) share the value of
// `match_attribute` (fully qualified). An empty match_attribute is a constraint of a kind fairway
// does not know (e.g. the alpha distinctAttribute): allocation refuses it, as kube-scheduler does.
struct DeviceConstraint {
  std::vector<std::string> requests;
  std::string match_attribute;
};

struct ResourceClaimSpec {
  std::vector<DeviceRequest> requests;
  std::vector<DeviceConstraint> constraints;
};

struct DeviceId {
  std::string driver;
  std::string pool;
  std::string device;
  auto operator<=>(const DeviceId&) const = default;
};

struct DeviceRequestAllocationResult {
  std::string request;  // "request" or "request/subrequest"
  std::string driver;
  std::string pool;
  std::string device;
  bool admin_access = false;
  bool operator==(const DeviceRequestAllocationResult&) const = default;
};

struct AllocationResult {
  std::vector<DeviceRequestAllocationResult> devices;
  std::vector<NodeSelectorTerm> node_selector;  // empty: reachable from every node
};

struct ConsumerReference {
  std::string api_group;  // "" for pods
  std::string resource;   // "pods"
  std::string name;
  std::string uid;
};

struct ResourceClaim {
  std::string namespace_;
  std::string name;
  std::string uid;
  std::string resource_version;  // filled by the edge that decodes it (for conflict checks)
  // The uid of the Pod that is the claim's controller owner (a claim made from a template for
  // that pod); empty for a claim made by hand.
  std::string owner_pod_uid;
  bool deleting = false;  // metadata.deletionTimestamp set
  ResourceClaimSpec spec;
  std::optional<AllocationResult> allocation;
  std::vector<ConsumerReference> reserved_for;
};

// What the cycle decided for one claim of a pod it binds: written to the claim's status
// (allocation when newly allocated, the pod added to reservedFor) before the pod's Binding.
struct ClaimAllocation {
  std::string namespace_;
  std::string name;
  std::string uid;
  AllocationResult allocation;
  bool newly_allocated = false;
  std::string key() const { return namespace_ + "/" + name; }
};

struct ResourceClaimTemplate {
  std::string namespace_;
  std::string name;
  std::map<std::string, std::string> labels;       // spec.metadata.labels, copied to the claim
  std::map<std::string, std::string> annotations;  // spec.metadata.annotations
  ResourceClaimSpec spec;                          // spec.spec
};

}  // namespace fairway::dra
