// `fairway sim --snapshot FILE` (what_if.h): reads the snapshot and the changes asked for, replays
// both through a cycle and a preemption pass (sim/whatif/replay.h) and reports what differs.
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "k8s-client/objects.h"
#include "scheduler/cmd/config_file.h"
#include "scheduler/cmd/flags.h"
#include "scheduler/cmd/what_if.h"
#include "sim/apiserver/server.h"
#include "sim/whatif/replay.h"
#include "sim/whatif/snapshot.h"

namespace fairway::cmd {
namespace {

tl::expected<std::string, std::string> read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return tl::unexpected(fmt::format("cannot read \"{}\"", path));
  // In one read, sized up front: a large cluster's snapshot is tens of MB.
  in.seekg(0, std::ios::end);
  const std::streamoff size = in.tellg();
  in.seekg(0, std::ios::beg);
  if (size < 0) return tl::unexpected(fmt::format("cannot read \"{}\"", path));
  std::string text(static_cast<size_t>(size), '\0');
  if (!in.read(text.data(), size)) return tl::unexpected(fmt::format("cannot read \"{}\"", path));
  return text;
}

// The Queues of a manifest file (other kinds are skipped), decoded as the scheduler decodes them.
tl::expected<std::vector<QueueSpec>, std::string> read_queues(const std::string& path) {
  auto text = read_text(path);
  if (!text) return tl::unexpected(text.error());
  auto documents = apiserver::yaml_documents_to_json(*text);
  if (!documents)
    return tl::unexpected(fmt::format("{}: invalid YAML: {}", path, documents.error()));
  // A List (what `kubectl get -o yaml` writes) stands for its items.
  std::vector<nlohmann::json> objects;
  for (nlohmann::json& document : *documents) {
    if (!document.is_object()) continue;
    if (document.value("kind", "").ends_with("List") && document.contains("items") &&
        document["items"].is_array()) {
      for (nlohmann::json& item : document["items"]) objects.push_back(std::move(item));
    } else {
      objects.push_back(std::move(document));
    }
  }
  std::vector<QueueSpec> queues;
  for (const nlohmann::json& document : objects) {
    if (!document.is_object() || document.value("kind", "") != "Queue") continue;
    auto queue = k8s::decode_queue(document.dump());
    if (!queue) return tl::unexpected(fmt::format("{}: {}", path, queue.error()));
    if (!queue->object.problems.empty()) {
      return tl::unexpected(fmt::format("{}: Queue {}: {}", path, queue->object.name,
                                        queue->object.problems.front()));
    }
    queues.push_back(std::move(queue->object));
  }
  if (queues.empty()) return tl::unexpected(fmt::format("{}: no Queue in it", path));
  return queues;
}

// What the run to compare against takes from a `fairway scheduler --config` file: the flags
// that change decisions, read and checked as the scheduler reads and checks them. The others
// (addresses, leases, TLS, API rates, ...) concern the process and are ignored.
struct ReplayConfig {
  StateConfig state;
  CycleOptions cycle;
  PlannerOptions planner;
};

tl::expected<ReplayConfig, std::string> read_config(const std::string& path) {
  auto args = config_file_args(path);
  if (!args) return tl::unexpected(args.error());
  ReplayConfig config;
  std::string scoring = "binpack";
  std::string sharing = "binpack";
  std::chrono::milliseconds half_life(config.state.usage.half_life_ms);
  std::chrono::milliseconds stale_gang_grace(config.planner.stale_gang_grace_ms);
  int non_preemptible_priority = config.planner.non_preemptible_priority;
  ScoreWeights& weights = config.cycle.score_weights;
  FlagSet flags("scheduler");
  flags.add_string("scheduler-name", &config.state.scheduler_name, "");
  flags.add_choice("scoring", &scoring, {"binpack", "spread"}, "", {{"bin-pack", "binpack"}});
  flags.add_double("score-weight-node-affinity", &weights.node_affinity, "");
  flags.add_double("score-weight-pod-affinity", &weights.pod_affinity, "");
  flags.add_double("score-weight-topology-spread", &weights.topology_spread, "");
  flags.add_double("score-weight-taint-toleration", &weights.taint_toleration, "");
  flags.add_duration("usage-half-life", &half_life, "");
  flags.add_double("usage-strength", &config.state.usage.strength, "");
  flags.add_duration("stale-gang-grace", &stale_gang_grace, "");
  flags.add_int("non-preemptible-priority", &non_preemptible_priority, "");
  flags.add_choice("gpu-sharing-strategy", &sharing, {"binpack", "spread"}, "");
  flags.add_string("reservation-namespace", &config.state.reservation_namespace, "");
  static constexpr std::array<std::string_view, 12> kApplied = {"scheduler-name",
                                                                "scoring",
                                                                "score-weight-node-affinity",
                                                                "score-weight-pod-affinity",
                                                                "score-weight-topology-spread",
                                                                "score-weight-taint-toleration",
                                                                "usage-half-life",
                                                                "usage-strength",
                                                                "stale-gang-grace",
                                                                "non-preemptible-priority",
                                                                "gpu-sharing-strategy",
                                                                "reservation-namespace"};
  std::vector<std::string> applied;
  for (std::string& arg : *args) {
    const std::string_view name = std::string_view(arg).substr(2, arg.find('=') - 2);
    if (std::find(kApplied.begin(), kApplied.end(), name) != kApplied.end()) {
      applied.push_back(std::move(arg));
    }
  }
  if (auto parsed = flags.parse(applied); !parsed) {
    return tl::unexpected(fmt::format("{}: {}", path, parsed.error()));
  }
  if (weights.node_affinity < 0 || weights.pod_affinity < 0 || weights.topology_spread < 0 ||
      weights.taint_toleration < 0) {
    return tl::unexpected(fmt::format("{}: score-weight-* must not be negative", path));
  }
  if (half_life.count() <= 0 || !(config.state.usage.strength >= 0) ||
      !std::isfinite(config.state.usage.strength)) {
    return tl::unexpected(fmt::format(
        "{}: usage-half-life must be positive and usage-strength a number not below 0", path));
  }
  if (stale_gang_grace.count() < 0) {
    return tl::unexpected(fmt::format("{}: stale-gang-grace must not be negative", path));
  }
  if (config.state.reservation_namespace.empty()) {
    return tl::unexpected(fmt::format("{}: reservation-namespace must be set", path));
  }
  config.state.usage.half_life_ms = half_life.count();
  if (scoring == "spread") config.cycle.strategy = ScoringStrategy::kSpread;
  if (sharing == "spread") config.cycle.gpu_sharing_strategy = ScoringStrategy::kSpread;
  config.planner.stale_gang_grace_ms = stale_gang_grace.count();
  config.planner.non_preemptible_priority = non_preemptible_priority;
  return config;
}

}  // namespace

