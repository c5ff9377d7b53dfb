#include "k8s-client/dra_objects.h"

// The DRA kinds go through nlohmann::json (scheduler/dra/decode.h) rather than field by field
// from simdjson's tape: a cluster holds a few slices per node and a claim per pod that asks for
// devices, not tens of thousands of pods, and one decoder for these kinds keeps the API
// server's, the allocator's and the watches' reading of them the same.

#include <nlohmann/json.hpp>
#include <utility>

#include "scheduler/dra/decode.h"

namespace fairway::k8s {
namespace detail {
namespace {

// The non-throwing parse: malformed text is "discarded", never an exception.
template <typename T, typename Decode>
std::string decode_with(std::string_view json, Decoded<T>& out, Decode decode) {
  const nlohmann::json object = nlohmann::json::parse(json, nullptr, false);
  if (object.is_discarded()) return "not valid JSON";
  auto decoded = decode(object);
  if (!decoded) return std::move(decoded.error());
  out.object = std::move(*decoded);
  return {};
}

}  // namespace

std::string decode_dra_text(std::string_view json, Decoded<dra::ResourceSlice>& out) {
  return decode_with(json, out, &dra::decode_resource_slice);
}
std::string decode_dra_text(std::string_view json, Decoded<dra::DeviceClass>& out) {
  return decode_with(json, out, &dra::decode_device_class);
}
std::string decode_dra_text(std::string_view json, Decoded<dra::ResourceClaim>& out) {
  std::string error = decode_with(json, out, &dra::decode_resource_claim);
  // The version a status write is made conditional on (the metadata read from the tape).
  if (error.empty()) out.object.resource_version = out.meta.resource_version;
  return error;
}
std::string decode_dra_text(std::string_view json, Decoded<dra::ResourceClaimTemplate>& out) {
  return decode_with(json, out, &dra::decode_resource_claim_template);
}

}  // namespace detail

tl::expected<Decoded<dra::ResourceSlice>, std::string> decode_resource_slice(
    std::string_view json) {
  return decode_object<dra::ResourceSlice>(json);
}
tl::expected<Decoded<dra::DeviceClass>, std::string> decode_device_class(std::string_view json) {
  return decode_object<dra::DeviceClass>(json);
}
tl::expected<Decoded<dra::ResourceClaim>, std::string> decode_resource_claim(
    std::string_view json) {
  return decode_object<dra::ResourceClaim>(json);
}
tl::expected<Decoded<dra::ResourceClaimTemplate>, std::string> decode_resource_claim_template(
    std::string_view json) {
  return decode_object<dra::ResourceClaimTemplate>(json);
}

}  // namespace fairway::k8s
