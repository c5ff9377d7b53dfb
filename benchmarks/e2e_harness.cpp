// End-to-end throughput harness (issue: the watch loop). In one run, against one embedded API
// server over HTTPS:
//   1. the raw ceiling: a client with no decisions binds N pending pods round-robin to the nodes
//      with W concurrent workers → binds/s;
//   2. fairway: N fresh pending pods exist before start; the real scheduler service starts,
//      lists, watches, decides and binds with the same client settings and W bind workers →
//      time to first bind, pods/s from first to last bind, and the ratio to the ceiling.
// Defaults are the issue's set-up: 1,000 nodes × 8 GPUs, 8,000 one-GPU pods.
//
//   3. API requests per bound pod: every request the scheduler made during its run (the API
//      server's audit hook, by user agent), by verb and resource (docs/benchmarks.md).
//
//   build/benchmarks/e2e_harness [--nodes 1000] [--pods 8000] [--workers 16] [--qps 5000]
#include <fmt/format.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "k8s-client/config.h"
#include "k8s-client/objects.h"
#include "k8s-client/rest_client.h"
#include "scheduler/cmd/flags.h"
#include "scheduler/service/scheduler_service.h"
#include "sim/apiserver/server.h"

namespace {

using Clock = std::chrono::steady_clock;
using fairway::k8s::RestClient;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Runs fn(i) for i in [0, n) on `threads` threads.
template <typename Fn>
void parallel_for(int n, int threads, Fn fn) {
  std::atomic<int> next{0};
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&] {
      for (int i = next++; i < n; i = next++) fn(i);
    });
  }
  for (auto& thread : pool) thread.join();
}

void must(const tl::expected<fairway::k8s::Response, fairway::k8s::TransportError>& response,
          const char* what) {
  if (!response || !response->ok()) {
    std::fprintf(
        stderr, "%s failed: %s\n", what,
        response ? response->body.substr(0, 300).c_str() : response.error().message.c_str());
    std::exit(1);
  }
}

std::string node_json(int i) {
  const std::string name = fmt::format("node-{}", i);
  const nlohmann::json allocatable = {
      {"cpu", "128"}, {"memory", "1Ti"}, {"nvidia.com/gpu", "8"}, {"pods", "110"}};
  return nlohmann::json{
      {"apiVersion", "v1"},
      {"kind", "Node"},
      {"metadata", {{"name", name}, {"labels", {{"kubernetes.io/hostname", name}}}}},
      {"status",
       {{"allocatable", allocatable},
        {"capacity", allocatable},
        {"conditions", {{{"type", "Ready"}, {"status", "True"}}}}}}}
      .dump();
}

std::string pod_json(const std::string& ns, int i) {
  return nlohmann::json{
      {"apiVersion", "v1"},
      {"kind", "Pod"},
      {"metadata", {{"name", fmt::format("pod-{}", i)}, {"namespace", ns}}},
      {"spec",
       {{"schedulerName", "fairway"},
        {"containers",
         {{{"name", "main"},
           {"image", "registry.k8s.io/pause:3.9"},
           {"resources",
            {{"requests", {{"cpu", "1"}, {"memory", "1Gi"}, {"nvidia.com/gpu", "1"}}},
             {"limits", {{"nvidia.com/gpu", "1"}}}}}}}}}}}
      .dump();
}

