#pragma once
// What a simulation run means for people (text) and for tests and scripts (JSON).
//
// The report reads a finished SimResult; it never touches the driver or the state, so the same
// report works for any driver that fills a SimResult (in-process today, over an embedded API
// server later).
//
// Definitions used throughout:
//   - wait time: arrival → the job's last pod bound; jobs never fully bound are not counted;
//   - percentiles: nearest rank (the smallest wait with at least p% of waits at or below it);
//   - averages over time: samples are piecewise constant, each weighted by how long it held,
//     from the first sample to the end of the run.

#include <cstddef>
#include <iosfwd>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <vector>

#include "sim/driver.h"

namespace fairway::sim {

struct WaitStats {
  size_t count = 0;
  double p50 = 0;  // seconds
  double p90 = 0;
  double p99 = 0;
  double max = 0;
};

// Nearest-rank percentile (0 < p <= 100) of `values`, which need not be sorted; 0 when empty.
double percentile(std::vector<double> values, double p);
WaitStats wait_stats(std::vector<double> waits_seconds);

struct QueueSummary {
  QueueInfo queue;
  size_t jobs = 0;  // jobs of the queue's subtree
  size_t completed = 0;
  WaitStats wait;  // over the subtree's jobs
  double avg_fair_share_gpu = 0;
  double avg_allocated_gpu = 0;
};

struct SimSummary {
  size_t jobs = 0;
  size_t completed = 0;
  size_t evicted = 0;  // ended because fairway evicted every pod of them
  size_t running = 0;  // bound, not finished when the run stopped
  size_t pending = 0;  // not (fully) bound when the run stopped
  WaitStats wait;
  std::vector<QueueSummary> queues;  // in SimResult::queues order
  double avg_utilization = 0;        // 0..1 of GPU capacity
  double peak_utilization = 0;
};

SimSummary summarize(const SimResult& result);

// The evictions of a run for one waiting queue by one action (e.g. every reclaim for
// "production"): which pods went, from which queues, and when the waiting queue reached its fair
// share of GPUs (its allocation at or above its fair share, from the first eviction on).
struct EvictionSummary {
  std::string action;
  std::string for_queue;                   // empty for stale-gang evictions
  std::vector<const Eviction*> evictions;  // into SimResult::evictions, in time order
  std::vector<std::string> from_queues;    // the victims' leaf queues, sorted
  TimeMs first_ms = 0;
  TimeMs last_ms = 0;
  std::optional<TimeMs> share_reached_ms;
  double fair_share_gpu = 0;  // the waiting queue's, when it reached it
};

// Grouped by action and waiting queue, in order of the first eviction.
std::vector<EvictionSummary> summarize_evictions(const SimResult& result);

struct ReportOptions {
  // Live table interval; unset: the scenario's reportEverySeconds, else about ten tables.
  std::optional<TimeMs> every_ms;
  size_t pending_shown = 5;    // how many still-pending jobs the summary explains
  size_t evictions_shown = 8;  // evicted pods listed per EvictionSummary
};

// The interval the live table uses for `result` under `options`.
TimeMs report_interval(const SimResult& result, const ReportOptions& options);

// One queue table: the queues of `result` at `sample`, labelled with `time_ms`.
void write_table(std::ostream& out, const SimResult& result, const Sample& sample, TimeMs time_ms);
// The queue table at every interval from 0 to the end of the run.
void write_timeline(std::ostream& out, const SimResult& result, const ReportOptions& options);
// The final summary.
void write_summary(std::ostream& out, const SimResult& result, const ReportOptions& options);
// Header, timeline and summary: what `fairway sim` prints.
void write_text_report(std::ostream& out, const SimResult& result, const ReportOptions& options);

// The summary (and the timeline at the report interval, and every job's outcome) as JSON.
nlohmann::json json_report(const SimResult& result, const ReportOptions& options);

// "m:ss", or "h:mm:ss" from an hour on.
std::string format_clock(TimeMs time_ms);
// Simulated milliseconds as seconds.
double seconds(TimeMs ms);

}  // namespace fairway::sim
