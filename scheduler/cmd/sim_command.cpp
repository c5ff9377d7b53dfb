// `fairway sim [SCENARIO.yaml]`: the edge of the simulation. Reads the scenario file (or takes the
// built-in demo), runs it in-process and prints the report; everything else is in sim/.

#include <fmt/format.h>

#include <charconv>
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <ostream>
#include <sstream>
#include <string>
#include <string_view>

#include "scheduler/cmd/commands.h"
#include "sim/demo_scenario.h"
#include "sim/driver.h"
#include "sim/report.h"
#include "sim/scenario.h"

namespace fairway::cmd {
namespace {

constexpr const char* kSimUsage = R"(Usage: fairway sim [SCENARIO.yaml] [flags]

Runs a scenario (nodes, queues, jobs arriving over simulated time) against the scheduler,
in-process, and prints the queue table over time and a final summary. With no file, runs the
built-in demo (the same as examples/sim/demo.yaml).

Flags:
  --output text|json        report format (default text); json is the summary for scripts
  --report-every SECONDS    simulated seconds between queue tables (default: the scenario's
                            reportEverySeconds, else about ten tables)
  -h, --help                this text
)";

struct SimFlags {
  std::optional<std::string> file;
  bool json = false;
  std::optional<TimeMs> report_every_ms;
  bool help = false;
};

std::optional<TimeMs> parse_seconds(std::string_view text) {
  double value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || !std::isfinite(value) ||
      value <= 0 || value > 1e9) {
    return std::nullopt;
  }
  return static_cast<TimeMs>(std::llround(value * 1000.0));
}

// kube-style flags: `--flag value` and `--flag=value`. Returns an error message on misuse.
tl::expected<SimFlags, std::string> parse_flags(std::span<const std::string> args) {
  SimFlags flags;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "-h" || arg == "--help") {
      flags.help = true;
      continue;
    }
    if (!arg.starts_with("-") || arg == "-") {
      if (flags.file) return tl::unexpected(fmt::format("unexpected argument \"{}\"", arg));
      flags.file = arg;
      continue;
    }
    std::string name = arg;
    std::optional<std::string> value;
    if (const auto eq = arg.find('='); eq != std::string::npos) {
      name = arg.substr(0, eq);
      value = arg.substr(eq + 1);
    }
    if (name != "--output" && name != "--report-every") {
      return tl::unexpected(fmt::format("unknown flag \"{}\"", name));
    }
    if (!value) {
      if (i + 1 >= args.size()) return tl::unexpected(fmt::format("flag {} needs a value", name));
      value = args[++i];
    }
    if (name == "--output") {
      if (*value != "text" && *value != "json") {
        return tl::unexpected(fmt::format("--output \"{}\": expected text or json", *value));
      }
      flags.json = *value == "json";
    } else {
      flags.report_every_ms = parse_seconds(*value);
      if (!flags.report_every_ms) {
        return tl::unexpected(
            fmt::format("--report-every \"{}\": expected a number of seconds > 0", *value));
      }
    }
  }
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

}  // namespace

int sim(std::span<const std::string> args, std::ostream& out, std::ostream& err) {
  const auto flags = parse_flags(args);
  if (!flags) {
    err << "fairway sim: " << flags.error() << "\n\n" << kSimUsage;
    return 2;
  }
  if (flags->help) {
    out << kSimUsage;
    return 0;
  }

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

  const sim::SimResult result = sim::simulate(*scenario);
  sim::ReportOptions options;
  options.every_ms = flags->report_every_ms;
  if (flags->json) {
    out << sim::json_report(result, options).dump(2) << "\n";
  } else {
    sim::write_text_report(out, result, options);
  }
  return 0;
}

}  // namespace fairway::cmd
