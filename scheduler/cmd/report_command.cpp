// `fairway report idle`: the pods holding GPUs that sat idle (docs/utilization.md). Read-only:
// lists what the scheduler watches (as `fairway snapshot` does), asks Prometheus for
// dcgm-exporter's series over the window, and prints the idle GPU pods, longest idle first, with
// their queue, what they hold and what evicting them would give back.
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <nlohmann/json.hpp>
#include <ostream>

#include "k8s-client/config.h"
#include "scheduler/cmd/commands.h"
#include "scheduler/cmd/flags.h"
#include "scheduler/cmd/read_snapshot.h"
#include "scheduler/cmd/utilization_flags.h"
#include "sim/whatif/snapshot.h"

namespace fairway::cmd {
namespace {

constexpr const char* kAbout =
    R"(Lists the pods holding GPUs that stayed below --idle-gpu-threshold for at least
--idle-gpu-after, from NVIDIA dcgm-exporter's series in Prometheus (DCGM_FI_DEV_GPU_UTIL,
DCGM_FI_DEV_FB_USED). For each: its queue, node, GPUs, how long it has been idle, its average and
peak utilisation and peak GPU memory over --utilization-window, and the GPUs its eviction would
give back (a fractional pod gives back none while others share its GPU). Read-only.

Usage: fairway report idle --utilization-prometheus URL [flags]

)";

std::string gpus(int64_t milli) {
  return milli % 1000 == 0 ? std::to_string(milli / 1000) : fmt::format("{:g}", milli / 1000.0);
}

void write_table(std::ostream& out, const UtilizationReport& report,
                 const UtilizationConfig& config) {
  if (report.idle.empty()) {
    out << fmt::format("No GPU pod has been idle (below {:g}% utilisation) for {} or more.\n",
                       config.idle_below_percent, short_duration(config.idle_after_ms));
    return;
  }
  std::vector<std::vector<std::string>> rows = {
      {"POD", "QUEUE", "NODE", "GPUS", "IDLE FOR", "AVG", "PEAK", "MEMORY PEAK", "FREES"}};
  int64_t held = 0;
  int64_t frees = 0;
  for (const IdleGpuPod& pod : report.idle) {
    held += pod.gpu_milli;
    frees += pod.frees_gpu_milli;
    rows.push_back({pod.pod, pod.queue, pod.node, gpus(pod.gpu_milli), short_duration(pod.idle_ms),
                    fmt::format("{:.0f}%", pod.usage.average_percent),
                    fmt::format("{:.0f}%", pod.usage.peak_percent),
                    fmt::format("{:.0f}Mi", pod.usage.peak_memory_mib),
                    pod.frees_gpu_milli > 0 ? gpus(pod.frees_gpu_milli) + " GPUs" : "- (shared)"});
  }
  std::vector<size_t> widths(rows.front().size(), 0);
  for (const auto& row : rows) {
    for (size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
  }
  for (const auto& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(widths[i] - row[i].size() + 3, ' ');
    }
    out << line << "\n";
  }
  out << fmt::format(
      "\n{} pod(s) hold {} GPU(s) idle (below {:g}% for {} or more); evicting them "
      "would give back {} whole GPU(s).\n",
      report.idle.size(), gpus(held), config.idle_below_percent,
      short_duration(config.idle_after_ms), gpus(frees));
}

nlohmann::json report_json(const UtilizationReport& report) {
  nlohmann::json idle = nlohmann::json::array();
  for (const IdleGpuPod& pod : report.idle) {
    idle.push_back({{"pod", pod.pod},
                    {"queue", pod.queue},
                    {"node", pod.node},
                    {"gpus", static_cast<double>(pod.gpu_milli) / 1000.0},
                    {"idleSeconds", pod.idle_ms / 1000},
                    {"averagePercent", pod.usage.average_percent},
                    {"peakPercent", pod.usage.peak_percent},
                    {"peakMemoryMiB", pod.usage.peak_memory_mib},
                    {"freesGpus", static_cast<double>(pod.frees_gpu_milli) / 1000.0}});
  }
  nlohmann::json queues = nlohmann::json::array();
  for (const QueueUtilization& q : report.queues) {
    nlohmann::json entry = {{"queue", q.queue},
                            {"gpusAllocated", static_cast<double>(q.allocated_gpu_milli) / 1000.0},
                            {"gpusMeasured", static_cast<double>(q.measured_gpu_milli) / 1000.0},
                            {"idlePods", q.idle_pods},
                            {"idleGpus", static_cast<double>(q.idle_gpu_milli) / 1000.0}};
    if (q.utilization_ratio) entry["utilizationRatio"] = *q.utilization_ratio;
    queues.push_back(std::move(entry));
  }
  return {{"idle", std::move(idle)}, {"queues", std::move(queues)}};
}

