#include "scheduler/metrics/scheduler_metrics.h"

#include <prometheus/text_serializer.h>

#include <algorithm>

namespace fairway::metrics {
namespace {

const prometheus::Histogram::BucketBoundaries kPodLatencyBuckets = {
    0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600};
const prometheus::Histogram::BucketBoundaries kCycleBuckets = {
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5};
const prometheus::Histogram::BucketBoundaries kRequestBuckets = {
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};

constexpr const char* kAttemptResultNames[] = {"scheduled", "unschedulable", "error"};
constexpr const char* kPhaseNames[] = {"snapshot", "fairshare", "allocate", "plan", "bind"};

double seconds(std::chrono::nanoseconds duration) {
  return std::chrono::duration<double>(duration).count();
}

// Observes `value` `count` times in one update (ObserveMultiple), O(buckets) whatever the count.
void observe_times(prometheus::Histogram& histogram,
                   const prometheus::Histogram::BucketBoundaries& bounds, double value,
                   uint64_t count) {
  if (count == 0) return;
  std::vector<double> increments(bounds.size() + 1, 0.0);
  const auto bucket =
      static_cast<size_t>(std::lower_bound(bounds.begin(), bounds.end(), value) - bounds.begin());
  increments[bucket] = static_cast<double>(count);
  histogram.ObserveMultiple(increments, value * static_cast<double>(count));
}

std::vector<std::string_view> split_path(std::string_view path) {
  std::vector<std::string_view> parts;
  while (!path.empty()) {
    const auto slash = path.find('/');
    if (slash != 0) parts.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return parts;
}

}  // namespace

AttemptResult attempt_result(PendingReason reason) {
  switch (reason) {
    case PendingReason::kQueueInvalid:
    case PendingReason::kInvalidPod:
      return AttemptResult::kError;
    default:
      return AttemptResult::kUnschedulable;
  }
}

ApiTarget classify_request(std::string_view verb, std::string_view path) {
  const auto parts = split_path(path);
  size_t start = 0;
  if (parts.size() >= 2 && parts[0] == "api")
    start = 2;
  else if (parts.size() >= 3 && parts[0] == "apis")
    start = 3;
  else
    return {std::string(verb), "other"};
  std::vector<std::string_view> rest(parts.begin() + static_cast<std::ptrdiff_t>(start),
                                     parts.end());
  if (rest.size() >= 3 && rest[0] == "namespaces") rest.erase(rest.begin(), rest.begin() + 2);
  if (rest.empty()) return {std::string(verb), "discovery"};
  ApiTarget target{std::string(verb), std::string(rest[0])};
  if (rest.size() >= 3) target.resource += "/" + std::string(rest[2]);
  if (verb == "GET" && rest.size() == 1) target.verb = "LIST";
  return target;
}

SchedulerMetrics::SchedulerMetrics(MetricsOptions options)
    : options_(std::move(options)), registry_(std::make_shared<prometheus::Registry>()) {
  using prometheus::BuildCounter;
  using prometheus::BuildGauge;
  using prometheus::BuildHistogram;
  auto& r = *registry_;
  pod_latency_ = &BuildHistogram()
                      .Name("fairway_pod_scheduling_duration_seconds")
                      .Help("Pod end-to-end scheduling latency: creation to the accepted binding.")
                      .Register(r);
  pod_latency_all_ = &pod_latency_->Add({}, kPodLatencyBuckets);
  attempt_latency_ =
      &BuildHistogram()
           .Name("fairway_scheduling_attempt_duration_seconds")
           .Help(
               "Time from the start of a cycle to its decision, once per job attempted, by result.")
           .Register(r);
  phase_latency_ = &BuildHistogram()
                        .Name("fairway_scheduling_cycle_phase_duration_seconds")
                        .Help("Duration of each phase of a scheduling cycle.")
                        .Register(r);
  attempts_ =
      &BuildCounter()
           .Name("fairway_schedule_attempts_total")
           .Help(
               "Jobs attempted in scheduling cycles, by result (scheduled, unschedulable, error).")
           .Register(r);
  cycles_ = &BuildCounter()
                 .Name("fairway_scheduling_cycles_total")
                 .Help("Scheduling cycles run.")
                 .Register(r);
  api_requests_ = &BuildCounter()
                       .Name("fairway_api_requests_total")
                       .Help(
                           "Requests to the Kubernetes API server, by verb, resource and HTTP code "
                           "(0: transport error).")
                       .Register(r);
  api_errors_ = &BuildCounter()
                     .Name("fairway_api_errors_total")
                     .Help(
                         "Failed requests to the Kubernetes API server (HTTP 4xx/5xx, 0: transport "
                         "error), by verb, resource and code.")
                     .Register(r);
  bind_latency_ = &BuildHistogram()
                       .Name("fairway_bind_duration_seconds")
                       .Help("Latency of pods/binding API calls.")
                       .Register(r);
  binds_ = &BuildCounter()
                .Name("fairway_binds_total")
                .Help("Bindings the API server accepted.")
                .Register(r);
  bind_errors_ =
      &BuildCounter()
           .Name("fairway_bind_errors_total")
           .Help(
               "Binding calls that failed, by HTTP code (0: transport error; 409: already bound).")
           .Register(r);
  leader_ = &BuildGauge()
                 .Name("fairway_leader")
                 .Help("1 when this replica holds the lease and schedules.")
                 .Register(r);
  ready_ = &BuildGauge()
                .Name("fairway_informers_synced")
                .Help("1 once every informer completed its initial list.")
                .Register(r);
  auto& build =
      BuildGauge().Name("fairway_build_info").Help("Build information; always 1.").Register(r);
  build.Add({{"version", options_.version}}).Set(1);

  for (const char* phase : kPhaseNames) {
    phase_children_.emplace(phase, &phase_latency_->Add({{"phase", phase}}, kCycleBuckets));
  }
  for (const char* result : kAttemptResultNames) {
    attempt_children_.push_back(&attempts_->Add({{"result", result}}));
    attempt_latency_children_.push_back(
        &attempt_latency_->Add({{"result", result}}, kCycleBuckets));
  }
  cycles_total_ = &cycles_->Add({});
  bind_latency_all_ = &bind_latency_->Add({}, kRequestBuckets);
  binds_total_ = &binds_->Add({});
  leader_gauge_ = &leader_->Add({});
  ready_gauge_ = &ready_->Add({});
}

void SchedulerMetrics::observe_cycle(const CycleResult& result, const CyclePhases& phases) {
  cycles_total_->Increment();
  auto phase = [this](const char* name, std::chrono::nanoseconds duration) {
    if (duration.count() >= 0) phase_children_.find(name)->second->Observe(seconds(duration));
  };
  phase("snapshot", phases.snapshot);
  phase("fairshare", phases.fairshare);
  phase("allocate", phases.allocate);
  phase("plan", phases.plan);
  phase("bind", phases.bind);

  uint64_t by_result[3] = {result.stats.jobs_scheduled, 0, 0};
  for (const PendingJob& job : result.pending)
    ++by_result[static_cast<size_t>(attempt_result(job.reason))];
  const double decided = seconds(phases.fairshare + phases.allocate);
  for (size_t i = 0; i < 3; ++i) {
    if (by_result[i] == 0) continue;
    attempt_children_[i]->Increment(static_cast<double>(by_result[i]));
    observe_times(*attempt_latency_children_[i], kCycleBuckets, decided, by_result[i]);
  }
}

void SchedulerMetrics::observe_pod_scheduled(double seconds_since_creation) {
  pod_latency_all_->Observe(std::max(seconds_since_creation, 0.0));
}

void SchedulerMetrics::observe_api_request(std::string_view verb, std::string_view path, int code,
                                           std::chrono::nanoseconds latency) {
  const ApiTarget target = classify_request(verb, path);
  // Family::Add returns the existing child for known labels (a hash lookup under its mutex).
  api_requests_
      ->Add({{"verb", target.verb}, {"resource", target.resource}, {"code", std::to_string(code)}})
      .Increment();
  if (code == 0 || code >= 400) {
    api_errors_
        ->Add(
            {{"verb", target.verb}, {"resource", target.resource}, {"code", std::to_string(code)}})
        .Increment();
  }
  if (target.resource != "pods/binding" || target.verb != "POST") return;
  bind_latency_all_->Observe(seconds(latency));
  if (code >= 200 && code < 300)
    binds_total_->Increment();
  else
    bind_errors_->Add({{"code", std::to_string(code)}}).Increment();
}

void SchedulerMetrics::set_leader(bool leader) {
  leader_gauge_->Set(leader ? 1 : 0);
}
void SchedulerMetrics::set_ready(bool synced) {
  ready_gauge_->Set(synced ? 1 : 0);
}

void SchedulerMetrics::add_source(std::string owner, Source source) {
  std::lock_guard lock(sources_mutex_);
  sources_.emplace(std::move(owner), std::move(source));
}

void SchedulerMetrics::remove_sources(std::string_view owner) {
  std::lock_guard lock(sources_mutex_);
  const auto [first, last] = sources_.equal_range(owner);
  sources_.erase(first, last);
}

std::string SchedulerMetrics::scrape(std::vector<prometheus::MetricFamily> extra) const {
  std::vector<prometheus::MetricFamily> families = registry_->Collect();
  {
    // Sources with the same name form one family (e.g. one series per watched resource).
    std::lock_guard lock(sources_mutex_);
    std::map<std::string, size_t> index;
    for (const auto& [owner, source] : sources_) {
      auto [it, added] = index.try_emplace(source.name, families.size());
      if (added) {
        prometheus::MetricFamily family;
        family.name = source.name;
        family.help = source.help;
        family.type =
            source.counter ? prometheus::MetricType::Counter : prometheus::MetricType::Gauge;
        families.push_back(std::move(family));
      }
      prometheus::ClientMetric metric;
      for (const auto& [name, value] : source.labels) metric.label.push_back({name, value});
      const double value = source.read();
      if (source.counter)
        metric.counter.value = value;
      else
        metric.gauge.value = value;
      families[it->second].metric.push_back(std::move(metric));
    }
  }
  for (auto& family : extra) families.push_back(std::move(family));
  return prometheus::TextSerializer().Serialize(families);
}

}  // namespace fairway::metrics
