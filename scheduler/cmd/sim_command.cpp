// `fairway sim [SCENARIO.yaml]`: the edge of the simulation. Reads the scenario file (or takes the
// built-in demo), runs it in-process and prints the report; everything else is in sim/.

#include <fmt/format.h>
#include <pthread.h>
#include <unistd.h>

#include <cctype>
#include <charconv>
#include <cmath>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <ostream>
#include <sstream>
#include <string>
#include <string_view>

#include "scheduler/cmd/commands.h"
#include "scheduler/cmd/flags.h"
#include "scheduler/cmd/what_if.h"
#include "scheduler/service/log.h"
#include "sim/chart.h"
#include "sim/demo_scenario.h"
#include "sim/driver.h"
#include "sim/live/live_driver.h"
#include "sim/report.h"
#include "sim/scenario.h"

namespace fairway::cmd {
namespace {

constexpr const char* kSimAbout =
    R"(Runs a scenario (nodes, queues, jobs arriving over time) and prints the queue table over
time and a final summary. With no file, runs the built-in demo (examples/sim/demo.yaml).

By default the run is live: an embedded Kubernetes API server (HTTPS, token; set up as
`fairway apiserver --dev`, with the scenario's queues), the real scheduler talking to it over HTTP, and a driver that creates the nodes, Queues and pods through
the API and plays the kubelet; simulated time runs --speed times faster than real time. Pass
--kubeconfig-out to look in with kubectl while it runs. --in-process drives the scheduling core
directly on a simulated clock instead: instant and deterministic. Both run fairway's
preemption pass, so a queue over its share loses pods to one that waits below its share.

The run ends with a picture, an SVG file of each queue's GPUs allocated against its fair share
and of GPU utilization over time; the report prints its path (--svg).

With --snapshot FILE (from `fairway snapshot`) it replays a live cluster instead: one cycle and
one preemption pass over what the cluster holds, as is, and changed by --queues,
--usage-strength or --scoring when given (docs/what-if.md).

)";

struct SimFlags {
  std::optional<std::string> file;
  bool json = false;
  std::optional<TimeMs> report_every_ms;
  bool in_process = false;
  double speed = 20;
  std::string kubeconfig_out;
  std::string audit_log;
  std::string svg;  // empty: in the temp folder; "none": no picture
  bool hold = false;
  std::string metrics_bind_address = "0";
  int apiserver_port = 0;
  int verbosity = -1;
  bool help = false;
  std::string usage;
  WhatIfFlags what_if;  // with --snapshot: what-if on a live cluster's snapshot
};

tl::expected<SimFlags, std::string> parse_flags(std::span<const std::string> args) {
  SimFlags flags;
  std::string output = "text";
  double report_every = 0;
  FlagSet set("sim [SCENARIO.yaml]");
  set.add_choice("output", &output, {"text", "json"},
                 "report format (json: the summary, for scripts)");
  set.add_double("report-every", &report_every,
                 "simulated seconds between queue tables (0: the scenario's, else about ten)");
  set.add_string("svg", &flags.svg,
                 "where to write the picture (default: fairway-sim-<scenario>.svg in the temp "
                 "folder; none: no picture)");
  set.add_bool("in-process", &flags.in_process,
               "simulated clock, no API server: instant, deterministic");
  set.add_double("speed", &flags.speed, "live runs: simulated seconds per real second");
  set.add_string("audit-log", &flags.audit_log,
                 "live runs: append the API server's audit log (one JSON line per request) here");
  set.add_string(
      "kubeconfig-out", &flags.kubeconfig_out,
      "live runs: where to write the kubeconfig for kubectl (default: in the temp folder)");
  set.add_bool("hold", &flags.hold,
               "live runs: after the report, keep the cluster up until Ctrl-C");
  set.add_string("metrics-bind-address", &flags.metrics_bind_address,
                 "live runs: the scheduler's host:port for /metrics, /healthz, /debug/ (0: off)");
  set.add_int("apiserver-port", &flags.apiserver_port,
              "live runs: the embedded API server's port on 127.0.0.1 (0: a free one)");
  set.add_int("v", &flags.verbosity, "scheduler log verbosity on stderr (-1: warnings only)");
  set.add_string("snapshot", &flags.what_if.snapshot,
                 "what-if: replay this `fairway snapshot` instead of a scenario (one cycle and "
                 "one preemption pass) and print the decisions");
  set.add_string("queues", &flags.what_if.queues,
                 "what-if: Queue manifests that replace the snapshot's, to compare against");
  set.add_string("config", &flags.what_if.config,
                 "what-if: a `fairway scheduler --config` file for the run to compare against "
                 "(the flags that change decisions; --usage-strength and --scoring win over it)");
  double usage_strength = -1;
  set.add_double("usage-strength", &usage_strength,
                 "what-if: --usage-strength of the run to compare against (-1: as is)");
  set.add_choice("scoring", &flags.what_if.scoring, {"binpack", "spread"},
                 "what-if: --scoring of the run to compare against (default: as is)");
  flags.usage = std::string(kSimAbout) + set.usage();
  auto positional = set.parse(args);
  if (!positional) return tl::unexpected(positional.error());
  flags.help = set.help_requested();
  if (positional->size() > 1)
    return tl::unexpected(fmt::format("unexpected argument \"{}\"", (*positional)[1]));
  if (!positional->empty()) flags.file = positional->front();
  if (flags.apiserver_port < 0 || flags.apiserver_port > 65535) {
    return tl::unexpected(std::string("--apiserver-port: expected a port in [0, 65535]"));
  }
  flags.json = output == "json";
  flags.what_if.json = flags.json;
  if (usage_strength >= 0) flags.what_if.usage_strength = usage_strength;
  const bool what_if_only = !flags.what_if.queues.empty() || !flags.what_if.config.empty() ||
                            usage_strength >= 0 || !flags.what_if.scoring.empty();
  if (flags.what_if.snapshot.empty() && what_if_only) {
    return tl::unexpected(
        std::string("--queues, --config, --usage-strength and --scoring need --snapshot"));
  }
  if (!flags.what_if.snapshot.empty() && flags.file) {
    return tl::unexpected(std::string("a scenario and --snapshot: give one or the other"));
  }
  if (report_every < 0 || report_every > 1e9) {
    return tl::unexpected(std::string("--report-every: expected a number of seconds >= 0"));
  }
  if (report_every > 0)
    flags.report_every_ms = static_cast<TimeMs>(std::llround(report_every * 1000.0));
  if (!(flags.speed > 0 && flags.speed <= 1000))
    return tl::unexpected(std::string("--speed: expected a number in (0, 1000]"));
  return flags;
}

std::optional<std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return std::nullopt;
  return std::move(text).str();
}

// fairway-sim-<scenario>.svg in the temp folder, the name kept to safe characters.
std::string default_svg_path(const std::string& scenario) {
  std::string name;
  for (char c : scenario) {
    const bool safe = std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_';
    name += safe ? c : '-';
  }
  return (std::filesystem::temp_directory_path() / fmt::format("fairway-sim-{}.svg", name))
      .string();
}

// Writes the picture where asked and says where (the report's last line), or why not.
void write_picture(const SimFlags& flags, const sim::SimResult& result, std::ostream& out,
                   std::ostream& err, nlohmann::json* report) {
  if (flags.svg == "none") return;
  const std::string path = flags.svg.empty() ? default_svg_path(result.scenario) : flags.svg;
  std::ofstream file(path, std::ios::binary | std::ios::trunc);
  file << sim::svg_chart(result);
  file.close();
  if (!file) {
    err << fmt::format("fairway sim: cannot write the picture to \"{}\"\n", path);
    return;
  }
  if (report != nullptr) {
    (*report)["picture"] = path;
  } else {
    out << fmt::format("\npicture: {} (GPUs allocated vs fair share per queue, GPU utilization)\n",
                       path);
  }
}

// The report of a finished run, and its picture.
void report(const SimFlags& flags, const sim::SimResult& result, const sim::ReportOptions& options,
            bool whole, std::ostream& out, std::ostream& err) {
  if (flags.json) {
    nlohmann::json json = sim::json_report(result, options);
    write_picture(flags, result, out, err, &json);
    out << json.dump(2) << "\n";
    return;
  }
  if (whole) {
    sim::write_text_report(out, result, options);
  } else {
    sim::write_summary(out, result, options);
  }
  write_picture(flags, result, out, err, nullptr);
}

}  // namespace

