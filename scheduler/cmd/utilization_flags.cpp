#include "scheduler/cmd/utilization_flags.h"

#include <cmath>

namespace fairway::cmd {

UtilizationFlags::UtilizationFlags(const UtilizationOptions& defaults)
    : options_(defaults),
      window_(defaults.config.window_ms),
      idle_after_(defaults.config.idle_after_ms) {}

void UtilizationFlags::add(FlagSet& flags, bool for_scheduler) {
  flags.add_string("utilization-prometheus", &options_.prometheus,
                   "base URL of a Prometheus that scrapes NVIDIA dcgm-exporter (e.g. "
                   "http://prometheus.monitoring:9090); GPU use is read from it" +
                       std::string(for_scheduler ? "; empty: off" : ""));
  flags.add_string("utilization-prometheus-token-file", &options_.token_file,
                   "file holding a bearer token for that Prometheus (re-read as it rotates)");
  flags.add_string("utilization-series-selector", &options_.series_selector,
                   "PromQL label matchers naming dcgm-exporter's series, e.g. "
                   "job=\"nvidia-dcgm-exporter\": without it, a series of the same name that any "
                   "scraped pod exposes is read as GPU use");
  flags.add_duration("utilization-window", &window_,
                     "GPU utilisation averages and peaks span this much time");
  flags.add_double("idle-gpu-threshold", &options_.config.idle_below_percent,
                   "a GPU below this utilisation (percent) is idle");
  flags.add_duration("idle-gpu-after", &idle_after_,
                     "a pod whose GPUs all stayed idle this long is an idle GPU pod");
  if (!for_scheduler) return;
  flags.add_duration("utilization-period", &options_.period, "how often Prometheus is asked");
  flags.add_bool("idle-victims-first", &options_.idle_victims_first,
                 "reclaim and consolidation evict idle GPU pods of queues above their fair share "
                 "before any other (never pods within their deserved quota)");
}

tl::expected<UtilizationOptions, std::string> UtilizationFlags::options() const {
  UtilizationOptions out = options_;
  if (!out.prometheus.empty() && !out.prometheus.starts_with("http://") &&
      !out.prometheus.starts_with("https://")) {
    return tl::unexpected("--utilization-prometheus \"" + out.prometheus +
                          "\": expected an http:// or https:// URL");
  }
  if (out.series_selector.find_first_of("{}") != std::string::npos) {
    return tl::unexpected(
        "--utilization-series-selector \"" + out.series_selector +
        "\": label matchers only, without braces (e.g. job=\"nvidia-dcgm-exporter\")");
  }
  if (window_.count() <= 0)
    return tl::unexpected(std::string("--utilization-window must be positive"));
  if (idle_after_.count() <= 0 || idle_after_ > window_) {
    return tl::unexpected(
        std::string("--idle-gpu-after must be positive and not longer than --utilization-window "
                    "(idleness is judged from the window's samples)"));
  }
  if (!std::isfinite(out.config.idle_below_percent) || out.config.idle_below_percent <= 0 ||
      out.config.idle_below_percent > 100) {
    return tl::unexpected(
        std::string("--idle-gpu-threshold must be a percentage above 0, at most 100"));
  }
  if (out.period.count() < 1000) {
    return tl::unexpected(std::string("--utilization-period must be at least 1s"));
  }
  if (out.idle_victims_first && out.prometheus.empty()) {
    return tl::unexpected(std::string("--idle-victims-first needs --utilization-prometheus"));
  }
  out.config.window_ms = window_.count();
  out.config.idle_after_ms = idle_after_.count();
  return out;
}

}  // namespace fairway::cmd
