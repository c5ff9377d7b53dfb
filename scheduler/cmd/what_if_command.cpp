#include <fmt/format.h>

#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>

#include "k8s-client/objects.h"
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
  const bool changes = queues || flags.usage_strength || !flags.scoring.empty();

  // Each run loads the snapshot into a state of its own (a replay changes its state).
  auto run = [&](bool changed) -> tl::expected<sim::Decisions, std::string> {
    StateConfig config;
    if (changed && flags.usage_strength) config.usage.strength = *flags.usage_strength;
    ClusterState state(config);
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
    if (changed && flags.scoring == "spread") options.cycle.strategy = ScoringStrategy::kSpread;
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
  std::optional<sim::Decisions> changed;
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
