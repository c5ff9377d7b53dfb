// Decoding the resource.k8s.io kinds: their metadata from the tape, the object by
// scheduler/dra's decoder (dra_objects.h).
#include <fmt/format.h>

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "k8s-client/decode_support.h"
#include "k8s-client/dra_objects.h"
#include "k8s-client/objects.h"

namespace fairway::k8s::decoding {

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

}  // namespace fairway::k8s::decoding

namespace fairway::k8s {

FAIRWAY_K8S_INSTANTIATE(dra::ResourceSlice)
FAIRWAY_K8S_INSTANTIATE(dra::DeviceClass)
FAIRWAY_K8S_INSTANTIATE(dra::ResourceClaim)
FAIRWAY_K8S_INSTANTIATE(dra::ResourceClaimTemplate)

}  // namespace fairway::k8s
