#include "sim/report.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <ostream>
#include <unordered_map>

namespace fairway::sim {
namespace {

constexpr double kMsPerSecond = 1000.0;
constexpr size_t kTargetTables = 10;

// The sample in force at `time`: the last one taken at or before it.
const Sample* sample_at(const SimResult& result, TimeMs time) {
  auto it = std::upper_bound(result.samples.begin(), result.samples.end(), time,
                             [](TimeMs t, const Sample& s) { return t < s.time_ms; });
  if (it == result.samples.begin()) return nullptr;
  return &*std::prev(it);
}

// How long each sample held, clipped to the end of the run.
std::vector<double> sample_weights(const SimResult& result) {
  std::vector<double> weights(result.samples.size(), 0);
  for (size_t i = 0; i < result.samples.size(); ++i) {
    const TimeMs from = result.samples[i].time_ms;
    const TimeMs to = i + 1 < result.samples.size() ? result.samples[i + 1].time_ms : result.end_ms;
    weights[i] = seconds(std::max<TimeMs>(0, std::min(to, result.end_ms) - from));
  }
  return weights;
}

// Indices into SimResult::queues of each queue's subtree, itself included.
std::vector<std::vector<size_t>> subtrees(const std::vector<QueueInfo>& queues) {
  std::unordered_map<std::string, size_t> by_name;
  for (size_t i = 0; i < queues.size(); ++i) by_name.emplace(queues[i].name, i);
  std::vector<std::vector<size_t>> members(queues.size());
  for (size_t i = 0; i < queues.size(); ++i) {
    for (auto it = by_name.find(queues[i].name); it != by_name.end();
         it = by_name.find(queues[it->second].parent)) {
      members[it->second].push_back(i);
    }
  }
  return members;
}

std::string indented(const QueueInfo& queue) {
  return std::string(2 * static_cast<size_t>(queue.depth), ' ') + queue.name;
}

size_t queue_column_width(const std::vector<QueueInfo>& queues, size_t minimum) {
  size_t width = minimum;
  for (const QueueInfo& queue : queues) width = std::max(width, indented(queue).size());
  return width + 2;
}

std::string percent(double fraction) {
  return fmt::format("{:.1f}%", 100.0 * fraction);
}

nlohmann::json wait_json(const WaitStats& stats) {
  return {{"count", stats.count},
          {"p50", stats.p50},
          {"p90", stats.p90},
          {"p99", stats.p99},
          {"max", stats.max}};
}

// Whether every pod of a job was bound in one cycle, a gang's all-or-nothing: in-process in the
// same tick; live, seen by the driver within one cycle period of each other.
bool bound_together(const JobOutcome& job, TimeMs cycle_period_ms) {
  return job.first_bound_ms && job.started_ms &&
         *job.started_ms - *job.first_bound_ms < cycle_period_ms;
}

// One row per job stream whose pods form a group: how fairway found it (the pods' annotation,
// or inferred from their workload), its minMember, and whether its pods were bound together.
void write_gangs(std::ostream& out, const SimResult& result) {
  struct Row {
    std::string name;
    const JobOutcome* first = nullptr;
    size_t jobs = 0;
    size_t together = 0;
    size_t started = 0;
  };
  std::vector<Row> rows;
  std::vector<size_t> row_of_stream;
  for (const JobOutcome& job : result.jobs) {
    if (job.gang.empty()) continue;
    if (job.stream >= row_of_stream.size()) row_of_stream.resize(job.stream + 1, SIZE_MAX);
    size_t& row = row_of_stream[job.stream];
    if (row == SIZE_MAX) {
      row = rows.size();
      rows.push_back({job.name, &job});
    }
    ++rows[row].jobs;
    if (job.started_ms) ++rows[row].started;
    if (bound_together(job, result.cycle_period_ms)) ++rows[row].together;
  }
  if (rows.empty()) return;
  size_t width = 13;
  for (Row& row : rows) {
    // A stream of several jobs names them <stream>-1, -2, ...: one row for the stream.
    if (row.jobs > 1 && row.name.ends_with("-1")) row.name.resize(row.name.size() - 2);
    if (row.jobs > 1) row.name += fmt::format(" ({} jobs)", row.jobs);
    width = std::max(width, row.name.size() + 2);
  }
  out << fmt::format("\n  {:<{}}{:>5}{:>10}  {:<10}{}\n", "gangs", width, "pods", "minMember",
                     "bound", "source");
  for (const Row& row : rows) {
    const std::string bound = row.started == 0              ? "-"
                              : row.together == row.started ? "together"
                                                            : "apart";
    out << fmt::format("  {:<{}}{:>5}{:>10}  {:<10}{}\n", row.name, width, row.first->pods,
                       row.first->min_member, bound, row.first->gang);
  }
}

// Fractional pods by the shared GPU they joined: one line per GPU, naming its sharers.
void write_shared_gpus(std::ostream& out, const SimResult& result) {
  std::vector<std::pair<std::string, std::vector<const JobOutcome*>>> gpus;
  for (const JobOutcome& job : result.jobs) {
    if (job.gpu_group.empty()) continue;
    auto it = std::find_if(gpus.begin(), gpus.end(),
                           [&job](const auto& entry) { return entry.first == job.gpu_group; });
    if (it == gpus.end()) it = gpus.insert(gpus.end(), {job.gpu_group, {}});
    it->second.push_back(&job);
  }
  if (gpus.empty()) return;
  out << "\n  shared GPUs (fractional pods, one reservation pod each)\n";
  for (const auto& [group, jobs] : gpus) {
    std::string sharers;
    for (const JobOutcome* job : jobs) {
      sharers += fmt::format("{}{} ({:g} GPU)", sharers.empty() ? "" : ", ", job->name,
                             static_cast<double>(job->gpus) / 1000.0 / std::max(job->pods, 1));
    }
    out << fmt::format("  {:<17}{}\n", group, sharers);
  }
}

// Each action for each waiting queue: the pods evicted, and when the queue got its share.
void write_evictions(std::ostream& out, const SimResult& result, const ReportOptions& options) {
  for (const EvictionSummary& group : summarize_evictions(result)) {
    std::string from;
    for (const std::string& queue : group.from_queues) from += (from.empty() ? "" : ", ") + queue;
    const std::string span =
        group.first_ms == group.last_ms
            ? format_clock(group.first_ms)
            : fmt::format("{}-{}", format_clock(group.first_ms), format_clock(group.last_ms));
    if (group.for_queue.empty()) {
      out << fmt::format("\n  {}: {} pod(s) of queue {} evicted at {}\n", group.action,
                         group.evictions.size(), from, span);
    } else {
      out << fmt::format("\n  {} for queue {}: fairway evicted {} pod(s) of queue {} at {}\n",
                         group.action, group.for_queue, group.evictions.size(), from, span);
    }
    const size_t shown = std::min(options.evictions_shown, group.evictions.size());
    for (size_t i = 0; i < shown; ++i) {
      const Eviction& eviction = *group.evictions[i];
      out << fmt::format("    {:<7} {} ({}){}\n", format_clock(eviction.time_ms), eviction.pod,
                         eviction.queue,
                         eviction.for_job.empty() ? "" : " for " + eviction.for_job);
    }
    if (shown < group.evictions.size()) {
      out << fmt::format("    ... and {} more\n", group.evictions.size() - shown);
    }
    if (group.for_queue.empty()) continue;
    if (group.share_reached_ms) {
      out << fmt::format("    {} reached its fair share ({:g} GPUs) at {}\n", group.for_queue,
                         std::round(group.fair_share_gpu * 10) / 10,
                         format_clock(*group.share_reached_ms));
    } else {
      out << fmt::format("    {} did not reach its fair share before the run ended\n",
                         group.for_queue);
    }
  }
}

}  // namespace

double percentile(std::vector<double> values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const double rank = std::ceil(p / 100.0 * static_cast<double>(values.size()));
  const size_t index =
      static_cast<size_t>(std::clamp(rank, 1.0, static_cast<double>(values.size())));
  return values[index - 1];
}

WaitStats wait_stats(std::vector<double> waits_seconds) {
  WaitStats stats;
  stats.count = waits_seconds.size();
  if (waits_seconds.empty()) return stats;
  std::sort(waits_seconds.begin(), waits_seconds.end());
  stats.p50 = percentile(waits_seconds, 50);
  stats.p90 = percentile(waits_seconds, 90);
  stats.p99 = percentile(waits_seconds, 99);
  stats.max = waits_seconds.back();
  return stats;
}

double seconds(TimeMs ms) {
  return static_cast<double>(ms) / kMsPerSecond;
}

std::string format_clock(TimeMs time_ms) {
  const int64_t total = time_ms / 1000;
  if (total >= 3600) {
    return fmt::format("{}:{:02}:{:02}", total / 3600, total / 60 % 60, total % 60);
  }
  return fmt::format("{}:{:02}", total / 60, total % 60);
}

SimSummary summarize(const SimResult& result) {
  SimSummary summary;
  summary.jobs = result.jobs.size();
  std::vector<double> waits;
  std::unordered_map<std::string, std::vector<const JobOutcome*>> by_queue;
  for (const JobOutcome& job : result.jobs) {
    if (job.completed())
      ++summary.completed;
    else if (job.evicted())
      ++summary.evicted;
    else if (job.running())
      ++summary.running;
    else
      ++summary.pending;
    if (const auto wait = job.wait_ms()) waits.push_back(seconds(*wait));
    by_queue[job.queue].push_back(&job);
  }
  summary.wait = wait_stats(std::move(waits));

  const std::vector<double> weights = sample_weights(result);
  double total_weight = 0;
  for (double w : weights) total_weight += w;

  const auto members = subtrees(result.queues);
  for (size_t q = 0; q < result.queues.size(); ++q) {
    QueueSummary entry;
    entry.queue = result.queues[q];
    std::vector<double> queue_waits;
    for (size_t member : members[q]) {
      const auto it = by_queue.find(result.queues[member].name);
      if (it == by_queue.end()) continue;
      for (const JobOutcome* job : it->second) {
        ++entry.jobs;
        if (job->completed()) ++entry.completed;
        if (const auto wait = job->wait_ms()) queue_waits.push_back(seconds(*wait));
      }
    }
    entry.wait = wait_stats(std::move(queue_waits));
    if (total_weight > 0) {
      for (size_t i = 0; i < result.samples.size(); ++i) {
        entry.avg_fair_share_gpu += weights[i] * result.samples[i].queues[q].fair_share_gpu;
        entry.avg_allocated_gpu += weights[i] * result.samples[i].queues[q].allocated_gpu;
      }
      entry.avg_fair_share_gpu /= total_weight;
      entry.avg_allocated_gpu /= total_weight;
    }
    summary.queues.push_back(std::move(entry));
  }

  if (result.gpu_capacity > 0) {
    double weighted = 0;
    for (size_t i = 0; i < result.samples.size(); ++i) {
      const double utilization = result.samples[i].allocated_gpu / result.gpu_capacity;
      weighted += weights[i] * utilization;
      summary.peak_utilization = std::max(summary.peak_utilization, utilization);
    }
    if (total_weight > 0) summary.avg_utilization = weighted / total_weight;
  }
  return summary;
}

std::vector<EvictionSummary> summarize_evictions(const SimResult& result) {
  std::vector<EvictionSummary> groups;
  for (const Eviction& eviction : result.evictions) {
    auto group = std::find_if(groups.begin(), groups.end(), [&](const EvictionSummary& g) {
      return g.action == eviction.action && g.for_queue == eviction.for_queue;
    });
    if (group == groups.end()) {
      group = groups.insert(groups.end(), EvictionSummary{});
      group->action = eviction.action;
      group->for_queue = eviction.for_queue;
      group->first_ms = eviction.time_ms;
    }
    group->evictions.push_back(&eviction);
    group->last_ms = std::max(group->last_ms, eviction.time_ms);
    if (std::find(group->from_queues.begin(), group->from_queues.end(), eviction.queue) ==
        group->from_queues.end()) {
      group->from_queues.push_back(eviction.queue);
    }
  }
  for (EvictionSummary& group : groups) {
    std::sort(group.from_queues.begin(), group.from_queues.end());
    const auto queue = std::find_if(result.queues.begin(), result.queues.end(),
                                    [&](const QueueInfo& q) { return q.name == group.for_queue; });
    if (queue == result.queues.end()) continue;
    const size_t q = static_cast<size_t>(queue - result.queues.begin());
    // Half a GPU of slack: live fair shares are read back from Queue status, rounded.
    constexpr double kSlackGpu = 0.5;
    for (const Sample& sample : result.samples) {
      if (sample.time_ms < group.first_ms || q >= sample.queues.size()) continue;
      const QueueSample& entry = sample.queues[q];
      if (entry.fair_share_gpu > 0 && entry.allocated_gpu + kSlackGpu >= entry.fair_share_gpu) {
        group.share_reached_ms = sample.time_ms;
        group.fair_share_gpu = entry.fair_share_gpu;
        break;
      }
    }
  }
  return groups;
}

TimeMs report_interval(const SimResult& result, const ReportOptions& options) {
  if (options.every_ms && *options.every_ms > 0) return *options.every_ms;
  if (result.report_every_ms && *result.report_every_ms > 0) return *result.report_every_ms;
  // About ten tables, on a round interval so the times read easily.
  constexpr int64_t kNice[] = {1,   2,   5,   10,   15,   20,   25,    30,    60,   120,
                               300, 600, 900, 1800, 3600, 7200, 21600, 43200, 86400};
  const double wanted = seconds(result.end_ms) / static_cast<double>(kTargetTables);
  for (int64_t candidate : kNice) {
    if (static_cast<double>(candidate) >= wanted) return candidate * 1000;
  }
  return static_cast<TimeMs>(std::ceil(wanted / 86400.0)) * 86400 * 1000;
}

void write_table(std::ostream& out, const SimResult& result, const Sample& sample, TimeMs time_ms) {
  const size_t width = queue_column_width(result.queues, 5);
  out << fmt::format("{:<8}{:<{}}{:>16}{:>16}{:>14}\n", "time", "queue", width, "fairShare(GPU)",
                     "allocated(GPU)", "pending pods");
  for (size_t q = 0; q < result.queues.size() && q < sample.queues.size(); ++q) {
    const QueueSample& entry = sample.queues[q];
    out << fmt::format("{:<8}{:<{}}{:>16.1f}{:>16.1f}{:>14}\n", q == 0 ? format_clock(time_ms) : "",
                       indented(result.queues[q]), width, entry.fair_share_gpu, entry.allocated_gpu,
                       entry.pending_pods);
  }
  const double utilization =
      result.gpu_capacity > 0 ? sample.allocated_gpu / result.gpu_capacity : 0;
  out << fmt::format("{:<8}GPU utilization {} ({:g} of {:g} GPUs)\n\n", "", percent(utilization),
                     sample.allocated_gpu, result.gpu_capacity);
}

void write_timeline(std::ostream& out, const SimResult& result, const ReportOptions& options) {
  const TimeMs every = report_interval(result, options);
  for (TimeMs t = 0; t <= result.end_ms; t += every) {
    if (const Sample* sample = sample_at(result, t)) write_table(out, result, *sample, t);
  }
}

void write_summary(std::ostream& out, const SimResult& result, const ReportOptions& options) {
  const SimSummary summary = summarize(result);
  out << fmt::format("Summary: {} (stopped at {}: {})\n", result.scenario,
                     format_clock(result.end_ms), stop_reason_name(result.stop));
  out << fmt::format("  {:<17}{} total: {} completed, {} evicted, {} running, {} pending\n", "jobs",
                     summary.jobs, summary.completed, summary.evicted, summary.running,
                     summary.pending);
  out << fmt::format("  {:<17}average {}, peak {} of {:g} GPUs\n", "GPU utilization",
                     percent(summary.avg_utilization), percent(summary.peak_utilization),
                     result.gpu_capacity);
  out << fmt::format("  {:<17}{} run, {} idle ticks skipped, {} pods bound\n", "cycles",
                     result.cycles_run, result.idle_ticks_skipped, result.pods_bound);

  const size_t width = queue_column_width(result.queues, 13);
  out << fmt::format("\n  {:<{}}{:>6}{:>9}{:>9}{:>9}{:>9}\n", "wait time (s)", width, "jobs", "p50",
                     "p90", "p99", "max");
  auto wait_row = [&](const std::string& name, const WaitStats& wait, size_t jobs) {
    if (wait.count == 0) {
      out << fmt::format("  {:<{}}{:>6}{:>9}{:>9}{:>9}{:>9}\n", name, width, jobs, "-", "-", "-",
                         "-");
      return;
    }
    out << fmt::format("  {:<{}}{:>6}{:>9.1f}{:>9.1f}{:>9.1f}{:>9.1f}\n", name, width, jobs,
                       wait.p50, wait.p90, wait.p99, wait.max);
  };
  for (const QueueSummary& queue : summary.queues) {
    if (queue.jobs > 0) wait_row(indented(queue.queue), queue.wait, queue.jobs);
  }
  wait_row("overall", summary.wait, summary.jobs);

  out << fmt::format("\n  {:<{}}{:>20}{:>20}\n", "queue", width, "avg fairShare(GPU)",
                     "avg allocated(GPU)");
  for (const QueueSummary& queue : summary.queues) {
    out << fmt::format("  {:<{}}{:>20.1f}{:>20.1f}\n", indented(queue.queue), width,
                       queue.avg_fair_share_gpu, queue.avg_allocated_gpu);
  }

  write_gangs(out, result);
  write_shared_gpus(out, result);
  write_evictions(out, result, options);

  if (!result.pending.empty()) {
    const size_t shown = std::min(options.pending_shown, result.pending.size());
    out << fmt::format("\n  still pending ({} of {} jobs shown):\n", shown, result.pending.size());
    for (size_t i = 0; i < shown; ++i) {
      const PendingJobInfo& pending = result.pending[i];
      out << fmt::format("    {} (queue {}): {}: {}\n", pending.job, pending.queue, pending.reason,
                         pending.message);
    }
  }
}

void write_text_report(std::ostream& out, const SimResult& result, const ReportOptions& options) {
  out << fmt::format("fairway sim: {}\n", result.scenario);
  if (!result.description.empty()) out << result.description << "\n";
  out << fmt::format(
      "{} nodes, {:g} GPUs, {} queues, {} jobs; table every {}s of simulated "
      "time\n\n",
      result.nodes, result.gpu_capacity, result.queues.size(), result.jobs.size(),
      seconds(report_interval(result, options)));
  write_timeline(out, result, options);
  write_summary(out, result, options);
}

nlohmann::json json_report(const SimResult& result, const ReportOptions& options) {
  const SimSummary summary = summarize(result);
  nlohmann::json report;
  report["scenario"] = result.scenario;
  report["description"] = result.description;
  report["stop_reason"] = stop_reason_name(result.stop);
  report["end_seconds"] = seconds(result.end_ms);
  report["nodes"] = result.nodes;
  report["gpu_capacity"] = result.gpu_capacity;
  report["jobs"] = {{"total", summary.jobs},
                    {"completed", summary.completed},
                    {"evicted", summary.evicted},
                    {"running", summary.running},
                    {"pending", summary.pending}};
  nlohmann::json per_queue = nlohmann::json::object();
  nlohmann::json queues = nlohmann::json::array();
  for (const QueueSummary& queue : summary.queues) {
    if (queue.jobs > 0) per_queue[queue.queue.name] = wait_json(queue.wait);
    queues.push_back({{"name", queue.queue.name},
                      {"parent", queue.queue.parent},
                      {"jobs", queue.jobs},
                      {"completed", queue.completed},
                      {"avg_fair_share_gpu", queue.avg_fair_share_gpu},
                      {"avg_allocated_gpu", queue.avg_allocated_gpu}});
  }
  report["wait_seconds"] = {{"overall", wait_json(summary.wait)}, {"queues", per_queue}};
  report["gpu_utilization"] = {{"average", summary.avg_utilization},
                               {"peak", summary.peak_utilization}};
  report["cycles"] = {{"run", result.cycles_run},
                      {"idle_ticks_skipped", result.idle_ticks_skipped},
                      {"pods_bound", result.pods_bound},
                      {"diagnoses", result.diagnoses}};
  report["queues"] = std::move(queues);

  nlohmann::json pending = nlohmann::json::array();
  for (const PendingJobInfo& job : result.pending) {
    pending.push_back(
        {{"job", job.job}, {"queue", job.queue}, {"reason", job.reason}, {"message", job.message}});
  }
  report["pending_jobs"] = std::move(pending);

  nlohmann::json evictions = nlohmann::json::array();
  for (const Eviction& eviction : result.evictions) {
    evictions.push_back({{"time_seconds", seconds(eviction.time_ms)},
                         {"action", eviction.action},
                         {"pod", eviction.pod},
                         {"job", eviction.job},
                         {"queue", eviction.queue},
                         {"for_job", eviction.for_job},
                         {"for_queue", eviction.for_queue}});
  }
  report["evictions"] = std::move(evictions);
  nlohmann::json groups = nlohmann::json::array();
  for (const EvictionSummary& group : summarize_evictions(result)) {
    groups.push_back({{"action", group.action},
                      {"for_queue", group.for_queue},
                      {"from_queues", group.from_queues},
                      {"pods", group.evictions.size()},
                      {"first_seconds", seconds(group.first_ms)},
                      {"last_seconds", seconds(group.last_ms)},
                      {"share_reached_seconds",
                       group.share_reached_ms ? nlohmann::json(seconds(*group.share_reached_ms))
                                              : nlohmann::json(nullptr)},
                      {"fair_share_gpu", group.fair_share_gpu}});
  }
  report["eviction_summary"] = std::move(groups);

  const TimeMs every = report_interval(result, options);
  report["report_every_seconds"] = seconds(every);
  nlohmann::json timeline = nlohmann::json::array();
  for (TimeMs t = 0; t <= result.end_ms; t += every) {
    const Sample* sample = sample_at(result, t);
    if (sample == nullptr) continue;
    nlohmann::json row_queues = nlohmann::json::object();
    for (size_t q = 0; q < result.queues.size(); ++q) {
      row_queues[result.queues[q].name] = {{"fair_share_gpu", sample->queues[q].fair_share_gpu},
                                           {"allocated_gpu", sample->queues[q].allocated_gpu},
                                           {"pending_pods", sample->queues[q].pending_pods}};
    }
    timeline.push_back({{"time_seconds", seconds(t)},
                        {"allocated_gpu", sample->allocated_gpu},
                        {"queues", std::move(row_queues)}});
  }
  report["timeline"] = std::move(timeline);

  nlohmann::json outcomes = nlohmann::json::array();
  for (const JobOutcome& job : result.jobs) {
    const auto wait = job.wait_ms();
    outcomes.push_back(
        {{"name", job.name},
         {"queue", job.queue},
         {"arrival_seconds", seconds(job.arrival_ms)},
         {"pods", job.pods},
         {"gang", job.gang.empty() ? nlohmann::json(nullptr) : nlohmann::json(job.gang)},
         {"min_member", job.min_member},
         {"first_bound_seconds", job.first_bound_ms ? nlohmann::json(seconds(*job.first_bound_ms))
                                                    : nlohmann::json(nullptr)},
         {"all_bound_seconds",
          job.started_ms ? nlohmann::json(seconds(*job.started_ms)) : nlohmann::json(nullptr)},
         {"wait_seconds", wait ? nlohmann::json(seconds(*wait)) : nlohmann::json(nullptr)},
         {"finished_seconds",
          job.finished_ms ? nlohmann::json(seconds(*job.finished_ms)) : nlohmann::json(nullptr)},
         {"gpu_group",
          job.gpu_group.empty() ? nlohmann::json(nullptr) : nlohmann::json(job.gpu_group)},
         {"pods_evicted", job.pods_evicted},
         {"evicted_seconds",
          job.evicted_ms ? nlohmann::json(seconds(*job.evicted_ms)) : nlohmann::json(nullptr)}});
  }
  report["job_outcomes"] = std::move(outcomes);
  return report;
}

}  // namespace fairway::sim
