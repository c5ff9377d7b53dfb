#pragma once
// The scheduler's own HTTP endpoints (--metrics-bind-address, localhost by default: they carry no
// authentication, so they reach the network only when asked, as the chart does):
//   /metrics             Prometheus text: the registry, counters read from components' stats,
//                        and the cluster gauges of a snapshot taken on the loop thread;
//   /healthz             200 once every informer has synced (the process is alive and its
//                        caches are complete), else 503;
//   /readyz              200 "leader" or "standby" once synced (either can serve), then one
//                        "degraded: CHECK: DETAIL" line per failed optional preflight check;
//                        503 with the reasons while not synced or a required check fails
//                        (preflight.h);
//   /debug/queues        the queue tree with shares (JSON);
//   /debug/pods/NS/NAME  what fairway knows about a pod and every node's filter result, grouped
//                        into node classes (JSON; `fairway explain` renders it);
//                        not served with --debug-endpoints=false.
// --health-probe-bind-address serves /healthz and /readyz alone on a port of their own, for the
// kubelet, so the metrics and debug port can stay closed to everyone else.
// --secure-port serves the same pages over HTTPS, as kube-scheduler's port 10259 does: every
// request is authenticated and authorised by the API server (TokenReview, SubjectAccessReview:
// scheduler/http/delegated_auth.h) except --authorization-always-allow-paths (the probes). Its
// certificate comes from --tls-cert-file/--tls-private-key-file (reloaded when they change), or
// is self-signed in memory at start (scheduler/http/self_signed.h).
// Questions about the state go to the loop thread through the Inbox (Inbox::ask) and wait at
// most `loop_timeout` for the answer: the loop alone owns the ClusterState.

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <tl/expected.hpp>
#include <unordered_map>
#include <vector>

#include "scheduler/cycle/cycle.h"
#include "scheduler/http/delegated_auth.h"
#include "scheduler/http/http_server.h"
#include "scheduler/metrics/scheduler_metrics.h"
#include "scheduler/service/inbox.h"
#include "scheduler/service/preflight.h"
#include "scheduler/service/utilization_poller.h"

namespace fairway {

struct EndpointOptions {
  std::string bind_address = "127.0.0.1:8080";  // plain HTTP; "" or "0": none
  // /healthz and /readyz alone; "" or "0": no port of their own (bind_address serves them too).
  std::string probe_bind_address;
  // HTTPS with delegated authentication and authorisation; "": none. secure_auth must be set.
  std::string secure_bind_address;
  std::string tls_cert_file;  // both empty: a self-signed certificate made in memory
  std::string tls_key_file;
  http::DelegatedAuth* secure_auth = nullptr;
  bool debug = true;  // /debug/queues and /debug/pods/ on bind_address
  bool per_node_metrics = true;
  std::chrono::milliseconds loop_timeout{5000};
};

class Endpoints {
 public:
  struct Probes {
    std::function<bool()> synced;
    std::function<bool()> leader;
    std::function<std::vector<CheckResult>()> preflight;  // optional
  };
  Endpoints(EndpointOptions options, metrics::SchedulerMetrics& metrics, Inbox& inbox,
            Probes probes);
  ~Endpoints();

  tl::expected<void, std::string> start();
  void stop();
  uint16_t port() const { return server_ ? server_->port() : 0; }
  uint16_t secure_port() const { return secure_server_ ? secure_server_->port() : 0; }
  uint16_t probe_port() const { return probe_server_ ? probe_server_->port() : 0; }

  // The pending explanations last written, by pod key; read on the loop thread only.
  void set_explanations(const std::unordered_map<std::string, std::string>* explained) {
    explained_ = explained;
  }
  // The preemption pass's nominations; read on the loop thread only.
  void set_nominations(const std::vector<Nomination>* nominations) { nominations_ = nominations; }
  // GPU use (nullptr: off): the queues' series on /metrics, a pod's on /debug/pods; read on the
  // loop thread only.
  void set_utilization(const UtilizationMonitor* monitor) { utilization_ = monitor; }

 private:
  http::Response readyz_page();
  http::Response metrics_page();
  http::Response debug_queues_page();
  http::Response debug_pod_page(const http::Request& request);
  void add_probe_routes(http::Server& server);
  void add_routes(http::Server& server);
  tl::expected<void, std::string> start_secure();

  EndpointOptions options_;
  metrics::SchedulerMetrics& metrics_;
  Inbox& inbox_;
  Probes probes_;
  std::unique_ptr<http::Server> server_;
  std::unique_ptr<http::Server> secure_server_;
  std::unique_ptr<http::Server> probe_server_;
  std::atomic<bool> stopping_{false};
  const std::unordered_map<std::string, std::string>* explained_ = nullptr;
  const std::vector<Nomination>* nominations_ = nullptr;
  const UtilizationMonitor* utilization_ = nullptr;
};

}  // namespace fairway
