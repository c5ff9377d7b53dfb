#include "k8s-client/objects.h"

// Decoders use simdjson's DOM API (runtime-dispatched AVX2/AVX-512 kernels from libsimdjson; see
// "Why the DOM API" below), with one parser per thread reused across calls. Every object is
// iterated field by field once (not looked up by key), which is both the fastest access pattern
// and independent of the order the server writes fields in. Building the structs is mostly
// allocation: vectors are reserved from the array size the tape records, and maps (labels,
// annotations, resource lists) are appended at the end since Go writes map keys sorted.
// decode_list(std::string&) parses a body the caller owns in place (RestClient reserves the
// padding), saving the padded copy the string_view form makes.
//
// Errors are values all the way: simdjson's error-code API is used throughout (no exceptions),
// and a failure carries the path of the field it happened in, built back to front as it
// propagates ("resources.requests.cpu" → "containers[0].resources…" → "spec.containers[0]…").

#include <fmt/format.h>
#include <simdjson.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstring>
#include <iterator>
#include <limits>
#include <nlohmann/json.hpp>
#include <utility>

#include "k8s-client/dra_objects.h"
#include "queues/quantity.h"
#include "queues/usage_history.h"

namespace fairway::k8s {
namespace {

namespace dom = simdjson::dom;

// A failure inside a decoder: where (a dotted path, grown while unwinding) and what.
struct Err {
  std::string path;
  std::string what;
};
// The result of every decoding step. Success is a null pointer, so the happy path (millions of
// fields per LIST) costs a register, not a 70-byte tl::expected moved through each level.
class [[nodiscard]] R {
 public:
  R() = default;
  R(tl::unexpected<Err> failure) : error_(std::make_unique<Err>(std::move(failure.value()))) {}
  explicit operator bool() const { return error_ == nullptr; }
  Err& error() { return *error_; }