int report_idle(std::span<const std::string> args, std::ostream& out, std::ostream& err) {
  std::string kubeconfig;
  std::string context;
  std::string scheduler_name = "fairway";
  std::string output = "table";
  FlagSet flags("report idle");
  flags.add_string("kubeconfig", &kubeconfig,
                   "path to a kubeconfig; empty: $KUBECONFIG, then in-cluster");
  flags.add_string("context", &context, "kubeconfig context to use (default: current-context)");
  flags.add_string("scheduler-name", &scheduler_name, "the pods of this scheduler are judged");
  UtilizationFlags utilization(UtilizationOptions{});
  utilization.add(flags, false);
  flags.add_choice("output", &output, {"table", "json"}, "table, or json for scripts");
  auto positional = flags.parse(args);
  if (!positional) {
    err << "fairway report idle: " << positional.error() << "\n\n" << flags.usage();
    return 2;
  }
  if (flags.help_requested()) {
    out << kAbout << flags.usage();
    return 0;
  }
  auto options = utilization.options();
  if (!positional->empty() || !options || options->prometheus.empty()) {
    err << "fairway report idle: "
        << (!positional->empty() ? "unexpected argument \"" + positional->front() + "\""
            : !options           ? options.error()
                                 : std::string("--utilization-prometheus is required"))
        << "\n";
    return 2;
  }
  auto cluster = k8s::resolve_config(kubeconfig, context);
  if (!cluster) {
    err << "fairway report idle: " << cluster.error() << "\n";
    return 1;
  }
  k8s::RestOptions rest;
  rest.request_timeout = std::chrono::seconds(60);
  rest.user_agent = "fairway-report";
  k8s::RestClient client(*cluster, rest);
  const WallMs now = std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
  const auto document = read_snapshot(client, cluster->server, now);
  if (!document) {
    err << "fairway report idle: " << document.error() << "\n";
    return 1;
  }
  StateConfig state_config;
  state_config.scheduler_name = scheduler_name;
  ClusterState state(state_config);
  if (auto loaded = sim::load_snapshot(document->dump(), state); !loaded) {
    err << "fairway report idle: " << loaded.error() << "\n";
    return 1;
  }
  // About 240 instants over the window (15 s for an hour), at least a second, at most a minute.
  const UtilizationConfig& config = options->config;
  const WallMs step = std::clamp<WallMs>(config.window_ms / 240, 1000, 60'000);
  auto prometheus = prometheus_client(*options);
  auto samples =
      fetch_dcgm_samples(*prometheus, options->series_selector, now - config.window_ms, now, step);
  if (!samples) {
    err << "fairway report idle: " << options->prometheus << ": " << samples.error() << "\n";
    return 1;
  }
  UtilizationTracker tracker(config);
  for (const GpuSample& sample : *samples) tracker.add(sample);
  const UtilizationReport report = utilization_report(state, tracker.summaries(), config, now);
  if (output == "json") {
    out << report_json(report).dump(2) << "\n";
  } else {
    write_table(out, report, config);
  }
  return 0;
}

}  // namespace

int report(std::span<const std::string> args, std::ostream& out, std::ostream& err) {
  if (args.empty() || args.front() == "--help" || args.front() == "-h") {
    (args.empty() ? err : out) << "Usage: fairway report idle [flags]   (GPU pods holding "
                                  "GPUs idle; see fairway report idle --help)\n";
    return args.empty() ? 2 : 0;
  }
  if (args.front() == "idle") return report_idle(args.subspan(1), out, err);
  err << "fairway report: unknown report \"" << args.front() << "\" (known: idle)\n";
  return 2;
}

}  // namespace fairway::cmd
