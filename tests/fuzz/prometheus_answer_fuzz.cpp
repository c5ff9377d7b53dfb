// libFuzzer target: answers of the Prometheus HTTP API (what --utilization-prometheus sends back).
// Any bytes must decode to samples or to an error, never crash; every sample names a pod
// ("namespace/name") and, for the field asked, carries a finite value.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "scheduler/utilization/prometheus_query.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  for (const auto field : {fairway::DcgmField::kUtilization, fairway::DcgmField::kMemoryUsed}) {
    const auto samples = fairway::decode_dcgm_samples(text, field);
    if (!samples) continue;
    for (const fairway::GpuSample& sample : *samples) {
      if (sample.pod.find('/') == std::string::npos) __builtin_trap();
      const auto& value = field == fairway::DcgmField::kUtilization ? sample.utilization_percent
                                                                    : sample.memory_used_mib;
      if (!value || !std::isfinite(*value)) __builtin_trap();
    }
  }
  return 0;
}
