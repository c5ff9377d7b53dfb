#include "sim/live/live_driver.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <queue>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "k8s-client/config.h"
#include "k8s-client/objects.h"
#include "k8s-client/reflector.h"
#include "k8s-client/rest_client.h"
#include "queues/quantity.h"
#include "queues/queue_tree.h"
#include "queues/usage_history.h"
#include "scheduler/cycle/reasons.h"
#include "scheduler/service/scheduler_service.h"
#include "scheduler/state/gangs.h"
#include "scheduler/state/gpu_sharing.h"
#include "sim/apiserver/server.h"
#include "sim/dev/bootstrap.h"
#include "sim/dev/fake_gpu_agent.h"
#include "sim/manifests.h"

namespace fairway::sim {
namespace {

using SteadyClock = std::chrono::steady_clock;
constexpr double kMilli = 1000.0;
constexpr auto kTick = std::chrono::milliseconds(5);
// Without progress (no job running, none to arrive, nothing bound) for this long in simulated
// time, the pending jobs cannot fit: the run has stalled.
constexpr TimeMs kStallAfterMs = 30'000;

// The plural resource of a workload kind the simulator creates.
std::string_view workload_resource(std::string_view kind) {
  for (const WorkloadKind& known : known_workload_kinds()) {
    if (known.kind == kind) return known.resource;
  }
  return "";
}

struct PodEvent {
  bool deleted = false;
  Pod pod;
};

// The driver's side of the run: what it created and what it saw the scheduler do.
class LiveRun {
 public:
  LiveRun(const Scenario& scenario, const LiveOptions& options, k8s::RestClient& client)
      : scenario_(scenario), options_(options), client_(client) {}

  tl::expected<SimResult, std::string> run(SchedulerService& service);

  void on_pod_event(PodEvent event) {
    std::lock_guard lock(events_mutex_);
    events_.push_back(std::move(event));
  }

 private:
  struct Finish {
    TimeMs at;
    size_t job;
    bool operator>(const Finish& other) const {
      return at != other.at ? at > other.at : job > other.job;
    }
  };

  tl::expected<void, std::string> create_cluster();
  tl::expected<void, std::string> post(const std::string& path, const nlohmann::json& body);
  void patch_phase(const std::string& pod, const char* phase);
  void record_past_usage(const QueueSpec& queue);
  void admit(size_t job, TimeMs now);
  void observe(TimeMs now);
  void bound(const Pod& pod, size_t job_index, bool start, TimeMs now);
  void gone(const std::string& pod, size_t job, bool deleted, TimeMs now);
  void finish_due(TimeMs now);
  void sample(TimeMs now);
  void collect_pending();
  void collect_gangs();
  void collect_evictions();
  void serve_reservations();
  TimeMs now() const {
    const double real_ms =
        std::chrono::duration<double, std::milli>(SteadyClock::now() - start_).count();
    return static_cast<TimeMs>(real_ms * options_.speed);
  }

  const Scenario& scenario_;
  const LiveOptions& options_;
  k8s::RestClient& client_;
  SimResult result_;
  SteadyClock::time_point start_;

  std::vector<JobArrival> arrivals_;
  std::vector<std::vector<std::string>> job_pods_;      // pod names per job
  std::unordered_map<std::string, size_t> job_of_pod_;  // pod name → job
  std::unordered_map<std::string, int64_t> pod_gpus_;   // pod name → canonical GPUs
  std::unordered_set<std::string> bound_;               // pods seen with a node, ever
  std::unordered_set<std::string> finished_pods_;       // pods the driver ended (job done)
  std::unordered_set<std::string> evicted_;             // bound pods someone else deleted
  std::vector<bool> created_;
  std::priority_queue<Finish, std::vector<Finish>, std::greater<>> finishing_;
  size_t next_arrival_ = 0;
  size_t finished_ = 0;
  TimeMs last_progress_ = 0;