 private:
  std::unique_ptr<Err> error_;
};

tl::unexpected<Err> fail(std::string what) {
  return tl::unexpected(Err{{}, std::move(what)});
}
tl::unexpected<Err> fail(simdjson::error_code code) {
  return tl::unexpected(Err{{}, simdjson::error_message(code)});
}

// Prepends a path segment: "spec" + "containers[0]" → "spec.containers[0]"; "[0]" joins bare.
R within(std::string_view segment, R result) {
  if (result) return result;
  Err& err = result.error();
  if (err.path.empty()) {
    err.path = segment;
  } else {
    err.path.insert(0, err.path.front() == '[' ? std::string(segment) : std::string(segment) + ".");
  }
  return result;
}
R within_index(std::string_view segment, size_t index, R result) {
  if (result) return result;
  return within(fmt::format("{}[{}]", segment, index), std::move(result));
}

std::string describe(const Err& err) {
  return err.path.empty() ? err.what : err.path + ": " + err.what;
}

bool is_null(dom::element value) {
  return value.is_null();
}

// Calls fn(key, value) for each field of an object; null counts as an empty object (Go's
// omitempty is not universal: "labels": null does occur).
template <typename Fn>
R for_each_field(dom::object object, Fn&& fn) {
  for (dom::key_value_pair field : object) {
    if (R r = fn(field.key, field.value); !r) return r;
  }
  return {};
}
template <typename Fn>
R for_each_field(dom::element value, Fn&& fn) {
  if (is_null(value)) return {};
  dom::object object;
  if (auto code = value.get_object().get(object)) return fail(code);
  return for_each_field(object, std::forward<Fn>(fn));
}

// Calls fn(index, value) for each element; null counts as empty.
template <typename Fn>
R for_each_element(dom::element value, Fn&& fn) {
  if (is_null(value)) return {};
  dom::array array;
  if (auto code = value.get_array().get(array)) return fail(code);
  size_t index = 0;
  for (dom::element element : array) {
    if (R r = fn(index, element); !r) return r;
    ++index;
  }
  return {};
}

// Reserves room for an array's elements up front (the DOM tape knows the count), so a vector
// of structs is allocated once instead of growing 1→2→4 and moving what it holds.
template <typename V>
void reserve_for(dom::element value, V& out) {
  dom::array array;
  if (!value.get_array().get(array)) out.reserve(out.size() + array.size());
}

R read_string(dom::element value, std::string& out) {
  if (is_null(value)) {
    out.clear();
    return {};
  }
  std::string_view text;
  if (auto code = value.get_string().get(text)) return fail(code);
  out.assign(text);
  return {};
}

R read_bool(dom::element value, bool& out) {
  if (is_null(value)) return {};
  if (auto code = value.get_bool().get(out)) return fail(code);
  return {};
}

R read_int64(dom::element value, int64_t& out) {
  if (auto code = value.get_int64().get(out)) return fail(code);
  return {};
}

R read_int32(dom::element value, int32_t& out) {
  int64_t wide = 0;
  if (R r = read_int64(value, wide); !r) return r;
  if (wide < std::numeric_limits<int32_t>::min() || wide > std::numeric_limits<int32_t>::max()) {
    return fail(fmt::format("{} is out of the int32 range", wide));
  }
  out = static_cast<int32_t>(wide);
  return {};
}

R read_double(dom::element value, double& out) {
  if (auto code = value.get_double().get(out)) return fail(code);
  return {};
}

// Go maps are written with sorted keys, so appending at the end is the common case.
// Reserves room for an object's fields up front (the DOM tape knows the count): one allocation
// per flat map.
template <typename M>
void reserve_fields(dom::element value, M& out) {
  dom::object object;
  if (!value.get_object().get(object)) out.reserve(out.size() + object.size());
}

R read_string_map(dom::element value, Labels& out) {
  reserve_fields(value, out);
  return for_each_field(value, [&](std::string_view key, dom::element field) -> R {
    std::string_view text;
    if (auto code = field.get_string().get(text)) return within(key, fail(code));
    out.emplace_hint(out.end(), key, text);
    return {};
  });
}

// kubectl's copy of the whole manifest: often kilobytes per pod, never needed to schedule.
constexpr std::string_view kLastApplied = "kubectl.kubernetes.io/last-applied-configuration";

R read_annotations(dom::element value, Labels& out) {
  reserve_fields(value, out);
  return for_each_field(value, [&](std::string_view key, dom::element field) -> R {
    std::string_view text;
    if (auto code = field.get_string().get(text)) return within(key, fail(code));
    if (key != kLastApplied) out.emplace_hint(out.end(), key, text);
    return {};
  });
}

// A resource.Quantity: a string ("500m", "16Gi") or, from hand-written manifests, a JSON number.
R read_quantity(dom::element value, std::string_view resource, int64_t& out) {
  std::string number_text;
  std::string_view text;
  switch (value.type()) {
    case dom::element_type::STRING:
      text = value.get_string().value_unsafe();
      break;
    case dom::element_type::INT64:
      number_text = fmt::format("{}", value.get_int64().value_unsafe());
      text = number_text;
      break;
    case dom::element_type::UINT64:
      number_text = fmt::format("{}", value.get_uint64().value_unsafe());
      text = number_text;
      break;
    case dom::element_type::DOUBLE:
      // Shortest round-trip form: 0.5 stays "0.5", so the quantity parser sees what was typed.
      number_text = fmt::format("{}", value.get_double().value_unsafe());
      text = number_text;
      break;
    default:
      return fail("quantity must be a string or a number");
  }
  auto parsed = parse_resource_quantity(resource, text);
  if (!parsed) return fail(parsed.error());
  out = *parsed;
  return {};
}

R read_resource_list(dom::element value, ResourceList& out) {
  reserve_fields(value, out);
  return for_each_field(value, [&](std::string_view key, dom::element field) -> R {
    int64_t quantity = 0;
    if (R r = read_quantity(field, key, quantity); !r) return within(key, std::move(r));
    // Go writes maps sorted, so this appends; a duplicate key keeps the last value.
    out.insert_or_assign(key, quantity);
    return {};
  });
}

R read_time_ms(dom::element value, int64_t& out) {
  if (is_null(value)) return {};
  std::string_view text;
  if (auto code = value.get_string().get(text)) return fail(code);
  auto parsed = parse_rfc3339_ms(text);
  if (!parsed) return fail(parsed.error());
  out = *parsed;
  return {};
}

R read_duration_seconds(dom::element value, std::optional<int64_t>& out) {
  if (is_null(value)) return {};
  if (value.is_number()) {  // lenient: a bare number is seconds
    int64_t seconds = 0;
    if (R r = read_int64(value, seconds); !r) return r;
    out = seconds;
    return {};
  }
  std::string_view text;
  if (auto code = value.get_string().get(text)) return fail(code);
  auto parsed = parse_go_duration_seconds(text);
  if (!parsed) return fail(parsed.error());
  out = *parsed;
  return {};
}

// What metadata a kind wants besides ObjectMeta.
struct MetaSink {
  Labels* labels = nullptr;
  Labels* annotations = nullptr;
  int64_t* creation_ms = nullptr;
  bool* deleting = nullptr;
  OwnerRef* owner = nullptr;  // the controller owner reference
};

// metadata.ownerReferences: the one with controller: true.
R read_owner_refs(dom::element value, OwnerRef& out) {
  return for_each_element(value, [&](size_t i, dom::element element) -> R {
    bool controller = false;
    OwnerRef ref;
    R r = for_each_field(element, [&](std::string_view key, dom::element v) -> R {
      if (key == "controller")
        return is_null(v) ? R{} : within("controller", read_bool(v, controller));
      if (key == "apiVersion") return within("apiVersion", read_string(v, ref.api_version));
      if (key == "kind") return within("kind", read_string(v, ref.kind));
      if (key == "name") return within("name", read_string(v, ref.name));
      if (key == "uid") return within("uid", read_string(v, ref.uid));
      return {};
    });
    if (!r) return within_index("", i, std::move(r));
    if (controller) out = std::move(ref);
    return {};
  });
}

R read_meta(dom::element value, ObjectMeta& meta, const MetaSink& sink) {
  return for_each_field(value, [&](std::string_view key, dom::element field) -> R {
    if (key == "name") return within("name", read_string(field, meta.name));
    if (key == "namespace") return within("namespace", read_string(field, meta.namespace_));
    if (key == "uid") return within("uid", read_string(field, meta.uid));
    if (key == "resourceVersion") {
      return within("resourceVersion", read_string(field, meta.resource_version));
    }
    if (key == "labels" && sink.labels)
      return within("labels", read_string_map(field, *sink.labels));
    if (key == "annotations" && sink.annotations) {
      return within("annotations", read_annotations(field, *sink.annotations));
    }
    if (key == "creationTimestamp" && sink.creation_ms) {
      return within("creationTimestamp", read_time_ms(field, *sink.creation_ms));
    }
    if (key == "deletionTimestamp" && sink.deleting) {
      *sink.deleting = !is_null(field);
      return {};
    }
    if (key == "ownerReferences" && sink.owner) {
      return within("ownerReferences", read_owner_refs(field, *sink.owner));
    }
    return {};
  });
}

// ---- Pod ----------------------------------------------------------------------------------

tl::expected<TaintEffect, std::string> parse_effect(std::string_view text) {
  if (text == "NoSchedule") return TaintEffect::kNoSchedule;
  if (text == "PreferNoSchedule") return TaintEffect::kPreferNoSchedule;
  if (text == "NoExecute") return TaintEffect::kNoExecute;
  return tl::unexpected(fmt::format("unknown taint effect \"{}\"", text));
}

R read_toleration(dom::element value, Toleration& out) {
  return for_each_field(value, [&](std::string_view key, dom::element field) -> R {
    if (key == "key") return within("key", read_string(field, out.key));
    if (key == "value") return within("value", read_string(field, out.value));
    if (key == "operator") {
      std::string op;
      if (R r = read_string(field, op); !r) return within("operator", std::move(r));
      if (op == "Exists") {
        out.op = Toleration::Operator::kExists;
      } else if (op == "Equal" || op.empty()) {
        out.op = Toleration::Operator::kEqual;
      } else {
        return within("operator", fail(fmt::format("unknown operator \"{}\"", op)));
      }
      return {};
    }
    if (key == "effect") {
      std::string effect;
      if (R r = read_string(field, effect); !r) return within("effect", std::move(r));
      if (effect.empty()) {
        out.effect.reset();
        return {};
      }
      auto parsed = parse_effect(effect);
      if (!parsed) return within("effect", fail(parsed.error()));
      out.effect = *parsed;
      return {};
    }
    return {};
  });
}

R read_requirement(dom::element value, NodeSelectorRequirement& out) {
  return for_each_field(value, [&](std::string_view key, dom::element field) -> R {
    if (key == "key") return within("key", read_string(field, out.key));
    if (key == "operator") {
      std::string op;
      if (R r = read_string(field, op); !r) return within("operator", std::move(r));
      using Op = NodeSelectorRequirement::Operator;
      if (op == "In") {
        out.op = Op::kIn;
      } else if (op == "NotIn") {
        out.op = Op::kNotIn;
      } else if (op == "Exists") {
        out.op = Op::kExists;
      } else if (op == "DoesNotExist") {
        out.op = Op::kDoesNotExist;
      } else if (op == "Gt") {
        out.op = Op::kGt;
      } else if (op == "Lt") {
        out.op = Op::kLt;
      } else {
        return within("operator", fail(fmt::format("unknown operator \"{}\"", op)));
      }
      return {};
    }
    if (key == "values") {
      reserve_for(field, out.values);
      return within("values", for_each_element(field, [&](size_t i, dom::element element) -> R {
                      return within_index("", i, read_string(element, out.values.emplace_back()));
                    }));
    }
    return {};
  });
}

R read_requirements(dom::element value, std::vector<NodeSelectorRequirement>& out) {
  reserve_for(value, out);
  return for_each_element(value, [&](size_t i, dom::element element) -> R {
    return within_index("", i, read_requirement(element, out.emplace_back()));
  });
}

R read_node_selector_term(dom::element value, NodeSelectorTerm& term) {
  return for_each_field(value, [&](std::string_view key, dom::element field) -> R {
    if (key == "matchExpressions") {
      return within("matchExpressions", read_requirements(field, term.match_expressions));
    }
    if (key == "matchFields")
      return within("matchFields", read_requirements(field, term.match_fields));
    return {};
  });
}

// A list of v1.NodeSelectorTerm (nodeSelectorTerms of a pod's or a PersistentVolume's node
// affinity).
R read_node_selector_terms(dom::element value, std::vector<NodeSelectorTerm>& out) {
  reserve_for(value, out);
  return for_each_element(value, [&](size_t i, dom::element element) -> R {
    return within_index("", i, read_node_selector_term(element, out.emplace_back()));
  });
}

// v1.NodeSelector: {"nodeSelectorTerms": [...]}.
R read_node_selector(dom::element value, std::vector<NodeSelectorTerm>& out) {
  return for_each_field(value, [&](std::string_view key, dom::element field) -> R {
    if (!(key == "nodeSelectorTerms")) return {};
    return within("nodeSelectorTerms", read_node_selector_terms(field, out));
  });
}

R read_preferred_scheduling_terms(dom::element value, std::vector<PreferredSchedulingTerm>& out) {
  reserve_for(value, out);
  return for_each_element(value, [&](size_t i, dom::element element) -> R {
    PreferredSchedulingTerm& term = out.emplace_back();
    return within_index(
        "", i, for_each_field(element, [&](std::string_view key, dom::element field) -> R {
          if (key == "weight") return within("weight", read_int32(field, term.weight));
          if (key == "preference") {
            return within("preference", read_node_selector_term(field, term.preference));
          }
          return {};
        }));
  });
}

R read_label_selector(dom::element value, LabelSelector& out);

// A selector where null means "selects nothing" (nullopt) and {} means "selects everything".
R read_optional_selector(dom::element value, std::optional<LabelSelector>& out) {
  if (is_null(value)) {
    out.reset();
    return {};
  }
  return read_label_selector(value, out.emplace());
}

R read_string_list(dom::element value, std::vector<std::string>& out) {
  reserve_for(value, out);
  return for_each_element(value, [&](size_t i, dom::element element) -> R {
    return within_index("", i, read_string(element, out.emplace_back()));
  });
}

R read_pod_affinity_term(dom::element value, PodAffinityTerm& term) {
  return for_each_field(value, [&](std::string_view key, dom::element field) -> R {
    if (key == "labelSelector") {
      return within("labelSelector", read_optional_selector(field, term.label_selector));
    }
    if (key == "namespaces") return within("namespaces", read_string_list(field, term.namespaces));
    if (key == "namespaceSelector") {
      return within("namespaceSelector", read_optional_selector(field, term.namespace_selector));
    }
    if (key == "topologyKey") return within("topologyKey", read_string(field, term.topology_key));
    if (key == "matchLabelKeys") {
      return within("matchLabelKeys", read_string_list(field, term.match_label_keys));
    }
    if (key == "mismatchLabelKeys") {
      return within("mismatchLabelKeys", read_string_list(field, term.mismatch_label_keys));
    }
    return {};
  });
}

// podAffinity or podAntiAffinity: required terms and weighted preferred terms.
R read_pod_affinity(dom::element value, std::vector<PodAffinityTerm>& required,
                    std::vector<WeightedPodAffinityTerm>& preferred) {
  return for_each_field(value, [&](std::string_view key, dom::element field) -> R {
    if (key == "requiredDuringSchedulingIgnoredDuringExecution") {
      reserve_for(field, required);
      return within(key, for_each_element(field, [&](size_t i, dom::element element) -> R {
                      return within_index("", i,
                                          read_pod_affinity_term(element, required.emplace_back()));
                    }));
    }
    if (key == "preferredDuringSchedulingIgnoredDuringExecution") {
      reserve_for(field, preferred);
      return within(
          key, for_each_element(field, [&](size_t i, dom::element element) -> R {
            WeightedPodAffinityTerm& weighted = preferred.emplace_back();
            return within_index(
                "", i, for_each_field(element, [&](std::string_view k2, dom::element v) -> R {
                  if (k2 == "weight") return within("weight", read_int32(v, weighted.weight));
                  if (k2 == "podAffinityTerm") {
                    return within("podAffinityTerm", read_pod_affinity_term(v, weighted.term));
                  }
                  return {};
                }));
          }));
    }
    return {};
  });
}

// Resource requests or scheduling constraints that cannot be read (a quantity that overflows, a
// list that is not a list, an unknown selector operator) do not make the pod vanish: it is kept
// with a problem, so the scheduler can say why it will never place it, and the fields after it
// (schedulerName, nodeName) are still read.
R tolerate(Pod& pod, R result, std::string_view part = "spec") {
  if (!result) pod.problems.push_back(fmt::format("{}.{}", part, describe(result.error())));
  return {};
}

// spec.affinity. A required node affinity that cannot be read fails the pod (as it always has);
// the other parts (preferred node affinity, pod affinity and anti-affinity) become problems.
R read_affinity(dom::element value, Pod& pod) {
  return for_each_field(value, [&](std::string_view key, dom::element field) -> R {
    if (key == "nodeAffinity") {
      return within(
          "nodeAffinity", for_each_field(field, [&](std::string_view k2, dom::element v) -> R {
            if (k2 == "requiredDuringSchedulingIgnoredDuringExecution") {
              if (is_null(v)) return {};
              return within(k2, read_node_selector(v, pod.required_node_affinity));
            }
            if (k2 == "preferredDuringSchedulingIgnoredDuringExecution") {
              return tolerate(
                  pod, within("affinity", within("nodeAffinity",
                                                 within(k2, read_preferred_scheduling_terms(
                                                                v, pod.preferred_node_affinity)))));
            }
            return {};
          }));
    }
    if (key == "podAffinity") {
      return tolerate(
          pod, within("affinity",
                      within("podAffinity", read_pod_affinity(field, pod.affinity.required_affinity,
                                                              pod.affinity.preferred_affinity))));
    }
    if (key == "podAntiAffinity") {
      return tolerate(
          pod,
          within("affinity", within("podAntiAffinity",
                                    read_pod_affinity(field, pod.affinity.required_anti_affinity,
                                                      pod.affinity.preferred_anti_affinity))));
    }
    return {};
  });
}

// "Honor" or "Ignore"; null or absent keeps the API server's default.
R read_policy(dom::element value, bool& honor) {
  if (is_null(value)) return {};
  std::string text;
  if (R r = read_string(value, text); !r) return r;
  if (text == "Honor") {
    honor = true;
  } else if (text == "Ignore") {
    honor = false;
  } else if (!text.empty()) {
    return fail(fmt::format("unknown policy \"{}\" (Honor or Ignore)", text));
  }
  return {};
}

R read_topology_spread_constraint(dom::element value, TopologySpreadConstraint& out) {
  return for_each_field(value, [&](std::string_view key, dom::element field) -> R {
    if (key == "maxSkew") return within("maxSkew", read_int32(field, out.max_skew));
    if (key == "topologyKey") return within("topologyKey", read_string(field, out.topology_key));
    if (key == "whenUnsatisfiable") {
      std::string text;
      if (R r = read_string(field, text); !r) return within("whenUnsatisfiable", std::move(r));
      if (text == "DoNotSchedule") {
        out.do_not_schedule = true;
      } else if (text == "ScheduleAnyway") {
        out.do_not_schedule = false;
      } else {
        return within(
            "whenUnsatisfiable",
            fail(fmt::format("unknown action \"{}\" (DoNotSchedule or ScheduleAnyway)", text)));
      }
      return {};
    }
    if (key == "labelSelector") {
      return within("labelSelector", read_optional_selector(field, out.label_selector));
    }
    if (key == "minDomains") {
      if (is_null(field)) return {};
      int32_t domains = 0;
      if (R r = read_int32(field, domains); !r) return within("minDomains", std::move(r));
      out.min_domains = domains;
      return {};
    }
    if (key == "nodeAffinityPolicy") {
      return within("nodeAffinityPolicy", read_policy(field, out.node_affinity_honor));
    }
    if (key == "nodeTaintsPolicy") {
      return within("nodeTaintsPolicy", read_policy(field, out.node_taints_honor));
    }
    if (key == "matchLabelKeys") {
      return within("matchLabelKeys", read_string_list(field, out.match_label_keys));
    }
    return {};
  });
}

// A container's ports: only those with a hostPort (NodePorts) are kept.
R read_host_ports(dom::element value, std::vector<HostPort>& out) {
  return for_each_element(value, [&](size_t i, dom::element element) -> R {
    HostPort port;
    R r = for_each_field(element, [&](std::string_view key, dom::element field) -> R {
      if (key == "hostPort") {
        if (is_null(field)) return {};
        return within("hostPort", read_int32(field, port.port));
      }
      if (key == "protocol") {
        if (is_null(field)) return {};
        R rr = read_string(field, port.protocol);
        if (rr && port.protocol.empty()) port.protocol = "TCP";
        return within("protocol", std::move(rr));
      }
      if (key == "hostIP") return within("hostIP", read_string(field, port.host_ip));
      return {};
    });
    if (!r) return within_index("", i, std::move(r));
    if (port.port > 0) out.push_back(std::move(port));
    return {};
  });
}

// spec.volumes: those backed by a claim. A generic ephemeral volume's claim is named after the
// pod, whose name may come after spec: claim_name holds the volume's name until the pod's codec
// prefixes it.
R read_volumes(dom::element value, std::vector<PodVolumeClaim>& out) {
  return for_each_element(value, [&](size_t i, dom::element element) -> R {
    std::string name;
    std::optional<PodVolumeClaim> claim;
    R r = for_each_field(element, [&](std::string_view key, dom::element field) -> R {
      if (key == "name") return within("name", read_string(field, name));
      if (key == "persistentVolumeClaim" && !is_null(field)) {
        PodVolumeClaim& pvc = claim.emplace();
        R rr = for_each_field(field, [&](std::string_view k2, dom::element v) -> R {
          if (k2 == "claimName") return within("claimName", read_string(v, pvc.claim_name));
          return {};
        });
        if (rr && pvc.claim_name.empty()) rr = within("claimName", fail("required"));
        return within("persistentVolumeClaim", std::move(rr));
      }
      if (key == "ephemeral" && !is_null(field)) {
        if (!field.is_object()) return within("ephemeral", fail("not an object"));
        claim.emplace().ephemeral = true;
      }
      return {};
    });
    if (r && claim && claim->ephemeral) {
      if (name.empty()) r = within("name", fail("required"));
      claim->claim_name = name;
    }
    if (!r) return within_index("", i, std::move(r));
    if (claim) out.push_back(std::move(*claim));
    return {};
  });
}

// spec.resourceClaims (Dynamic Resource Allocation): a unique name and exactly one of
// resourceClaimName and resourceClaimTemplateName, with kube-apiserver's messages.
R read_pod_resource_claims(dom::element value, std::vector<PodResourceClaim>& out) {
  reserve_for(value, out);
  return for_each_element(value, [&](size_t i, dom::element element) -> R {
    PodResourceClaim claim;
    bool by_name = false;
    bool by_template = false;
    R r = for_each_field(element, [&](std::string_view key, dom::element field) -> R {
      if (key == "name") return within("name", read_string(field, claim.name));
      if (key == "resourceClaimName") {
        by_name = !is_null(field);
        return within(key, read_string(field, claim.claim_name));
      }
      if (key == "resourceClaimTemplateName") {
        by_template = !is_null(field);
        return within(key, read_string(field, claim.template_name));
      }
      return {};
    });
    if (r && claim.name.empty()) r = within("name", fail("Required value"));
    for (size_t k = 0; r && k < out.size(); ++k) {
      if (out[k].name == claim.name) {
        r = within("name", fail(fmt::format("Duplicate value: \"{}\"", claim.name)));
      }
    }
    if (r && by_name && by_template) {
      r = fail(
          "Invalid value: at most one of `resourceClaimName` or `resourceClaimTemplateName` "
          "may be specified");
    }
    if (r && !by_name && !by_template) {
      r = fail(
          "Invalid value: must specify one of: `resourceClaimName`, "
          "`resourceClaimTemplateName`");
    }
    if (r && by_name && claim.claim_name.empty()) {
      r = within("resourceClaimName", fail("Required value"));
    }
    if (r && by_template && claim.template_name.empty()) {
      r = within("resourceClaimTemplateName", fail("Required value"));
    }
    if (!r) return within_index("", i, std::move(r));
    out.push_back(std::move(claim));
    return {};
  });
}

// status.resourceClaimStatuses: the claim kube-controller-manager made for each template entry;
// resourceClaimName absent or null: no claim was needed.
R read_resource_claim_statuses(dom::element value, std::vector<PodResourceClaimStatus>& out) {
  reserve_for(value, out);
  return for_each_element(value, [&](size_t i, dom::element element) -> R {
    PodResourceClaimStatus status;
    R r = for_each_field(element, [&](std::string_view key, dom::element field) -> R {
      if (key == "name") return within("name", read_string(field, status.name));
      if (key == "resourceClaimName") {
        return within("resourceClaimName", read_string(field, status.claim_name));
      }
      return {};
    });
    if (r && status.name.empty()) r = within("name", fail("Required value"));
    if (!r) return within_index("", i, std::move(r));
    out.push_back(std::move(status));
    return {};
  });
}

R read_scheduling_gates(dom::element value, std::vector<std::string>& out) {
  reserve_for(value, out);
  return for_each_element(value, [&](size_t i, dom::element element) -> R {
    std::string& name = out.emplace_back();
    R r = for_each_field(element, [&](std::string_view key, dom::element field) -> R {
      if (key == "name") return within("name", read_string(field, name));
      return {};
    });
    if (r && name.empty()) r = within("name", fail("required"));
    return within_index("", i, std::move(r));
  });
}

// `host_ports` gets the container's host ports, an init container's only when it is a sidecar
// (restartPolicy: Always), as kube-scheduler's NodePorts counts them (GetHostPorts): the others
// have exited before the pod's containers start.
R read_container(dom::element value, Container& out, std::vector<HostPort>& host_ports, bool init) {
  std::vector<HostPort> ports;
  R result = for_each_field(value, [&](std::string_view key, dom::element field) -> R {
    if (key == "name") return within("name", read_string(field, out.name));
    if (key == "ports") return within("ports", read_host_ports(field, ports));
    if (key == "resources") {
      return within("resources",
                    for_each_field(field, [&](std::string_view k2, dom::element list) -> R {
                      if (k2 == "requests") {
                        return within("requests", read_resource_list(list, out.requests));
                      }
                      if (k2 == "limits")
                        return within("limits", read_resource_list(list, out.limits));
                      return {};
                    }));
    }
    if (key == "restartPolicy") {
      std::string policy;
      if (R r = read_string(field, policy); !r) return within("restartPolicy", std::move(r));
      out.restart_always = policy == "Always";
      return {};
    }
    return {};
  });
  if (!init || out.restart_always) {
    host_ports.insert(host_ports.end(), std::make_move_iterator(ports.begin()),
                      std::make_move_iterator(ports.end()));
  }
  return result;
}

R read_containers(dom::element value, std::vector<Container>& out,
                  std::vector<HostPort>& host_ports, bool init) {
  reserve_for(value, out);
  return for_each_element(value, [&](size_t i, dom::element element) -> R {
    return within_index("", i, read_container(element, out.emplace_back(), host_ports, init));
  });
}

R read_pod_spec(dom::element value, Pod& pod) {
  return for_each_field(value, [&](std::string_view key, dom::element field) -> R {
    if (key == "containers") {
      return tolerate(
          pod, within("containers", read_containers(field, pod.containers, pod.host_ports, false)));
    }
    if (key == "initContainers") {
      return tolerate(pod, within("initContainers", read_containers(field, pod.init_containers,
                                                                    pod.host_ports, true)));
    }
    if (key == "schedulerName")
      return within("schedulerName", read_string(field, pod.scheduler_name));
    if (key == "nodeName") return within("nodeName", read_string(field, pod.node_name));
    if (key == "priority") {
      if (is_null(field)) return {};
      return within("priority", read_int32(field, pod.priority));
    }
    if (key == "priorityClassName") {
      return within("priorityClassName", read_string(field, pod.priority_class_name));
    }
    if (key == "preemptionPolicy") {
      if (is_null(field)) return {};
      return within("preemptionPolicy", read_string(field, pod.preemption_policy));
    }
    if (key == "nodeSelector")
      return within("nodeSelector", read_string_map(field, pod.node_selector));
    if (key == "affinity") return within("affinity", read_affinity(field, pod));
    if (key == "topologySpreadConstraints") {
      reserve_for(field, pod.topology_spread);
      return tolerate(pod, within("topologySpreadConstraints",
                                  for_each_element(field, [&](size_t i, dom::element element) -> R {
                                    return within_index(
                                        "", i,
                                        read_topology_spread_constraint(
                                            element, pod.topology_spread.emplace_back()));
                                  })));
    }
    if (key == "volumes")
      return tolerate(pod, within("volumes", read_volumes(field, pod.volume_claims)));
    if (key == "schedulingGates") {
      return tolerate(
          pod, within("schedulingGates", read_scheduling_gates(field, pod.scheduling_gates)));
    }
    if (key == "resourceClaims") {
      return tolerate(
          pod, within("resourceClaims", read_pod_resource_claims(field, pod.resource_claims)));
    }
    if (key == "tolerations") {
      reserve_for(field, pod.tolerations);
      return within(
          "tolerations", for_each_element(field, [&](size_t i, dom::element element) -> R {
            return within_index("", i, read_toleration(element, pod.tolerations.emplace_back()));
          }));
    }
    if (key == "overhead") {
      return tolerate(pod, within("overhead", read_resource_list(field, pod.overhead)));
    }
    if (key == "schedulingGroup") {
      return within("schedulingGroup",
                    for_each_field(field, [&](std::string_view k2, dom::element v) -> R {
                      if (k2 != "podGroupName") return {};
                      return within("podGroupName", read_string(v, pod.scheduling_group));
                    }));
    }
    if (key == "workloadRef") {
      return within(
          "workloadRef", for_each_field(field, [&](std::string_view k2, dom::element v) -> R {
            if (k2 == "name") return within("name", read_string(v, pod.workload_ref));
            if (k2 == "podGroup") {
              return within("podGroup", read_string(v, pod.workload_pod_group));
            }
            if (k2 == "podGroupReplicaKey") {
              return within("podGroupReplicaKey", read_string(v, pod.workload_replica_key));
            }
            return {};
          }));
    }
    return {};
  });
}

R read_pod_status(dom::element value, Pod& pod) {
  return for_each_field(value, [&](std::string_view key, dom::element field) -> R {
    if (key == "resourceClaimStatuses") {
      return tolerate(pod,
                      within("resourceClaimStatuses",
                             read_resource_claim_statuses(field, pod.resource_claim_statuses)),
                      "status");
    }
    if (!(key == "phase")) return {};
    std::string_view phase;
    if (auto code = field.get_string().get(phase)) return within("phase", fail(code));
    if (phase == "Pending") {
      pod.phase = PodPhase::kPending;
    } else if (phase == "Running") {
      pod.phase = PodPhase::kRunning;
    } else if (phase == "Succeeded") {
      pod.phase = PodPhase::kSucceeded;
    } else if (phase == "Failed") {
      pod.phase = PodPhase::kFailed;
    } else {
      pod.phase = PodPhase::kUnknown;
    }
    return {};
  });
}

// ---- Node ---------------------------------------------------------------------------------

R read_node_spec(dom::element value, Node& node) {
  return for_each_field(value, [&](std::string_view key, dom::element field) -> R {
    if (key == "unschedulable")
      return within("unschedulable", read_bool(field, node.unschedulable));
    if (key == "taints") {
      reserve_for(field, node.taints);
      return within("taints", for_each_element(field, [&](size_t i, dom::element element) -> R {
                      Taint& taint = node.taints.emplace_back();
                      return within_index(
                          "", i,
                          for_each_field(element, [&](std::string_view k2, dom::element v) -> R {
                            if (k2 == "key") return within("key", read_string(v, taint.key));
                            if (k2 == "value") return within("value", read_string(v, taint.value));
                            if (k2 == "effect") {
                              std::string effect;
                              if (R r = read_string(v, effect); !r) {
                                return within("effect", std::move(r));
                              }
                              auto parsed = parse_effect(effect);
                              if (!parsed) return within("effect", fail(parsed.error()));
                              taint.effect = *parsed;
                            }
                            return {};
                          }));
                    }));
    }
    return {};
  });
}

R read_node_status(dom::element value, Node& node) {
  return for_each_field(value, [&](std::string_view key, dom::element field) -> R {
    if (key == "allocatable")
      return within("allocatable", read_resource_list(field, node.allocatable));
    if (key == "conditions") {
      return within("conditions", for_each_element(field, [&](size_t i, dom::element element) -> R {
                      std::string type;
                      std::string status;
                      R r = for_each_field(element, [&](std::string_view k2, dom::element v) -> R {
                        if (k2 == "type") return within("type", read_string(v, type));
                        if (k2 == "status") return within("status", read_string(v, status));
                        return {};
                      });
                      if (!r) return within_index("", i, std::move(r));
                      if (type == "Ready") node.ready = status == "True";
                      return {};
                    }));
    }
    return {};
  });
}

// ---- Queue --------------------------------------------------------------------------------

R read_queue_resource(dom::element value, std::string_view resource, QueueResourceSpec& out) {
  return for_each_field(value, [&](std::string_view key, dom::element field) -> R {
    if (key == "quota") {
      if (is_null(field)) return {};
      return within("quota", read_quantity(field, resource, out.quota));
    }
    if (key == "limit") {
      if (is_null(field)) return {};
      int64_t limit = 0;
      if (R r = read_quantity(field, resource, limit); !r) return within("limit", std::move(r));
      out.limit = limit;
      return {};
    }
    if (key == "overQuotaWeight") {
      if (is_null(field)) return {};
      double weight = 0;
      if (field.is_string()) {  // tolerated: "2" from int-or-string habits
        std::string_view text;
        if (auto code = field.get_string().get(text)) return within("overQuotaWeight", fail(code));
        auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), weight);
        if (ec != std::errc() || end != text.data() + text.size()) {
          return within("overQuotaWeight", fail(fmt::format("\"{}\" is not a number", text)));
        }
      } else if (R r = read_double(field, weight); !r) {
        return within("overQuotaWeight", std::move(r));
      }
      if (!(weight >= 0) || !std::isfinite(weight)) {
        return within("overQuotaWeight", fail(fmt::format("{} must be >= 0", weight)));
      }
      out.over_quota_weight = weight;
      return {};
    }
    return {};
  });
}

