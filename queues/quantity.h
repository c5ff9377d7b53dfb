#pragma once
// Kubernetes resource quantities ("100m", "1.5Gi", "2e3", "1Ki"), parsed exactly.
//
// A quantity is kept as a signed 64-bit integer in the resource's canonical unit:
//   - memory-like resources (memory, ephemeral-storage, storage, hugepages-*) in bytes;
//   - everything else (cpu, nvidia.com/gpu, pods, extended resources) in milli-units,
//     so 0.25 GPU and 100m CPU are exact.
// Parsing follows resource.Quantity in k8s.io/apimachinery: the number is read exactly
// (no floating point) and rounded up to the canonical unit, as Quantity.Value() and
// Quantity.MilliValue() do.

#include <cstdint>
#include <string>
#include <string_view>
#include <tl/expected.hpp>

namespace fairway {

// The scale a resource's canonical unit has relative to one whole unit: 1 (bytes) or 1000 (milli).
int64_t canonical_scale(std::string_view resource_name);

// Parses `text` and returns its value multiplied by `scale` (1 or 1000), rounded up.
// Errors name the offending text: "quantity \"1.5.3\": unexpected character '.'".
tl::expected<int64_t, std::string> parse_quantity(std::string_view text, int64_t scale);

// Parses a quantity for the named resource into its canonical unit.
tl::expected<int64_t, std::string> parse_resource_quantity(std::string_view resource_name,
                                                           std::string_view text);

// Formats a canonical value the way kubectl would show it: "2", "1500m", "16Gi".
std::string format_quantity(int64_t canonical, int64_t scale);

// A canonical value as a plain number of whole units (cores, GPUs, bytes).
inline double to_units(int64_t canonical, int64_t scale) {
  return static_cast<double>(canonical) / static_cast<double>(scale);
}

}  // namespace fairway
