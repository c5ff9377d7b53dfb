#include "scheduler/service/endpoints.h"

#include <optional>

#include "scheduler/http/self_signed.h"
#include "scheduler/metrics/cluster_snapshot.h"
#include "scheduler/service/debug_views.h"

namespace fairway {
namespace {

std::string percent_decode(std::string_view text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size()) {
      out.push_back(static_cast<char>(std::stoi(std::string(text.substr(i + 1, 2)), nullptr, 16)));
      i += 2;
    } else {
      out.push_back(text[i]);
    }
  }
  return out;
}

}  // namespace

Endpoints::Endpoints(EndpointOptions options, metrics::SchedulerMetrics& metrics, Inbox& inbox,
                     Probes probes)
    : options_(std::move(options)), metrics_(metrics), inbox_(inbox), probes_(std::move(probes)) {
  if (!options_.bind_address.empty() && options_.bind_address != "0") {
    server_ =
        std::make_unique<http::Server>(http::ServerOptions{.bind_address = options_.bind_address});
    add_routes(*server_);
  }
  if (!options_.probe_bind_address.empty() && options_.probe_bind_address != "0") {
    probe_server_ = std::make_unique<http::Server>(
        http::ServerOptions{.bind_address = options_.probe_bind_address});
    add_probe_routes(*probe_server_);
  }
}

void Endpoints::add_routes(http::Server& server) {
  server.route("/metrics", [this](const http::Request&) { return metrics_page(); });
  add_probe_routes(server);
  if (options_.debug) {
    server.route("/debug/queues", [this](const http::Request&) { return debug_queues_page(); });
    server.route_prefix("/debug/pods/",
                        [this](const http::Request& request) { return debug_pod_page(request); });
  }
}

tl::expected<void, std::string> Endpoints::start_secure() {
  if (options_.secure_auth == nullptr) {
    return tl::unexpected(std::string("secure port: no authenticator"));
  }
  http::ServerOptions server{.bind_address = options_.secure_bind_address,
                             .tls_cert_file = options_.tls_cert_file,
                             .tls_key_file = options_.tls_key_file};
  if (options_.tls_cert_file.empty() && options_.tls_key_file.empty()) {
    auto generated = http::self_signed_certificate();
    if (!generated) return tl::unexpected(generated.error());
    server.tls_cert_pem = std::move(generated->certificate);
    server.tls_key_pem = std::move(generated->private_key);
  }
  http::DelegatedAuth* auth = options_.secure_auth;
  server.gate = [auth](const http::Request& request) { return auth->check(request); };
  secure_server_ = std::make_unique<http::Server>(std::move(server));
  add_routes(*secure_server_);
  if (auto started = secure_server_->start(); !started) {
    secure_server_.reset();
    return tl::unexpected("secure port: " + started.error());
  }
  return {};
}

void Endpoints::add_probe_routes(http::Server& server) {
  server.route("/healthz", [this](const http::Request&) {
    return probes_.synced() ? http::text(200, "ok\n") : http::text(503, "informers not synced\n");
  });
  server.route("/readyz", [this](const http::Request&) { return readyz_page(); });
}

Endpoints::~Endpoints() {
  stop();
}

tl::expected<void, std::string> Endpoints::start() {
  if (server_) {
    if (auto started = server_->start(); !started) return started;
  }
  if (!options_.secure_bind_address.empty()) {
    if (auto started = start_secure(); !started) return started;
  }
  if (probe_server_) {
    if (auto started = probe_server_->start(); !started) {
      return tl::unexpected("health probes: " + started.error());
    }
  }
  return {};
}

void Endpoints::stop() {
  stopping_ = true;
  if (server_) server_->stop();
  if (secure_server_) secure_server_->stop();
  if (probe_server_) probe_server_->stop();
}

http::Response Endpoints::readyz_page() {
  const auto checks = probes_.preflight ? probes_.preflight() : std::vector<CheckResult>{};
  std::string failed;
  std::string degraded;
  for (const CheckResult& check : checks) {
    if (check.pass) continue;
    (check.required ? failed : degraded) +=
        (check.required ? "" : "degraded: ") + check.name + ": " + check.detail + "\n";
  }
  if (!probes_.synced()) return http::text(503, "informers not synced\n" + failed);
  if (!failed.empty()) return http::text(503, "preflight failed:\n" + failed);
  return http::text(200, (probes_.leader() ? "leader\n" : "standby\n") + degraded);
}

http::Response Endpoints::metrics_page() {
  metrics_.set_ready(probes_.synced());
  metrics_.set_leader(probes_.leader());
  const bool per_node = options_.per_node_metrics;
  auto snapshot = ask_loop<metrics::ClusterSnapshot>(
      inbox_, stopping_, options_.loop_timeout, [this, per_node](ClusterState& state) {
        metrics::ClusterSnapshot taken = metrics::take_snapshot(state, per_node);
        if (utilization_ != nullptr) taken.gpu_utilization = utilization_->report()->queues;
        return taken;
      });
  http::Response response;
  response.content_type = "text/plain; version=0.0.4; charset=utf-8";
  // Without a snapshot (loop busy) the page still carries every counter and histogram.
  response.body = metrics_.scrape(snapshot ? metrics::snapshot_families(*snapshot)
                                           : std::vector<prometheus::MetricFamily>{});
  return response;
}

http::Response Endpoints::debug_queues_page() {
  auto snapshot = ask_loop<metrics::ClusterSnapshot>(
      inbox_, stopping_, options_.loop_timeout,
      [](ClusterState& state) { return metrics::take_snapshot(state, false); });
  if (!snapshot) return http::text(503, "the scheduling loop did not answer in time\n");
  return http::json(200, debug_queues(*snapshot).dump(2) + "\n");
}

http::Response Endpoints::debug_pod_page(const http::Request& request) {
  const std::string key = percent_decode(
      std::string_view(request.path).substr(std::string_view("/debug/pods/").size()));
  const auto slash = key.find('/');
  if (slash == std::string::npos || slash == 0 || slash + 1 == key.size() ||
      key.find('/', slash + 1) != std::string::npos) {
    return http::text(400, "expected /debug/pods/NAMESPACE/NAME\n");
  }
  auto answer = ask_loop<nlohmann::json>(
      inbox_, stopping_, options_.loop_timeout, [this, key](ClusterState& state) {
        std::string message;
        if (explained_ != nullptr) {
          if (auto it = explained_->find(key); it != explained_->end()) {
            message = it->second;
          }
        }
        nlohmann::json pod = debug_pod(state, key, message, nominations_);
        const PodRecord* record = state.find_pod(key);
        if (utilization_ != nullptr && record != nullptr && record->counted_bound) {
          if (const auto* usage = utilization_of(state, *record, utilization_->pods())) {
            add_gpu_use(pod, *usage, utilization_->config(), utilization_->now());
          }
        }
        return pod;
      });
  if (!answer) return http::text(503, "the scheduling loop did not answer in time\n");
  if (answer->is_null())
    return http::json(404, nlohmann::json{{"pod", key}, {"error", "pod not found"}}.dump() + "\n");
  return http::json(200, answer->dump(2) + "\n");
}

}  // namespace fairway
