#pragma once
// Server-side printing: meta.k8s.io/v1 Table, what `kubectl get` asks for with
// `Accept: application/json;as=Table;v=v1;g=meta.k8s.io`. CRDs print their
// additionalPrinterColumns (simple JSONPath); built-ins print kubectl's familiar columns.

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "sim/apiserver/resource_types.h"
#include "sim/apiserver/store.h"

namespace fairway::apiserver {

enum class IncludeObject { kNone, kMetadata, kObject };

// The Table for a list of objects (or one object). resource_version / continue_token go into
// the Table's list metadata.
nlohmann::json render_table(const ResourceType& type, const std::vector<Object>& objects,
                            std::chrono::system_clock::time_point now, IncludeObject include,
                            const std::string& resource_version,
                            const std::string& continue_token = "");

// The values a simple JSONPath selects (".spec.parent", ".status.allocated.nvidia\.com/gpu",
// ".spec.levels[*].nodeLabel", ".spec.x[0]", "{.spec.a}", and filters as in
// `.status.conditions[?(@.type=="Valid")].reason`), in order.
std::vector<const nlohmann::json*> json_path(const nlohmann::json& object, std::string_view path);

// kubectl's human durations: "45s", "5m12s", "3h4m", "2d3h", "400d".
std::string human_duration(std::chrono::seconds d);

}  // namespace fairway::apiserver
