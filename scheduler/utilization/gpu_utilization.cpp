#include "scheduler/utilization/gpu_utilization.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "scheduler/state/gpu_sharing.h"

namespace fairway {

void UtilizationTracker::add(const GpuSample& sample) {
  if (sample.pod.empty()) return;
  Reading& reading = pods_[sample.pod][sample.at][sample.gpu];
  if (sample.utilization_percent && std::isfinite(*sample.utilization_percent)) {
    reading.utilization = std::clamp(*sample.utilization_percent, 0.0, 100.0);
  }
  if (sample.memory_used_mib && std::isfinite(*sample.memory_used_mib)) {
    reading.memory = std::max(0.0, *sample.memory_used_mib);
  }
}

void UtilizationTracker::prune(WallMs now) {
  const WallMs oldest = now - config_.window_ms;
  for (auto it = pods_.begin(); it != pods_.end();) {
    Instants& instants = it->second;
    instants.erase(instants.begin(), instants.lower_bound(oldest));
    it = instants.empty() ? pods_.erase(it) : std::next(it);
  }
}

std::optional<PodUtilization> UtilizationTracker::pod(std::string_view key, WallMs now) const {
  const auto found = pods_.find(std::string(key));
  if (found == pods_.end()) return std::nullopt;
  const WallMs oldest = now - config_.window_ms;
  PodUtilization out;
  double sum = 0;
  size_t counted = 0;
  std::vector<std::string_view> gpus;
  bool idle_run = true;  // walking back from the newest instant: still inside the idle run
  const Instants& instants = found->second;
  for (auto it = instants.rbegin(); it != instants.rend() && it->first >= oldest; ++it) {
    double instant_sum = 0;
    double instant_peak = 0;
    size_t with_utilization = 0;
    for (const auto& [gpu, reading] : it->second) {
      if (std::find(gpus.begin(), gpus.end(), gpu) == gpus.end()) gpus.push_back(gpu);
      if (reading.memory) out.peak_memory_mib = std::max(out.peak_memory_mib, *reading.memory);
      if (!reading.utilization) continue;
      instant_sum += *reading.utilization;
      instant_peak = std::max(instant_peak, *reading.utilization);
      ++with_utilization;
    }
    if (out.last_seen == 0) out.last_seen = it->first;
    out.first_seen = it->first;
    if (with_utilization == 0) continue;  // memory only: says nothing about compute
    sum += instant_sum / static_cast<double>(with_utilization);
    ++counted;
    out.peak_percent = std::max(out.peak_percent, instant_peak);
    if (idle_run && instant_peak < config_.idle_below_percent) {
      out.idle_since = it->first;
    } else {
      idle_run = false;
    }
  }
  if (counted == 0 || now - out.last_seen > config_.stale_after_ms) return std::nullopt;
  out.average_percent = sum / static_cast<double>(counted);
  out.gpus = gpus.size();
  return out;
}

bool UtilizationTracker::idle(const PodUtilization& usage, WallMs now) const {
  return usage.idle_since && now - *usage.idle_since >= config_.idle_after_ms;
}

std::vector<std::string> UtilizationTracker::pods() const {
  std::vector<std::string> out;
  out.reserve(pods_.size());
  for (const auto& [pod, instants] : pods_) out.push_back(pod);
  std::sort(out.begin(), out.end());
  return out;
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

UtilizationReport utilization_report(const ClusterState& state, const UtilizationTracker& tracker,
                                     WallMs now) {
  const auto reservations = reservation_pods(state);
  std::map<std::string, QueueUtilization> by_queue;
  std::map<std::string, double> used_milli;  // by queue: Σ average × GPUs of measured pods
  UtilizationReport report;
  for (const PodRecord& record : state.pods()) {
    if (!record.present || !record.ours || !record.counted_bound || record.reservation) continue;
    const int64_t gpu_milli = record.requests[kGpu];
    if (gpu_milli <= 0) continue;
    const std::string& queue = state.jobs()[record.job].queue;
    QueueUtilization& q = by_queue[queue];
    q.queue = queue;
    q.allocated_gpu_milli += gpu_milli;
    const std::string key = record.pod.namespace_ + "/" + record.pod.name;
    // A sharer is measured through its group's reservation pod (its first group, when several).
    std::string measured = key;
    if (record.shared_gpu_milli > 0 && !record.gpu_groups.empty()) {
      const auto it = reservations.find(record.gpu_groups.front());
      if (it == reservations.end()) continue;
      measured = it->second;
    }
    const std::optional<PodUtilization> usage = tracker.pod(measured, now);
    if (!usage) continue;
    q.measured_gpu_milli += gpu_milli;
    used_milli[queue] += usage->average_percent / 100.0 * static_cast<double>(gpu_milli);
    if (!tracker.idle(*usage, now)) continue;
    ++q.idle_pods;
    q.idle_gpu_milli += gpu_milli;
    IdleGpuPod idle{.pod = key,
                    .queue = queue,
                    .node = record.node != kNoNode ? state.nodes()[record.node].node.name : "",
                    .gpu_milli = gpu_milli,
                    .usage = *usage,
                    .idle_ms = now - *usage->idle_since,
                    .frees_gpu_milli = gpu_milli - record.shared_gpu_milli};
    report.idle.push_back(std::move(idle));
  }
  for (auto& [name, q] : by_queue) {
    if (q.measured_gpu_milli > 0) {
      q.utilization_ratio = used_milli[name] / static_cast<double>(q.measured_gpu_milli);
    }
    report.queues.push_back(std::move(q));
  }
  std::sort(report.idle.begin(), report.idle.end(), [](const IdleGpuPod& a, const IdleGpuPod& b) {
    if (a.idle_ms != b.idle_ms) return a.idle_ms > b.idle_ms;
    return a.pod < b.pod;
  });
  return report;
}

std::string short_duration(WallMs ms) {
  const int64_t s = std::max<int64_t>(0, ms / 1000);
  if (s < 60) return fmt::format("{}s", s);
  if (s < 3600) return s % 60 == 0 ? fmt::format("{}m", s / 60) : fmt::format("{}m{}s", s / 60, s % 60);
  const int64_t m = (s / 60) % 60;
  if (s < 24 * 3600) return m == 0 ? fmt::format("{}h", s / 3600) : fmt::format("{}h{}m", s / 3600, m);
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