// metav1.LabelSelector. In/NotIn need values, Exists/DoesNotExist take none (as the API server
// validates it).
R read_label_selector(dom::element value, LabelSelector& out) {
  return for_each_field(value, [&](std::string_view key, dom::element field) -> R {
    if (key == "matchLabels")
      return within("matchLabels", read_string_map(field, out.match_labels));
    if (!(key == "matchExpressions")) return {};
    return within(
        "matchExpressions", for_each_element(field, [&](size_t i, dom::element element) -> R {
          LabelSelectorRequirement& requirement = out.match_expressions.emplace_back();
          std::string op;
          R r = for_each_field(element, [&](std::string_view k2, dom::element v) -> R {
            if (k2 == "key") return within("key", read_string(v, requirement.key));
            if (k2 == "operator") return within("operator", read_string(v, op));
            if (k2 == "values") {
              return within("values", for_each_element(v, [&](size_t j, dom::element e) -> R {
                              return within_index(
                                  "", j, read_string(e, requirement.values.emplace_back()));
                            }));
            }
            return {};
          });
          using Op = LabelSelectorRequirement::Operator;
          if (r && requirement.key.empty()) r = within("key", fail("required"));
          if (r) {
            if (op == "In") {
              requirement.op = Op::kIn;
            } else if (op == "NotIn") {
              requirement.op = Op::kNotIn;
            } else if (op == "Exists") {
              requirement.op = Op::kExists;
            } else if (op == "DoesNotExist") {
              requirement.op = Op::kDoesNotExist;
            } else {
              r = within("operator", fail(fmt::format("unknown operator \"{}\"", op)));
            }
          }
          const bool needs_values = op == "In" || op == "NotIn";
          if (r && needs_values == requirement.values.empty()) {
            r = within("values", fail(needs_values ? "required for In and NotIn"
                                                   : "must be empty for Exists and DoesNotExist"));
          }
          return within_index("", i, std::move(r));
        }));
  });
}

