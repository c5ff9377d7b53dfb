#include "scheduler/utilization/gpu_utilization.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "scheduler/state/gpu_sharing.h"

namespace fairway {

void UtilizationTracker::add(const GpuSample& sample) {
  if (sample.pod.empty()) return;
  const bool utilization = sample.utilization_percent && std::isfinite(*sample.utilization_percent);
  const bool memory = sample.memory_used_mib && std::isfinite(*sample.memory_used_mib);
  if (!utilization && !memory) return;
  auto found = pods_.find(std::string_view(sample.pod));
  if (found == pods_.end()) found = pods_.emplace(sample.pod, Series{}).first;
  Series& series = found->second;
  if (std::find(series.gpus.begin(), series.gpus.end(), sample.gpu) == series.gpus.end()) {
    series.gpus.push_back(sample.gpu);
  }
  std::vector<Instant>& instants = series.instants;
  auto at = instants.end();
  if (instants.empty() || instants.back().at < sample.at) {
    at = instants.insert(instants.end(), Instant{.at = sample.at});
  } else {
    at = std::lower_bound(instants.begin(), instants.end(), sample.at,
                          [](const Instant& i, WallMs t) { return i.at < t; });
    if (at == instants.end() || at->at != sample.at)
      at = instants.insert(at, Instant{.at = sample.at});
  }
  if (utilization) {
    const double value = std::clamp(*sample.utilization_percent, 0.0, 100.0);
    at->utilization_sum += value;
    at->utilization_peak = std::max(at->utilization_peak, value);
    ++at->utilization_count;
  }
  if (memory) at->memory_peak = std::max(at->memory_peak, std::max(0.0, *sample.memory_used_mib));
}

void UtilizationTracker::prune(WallMs now) {
  const WallMs oldest = now - config_.window_ms;
  for (auto it = pods_.begin(); it != pods_.end();) {
    std::vector<Instant>& instants = it->second.instants;
    const auto first = std::lower_bound(instants.begin(), instants.end(), oldest,
                                        [](const Instant& i, WallMs t) { return i.at < t; });
    instants.erase(instants.begin(), first);
    it = instants.empty() ? pods_.erase(it) : std::next(it);
  }
}

std::optional<PodUtilization> UtilizationTracker::summarize(const Series& series) const {
  PodUtilization out;
  double sum = 0;
  size_t counted = 0;
  bool idle_run = true;  // walking back from the newest instant: still inside the idle run
  for (auto it = series.instants.rbegin(); it != series.instants.rend(); ++it) {
    out.peak_memory_mib = std::max(out.peak_memory_mib, it->memory_peak);
    if (it == series.instants.rbegin()) out.last_seen = it->at;
    out.first_seen = it->at;
    if (it->utilization_count == 0) continue;  // memory only: says nothing about compute
    sum += it->utilization_sum / it->utilization_count;
    ++counted;
    out.peak_percent = std::max(out.peak_percent, it->utilization_peak);
    if (idle_run && it->utilization_peak < config_.idle_below_percent) {
      out.idle_since = it->at;
    } else {
      idle_run = false;
    }
  }
  if (counted == 0) return std::nullopt;
  out.average_percent = sum / static_cast<double>(counted);
  out.gpus = series.gpus.size();
  return out;
}

PodUtilizations UtilizationTracker::summaries() const {
  PodUtilizations out;
  out.reserve(pods_.size());
  for (const auto& [key, series] : pods_) {
    if (auto usage = summarize(series)) out.emplace(key, *usage);
  }
  return out;
}

std::optional<PodUtilization> UtilizationTracker::pod(std::string_view key, WallMs now) const {
  const auto found = pods_.find(key);
  if (found == pods_.end()) return std::nullopt;
  auto usage = summarize(found->second);
  if (!usage || !current(*usage, config_, now)) return std::nullopt;
  return usage;
}

bool current(const PodUtilization& usage, const UtilizationConfig& config, WallMs now) {
  return now - usage.last_seen <= config.stale_after_ms;
}

bool idle(const PodUtilization& usage, const UtilizationConfig& config, WallMs now) {
  return current(usage, config, now) && usage.idle_since &&
         now - *usage.idle_since >= config.idle_after_ms;
}

namespace {

std::string_view label(const Labels& labels, std::string_view key) {
  const auto it = labels.find(std::string(key));
  return it == labels.end() ? std::string_view() : std::string_view(it->second);
}

// Shared GPUs: each group's reservation pod, whose series stand for every sharer of the group.
std::unordered_map<std::string_view, std::string> reservation_pods(const ClusterState& state) {
  std::unordered_map<std::string_view, std::string> out;
  for (const PodRecord& record : state.pods()) {
    if (!record.present || !record.reservation) continue;
    const std::string_view group = label(record.pod.labels, kGpuGroupLabel);
    if (!group.empty()) out.emplace(group, record.pod.namespace_ + "/" + record.pod.name);
  }
  return out;
}

}  // namespace

UtilizationReport utilization_report(const ClusterState& state, const PodUtilizations& pods,
                                     const UtilizationConfig& config, WallMs now) {
  const auto reservations = reservation_pods(state);
  // By queue name (the state's strings: no copies per pod), with Σ average × GPUs of its
  // measured pods.
  std::unordered_map<std::string_view, std::pair<QueueUtilization, double>> by_queue;
  UtilizationReport report;
  std::string key;  // reused: one allocation for the whole walk
  for (const PodRecord& record : state.pods()) {
    if (!record.present || !record.ours || !record.counted_bound || record.reservation) continue;
    const int64_t gpu_milli = record.requests[kGpu];
    if (gpu_milli <= 0) continue;
    const std::string& queue = state.jobs()[record.job].queue;
    auto& [q, used_milli] = by_queue[queue];
    q.allocated_gpu_milli += gpu_milli;
    key.assign(record.pod.namespace_).append("/").append(record.pod.name);
    // A sharer is measured through its group's reservation pod (its first group, when several).
    std::string_view measured = key;
    if (record.shared_gpu_milli > 0 && !record.gpu_groups.empty()) {
      const auto it = reservations.find(record.gpu_groups.front());
      if (it == reservations.end()) continue;
      measured = it->second;
    }
    const auto found = pods.find(measured);
    if (found == pods.end() || !current(found->second, config, now)) continue;
    const PodUtilization* usage = &found->second;
    q.measured_gpu_milli += gpu_milli;
    used_milli += usage->average_percent / 100.0 * static_cast<double>(gpu_milli);
    if (!idle(*usage, config, now)) continue;
    ++q.idle_pods;
    q.idle_gpu_milli += gpu_milli;
    IdleGpuPod idle_pod{.pod = key,
                        .queue = queue,
                        .node = record.node != kNoNode ? state.nodes()[record.node].node.name : "",
                        .gpu_milli = gpu_milli,
                        .usage = *usage,
                        .idle_ms = now - *usage->idle_since,
                        .frees_gpu_milli = gpu_milli - record.shared_gpu_milli};
    report.idle.push_back(std::move(idle_pod));
  }
  for (auto& [name, entry] : by_queue) {
    auto& [q, used_milli] = entry;
    q.queue = std::string(name);
    if (q.measured_gpu_milli > 0) {
      q.utilization_ratio = used_milli / static_cast<double>(q.measured_gpu_milli);
    }
    report.queues.push_back(std::move(q));
  }
  std::sort(report.queues.begin(), report.queues.end(),
            [](const QueueUtilization& a, const QueueUtilization& b) { return a.queue < b.queue; });
  std::sort(report.idle.begin(), report.idle.end(), [](const IdleGpuPod& a, const IdleGpuPod& b) {
    if (a.idle_ms != b.idle_ms) return a.idle_ms > b.idle_ms;
    return a.pod < b.pod;
  });
  return report;
}

const PodUtilization* utilization_of(const ClusterState& state, const PodRecord& pod,
                                     const PodUtilizations& pods) {
  std::string key = pod.pod.namespace_ + "/" + pod.pod.name;
  if (pod.shared_gpu_milli > 0 && !pod.gpu_groups.empty()) {
    const auto reservations = reservation_pods(state);
    const auto it = reservations.find(pod.gpu_groups.front());
    if (it == reservations.end()) return nullptr;
    key = it->second;
  }
  const auto found = pods.find(key);
  return found == pods.end() ? nullptr : &found->second;
}

std::string short_duration(WallMs ms) {
  const int64_t s = std::max<int64_t>(0, ms / 1000);
  if (s < 60) return fmt::format("{}s", s);
  if (s < 3600)
    return s % 60 == 0 ? fmt::format("{}m", s / 60) : fmt::format("{}m{}s", s / 60, s % 60);
  const int64_t m = (s / 60) % 60;
  if (s < 24 * 3600)
    return m == 0 ? fmt::format("{}h", s / 3600) : fmt::format("{}h{}m", s / 3600, m);
  const int64_t h = (s / 3600) % 24;
  return h == 0 ? fmt::format("{}d", s / 86400) : fmt::format("{}d{}h", s / 86400, h);
}

std::string describe_idle(const IdleGpuPod& pod, const UtilizationConfig& config) {
  // The span measured, not the configured window: a pod younger than the window has less.
  const WallMs span = std::min(pod.usage.last_seen - pod.usage.first_seen, config.window_ms);
  return fmt::format(
      "GPUs idle for {} (below {:g}% utilisation; average {:.0f}%, peak {:.0f}% over {})",
      short_duration(pod.idle_ms), config.idle_below_percent, pod.usage.average_percent,
      pod.usage.peak_percent, short_duration(span));
}

}  // namespace fairway
