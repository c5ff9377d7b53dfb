#pragma once
// fairway's Prometheus metrics: a prometheus-cpp core registry (counters, histograms, gauges the
// service updates as things happen), counters read from components' std::atomic stats at scrape
// time (sources), and the cluster gauges of a ClusterSnapshot; all rendered by prometheus-cpp's
// text serializer. Every name starts with fairway_ and follows Prometheus' conventions (base
// units, _seconds, _total).
//
// Cardinality is bounded by construction: labels are queues, resources, nodes (optional, see
// MetricsOptions::per_node), cycle phases, API verbs/resources/codes and fixed enums; never pods.
//
// Thread-safety: every method may be called from any thread (prometheus-cpp metrics are atomic,
// the maps here are guarded by a mutex). The per-cycle hook costs a handful of atomic updates
// (benchmarks/metrics_bench.cpp).

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/metric_family.h>
#include <prometheus/registry.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "scheduler/cycle/cycle.h"

namespace fairway::metrics {

struct MetricsOptions {
  // Per-node series (fairway_node_*): one per node and metric; switch off for huge clusters.
  bool per_node = true;
  std::string version = "0.1.0";
};

// The phases of a cycle, for fairway_scheduling_cycle_phase_duration_seconds{phase}.
//   snapshot: applying watched changes to the state since the previous cycle;
//   fairshare, allocate: inside run_cycle; plan: the background planners (preempt/reclaim/
//   consolidate) when they run; bind: assuming the bindings and handing them to the actuator.
struct CyclePhases {
  std::chrono::nanoseconds snapshot{0};
  std::chrono::nanoseconds fairshare{0};
  std::chrono::nanoseconds allocate{0};
  std::chrono::nanoseconds plan{-1};  // negative: the phase did not run
  std::chrono::nanoseconds bind{0};
};

// The outcome of one job's attempt in a cycle, for fairway_schedule_attempts_total{result}.
enum class AttemptResult { kScheduled, kUnschedulable, kError };
AttemptResult attempt_result(PendingReason reason);

// A counter or gauge read from elsewhere at scrape time (e.g. an std::atomic in a component's
// stats struct): the lead wires other components' stats this way, without prometheus code there.
struct Source {
  std::string name;  // full metric name, e.g. "fairway_watch_restarts_total"
  std::string help;
  bool counter = true;  // false: gauge
  std::vector<std::pair<std::string, std::string>> labels;
  std::function<double()> read;
};

class SchedulerMetrics {
 public:
  explicit SchedulerMetrics(MetricsOptions options = {});

  const MetricsOptions& options() const { return options_; }

  // Once per cycle, on the loop thread: phases, attempts by result, attempt latency.
  void observe_cycle(const CycleResult& result, const CyclePhases& phases);
  // A pod bound: creation → accepted binding, in seconds.
  void observe_pod_scheduled(double seconds);
  // Every API request (k8s::RestClient's observer): fairway_api_requests_total{verb,resource,code},
  // fairway_api_errors_total{verb,resource,code} for codes 0 and >= 400, and for pods/binding also
  // fairway_binds_total, fairway_bind_errors_total{code} and fairway_bind_duration_seconds.
  void observe_api_request(std::string_view verb, std::string_view path, int code,
                           std::chrono::nanoseconds latency);
  void set_leader(bool leader);
  void set_ready(bool synced);

  // Sources are read on each scrape; remove_sources(owner) before what they read goes away.
  void add_source(std::string owner, Source source);
  void remove_sources(std::string_view owner);

  // Everything in Prometheus' text format; `extra` (a ClusterSnapshot's families) is appended.
  std::string scrape(std::vector<prometheus::MetricFamily> extra = {}) const;

 private:
  MetricsOptions options_;
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Histogram>* pod_latency_;
  prometheus::Histogram* pod_latency_all_;
  prometheus::Family<prometheus::Histogram>* attempt_latency_;
  prometheus::Family<prometheus::Histogram>* phase_latency_;
  prometheus::Family<prometheus::Counter>* attempts_;
  prometheus::Family<prometheus::Counter>* cycles_;
  prometheus::Family<prometheus::Counter>* api_requests_;
  prometheus::Family<prometheus::Counter>* api_errors_;  // fairway_api_errors_total
  prometheus::Family<prometheus::Histogram>* bind_latency_;
  prometheus::Family<prometheus::Counter>* binds_;
  prometheus::Family<prometheus::Counter>* bind_errors_;
  prometheus::Family<prometheus::Gauge>* leader_;
  prometheus::Family<prometheus::Gauge>* ready_;

  // Cached children, so the per-cycle path does no label hashing.
  std::map<std::string, prometheus::Histogram*, std::less<>> phase_children_;
  std::vector<prometheus::Counter*> attempt_children_;  // by AttemptResult
  std::vector<prometheus::Histogram*> attempt_latency_children_;
  prometheus::Counter* cycles_total_;
  prometheus::Histogram* bind_latency_all_;
  prometheus::Counter* binds_total_;
  prometheus::Gauge* leader_gauge_;
  prometheus::Gauge* ready_gauge_;

  mutable std::mutex sources_mutex_;
  std::multimap<std::string, Source, std::less<>> sources_;  // by owner
};

// "pods/binding", "pods", "events", "queues/status", "leases" ... from a request path; LIST vs
// GET from whether it names an object. Exposed for tests.
struct ApiTarget {
  std::string verb;
  std::string resource;
};
ApiTarget classify_request(std::string_view verb, std::string_view path);

}  // namespace fairway::metrics
