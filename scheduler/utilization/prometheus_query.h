#pragma once
// dcgm-exporter's series through the Prometheus HTTP API, pure: the request path to ask and the
// decoding of the answer into GpuSamples. The edge sends the request (RestClient).
//
// One range query per series (GET /api/v1/query_range?query=DCGM_FI_DEV_GPU_UTIL&start&end&step)
// covers both a first look back over the whole window and the later polls of what is new.
// Labels: dcgm-exporter names the pod holding a GPU `pod`/`namespace`; scraped through a
// ServiceMonitor without honorLabels, Prometheus keeps those as `exported_pod`/
// `exported_namespace` and puts the exporter's own pod in `pod`, so the exported_ ones win when
// present. The GPU is its `UUID` (else `Hostname` + `gpu`). Series of GPUs no pod holds are
// skipped.

#include <string>
#include <string_view>
#include <tl/expected.hpp>
#include <vector>

#include "scheduler/utilization/gpu_utilization.h"

namespace fairway {

inline constexpr std::string_view kDcgmUtilization = "DCGM_FI_DEV_GPU_UTIL";
inline constexpr std::string_view kDcgmMemoryUsed = "DCGM_FI_DEV_FB_USED";

enum class DcgmField { kUtilization, kMemoryUsed };

// The PromQL of one dcgm-exporter series: `metric` alone, or `metric{selector}` when the
// operator names the exporter's series (--utilization-series-selector, e.g.
// `job="nvidia-dcgm-exporter"`), so that series any other scraped pod exposes under the same name
// (a tenant's own exporter) are not read as GPU use.
std::string dcgm_query(std::string_view metric, std::string_view selector);

// Prometheus answers at most 11,000 points per series: the step grows past `step_ms` when the
// range needs it.
std::string range_query_path(std::string_view query, WallMs start, WallMs end, WallMs step_ms);

// Decodes a query or query_range answer (vector or matrix). An error answer gives Prometheus' own
// words, e.g. `bad_data: invalid parameter "query": ...`.
tl::expected<std::vector<GpuSample>, std::string> decode_dcgm_samples(std::string_view body,
                                                                      DcgmField field);

}  // namespace fairway
