#pragma once
// Internal to k8s-client: the resource.k8s.io/v1 kinds (scheduler/dra/model.h) decoded from their
// JSON text by scheduler/dra/decode.h, for the codecs of decode_dra.cpp. Those read the metadata
// from simdjson's tape as for every kind (so a bad item of a list is still named by its key) and
// hand the object's text here; the DRA decoder then reads it whole, with its own field-naming
// errors. Callers use objects.h (decode_resource_slice, decode_list<dra::ResourceSlice>, ...).

#include <string>
#include <string_view>

#include "k8s-client/objects.h"
#include "scheduler/dra/model.h"

namespace fairway::k8s::detail {

// Fills out.object from `json` (one minified object; out.meta is already read). Empty on
// success, else the error naming the field ("spec.driver: required value"). Never throws.
std::string decode_dra_text(std::string_view json, Decoded<dra::ResourceSlice>& out);
std::string decode_dra_text(std::string_view json, Decoded<dra::DeviceClass>& out);
std::string decode_dra_text(std::string_view json, Decoded<dra::ResourceClaim>& out);
std::string decode_dra_text(std::string_view json, Decoded<dra::ResourceClaimTemplate>& out);

}  // namespace fairway::k8s::detail