R read_queue_spec(dom::element value, QueueSpec& queue) {
  return for_each_field(value, [&](std::string_view key, dom::element field) -> R {
    if (key == "parent") return within("parent", read_string(field, queue.parent));
    if (key == "priority") {
      if (is_null(field)) return {};
      return within("priority", read_int32(field, queue.priority));
    }
    if (key == "resources") {
      return within("resources",
                    for_each_field(field, [&](std::string_view name, dom::element entry) -> R {
                      QueueResourceSpec spec;
                      if (R r = read_queue_resource(entry, name, spec); !r) {
                        return within(name, std::move(r));
                      }
                      queue.resources.insert_or_assign(std::string(name), spec);
                      return {};
                    }));
    }
    if (key == "preemptMinRuntime") {
      return within("preemptMinRuntime",
                    read_duration_seconds(field, queue.preempt_min_runtime_seconds));
    }
    if (key == "reclaimMinRuntime") {
      return within("reclaimMinRuntime",
                    read_duration_seconds(field, queue.reclaim_min_runtime_seconds));
    }
    if (key == "namespaceSelector") {
      if (is_null(field)) return {};
      // A selector that cannot be read closes the queue (matches no namespace) rather than
      // failing the whole Queue: its quotas still count, and the reason is in every message.
      LabelSelector& selector = queue.namespace_selector.emplace();
      if (R r = within("namespaceSelector", read_label_selector(field, selector)); !r) {
        selector = LabelSelector{};
        selector.invalid = "spec." + describe(r.error());
      }
      return {};
    }
    return {};
  });
}

// status.usage, as fairway writes it: {time: RFC 3339, shares: {RESOURCE: "0.1250"}}. Only a
// whole, well-formed record is kept: a partial one would restart some resources' history.
R read_past_usage(dom::element value, std::optional<PastUsage>& out) {
  PastUsage usage;
  bool timed = false;
  R r = for_each_field(value, [&](std::string_view key, dom::element field) -> R {
    if (key == "time") {
      std::string text;
      if (R t = read_string(field, text); !t) return within("time", std::move(t));
      auto at = parse_rfc3339_ms(text);
      if (!at) return within("time", fail(at.error()));
      usage.at_ms = *at;
      timed = true;
      return {};
    }
    if (key == "shares") {
      Labels shares;
      if (R m = read_string_map(field, shares); !m) return within("shares", std::move(m));
      for (const auto& [resource, text] : shares) {
        const auto share = parse_usage_share(text);
        if (!share) return within("shares", within(resource, fail("not a share: " + text)));
        usage.shares.emplace(resource, *share);
      }
    }
    return {};
  });
  if (r && timed) out = std::move(usage);
  return r;
}

// ---- PodGroup, Topology -------------------------------------------------------------------

R read_topology_constraint(dom::element value, TopologyConstraint& tc) {
  return for_each_field(value, [&](std::string_view key, dom::element field) -> R {
    if (key == "topology") return within("topology", read_string(field, tc.topology));
    // KAI spells the levels requiredTopologyLevel / preferredTopologyLevel.
    if (key == "requiredLevel" || key == "requiredTopologyLevel") {
      return within(key, read_string(field, tc.required_level));
    }
    if (key == "preferredLevel" || key == "preferredTopologyLevel") {
      return within(key, read_string(field, tc.preferred_level));
    }
    return {};
  });
}

// The upstream PodGroup's policy: gang {minCount} is all-or-nothing; basic is pods on their own.
R read_scheduling_policy(dom::element value, int32_t& min_member) {
  return for_each_field(value, [&](std::string_view key, dom::element field) -> R {
    if (key == "basic" && !is_null(field)) min_member = 1;
    if (key != "gang" || is_null(field)) return {};
    return within("gang", for_each_field(field, [&](std::string_view k2, dom::element v) -> R {
                    if (k2 != "minCount") return {};
                    R r = read_int32(v, min_member);
                    if (r && min_member < 1) r = fail(fmt::format("{} must be >= 1", min_member));
                    return within("minCount", std::move(r));
                  }));
  });
}

// ---- Workloads (owner inference, scheduler/state/gangs.h) ------------------------------------

R read_optional_int32(dom::element value, std::optional<int32_t>& out) {
  if (is_null(value)) return {};
  int32_t v = 0;
  R r = read_int32(value, v);
  if (r && v < 0) return fail(fmt::format("{} must be >= 0", v));
  if (r) out = v;
  return r;
}

// A JobSet replicatedJob: {name, replicas, template: {spec: {parallelism, completions}}}.
R read_replicated_job(dom::element value, WorkloadPart& part) {
  std::optional<int32_t> replicas, parallelism, completions;
  R r = for_each_field(value, [&](std::string_view key, dom::element field) -> R {
    if (key == "name") return within("name", read_string(field, part.name));
    if (key == "replicas") return within("replicas", read_optional_int32(field, replicas));
    if (key != "template") return {};
    return within("template", for_each_field(field, [&](std::string_view k2, dom::element v) -> R {
                    if (k2 != "spec") return {};
                    return within(
                        "spec", for_each_field(v, [&](std::string_view k3, dom::element w) -> R {
                          if (k3 == "parallelism") {
                            return within("parallelism", read_optional_int32(w, parallelism));
                          }
                          if (k3 == "completions") {
                            return within("completions", read_optional_int32(w, completions));
                          }
                          return {};
                        }));
                  }));
  });
  part.replicas = replicas.value_or(1);
  part.pods_each = parallelism.value_or(1);
  if (completions) part.pods_each = std::min(part.pods_each, *completions);
  return r;
}

R read_workload_spec(dom::element value, Workload& w) {
  return for_each_field(value, [&](std::string_view key, dom::element field) -> R {
    if (key == "replicas") return within("replicas", read_optional_int32(field, w.replicas));
    if (key == "parallelism")
      return within("parallelism", read_optional_int32(field, w.parallelism));
    if (key == "completions")
      return within("completions", read_optional_int32(field, w.completions));
    if (key == "completionMode") {
      std::string mode;
      R r = within("completionMode", read_string(field, mode));
      w.indexed = mode == "Indexed";
      return r;
    }
    if (key == "runPolicy") {  // Kubeflow: runPolicy.schedulingPolicy.minAvailable
      return within(
          "runPolicy", for_each_field(field, [&](std::string_view k2, dom::element v) -> R {
            if (k2 != "schedulingPolicy") return {};
            return within("schedulingPolicy",
                          for_each_field(v, [&](std::string_view k3, dom::element m) -> R {
                            if (k3 != "minAvailable") return {};
                            return within("minAvailable", read_optional_int32(m, w.min_available));
                          }));
          }));
    }
    if (key.ends_with("ReplicaSpecs")) {  // Kubeflow: pytorchReplicaSpecs: {Master: {...}}
      return within(key, for_each_field(field, [&](std::string_view name, dom::element spec) -> R {
                      WorkloadPart& part = w.parts.emplace_back();
                      part.name = std::string(name);
                      std::optional<int32_t> replicas;
                      R r = for_each_field(spec, [&](std::string_view k2, dom::element v) -> R {
                        if (k2 != "replicas") return {};
                        return within("replicas", read_optional_int32(v, replicas));
                      });
                      part.replicas = replicas.value_or(1);
                      return within(name, std::move(r));
                    }));
    }
    if (key == "replicatedJobs") {  // JobSet
      return within("replicatedJobs", for_each_element(field, [&](size_t i, dom::element e) -> R {
                      return within_index("", i, read_replicated_job(e, w.parts.emplace_back()));
                    }));
    }
    if (key == "leaderWorkerTemplate") {  // LeaderWorkerSet: the group size
      return within("leaderWorkerTemplate",
                    for_each_field(field, [&](std::string_view k2, dom::element v) -> R {
                      if (k2 != "size") return {};
                      return within("size", read_optional_int32(v, w.group_size));
                    }));
    }
    if (key == "headGroupSpec") {  // RayCluster: one head
      w.parts.push_back({.name = "head", .replicas = 1, .pods_each = 1, .min_replicas = 1});
      return {};
    }
    if (key == "workerGroupSpecs") {  // RayCluster: minReplicas of each group are in the gang
      return within("workerGroupSpecs", for_each_element(field, [&](size_t i, dom::element e) -> R {
                      WorkloadPart& part = w.parts.emplace_back();
                      std::optional<int32_t> replicas, min_replicas;
                      R r = for_each_field(e, [&](std::string_view k2, dom::element v) -> R {
                        if (k2 == "groupName")
                          return within("groupName", read_string(v, part.name));
                        if (k2 == "replicas")
                          return within("replicas", read_optional_int32(v, replicas));
                        if (k2 == "minReplicas") {
                          return within("minReplicas", read_optional_int32(v, min_replicas));
                        }
                        return {};
                      });
                      part.replicas = replicas.value_or(0);
                      part.min_replicas = min_replicas.value_or(0);
                      return within_index("", i, std::move(r));
                    }));
    }
    return {};
  });
}

// spec.subGroups[]: flat subgroups (no `parent`), each with a unique name and minMember >= 1,
// checked as KAI Scheduler's PodGroup webhook does. The sum of the subgroups' minimums may exceed
// the gang's minMember: both must hold (docs/scheduling.md).
R read_sub_groups(dom::element value, std::vector<SubGroup>& out) {
  reserve_for(value, out);
  return for_each_element(value, [&](size_t i, dom::element element) -> R {
    SubGroup& subgroup = out.emplace_back();
    bool has_min = false;
    R r = for_each_field(element, [&](std::string_view key, dom::element field) -> R {
      if (key == "name") return within("name", read_string(field, subgroup.name));
      if (key == "minMember") {
        if (is_null(field)) return {};
        has_min = true;
        R m = read_int32(field, subgroup.min_member);
        if (m && subgroup.min_member < 1) {
          m = fail(fmt::format("Invalid value: {}: must be greater than or equal to 1",
                               subgroup.min_member));
        }
        return within("minMember", std::move(m));
      }
      if (key == "topologyConstraint") {
        return within("topologyConstraint",
                      read_topology_constraint(field, subgroup.topology_constraint));
      }
      if (key == "parent" && !is_null(field)) {
        return within("parent", fail("Unsupported value: nested subgroups are not supported; "
                                     "subgroups must be flat"));
      }
      return {};
    });
    if (r && subgroup.name.empty()) r = within("name", fail("Required value"));
    if (r && !has_min) r = within("minMember", fail("Required value"));
    for (size_t k = 0; r && k + 1 < out.size(); ++k) {
      if (out[k].name == subgroup.name) {
        r = within("name", fail(fmt::format("Duplicate value: \"{}\"", subgroup.name)));
      }
    }
    return within_index("", i, std::move(r));
  });
}

