// Decoding PriorityClasses and Namespaces (their labels, for Queue namespace selectors).
#include <fmt/format.h>

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "k8s-client/decode_support.h"
#include "k8s-client/objects.h"

namespace fairway::k8s::decoding {

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

}  // namespace fairway::k8s::decoding

namespace fairway::k8s {

tl::expected<Decoded<PriorityClass>, std::string> decode_priority_class(std::string_view json) {
  return decode_document<PriorityClass>(json);
}

tl::expected<Decoded<Namespace>, std::string> decode_namespace(std::string_view json) {
  return decode_document<Namespace>(json);
}

FAIRWAY_K8S_INSTANTIATE(PriorityClass)
FAIRWAY_K8S_INSTANTIATE(Namespace)

}  // namespace fairway::k8s