void create_pods(RestClient& client, const std::string& ns, int pods, int workers) {
  must(client.request(
           "POST", "/api/v1/namespaces",
           nlohmann::json{{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", ns}}}}
               .dump()),
       "create namespace");
  parallel_for(pods, workers, [&](int i) {
    must(client.request("POST", fmt::format("/api/v1/namespaces/{}/pods", ns), pod_json(ns, i)),
         "create pod");
  });
}

// "create pods/binding", "list nodes", "get namespaces": an API path as verb and resource, the
// way kube-apiserver's audit log names requests (non-resource paths such as discovery: "get
// /apis").
std::string request_kind(std::string_view method, std::string_view target) {
  const std::string path(target.substr(0, target.find('?')));
  std::vector<std::string> parts;
  for (size_t start = 1; start <= path.size();) {
    const size_t slash = std::min(path.find('/', start), path.size());
    if (slash > start) parts.push_back(path.substr(start, slash - start));
    start = slash + 1;
  }
  size_t at = 0;
  if (!parts.empty() && parts[0] == "api") at = 2;
  if (!parts.empty() && parts[0] == "apis") at = 3;
  if (at == 0 || parts.size() <= at) return fmt::format("{} {}", method, path);
  std::vector<std::string> rest(parts.begin() + static_cast<long>(at), parts.end());
  if (rest.size() >= 3 && rest[0] == "namespaces") rest.erase(rest.begin(), rest.begin() + 2);
  const bool named = rest.size() >= 2;
  std::string resource = rest[0] + (rest.size() >= 3 ? "/" + rest[2] : "");
  std::string verb = method == "GET"      ? (named ? "get" : "list")
                     : method == "POST"   ? "create"
                     : method == "PATCH"  ? "patch"
                     : method == "PUT"    ? "update"
                     : method == "DELETE" ? "delete"
                                          : std::string(method);
  return verb + " " + resource;
}

// Requests by kind from one user agent, counted by the API server's audit hook.
class RequestCounter {
 public:
  void count(const fairway::apiserver::ServerOptions::AuditRecord& record) {
    if (record.user_agent.find("fairway-scheduler") == std::string_view::npos) return;
    std::lock_guard lock(mutex_);
    ++counts_[request_kind(record.method, record.target)];
  }
  uint64_t count_of(const std::string& kind) {
    std::lock_guard lock(mutex_);
    const auto it = counts_.find(kind);
    return it == counts_.end() ? 0 : it->second;
  }
  std::map<std::string, uint64_t> counts() {
    std::lock_guard lock(mutex_);
    return counts_;
  }

 private:
  std::mutex mutex_;
  std::map<std::string, uint64_t> counts_;
};

}  // namespace

int main(int argc, char** argv) {
  int nodes = 1000;
  int pods = 8000;
  int workers = 16;
  double qps = 5000;
  fairway::cmd::FlagSet flags("e2e_harness");
  flags.add_int("nodes", &nodes, "nodes with 8 GPUs each");
  flags.add_int("pods", &pods, "pending one-GPU pods");
  flags.add_int("workers", &workers, "concurrent binds, for the ceiling and for fairway");
  flags.add_double("qps", &qps, "client QPS and burst, for both");
  std::vector<std::string> args(argv + 1, argv + argc);
  if (auto parsed = flags.parse(args); !parsed || flags.help_requested()) {
    std::fprintf(stderr, "%s\n%s", parsed ? "" : parsed.error().c_str(), flags.usage().c_str());
    return 2;
  }

  fairway::apiserver::ServerOptions server_options;
  server_options.store.history_window = static_cast<size_t>(4 * pods + nodes + 1000);
  RequestCounter requests;
  server_options.audit = [&requests](const fairway::apiserver::ServerOptions::AuditRecord& r) {
    requests.count(r);
  };
  auto server = fairway::apiserver::Server::start(server_options);
  if (!server) {
    std::fprintf(stderr, "apiserver: %s\n", server.error().c_str());
    return 1;
  }
  const auto kubeconfig =
      std::filesystem::temp_directory_path() / fmt::format("fairway-e2e-{}.kubeconfig", getpid());
  (void)(*server)->write_kubeconfig(kubeconfig.string());
  auto cluster = fairway::k8s::load_kubeconfig(kubeconfig.string());
  std::filesystem::remove(kubeconfig);
  if (!cluster) {
    std::fprintf(stderr, "kubeconfig: %s\n", cluster.error().c_str());
    return 1;
  }
  fairway::k8s::RestOptions rest;
  rest.qps = qps;
  rest.burst = static_cast<int>(qps);
  rest.pool_size = workers;
  RestClient client(*cluster, rest);

  std::printf("set-up: %d nodes × 8 GPUs, %d pending one-GPU pods, %d workers, client qps %.0f\n",
              nodes, pods, workers, qps);
  parallel_for(nodes, 8, [&](int i) {
    must(client.request("POST", "/api/v1/nodes", node_json(i)), "create node");
  });

  // 1. The raw ceiling.
  create_pods(client, "ceiling", pods, 8);
  // Measured like fairway's figure: from the first accepted binding to the last, so neither
  // side pays for connection set-up in its rate.
  std::atomic<int64_t> first_ns{0};
  std::atomic<int64_t> last_ns{0};
  parallel_for(pods, workers, [&](int i) {
    const std::string name = fmt::format("pod-{}", i);
    must(client.request(
             "POST", fmt::format("/api/v1/namespaces/ceiling/pods/{}/binding", name),
             fairway::k8s::binding_body("ceiling", name, "", fmt::format("node-{}", i % nodes))),
         "ceiling bind");
    const int64_t now = Clock::now().time_since_epoch().count();
    int64_t unset = 0;
    first_ns.compare_exchange_strong(unset, now);
    int64_t seen = last_ns.load();
    while (seen < now && !last_ns.compare_exchange_weak(seen, now)) {
    }
  });
  const double ceiling_seconds =
      std::chrono::duration<double>(Clock::duration(last_ns.load() - first_ns.load())).count();
  const double ceiling_rate = (pods - 1) / ceiling_seconds;
  std::printf("ceiling: %d binds, %.3f s from first to last = %.0f binds/s\n", pods,
              ceiling_seconds, ceiling_rate);
  parallel_for(pods, 8, [&](int i) {
    must(client.request("DELETE", fmt::format("/api/v1/namespaces/ceiling/pods/pod-{}", i),
                        R"({"gracePeriodSeconds":0})"),
         "delete ceiling pod");
  });

  // 2. fairway.
  create_pods(client, "bench", pods, 8);
  fairway::SchedulerOptions options;
  options.leader_elect = false;
  options.kube_api_qps = qps;
  options.kube_api_burst = static_cast<int>(qps);
  options.bind_workers = workers;
  options.schedule_period = std::chrono::milliseconds(10);
  fairway::SchedulerService service(*cluster, options);
  std::stop_source stop;
  const auto start = Clock::now();
  std::thread runner([&] { service.run(stop.get_token()); });
  const auto& stats = service.stats();
  while (stats.binds_completed.load() < static_cast<uint64_t>(pods) && seconds_since(start) < 300) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  // Each bind's Event goes out after it, on the writer client: let them drain before counting
  // (the rates above are from the binds' own timestamps, so this wait does not change them).
  uint64_t events = requests.count_of("create events");
  for (auto stable_since = Clock::now(); seconds_since(start) < 300;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    const uint64_t now_events = requests.count_of("create events");
    if (now_events != events) {
      events = now_events;
      stable_since = Clock::now();
    } else if (seconds_since(stable_since) > 1.0) {
      break;
    }
  }
  stop.request_stop();
  runner.join();

  const uint64_t bound = stats.binds_completed.load();
  const auto first = Clock::time_point(Clock::duration(stats.first_bind_ns.load()));
  const auto last = Clock::time_point(Clock::duration(stats.last_bind_ns.load()));
  const double to_first = std::chrono::duration<double>(first - start).count();
  const double span = std::chrono::duration<double>(last - first).count();
  const double rate = span > 0 ? static_cast<double>(bound - 1) / span : 0;
  std::printf(
      "fairway: %llu binds; first bind %.3f s after start; %.0f pods/s from first to last bind\n",
      static_cast<unsigned long long>(bound), to_first, rate);
  std::printf("ratio to ceiling: %.2f (bar ≥ 0.80); first bind bar ≤ 1 s\n", rate / ceiling_rate);
  // 3. What the scheduler asked of the API server, all of its run (start-up lists included).
  uint64_t total = 0;
  std::printf("scheduler requests (watches not counted), per bound pod:\n");
  for (const auto& [kind, n] : requests.counts()) {
    total += n;
    std::printf("  %-32s %8llu  %.3f\n", kind.c_str(), static_cast<unsigned long long>(n),
                bound ? static_cast<double>(n) / static_cast<double>(bound) : 0.0);
  }
  std::printf("  %-32s %8llu  %.3f\n", "total", static_cast<unsigned long long>(total),
              bound ? static_cast<double>(total) / static_cast<double>(bound) : 0.0);

  // Sanity from the API's point of view: every pod bound, no node over 8 GPUs.
  auto list = client.get("/api/v1/namespaces/bench/pods");
  must(list, "list pods");
  std::unordered_map<std::string, int> per_node;
  int unbound = 0;
  for (const auto& item : nlohmann::json::parse(list->body)["items"]) {
    const auto node = item["spec"].value("nodeName", std::string());
    if (node.empty())
      ++unbound;
    else
      ++per_node[node];
  }
  int overcommitted = 0;
  for (const auto& [node, count] : per_node) overcommitted += count > 8 ? 1 : 0;
  std::printf("check: %d unbound, %d nodes over 8 GPUs\n", unbound, overcommitted);
  (*server)->stop();
  return unbound == 0 && overcommitted == 0 && bound == static_cast<uint64_t>(pods) ? 0 : 1;
}
