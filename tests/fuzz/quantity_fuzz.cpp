// libFuzzer target: Kubernetes quantities. Any text must parse or fail cleanly, and what parses
// must survive format → parse unchanged (format_quantity is what Queue status shows).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "queues/quantity.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  for (const int64_t scale : {int64_t{1}, int64_t{1000}}) {
    auto parsed = fairway::parse_quantity(text, scale);
    if (!parsed) continue;
    const std::string formatted = fairway::format_quantity(*parsed, scale);
    auto again = fairway::parse_quantity(formatted, scale);
    if (!again || *again != *parsed) __builtin_trap();
  }
  (void)fairway::parse_resource_quantity("memory", text);
  (void)fairway::parse_resource_quantity("nvidia.com/gpu", text);
  return 0;
}
