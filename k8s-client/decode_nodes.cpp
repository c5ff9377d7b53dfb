// Decoding Nodes: taints, cordons, allocatable and labels.
#include <fmt/format.h>

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "k8s-client/decode_support.h"
#include "k8s-client/objects.h"

namespace fairway::k8s::decoding {
namespace {

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

}  // namespace

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

}  // namespace fairway::k8s::decoding

namespace fairway::k8s {

tl::expected<Decoded<Node>, std::string> decode_node(std::string_view json) {
  return decode_document<Node>(json);
}

FAIRWAY_K8S_INSTANTIATE(Node)

}  // namespace fairway::k8s
