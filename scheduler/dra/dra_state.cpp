#include "scheduler/dra/dra_state.h"

#include <fmt/format.h>

#include <algorithm>

namespace fairway::dra {
namespace {

std::string key_of(std::string_view ns, std::string_view name) {
  return fmt::format("{}/{}", ns, name);
}

bool reserved_for(const ResourceClaim& claim, std::string_view pod_uid) {
  return std::any_of(claim.reserved_for.begin(), claim.reserved_for.end(),
                     [&](const ConsumerReference& c) { return c.uid == pod_uid; });
}

}  // namespace

DraState::DraState() : cel_(std::make_unique<CelCache>()) {}
DraState::~DraState() = default;
DraState::DraState(DraState&&) noexcept = default;
DraState& DraState::operator=(DraState&&) noexcept = default;

void DraState::upsert_slice(ResourceSlice slice) {
  std::string name = slice.name;
  slices_.insert_or_assign(std::move(name), std::move(slice));
  pools_.reset();
  published_.reset();
}

void DraState::remove_slice(std::string_view name) {
  if (auto it = slices_.find(name); it != slices_.end()) {
    slices_.erase(it);
    pools_.reset();
    published_.reset();
  }
}

void DraState::upsert_class(DeviceClass device_class) {
  std::string name = device_class.name;
  classes_.insert_or_assign(std::move(name), std::move(device_class));
  published_.reset();
}

void DraState::remove_class(std::string_view name) {
  if (auto it = classes_.find(name); it != classes_.end()) {
    classes_.erase(it);
    published_.reset();
  }
}

void DraState::upsert_claim(ResourceClaim claim) {
  const std::string key = key_of(claim.namespace_, claim.name);
  allocated_dirty_ = true;
  if (auto assumed = assumed_.find(key); assumed != assumed_.end()) {
    // The API shows an allocation (ours or, after a rollback elsewhere, another): the
    // assumption has served. Without one the write is not visible yet: keep showing it.
    if (!claim.allocation && !claim.deleting && claim.uid == assumed->second.uid) {
      assumed->second = std::move(claim);
      return;
    }
    assumed_.erase(assumed);
  }
  claims_.insert_or_assign(key, std::move(claim));
}

void DraState::remove_claim(std::string_view key) {
  if (auto it = assumed_.find(key); it != assumed_.end()) assumed_.erase(it);
  if (auto it = claims_.find(key); it != claims_.end()) {
    claims_.erase(it);
    allocated_dirty_ = true;
  }
}

void DraState::upsert_template(ResourceClaimTemplate claim_template) {
  std::string key = key_of(claim_template.namespace_, claim_template.name);
  templates_.insert_or_assign(std::move(key), std::move(claim_template));
}

void DraState::remove_template(std::string_view key) {
  if (auto it = templates_.find(key); it != templates_.end()) templates_.erase(it);
}

void DraState::clear_slices() {
  if (slices_.empty()) return;
  slices_.clear();
  pools_.reset();
  published_.reset();
}

void DraState::clear_classes() {
  if (classes_.empty()) return;
  classes_.clear();
  published_.reset();
}

std::vector<std::string> DraState::clear_claims() {
  std::vector<std::string> keys;
  keys.reserve(claims_.size());
  for (const auto& [key, claim] : claims_) keys.push_back(key);
  claims_.clear();
  assumed_.clear();
  allocated_dirty_ = true;
  return keys;
}

std::vector<std::string> DraState::clear_templates() {
  std::vector<std::string> keys;
  keys.reserve(templates_.size());
  for (const auto& [key, claim_template] : templates_) keys.push_back(key);
  templates_.clear();
  return keys;
}

void DraState::assume(const std::vector<ClaimAllocation>& claims, std::string_view pod_name,
                      std::string_view pod_uid) {
  for (const ClaimAllocation& wanted : claims) {
    auto it = claims_.find(wanted.key());
    if (it == claims_.end()) continue;
    ResourceClaim& claim = it->second;
    assumed_.try_emplace(it->first, claim);  // the first assumption keeps the API's version
    if (wanted.newly_allocated) claim.allocation = wanted.allocation;
    if (!reserved_for(claim, pod_uid)) {
      claim.reserved_for.push_back(
          ConsumerReference{"", "pods", std::string(pod_name), std::string(pod_uid)});
    }
    allocated_dirty_ = true;
  }
}

void DraState::forget(const std::vector<ClaimAllocation>& claims) {
  for (const ClaimAllocation& wanted : claims) {
    auto assumed = assumed_.find(wanted.key());
    if (assumed == assumed_.end()) continue;
    claims_.insert_or_assign(assumed->first, std::move(assumed->second));
    assumed_.erase(assumed);
    allocated_dirty_ = true;
  }
}

tl::expected<std::vector<const ResourceClaim*>, ClaimLookupFailure> DraState::claims_of(
    const Pod& pod) const {
  std::vector<const ResourceClaim*> out;
  out.reserve(pod.resource_claims.size());
  for (const PodResourceClaim& entry : pod.resource_claims) {
    std::string_view name = entry.claim_name;
    bool must_be_owner = false;
    if (name.empty()) {
      // A template's claim: kube-controller-manager names it in the pod's status.
      const auto status =
          std::find_if(pod.resource_claim_statuses.begin(), pod.resource_claim_statuses.end(),
                       [&](const PodResourceClaimStatus& s) { return s.name == entry.name; });
      if (status == pod.resource_claim_statuses.end()) {
        return tl::unexpected(ClaimLookupFailure{
            fmt::format("pod \"{}\": ResourceClaim not created yet", pod.key())});
      }
      if (status->claim_name.empty()) continue;  // the controller decided none is needed
      name = status->claim_name;
      must_be_owner = true;
    }
    const ResourceClaim* claim = find_claim(key_of(pod.namespace_, name));
    if (claim == nullptr) {
      return tl::unexpected(
          ClaimLookupFailure{fmt::format("resourceclaim.resource.k8s.io \"{}\" not found", name)});
    }
    if (must_be_owner && claim->owner_pod_uid != pod.uid) {
      return tl::unexpected(ClaimLookupFailure{fmt::format(
          "ResourceClaim {} was not created for pod {} (pod is not owner)", name, pod.key())});
    }
    if (claim->deleting) {
      return tl::unexpected(
          ClaimLookupFailure{fmt::format("resourceclaim \"{}\" is being deleted", name)});
    }
    out.push_back(claim);
  }
  return out;
}

namespace {

using ClassSet = std::set<std::string, std::less<>>;

// Devices a claim spec asks of the classes, before allocation.
int64_t asked_of(const ResourceClaimSpec& spec, const ClassSet& classes) {
  int64_t devices = 0;
  for (const DeviceRequest& request : spec.requests) {
    const DeviceChoice* choice = request.exactly ? &*request.exactly
                                 : request.first_available.empty()
                                     ? nullptr
                                     : &request.first_available.front().choice;
    if (choice != nullptr && choice->allocation_mode == AllocationMode::kExactCount &&
        !choice->admin_access && classes.contains(choice->device_class_name)) {
      devices += choice->count;
    }
  }
  return devices;
}

// Devices an allocated claim holds of the classes: each result's request (or subrequest) names
// the class it was allocated for.
int64_t held_of(const ResourceClaim& claim, const ClassSet& classes) {
  int64_t devices = 0;
  for (const DeviceRequestAllocationResult& result : claim.allocation->devices) {
    if (result.admin_access) continue;
    const size_t slash = result.request.find('/');
    const std::string_view name = std::string_view(result.request).substr(0, slash);
    for (const DeviceRequest& request : claim.spec.requests) {
      if (request.name != name) continue;
      const DeviceChoice* choice = request.exactly ? &*request.exactly : nullptr;
      if (slash != std::string::npos) {
        const std::string_view sub = std::string_view(result.request).substr(slash + 1);
        for (const DeviceSubRequest& option : request.first_available) {
          if (option.name == sub) choice = &option.choice;
        }
      }
      if (choice != nullptr && classes.contains(choice->device_class_name)) ++devices;
    }
  }
  return devices;
}

}  // namespace

int64_t DraState::devices_of_classes(const Pod& pod, const ClassSet& classes) const {
  int64_t devices = 0;
  for (const PodResourceClaim& entry : pod.resource_claims) {
    std::string_view name = entry.claim_name;
    bool generated = false;  // the controller named the template's claim (or said none is needed)
    if (name.empty()) {
      for (const PodResourceClaimStatus& status : pod.resource_claim_statuses) {
        if (status.name == entry.name) {
          name = status.claim_name;
          generated = true;
        }
      }
      if (generated && name.empty()) continue;
    }
    const ResourceClaim* claim = name.empty() ? nullptr : find_claim(key_of(pod.namespace_, name));
    if (claim != nullptr) {
      devices += claim->allocation ? held_of(*claim, classes) : asked_of(claim->spec, classes);
    } else if (!entry.template_name.empty()) {
      const auto* from = find_template(key_of(pod.namespace_, entry.template_name));
      if (from != nullptr) devices += asked_of(from->spec, classes);
    }
  }
  return devices;
}

int64_t DraState::published_devices_of_classes(const ClassSet& classes) const {
  if (published_) return *published_;
  // Each class's compiled selectors; a class that is missing or fails to compile selects none.
  std::vector<std::vector<std::shared_ptr<const CelProgram>>> selectors;
  for (const std::string& name : classes) {
    auto it = classes_.find(name);
    if (it == classes_.end()) continue;
    std::vector<std::shared_ptr<const CelProgram>> programs;
    bool valid = true;
    for (const std::string& expression : it->second.selectors) {
      auto program = cel_->get_or_compile(expression);
      if (!program) valid = false;
      if (program) programs.push_back(*program);
    }
    if (valid) selectors.push_back(std::move(programs));
  }
  int64_t devices = 0;
  for (const CandidateDevice* candidate : pools().all_devices()) {
    const DeviceView view{candidate->slice->driver, *candidate->device};
    const bool selected =
        std::any_of(selectors.begin(), selectors.end(), [&](const auto& programs) {
          return std::all_of(programs.begin(), programs.end(), [&](const auto& program) {
            const auto result = program->evaluate(view);
            return result && *result;
          });
        });
    devices += selected ? 1 : 0;
  }
  published_ = devices;
  return devices;
}

const ResourceClaim* DraState::find_claim(std::string_view key) const {
  auto it = claims_.find(key);
  return it == claims_.end() ? nullptr : &it->second;
}

const ResourceClaimTemplate* DraState::find_template(std::string_view key) const {
  auto it = templates_.find(key);
  return it == templates_.end() ? nullptr : &it->second;
}

const DevicePools& DraState::pools() const {
  if (!pools_) {
    slice_list_.clear();
    slice_list_.reserve(slices_.size());
    for (const auto& [name, slice] : slices_) slice_list_.push_back(slice);
    pools_ = std::make_unique<DevicePools>(slice_list_);
  }
  return *pools_;
}

const DeviceSet& DraState::allocated() const {
  if (allocated_dirty_) {
    allocated_.clear();
    for (const auto& [key, claim] : claims_) {
      if (!claim.allocation) continue;
      for (const DeviceRequestAllocationResult& result : claim.allocation->devices) {
        if (!result.admin_access) {
          allocated_.insert(DeviceId{result.driver, result.pool, result.device});
        }
      }
    }
    allocated_dirty_ = false;
  }
  return allocated_;
}

}  // namespace fairway::dra
