#pragma once
// GPU utilisation at the edge: asks Prometheus for dcgm-exporter's series on a thread of its own
// and hands the samples to the loop, which owns the UtilizationTracker
// (scheduler/utilization/gpu_utilization.h, docs/utilization.md).
//
// Each poll is one range query per series, from where the last successful one ended (at first:
// the whole --utilization-window back, so a restarted scheduler knows at once what ran idle) to
// now. A failed query (Prometheus down, an error answer) is logged with Prometheus' own words when
// the error changes, counted, and tried again at the next period; the scheduler goes on without
// it, and pods whose samples grow stale are no longer judged idle.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <memory>
#include <thread>
#include <unordered_map>
#include <vector>

#include "k8s-client/rest_client.h"
#include "scheduler/service/inbox.h"
#include "scheduler/utilization/gpu_utilization.h"

namespace fairway {

struct UtilizationOptions {
  std::string prometheus;  // --utilization-prometheus: the Prometheus base URL; "": off
  std::string token_file;  // --utilization-prometheus-token-file: a bearer token, re-read
  std::chrono::milliseconds period{std::chrono::seconds(30)};  // --utilization-period
  UtilizationConfig config;  // --utilization-window, --idle-gpu-threshold, --idle-gpu-after
  bool idle_victims_first = false;  // --idle-victims-first
  bool enabled() const { return !prometheus.empty(); }
};

struct UtilizationStats {
  std::atomic<uint64_t> queries{0};
  std::atomic<uint64_t> failures{0};
  std::atomic<uint64_t> samples{0};
};

// A client for the Prometheus at `options.prometheus` (bearer token from token_file).
std::unique_ptr<k8s::RestClient> prometheus_client(const UtilizationOptions& options);

// Both dcgm-exporter series over (from, to], evaluated every `step_ms`: the samples, or why not
// (unreachable, or Prometheus' own error words).
tl::expected<std::vector<GpuSample>, std::string> fetch_dcgm_samples(k8s::RestClient& client,
                                                                     WallMs from, WallMs to,
                                                                     WallMs step_ms,
                                                                     uint64_t* queries = nullptr);

class UtilizationPoller {
 public:
  using Deliver = std::function<void(std::vector<GpuSample>)>;
  // `deliver` is called on the poller's thread (post to the loop from it); `now` is the wall
  // clock in milliseconds (Prometheus' timestamps are Unix time).
  UtilizationPoller(UtilizationOptions options, Deliver deliver, std::function<WallMs()> now,
                    UtilizationStats& stats);
  ~UtilizationPoller();
  UtilizationPoller(const UtilizationPoller&) = delete;
  UtilizationPoller& operator=(const UtilizationPoller&) = delete;

  void stop();

 private:
  void loop();
  // One poll over (from, to]; false when a query failed (nothing delivered).
  bool poll(WallMs from, WallMs to);
  void failed(const std::string& error);

  UtilizationOptions options_;
  Deliver deliver_;
  std::function<WallMs()> now_;
  UtilizationStats& stats_;
  std::unique_ptr<k8s::RestClient> client_;
  std::string last_error_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

// The loop's side: owns the tracker (samples arrive through the Inbox), and keeps the latest
// per-queue report and, with --idle-victims-first, the idle pods the preemption pass reads.
class UtilizationMonitor {
 public:
  // How often the report is recomputed while no sample arrives (idle time grows regardless).
  static constexpr std::chrono::seconds kRefreshPeriod{5};

  UtilizationMonitor(const UtilizationOptions& options, Inbox& inbox, UtilizationStats& stats,
                     std::function<WallMs()> now);
  // On the loop thread, every iteration: recomputes when samples arrived or kRefreshPeriod passed.
  void refresh(const ClusterState& state, std::chrono::steady_clock::time_point now);
  const UtilizationReport* report() const { return &report_; }
  // Pod key → why it is idle, for PlannerOptions::idle_gpu_pods; nullptr when the policy is off.
  const std::unordered_map<std::string, std::string>* idle_gpu_pods() const {
    return idle_victims_first_ ? &idle_gpu_pods_ : nullptr;
  }
  void stop() { poller_.stop(); }

 private:
  UtilizationTracker tracker_;
  UtilizationReport report_;
  std::unordered_map<std::string, std::string> idle_gpu_pods_;
  bool idle_victims_first_;
  bool fresh_samples_ = false;
  std::chrono::steady_clock::time_point last_refresh_{};
  std::function<WallMs()> now_;
  UtilizationPoller poller_;  // last: stopped (joined) before the rest goes
};

}  // namespace fairway
