#include "sim/apiserver/events_v1.h"

#include <array>
#include <memory>
#include <utility>

namespace fairway::apiserver {

using nlohmann::json;

namespace {

// (events.k8s.io/v1 name, core/v1 name) of the fields that differ; the rest keep their names.
constexpr std::array<std::pair<const char*, const char*>, 8> kRenamed = {{
    {"regarding", "involvedObject"},
    {"note", "message"},
    {"reportingController", "reportingComponent"},
    {"deprecatedSource", "source"},
    {"deprecatedFirstTimestamp", "firstTimestamp"},
    {"deprecatedLastTimestamp", "lastTimestamp"},
    {"deprecatedCount", "count"},
    {"related", "related"},
}};

json renamed(const json& in, bool to_core, const char* api_version) {
  if (!in.is_object()) return in;
  json out = in;
  for (const auto& [v1_name, core_name] : kRenamed) {
    const char* from = to_core ? v1_name : core_name;
    const char* to = to_core ? core_name : v1_name;
    const auto it = in.find(from);
    out.erase(from);
    if (it != in.end()) out[to] = *it;
  }
  out["apiVersion"] = api_version;
  out["kind"] = "Event";
  return out;
}

}  // namespace

json core_event_from_v1(const json& v1) {
  return renamed(v1, true, "v1");
}

json v1_event_from_core(const json& core) {
  return renamed(core, false, "events.k8s.io/v1");
}

Object v1_event_object(const Object& core) {
  auto j = std::make_shared<const json>(v1_event_from_core(*core.json));
  auto text = std::make_shared<const std::string>(j->dump());
  return Object{std::move(j), std::move(text), core.resource_version};
}

std::string core_event_field_selector(std::string selector) {
  for (const auto& [v1_name, core_name] : kRenamed) {
    const std::string from = v1_name;
    const std::string to = core_name;
    for (size_t at = selector.find(from); at != std::string::npos;
         at = selector.find(from, at + 1)) {
      // Only whole field names: at the start or after a comma, followed by '.', '=' or '!'.
      const bool starts = at == 0 || selector[at - 1] == ',';
      const size_t end = at + from.size();
      const bool ends = end < selector.size() &&
                        (selector[end] == '.' || selector[end] == '=' || selector[end] == '!');
      if (starts && ends) selector.replace(at, from.size(), to);
    }
  }
  return selector;
}

}  // namespace fairway::apiserver
