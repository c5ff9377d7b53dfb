#pragma once
// `fairway scheduler`: informers → cluster state → cycles → actuator.
//
// Threads: one reflector per watched resource (pods, nodes, queues, podgroups, topologies,
// priorityclasses, namespaces, persistentvolumes, persistentvolumeclaims, storageclasses,
// csinodes) posting decoded changes to the Inbox; the loop thread (the caller of run())
// that alone owns the ClusterState, applies changes, and runs a cycle when something changed,
// at most once per schedule_period (events coalesce) and only once every informer has synced;
// bind and status workers in the Actuator; the leader elector when enabled. A standby replica
// keeps its caches warm and schedules nothing.

#include <atomic>
#include <chrono>
#include <functional>
#include <set>
#include <stop_token>
#include <string>
#include <vector>

#include "k8s-client/config.h"
#include "k8s-client/leader_election.h"
#include "k8s-client/rest_client.h"
#include "scheduler/cycle/cycle.h"
#include "scheduler/http/delegated_auth.h"
#include "scheduler/http/http_server.h"
#include "scheduler/loop/scheduler.h"
#include "scheduler/metrics/scheduler_metrics.h"
#include "scheduler/service/endpoints.h"
#include "scheduler/service/evictions.h"
#include "scheduler/service/inbox.h"
#include "scheduler/service/preflight.h"
#include "scheduler/service/reservations.h"
#include "scheduler/service/utilization_poller.h"

namespace fairway {

struct SchedulerOptions {
  std::string scheduler_name = "fairway";
  bool leader_elect = true;
  k8s::LeaderElectionConfig lease;
  double kube_api_qps = 50;
  int kube_api_burst = 100;
  std::chrono::milliseconds schedule_period{50};
  // How often discovery is read again for gang sources and DRA kinds (CRDs installed or removed,
  // an API server upgraded while the scheduler runs, scheduler/service/discovered_watches.h); 0:
  // only at start.
  std::chrono::milliseconds discovery_interval{std::chrono::seconds(30)};
  int bind_workers = 8;
  // How long a pod's claims may take to be bound (or provisioned) before its Binding
  // (--volume-bind-timeout; kube-scheduler's bindTimeoutSeconds).
  std::chrono::milliseconds volume_bind_timeout{std::chrono::seconds(600)};
  CycleOptions cycle;
  PodIntentConfig intent;
  UsageConfig usage;  // fair share over time: --usage-half-life, --usage-strength
  // DeviceClasses whose claimed devices charge queues as nvidia.com/gpu (--dra-gpu-device-classes).
  std::set<std::string, std::less<>> gpu_device_classes = StateConfig{}.gpu_device_classes;
  // /metrics, /healthz, /readyz, /debug/... (scheduler/service/endpoints.h); "" or "0": off.
  std::string metrics_bind_address = "127.0.0.1:8080";
  std::string health_probe_bind_address;  // "": probes only on the metrics address
  // The same pages over HTTPS with delegated authentication and authorisation, as
  // kube-scheduler's --bind-address/--secure-port serve them; "": off.
  std::string secure_bind_address;
  std::string tls_cert_file;  // both empty: self-signed in memory
  std::string tls_key_file;
  http::DelegatedAuthOptions secure_auth;  // --authorization-always-allow-paths
  bool debug_endpoints = true;
  bool per_node_metrics = true;     // fairway_node_* series (one per node)
  PreemptionOptions preemption;     // the background preempt/reclaim/consolidate pass
  ReservationOptions reservations;  // fractional GPUs (docs/gpu-sharing.md)
  UtilizationOptions utilization;   // GPU use from dcgm-exporter via Prometheus (utilization.md)
  // The mutating admission webhook (/mutate, HTTPS only); "" or "0": off. Served by every
  // replica, leader or not: it reads the state each replica keeps warm.
  std::string webhook_bind_address;
  std::string webhook_cert_file;
  std::string webhook_key_file;
  // Users (request.userInfo.username) the webhook does not judge: fairway's own service account,
  // which writes the fairway-assigned keys on pods.
  std::vector<std::string> webhook_trusted_users;
};

struct SchedulerStats {
  std::atomic<uint64_t> cycles{0};
  std::atomic<uint64_t> pods_bound{0};       // bindings handed to the actuator
  std::atomic<uint64_t> binds_completed{0};  // bindings the API server accepted
  // steady_clock nanoseconds of the first and latest accepted binding (0: none yet)
  std::atomic<int64_t> first_bind_ns{0};
  std::atomic<int64_t> last_bind_ns{0};
  std::atomic<uint64_t> events_applied{0};
  std::atomic<bool> synced{false};
  std::atomic<bool> leader{false};
};

class SchedulerService {
 public:
  // `clock`: the time of the loop, the workers' stamps and the bind metrics.
  SchedulerService(k8s::ClusterConfig cluster, SchedulerOptions options,
                   const Clock& clock = SystemClock::instance());

  // Blocks until `stop` is requested; returns the exit code.
  int run(std::stop_token stop);

  const SchedulerStats& stats() const { return stats_; }
  metrics::SchedulerMetrics& metrics() { return metrics_; }
  // Evictions by action, refusals, pass timings (scheduler/service/evictions.h).
  const EvictionStats& eviction_stats() const { return eviction_stats_; }
  const ReservationStats& reservation_stats() const { return reservation_stats_; }

 private:
  std::unique_ptr<http::Server> start_webhook(Inbox& inbox);
  std::unique_ptr<Endpoints> start_endpoints(Inbox& inbox, http::DelegatedAuth* secure_auth,
                                             Endpoints::Probes probes);
  std::unique_ptr<UtilizationMonitor> start_utilization(Inbox& inbox, Endpoints* endpoints);
  std::function<void(const Binding&, const std::string&)> forget_failed(Inbox& inbox);
  std::function<void(const Binding&)> count_bound();
  PreflightConfig preflight_config() const;
  std::function<void(const std::string&, const std::string&, int)> refusals_to(Inbox& inbox,
                                                                               Scheduler& scheduler,
                                                                               Evictor*& evictor);
  struct Edges;
  void loop(std::stop_token stop, Edges edges);
  void carry_out(Decisions& decisions, Edges& edges);

  k8s::ClusterConfig cluster_;
  const Clock& clock_;
  std::atomic<bool> webhook_stopping_{false};
  SchedulerOptions options_;
  SchedulerStats stats_;
  metrics::SchedulerMetrics metrics_;
  EvictionStats eviction_stats_;
  ReservationStats reservation_stats_;
  UtilizationStats utilization_stats_;
  // Loop thread: the time spent applying changes since the last cycle, and the latest
  // preemption pass's (negative: none ran), for the cycle's phase metrics.
  int64_t snapshot_ns_ = 0;
  int64_t plan_ns_ = -1;
};

}  // namespace fairway