  std::vector<std::string> queue_names_;      // parallel to result_.queues
  std::vector<std::vector<size_t>> subtree_;  // queue → itself and descendants
  std::unordered_map<std::string, size_t> queue_index_;

  std::mutex events_mutex_;
  std::vector<PodEvent> events_;
};

tl::expected<void, std::string> LiveRun::post(const std::string& path, const nlohmann::json& body) {
  const auto response = client_.request("POST", path, body.dump());
  if (!response) return tl::unexpected(fmt::format("POST {}: {}", path, response.error().message));
  if (!response->ok() && response->status != 409) {
    return tl::unexpected(
        fmt::format("POST {}: HTTP {}: {}", path, response->status, response->body.substr(0, 200)));
  }
  return {};
}

// A queue's pastUsage, as the scheduler persists history: Queue status.usage, dated now.
void LiveRun::record_past_usage(const QueueSpec& queue) {
  nlohmann::json shares = nlohmann::json::object();
  for (const auto& [resource, share] : queue.past_usage->shares) {
    shares[resource] = usage_share_text(share);
  }
  const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  const nlohmann::json patch = {
      {"status", {{"usage", {{"time", k8s::format_rfc3339(now)}, {"shares", std::move(shares)}}}}}};
  (void)client_.request("PATCH",
                        "/apis/scheduling.fairway.dev/v1alpha1/queues/" + queue.name + "/status",
                        patch.dump(), "application/merge-patch+json");
}

void LiveRun::patch_phase(const std::string& pod, const char* phase) {
  const std::string path = fmt::format("/api/v1/namespaces/{}/pods/{}/status", kSimNamespace, pod);
  (void)client_.request("PATCH", path, nlohmann::json{{"status", {{"phase", phase}}}}.dump(),
                        "application/merge-patch+json");
}

tl::expected<void, std::string> LiveRun::create_cluster() {
  if (auto ok = post("/api/v1/namespaces", namespace_manifest(std::string(kSimNamespace))); !ok)
    return ok;
  for (const Node& node : build_nodes(scenario_)) {
    if (auto ok = post("/api/v1/nodes", node_manifest(node)); !ok) return ok;
    result_.gpu_capacity +=
        static_cast<double>(node.allocatable.contains(std::string(kGpuResourceName))
                                ? node.allocatable.at(std::string(kGpuResourceName))
                                : 0) /
        kMilli;
    ++result_.nodes;
  }
  for (const QueueSpec& queue : scenario_.queues) {
    if (auto ok = post("/apis/scheduling.fairway.dev/v1alpha1/queues", queue_manifest(queue)); !ok)
      return ok;
    if (queue.past_usage) record_past_usage(queue);
  }
  for (const TopologySpec& topology : scenario_.topologies) {
    if (auto ok =
            post("/apis/scheduling.fairway.dev/v1alpha1/topologies", topology_manifest(topology));
        !ok) {
      return ok;
    }
  }
  return {};
}

void LiveRun::admit(size_t job, TimeMs now) {
  const JobArrival& arrival = arrivals_[job];
  const JobStreamSpec& stream = scenario_.jobs[arrival.stream];
  // As an operator does: the workload first, then its pods, owned by it under the uid the API
  // server gave it.
  std::string owner_uid;
  if (auto workload = build_workload(arrival, stream)) {
    const std::string path = fmt::format("/apis/{}/namespaces/{}/{}", workload->api_version,
                                         kSimNamespace, workload_resource(workload->kind));
    const auto created = client_.request("POST", path, workload_manifest(*workload).dump());
    if (created && created->ok()) {
      const auto body = nlohmann::json::parse(created->body, nullptr, false);
      if (body.is_object()) owner_uid = body["metadata"].value("uid", std::string());
    }
  }
  if (auto group = build_pod_group(arrival, stream)) {
    (void)post(
        fmt::format("/apis/scheduling.fairway.dev/v1alpha1/namespaces/{}/podgroups", kSimNamespace),
        pod_group_manifest(*group));
  }
  for (Pod& pod : build_pods(arrival, stream)) {
    pod.creation_ms = now;
    if (!owner_uid.empty()) pod.owner.uid = owner_uid;
    if (auto ok = post(fmt::format("/api/v1/namespaces/{}/pods", kSimNamespace), pod_manifest(pod));
        !ok) {
      continue;  // reported by the scheduler side as a missing pod; the run goes on
    }
  }
  created_[job] = true;
}

// Pods the scheduler bound since the last tick: play the kubelet and start jobs that are whole.
void LiveRun::observe(TimeMs now) {
  std::vector<PodEvent> events;
  {
    std::lock_guard lock(events_mutex_);
    events.swap(events_);
  }
  for (PodEvent& event : events) {
    const std::string& name = event.pod.name;
    auto job_it = job_of_pod_.find(name);
    if (job_it == job_of_pod_.end()) continue;
    const bool going = event.deleted || event.pod.deleting;
    // A watch may show a pod's binding and its eviction in one event: bound first, then gone.
    if (!event.pod.node_name.empty() && !bound_.contains(name)) {
      bound(event.pod, job_it->second, !going, now);
    }
    if (going) gone(name, job_it->second, event.deleted, now);
  }
}

// The kubelet starts a pod fairway bound (phase Running, unless it is already going); a job whose
// every pod is bound starts its run time.
void LiveRun::bound(const Pod& pod, size_t job_index, bool start, TimeMs now) {
  bound_.insert(pod.name);
  JobOutcome& job = result_.jobs[job_index];
  // A fractional pod is labelled with the shared GPU it joins before it is bound.
  if (auto group = pod.labels.find(std::string(kGpuGroupLabel));
      group != pod.labels.end() && job.gpu_group.empty()) {
    job.gpu_group = group->second;
  }
  ++result_.pods_bound;
  if (start) patch_phase(pod.name, "Running");
  if (!job.first_bound_ms) job.first_bound_ms = now;
  ++job.pods_bound;
  last_progress_ = now;
  if (job.pods_bound == job.pods && !job.started_ms) {
    job.started_ms = now;
    const TimeMs duration = scenario_.jobs[job.stream].duration_ms;
    finishing_.push({now + duration, job_index});
  }
}

// A bound pod the driver did not end is being deleted: fairway evicted it (the Eviction API sets
// its deletionTimestamp). The kubelet's part: stop it (phase Failed) and confirm the deletion
// (grace 0). The job loses the pod for good; once every pod of it is gone, it has ended.
void LiveRun::gone(const std::string& pod, size_t job, bool deleted, TimeMs now) {
  if (!bound_.contains(pod) || finished_pods_.contains(pod) || evicted_.contains(pod)) return;
  evicted_.insert(pod);
  if (!deleted) {
    patch_phase(pod, "Failed");
    (void)client_.request("DELETE",
                          fmt::format("/api/v1/namespaces/{}/pods/{}", kSimNamespace, pod),
                          R"({"gracePeriodSeconds":0})");
  }
  JobOutcome& outcome = result_.jobs[job];
  // "deleted" until fairway's Event on the pod says which action it was (collect_evictions).
  result_.evictions.push_back({.time_ms = now,
                               .action = "deleted",
                               .pod = pod,
                               .job = outcome.name,
                               .queue = outcome.queue,
                               .for_job = "",
                               .for_queue = ""});
  last_progress_ = now;
  if (++outcome.pods_evicted == outcome.pods && !outcome.ended()) {
    outcome.evicted_ms = now;
    ++finished_;
  }
}

void LiveRun::finish_due(TimeMs now) {
  while (!finishing_.empty() && finishing_.top().at <= now) {
    const Finish finish = finishing_.top();
    finishing_.pop();
    JobOutcome& job = result_.jobs[finish.job];
    if (job.ended()) continue;  // every pod evicted
    job.finished_ms = finish.at;
    for (const std::string& pod : job_pods_[finish.job]) {
      if (evicted_.contains(pod)) continue;
      finished_pods_.insert(pod);
      patch_phase(pod, "Succeeded");
      (void)client_.request("DELETE",
                            fmt::format("/api/v1/namespaces/{}/pods/{}", kSimNamespace, pod),
                            R"({"gracePeriodSeconds":0})");
    }
    ++finished_;
    last_progress_ = now;
  }
}

// Fair shares from Queue status (what the scheduler published), allocation and pending pods from
// what the driver saw.
void LiveRun::sample(TimeMs now) {
  Sample sample;
  sample.time_ms = now;
  sample.queues.resize(result_.queues.size());
  if (auto list = client_.get("/apis/scheduling.fairway.dev/v1alpha1/queues"); list && list->ok()) {
    const auto body = nlohmann::json::parse(list->body, nullptr, false);
    if (body.is_object() && body.contains("items")) {
      for (const auto& item : body["items"]) {
        const auto name = item["metadata"].value("name", std::string());
        auto it = queue_index_.find(name);
        if (it == queue_index_.end() || !item.contains("status")) continue;
        const auto& fair = item["status"].value("fairShare", nlohmann::json::object());
        if (auto gpu = fair.find(kGpuResourceName); gpu != fair.end() && gpu->is_string()) {
          sample.queues[it->second].fair_share_gpu =
              std::strtod(gpu->get<std::string>().c_str(), nullptr);
        }
      }
    }
  }
  std::vector<double> allocated(result_.queues.size(), 0);
  std::vector<uint32_t> pending(result_.queues.size(), 0);
  for (size_t j = 0; j < result_.jobs.size(); ++j) {
    if (!created_[j] || result_.jobs[j].ended()) continue;
    auto it = queue_index_.find(result_.jobs[j].queue);
    if (it == queue_index_.end()) continue;
    for (const std::string& pod : job_pods_[j]) {
      if (evicted_.contains(pod)) continue;
      if (bound_.contains(pod)) {
        allocated[it->second] += static_cast<double>(pod_gpus_[pod]) / kMilli;
      } else {
        ++pending[it->second];
      }
    }
  }
  for (size_t q = 0; q < result_.queues.size(); ++q) {
    for (size_t member : subtree_[q]) {
      sample.queues[q].allocated_gpu += allocated[member];
      sample.queues[q].pending_pods += pending[member];
    }
    if (result_.queues[q].depth == 0) sample.allocated_gpu += sample.queues[q].allocated_gpu;
  }
  // The implicit default queue has no Queue object: its fair share is what it holds.
  if (auto it = queue_index_.find(std::string(kDefaultQueueName));
      it != queue_index_.end() &&
      std::none_of(scenario_.queues.begin(), scenario_.queues.end(),
                   [](const QueueSpec& q) { return q.name == kDefaultQueueName; })) {
    sample.queues[it->second].fair_share_gpu = sample.queues[it->second].allocated_gpu;
  }
  result_.samples.push_back(std::move(sample));
}

// Why each job still waits, from its pods' PodScheduled condition.
void LiveRun::collect_pending() {
  auto list = client_.get(fmt::format("/api/v1/namespaces/{}/pods", kSimNamespace));
  if (!list || !list->ok()) return;
  const auto body = nlohmann::json::parse(list->body, nullptr, false);
  if (!body.is_object() || !body.contains("items")) return;
  std::unordered_map<size_t, std::string> message_of;
  for (const auto& item : body["items"]) {
    if (item["spec"].contains("nodeName")) continue;
    auto job = job_of_pod_.find(item["metadata"].value("name", std::string()));
    if (job == job_of_pod_.end() || message_of.contains(job->second)) continue;
    std::string message = "waiting for the scheduler";
    for (const auto& condition : item.value("status", nlohmann::json::object())
                                     .value("conditions", nlohmann::json::array())) {
      if (condition.value("type", "") == "PodScheduled")
        message = condition.value("message", message);
    }
    message_of[job->second] = std::move(message);
  }
  for (auto& [job, message] : message_of) {
    result_.pending.push_back(
        {result_.jobs[job].name, result_.jobs[job].queue, "Unschedulable", std::move(message)});
  }
  std::sort(result_.pending.begin(), result_.pending.end(),
            [](const PendingJobInfo& a, const PendingJobInfo& b) { return a.job < b.job; });
}

// How the scheduler grouped each workload's pods: the PodGroup it wrote for the inferred gang
// (docs/gangs.md), its source annotation and minMember.
void LiveRun::collect_gangs() {
  auto list = client_.get(
      fmt::format("/apis/scheduling.fairway.dev/v1alpha1/namespaces/{}/podgroups", kSimNamespace));
  if (!list || !list->ok()) return;
  const auto body = nlohmann::json::parse(list->body, nullptr, false);
  if (!body.is_object() || !body.contains("items")) return;
  std::unordered_map<std::string, const nlohmann::json*> by_name;
  for (const auto& item : body["items"]) {
    by_name[item["metadata"].value("name", std::string())] = &item;
  }
  for (size_t j = 0; j < arrivals_.size(); ++j) {
    const auto workload = build_workload(arrivals_[j], scenario_.jobs[arrivals_[j].stream]);
    if (!workload) continue;
    auto it = by_name.find(inferred_gang_name(workload->kind, workload->name));
    if (it == by_name.end()) continue;
    const nlohmann::json& group = *it->second;
    result_.jobs[j].gang = group["metadata"]
                               .value("annotations", nlohmann::json::object())
                               .value(std::string(kInferredFromAnnotation), std::string());
    result_.jobs[j].min_member =
        group.value("spec", nlohmann::json::object()).value("minMember", 1);
  }
}

// The kubelet's part for the reservation pods fairway creates for shared GPUs: one whose GPU the
// stand-in node agent has reported runs; one being deleted (its last sharer gone) is confirmed
// at once.
void LiveRun::serve_reservations() {
  const std::string pods = fmt::format("/api/v1/namespaces/{}/pods", kDefaultReservationNamespace);
  auto list = client_.get(pods);
  if (!list || !list->ok()) return;
  const auto body = nlohmann::json::parse(list->body, nullptr, false);
  if (!body.is_object() || !body.contains("items")) return;
  for (const auto& item : body["items"]) {
    const auto& metadata = item.value("metadata", nlohmann::json::object());
    const std::string name = metadata.value("name", std::string());
    const std::string path = pods + "/" + name;
    if (metadata.contains("deletionTimestamp")) {
      (void)client_.request("DELETE", path, R"({"gracePeriodSeconds":0})");
      continue;
    }
    // The stand-in node agent (sim/dev) reports the GPU; the pod then runs, as on a kubelet.
    if (!metadata.value("annotations", nlohmann::json::object())
             .contains(std::string(kGpuUuidAnnotation)) ||
        item.value("status", nlohmann::json::object()).value("phase", std::string()) == "Running") {
      continue;
    }
    (void)client_.request("PATCH", path + "/status",
                          nlohmann::json{{"status", {{"phase", "Running"}}}}.dump(),
                          "application/merge-patch+json");
  }
}

// Who each eviction was for, from the Event fairway posts on its victim (reason Reclaimed,
// Preempted, Consolidated or GangIncomplete; message `reclaim: evicted to make room for job
// sim/serve-3 of queue "production"`): what a person reads with kubectl get events.
void LiveRun::collect_evictions() {
  if (result_.evictions.empty()) return;
  auto list = client_.get(fmt::format("/api/v1/namespaces/{}/events", kSimNamespace));
  if (!list || !list->ok()) return;
  const auto body = nlohmann::json::parse(list->body, nullptr, false);
  if (!body.is_object() || !body.contains("items")) return;
  std::unordered_map<std::string, size_t> job_of_key;  // the scheduler's job key → job
  for (size_t j = 0; j < arrivals_.size(); ++j) {
    job_of_key[cycle_job_key(arrivals_[j], scenario_.jobs[arrivals_[j].stream])] = j;
  }
  std::unordered_map<std::string, const nlohmann::json*> event_of_pod;
  for (const auto& item : body["items"]) {
    const std::string reason = item.value("reason", std::string());
    if (reason != reasons::kReclaimed && reason != reasons::kPreempted &&
        reason != reasons::kConsolidated && reason != reasons::kStaleGang) {
      continue;
    }
    event_of_pod[item.value("involvedObject", nlohmann::json::object())
                     .value("name", std::string())] = &item;
  }
  for (Eviction& eviction : result_.evictions) {
    auto it = event_of_pod.find(eviction.pod);
    if (it == event_of_pod.end()) continue;  // stays "deleted": not fairway's doing
    const std::string reason = it->second->value("reason", std::string());
    const std::string message = it->second->value("message", std::string());
    if (reason == reasons::kStaleGang) {
      eviction.action = "stale-gang";
      continue;
    }
    eviction.action = message.substr(0, message.find(':'));
    constexpr std::string_view kJob = "make room for job ";
    constexpr std::string_view kQueue = " of queue \"";
    const auto job_at = message.find(kJob);
    const auto queue_at = message.find(kQueue, job_at == std::string::npos ? 0 : job_at);
    if (job_at == std::string::npos || queue_at == std::string::npos) continue;
    const std::string key = message.substr(job_at + kJob.size(), queue_at - job_at - kJob.size());
    auto job = job_of_key.find(key);
    eviction.for_job = job != job_of_key.end() ? result_.jobs[job->second].name : key;
    const auto queue_from = queue_at + kQueue.size();
    eviction.for_queue = message.substr(queue_from, message.find('"', queue_from) - queue_from);
  }
}

tl::expected<SimResult, std::string> LiveRun::run(SchedulerService& service) {
  result_.scenario = scenario_.name;
  result_.cycle_period_ms = scenario_.cycle_period_ms;
  result_.description = scenario_.description;
  result_.report_every_ms = scenario_.report_every_ms;

  // Report order of the queues, as the in-process driver has it.
  ResourceRegistry registry;
  const QueueTree tree = QueueTree::build(scenario_.queues, registry);
  std::function<void(QueueIndex)> visit = [&](QueueIndex index) {
    const QueueNode& node = tree.node(index);
    queue_index_[node.name] = result_.queues.size();
    result_.queues.push_back({node.name, node.parent == kNoQueue ? "" : tree.node(node.parent).name,
                              node.depth, node.is_leaf()});
    for (QueueIndex child : node.children) visit(child);
  };
  for (QueueIndex root : tree.roots()) visit(root);
  subtree_.resize(result_.queues.size());
  for (size_t q = 0; q < result_.queues.size(); ++q) {
    for (size_t a = q;;) {
      subtree_[a].push_back(q);
      const std::string& parent = result_.queues[a].parent;
      if (parent.empty()) break;
      a = queue_index_.at(parent);
    }
  }

  arrivals_ = expand_arrivals(scenario_);
  job_pods_.resize(arrivals_.size());
  created_.assign(arrivals_.size(), false);
  for (size_t i = 0; i < arrivals_.size(); ++i) {
    const JobArrival& arrival = arrivals_[i];
    const JobStreamSpec& stream = scenario_.jobs[arrival.stream];
    JobOutcome job = job_outcome(arrival, stream);
    for (const Pod& pod : build_pods(arrival, stream)) {
      job_pods_[i].push_back(pod.name);
      job_of_pod_[pod.name] = i;
      pod_gpus_[pod.name] = job.gpus / std::max(job.pods, 1);
    }
    result_.jobs.push_back(std::move(job));
  }

  if (auto ok = create_cluster(); !ok) return tl::unexpected(ok.error());

  const TimeMs every = options_.report_every_ms > 0 ? options_.report_every_ms
                                                    : scenario_.report_every_ms.value_or(10'000);
  const TimeMs sample_every = std::max<TimeMs>(scenario_.cycle_period_ms, 500);
  const TimeMs last_arrival = arrivals_.empty() ? 0 : arrivals_.back().arrival_ms;
  TimeMs next_table = 0;
  TimeMs next_sample = 0;
  TimeMs next_device = 0;
  const bool shares_gpus =
      std::any_of(scenario_.jobs.begin(), scenario_.jobs.end(),
                  [](const JobStreamSpec& stream) { return stream.gpu_fraction > 0; });
  start_ = SteadyClock::now();
  for (;;) {
    const TimeMs t = now();
    finish_due(t);
    while (next_arrival_ < arrivals_.size() && arrivals_[next_arrival_].arrival_ms <= t) {
      admit(next_arrival_++, t);
      last_progress_ = t;
    }
    if (shares_gpus && t >= next_device) {
      serve_reservations();
      next_device = t + sample_every / 2;
    }
    observe(t);
    if (t >= next_sample) {
      sample(t);
      next_sample = t + sample_every;
      if (t >= next_table) {
        if (options_.on_table) options_.on_table(result_, result_.samples.back(), next_table);
        next_table += every;
      }
    }
    const bool all_done = next_arrival_ == arrivals_.size() && finished_ == arrivals_.size();
    if (all_done) {
      result_.stop = StopReason::kAllJobsDone;
      break;
    }
    if (scenario_.duration_ms && t >= *scenario_.duration_ms) {
      result_.stop = StopReason::kDurationReached;
      break;
    }
    if (next_arrival_ == arrivals_.size() && finishing_.empty() &&
        t - last_progress_ > kStallAfterMs) {
      result_.stop = StopReason::kStalled;
      break;
    }
    if (t > last_arrival + 7LL * 24 * 3600 * 1000) {
      result_.stop = StopReason::kHardCap;
      break;
    }
    std::this_thread::sleep_for(kTick);
  }
  result_.end_ms = now();
  sample(result_.end_ms);
  collect_pending();
  collect_gangs();
  collect_evictions();
  result_.cycles_run = service.stats().cycles.load();
  return std::move(result_);
}

}  // namespace

// The scheduler runs on real time while the scenario runs `speed` times faster: its preemption
// pass's periods and durations (set for a real cluster) are shortened by the same factor, so the
// pass runs as often per simulated second as it would per real second on a cluster.
void scale_preemption_times(PreemptionOptions& preemption, double speed) {
  auto scaled = [speed](auto duration) {
    using Duration = decltype(duration);
    if (duration.count() <= 0) return duration;  // 0: off, and stays off
    return std::max<Duration>(Duration(1), Duration(static_cast<typename Duration::rep>(
                                               static_cast<double>(duration.count()) / speed)));
  };
  preemption.period = scaled(preemption.period);
  preemption.refused_backoff = scaled(preemption.refused_backoff);
  preemption.no_plan_backoff = scaled(preemption.no_plan_backoff);
  PlannerOptions& planner = preemption.planner;
  planner.cool_down_ms = scaled(std::chrono::milliseconds(planner.cool_down_ms)).count();
  planner.nomination_ms = scaled(std::chrono::milliseconds(planner.nomination_ms)).count();
  planner.nomination_after_victims_ms =
      scaled(std::chrono::milliseconds(planner.nomination_after_victims_ms)).count();
  planner.stale_gang_grace_ms =
      scaled(std::chrono::milliseconds(planner.stale_gang_grace_ms)).count();
}

tl::expected<SimResult, std::string> run_live(const Scenario& scenario,
                                              const LiveOptions& options) {
  apiserver::ServerOptions server_options;
  server_options.verbosity = options.verbosity;
  server_options.audit_log_path = options.audit_log_path;
  server_options.port = options.apiserver_port;
  auto server = apiserver::Server::start(server_options);
  if (!server) return tl::unexpected("embedded API server: " + server.error());

  // The scheduler and the driver read the same kubeconfig a person would give kubectl.
  const std::string& kubeconfig = options.kubeconfig_path;
  if (auto written = (*server)->write_kubeconfig(kubeconfig); !written) {
    return tl::unexpected("kubeconfig: " + written.error());
  }
  auto cluster = k8s::load_kubeconfig(kubeconfig);
  if (!cluster) return tl::unexpected("kubeconfig: " + cluster.error());

  k8s::RestOptions rest;
  rest.user_agent = "fairway-sim-driver";  // the simulated users and kubelet, not the scheduler
  rest.qps = 2000;
  rest.burst = 2000;
  rest.pool_size = 4;
  k8s::RestClient client(*cluster, rest);
  // The scheduler reads which workload kinds are served when it starts: a PyTorchJob's CRD is
  // installed before it, as the training operator would have.
  if (std::any_of(scenario.jobs.begin(), scenario.jobs.end(), [](const JobStreamSpec& stream) {
        return stream.workload == SimWorkload::kPyTorchJob;
      })) {
    const auto crd =
        client.request("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
                       pytorchjob_crd_manifest().dump());
    if (!crd || (!crd->ok() && crd->status != 409)) {
      return tl::unexpected("PyTorchJob CRD: " +
                            (crd ? crd->body.substr(0, 200) : crd.error().message));
    }
  }
  // What the Helm chart would have installed (sim/dev): the reservation namespace and
  // PriorityClass for fractional GPUs, and the stand-in node agent that gives reservation pods
  // their fake GPU. The scenario's queues are the cluster's queues, as the chart's `queues`
  // value would be: no `default` Queue of the chart's besides them.
  if (auto created = dev::bootstrap_chart_objects(client, {.default_queue = false}); !created) {
    return tl::unexpected("bootstrap: " + created.error());
  }
  auto gpu_agent = std::make_unique<dev::FakeGpuAgent>(*cluster, dev::FakeGpuAgentOptions{});
  LiveRun run(scenario, options, client);

  // Pods of the simulation, watched like any client would.
  k8s::Reflector<Pod>::Handler handler;
  handler.on_event = [&run](k8s::EventType type, k8s::Decoded<Pod>&& decoded) {
    run.on_pod_event({type == k8s::EventType::kDeleted, std::move(decoded.object)});
  };
  handler.on_synced = [] {};
  handler.on_problem = [](std::string_view) {};
  k8s::Reflector<Pod> pods(client, "pods", fmt::format("/api/v1/namespaces/{}/pods", kSimNamespace),
                           &k8s::decode_pod, std::move(handler));
  std::jthread watcher([&pods](std::stop_token stop) { pods.run(stop); });

  SchedulerOptions scheduler_options;
  scheduler_options.leader_elect = false;
  scheduler_options.metrics_bind_address = options.metrics_bind_address;
  scheduler_options.kube_api_qps = 2000;
  scheduler_options.kube_api_burst = 2000;
  scheduler_options.schedule_period = std::chrono::milliseconds(std::max<int64_t>(
      5, static_cast<int64_t>(static_cast<double>(scenario.cycle_period_ms) / options.speed)));
  scale_preemption_times(scheduler_options.preemption, options.speed);
  // Past use fades on the scenario's clock: its half-life is scaled like the preemption times.
  scheduler_options.usage = scenario.usage;
  scheduler_options.usage.half_life_ms = std::max<int64_t>(
      1, static_cast<int64_t>(static_cast<double>(scenario.usage.half_life_ms) / options.speed));
  SchedulerService service(*cluster, scheduler_options);
  std::stop_source stop_scheduler;
  std::thread scheduler([&] { service.run(stop_scheduler.get_token()); });

  auto result = run.run(service);

  if (options.before_shutdown) options.before_shutdown();
  stop_scheduler.request_stop();
  scheduler.join();
  watcher.request_stop();
  client.stop();
  watcher.join();
  gpu_agent.reset();
  (*server)->stop();
  return result;
}

}  // namespace fairway::sim
