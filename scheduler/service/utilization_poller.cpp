#include "scheduler/service/utilization_poller.h"

#include "scheduler/service/log.h"
#include "scheduler/utilization/prometheus_query.h"

namespace fairway {

std::unique_ptr<k8s::RestClient> prometheus_client(const UtilizationOptions& options) {
  k8s::ClusterConfig config;
  config.server = options.prometheus;
  while (config.server.ends_with('/')) config.server.pop_back();
  config.token_file = options.token_file;
  k8s::RestOptions rest;
  rest.qps = 10;  // two queries a period; the bucket only guards against a bug that loops
  rest.burst = 10;
  rest.pool_size = 1;
  rest.request_timeout = std::chrono::seconds(30);
  rest.max_retries_429 = 0;
  rest.user_agent = "fairway (utilization)";
  return std::make_unique<k8s::RestClient>(std::move(config), rest);
}

tl::expected<std::vector<GpuSample>, std::string> fetch_dcgm_samples(k8s::RestClient& client,
                                                                     std::string_view selector,
                                                                     WallMs from, WallMs to,
                                                                     WallMs step_ms,
                                                                     uint64_t* queries) {
  std::vector<GpuSample> samples;
  for (const auto& [query, field] : {std::pair{kDcgmUtilization, DcgmField::kUtilization},
                                     std::pair{kDcgmMemoryUsed, DcgmField::kMemoryUsed}}) {
    if (queries != nullptr) ++*queries;
    const auto response =
        client.get(range_query_path(dcgm_query(query, selector), from, to, step_ms));
    if (!response) return tl::unexpected("cannot reach Prometheus: " + response.error().message);
    auto decoded = decode_dcgm_samples(response->body, field);
    if (!decoded) {
      return tl::unexpected(response->ok() ? decoded.error()
                                           : "HTTP " + std::to_string(response->status) + ": " +
                                                 decoded.error());
    }
    samples.insert(samples.end(), std::make_move_iterator(decoded->begin()),
                   std::make_move_iterator(decoded->end()));
  }
  return samples;
}

UtilizationPoller::UtilizationPoller(UtilizationOptions options, Deliver deliver,
                                     std::function<WallMs()> now, UtilizationStats& stats)
    : options_(std::move(options)),
      deliver_(std::move(deliver)),
      now_(std::move(now)),
      stats_(stats),
      tracker_(options_.config),
      client_(prometheus_client(options_)) {
  thread_ = std::thread([this] { loop(); });
}

UtilizationPoller::~UtilizationPoller() {
  stop();
}

void UtilizationPoller::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  client_->stop();
  if (thread_.joinable()) thread_.join();
}

void UtilizationPoller::loop() {
  // The first poll looks back over the whole window; later ones from where the last ended.
  WallMs from = now_() - options_.config.window_ms;
  for (;;) {
    const WallMs to = now_();
    if (to > from && poll(from, to)) from = to;
    std::unique_lock lock(mutex_);
    wake_.wait_for(lock, options_.period, [this] { return stopping_; });
    if (stopping_) return;
  }
}

bool UtilizationPoller::poll(WallMs from, WallMs to) {
  // Steps of one period: the instants Prometheus evaluates, so each poll adds about one. The
  // range starts just after the last one ended: no instant is asked twice.
  const WallMs step = std::max<WallMs>(1000, options_.period.count());
  uint64_t queries = 0;
  auto samples =
      fetch_dcgm_samples(*client_, options_.series_selector, from + 1, to, step, &queries);
  stats_.queries += queries;
  if (!samples) {
    failed(samples.error());
    return false;
  }
  if (!last_error_.empty()) {
    log::info("Prometheus answers GPU utilization queries again",
              {{"prometheus", options_.prometheus}});
    last_error_.clear();
  }
  stats_.samples += samples->size();
  for (const GpuSample& sample : *samples) tracker_.add(sample);
  tracker_.prune(to);
  deliver_(tracker_.summaries());
  return true;
}

void UtilizationPoller::failed(const std::string& error) {
  ++stats_.failures;
  if (error == last_error_) return;  // said once; the failure counter goes on counting
  last_error_ = error;
  log::warn("GPU utilization query failed; pods are not judged idle while samples are missing",
            {{"prometheus", options_.prometheus}, {"error", error}});
}

UtilizationMonitor::UtilizationMonitor(const UtilizationOptions& options, Inbox& inbox,
                                       UtilizationStats& stats, std::function<WallMs()> now)
    : config_(options.config),
      idle_victims_first_(options.idle_victims_first),
      now_(now),
      poller_(
          options,
          [this, &inbox](PodUtilizations pods) {
            // Shared: the Inbox keeps its changes copyable, and this is never copied again.
            auto shared = std::make_shared<PodUtilizations>(std::move(pods));
            inbox.post([this, shared](ClusterState&) {
              latest_ = std::move(*shared);
              fresh_samples_ = true;
            });
          },
          now, stats) {}

void UtilizationMonitor::refresh(const ClusterState& state,
                                 std::chrono::steady_clock::time_point now) {
  if (!fresh_samples_ && now - last_refresh_ < kRefreshPeriod) return;
  fresh_samples_ = false;
  last_refresh_ = now;
  report_ = utilization_report(state, latest_, config_, now_());
  idle_gpu_pods_.clear();
  if (!idle_victims_first_) return;
  for (const IdleGpuPod& pod : report_.idle) {
    idle_gpu_pods_.emplace(pod.pod, describe_idle(pod, config_));
  }
}

}  // namespace fairway
