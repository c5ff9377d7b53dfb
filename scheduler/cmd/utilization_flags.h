#pragma once
// The GPU utilisation flags `fairway scheduler` and `fairway report idle` share
// (docs/utilization.md): where Prometheus is and what counts as idle.

#include <chrono>
#include <string>
#include <tl/expected.hpp>

#include "scheduler/cmd/flags.h"
#include "scheduler/service/utilization_poller.h"

namespace fairway::cmd {

class UtilizationFlags {
 public:
  explicit UtilizationFlags(const UtilizationOptions& defaults);
  // --utilization-prometheus, --utilization-prometheus-token-file,
  // --utilization-series-selector, --utilization-window,
  // --idle-gpu-threshold, --idle-gpu-after; the scheduler adds --utilization-period and
  // --idle-victims-first (`for_scheduler`).
  void add(FlagSet& flags, bool for_scheduler);
  // The options, or what is wrong with the values given.
  tl::expected<UtilizationOptions, std::string> options() const;

 private:
  UtilizationOptions options_;
  std::chrono::milliseconds window_;
  std::chrono::milliseconds idle_after_;
};

}  // namespace fairway::cmd
