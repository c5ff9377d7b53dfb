#pragma once
// Resource names, dense resource ids and the vectors the scheduling core computes with.
//
// Kubernetes names resources by string ("cpu", "nvidia.com/gpu", "example.com/foo"). The edge
// keeps them named (ResourceList); the core interns names once into dense ResourceIds through a
// ResourceRegistry and adds, subtracts and compares ResourceVectors of canonical integers
// (see quantity.h for the units). A ResourceVector is sparse at the tail: ids past its size are 0.

#include <boost/container/small_vector.hpp>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "queues/flat_map.h"

namespace fairway {

using ResourceId = uint16_t;

// Well-known resources always have these ids, in every registry.
inline constexpr ResourceId kCpu = 0;
inline constexpr ResourceId kMemory = 1;
inline constexpr ResourceId kGpu = 2;
inline constexpr ResourceId kPods = 3;
inline constexpr ResourceId kEphemeralStorage = 4;
inline constexpr std::string_view kGpuResourceName = "nvidia.com/gpu";

// Named quantities in canonical units, as decoded from a Kubernetes object.
using ResourceList = FlatMap<std::string, int64_t>;

// Interns resource names. Owned by whoever owns the state that uses the ids (not global).
class ResourceRegistry {
 public:
  ResourceRegistry();

  ResourceId intern(std::string_view name);
  std::optional<ResourceId> find(std::string_view name) const;
  const std::string& name(ResourceId id) const { return names_[id]; }
  int64_t scale(ResourceId id) const { return scales_[id]; }
  size_t size() const { return names_.size(); }

 private:
  std::vector<std::string> names_;
  std::vector<int64_t> scales_;
  std::unordered_map<std::string, ResourceId> ids_;
};

class ResourceVector {
 public:
  ResourceVector() = default;

  int64_t operator[](ResourceId id) const { return id < values_.size() ? values_[id] : 0; }
  void set(ResourceId id, int64_t value);
  void add(ResourceId id, int64_t value) { set(id, (*this)[id] + value); }
  size_t size() const { return values_.size(); }
  bool is_zero() const;

  ResourceVector& operator+=(const ResourceVector& other);
  ResourceVector& operator-=(const ResourceVector& other);
  friend ResourceVector operator+(ResourceVector a, const ResourceVector& b) { return a += b; }
  friend ResourceVector operator-(ResourceVector a, const ResourceVector& b) { return a -= b; }
  friend bool operator==(const ResourceVector& a, const ResourceVector& b);

  // Element-wise max (used for init containers versus the sum of app containers).
  void max_with(const ResourceVector& other);
  // True when every component of this is <= the same component of `available`.
  bool fits_in(const ResourceVector& available) const { return !first_short(available); }
  // The first resource where this exceeds `available`, if any.
  std::optional<ResourceId> first_short(const ResourceVector& available) const;

 private:
  boost::container::small_vector<int64_t, 5> values_;
};

ResourceVector to_vector(const ResourceList& list, ResourceRegistry& registry);
ResourceList to_list(const ResourceVector& vector, const ResourceRegistry& registry);
// "cpu=2, memory=4Gi, nvidia.com/gpu=1" for messages and logs.
std::string describe(const ResourceVector& vector, const ResourceRegistry& registry);

}  // namespace fairway
