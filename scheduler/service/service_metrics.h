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
#include "scheduler/service/evictions.h"
#include "scheduler/service/reservations.h"
#include "scheduler/service/utilization_poller.h"

namespace fairway {

inline constexpr const char* kInformerSources = "informers";
inline constexpr const char* kActuatorSources = "actuator";
inline constexpr const char* kPreemptionSources = "preemption";
inline constexpr const char* kReservationSources = "reservations";
inline constexpr const char* kUtilizationSources = "utilization";

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
          "Events not written because their object had too many of that reason recently.",
          &stats.events_dropped);
  counter("fairway_status_writes_total",
          "Status writes (pod conditions, Queue and PodGroup status) accepted.",
          &stats.status_writes);
}

// fairway_evictions_total{action} and the pass's refusals, from the Evictor's stats.
inline void add_preemption_sources(metrics::SchedulerMetrics& metrics, const EvictionStats& stats) {
  auto add = [&metrics](const char* name, const char* help,
                        std::vector<std::pair<std::string, std::string>> labels,
                        const std::atomic<uint64_t>* value) {
    metrics.add_source(kPreemptionSources, {name, help, true, std::move(labels), [value] {
                                              return static_cast<double>(value->load());
                                            }});
  };
  const char* evictions =
      "Pods evicted by the background pass, by action (preempt, reclaim, consolidate, stale-gang).";
  add("fairway_evictions_total", evictions, {{"action", "preempt"}}, &stats.preempt_evictions);
  add("fairway_evictions_total", evictions, {{"action", "reclaim"}}, &stats.reclaim_evictions);
  add("fairway_evictions_total", evictions, {{"action", "consolidate"}},
      &stats.consolidate_evictions);
  add("fairway_evictions_total", evictions, {{"action", "stale-gang"}},
      &stats.stale_gang_evictions);
  add("fairway_eviction_refusals_total",
      "Evictions the API server refused with 429 (a PodDisruptionBudget); the plan is dropped.", {},
      &stats.refused);
  add("fairway_eviction_errors_total", "Eviction requests that failed otherwise.", {},
      &stats.errors);
  add("fairway_preemption_plans_total", "Plans the background pass committed to.", {},
      &stats.plans);
}

// Reservation pods (one per shared GPU) and the fractional-GPU path's failures.
inline void add_reservation_sources(metrics::SchedulerMetrics& metrics,
                                    const ReservationStats& stats) {
  auto add = [&metrics](const char* name, const char* help, const std::atomic<uint64_t>* value) {
    metrics.add_source(kReservationSources, {name, help, true, {}, [value] {
                                               return static_cast<double>(value->load());
                                             }});
  };
  add("fairway_reservation_pods_created_total", "GPU reservation pods created (new shared GPUs).",
      &stats.reservations_created);
  add("fairway_reservation_pods_deleted_total",
      "GPU reservation pods deleted (last sharer gone, or orphans).", &stats.reservations_deleted);
  add("fairway_reservation_rollbacks_total",
      "Fractional placements rolled back (no GPU UUID in time, ConfigMap or bind failed).",
      &stats.rollbacks);
  add("fairway_reservation_uuid_timeouts_total",
      "Reservation pods that did not report their GPU UUID in time.", &stats.uuid_timeouts);
  add("fairway_shared_gpu_binds_total", "Fractional pods bound onto shared GPUs.",
      &stats.shared_binds);
}

// The Prometheus queries for GPU utilisation (--utilization-prometheus).
inline void add_utilization_sources(metrics::SchedulerMetrics& metrics,
                                    const UtilizationStats& stats) {
  auto add = [&metrics](const char* name, const char* help, const std::atomic<uint64_t>* value) {
    metrics.add_source(kUtilizationSources, {name, help, true, {}, [value] {
                                               return static_cast<double>(value->load());
                                             }});
  };
  add("fairway_utilization_queries_total", "Range queries sent to --utilization-prometheus.",
      &stats.queries);
  add("fairway_utilization_query_failures_total",
      "Polls that failed: Prometheus unreachable or answering with an error.", &stats.failures);
  add("fairway_utilization_samples_total", "dcgm-exporter samples read from Prometheus.",
      &stats.samples);
}

}  // namespace fairway
