#include "sim/apiserver/dra_validation.h"

#include <algorithm>
#include <optional>
#include <regex>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "sim/apiserver/field_rules.h"
#include "sim/apiserver/json_util.h"

namespace fairway::apiserver {
namespace {

using json = nlohmann::json;

// Like the Workload checks (workload_validation.cpp), the first failure is reported.
using rules::Check;
using rules::FieldError;
using rules::quoted;
std::string at_index(const std::string& path, size_t i) {
  return path + "[" + std::to_string(i) + "]";
}

// field.Invalid's value: strings quoted, numbers and booleans bare, null as null, structures as
// JSON (kube-apiserver prints Go structs there; JSON is what a client can read).
FieldError invalid_value(const std::string& field, const json& value, const std::string& why) {
  return {field, "Invalid value: " + value.dump() + ": " + why};
}
FieldError required(const std::string& field, const std::string& detail = "") {
  return {field, detail.empty() ? "Required value" : "Required value: " + detail};
}
FieldError too_many(const std::string& field, size_t have, size_t limit) {
  return {field, "Too many: " + std::to_string(have) + ": must have at most " +
                     std::to_string(limit) + " items"};
}

const char* const kSubdomainWords =
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
    "'.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used "
    "for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";

// ValidateDNS1123Label: request, subrequest and device names.
Check check_label(const std::string& value, const std::string& field) {
  if (value.size() > 63) {
    return invalid_value(field, value, "must be no more than 63 characters");
  }
  if (!rules::dns_label(value)) return invalid_value(field, value, rules::kLabelWords);
  return std::nullopt;
}

// ValidateDNS1123Subdomain: device class names, node names, pool name segments.
Check check_subdomain(const std::string& value, const std::string& field) {
  static const std::regex subdomain(
      "[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*");
  if (value.size() > 253) {
    return invalid_value(field, value, "must be no more than 253 characters");
  }
  if (!std::regex_match(value, subdomain)) return invalid_value(field, value, kSubdomainWords);
  return std::nullopt;
}

// A string member: "" when absent (or not a string, which the decoders would refuse too).
std::string text(const json& object, const char* key) {
  const json& v = member(object, key);
  return v.is_string() ? v.get<std::string>() : std::string();
}

// A field of the wrong JSON type (a string where a list belongs): kube-apiserver cannot decode
// such a body and answers 400 before validating; thrown here and answered the same way.
struct WrongType : std::runtime_error {
  using std::runtime_error::runtime_error;
};
const json& typed(const json& object, const char* key, const std::string& field, bool list) {
  const json& v = member(object, key);
  if (v.is_null() || (list ? v.is_array() : v.is_object())) return v;
  throw WrongType("json: cannot unmarshal " + std::string(v.type_name()) +
                  " into Go struct field " + field + " of type " + (list ? "array" : "object"));
}
const json& list_at(const json& object, const char* key, const std::string& field) {
  return typed(object, key, field, true);
}
const json& object_at(const json& object, const char* key, const std::string& field) {
  return typed(object, key, field, false);
}

// ValidateCSIDriverName, which DRA drivers share.
Check check_driver(const json& object, const std::string& field) {
  const std::string driver = text(object, "driver");
  if (driver.empty()) return required(field);
  if (driver.size() > 63) return FieldError{field, "Too long: may not be more than 63 bytes"};
  return check_subdomain(driver, field);
}

// A pool name: at most 253 characters, DNS subdomains separated by slashes.
Check check_pool_name(const std::string& name, const std::string& field) {
  if (name.empty()) return required(field);
  if (name.size() > 253) return FieldError{field, "Too long: may not be more than 253 bytes"};
  size_t start = 0;
  while (true) {
    const size_t slash = name.find('/', start);
    if (Check c = check_subdomain(name.substr(start, slash - start), field)) return c;
    if (slash == std::string::npos) return std::nullopt;
    start = slash + 1;
  }
}

// The names a claim's requests and subrequests answer to: "gpu", "gpu/big".
std::set<std::string> request_names(const json& devices) {
  std::set<std::string> names;
  for (const json& request : list_at(devices, "requests", "devices.requests")) {
    const std::string name = text(request, "name");
    names.insert(name);
    for (const json& sub : list_at(request, "firstAvailable", "requests.firstAvailable")) {
      names.insert(name + "/" + text(sub, "name"));
    }
  }
  return names;
}

Check check_request_ref(const std::string& ref, const std::string& field,
                        const std::set<std::string>& names) {
  if (!names.contains(ref)) {
    return invalid_value(field, ref,
                         "must be the name of a request in the claim or the name of a request "
                         "and a subrequest separated by '/'");
  }
  return std::nullopt;
}

Check check_selectors(const json& selectors, const std::string& field) {
  if (selectors.is_array() && selectors.size() > kDeviceSelectorsMaxSize) {
    return too_many(field, selectors.size(), kDeviceSelectorsMaxSize);
  }
  for (size_t i = 0; i < selectors.size(); ++i) {
    if (!member(selectors[i], "cel").is_object()) return required(at_index(field, i) + ".cel");
  }
  return std::nullopt;
}

// deviceClassName, selectors, allocationMode and count: `exactly` and each firstAvailable entry.
Check check_device_choice(const json& request, const std::string& path) {
  const std::string class_name = text(request, "deviceClassName");
  if (class_name.empty()) return required(path + ".deviceClassName");
  if (Check c = check_subdomain(class_name, path + ".deviceClassName")) return c;
  if (Check c = check_selectors(list_at(request, "selectors", path + ".selectors"),
                                path + ".selectors")) {
    return c;
  }
  const std::string mode = text(request, "allocationMode");
  const json& count = member(request, "count");
  if (mode == "All") {
    if (!count.is_null() && count != 0) {
      return invalid_value(path + ".count", count,
                           "must not be specified when allocationMode is 'All'");
    }
  } else if (mode == "ExactCount") {
    if (!count.is_number_integer() || count.get<int64_t>() <= 0) {
      return invalid_value(path + ".count", count, "must be greater than zero");
    }
  } else {
    return FieldError{path + ".allocationMode", "Unsupported value: " + quoted(mode) +
                                                    ": supported values: \"All\", \"ExactCount\""};
  }
  return std::nullopt;
}

// A list of named entries: at most `limit`, each name a DNS label used once.
Check check_named_set(const json& list, size_t limit, const std::string& field) {
  if (list.is_array() && list.size() > limit) return too_many(field, list.size(), limit);
  std::set<std::string> seen;
  for (size_t i = 0; i < list.size(); ++i) {
    if (!list[i].is_object()) {
      throw WrongType("json: cannot unmarshal " + std::string(list[i].type_name()) +
                      " into Go struct field " + field + " of type object");
    }
    const std::string name = text(list[i], "name");
    if (name.empty()) return required(at_index(field, i) + ".name");
    if (Check c = check_label(name, at_index(field, i) + ".name")) return c;
    if (!seen.insert(name).second) {
      return FieldError{at_index(field, i), "Duplicate value: " + quoted(name)};
    }
  }
  return std::nullopt;
}

Check check_request(const json& request, const std::string& path) {
  const json& first = list_at(request, "firstAvailable", path + ".firstAvailable");
  const bool has_first = first.is_array() && !first.empty();
  const bool has_exactly = !object_at(request, "exactly", path + ".exactly").is_null();
  const char* const one_of = "exactly one of `exactly` or `firstAvailable` is required";
  if (!has_first && !has_exactly) return required(path, one_of);
  if (has_first && has_exactly) {
    return invalid_value(path, nullptr, std::string(one_of) + ", but multiple fields are set");
  }
  if (has_exactly) return check_device_choice(request["exactly"], path + ".exactly");
  if (Check c = check_named_set(first, 8, path + ".firstAvailable")) return c;
  for (size_t i = 0; i < first.size(); ++i) {
    if (Check c = check_device_choice(first[i], at_index(path + ".firstAvailable", i))) return c;
  }
  return std::nullopt;
}

Check check_constraint(const json& constraint, const std::string& path,
                       const std::set<std::string>& names) {
  const json& requests = list_at(constraint, "requests", path + ".requests");
  for (size_t i = 0; i < requests.size(); ++i) {
    const std::string ref = requests[i].is_string() ? requests[i].get<std::string>() : "";
    if (Check c = check_request_ref(ref, at_index(path + ".requests", i), names)) return c;
  }
  const std::string match = text(constraint, "matchAttribute");
  if (match.empty()) return required(path + ".matchAttribute");
  if (match.find('/') == std::string::npos) {
    return invalid_value(path + ".matchAttribute", match,
                         "a fully qualified name must be a domain and a name separated by a slash");
  }
  return std::nullopt;
}

// ResourceClaimSpec (a claim's spec, a template's spec.spec).
Check check_claim_spec(const json& spec, const std::string& path) {
  const std::string at = path + ".devices";
  const json& devices = object_at(spec, "devices", at);
  const json& requests = list_at(devices, "requests", at + ".requests");
  if (Check c = check_named_set(requests, kDeviceRequestsMaxSize, at + ".requests")) return c;
  for (size_t i = 0; i < requests.size(); ++i) {
    if (Check c = check_request(requests[i], at_index(at + ".requests", i))) return c;
  }
  const json& constraints = list_at(devices, "constraints", at + ".constraints");
  if (constraints.is_array() && constraints.size() > kDeviceConstraintsMaxSize) {
    return too_many(at + ".constraints", constraints.size(), kDeviceConstraintsMaxSize);
  }
  const std::set<std::string> names = request_names(devices);
  for (size_t i = 0; i < constraints.size(); ++i) {
    if (Check c = check_constraint(constraints[i], at_index(at + ".constraints", i), names))
      return c;
  }
  return std::nullopt;
}

Check check_immutable(const json& value, const json& old, const std::string& field) {
  if (value != old) return invalid_value(field, value, "field is immutable");
  return std::nullopt;
}

// ---- ResourceSlice ----------------------------------------------------------------------------

// Exactly one of nodeName, nodeSelector, allNodes, perDeviceNodeSelection.
Check check_slice_nodes(const json& spec) {
  std::vector<std::string> set;
  const json& node_name = member(spec, "nodeName");
  if (!node_name.is_null()) {
    const std::string name = node_name.is_string() ? node_name.get<std::string>() : "";
    if (name.empty()) {
      return invalid_value("spec.nodeName", node_name,
                           "must be either unset or set to a non-empty string");
    }
    if (Check c = check_subdomain(name, "spec.nodeName")) return c;
    set.push_back("`nodeName`");
  }
  const json& selector = member(spec, "nodeSelector");
  if (!selector.is_null()) {
    const json& terms = member(selector, "nodeSelectorTerms");
    if (!terms.is_array() || terms.size() != 1) {
      return invalid_value("spec.nodeSelector.nodeSelectorTerms", terms,
                           "must have exactly one node selector term");
    }
    set.push_back("`nodeSelector`");
  }
  for (const char* f : {"allNodes", "perDeviceNodeSelection"}) {
    const json& v = member(spec, f);
    if (v.is_null()) continue;
    if (v != true) {
      return invalid_value(std::string("spec.") + f, v, "must be either unset or set to true");
    }
    set.push_back(std::string("`") + f + "`");
  }
  const char* const one_of =
      "exactly one of `nodeName`, `nodeSelector`, `allNodes`, `perDeviceNodeSelection` is required";
  if (set.empty()) return required("spec", one_of);
  if (set.size() > 1) {
    std::string fields;
    for (const auto& f : set) fields += (fields.empty() ? "" : ", ") + f;
    return invalid_value("spec", "{" + fields + "}",
                         std::string(one_of) + ", but multiple fields are set");
  }
  return std::nullopt;
}

Check check_device(const json& device, const std::string& path, bool per_device_nodes) {
  const json& attributes = object_at(device, "attributes", path + ".attributes");
  const json& capacity = object_at(device, "capacity", path + ".capacity");
  const size_t entries = attributes.size() + capacity.size();
  if (entries > kMaxAttributesAndCapacitiesPerDevice) {
    return invalid_value(path, entries,
                         "the total number of attributes and capacities must not exceed " +
                             std::to_string(kMaxAttributesAndCapacitiesPerDevice));
  }
  if (attributes.is_object()) {
    for (const auto& [key, value] : attributes.items()) {
      int kinds = 0;
      for (const char* f : {"bool", "int", "string", "version"}) kinds += value.contains(f);
      if (kinds != 1) {
        return invalid_value(path + ".attributes[" + key + "]", kinds == 0 ? json("") : value,
                             "exactly one value must be specified");
      }
    }
  }
  if (capacity.is_object()) {
    for (const auto& [key, value] : capacity.items()) {
      if (!value.contains("value")) return required(path + ".capacity[" + key + "].value");
    }
  }
  const bool own_nodes =
      device.contains("nodeName") || device.contains("nodeSelector") || device.contains("allNodes");
  if (!per_device_nodes && own_nodes) {
    return invalid_value(path, nullptr,
                         "`nodeName`, `nodeSelector` and `allNodes` can only be set if "
                         "`perDeviceNodeSelection` is set to true in the ResourceSlice spec");
  }
  if (per_device_nodes && !own_nodes) {
    return required(path,
                    "exactly one of `nodeName`, `nodeSelector`, or `allNodes` is required when "
                    "`perDeviceNodeSelection` is set to true in the ResourceSlice spec");
  }
  return std::nullopt;
}

Check check_slice(const json& spec, const json* old_spec) {
  if (Check c = check_driver(spec, "spec.driver")) return c;
  const json& pool = object_at(spec, "pool", "spec.pool");
  if (Check c = check_pool_name(text(pool, "name"), "spec.pool.name")) return c;
  const json& count = member(pool, "resourceSliceCount");
  if (!count.is_number_integer() || count.get<int64_t>() <= 0) {
    return invalid_value("spec.pool.resourceSliceCount", count.is_null() ? json(0) : count,
                         "must be greater than zero");
  }
  const json& generation = member(pool, "generation");
  if (!generation.is_null() && (!generation.is_number_integer() || generation.get<int64_t>() < 0)) {
    return invalid_value("spec.pool.generation", generation,
                         "must be greater than or equal to zero");
  }
  if (old_spec != nullptr) {
    const json& old_pool = member(*old_spec, "pool");
    if (Check c = check_immutable(member(pool, "name"), member(old_pool, "name"), "spec.pool.name"))
      return c;
    for (const char* f : {"driver", "nodeName"}) {
      if (Check c =
              check_immutable(member(spec, f), member(*old_spec, f), std::string("spec.") + f))
        return c;
    }
  }
  if (Check c = check_slice_nodes(spec)) return c;
  const json& devices = list_at(spec, "devices", "spec.devices");
  if (Check c = check_named_set(devices, kResourceSliceMaxDevices, "spec.devices")) return c;
  const bool per_device = member(spec, "perDeviceNodeSelection") == true;
  for (size_t i = 0; i < devices.size(); ++i) {
    if (Check c = check_device(devices[i], at_index("spec.devices", i), per_device)) return c;
  }
  return std::nullopt;
}

// ---- ResourceClaim status ---------------------------------------------------------------------

Check check_reserved_for(const json& status, const json& old_status, bool deleting) {
  const json& reserved = list_at(status, "reservedFor", "status.reservedFor");
  if (reserved.is_array() && reserved.size() > kResourceClaimReservedForMaxSize) {
    return too_many("status.reservedFor", reserved.size(), kResourceClaimReservedForMaxSize);
  }
  std::set<std::string> uids;
  for (size_t i = 0; i < reserved.size(); ++i) {
    const std::string at = at_index("status.reservedFor", i);
    for (const char* f : {"resource", "name", "uid"}) {
      if (text(reserved[i], f).empty()) return required(at + "." + f);
    }
    const std::string uid = text(reserved[i], "uid");
    if (!uids.insert(uid).second) return FieldError{at, "Duplicate value: " + quoted(uid)};
  }
  if (reserved.empty()) return std::nullopt;
  if (member(status, "allocation").is_null()) {
    return FieldError{"status.reservedFor",
                      "Forbidden: may not be specified when `allocated` is not set"};
  }
  if (deleting) {
    const json& before = member(old_status, "reservedFor");
    for (const json& r : reserved) {
      if (std::find(before.begin(), before.end(), r) == before.end()) {
        return FieldError{"status.reservedFor",
                          "Forbidden: new entries may not be added while `deallocationRequested` "
                          "or `deletionTimestamp` are set"};
      }
    }
  }
  return std::nullopt;
}

Check check_allocation(const json& allocation, const std::set<std::string>& names) {
  const std::string at = "status.allocation.devices.results";
  const json& devices = object_at(allocation, "devices", "status.allocation.devices");
  const json& results = list_at(devices, "results", at);
  if (results.is_array() && results.size() > kAllocationResultsMaxSize) {
    return too_many(at, results.size(), kAllocationResultsMaxSize);
  }
  for (size_t i = 0; i < results.size(); ++i) {
    const json& r = results[i];
    const std::string path = at_index(at, i);
    if (Check c = check_request_ref(text(r, "request"), path + ".request", names)) return c;
    if (Check c = check_driver(r, path + ".driver")) return c;
    if (Check c = check_pool_name(text(r, "pool"), path + ".pool")) return c;
    const std::string device = text(r, "device");
    if (device.empty()) return required(path + ".device");
    if (Check c = check_label(device, path + ".device")) return c;
  }
  return std::nullopt;
}

ApiError refusal(const std::string& kind, const json& object, const FieldError& failed) {
  const std::string name = str(member(object, "metadata"), "name");
  return invalid(kind, "resource.k8s.io", name, failed.field, failed.why);
}

void default_request(json& request) {
  if (!request.is_object()) return;
  if (!request.contains("allocationMode")) request["allocationMode"] = "ExactCount";
  if (request["allocationMode"] == "ExactCount" && !request.contains("count")) request["count"] = 1;
}

void default_claim_spec(json& spec) {
  if (!spec.is_object() || !spec.contains("devices") || !spec["devices"].is_object()) return;
  if (!spec["devices"].contains("requests")) return;
  json& requests = spec["devices"]["requests"];
  if (!requests.is_array()) return;
  for (json& request : requests) {
    if (!request.is_object()) continue;
    if (request.contains("exactly")) default_request(request["exactly"]);
    if (request.contains("firstAvailable") && request["firstAvailable"].is_array()) {
      for (json& sub : request["firstAvailable"]) default_request(sub);
    }
  }
}

// A field of the wrong JSON type (a string where a list belongs): kube-apiserver cannot decode
// the body and answers 400, as here.
ApiError undecodable(const std::string& kind, const std::exception& e) {
  return bad_request(kind + " in version \"v1\" cannot be handled as a " + kind + ": " + e.what());
}

Check check_object(const std::string& kind, const json& object, const json* old) {
  const json& spec = member(object, "spec");
  if (kind == "ResourceClaim") {
    // On an update only the spec's immutability is checked, as kube-apiserver does.
    return old ? check_immutable(spec, member(*old, "spec"), "spec")
               : check_claim_spec(spec, "spec");
  }
  if (kind == "ResourceClaimTemplate") {
    return old ? check_immutable(spec, member(*old, "spec"), "spec")
               : check_claim_spec(member(spec, "spec"), "spec.spec");
  }
  if (kind == "ResourceSlice") {
    return spec.is_object() ? check_slice(spec, old ? &member(*old, "spec") : nullptr)
                            : required("spec");
  }
  if (kind == "DeviceClass") {
    return check_selectors(list_at(spec, "selectors", "spec.selectors"), "spec.selectors");
  }
  return std::nullopt;
}

Check check_status(const json& claim, const json& old) {
  const json& status = member(claim, "status");
  const json& old_status = member(old, "status");
  const bool deleting = !member(member(claim, "metadata"), "deletionTimestamp").is_null();
  if (Check c = check_reserved_for(status, old_status, deleting)) return c;
  const json& allocation = object_at(status, "allocation", "status.allocation");
  const json& before = member(old_status, "allocation");
  if (!allocation.is_null() && !before.is_null()) {
    return check_immutable(allocation, before, "status.allocation");
  }
  if (!allocation.is_null()) {
    return check_allocation(allocation, request_names(member(member(claim, "spec"), "devices")));
  }
  return std::nullopt;
}

}  // namespace

void default_dra_object(const std::string& kind, json& object) {
  try {
    if (!object.is_object() || !object.contains("spec")) return;
    if (kind == "ResourceClaim") default_claim_spec(object["spec"]);
    if (kind == "ResourceClaimTemplate" && object["spec"].is_object() &&
        object["spec"].contains("spec")) {
      default_claim_spec(object["spec"]["spec"]);
    }
  } catch (const json::exception&) {
    // An odd shape is left as it is: validation refuses it.
  }
}

tl::expected<void, ApiError> validate_dra_object(const std::string& kind, const json& object,
                                                 const json* old) {
  try {
    if (Check failed = check_object(kind, object, old)) {
      return tl::unexpected(refusal(kind, object, *failed));
    }
  } catch (const WrongType& e) {
    return tl::unexpected(undecodable(kind, e));
  } catch (const json::exception& e) {
    return tl::unexpected(undecodable(kind, e));
  }
  return {};
}

tl::expected<void, ApiError> validate_resource_claim_status(const json& claim, const json& old) {
  try {
    if (Check failed = check_status(claim, old)) {
      return tl::unexpected(refusal("ResourceClaim", claim, *failed));
    }
  } catch (const WrongType& e) {
    return tl::unexpected(undecodable("ResourceClaim", e));
  } catch (const json::exception& e) {
    return tl::unexpected(undecodable("ResourceClaim", e));
  }
  return {};
}

}  // namespace fairway::apiserver