R read_pod_group_spec(dom::element value, PodGroup& group) {
  return for_each_field(value, [&](std::string_view key, dom::element field) -> R {
    if (key == "minMember") {
      if (is_null(field)) return {};
      R r = read_int32(field, group.min_member);
      if (r && group.min_member < 0) r = fail(fmt::format("{} must be >= 0", group.min_member));
      return within("minMember", std::move(r));
    }
    if (key == "queue") return within("queue", read_string(field, group.queue));
    if (key == "priorityClassName") {
      return within("priorityClassName", read_string(field, group.priority_class_name));
    }
    if (key == "scheduleTimeoutSeconds") {
      if (is_null(field)) return {};
      int64_t seconds = 0;
      if (R r = read_int64(field, seconds); !r)
        return within("scheduleTimeoutSeconds", std::move(r));
      group.schedule_timeout_seconds = seconds;
      return {};
    }
    if (key == "schedulingPolicy") {  // scheduling.k8s.io/v1alpha2: gang.minCount or basic
      return within("schedulingPolicy", read_scheduling_policy(field, group.min_member));
    }
    if (key == "topologyConstraint") {
      return within("topologyConstraint",
                    read_topology_constraint(field, group.topology_constraint));
    }
    // fairway's and KAI's: [{name, minMember, topologyConstraint}].
    if (key == "subGroups") return within("subGroups", read_sub_groups(field, group.subgroups));
    return {};
  });
}

R read_topology_spec(dom::element value, TopologySpec& topology) {
  return for_each_field(value, [&](std::string_view key, dom::element field) -> R {
    if (!(key == "levels")) return {};
    reserve_for(field, topology.levels);
    return within("levels", for_each_element(field, [&](size_t i, dom::element element) -> R {
                    TopologyLevel& level = topology.levels.emplace_back();
                    R r = for_each_field(element, [&](std::string_view k2, dom::element v) -> R {
                      if (k2 == "nodeLabel")
                        return within("nodeLabel", read_string(v, level.node_label));
                      if (k2 == "bandwidthGBps") {
                        if (is_null(v)) return {};
                        double gbps = 0;
                        if (R rr = read_double(v, gbps); !rr)
                          return within("bandwidthGBps", std::move(rr));
                        level.bandwidth_gbps = gbps;
                      }
                      return {};
                    });
                    if (r && level.node_label.empty()) r = within("nodeLabel", fail("required"));
                    return within_index("", i, std::move(r));
                  }));
  });
}

// ---- Per-kind top level -------------------------------------------------------------------

template <typename T>
struct Codec;

template <>
struct Codec<Pod> {
  static R decode(dom::object object, Decoded<Pod>& out) {
    Pod& pod = out.object;
    MetaSink sink{&pod.labels, &pod.annotations, &pod.creation_ms, &pod.deleting, &pod.owner};
    R r = for_each_field(object, [&](std::string_view key, dom::element field) -> R {
      if (key == "metadata") return within("metadata", read_meta(field, out.meta, sink));
      if (key == "spec") return within("spec", read_pod_spec(field, pod));
      if (key == "status") return within("status", read_pod_status(field, pod));
      return {};
    });
    pod.namespace_ = out.meta.namespace_;
    pod.name = out.meta.name;
    pod.uid = out.meta.uid;
    // Its subgroup of its gang (docs/scheduling.md); KAI Scheduler's label too.
    for (std::string_view key : {kLabelSubgroup, kKaiLabelSubgroup}) {
      if (auto it = pod.labels.find(std::string(key));
          it != pod.labels.end() && !it->second.empty()) {
        pod.subgroup = it->second;
        break;
      }
    }
    // Generic ephemeral volumes: the claim the controller creates is "<pod>-<volume>".
    for (PodVolumeClaim& claim : pod.volume_claims) {
      if (claim.ephemeral) claim.claim_name = pod.name + "-" + claim.claim_name;
    }
    return r;
  }
};

template <>
struct Codec<Node> {
  static R decode(dom::object object, Decoded<Node>& out) {
    Node& node = out.object;
    MetaSink sink{&node.labels, &node.annotations, nullptr, nullptr};
    R r = for_each_field(object, [&](std::string_view key, dom::element field) -> R {
      if (key == "metadata") return within("metadata", read_meta(field, out.meta, sink));
      if (key == "spec") return within("spec", read_node_spec(field, node));
      if (key == "status") return within("status", read_node_status(field, node));
      return {};
    });
    node.name = out.meta.name;
    node.uid = out.meta.uid;
    return r;
  }
};

template <>
struct Codec<QueueSpec> {
  static R decode(dom::object object, Decoded<QueueSpec>& out) {
    R r = for_each_field(object, [&](std::string_view key, dom::element field) -> R {
      if (key == "metadata") return within("metadata", read_meta(field, out.meta, {}));
      if (key == "spec") {
        // A spec that cannot be read still names a queue: it is kept with the problem, so the
        // Queue gets Valid=False/InvalidSpec and its pods say why, instead of vanishing.
        if (R spec = within("spec", read_queue_spec(field, out.object)); !spec) {
          out.object.problems.push_back(describe(spec.error()));
        }
        return {};
      }
      if (key == "status" && !is_null(field)) {
        // fairway's own record; one it cannot read starts the queue's history afresh.
        (void)for_each_field(field, [&](std::string_view status_key, dom::element value) -> R {
          if (status_key == "usage" && !is_null(value)) {
            (void)read_past_usage(value, out.object.past_usage);
          }
          return {};
        });
      }
      return {};
    });
    out.object.name = out.meta.name;
    return r;
  }
};

template <>
struct Codec<PodGroup> {
  static R decode(dom::object object, Decoded<PodGroup>& out) {
    PodGroup& group = out.object;
    MetaSink sink{nullptr, nullptr, &group.creation_ms, nullptr};
    R r = for_each_field(object, [&](std::string_view key, dom::element field) -> R {
      if (key == "metadata") return within("metadata", read_meta(field, out.meta, sink));
      if (key == "spec") {
        // Kept with the problem (its gang then says why it waits) rather than dropped.
        if (R spec = within("spec", read_pod_group_spec(field, group)); !spec) {
          group.problems.push_back(describe(spec.error()));
        }
        return {};
      }
      return {};
    });
    group.namespace_ = out.meta.namespace_;
    group.name = out.meta.name;
    return r;
  }
};

template <>
struct Codec<Workload> {
  static R decode(dom::object object, Decoded<Workload>& out) {
    Workload& w = out.object;
    MetaSink sink{&w.labels, &w.annotations, nullptr, nullptr, &w.owner};
    R r = for_each_field(object, [&](std::string_view key, dom::element field) -> R {
      if (key == "apiVersion") return within("apiVersion", read_string(field, w.api_version));
      if (key == "kind") return within("kind", read_string(field, w.kind));
      if (key == "metadata") return within("metadata", read_meta(field, out.meta, sink));
      if (key == "spec") {
        // Kept with the problem: its pods then fall back to the defaults rather than wait
        // forever for a workload fairway cannot read.
        if (R spec = within("spec", read_workload_spec(field, w)); !spec) {
          w.problems.push_back(describe(spec.error()));
        }
        return {};
      }
      return {};
    });
    // Only the gang and topology keys of the annotations matter (scheduler/state/gangs.h); the
    // rest would cost memory per workload.
    erase_if(w.annotations, [](const auto& entry) {
      return entry.first != "fairway.dev/gang" &&
             !entry.first.starts_with("fairway.dev/topology") &&
             !entry.first.starts_with("fairway.dev/subgroup-topology");
    });
    w.namespace_ = out.meta.namespace_;
    w.name = out.meta.name;
    w.uid = out.meta.uid;
    return r;
  }
};

// Kubernetes 1.35's scheduling.k8s.io/v1alpha1 Workload: spec.podGroups[] {name, policy}. Each
// pod group becomes an upstream PodGroup "<workload>#<name>" (model.h UpstreamWorkload).
template <>
struct Codec<UpstreamWorkload> {
  static R read_pod_groups(dom::element value, UpstreamWorkload& w) {
    return for_each_element(value, [&](size_t i, dom::element element) -> R {
      PodGroup group;
      std::string name;
      R r = for_each_field(element, [&](std::string_view key, dom::element field) -> R {
        if (key == "name") return within("name", read_string(field, name));
        if (key == "policy")
          return within("policy", read_scheduling_policy(field, group.min_member));
        return {};
      });
      if (r && name.empty()) r = within("name", fail("Required value"));
      if (r) {
        group.name = std::move(name);
        w.pod_groups.push_back(std::move(group));
      }
      return within_index("", i, std::move(r));
    });
  }
  static R decode(dom::object object, Decoded<UpstreamWorkload>& out) {
    UpstreamWorkload& w = out.object;
    TimeMs creation_ms = 0;
    MetaSink sink{nullptr, nullptr, &creation_ms, nullptr};
    R r = for_each_field(object, [&](std::string_view key, dom::element field) -> R {
      if (key == "metadata") return within("metadata", read_meta(field, out.meta, sink));
      if (key != "spec") return {};
      return within("spec", for_each_field(field, [&](std::string_view k2, dom::element v) -> R {
                      if (k2 != "podGroups") return {};
                      return within("podGroups", read_pod_groups(v, w));
                    }));
    });
    w.namespace_ = out.meta.namespace_;
    w.name = out.meta.name;
    for (PodGroup& group : w.pod_groups) {
      group.namespace_ = w.namespace_;
      group.name = w.name + "#" + group.name;
      group.creation_ms = creation_ms;
    }
    return r;
  }
};

template <>
struct Codec<TopologySpec> {
  static R decode(dom::object object, Decoded<TopologySpec>& out) {
    R r = for_each_field(object, [&](std::string_view key, dom::element field) -> R {
      if (key == "metadata") return within("metadata", read_meta(field, out.meta, {}));
      if (key == "spec") return within("spec", read_topology_spec(field, out.object));
      return {};
    });
    out.object.name = out.meta.name;
    return r;
  }
};

template <>
struct Codec<PriorityClass> {
  static R decode(dom::object object, Decoded<PriorityClass>& out) {
    PriorityClass& pc = out.object;
    R r = for_each_field(object, [&](std::string_view key, dom::element field) -> R {
      if (key == "metadata") return within("metadata", read_meta(field, out.meta, {}));
      if (key == "value") return within("value", read_int32(field, pc.value));
      if (key == "globalDefault")
        return within("globalDefault", read_bool(field, pc.global_default));
      if (key == "preemptionPolicy") {
        return within("preemptionPolicy", read_string(field, pc.preemption_policy));
      }
      return {};
    });
    pc.name = out.meta.name;
    return r;
  }
};

template <>
struct Codec<Namespace> {
  static R decode(dom::object object, Decoded<Namespace>& out) {
    MetaSink sink{&out.object.labels, nullptr, nullptr, nullptr};
    R r = for_each_field(object, [&](std::string_view key, dom::element field) -> R {
      if (key == "metadata") return within("metadata", read_meta(field, out.meta, sink));
      return {};
    });
    out.object.name = out.meta.name;
    return r;
  }
};

// ---- Storage: PersistentVolume, PersistentVolumeClaim, StorageClass, CSINode ---------------

R read_access_modes(dom::element value, AccessModes& out) {
  return for_each_element(value, [&](size_t i, dom::element element) -> R {
    std::string_view mode;
    if (auto code = element.get_string().get(mode)) return within_index("", i, fail(code));
    if (mode == "ReadWriteOnce") {
      out |= static_cast<AccessModes>(AccessMode::kReadWriteOnce);
    } else if (mode == "ReadOnlyMany") {
      out |= static_cast<AccessModes>(AccessMode::kReadOnlyMany);
    } else if (mode == "ReadWriteMany") {
      out |= static_cast<AccessModes>(AccessMode::kReadWriteMany);
    } else if (mode == "ReadWriteOncePod") {
      out |= static_cast<AccessModes>(AccessMode::kReadWriteOncePod);
    } else {
      return within_index("", i, fail(fmt::format("unknown access mode \"{}\"", mode)));
    }
    return {};
  });
}

// A resource list of which only "storage" matters (PV capacity, PVC requests), in bytes.
R read_storage_quantity(dom::element value, int64_t& bytes) {
  return for_each_field(value, [&](std::string_view key, dom::element field) -> R {
    if (!(key == "storage")) return {};
    return within("storage", read_quantity(field, "storage", bytes));
  });
}

R read_phase(dom::element value, std::string& phase) {
  return for_each_field(value, [&](std::string_view key, dom::element field) -> R {
    if (key == "phase") return within("phase", read_string(field, phase));
    return {};
  });
}

