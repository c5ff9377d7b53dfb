#include "queues/resources.h"

#include <algorithm>

#include <fmt/format.h>

#include "queues/quantity.h"

namespace fairway {

ResourceRegistry::ResourceRegistry() {
  for (std::string_view name : {"cpu", "memory", "nvidia.com/gpu", "pods", "ephemeral-storage"}) {
    intern(name);
  }
}

ResourceId ResourceRegistry::intern(std::string_view name) {
  if (auto found = find(name)) return *found;
  const auto id = static_cast<ResourceId>(names_.size());
  names_.emplace_back(name);
  scales_.push_back(canonical_scale(name));
  ids_.emplace(std::string(name), id);
  return id;
}

std::optional<ResourceId> ResourceRegistry::find(std::string_view name) const {
  if (auto it = ids_.find(std::string(name)); it != ids_.end()) return it->second;
  return std::nullopt;
}

void ResourceVector::set(ResourceId id, int64_t value) {
  if (id >= values_.size()) {
    if (value == 0) return;
    values_.resize(id + 1U, 0);
  }
  values_[id] = value;
}

bool ResourceVector::is_zero() const {
  return std::all_of(values_.begin(), values_.end(), [](int64_t v) { return v == 0; });
}

ResourceVector& ResourceVector::operator+=(const ResourceVector& other) {
  if (other.values_.size() > values_.size()) values_.resize(other.values_.size(), 0);
  for (size_t i = 0; i < other.values_.size(); ++i) values_[i] += other.values_[i];
  return *this;
}

ResourceVector& ResourceVector::operator-=(const ResourceVector& other) {
  if (other.values_.size() > values_.size()) values_.resize(other.values_.size(), 0);
  for (size_t i = 0; i < other.values_.size(); ++i) values_[i] -= other.values_[i];
  return *this;
}

bool operator==(const ResourceVector& a, const ResourceVector& b) {
  const size_t n = std::max(a.size(), b.size());
  for (size_t i = 0; i < n; ++i) {
    if (a[static_cast<ResourceId>(i)] != b[static_cast<ResourceId>(i)]) return false;
  }
  return true;
}

void ResourceVector::max_with(const ResourceVector& other) {
  if (other.values_.size() > values_.size()) values_.resize(other.values_.size(), 0);
  for (size_t i = 0; i < other.values_.size(); ++i) {
    values_[i] = std::max(values_[i], other.values_[i]);
  }
}

std::optional<ResourceId> ResourceVector::first_short(const ResourceVector& available) const {
  for (size_t i = 0; i < values_.size(); ++i) {
    const auto id = static_cast<ResourceId>(i);
    if (values_[i] > 0 && values_[i] > available[id]) return id;
  }
  return std::nullopt;
}

ResourceVector to_vector(const ResourceList& list, ResourceRegistry& registry) {
  ResourceVector vector;
  for (const auto& [name, value] : list) vector.set(registry.intern(name), value);
  return vector;
}

ResourceList to_list(const ResourceVector& vector, const ResourceRegistry& registry) {
  ResourceList list;
  for (size_t i = 0; i < vector.size(); ++i) {
    const auto id = static_cast<ResourceId>(i);
    if (vector[id] != 0) list.emplace(registry.name(id), vector[id]);
  }
  return list;
}

std::string describe(const ResourceVector& vector, const ResourceRegistry& registry) {
  std::string out;
  for (size_t i = 0; i < vector.size(); ++i) {
    const auto id = static_cast<ResourceId>(i);
    if (vector[id] == 0) continue;
    if (!out.empty()) out += ", ";
    out += fmt::format("{}={}", registry.name(id), format_quantity(vector[id], registry.scale(id)));
  }
  return out.empty() ? "none" : out;
}

}  // namespace fairway
