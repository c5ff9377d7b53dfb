#pragma once
// GPU utilisation at the edge: asks Prometheus for dcgm-exporter's series on a thread of its own,
// keeps them in a UtilizationTracker there (scheduler/utilization/gpu_utilization.h,
// docs/utilization.md) and hands the loop each pod's summary after every poll: walking an hour
// of samples of every GPU pod (tens of milliseconds at 10,000 nodes) never stalls the loop.
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
#include <memory>
#include <mutex>
#include <string>
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
  // --utilization-series-selector: label matchers naming dcgm-exporter's series
  // (prometheus_query.h)
  std::string series_selector;
  std::chrono::milliseconds period{std::chrono::seconds(30)};  // --utilization-period
  UtilizationConfig config;         // --utilization-window, --idle-gpu-threshold, --idle-gpu-after
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
                                                                     std::string_view selector,
                                                                     WallMs from, WallMs to,
                                                                     WallMs step_ms,
                                                                     uint64_t* queries = nullptr);

class UtilizationPoller {
 public:
  using Deliver = std::function<void(PodUtilizations)>;
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
  UtilizationTracker tracker_;  // poller thread only
  std::unique_ptr<k8s::RestClient> client_;
  std::string last_error_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

// The loop's side: keeps the latest summaries (they arrive through the Inbox), the per-queue
// report and, with --idle-victims-first, the idle pods the preemption pass reads.
class UtilizationMonitor {
 public:
  // The report is recomputed when a poll's summaries arrive, and this often while none do (so
  // stale pods stop counting). It walks every pod of the state: 25 ms at 130,000 pods
  // (BM_UtilizationReport), so not on every loop iteration.
  static constexpr std::chrono::seconds kRefreshPeriod{30};

  UtilizationMonitor(const UtilizationOptions& options, Inbox& inbox, UtilizationStats& stats,
                     std::function<WallMs()> now);
  // On the loop thread, every iteration: recomputes when summaries arrived or kRefreshPeriod
  // passed.
  void refresh(const ClusterState& state, std::chrono::steady_clock::time_point now);
  const UtilizationReport* report() const { return &report_; }
  // The latest summaries, by pod key (loop thread).
  const PodUtilizations& pods() const { return latest_; }
  const UtilizationConfig& config() const { return config_; }
  WallMs now() const { return now_(); }
  // Pod key → why it is idle, for PlannerOptions::idle_gpu_pods; nullptr when the policy is off.
  const std::unordered_map<std::string, std::string>* idle_gpu_pods() const {
    return idle_victims_first_ ? &idle_gpu_pods_ : nullptr;
  }
  void stop() { poller_.stop(); }

 private:
  UtilizationConfig config_;
  PodUtilizations latest_;
  UtilizationReport report_;
  std::unordered_map<std::string, std::string> idle_gpu_pods_;
  bool idle_victims_first_;
  bool fresh_samples_ = false;
  std::chrono::steady_clock::time_point last_refresh_{};
  std::function<WallMs()> now_;
  UtilizationPoller poller_;  // last: stopped (joined) before the rest goes
};

}  // namespace fairway