R read_persistent_volume_spec(dom::element value, PersistentVolume& pv) {
  return for_each_field(value, [&](std::string_view key, dom::element field) -> R {
    if (key == "storageClassName") {
      return within("storageClassName", read_string(field, pv.storage_class));
    }
    if (key == "capacity")
      return within("capacity", read_storage_quantity(field, pv.capacity_bytes));
    if (key == "accessModes")
      return within("accessModes", read_access_modes(field, pv.access_modes));
    if (key == "nodeAffinity") {
      return within("nodeAffinity",
                    for_each_field(field, [&](std::string_view k2, dom::element v) -> R {
                      if (k2 == "required")
                        return within("required", read_node_selector(v, pv.node_affinity));
                      return {};
                    }));
    }
    if (key == "claimRef") {
      return within("claimRef",
                    for_each_field(field, [&](std::string_view k2, dom::element v) -> R {
                      if (k2 == "namespace")
                        return within("namespace", read_string(v, pv.claim_namespace));
                      if (k2 == "name") return within("name", read_string(v, pv.claim_name));
                      if (k2 == "uid") return within("uid", read_string(v, pv.claim_uid));
                      return {};
                    }));
    }
    if (key == "csi") {
      return within("csi", for_each_field(field, [&](std::string_view k2, dom::element v) -> R {
                      if (k2 == "driver") return within("driver", read_string(v, pv.csi_driver));
                      return {};
                    }));
    }
    return {};
  });
}

R read_persistent_volume_claim_spec(dom::element value, PersistentVolumeClaim& pvc) {
  return for_each_field(value, [&](std::string_view key, dom::element field) -> R {
    if (key == "storageClassName") {
      // Absent or null: the default class; "": no class (only volumes without one).
      if (is_null(field)) return {};
      return within("storageClassName", read_string(field, pvc.storage_class.emplace()));
    }
    if (key == "volumeName") return within("volumeName", read_string(field, pvc.volume_name));
    if (key == "accessModes")
      return within("accessModes", read_access_modes(field, pvc.access_modes));
    if (key == "resources") {
      return within("resources",
                    for_each_field(field, [&](std::string_view k2, dom::element v) -> R {
                      if (k2 == "requests")
                        return within("requests", read_storage_quantity(v, pvc.request_bytes));
                      return {};
                    }));
    }
    if (key == "selector") return within("selector", read_optional_selector(field, pvc.selector));
    return {};
  });
}

// metadata.ownerReferences: the controller's kind and uid.
R read_controller_owner(dom::element metadata, std::string& kind, std::string& uid) {
  return for_each_field(metadata, [&](std::string_view key, dom::element field) -> R {
    if (!(key == "ownerReferences")) return {};
    return within("ownerReferences",
                  for_each_element(field, [&](size_t i, dom::element element) -> R {
                    bool controller = false;
                    std::string owner_kind;
                    std::string owner_uid;
                    R r = for_each_field(element, [&](std::string_view k2, dom::element v) -> R {
                      if (k2 == "controller") return within("controller", read_bool(v, controller));
                      if (k2 == "kind") return within("kind", read_string(v, owner_kind));
                      if (k2 == "uid") return within("uid", read_string(v, owner_uid));
                      return {};
                    });
                    if (!r) return within_index("", i, std::move(r));
                    if (controller) {
                      kind = std::move(owner_kind);
                      uid = std::move(owner_uid);
                    }
                    return {};
                  }));
  });
}

R read_allowed_topologies(dom::element value, std::vector<NodeSelectorTerm>& out) {
  reserve_for(value, out);
  return for_each_element(value, [&](size_t i, dom::element element) -> R {
    NodeSelectorTerm& term = out.emplace_back();
    return within_index(
        "", i, for_each_field(element, [&](std::string_view key, dom::element field) -> R {
          if (!(key == "matchLabelExpressions")) return {};
          reserve_for(field, term.match_expressions);
          return within(
              "matchLabelExpressions", for_each_element(field, [&](size_t j, dom::element e) -> R {
                NodeSelectorRequirement& requirement = term.match_expressions.emplace_back();
                requirement.op = NodeSelectorRequirement::Operator::kIn;
                return within_index(
                    "", j, for_each_field(e, [&](std::string_view k2, dom::element v) -> R {
                      if (k2 == "key") return within("key", read_string(v, requirement.key));
                      if (k2 == "values")
                        return within("values", read_string_list(v, requirement.values));
                      return {};
                    }));
              }));
        }));
  });
}

R read_csi_node_spec(dom::element value, CsiNode& node) {
  return for_each_field(value, [&](std::string_view key, dom::element field) -> R {
    if (!(key == "drivers")) return {};
    return within("drivers", for_each_element(field, [&](size_t i, dom::element element) -> R {
                    std::string name;
                    std::optional<int64_t> count;
                    R r = for_each_field(element, [&](std::string_view k2, dom::element v) -> R {
                      if (k2 == "name") return within("name", read_string(v, name));
                      if (k2 == "allocatable") {
                        return within(
                            "allocatable",
                            for_each_field(v, [&](std::string_view k3, dom::element c) -> R {
                              if (!(k3 == "count") || is_null(c)) return {};
                              int64_t n = 0;
                              R rr = read_int64(c, n);
                              if (rr) count = n;
                              return within("count", std::move(rr));
                            }));
                      }
                      return {};
                    });
                    if (r && name.empty()) r = within("name", fail("required"));
                    if (!r) return within_index("", i, std::move(r));
                    // No allocatable count: the driver sets no limit.
                    if (count) node.attach_limits.insert_or_assign(std::move(name), *count);
                    return {};
                  }));
  });
}

template <>
struct Codec<PersistentVolume> {
  static R decode(dom::object object, Decoded<PersistentVolume>& out) {
    PersistentVolume& pv = out.object;
    MetaSink sink{&pv.labels, nullptr, nullptr, &pv.deleting};
    R r = for_each_field(object, [&](std::string_view key, dom::element field) -> R {
      if (key == "metadata") return within("metadata", read_meta(field, out.meta, sink));
      if (key == "spec") return within("spec", read_persistent_volume_spec(field, pv));
      if (key == "status") return within("status", read_phase(field, pv.phase));
      return {};
    });
    pv.name = out.meta.name;
    return r;
  }
};

template <>
struct Codec<PersistentVolumeClaim> {
  static R decode(dom::object object, Decoded<PersistentVolumeClaim>& out) {
    PersistentVolumeClaim& pvc = out.object;
    MetaSink sink{nullptr, &pvc.annotations, nullptr, &pvc.deleting};
    R r = for_each_field(object, [&](std::string_view key, dom::element field) -> R {
      if (key == "metadata") {
        if (R meta = read_meta(field, out.meta, sink); !meta)
          return within("metadata", std::move(meta));
        return within("metadata", read_controller_owner(field, pvc.owner_kind, pvc.owner_uid));
      }
      if (key == "spec") return within("spec", read_persistent_volume_claim_spec(field, pvc));
      if (key == "status") return within("status", read_phase(field, pvc.phase));
      return {};
    });
    pvc.namespace_ = out.meta.namespace_;
    pvc.name = out.meta.name;
    pvc.uid = out.meta.uid;
    return r;
  }
};

template <>
struct Codec<StorageClass> {
  static R decode(dom::object object, Decoded<StorageClass>& out) {
    StorageClass& sc = out.object;
    Labels annotations;
    MetaSink sink{nullptr, &annotations, nullptr, nullptr};
    R r = for_each_field(object, [&](std::string_view key, dom::element field) -> R {
      if (key == "metadata") return within("metadata", read_meta(field, out.meta, sink));
      if (key == "provisioner") return within("provisioner", read_string(field, sc.provisioner));
      if (key == "volumeBindingMode") {
        std::string mode;
        R rr = read_string(field, mode);
        sc.wait_for_first_consumer = mode == "WaitForFirstConsumer";
        return within("volumeBindingMode", std::move(rr));
      }
      if (key == "allowedTopologies") {
        return within("allowedTopologies", read_allowed_topologies(field, sc.allowed_topologies));
      }
      return {};
    });
    sc.name = out.meta.name;
    const auto it = annotations.find("storageclass.kubernetes.io/is-default-class");
    sc.is_default = it != annotations.end() && it->second == "true";
    return r;
  }
};

template <>
struct Codec<CsiNode> {
  static R decode(dom::object object, Decoded<CsiNode>& out) {
    R r = for_each_field(object, [&](std::string_view key, dom::element field) -> R {
      if (key == "metadata") return within("metadata", read_meta(field, out.meta, {}));
      if (key == "spec") return within("spec", read_csi_node_spec(field, out.object));
      return {};
    });
    out.object.name = out.meta.name;
    return r;
  }
};

// ---- Dynamic Resource Allocation (dra_objects.h) -------------------------------------------

// The metadata from the tape, as for every kind (a bad object is still named by its key); the
// object itself as text to scheduler/dra's decoder.
template <typename T>
struct DraCodec {
  static R decode(dom::object object, Decoded<T>& out) {
    R r = for_each_field(object, [&](std::string_view key, dom::element field) -> R {
      if (key == "metadata") return within("metadata", read_meta(field, out.meta, {}));
      return {};
    });
    if (!r) return r;
    if (std::string error = detail::decode_dra_text(simdjson::minify(object), out);
        !error.empty()) {
      return fail(std::move(error));
    }
    return {};
  }
};
template <>
struct Codec<dra::ResourceSlice> : DraCodec<dra::ResourceSlice> {};
template <>
struct Codec<dra::DeviceClass> : DraCodec<dra::DeviceClass> {};
template <>
struct Codec<dra::ResourceClaim> : DraCodec<dra::ResourceClaim> {};
template <>
struct Codec<dra::ResourceClaimTemplate> : DraCodec<dra::ResourceClaimTemplate> {};

// ---- Documents ----------------------------------------------------------------------------

// simdjson reads up to SIMDJSON_PADDING bytes past the end of its input, so input is copied
// into a padded buffer owned by the thread (a memcpy is ~1% of the decode). Two contexts: the
// envelope of a list or watch event and, for caller-provided item decoders, the items decoded
// inside it (a DOM element is only valid until its parser parses again).
//
// Why the DOM API and not On-Demand: On-Demand is header-only and compiled for the build's
// target ISA (baseline x86-64 here, i.e. its scalar fallback), while the DOM parser in
// libsimdjson picks AVX2/AVX-512 kernels at run time. The tape walk afterwards is cheap.
static_assert(kListPadding == simdjson::SIMDJSON_PADDING);

struct ParseContext {
  dom::parser parser;
  std::vector<char> buffer;

  tl::expected<dom::element, std::string> parse(std::string_view json) {
    // Large LIST bodies would otherwise pin hundreds of MB per thread after the first sync.
    constexpr size_t kKeepBytes = size_t{64} << 20;
    if (buffer.capacity() > kKeepBytes && json.size() + simdjson::SIMDJSON_PADDING < kKeepBytes) {
      std::vector<char>().swap(buffer);
      parser = dom::parser{};
    }
    buffer.resize(json.size() + simdjson::SIMDJSON_PADDING);
    std::memcpy(buffer.data(), json.data(), json.size());
    std::memset(buffer.data() + json.size(), 0, simdjson::SIMDJSON_PADDING);
    dom::element root;
    if (auto code = parser.parse(buffer.data(), json.size(), false).get(root)) {
      return tl::unexpected(std::string(simdjson::error_message(code)));
    }
    return root;
  }

  // Parses a caller-owned body in place: simdjson only needs SIMDJSON_PADDING readable bytes past
  // the end, which the string provides by growing into its spare capacity (no copy when the
  // capacity is already there, as for RestClient's bodies). The body is left as it was. DOM
  // strings live in the parser's own buffer, so nothing decoded points into the body.
  tl::expected<dom::element, std::string> parse_in_place(std::string& json) {
    const size_t size = json.size();
    json.resize(size + simdjson::SIMDJSON_PADDING, '\0');
    dom::element root;
    const auto code = parser.parse(json.data(), size, false).get(root);
    json.resize(size);
    if (code) return tl::unexpected(std::string(simdjson::error_message(code)));
    return root;
  }
};

ParseContext& object_context() {
  thread_local ParseContext context;
  return context;
}
ParseContext& envelope_context() {
  thread_local ParseContext context;
  return context;
}

template <typename T>
tl::expected<Decoded<T>, std::string> decode_element(dom::element value) {
  dom::object object;
  if (auto code = value.get_object().get(object)) {
    return tl::unexpected(std::string(simdjson::error_message(code)));
  }
  Decoded<T> out;
  if (R r = Codec<T>::decode(object, out); !r) return tl::unexpected(describe(r.error()));
  return out;
}

