#pragma once
// Counters that live in other components' std::atomic stats, exposed as metrics read at scrape
// time (metrics::Source): informer health per watched resource, and the actuator's writes.
// Callers remove them (SchedulerMetrics::remove_sources with the owner named here) before the
// components go away.

#include <string>
#include <utility>
#include <vector>

#include "k8s-client/reflector.h"
#include "scheduler/metrics/scheduler_metrics.h"
#include "scheduler/service/actuator.h"

namespace fairway {

inline constexpr const char* kInformerSources = "informers";
inline constexpr const char* kActuatorSources = "actuator";

template <typename... Reflectors>
void add_informer_sources(metrics::SchedulerMetrics& metrics, const Reflectors&... reflectors) {
  auto add = [&metrics](const auto& reflector) {
    const k8s::ReflectorStats* stats = &reflector.stats();
    const std::vector<std::pair<std::string, std::string>> labels = {
        {"resource", reflector.resource()}};
    auto counter = [&](const char* name, const char* help, auto read) {
      metrics.add_source(kInformerSources, {name, help, true, labels, std::move(read)});
    };
    counter("fairway_watch_restarts_total", "Watches re-opened after the first, by resource.",
            [stats] { return static_cast<double>(stats->watch_restarts.load()); });
    counter("fairway_relists_total",
            "Full re-lists after the initial list (410 Gone, broken streams), by resource.",
            [stats] {
              const auto lists = stats->lists.load();
              return static_cast<double>(lists > 0 ? lists - 1 : 0);
            });
    counter("fairway_watch_events_total", "Watch events received, by resource.",
            [stats] { return static_cast<double>(stats->events.load()); });
    counter("fairway_decode_errors_total",
            "Objects that could not be decoded and were skipped, by resource.",
            [stats] { return static_cast<double>(stats->decode_errors.load()); });
  };
  (add(reflectors), ...);
}

inline void add_actuator_sources(metrics::SchedulerMetrics& metrics, const ActuatorStats& stats) {
  auto counter = [&metrics](const char* name, const char* help,
                            const std::atomic<uint64_t>* value) {
    metrics.add_source(kActuatorSources, {name, help, true, {}, [value] {
                                            return static_cast<double>(value->load());
                                          }});
  };
  counter("fairway_events_total", "Kubernetes Events written.", &stats.events);
  counter("fairway_events_dropped_total",
          "Events not written because their object had too many recently.", &stats.events_dropped);
  counter("fairway_status_writes_total",
          "Status writes (pod conditions, Queue and PodGroup status) accepted.",
          &stats.status_writes);
}

}  // namespace fairway