int what_if(const WhatIfFlags& flags, std::ostream& out, std::ostream& err) {
  auto text = read_text(flags.snapshot);
  if (!text) {
    err << "fairway sim: " << text.error() << "\n";
    return 1;
  }
  std::optional<std::vector<QueueSpec>> queues;
  if (!flags.queues.empty()) {
    auto read = read_queues(flags.queues);
    if (!read) {
      err << "fairway sim: " << read.error() << "\n";
      return 1;
    }
    queues = std::move(*read);
  }
  std::optional<ReplayConfig> config;
  if (!flags.config.empty()) {
    auto read = read_config(flags.config);
    if (!read) {
      err << "fairway sim: " << read.error() << "\n";
      return 1;
    }
    config = std::move(*read);
  }
  const bool changes = queues || config || flags.usage_strength || !flags.scoring.empty();

  // Each run loads the snapshot into a state of its own (a replay changes its state).
  auto run = [&](bool changed) -> tl::expected<sim::ReplayOutcome, std::string> {
    const ReplayConfig settings = changed && config ? *config : ReplayConfig{};
    StateConfig state_config = settings.state;
    if (changed && flags.usage_strength) state_config.usage.strength = *flags.usage_strength;
    ClusterState state(state_config);
    auto loaded = sim::load_snapshot(*text, state);
    if (!loaded) return tl::unexpected(fmt::format("{}: {}", flags.snapshot, loaded.error()));
    if (!changed) {
      for (const std::string& problem : loaded->problems) {
        err << "fairway sim: " << flags.snapshot << ": skipped " << problem << "\n";
      }
    }
    if (changed && queues) {
      std::vector<std::string> names;
      for (const auto& [name, spec] : state.queue_specs()) names.push_back(name);
      for (const std::string& name : names) state.remove_queue(name);
      for (const QueueSpec& queue : *queues) state.upsert_queue(queue);
    }
    sim::ReplayOptions options;
    if (auto at = k8s::parse_rfc3339_ms(loaded->taken_at)) options.now_ms = *at;
    options.cycle = settings.cycle;
    options.planner = settings.planner;
    if (changed && !flags.scoring.empty()) {
      options.cycle.strategy =
          flags.scoring == "spread" ? ScoringStrategy::kSpread : ScoringStrategy::kBinPack;
    }
    options.planner.cycle = options.cycle;
    const auto start = std::chrono::steady_clock::now();
    options.elapsed_ms = [start] {
      return std::chrono::duration_cast<std::chrono::milliseconds>(
                 std::chrono::steady_clock::now() - start)
          .count();
    };
    return sim::replay(state, options);
  };
  auto as_is = run(false);
  if (!as_is) {
    err << "fairway sim: " << as_is.error() << "\n";
    return 1;
  }
  std::optional<sim::ReplayOutcome> changed;
  if (changes) {
    auto decided = run(true);
    if (!decided) {
      err << "fairway sim: " << decided.error() << "\n";
      return 1;
    }
    changed = std::move(*decided);
  }
  if (flags.json) {
    nlohmann::json report = {{"asIs", sim::decisions_json(*as_is)}};
    if (changed) report["changed"] = sim::decisions_json(*changed);
    out << report.dump(2) << "\n";
    return 0;
  }
  out << sim::what_if_text(*as_is, changed ? &*changed : nullptr);
  return 0;
}

}  // namespace fairway::cmd