template <typename T>
tl::expected<Decoded<T>, std::string> decode_document(std::string_view json) {
  auto root = object_context().parse(json);
  if (!root) return tl::unexpected(root.error());
  return decode_element<T>(*root);
}

// Decodes one item of a list from the envelope's own tape (fast path) or through a
// caller-provided decoder fed the item's text.
template <typename T>
struct ItemDecoder {
  ObjectDecoder<T> custom = nullptr;

  // Returns the decoded item or fills `error` (with as much of the key as was read).
  // Decodes into `out` (a fresh element of the list, so nothing is moved afterwards); false and
  // `error` filled (with as much of the key as was read) when the item is bad.
  bool operator()(dom::element value, Decoded<T>& out, ItemError& error) const {
    if (custom == nullptr) {
      dom::object object;
      R r =
          value.get_object().get(object) ? R(fail("not an object")) : Codec<T>::decode(object, out);
      if (r) return true;
      error =
          ItemError{out.meta.name.empty() ? std::string() : out.meta.key(), describe(r.error())};
      return false;
    }
    auto decoded = custom(simdjson::minify(value));
    if (decoded) {
      out = std::move(*decoded);
      return true;
    }
    error = ItemError{{}, decoded.error()};
    return false;
  }
};

template <typename T>
tl::expected<DecodedList<T>, std::string> decode_list_root(
    const tl::expected<dom::element, std::string>& root, ItemDecoder<T> item_decoder);

template <typename T>
tl::expected<DecodedList<T>, std::string> decode_list_impl(std::string_view json,
                                                           ItemDecoder<T> item_decoder) {
  // A custom decoder parses each item separately and must not clobber the envelope's parser.
  ParseContext& context = item_decoder.custom ? envelope_context() : object_context();
  return decode_list_root<T>(context.parse(json), item_decoder);
}

template <typename T>
tl::expected<DecodedList<T>, std::string> decode_list_root(
    const tl::expected<dom::element, std::string>& root, ItemDecoder<T> item_decoder) {
  if (!root) return tl::unexpected(root.error());
  dom::object object;
  if (auto code = root->get_object().get(object)) {
    return tl::unexpected(std::string(simdjson::error_message(code)));
  }
  DecodedList<T> out;
  R r = for_each_field(object, [&](std::string_view key, dom::element field) -> R {
    if (key == "metadata") {
      return within("metadata",
                    for_each_field(field, [&](std::string_view k2, dom::element v) -> R {
                      if (k2 == "resourceVersion") {
                        return within("resourceVersion", read_string(v, out.resource_version));
                      }
                      if (k2 == "continue")
                        return within("continue", read_string(v, out.continue_token));
                      return {};
                    }));
    }
    if (key == "items") {
      if (dom::array items; !field.get_array().get(items)) out.items.reserve(items.size());
      return within("items", for_each_element(field, [&](size_t i, dom::element element) -> R {
                      ItemError error;
                      if (!item_decoder(element, out.items.emplace_back(), error)) {
                        out.items.pop_back();
                        error.message = fmt::format("items[{}]: {}", i, error.message);
                        out.errors.push_back(std::move(error));
                      }
                      return {};
                    }));
    }
    return {};
  });
  if (!r) return tl::unexpected(describe(r.error()));
  return out;
}

R read_status(dom::element value, ApiStatus& status) {
  return for_each_field(value, [&](std::string_view key, dom::element field) -> R {
    if (key == "code") {
      int64_t code = 0;
      if (R r = read_int64(field, code); !r) return within("code", std::move(r));
      status.code = static_cast<int>(code);
      return {};
    }
    if (key == "reason") return within("reason", read_string(field, status.reason));
    if (key == "message") return within("message", read_string(field, status.message));
    return {};
  });
}

tl::expected<WatchEventKind, std::string> parse_kind(std::string_view type) {
  if (type == "ADDED") return WatchEventKind::kAdded;
  if (type == "MODIFIED") return WatchEventKind::kModified;
  if (type == "DELETED") return WatchEventKind::kDeleted;
  if (type == "BOOKMARK") return WatchEventKind::kBookmark;
  if (type == "ERROR") return WatchEventKind::kError;
  return tl::unexpected(fmt::format("type: unknown watch event type \"{}\"", type));
}

template <typename T>
tl::expected<WatchEvent<T>, std::string> decode_event_impl(std::string_view json,
                                                           ObjectDecoder<T> custom) {
  ParseContext& context = custom ? envelope_context() : object_context();
  auto root = context.parse(json);
  if (!root) return tl::unexpected(root.error());
  dom::object envelope;
  if (auto code = root->get_object().get(envelope)) {
    return tl::unexpected(std::string(simdjson::error_message(code)));
  }
  std::string_view type;
  if (auto code = envelope["type"].get_string().get(type)) {
    return tl::unexpected(fmt::format("type: {}", simdjson::error_message(code)));
  }
  auto kind = parse_kind(type);
  if (!kind) return tl::unexpected(kind.error());
  dom::element object;
  if (auto code = envelope["object"].get(object)) {
    return tl::unexpected(fmt::format("object: {}", simdjson::error_message(code)));
  }
  WatchEvent<T> event;
  event.kind = *kind;
  if (*kind == WatchEventKind::kError) {
    if (R r = read_status(object, event.status); !r) {
      return tl::unexpected("object." + describe(r.error()));
    }
    return event;
  }
  if (*kind == WatchEventKind::kBookmark) {
    // A bookmark's object carries only metadata.resourceVersion; decoding it as a full T would
    // trip kinds whose spec has required fields.
    R r = for_each_field(object, [&](std::string_view key, dom::element field) -> R {
      if (key == "metadata") return within("metadata", read_meta(field, event.object.meta, {}));
      return {};
    });
    if (!r) return tl::unexpected("object." + describe(r.error()));
    return event;
  }
  if (custom) {
    auto decoded = custom(simdjson::minify(object));
    if (decoded) {
      event.object = std::move(*decoded);
    } else {
      event.object_error = "object: " + decoded.error();
    }
    return event;
  }
  dom::object item;
  if (auto code = object.get_object().get(item)) {
    return tl::unexpected(fmt::format("object: {}", simdjson::error_message(code)));
  }
  if (R r = Codec<T>::decode(item, event.object); !r) {
    event.object_error = "object." + describe(r.error());
  }
  return event;
}

// ---- Time ---------------------------------------------------------------------------------

// Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm).
int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

struct Civil {
  int64_t year;
  unsigned month;
  unsigned day;
};
Civil civil_from_days(int64_t z) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t y = static_cast<int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  return {y + (m <= 2), m, d};
}

bool read_digits(std::string_view text, size_t& pos, size_t count, int& out) {
  if (pos + count > text.size()) return false;
  out = 0;
  for (size_t i = 0; i < count; ++i) {
    const char c = text[pos + i];
    if (c < '0' || c > '9') return false;
    out = out * 10 + (c - '0');
  }
  pos += count;
  return true;
}

}  // namespace

// ---- Public API ---------------------------------------------------------------------------

tl::expected<int64_t, std::string> parse_rfc3339_ms(std::string_view text) {
  auto bad = [&](std::string_view why) {
    return tl::unexpected(fmt::format("time \"{}\": {}", text, why));
  };
  size_t pos = 0;
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  if (!read_digits(text, pos, 4, year) || pos >= text.size() || text[pos++] != '-' ||
      !read_digits(text, pos, 2, month) || pos >= text.size() || text[pos++] != '-' ||
      !read_digits(text, pos, 2, day)) {
    return bad("expected YYYY-MM-DD");
  }
  if (pos >= text.size() || (text[pos] != 'T' && text[pos] != 't' && text[pos] != ' ')) {
    return bad("expected 'T' after the date");
  }
  ++pos;
  if (!read_digits(text, pos, 2, hour) || pos >= text.size() || text[pos++] != ':' ||
      !read_digits(text, pos, 2, minute) || pos >= text.size() || text[pos++] != ':' ||
      !read_digits(text, pos, 2, second)) {
    return bad("expected hh:mm:ss");
  }
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) {
    return bad("field out of range");
  }
  int64_t millis = 0;
  if (pos < text.size() && text[pos] == '.') {
    ++pos;
    int64_t scale = 100;
    size_t digits = 0;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
      millis += (text[pos] - '0') * scale;  // digits past milliseconds are truncated
      scale /= 10;
      ++pos;
      ++digits;
    }
    if (digits == 0) return bad("expected digits after '.'");
  }
  int64_t offset_minutes = 0;
  if (pos < text.size() && (text[pos] == 'Z' || text[pos] == 'z')) {
    ++pos;
  } else if (pos < text.size() && (text[pos] == '+' || text[pos] == '-')) {
    const int sign = text[pos] == '-' ? -1 : 1;
    ++pos;
    int oh = 0, om = 0;
    if (!read_digits(text, pos, 2, oh) || pos >= text.size() || text[pos++] != ':' ||
        !read_digits(text, pos, 2, om)) {
      return bad("expected a zone offset ±hh:mm");
    }
    offset_minutes = sign * (oh * 60 + om);
  } else {
    return bad("expected 'Z' or a zone offset");
  }
  if (pos != text.size()) return bad("trailing characters");
  const int64_t days =
      days_from_civil(year, static_cast<unsigned>(month), static_cast<unsigned>(day));
  const int64_t seconds = days * 86400 + hour * 3600 + minute * 60 + second - offset_minutes * 60;
  return seconds * 1000 + millis;
}

std::string format_rfc3339(int64_t epoch_ms, bool micro) {
  int64_t days = epoch_ms >= 0 ? epoch_ms / 86'400'000 : (epoch_ms - 86'399'999) / 86'400'000;
  const int64_t ms_of_day = epoch_ms - days * 86'400'000;
  const Civil date = civil_from_days(days);
  const int64_t secs = ms_of_day / 1000;
  if (micro) {
    return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z", date.year, date.month,
                       date.day, secs / 3600, secs / 60 % 60, secs % 60, (ms_of_day % 1000) * 1000);
  }
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z", date.year, date.month, date.day,
                     secs / 3600, secs / 60 % 60, secs % 60);
}

tl::expected<int64_t, std::string> parse_go_duration_seconds(std::string_view text) {
  // time.ParseDuration: [-+]?([0-9]*(\.[0-9]*)?[a-z]+)+, units ns us µs ms s m h; "0" alone.
  auto bad = [&](std::string_view why) {
    return tl::unexpected(fmt::format("duration \"{}\": {}", text, why));
  };
  std::string_view rest = text;
  bool negative = false;
  if (!rest.empty() && (rest.front() == '-' || rest.front() == '+')) {
    negative = rest.front() == '-';
    rest.remove_prefix(1);
  }
  if (rest == "0") return 0;
  if (rest.empty()) return bad("empty");
  long double nanos = 0;
  while (!rest.empty()) {
    size_t i = 0;
    long double value = 0;
    bool digits = false;
    while (i < rest.size() && rest[i] >= '0' && rest[i] <= '9') {
      value = value * 10 + (rest[i] - '0');
      ++i;
      digits = true;
    }
    if (i < rest.size() && rest[i] == '.') {
      ++i;
      long double scale = 0.1L;
      while (i < rest.size() && rest[i] >= '0' && rest[i] <= '9') {
        value += (rest[i] - '0') * scale;
        scale /= 10;
        ++i;
        digits = true;
      }
    }
    if (!digits) return bad("expected a number");
    size_t unit_end = i;
    while (unit_end < rest.size() && !(rest[unit_end] >= '0' && rest[unit_end] <= '9') &&
           rest[unit_end] != '.') {
      ++unit_end;
    }
    const std::string_view unit = rest.substr(i, unit_end - i);
    long double factor = 0;
    if (unit == "ns") {
      factor = 1;
    } else if (unit == "us" || unit == "\xC2\xB5s" || unit == "\xCE\xBCs") {
      factor = 1e3L;
    } else if (unit == "ms") {
      factor = 1e6L;
    } else if (unit == "s") {
      factor = 1e9L;
    } else if (unit == "m") {
      factor = 60e9L;
    } else if (unit == "h") {
      factor = 3600e9L;
    } else if (unit.empty()) {
      return bad("missing unit");
    } else {
      return bad(fmt::format("unknown unit \"{}\"", unit));
    }
    nanos += value * factor;
    rest.remove_prefix(unit_end);
  }
  if (nanos > 9.2e18L) return bad("out of range");
  const auto seconds = static_cast<int64_t>(nanos / 1e9L + 1e-9L);  // guard 0.1+0.2-style drift
  return negative ? -seconds : seconds;
}

