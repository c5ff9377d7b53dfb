#include "scheduler/service/debug_views.h"

#include <fmt/format.h>

#include <algorithm>
#include <functional>
#include <map>

#include "queues/quantity.h"

namespace fairway {
namespace {

constexpr size_t kExamplesPerClass = 5;

nlohmann::json queue_json(const metrics::QueueSample& queue) {
  nlohmann::json resources = nlohmann::json::object();
  for (const auto& r : queue.resources) {
    nlohmann::json entry = {{"deserved", r.deserved},
                            {"fairShare", r.fair_share},
                            {"allocated", r.allocated},
                            {"pending", r.pending}};
    if (r.limit >= 0) entry["limit"] = r.limit;
    resources[r.resource] = std::move(entry);
  }
  return {{"name", queue.name},
          {"leaf", queue.leaf},
          {"pendingPods", queue.pending_pods},
          {"dominantShare", queue.dominant_share},
          {"resources", std::move(resources)},
          {"children", nlohmann::json::array()}};
}

}  // namespace

nlohmann::json debug_queues(const metrics::ClusterSnapshot& snapshot) {
  std::map<std::string, std::vector<size_t>> children;  // parent name → queue indices
  for (size_t i = 0; i < snapshot.queues.size(); ++i)
    children[snapshot.queues[i].parent].push_back(i);
  // The tree has no cycles (QueueTree leaves out queues in one) and a bounded depth.
  std::function<nlohmann::json(size_t)> build = [&](size_t i) {
    nlohmann::json node = queue_json(snapshot.queues[i]);
    if (auto it = children.find(snapshot.queues[i].name); it != children.end()) {
      for (size_t child : it->second) node["children"].push_back(build(child));
    }
    return node;
  };
  nlohmann::json roots = nlohmann::json::array();
  if (auto it = children.find(""); it != children.end()) {
    for (size_t root : it->second) roots.push_back(build(root));
  }
  return {{"queues", std::move(roots)},
          {"cluster",
           {{"nodes", snapshot.nodes_total},
            {"gpus", snapshot.gpus},
            {"gpusAllocated", snapshot.gpus_allocated},
            {"gpusFragmented", snapshot.gpus_fragmented},
            {"pendingPods", snapshot.pending_pods}}}};
}

nlohmann::json debug_pod(ClusterState& state, std::string_view pod_key,
                         const std::string& last_message,
                         const std::vector<Nomination>* nominations) {
  const PodRecord* record = state.find_pod(pod_key);
  if (record == nullptr) return nullptr;
  const ResourceRegistry& registry = state.registry();
  nlohmann::json requests = nlohmann::json::object();
  for (size_t i = 0; i < registry.size(); ++i) {
    const auto r = static_cast<ResourceId>(i);
    if (record->requests[r] != 0)
      requests[registry.name(r)] = format_quantity(record->requests[r], registry.scale(r));
  }
  nlohmann::json answer = {{"pod", std::string(pod_key)},
                           {"schedulerName", record->pod.scheduler_name},
                           {"ours", record->ours},
                           {"requests", std::move(requests)}};
  if (record->job < state.jobs().size()) {
    const JobRecord& job = state.jobs()[record->job];
    answer["job"] = job.key;
    answer["queue"] = job.queue;
    answer["minMember"] = job.min_member;
    answer["gangBound"] = job.bound;
    answer["gangPods"] = job.all.size();
  }
  if (record->node != kNoNode) {
    answer["state"] = record->assumed ? "Binding" : "Bound";
    answer["node"] = state.nodes()[record->node].node.name;
    return answer;
  }
  answer["state"] = record->pod.terminated() ? "Terminated" : "Pending";
  if (!last_message.empty()) answer["message"] = last_message;
  // Nodes grouped by the cycle's verdict on each (diagnose_pod, cycle.h): the cycle, /debug/pods
  // and `fairway explain` read one diagnosis.
  struct Class {
    int64_t nodes = 0;
    std::vector<std::string> examples;
  };
  std::map<std::string, Class> classes;
  CycleOptions options;
  options.nominations = nominations;
  int64_t total = 0;
  for (const NodeDiagnosis& verdict : diagnose_pod(state, *state.pod_id(pod_key), options)) {
    ++total;
    std::string result;
    for (const std::string& reason : verdict.reasons) {
      if (!result.empty()) result += ", ";
      result += reason;
    }
    if (result.empty()) result = "fits";
    const std::string& name = state.nodes()[verdict.node].node.name;
    Class& c = classes[result];
    ++c.nodes;
    if (c.examples.size() < kExamplesPerClass) c.examples.push_back(name);
  }
  std::vector<std::pair<std::string, Class>> sorted(classes.begin(), classes.end());
  std::stable_sort(sorted.begin(), sorted.end(),
                   [](const auto& a, const auto& b) { return a.second.nodes > b.second.nodes; });
  nlohmann::json list = nlohmann::json::array();
  for (auto& [result, c] : sorted) {
    list.push_back({{"result", result}, {"nodes", c.nodes}, {"examples", std::move(c.examples)}});
  }
  answer["nodes"] = {{"total", total},
                     {"fit", classes.contains("fits") ? classes["fits"].nodes : 0},
                     {"classes", std::move(list)}};
  return answer;
}

void add_gpu_use(nlohmann::json& answer, const PodUtilization& usage,
                 const UtilizationConfig& config, WallMs now) {
  nlohmann::json use = {{"averagePercent", usage.average_percent},
                        {"peakPercent", usage.peak_percent},
                        {"peakMemoryMiB", usage.peak_memory_mib},
                        {"windowSeconds", (usage.last_seen - usage.first_seen) / 1000},
                        {"current", current(usage, config, now)}};
  if (idle(usage, config, now)) use["idleSeconds"] = (now - *usage.idle_since) / 1000;
  answer["gpuUse"] = std::move(use);
}

std::string render_pod_explanation(const nlohmann::json& a) {
  std::string out = fmt::format("Pod:       {}\n", a.value("pod", ""));
  if (!a.value("ours", false)) {
    out += fmt::format("Scheduler: {} (not fairway's: fairway does not place it)\n",
                       a.value("schedulerName", ""));
  }
  if (a.contains("queue")) out += fmt::format("Queue:     {}\n", a["queue"].get<std::string>());
  if (a.contains("job")) {
    out += fmt::format("Job:       {} ({} of minMember {} bound, {} pods)\n",
                       a["job"].get<std::string>(), a.value("gangBound", 0),
                       a.value("minMember", 1), a.value("gangPods", 0));
  }
  std::string requests;
  if (const auto found = a.find("requests"); found != a.end() && found->is_object()) {
    for (auto it = found->begin(); it != found->end(); ++it) {
      if (!requests.empty()) requests += ", ";
      requests += it.key() + "=" + (it->is_string() ? it->get<std::string>() : it->dump());
    }
  }
  out += fmt::format("Requests:  {}\n", requests);
  out += fmt::format("State:     {}", a.value("state", ""));
  if (a.contains("node")) out += fmt::format(" on {}", a["node"].get<std::string>());
  out += "\n";
  if (const auto use = a.find("gpuUse"); use != a.end() && use->is_object()) {
    out += fmt::format(
        "GPU use:   average {:.0f}%, peak {:.0f}%, memory peak {:.0f}Mi over {}{}{}\n",
        use->value("averagePercent", 0.0), use->value("peakPercent", 0.0),
        use->value("peakMemoryMiB", 0.0),
        short_duration(use->value("windowSeconds", int64_t{0}) * 1000),
        use->contains("idleSeconds")
            ? "; idle for " + short_duration(use->value("idleSeconds", int64_t{0}) * 1000)
            : std::string(),
        use->value("current", true) ? "" : " (no recent samples)");
  }
  if (a.contains("message")) out += fmt::format("Why:       {}\n", a["message"].get<std::string>());
  if (a.contains("nodes")) {
    const auto& nodes = a["nodes"];
    out += fmt::format("Nodes:     {} of {} pass every filter and have room\n",
                       nodes.value("fit", 0), nodes.value("total", 0));
    for (const auto& c : nodes["classes"]) {
      std::string examples;
      for (const auto& name : c["examples"]) {
        if (!examples.empty()) examples += ", ";
        examples += name.get<std::string>();
      }
      const int64_t count = c.value("nodes", int64_t{0});
      out += fmt::format("  {:>6}  {}  (e.g. {}{})\n", count, c.value("result", ""), examples,
                         count > static_cast<int64_t>(c["examples"].size()) ? ", ..." : "");
    }
  }
  return out;
}

}  // namespace fairway
