#include "scheduler/dra/decode.h"

#include <fmt/format.h>

#include <cstdint>
#include <nlohmann/json.hpp>

#include "queues/quantity.h"
#include "scheduler/dra/cel.h"

namespace fairway::dra {
namespace {

using nlohmann::json;
using Status = tl::expected<void, std::string>;

tl::unexpected<std::string> fail(std::string_view field, std::string_view why) {
  return tl::unexpected(fmt::format("{}: {}", field, why));
}

// Prefixes an error with the field it happened in: "requests[0]" + ".exactly.count: ...".
Status within(std::string_view prefix, Status status) {
  if (status) return status;
  const std::string& inner = status.error();
  const char* separator = inner.starts_with('[') || inner.starts_with(':') ? "" : ".";
  return tl::unexpected(fmt::format("{}{}{}", prefix, separator, inner));
}

// A member of `object`, or nullptr when absent or null (null is "unset" in Kubernetes JSON).
const json* member(const json& object, const char* name) {
  auto it = object.find(name);
  if (it == object.end() || it->is_null()) return nullptr;
  return &*it;
}

Status read_string(const json& object, const char* name, std::string& out, bool required) {
  const json* value = member(object, name);
  if (value == nullptr) return required ? fail(name, "required value") : Status{};
  if (!value->is_string()) return fail(name, "must be a string");
  out = value->get<std::string>();
  if (required && out.empty()) return fail(name, "required value");
  return {};
}

Status read_int(const json& object, const char* name, int64_t& out) {
  const json* value = member(object, name);
  if (value == nullptr) return {};
  if (!value->is_number_integer()) return fail(name, "must be an integer");
  if (value->is_number_unsigned() && value->get<uint64_t>() > uint64_t{INT64_MAX}) {
    return fail(name, "must fit in a 64-bit signed integer");
  }
  out = value->get<int64_t>();
  return {};
}

Status read_bool(const json& object, const char* name, bool& out) {
  const json* value = member(object, name);
  if (value == nullptr) return {};
  if (!value->is_boolean()) return fail(name, "must be a boolean");
  out = value->get<bool>();
  return {};
}

// Calls `read(element)` for each element of the array `name` (absent: none). Elements must be
// objects unless `objects` is false (lists of strings check their own elements).
template <typename Read>
Status for_each_element(const json& object, const char* name, Read read, bool objects = true) {
  const json* value = member(object, name);
  if (value == nullptr) return {};
  if (!value->is_array()) return fail(name, "must be an array");
  for (size_t i = 0; i < value->size(); ++i) {
    const json& element = (*value)[i];
    if (objects && !element.is_object()) {
      return fail(fmt::format("{}[{}]", name, i), "must be an object");
    }
    if (Status s = within(fmt::format("{}[{}]", name, i), read(element)); !s) return s;
  }
  return {};
}

Status require_object(const json& value, const char* what) {
  if (!value.is_object()) return fail(what, "must be an object");
  return {};
}

Status read_string_map(const json& object, const char* name,
                       std::map<std::string, std::string>& out) {
  const json* value = member(object, name);
  if (value == nullptr) return {};
  if (!value->is_object()) return fail(name, "must be an object");
  for (const auto& [key, item] : value->items()) {
    if (!item.is_string()) return fail(fmt::format("{}.{}", name, key), "must be a string");
    out.emplace(key, item.get<std::string>());
  }
  return {};
}

Status read_metadata(const json& object, std::string* namespace_, std::string& name,
                     std::string* uid, bool* deleting) {
  if (Status s = require_object(object, "object"); !s) return s;
  const json* metadata = member(object, "metadata");
  if (metadata == nullptr) return fail("metadata", "required value");
  if (!metadata->is_object()) return fail("metadata", "must be an object");
  return within("metadata", [&]() -> Status {
    if (Status s = read_string(*metadata, "name", name, true); !s) return s;
    if (namespace_ != nullptr) {
      if (Status s = read_string(*metadata, "namespace", *namespace_, false); !s) return s;
    }
    if (uid != nullptr) {
      if (Status s = read_string(*metadata, "uid", *uid, false); !s) return s;
    }
    if (deleting != nullptr) *deleting = member(*metadata, "deletionTimestamp") != nullptr;
    return {};
  }());
}

const json* spec_of(const json& object) {
  return member(object, "spec");
}

// --- node selectors (core/v1 NodeSelector) ---

Status read_requirement(const json& value, NodeSelectorRequirement& out) {
  if (Status s = read_string(value, "key", out.key, true); !s) return s;
  std::string op;
  if (Status s = read_string(value, "operator", op, true); !s) return s;
  using Op = NodeSelectorRequirement::Operator;
  static const std::map<std::string, Op, std::less<>> kOperators = {
      {"In", Op::kIn},         {"NotIn", Op::kNotIn},
      {"Exists", Op::kExists}, {"DoesNotExist", Op::kDoesNotExist},
      {"Gt", Op::kGt},         {"Lt", Op::kLt}};
  auto it = kOperators.find(op);
  if (it == kOperators.end()) {
    return fail("operator", fmt::format("Unsupported value: \"{}\"", op));
  }
  out.op = it->second;
  return for_each_element(
      value, "values",
      [&](const json& v) -> Status {
        if (!v.is_string()) return fail("", "must be a string");
        out.values.push_back(v.get<std::string>());
        return {};
      },
      false);
}

Status read_node_selector(const json& selector, std::vector<NodeSelectorTerm>& out) {
  if (Status s = require_object(selector, "nodeSelector"); !s) return s;
  return for_each_element(selector, "nodeSelectorTerms", [&](const json& term_json) -> Status {
    NodeSelectorTerm& term = out.emplace_back();
    if (Status s = for_each_element(term_json, "matchExpressions",
                                    [&](const json& r) {
                                      return read_requirement(
                                          r, term.match_expressions.emplace_back());
                                    });
        !s) {
      return s;
    }
    return for_each_element(term_json, "matchFields", [&](const json& r) {
      return read_requirement(r, term.match_fields.emplace_back());
    });
  });
}

// --- ResourceSlice ---

// "model" in a slice of driver "gpu.example.com" is "gpu.example.com/model".
std::string qualified(const std::string& name, const std::string& driver) {
  return name.find('/') == std::string::npos ? driver + "/" + name : name;
}

Status read_attribute(const json& value, AttributeValue& out) {
  if (!value.is_object()) return fail("", "must be an object");
  int set = 0;
  if (const json* v = member(value, "bool")) {
    if (!v->is_boolean()) return fail("bool", "must be a boolean");
    out = v->get<bool>(), ++set;
  }
  if (const json* v = member(value, "int")) {
    if (!v->is_number_integer()) return fail("int", "must be an integer");
    if (v->is_number_unsigned() && v->get<uint64_t>() > uint64_t{INT64_MAX}) {
      return fail("int", "must fit in a 64-bit signed integer");
    }
    out = v->get<int64_t>(), ++set;
  }
  if (const json* v = member(value, "string")) {
    if (!v->is_string()) return fail("string", "must be a string");
    out = v->get<std::string>(), ++set;
  }
  if (const json* v = member(value, "version")) {
    if (!v->is_string()) return fail("version", "must be a string");
    if (!parse_semver(v->get<std::string>())) {
      return fail("version", fmt::format("Invalid value: \"{}\": must be a semantic version",
                                         v->get<std::string>()));
    }
    out = Version{v->get<std::string>()}, ++set;
  }
  if (set != 1) return fail("", "exactly one of bool, int, string, version must be set");
  return {};
}

Status read_device(const json& value, const std::string& driver, Device& out) {
  if (Status s = read_string(value, "name", out.name, true); !s) return s;
  if (const json* attributes = member(value, "attributes")) {
    if (!attributes->is_object()) return fail("attributes", "must be an object");
    for (const auto& [name, attribute] : attributes->items()) {
      AttributeValue parsed;
      if (Status s = within(fmt::format("attributes[{}]", name), read_attribute(attribute, parsed));
          !s) {
        return s;
      }
      out.attributes.insert_or_assign(qualified(name, driver), std::move(parsed));
    }
  }
  if (const json* capacity = member(value, "capacity")) {
    if (!capacity->is_object()) return fail("capacity", "must be an object");
    for (const auto& [name, entry] : capacity->items()) {
      const std::string field = fmt::format("capacity[{}].value", name);
      const json* quantity = entry.is_object() ? member(entry, "value") : nullptr;
      if (quantity == nullptr) return fail(field, "required value");
      auto parsed = parse_quantity_value(*quantity);
      if (!parsed) return fail(field, parsed.error());
      out.capacity.insert_or_assign(qualified(name, driver), *parsed);
    }
  }
  return {};
}

Status read_slice_spec(const json& spec, ResourceSlice& out) {
  if (Status s = read_string(spec, "driver", out.driver, true); !s) return s;
  const json* pool = member(spec, "pool");
  if (pool == nullptr) return fail("pool", "required value");
  if (!pool->is_object()) return fail("pool", "must be an object");
  if (Status nested = within(
          "pool",
          [&]() -> Status {
            if (Status s = read_string(*pool, "name", out.pool.name, true); !s) return s;
            if (Status s = read_int(*pool, "generation", out.pool.generation); !s) return s;
            if (Status s = read_int(*pool, "resourceSliceCount", out.pool.resource_slice_count); !s)
              return s;
            if (out.pool.resource_slice_count < 1)
              return fail("resourceSliceCount", "must be >= 1");
            return {};
          }());
      !nested) {
    return nested;
  }
  bool per_device = false;
  if (Status s = read_bool(spec, "perDeviceNodeSelection", per_device); !s) return s;
  if (per_device) return fail("perDeviceNodeSelection", "not supported by fairway yet");
  if (Status s = read_string(spec, "nodeName", out.node_name, false); !s) return s;
  if (Status s = read_bool(spec, "allNodes", out.all_nodes); !s) return s;
  const json* selector = member(spec, "nodeSelector");
  if (selector != nullptr) {
    if (Status s = within("nodeSelector", read_node_selector(*selector, out.node_selector)); !s)
      return s;
  }
  const int where =
      (out.node_name.empty() ? 0 : 1) + (selector != nullptr ? 1 : 0) + (out.all_nodes ? 1 : 0);
  if (where != 1) {
    return fail("", "exactly one of `nodeName`, `nodeSelector`, `allNodes` is required");
  }
  return for_each_element(spec, "devices", [&](const json& device) {
    return read_device(device, out.driver, out.devices.emplace_back());
  });
}

// --- DeviceClass, claims ---

Status read_selectors(const json& object, std::vector<std::string>& out) {
  return for_each_element(object, "selectors", [&](const json& selector) -> Status {
    const json* cel = member(selector, "cel");
    if (cel == nullptr) return fail("cel", "required value (no other selector type is supported)");
    if (!cel->is_object()) return fail("cel", "must be an object");
    std::string expression;
    if (Status s = within("cel", read_string(*cel, "expression", expression, true)); !s) return s;
    out.push_back(std::move(expression));
    return {};
  });
}

Status read_choice(const json& value, DeviceChoice& out) {
  if (Status s = read_string(value, "deviceClassName", out.device_class_name, true); !s) return s;
  if (Status s = read_selectors(value, out.selectors); !s) return s;
  std::string mode = "ExactCount";
  if (Status s = read_string(value, "allocationMode", mode, false); !s) return s;
  if (mode == "ExactCount") {
    out.allocation_mode = AllocationMode::kExactCount;
  } else if (mode == "All") {
    out.allocation_mode = AllocationMode::kAll;
  } else {
    return fail("allocationMode", fmt::format("Unsupported value: \"{}\": supported values: "
                                              "\"All\", \"ExactCount\"",
                                              mode));
  }
  if (Status s = read_int(value, "count", out.count); !s) return s;
  if (out.allocation_mode == AllocationMode::kExactCount && out.count < 1) {
    return fail("count", "must be greater than zero");
  }
  return read_bool(value, "adminAccess", out.admin_access);
}

Status read_request(const json& value, DeviceRequest& out) {
  if (Status s = read_string(value, "name", out.name, true); !s) return s;
  if (const json* exactly = member(value, "exactly")) {
    if (!exactly->is_object()) return fail("exactly", "must be an object");
    if (Status s = within("exactly", read_choice(*exactly, out.exactly.emplace())); !s) return s;
  }
  if (Status nested =
          for_each_element(value, "firstAvailable",
                           [&](const json& sub) -> Status {
                             DeviceSubRequest& subrequest = out.first_available.emplace_back();
                             if (Status s = read_string(sub, "name", subrequest.name, true); !s)
                               return s;
                             return read_choice(sub, subrequest.choice);
                           });
      !nested) {
    return nested;
  }
  if (out.exactly.has_value() == !out.first_available.empty()) {
    return fail("", "exactly one of `exactly` or `firstAvailable` is required");
  }
  return {};
}

Status read_claim_spec(const json& spec, ResourceClaimSpec& out) {
  const json* devices = member(spec, "devices");
  if (devices == nullptr) return {};
  if (!devices->is_object()) return fail("devices", "must be an object");
  return within("devices", [&]() -> Status {
    if (Status s = for_each_element(
            *devices, "requests",
            [&](const json& r) { return read_request(r, out.requests.emplace_back()); });
        !s) {
      return s;
    }
    return for_each_element(*devices, "constraints", [&](const json& c) -> Status {
      DeviceConstraint& constraint = out.constraints.emplace_back();
      if (Status s = for_each_element(
              c, "requests",
              [&](const json& name) -> Status {
                if (!name.is_string()) return fail("", "must be a string");
                constraint.requests.push_back(name.get<std::string>());
                return {};
              },
              false);
          !s) {
        return s;
      }
      if (Status s = read_string(c, "matchAttribute", constraint.match_attribute, false); !s)
        return s;
      if (!constraint.match_attribute.empty() &&
          constraint.match_attribute.find('/') == std::string::npos) {
        return fail("matchAttribute", "must be a fully qualified name (domain/name)");
      }
      return {};
    });
  }());
}

Status read_allocation(const json& allocation, AllocationResult& out) {
  if (!allocation.is_object()) return fail("", "must be an object");
  if (const json* devices = member(allocation, "devices")) {
    if (!devices->is_object()) return fail("devices", "must be an object");
    if (Status nested = within(
            "devices",
            for_each_element(*devices, "results",
                             [&](const json& r) -> Status {
                               DeviceRequestAllocationResult& result = out.devices.emplace_back();
                               if (Status s = read_string(r, "request", result.request, true); !s)
                                 return s;
                               if (Status s = read_string(r, "driver", result.driver, true); !s)
                                 return s;
                               if (Status s = read_string(r, "pool", result.pool, true); !s)
                                 return s;
                               if (Status s = read_string(r, "device", result.device, true); !s)
                                 return s;
                               return read_bool(r, "adminAccess", result.admin_access);
                             }));
        !nested) {
      return nested;
    }
  }
  if (const json* selector = member(allocation, "nodeSelector")) {
    return within("nodeSelector", read_node_selector(*selector, out.node_selector));
  }
  return {};
}

Status read_claim_status(const json& status, ResourceClaim& out) {
  if (!status.is_object()) return fail("", "must be an object");
  if (const json* allocation = member(status, "allocation")) {
    if (Status s = within("allocation", read_allocation(*allocation, out.allocation.emplace())); !s)
      return s;
  }
  return for_each_element(status, "reservedFor", [&](const json& r) -> Status {
    ConsumerReference& ref = out.reserved_for.emplace_back();
    if (Status s = read_string(r, "apiGroup", ref.api_group, false); !s) return s;
    if (Status s = read_string(r, "resource", ref.resource, true); !s) return s;
    if (Status s = read_string(r, "name", ref.name, true); !s) return s;
    return read_string(r, "uid", ref.uid, true);
  });
}

template <typename T>
tl::expected<T, std::string> result_of(Status status, T value) {
  if (!status) return tl::unexpected(status.error());
  return value;
}

}  // namespace

tl::expected<Quantity, std::string> parse_quantity_value(const nlohmann::json& value) {
  std::string text;
  if (value.is_string()) {
    text = value.get<std::string>();
  } else if (value.is_number_integer()) {
    text = std::to_string(value.get<int64_t>());
  } else if (value.is_number()) {
    text = fmt::format("{}", value.get<double>());
  } else {
    return tl::unexpected(std::string("quantity must be a string or a number"));
  }
  auto milli = parse_quantity(text, 1000);
  if (!milli) return tl::unexpected(milli.error());
  return Quantity{*milli};
}

tl::expected<ResourceSlice, std::string> decode_resource_slice(const nlohmann::json& object) {
  ResourceSlice out;
  Status status = read_metadata(object, nullptr, out.name, nullptr, nullptr);
  if (status) {
    const json* spec = spec_of(object);
    status = spec == nullptr      ? fail("spec", "required value")
             : !spec->is_object() ? fail("spec", "must be an object")
                                  : within("spec", read_slice_spec(*spec, out));
  }
  return result_of(std::move(status), std::move(out));
}

tl::expected<DeviceClass, std::string> decode_device_class(const nlohmann::json& object) {
  DeviceClass out;
  Status status = read_metadata(object, nullptr, out.name, nullptr, nullptr);
  if (status) {
    const json* spec = spec_of(object);
    if (spec != nullptr) {
      status = spec->is_object() ? within("spec", read_selectors(*spec, out.selectors))
                                 : fail("spec", "must be an object");
    }
  }
  return result_of(std::move(status), std::move(out));
}

// The uid of the claim's controller owner when that is a Pod (a claim made from a template);
// empty otherwise. Malformed owner references are ignored: they only tell whose claim it is.
std::string controller_pod_uid(const json& object) {
  const json* metadata = member(object, "metadata");
  const json* owners = metadata != nullptr ? member(*metadata, "ownerReferences") : nullptr;
  if (owners == nullptr || !owners->is_array()) return {};
  auto text = [](const json& owner, const char* name) {
    const json* value = member(owner, name);
    return value != nullptr && value->is_string() ? value->get<std::string>() : std::string();
  };
  for (const json& owner : *owners) {
    if (!owner.is_object()) continue;
    const json* controller = member(owner, "controller");
    if (controller == nullptr || !controller->is_boolean() || !controller->get<bool>()) continue;
    if (text(owner, "apiVersion") == "v1" && text(owner, "kind") == "Pod")
      return text(owner, "uid");
  }
  return {};
}

tl::expected<ResourceClaim, std::string> decode_resource_claim(const nlohmann::json& object) {
  ResourceClaim out;
  Status status = read_metadata(object, &out.namespace_, out.name, &out.uid, &out.deleting);
  if (status) {
    out.owner_pod_uid = controller_pod_uid(object);
    if (const json* metadata = member(object, "metadata"); metadata != nullptr) {
      const json* version = member(*metadata, "resourceVersion");
      if (version != nullptr && version->is_string()) out.resource_version = *version;
    }
    const json* spec = spec_of(object);
    status = spec == nullptr      ? fail("spec", "required value")
             : !spec->is_object() ? fail("spec", "must be an object")
                                  : within("spec", read_claim_spec(*spec, out.spec));
  }
  if (status) {
    if (const json* claim_status = member(object, "status")) {
      status = within("status", read_claim_status(*claim_status, out));
    }
  }
  return result_of(std::move(status), std::move(out));
}

tl::expected<ResourceClaimTemplate, std::string> decode_resource_claim_template(
    const nlohmann::json& object) {
  ResourceClaimTemplate out;
  Status status = read_metadata(object, &out.namespace_, out.name, nullptr, nullptr);
  if (status) {
    const json* spec = spec_of(object);
    if (spec == nullptr) {
      status = fail("spec", "required value");
    } else if (!spec->is_object()) {
      status = fail("spec", "must be an object");
    } else {
      status = within("spec", [&]() -> Status {
        if (const json* metadata = member(*spec, "metadata")) {
          if (!metadata->is_object()) return fail("metadata", "must be an object");
          if (Status s = within("metadata", read_string_map(*metadata, "labels", out.labels)); !s)
            return s;
          if (Status s =
                  within("metadata", read_string_map(*metadata, "annotations", out.annotations));
              !s) {
            return s;
          }
        }
        const json* claim_spec = member(*spec, "spec");
        if (claim_spec == nullptr) return fail("spec", "required value");
        if (!claim_spec->is_object()) return fail("spec", "must be an object");
        return within("spec", read_claim_spec(*claim_spec, out.spec));
      }());
    }
  }
  return result_of(std::move(status), std::move(out));
}

}  // namespace fairway::dra