const char* watch_event_kind_name(WatchEventKind kind) {
  switch (kind) {
    case WatchEventKind::kAdded:
      return "ADDED";
    case WatchEventKind::kModified:
      return "MODIFIED";
    case WatchEventKind::kDeleted:
      return "DELETED";
    case WatchEventKind::kBookmark:
      return "BOOKMARK";
    case WatchEventKind::kError:
      return "ERROR";
  }
  return "UNKNOWN";
}

tl::expected<Decoded<Pod>, std::string> decode_pod(std::string_view json) {
  return decode_document<Pod>(json);
}
tl::expected<Decoded<Node>, std::string> decode_node(std::string_view json) {
  return decode_document<Node>(json);
}
tl::expected<Decoded<QueueSpec>, std::string> decode_queue(std::string_view json) {
  return decode_document<QueueSpec>(json);
}
tl::expected<Decoded<PodGroup>, std::string> decode_pod_group(std::string_view json) {
  return decode_document<PodGroup>(json);
}
tl::expected<Decoded<TopologySpec>, std::string> decode_topology(std::string_view json) {
  return decode_document<TopologySpec>(json);
}
tl::expected<Decoded<Workload>, std::string> decode_workload(std::string_view json) {
  return decode_document<Workload>(json);
}
tl::expected<Decoded<UpstreamWorkload>, std::string> decode_upstream_workload(
    std::string_view json) {
  return decode_document<UpstreamWorkload>(json);
}
tl::expected<Decoded<PriorityClass>, std::string> decode_priority_class(std::string_view json) {
  return decode_document<PriorityClass>(json);
}
tl::expected<Decoded<Namespace>, std::string> decode_namespace(std::string_view json) {
  return decode_document<Namespace>(json);
}
tl::expected<Decoded<PersistentVolume>, std::string> decode_persistent_volume(
    std::string_view json) {
  return decode_document<PersistentVolume>(json);
}
tl::expected<Decoded<PersistentVolumeClaim>, std::string> decode_persistent_volume_claim(
    std::string_view json) {
  return decode_document<PersistentVolumeClaim>(json);
}
tl::expected<Decoded<StorageClass>, std::string> decode_storage_class(std::string_view json) {
  return decode_document<StorageClass>(json);
}
tl::expected<Decoded<CsiNode>, std::string> decode_csi_node(std::string_view json) {
  return decode_document<CsiNode>(json);
}

template <typename T>
tl::expected<Decoded<T>, std::string> decode_object(std::string_view json) {
  return decode_document<T>(json);
}

template <typename T>
tl::expected<Decoded<T>, std::string> decode_object_at(std::string_view json,
                                                       std::string_view json_pointer) {
  auto root = object_context().parse(json);
  if (!root) return tl::unexpected(root.error());
  dom::element value;
  if (auto code = root->at_pointer(json_pointer).get(value)) {
    return tl::unexpected(std::string(json_pointer) + ": " + simdjson::error_message(code));
  }
  return decode_element<T>(value);
}

template <typename T>
tl::expected<DecodedList<T>, std::string> decode_list(std::string_view json) {
  return decode_list_impl<T>(json, ItemDecoder<T>{});
}
template <typename T>
tl::expected<DecodedList<T>, std::string> decode_list(std::string& json) {
  return decode_list_root<T>(object_context().parse_in_place(json), ItemDecoder<T>{});
}
template <typename T>
tl::expected<DecodedList<T>, std::string> decode_list(std::string_view json,
                                                      ObjectDecoder<T> item_decoder) {
  return decode_list_impl<T>(json, ItemDecoder<T>{item_decoder});
}
template <typename T>
tl::expected<WatchEvent<T>, std::string> decode_watch_event(std::string_view json) {
  return decode_event_impl<T>(json, nullptr);
}
template <typename T>
tl::expected<WatchEvent<T>, std::string> decode_watch_event(std::string_view json,
                                                            ObjectDecoder<T> object_decoder) {
  return decode_event_impl<T>(json, object_decoder);
}

struct ParsedDocument::Impl {
  dom::parser parser;
  dom::element root;
};

ParsedDocument::ParsedDocument(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ParsedDocument::ParsedDocument(ParsedDocument&&) noexcept = default;
ParsedDocument& ParsedDocument::operator=(ParsedDocument&&) noexcept = default;
ParsedDocument::~ParsedDocument() = default;

tl::expected<ParsedDocument, std::string> ParsedDocument::parse(std::string_view json) {
  auto impl = std::make_unique<Impl>();
  // The DOM keeps its strings in the parser's own buffer: the padded copy is not needed after.
  const simdjson::padded_string padded(json);
  if (auto code = impl->parser.parse(padded).get(impl->root)) {
    return tl::unexpected(std::string(simdjson::error_message(code)));
  }
  return ParsedDocument(std::move(impl));
}

bool ParsedDocument::contains(std::string_view json_pointer) const {
  dom::element value;
  return !impl_->root.at_pointer(json_pointer).get(value);
}

std::optional<std::string_view> ParsedDocument::string_at(std::string_view json_pointer) const {
  std::string_view value;
  if (impl_->root.at_pointer(json_pointer).get_string().get(value)) return std::nullopt;
  return value;
}

std::optional<size_t> ParsedDocument::list_size(std::string_view json_pointer) const {
  dom::array items;
  if (impl_->root.at_pointer(json_pointer)["items"].get_array().get(items)) return std::nullopt;
  return items.size();
}

template <typename T>
tl::expected<std::vector<ItemError>, std::string> ParsedDocument::for_each_item(
    std::string_view json_pointer, const std::function<void(Decoded<T>&&)>& each) const {
  dom::object envelope;
  if (auto code = impl_->root.at_pointer(json_pointer).get_object().get(envelope)) {
    return tl::unexpected(fmt::format("{}: {}", json_pointer, simdjson::error_message(code)));
  }
  dom::element items;
  if (envelope["items"].get(items)) return std::vector<ItemError>{};  // none, as an empty list
  std::vector<ItemError> errors;
  const ItemDecoder<T> decoder;
  R r = within("items", for_each_element(items, [&](size_t i, dom::element element) -> R {
                 Decoded<T> item;
                 ItemError error;
                 if (decoder(element, item, error)) {
                   each(std::move(item));
                 } else {
                   error.message = fmt::format("items[{}]: {}", i, error.message);
                   errors.push_back(std::move(error));
                 }
                 return {};
               }));
  if (!r) return tl::unexpected(describe(r.error()));
  return errors;
}

#define FAIRWAY_K8S_INSTANTIATE(T)                                                             \
  template tl::expected<Decoded<T>, std::string> decode_object<T>(std::string_view);           \
  template tl::expected<Decoded<T>, std::string> decode_object_at<T>(std::string_view,         \
                                                                     std::string_view);        \
  template tl::expected<DecodedList<T>, std::string> decode_list<T>(std::string_view);         \
  template tl::expected<DecodedList<T>, std::string> decode_list<T>(std::string&);             \
  template tl::expected<DecodedList<T>, std::string> decode_list<T>(std::string_view,          \
                                                                    ObjectDecoder<T>);         \
  template tl::expected<WatchEvent<T>, std::string> decode_watch_event<T>(std::string_view);   \
  template tl::expected<WatchEvent<T>, std::string> decode_watch_event<T>(std::string_view,    \
                                                                          ObjectDecoder<T>);   \
  template tl::expected<std::vector<ItemError>, std::string> ParsedDocument::for_each_item<T>( \
      std::string_view, const std::function<void(Decoded<T> &&)>&) const;
FAIRWAY_K8S_INSTANTIATE(Pod)
FAIRWAY_K8S_INSTANTIATE(Node)
FAIRWAY_K8S_INSTANTIATE(QueueSpec)
FAIRWAY_K8S_INSTANTIATE(PodGroup)
FAIRWAY_K8S_INSTANTIATE(Workload)
FAIRWAY_K8S_INSTANTIATE(UpstreamWorkload)
FAIRWAY_K8S_INSTANTIATE(TopologySpec)
FAIRWAY_K8S_INSTANTIATE(PriorityClass)
FAIRWAY_K8S_INSTANTIATE(Namespace)
FAIRWAY_K8S_INSTANTIATE(PersistentVolume)
FAIRWAY_K8S_INSTANTIATE(PersistentVolumeClaim)
FAIRWAY_K8S_INSTANTIATE(StorageClass)
FAIRWAY_K8S_INSTANTIATE(CsiNode)
FAIRWAY_K8S_INSTANTIATE(dra::ResourceSlice)
FAIRWAY_K8S_INSTANTIATE(dra::DeviceClass)
FAIRWAY_K8S_INSTANTIATE(dra::ResourceClaim)
FAIRWAY_K8S_INSTANTIATE(dra::ResourceClaimTemplate)
#undef FAIRWAY_K8S_INSTANTIATE

tl::expected<ApiStatus, std::string> decode_status(std::string_view json) {
  auto root = object_context().parse(json);
  if (!root) return tl::unexpected(root.error());
  ApiStatus status;
  if (R r = read_status(*root, status); !r) return tl::unexpected(describe(r.error()));
  return status;
}

// ---- Encoders -----------------------------------------------------------------------------

namespace {
// Invalid UTF-8 (from a pod name in a message, say) is replaced rather than thrown on.
std::string dump(const nlohmann::json& body) {
  return body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}
}  // namespace

std::string binding_body(std::string_view ns, std::string_view pod, std::string_view uid,
                         std::string_view node) {
  nlohmann::json metadata = {{"name", pod}, {"namespace", ns}};
  // The uid makes the bind conditional on the pod not having been recreated under the same name.
  if (!uid.empty()) metadata["uid"] = uid;
  const nlohmann::json body = {
      {"apiVersion", "v1"},
      {"kind", "Binding"},
      {"metadata", std::move(metadata)},
      {"target", {{"apiVersion", "v1"}, {"kind", "Node"}, {"name", node}}},
  };
  return dump(body);
}

std::string eviction_body(std::string_view ns, std::string_view pod, std::string_view api_version) {
  const nlohmann::json body = {
      {"apiVersion", api_version},
      {"kind", "Eviction"},
      {"metadata", {{"name", pod}, {"namespace", ns}}},
  };
  return dump(body);
}

std::string unschedulable_condition_patch(std::string_view reason, std::string_view message,
                                          std::string_view now_rfc3339) {
  // As a JSON merge patch this replaces status.conditions; a pending, unbound pod carries no
  // other condition. As a strategic merge patch the same body merges by condition type.
  const nlohmann::json body = {
      {"status",
       {{"conditions", nlohmann::json::array({{
                           {"type", "PodScheduled"},
                           {"status", "False"},
                           {"reason", reason},
                           {"message", message},
                           {"lastProbeTime", nullptr},
                           {"lastTransitionTime", now_rfc3339},
                       }})}}},
  };
  return dump(body);
}

std::string event_body(const EventSpec& event, std::string_view now_rfc3339) {
  // Events about cluster-scoped objects (Queue, Node) live in "default", as kubectl expects.
  const std::string ns = event.namespace_.empty() ? "default" : event.namespace_;
  nlohmann::json involved = {
      {"kind", event.involved_kind},
      {"name", event.involved_name},
      {"apiVersion", event.involved_api_version.empty() ? "v1" : event.involved_api_version},
  };
  if (!event.namespace_.empty()) involved["namespace"] = event.namespace_;
  if (!event.involved_uid.empty()) involved["uid"] = event.involved_uid;
  const nlohmann::json body = {
      {"apiVersion", "v1"},
      {"kind", "Event"},
      {"metadata", {{"generateName", event.involved_name + "."}, {"namespace", ns}}},
      {"involvedObject", std::move(involved)},
      {"reason", event.reason},
      {"message", event.message},
      {"type", event.type},
      {"source", {{"component", event.reporting_component}}},
      {"firstTimestamp",
       event.first_timestamp.empty() ? std::string(now_rfc3339) : event.first_timestamp},
      {"lastTimestamp", now_rfc3339},
      {"count", std::max(event.count, 1)},
      {"reportingComponent", event.reporting_component},
      {"reportingInstance", event.reporting_component},
  };
  return dump(body);
}

}  // namespace fairway::k8s
