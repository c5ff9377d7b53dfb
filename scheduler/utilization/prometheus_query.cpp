#include "scheduler/utilization/prometheus_query.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <nlohmann/json.hpp>

namespace fairway {

namespace {

constexpr WallMs kMaxPointsPerSeries = 11'000;

std::string seconds(WallMs ms) {
  return fmt::format("{}.{:03}", ms / 1000, ms % 1000);
}

std::string escape(std::string_view text) {
  std::string out;
  for (const unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += fmt::format("%{:02X}", c);
    }
  }
  return out;
}

std::string label(const nlohmann::json& metric, const char* key) {
  const auto it = metric.find(key);
  return it != metric.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// [<unix seconds>, "<value>"]: Prometheus writes values as strings ("NaN", "+Inf" included).
std::optional<std::pair<WallMs, double>> point(const nlohmann::json& pair) {
  if (!pair.is_array() || pair.size() != 2 || !pair[0].is_number() || !pair[1].is_string()) {
    return std::nullopt;
  }
  const double at = pair[0].get<double>();
  const std::string& text = pair[1].get_ref<const std::string&>();
  double value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || !std::isfinite(value) ||
      !std::isfinite(at)) {
    return std::nullopt;
  }
  return std::make_pair(static_cast<WallMs>(std::llround(at * 1000)), value);
}

}  // namespace

std::string dcgm_query(std::string_view metric, std::string_view selector) {
  if (selector.empty()) return std::string(metric);
  return fmt::format("{}{{{}}}", metric, selector);
}

std::string range_query_path(std::string_view query, WallMs start, WallMs end, WallMs step_ms) {
  const WallMs span = std::max<WallMs>(0, end - start);
  const WallMs step = std::max({step_ms, WallMs{1000}, span / (kMaxPointsPerSeries - 1) + 1});
  return fmt::format("/api/v1/query_range?query={}&start={}&end={}&step={}", escape(query),
                     seconds(start), seconds(end), seconds(step));
}

tl::expected<std::vector<GpuSample>, std::string> decode_dcgm_samples(std::string_view body,
                                                                      DcgmField field) {
  const auto doc = nlohmann::json::parse(body, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) {
    return tl::unexpected(std::string("the answer is not a Prometheus API response (not JSON)"));
  }
  if (label(doc, "status") != "success") {
    const std::string type = label(doc, "errorType");
    const std::string error = label(doc, "error");
    if (error.empty()) return tl::unexpected(std::string("the query failed, with no error given"));
    return tl::unexpected(type.empty() ? error : type + ": " + error);
  }
  const auto data = doc.find("data");
  if (data == doc.end() || !data->is_object() || !data->contains("result") ||
      !(*data)["result"].is_array()) {
    return tl::unexpected(std::string("the answer has no data.result list"));
  }
  std::vector<GpuSample> out;
  for (const auto& series : (*data)["result"]) {
    if (!series.is_object()) continue;
    const auto metric = series.value("metric", nlohmann::json::object());
    std::string pod = label(metric, "exported_pod");
    std::string ns = label(metric, "exported_namespace");
    if (pod.empty()) pod = label(metric, "pod");
    if (ns.empty()) ns = label(metric, "namespace");
    if (pod.empty() || ns.empty()) continue;  // a GPU no pod holds
    std::string gpu = label(metric, "UUID");
    if (gpu.empty()) gpu = label(metric, "Hostname") + "/" + label(metric, "gpu");
    GpuSample sample;
    sample.pod = ns + "/" + pod;
    sample.gpu = std::move(gpu);
    auto take = [&](const nlohmann::json& pair) {
      const auto value = point(pair);
      if (!value) return;
      sample.at = value->first;
      if (field == DcgmField::kUtilization) {
        sample.utilization_percent = value->second;
      } else {
        sample.memory_used_mib = value->second;
      }
      out.push_back(sample);
    };
    if (const auto values = series.find("values"); values != series.end() && values->is_array()) {
      for (const auto& pair : *values) take(pair);
    } else if (const auto value = series.find("value"); value != series.end()) {
      take(*value);
    }
  }
  return out;
}

}  // namespace fairway