int sim(std::span<const std::string> args, std::ostream& out, std::ostream& err) {
  const auto flags = parse_flags(args);
  if (!flags) {
    err << "fairway sim: " << flags.error() << "\n\nRun 'fairway sim --help' for usage.\n";
    return 2;
  }
  if (flags->help) {
    out << flags->usage;
    return 0;
  }
  if (!flags->what_if.snapshot.empty()) return what_if(flags->what_if, out, err);

  std::string text;
  std::string source = "built-in demo";
  if (flags->file) {
    auto content = read_file(*flags->file);
    if (!content) {
      err << fmt::format("fairway sim: cannot read scenario \"{}\"\n", *flags->file);
      return 1;
    }
    text = std::move(*content);
    source = *flags->file;
  } else {
    text = std::string(sim::demo_scenario_yaml());
  }

  const auto scenario = sim::parse_scenario(text);
  if (!scenario) {
    err << fmt::format("fairway sim: {}: {}\n", source, scenario.error());
    return 1;
  }

  sim::ReportOptions options;
  options.every_ms = flags->report_every_ms;
  if (flags->in_process) {
    report(*flags, sim::simulate(*scenario), options, true, out, err);
    return 0;
  }

  log::init(flags->verbosity);
  sim::LiveOptions live;
  live.speed = flags->speed;
  const bool temporary_kubeconfig = flags->kubeconfig_out.empty();
  live.kubeconfig_path = temporary_kubeconfig ? (std::filesystem::temp_directory_path() /
                                                 fmt::format("fairway-sim-{}.kubeconfig", getpid()))
                                                    .string()
                                              : flags->kubeconfig_out;
  live.verbosity = std::max(flags->verbosity, 0);
  live.metrics_bind_address = flags->metrics_bind_address;
  live.apiserver_port = static_cast<uint16_t>(flags->apiserver_port);
  live.audit_log_path = flags->audit_log;
  live.report_every_ms = flags->report_every_ms.value_or(0);
  if (!flags->json) {
    out << fmt::format(
        "fairway sim: {} (live: embedded API server + scheduler over HTTPS, {:g}x)\n",
        scenario->name, flags->speed);
    if (!scenario->description.empty()) out << scenario->description << "\n";
    out << fmt::format("look in while it runs: kubectl --kubeconfig {} get pods -n sim\n",
                       live.kubeconfig_path);
    out << "\n";
    live.on_table = [&out](const sim::SimResult& partial, const sim::Sample& sample, TimeMs at) {
      sim::write_table(out, partial, sample, at);
      out.flush();
    };
  }
  if (flags->hold) {
    // Blocked before any thread starts, so every thread inherits the mask and Ctrl-C reaches
    // only the sigwait below: the cluster then shuts down in order.
    static sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);
    live.before_shutdown = [&out, &live] {
      out << fmt::format(
          "holding: the API server stays up (kubectl --kubeconfig {}); Ctrl-C ends it\n",
          live.kubeconfig_path);
      out.flush();
      int received = 0;
      sigwait(&signals, &received);
    };
  }
  auto result = sim::run_live(*scenario, live);
  if (temporary_kubeconfig) std::filesystem::remove(live.kubeconfig_path);
  if (!result) {
    err << "fairway sim: " << result.error() << "\n";
    return 1;
  }
  report(*flags, *result, options, false, out, err);
  return 0;
}

}  // namespace fairway::cmd
