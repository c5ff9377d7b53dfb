#include "scheduler/service/claim_writer.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "k8s-client/api_error.h"
#include "scheduler/service/log.h"
#include "scheduler/state/node_selector_text.h"

namespace fairway {
namespace {

using json = nlohmann::json;

// Attempts of one read-modify-write when the claim keeps changing under us.
constexpr int kConflictAttempts = 4;
// kube-scheduler's finalizer on a claim it allocates: the resourceclaim controller clears the
// allocation of a claim nobody reserves only when it is there, and removes it then.
constexpr const char* kDeleteProtection = "resource.kubernetes.io/delete-protection";

std::string claim_path(const std::string& key) {
  const auto [ns, name] = split_key(key);
  return fmt::format("/apis/resource.k8s.io/v1/namespaces/{}/resourceclaims/{}", ns, name);
}

json requirements_json(const std::vector<NodeSelectorRequirement>& requirements) {
  json out = json::array();
  for (const NodeSelectorRequirement& r : requirements) {
    json item = {{"key", r.key}, {"operator", operator_name(r.op)}};
    if (!r.values.empty()) item["values"] = r.values;
    out.push_back(std::move(item));
  }
  return out;
}

bool reserves(const json& status, const std::string& uid) {
  const auto reserved = status.find("reservedFor");
  if (reserved == status.end() || !reserved->is_array()) return false;
  for (const json& consumer : *reserved) {
    if (consumer.is_object() && consumer.value("uid", "") == uid) return true;
  }
  return false;
}

// One read-modify-write of the claim (`subresource` "") or its status ("/status"): `change`
// edits the claim read (returning an error to stop, or nullopt), then it is PUT with the
// resourceVersion read. A 409 reads again.
template <typename Change>
std::optional<std::string> update(ClusterWriter& client, const std::string& key,
                                  std::string_view subresource, Change&& change) {
  const std::string path = claim_path(key);
  for (int attempt = 0; attempt < kConflictAttempts; ++attempt) {
    const WriteResult read = client.read(path);
    if (!read.ok()) return "reading " + key + ": " + read.error;
    json claim = json::parse(read.body, nullptr, false);
    if (!claim.is_object()) return "reading " + key + ": not a JSON object";
    if (!claim["status"].is_object()) claim["status"] = json::object();
    bool unchanged = false;
    if (auto error = change(claim, unchanged)) return error;
    if (unchanged) return std::nullopt;
    const WriteResult written = client.replace(path + std::string(subresource), claim.dump());
    if (written.ok()) return std::nullopt;
    if (written.status == 409) continue;  // changed since we read it: again
    return "writing " + key + ": " + written.error;
  }
  return "writing " + key + ": the claim kept changing (conflicts)";
}

// Adds (or removes) kDeleteProtection in the claim's metadata.finalizers; `unchanged` when it
// already is (is not) there.
void set_finalizer(json& claim, bool present, bool& unchanged) {
  json& metadata = claim["metadata"];
  json kept = json::array();
  bool found = false;
  if (metadata["finalizers"].is_array()) {
    for (const json& finalizer : metadata["finalizers"]) {
      if (finalizer == kDeleteProtection) {
        found = true;
      } else {
        kept.push_back(finalizer);
      }
    }
  }
  unchanged = found == present;
  if (present) kept.push_back(kDeleteProtection);
  if (kept.empty()) {
    metadata.erase("finalizers");
  } else {
    metadata["finalizers"] = std::move(kept);
  }
}

}  // namespace

std::string allocation_json(const dra::AllocationResult& allocation) {
  json results = json::array();
  for (const dra::DeviceRequestAllocationResult& r : allocation.devices) {
    json result = {
        {"request", r.request}, {"driver", r.driver}, {"pool", r.pool}, {"device", r.device}};
    if (r.admin_access) result["adminAccess"] = true;
    results.push_back(std::move(result));
  }
  json out = {{"devices", {{"results", std::move(results)}}}};
  if (!allocation.node_selector.empty()) {
    json terms = json::array();
    for (const NodeSelectorTerm& term : allocation.node_selector) {
      json item = json::object();
      if (!term.match_expressions.empty()) {
        item["matchExpressions"] = requirements_json(term.match_expressions);
      }
      if (!term.match_fields.empty()) item["matchFields"] = requirements_json(term.match_fields);
      terms.push_back(std::move(item));
    }
    out["nodeSelector"] = {{"nodeSelectorTerms", std::move(terms)}};
  }
  return out.dump();
}

namespace {

std::optional<std::string> replaced(const json& claim, const dra::ClaimAllocation& decided) {
  if (claim["metadata"].value("uid", "") == decided.uid) return std::nullopt;
  return decided.key() + " was replaced by a new claim";
}

// Sets or clears kDeleteProtection on the claim; `changed`: it was not so before.
std::optional<std::string> write_finalizer(ClusterWriter& client,
                                           const dra::ClaimAllocation& decided, bool present,
                                           bool* changed = nullptr) {
  return update(client, decided.key(), "", [&](json& claim, bool& unchanged) {
    if (auto error = replaced(claim, decided)) return error;
    set_finalizer(claim, present, unchanged);
    if (changed != nullptr) *changed = !unchanged;
    return std::optional<std::string>();
  });
}

// The allocation (when fairway made it) and the pod's reservation, in the claim's status.
std::optional<std::string> write_reservation(ClusterWriter& client,
                                             const dra::ClaimAllocation& decided,
                                             const Binding& binding, bool& allocated) {
  const std::string pod_name = split_key(binding.pod).second;
  return update(client, decided.key(), "/status", [&](json& claim, bool& unchanged) {
    allocated = false;
    if (auto error = replaced(claim, decided)) return error;
    json& status = claim["status"];
    const bool has_allocation = status.contains("allocation") && !status["allocation"].is_null();
    if (decided.newly_allocated && has_allocation) {
      return std::optional<std::string>(decided.key() + " was allocated by someone else");
    }
    if (!decided.newly_allocated && !has_allocation) {
      return std::optional<std::string>(decided.key() + " is no longer allocated");
    }
    if (reserves(status, binding.uid)) {
      unchanged = true;
      return std::optional<std::string>();
    }
    if (decided.newly_allocated) {
      status["allocation"] = json::parse(allocation_json(decided.allocation));
      allocated = true;
    }
    if (!status["reservedFor"].is_array()) status["reservedFor"] = json::array();
    status["reservedFor"].push_back(
        {{"resource", "pods"}, {"name", pod_name}, {"uid", binding.uid}});
    return std::optional<std::string>();
  });
}

}  // namespace

std::optional<std::string> ClaimWriter::write(const Binding& binding,
                                              std::vector<ClaimWrite>& written) {
  for (const dra::ClaimAllocation& decided : binding.claim_allocations) {
    // As kube-scheduler: the finalizer first, so an allocation is never without it.
    bool finalizer_added = false;
    std::optional<std::string> error;
    if (decided.newly_allocated) error = write_finalizer(client_, decided, true, &finalizer_added);
    bool allocated = false;
    if (!error) error = write_reservation(client_, decided, binding, allocated);
    if (error) {
      // A finalizer this attempt added to a claim it did not allocate would block its deletion.
      if (finalizer_added) {
        const WriteResult claim = client_.read(claim_path(decided.key()));
        const json read = claim.ok() ? json::parse(claim.body, nullptr, false) : json();
        const bool allocated_now = read.is_object() && read.contains("status") &&
                                   read["status"].is_object() &&
                                   read["status"].contains("allocation");
        if (read.is_object() && !allocated_now) write_finalizer(client_, decided, false);
      }
      rollback(binding, written);
      written.clear();
      return error;
    }
    written.push_back({decided.key(), allocated});
  }
  return std::nullopt;
}

void ClaimWriter::rollback(const Binding& binding, const std::vector<ClaimWrite>& written) {
  for (const ClaimWrite& write : written) {
    bool deallocated = false;
    auto error = update(client_, write.key, "/status", [&](json& claim, bool& unchanged) {
      json& status = claim["status"];
      json kept = json::array();
      if (status["reservedFor"].is_array()) {
        for (const json& consumer : status["reservedFor"]) {
          if (!consumer.is_object() || consumer.value("uid", "") != binding.uid) {
            kept.push_back(consumer);
          }
        }
      }
      unchanged = status["reservedFor"].is_array() && kept.size() == status["reservedFor"].size();
      if (kept.empty()) {
        status.erase("reservedFor");
        if (write.allocated) {
          status.erase("allocation");
          unchanged = false;
          deallocated = true;
        }
      } else {
        status["reservedFor"] = std::move(kept);
      }
      return std::optional<std::string>();
    });
    if (!error && deallocated) {
      error = update(client_, write.key, "", [&](json& claim, bool& unchanged) {
        set_finalizer(claim, false, unchanged);
        return std::optional<std::string>();
      });
    }
    if (error) {
      log::warn("claim write not rolled back", {{"pod", binding.pod}, {"error", *error}});
    }
  }
}

}  // namespace fairway
