#pragma once
// Decoding resource.k8s.io/v1 objects from their JSON (nlohmann::json) into the structs of
// model.h. Decoders never throw: a malformed object becomes an error naming the field
// ("spec.devices.requests[0].exactly.count: must be an integer"). Unknown fields are ignored,
// as a client decoding a newer server's objects must.

#include <nlohmann/json_fwd.hpp>
#include <string>
#include <tl/expected.hpp>

#include "scheduler/dra/model.h"

namespace fairway::dra {

tl::expected<ResourceSlice, std::string> decode_resource_slice(const nlohmann::json& object);
tl::expected<DeviceClass, std::string> decode_device_class(const nlohmann::json& object);
tl::expected<ResourceClaim, std::string> decode_resource_claim(const nlohmann::json& object);
tl::expected<ResourceClaimTemplate, std::string> decode_resource_claim_template(
    const nlohmann::json& object);

// A capacity's quantity: a string ("80Gi") or, from hand-written manifests, a JSON number.
tl::expected<Quantity, std::string> parse_quantity_value(const nlohmann::json& value);

}  // namespace fairway::dra
