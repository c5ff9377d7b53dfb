#include "scheduler/service/claim_writer.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "k8s-client/api_error.h"
#include "scheduler/service/log.h"

namespace fairway {
namespace {

using json = nlohmann::json;

// Attempts of one read-modify-write when the claim keeps changing under us.
constexpr int kConflictAttempts = 4;

std::string claim_path(const std::string& key) {
  const auto [ns, name] = split_key(key);
  return fmt::format("/apis/resource.k8s.io/v1/namespaces/{}/resourceclaims/{}", ns, name);
}

const char* operator_name(NodeSelectorRequirement::Operator op) {
  using Op = NodeSelectorRequirement::Operator;
  switch (op) {
    case Op::kIn:
      return "In";
    case Op::kNotIn:
      return "NotIn";
    case Op::kExists:
      return "Exists";
    case Op::kDoesNotExist:
      return "DoesNotExist";
    case Op::kGt:
      return "Gt";
    case Op::kLt:
      return "Lt";
  }
  return "In";
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

// One read-modify-write of the claim's status: `change` edits the claim read (returning an
// error to stop, or nullopt), then it is PUT with the resourceVersion read. A 409 reads again.
template <typename Change>
std::optional<std::string> update_status(k8s::RestClient& client, const std::string& key,
                                         Change&& change) {
  const std::string path = claim_path(key);
  for (int attempt = 0; attempt < kConflictAttempts; ++attempt) {
    const auto read = client.get(path);
    if (!read || !read->ok()) return "reading " + key + ": " + k8s::describe_api_error(read);
    json claim = json::parse(read->body, nullptr, false);
    if (!claim.is_object()) return "reading " + key + ": not a JSON object";
    if (!claim["status"].is_object()) claim["status"] = json::object();
    bool unchanged = false;
    if (auto error = change(claim, unchanged)) return error;
    if (unchanged) return std::nullopt;
    const auto written = client.request("PUT", path + "/status", claim.dump());
    if (written && written->ok()) return std::nullopt;
    if (written && written->status == 409) continue;  // changed since we read it: again
    return "writing " + key + ": " + k8s::describe_api_error(written);
  }
  return "writing " + key + ": the claim kept changing (conflicts)";
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

std::optional<std::string> ClaimWriter::write(const Binding& binding,
                                              std::vector<ClaimWrite>& written) {
  const auto [ns, pod_name] = split_key(binding.pod);
  for (const dra::ClaimAllocation& decided : binding.claim_allocations) {
    bool allocated = false;
    auto error = update_status(client_, decided.key(), [&](json& claim, bool& unchanged) {
      allocated = false;
      if (claim["metadata"].value("uid", "") != decided.uid) {
        return std::optional<std::string>(decided.key() + " was replaced by a new claim");
      }
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
    if (error) {
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
    auto error = update_status(client_, write.key, [&](json& claim, bool& unchanged) {
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
        }
      } else {
        status["reservedFor"] = std::move(kept);
      }
      return std::optional<std::string>();
    });
    if (error) {
      log::warn("claim write not rolled back", {{"pod", binding.pod}, {"error", *error}});
    }
  }
}

}  // namespace fairway
