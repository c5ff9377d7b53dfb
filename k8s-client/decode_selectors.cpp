// Readers more than one kind uses: taint effects, node selector requirements and terms, label
// selectors and string lists (pods, nodes, queues, storage).
#include <fmt/format.h>

#include <string>
#include <string_view>
#include <vector>

#include "k8s-client/decode_support.h"

namespace fairway::k8s::decoding {

tl::expected<TaintEffect, std::string> parse_effect(std::string_view text) {
  if (text == "NoSchedule") return TaintEffect::kNoSchedule;
  if (text == "PreferNoSchedule") return TaintEffect::kPreferNoSchedule;
  if (text == "NoExecute") return TaintEffect::kNoExecute;
  return tl::unexpected(fmt::format("unknown taint effect \"{}\"", text));
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

}  // namespace fairway::k8s::decoding
