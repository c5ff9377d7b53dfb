// fairway_soak: the reliability soak test (issue 9). The embedded API server runs in this
// process with its fault switches; the real `fairway scheduler` binary runs as two replicas with
// leader election, killed with SIGKILL and paused with SIGSTOP at random points; pods come and go
// (a stand-in kubelet deletes them after a random lifetime); the independent invariant checker
// (sim/invariants) reads the API over HTTPS throughout. At the end faults stop and every feasible
// pod must get bound. Prints the figures and exits non-zero on any violation.
//
//   fairway_soak --fairway build/fairway --duration 60s --pods 3000     (make test: short form)
//   fairway_soak --fairway build/fairway --duration 600s --pods 50000   (make soak)

#include <arpa/inet.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "k8s-client/config.h"
#include "k8s-client/objects.h"
#include "k8s-client/rest_client.h"
#include "sim/apiserver/selectors.h"
#include "sim/apiserver/server.h"
#include "sim/invariants/invariants.h"
#include "sim/invariants/snapshot.h"

namespace {

using Clock = std::chrono::steady_clock;
using nlohmann::json;
namespace apiserver = fairway::apiserver;
namespace invariants = fairway::invariants;

struct Options {
  std::string fairway;
  std::chrono::seconds duration{60};
  int total_pods = 3000;
  int live_pods = 1500;  // at most this many pods exist at once
  int nodes = 48;
  int replicas = 2;
  std::chrono::seconds kill_every{6};
  std::chrono::seconds fault_every{3};
  std::chrono::seconds check_every{2};
  std::chrono::seconds settle{90};  // after faults stop: time for every feasible pod to bind
  // A fully bound job runs for between a sixth of this and this long before the stand-in
  // kubelet deletes it: shorter lifetimes mean more churn (more pods through the run).
  std::chrono::seconds lifetime{6};
  int lease_seconds = 4;
  uint64_t seed = 1;
  std::string work_dir;
  std::vector<std::string> scheduler_args;  // extra flags for every replica (--scheduler-arg)
  // fail (default): a feasible pod still pending after the settle time fails the run; warn: it
  // is printed (LIVENESS WARNING) but does not, for exploring other failures first.
  bool liveness_fails = true;
  // fail (default): a write from a replica that no longer holds the Lease fails the run; warn:
  // it is printed (STALE-WRITE WARNING) and counted.
  bool stale_writes_fail = true;
};

std::optional<std::chrono::seconds> parse_seconds(const std::string& text) {
  try {
    size_t used = 0;
    const long value = std::stol(text, &used);
    const std::string unit = text.substr(used);
    if (unit.empty() || unit == "s") return std::chrono::seconds(value);
    if (unit == "m") return std::chrono::seconds(value * 60);
  } catch (...) {
  }
  return std::nullopt;
}

int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}
double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// ------------------------------------------------------------------------------- replicas

// A TCP port on 127.0.0.1 that nothing listens on now (the kernel's pick).
int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return 0;
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(address);
  int port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0) {
    port = ntohs(address.sin_port);
  }
  ::close(fd);
  return port;
}

// GET http://127.0.0.1:port/path, the body ("" on any failure). For diagnosis only.
std::string http_get(int port, const std::string& path) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return {};
  timeval timeout{.tv_sec = 5, .tv_usec = 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(static_cast<uint16_t>(port));
  std::string response;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0) {
    const std::string request =
        "GET " + path + " HTTP/1.0\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
    if (::send(fd, request.data(), request.size(), MSG_NOSIGNAL) ==
        static_cast<ssize_t>(request.size())) {
      char buffer[4096];
      for (ssize_t n; (n = ::recv(fd, buffer, sizeof(buffer), 0)) > 0;)
        response.append(buffer, static_cast<size_t>(n));
    }
  }
  ::close(fd);
  const auto body = response.find("\r\n\r\n");
  return body == std::string::npos ? std::string() : response.substr(body + 4);
}

struct Replica {
  int index = 0;
  pid_t pid = -1;
  std::string log_path;
  int metrics_port = 0;  // its /metrics and /debug/... on 127.0.0.1 (0: none)
  bool stopped = false;  // SIGSTOPped
  std::chrono::steady_clock::time_point started;
};

class Replicas {
 public:
  Replicas(const Options& options, std::string kubeconfig)
      : options_(options), kubeconfig_(std::move(kubeconfig)) {
    help_ = run_help();
  }
  ~Replicas() {
    for (Replica& r : replicas_) kill_now(r);
  }

  void start_all() {
    replicas_.resize(static_cast<size_t>(options_.replicas));
    for (int i = 0; i < options_.replicas; ++i) {
      replicas_[static_cast<size_t>(i)].index = i;
      start(replicas_[static_cast<size_t>(i)]);
    }
  }

  void start(Replica& r) {
    r.log_path = fmt::format("{}/scheduler-{}-{}.log", options_.work_dir, r.index, ++incarnations_);
    std::vector<std::string> args = {
        options_.fairway,
        "scheduler",
        "--kubeconfig=" + kubeconfig_,
        "--leader-elect=true",
        "--leader-elect-resource-namespace=default",
        "--leader-elect-resource-name=fairway-soak",
        fmt::format("--leader-elect-lease-duration={}s", options_.lease_seconds),
        fmt::format("--leader-elect-renew-deadline={}s", options_.lease_seconds - 1),
        "--leader-elect-retry-period=1s",
        "--schedule-period=20ms"};
    for (const std::string& extra : options_.scheduler_args) args.push_back(extra);
    // Endpoints of other features: two replicas on one host must not fight over ports.
    r.metrics_port = 0;
    if (help_.find("--metrics-bind-address") != std::string::npos) {
      r.metrics_port = free_port();
      args.push_back(fmt::format("--metrics-bind-address=127.0.0.1:{}", r.metrics_port));
    }
    if (help_.find("--webhook-bind-address") != std::string::npos)
      args.push_back("--webhook-bind-address=0");
    // A gang left below its minMember (a leader killed between its binds) is given back well
    // within the checker's gang grace (30 s) when it cannot be completed.
    if (help_.find("--stale-gang-grace") != std::string::npos)
      args.push_back("--stale-gang-grace=15s");
    const pid_t pid = fork();
    if (pid == 0) {
      const int fd = open(r.log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (fd >= 0) {
        dup2(fd, 1);
        dup2(fd, 2);
        close(fd);
      }
      std::vector<char*> argv;
      for (std::string& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(argv[0], argv.data());
      _exit(127);
    }
    r.pid = pid;
    r.stopped = false;
    r.started = Clock::now();
    ++starts_;
  }

  void kill_now(Replica& r) {
    if (r.pid <= 0) return;
    ::kill(r.pid, SIGKILL);
    waitpid(r.pid, nullptr, 0);
    r.pid = -1;
  }

  // The replica whose log says it became leader as `identity`.
  Replica* by_identity(const std::string& identity) {
    if (identity.empty()) return nullptr;
    for (Replica& r : replicas_) {
      if (r.pid <= 0) continue;
      std::ifstream in(r.log_path);
      std::string line;
      while (std::getline(in, line)) {
        if (line.find("became leader") != std::string::npos &&
            line.find(identity) != std::string::npos) {
          return &r;
        }
      }
    }
    return nullptr;
  }

  // A replica that exited on its own is a failure of the test (crash): reported and restarted.
  std::vector<std::string> reap_crashed() {
    std::vector<std::string> crashes;
    for (Replica& r : replicas_) {
      if (r.pid <= 0) continue;
      int status = 0;
      if (waitpid(r.pid, &status, WNOHANG) == r.pid) {
        crashes.push_back(fmt::format("replica {} exited by itself (status {}), log {}", r.index,
                                      status, r.log_path));
        r.pid = -1;
        start(r);
      }
    }
    return crashes;
  }

  std::vector<Replica>& all() { return replicas_; }
  int starts() const { return starts_; }

 private:
  std::string run_help() {
    const std::string path = options_.work_dir + "/help.txt";
    const std::string command =
        fmt::format("'{}' scheduler --help >'{}' 2>&1", options_.fairway, path);
    if (std::system(command.c_str()) == -1) return {};
    std::ifstream in(path);
    std::string help;
    for (std::string line; std::getline(in, line);) help += line + "\n";
    return help;
  }

  const Options& options_;
  std::string kubeconfig_;
  std::string help_;
  std::vector<Replica> replicas_;
  int incarnations_ = 0;
  int starts_ = 0;
};

// ------------------------------------------------------------------------------- workload

json node_json(const std::string& name, const std::string& rack) {
  return {
      {"apiVersion", "v1"},
      {"kind", "Node"},
      {"metadata",
       {{"name", name},
        {"labels",
         {{"kubernetes.io/hostname", name}, {"rack", rack}, {"nvidia.com/gpu.memory", "81920"}}}}},
      {"status",
       {{"allocatable",
         {{"cpu", "64"}, {"memory", "512Gi"}, {"nvidia.com/gpu", "8"}, {"pods", "110"}}},
        {"capacity",
         {{"cpu", "64"}, {"memory", "512Gi"}, {"nvidia.com/gpu", "8"}, {"pods", "110"}}},
        {"conditions", {{{"type", "Ready"}, {"status", "True"}}}}}}};
}

json queue_json(const std::string& name, const std::string& parent, int quota,
                std::optional<int> limit) {
  json gpu = {{"quota", std::to_string(quota)}};
  if (limit) gpu["limit"] = std::to_string(*limit);
  json spec = {{"resources", {{"nvidia.com/gpu", gpu}}}};
  if (!parent.empty()) spec["parent"] = parent;
  return {{"apiVersion", "scheduling.fairway.dev/v1alpha1"},
          {"kind", "Queue"},
          {"metadata", {{"name", name}}},
          {"spec", spec}};
}

// `share`: a fractional pod's annotation (fairway.dev/gpu-fraction or gpu-memory) and value.
json pod_json(const std::string& ns, const std::string& name, const std::string& queue, int gpus,
              const std::string& cpu, const std::string& group, int min_member,
              std::pair<std::string, std::string> share = {}) {
  json limits = {{"cpu", cpu}, {"memory", "1Gi"}};
  if (gpus > 0) limits["nvidia.com/gpu"] = std::to_string(gpus);
  json metadata = {{"namespace", ns}, {"name", name}, {"labels", {{"fairway.dev/queue", queue}}}};
  if (!share.first.empty()) metadata["annotations"][share.first] = share.second;
  if (!group.empty()) {
    metadata["annotations"] = {{"fairway.dev/pod-group", group},
                               {"fairway.dev/min-member", std::to_string(min_member)}};
    metadata["labels"]["soak/job"] = group;
  } else {
    metadata["labels"]["soak/job"] = name;
  }
  return {{"apiVersion", "v1"},
          {"kind", "Pod"},
          {"metadata", metadata},
          {"spec",
           {{"schedulerName", "fairway"},
            {"containers",
             {{{"name", "main"}, {"image", "pause"}, {"resources", {{"limits", limits}}}}}}}},
          {"status", {{"phase", "Pending"}}}};
}

struct Figures {
  std::map<std::string, uint64_t> faults;
  int kills = 0;
  int pauses = 0;
  std::vector<double> failover_s;                // from the kill (or pause) to the takeover
  std::vector<double> failover_after_renewal_s;  // from the lost holder's last renewal
  uint64_t pods_created = 0;
  uint64_t fractional_pods = 0;     // of pods_created: on shared GPUs (reservation pods)
  uint64_t gpu_uuids_reported = 0;  // by the stand-in reservation agent
  uint64_t pods_deleted = 0;
  std::atomic<uint64_t> snapshots{0};  // counted on the checker thread, read by the report
  std::atomic<uint64_t> check_errors{0};
};

// "GET /api/v1/namespaces/a/pods?limit=5" → "list pods"; "POST .../pods/p/binding" →
// "create pods/binding"; "PATCH /apis/g/v1/queues/q/status" → "patch g/queues/status".
std::string rbac_call(std::string_view method, std::string_view target) {
  target = target.substr(0, target.find('?'));
  std::vector<std::string_view> parts;
  while (!target.empty()) {
    const size_t slash = target.find('/');
    if (slash != 0) parts.push_back(target.substr(0, slash));
    if (slash == std::string_view::npos) break;
    target.remove_prefix(slash + 1);
  }
  size_t at = 0;
  std::string group;
  if (!parts.empty() && parts[0] == "api") {
    at = 2;  // api/v1
  } else if (parts.size() >= 3) {
    group = std::string(parts[1]);
    at = 3;  // apis/group/version
  }
  if (at + 1 < parts.size() && parts[at] == "namespaces" && at + 2 < parts.size()) at += 2;
  if (at >= parts.size()) return std::string(method) + " ?";
  std::string resource = (group.empty() ? "" : group + "/") + std::string(parts[at]);
  const bool named = at + 1 < parts.size();
  if (at + 2 < parts.size()) resource += "/" + std::string(parts[at + 2]);
  std::string verb = "?";
  if (method == "GET")
    verb = named ? "get" : "list";
  else if (method == "POST")
    verb = "create";
  else if (method == "PUT")
    verb = "update";
  else if (method == "PATCH")
    verb = "patch";
  else if (method == "DELETE")
    verb = named ? "delete" : "deletecollection";
  return verb + " " + resource;
}

std::string identity_of(std::string_view user_agent) {
  const auto open = user_agent.find('(');
  const auto close = user_agent.rfind(')');
  if (open == std::string_view::npos || close == std::string_view::npos || close < open) return {};
  return std::string(user_agent.substr(open + 1, close - open - 1));
}

int run(const Options& options) {
  std::mt19937_64 rng(options.seed);
  auto chance = [&rng](double p) { return std::uniform_real_distribution<double>(0, 1)(rng) < p; };
  auto pick = [&rng](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };

  std::vector<std::string> violations;
  std::mutex violations_mu;
  std::atomic<uint64_t> binds_accepted{0};
  std::atomic<uint64_t> stale_writes{0};
  // What the scheduler called, as RBAC sees it ("list pods", "create pods/binding"): the chart's
  // ClusterRole must allow exactly these (watch goes with list).
  std::mutex calls_mu;
  std::set<std::string> calls;
  auto violation = [&](std::string text) {
    std::lock_guard lock(violations_mu);
    if (violations.size() < 200) violations.push_back(std::move(text));
  };

  std::atomic<apiserver::Store*> store_ptr{nullptr};
  // The Lease as the store has it: holder, and renewTime / acquireTime in wall milliseconds.
  struct LeaseRecord {
    std::string holder;
    int64_t renew_ms = 0;
    int64_t acquire_ms = 0;
  };
  auto lease_in = [](apiserver::Store& store) -> LeaseRecord {
    auto type = store.resource("coordination.k8s.io", "leases");
    if (!type) return {};
    auto lease = store.get(*type, "default", "fairway-soak");
    if (!lease) return {};
    const json& spec = (*lease->json)["spec"];
    if (!spec.is_object()) return {};
    auto time_ms = [&spec](const char* key) -> int64_t {
      if (!spec.contains(key) || !spec[key].is_string()) return 0;
      return fairway::k8s::parse_rfc3339_ms(spec[key].get<std::string>()).value_or(0);
    };
    LeaseRecord record;
    if (spec.contains("holderIdentity") && spec["holderIdentity"].is_string())
      record.holder = spec["holderIdentity"].get<std::string>();
    record.renew_ms = time_ms("renewTime");
    record.acquire_ms = time_ms("acquireTime");
    return record;
  };
  auto holder_in = [&lease_in](apiserver::Store& store) { return lease_in(store).holder; };

  apiserver::ServerOptions server_options;
  server_options.threads = 4;
  server_options.bookmark_interval = std::chrono::seconds(5);
  server_options.audit = [&](const apiserver::ServerOptions::AuditRecord& r) {
    if (r.user_agent.find("fairway-scheduler") == std::string_view::npos) return;
    {
      std::lock_guard lock(calls_mu);
      calls.insert(rbac_call(r.method, r.target));
    }
    if (r.method == "GET") return;
    if (r.target.find("/leases") != std::string_view::npos) return;
    if (r.method == "POST" && r.target.find("/binding") != std::string_view::npos &&
        r.status == 201)
      ++binds_accepted;
    const std::string writer = identity_of(r.user_agent);
    // The holder as the store has it now (after this request was served): a cached copy would
    // lag behind a takeover and blame the new leader.
    apiserver::Store* store_now = store_ptr.load();
    if (store_now == nullptr) return;
    const std::string holder = holder_in(*store_now);
    if (!holder.empty() && writer != holder) {
      ++stale_writes;
      const std::string what =
          fmt::format("stale-leader-write: {} {} by {} while {} holds the Lease", r.method,
                      r.target, writer, holder);
      if (options.stale_writes_fail) {
        violation(what);
      } else {
        std::cerr << "STALE-WRITE WARNING " << what << "\n";
      }
    }
  };
  auto server = apiserver::Server::start(server_options);
  if (!server) {
    std::cerr << "cannot start the API server: " << server.error() << "\n";
    return 2;
  }
  apiserver::Server& api = **server;
  apiserver::Store& store = api.store();
  store_ptr = &store;
  const std::string kubeconfig = options.work_dir + "/kubeconfig";
  if (auto written = api.write_kubeconfig(kubeconfig); !written) {
    std::cerr << written.error() << "\n";
    return 2;
  }
  auto pods_type = store.resource("", "pods");
  auto nodes_type = store.resource("", "nodes");
  auto namespaces_type = store.resource("", "namespaces");
  auto queues_type = store.resource("scheduling.fairway.dev", "queues");
  auto leases_type = store.resource("coordination.k8s.io", "leases");
  if (!pods_type || !nodes_type || !namespaces_type || !queues_type || !leases_type) {
    std::cerr << "the API server lacks a resource type the soak needs\n";
    return 2;
  }

  // The cluster: racks of 8-GPU nodes, a small queue tree with a capped queue, two namespaces.
  for (int i = 0; i < options.nodes; ++i) {
    (void)store.create(*nodes_type, "",
                       node_json(fmt::format("node-{:03}", i), fmt::format("rack-{}", i / 8)));
  }
  const int gpus = options.nodes * 8;
  (void)store.create(*queues_type, "", queue_json("org", "", gpus / 2, std::nullopt));
  (void)store.create(*queues_type, "", queue_json("team-a", "org", gpus / 4, std::nullopt));
  (void)store.create(*queues_type, "", queue_json("team-b", "org", gpus / 4, gpus / 3));
  (void)store.create(*queues_type, "", queue_json("batch", "", gpus / 4, gpus / 4));
  // What the chart installs for shared GPUs: the reservation pods' PriorityClass.
  if (auto priority_classes = store.resource("scheduling.k8s.io", "priorityclasses")) {
    (void)store.create(*priority_classes, "",
                       json{{"apiVersion", "scheduling.k8s.io/v1"},
                            {"kind", "PriorityClass"},
                            {"metadata", {{"name", "fairway-reservation"}}},
                            {"value", 1000000},
                            {"preemptionPolicy", "Never"}});
  }
  for (const char* ns : {"ml", "batch", "fairway-reservation"}) {
    (void)store.create(
        *namespaces_type, "",
        json{{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", ns}}}});
  }
  // ...and the reservation pods' ServiceAccount (fairway's preflight checks it is there).
  if (auto service_accounts = store.resource("", "serviceaccounts")) {
    (void)store.create(*service_accounts, "fairway-reservation",
                       json{{"apiVersion", "v1"},
                            {"kind", "ServiceAccount"},
                            {"metadata", {{"name", "fairway-reservation"}}}});
  }

  auto k8s_config = fairway::k8s::load_kubeconfig(kubeconfig);
  if (!k8s_config) {
    std::cerr << k8s_config.error() << "\n";
    return 2;
  }
  fairway::k8s::RestOptions rest;
  rest.qps = 1000;
  rest.burst = 1000;
  rest.user_agent = "fairway-soak-checker";
  rest.request_timeout = std::chrono::seconds(10);  // a stuck request costs one check, not 30 s
  fairway::k8s::RestClient checker_client(*k8s_config, rest);
  invariants::Checker checker;
  Figures figures;
  // The checker's requests slower than 5 s, with the fault window they started in: what a slow
  // check line points at.
  std::mutex slow_mu;
  std::vector<std::string> slow_requests;
  std::string active_fault = "none";  // guarded by slow_mu
  checker_client.set_observer(
      [&](std::string_view verb, std::string_view path, int code, std::chrono::nanoseconds took) {
        if (took < std::chrono::seconds(5)) return;
        std::lock_guard lock(slow_mu);
        slow_requests.push_back(
            fmt::format("{} {} -> {} after {:.1f} s (fault window now: {})", verb, path,
                        code == 0 ? std::string("transport error") : std::to_string(code),
                        std::chrono::duration<double>(took).count(), active_fault));
      });

  Replicas replicas(options, kubeconfig);
  replicas.start_all();

  auto read_lease_holder = [&]() -> std::string { return holder_in(store); };

  // The stand-in kubelet: pods of a job are deleted together once all are bound and the job's
  // lifetime (--lifetime: 1-6 s by default) has passed since its last pod was bound.
  std::unordered_map<std::string, Clock::time_point> bound_since;  // job → when fully bound
  uint64_t serial = 0;
  auto create_pods = [&](bool allowed) {
    if (!allowed) return;
    auto existing = store.object_count(*pods_type);
    while (static_cast<int>(existing) < options.live_pods &&
           figures.pods_created < static_cast<uint64_t>(options.total_pods)) {
      const int kind = pick(0, 9);
      const std::string ns = chance(0.7) ? "ml" : "batch";
      const std::string queue = ns == "batch" ? "batch" : (chance(0.5) ? "team-a" : "team-b");
      if (kind < 2) {  // a gang of 2-4 pods with 4 or 8 GPUs each
        const int size = pick(2, 4);
        const int per_pod = chance(0.5) ? 4 : 8;
        const std::string group = fmt::format("gang-{}", ++serial);
        for (int i = 0; i < size; ++i) {
          (void)store.create(
              *pods_type, ns,
              pod_json(ns, fmt::format("{}-{}", group, i), queue, per_pod, "4", group, size));
        }
        figures.pods_created += static_cast<uint64_t>(size);
        existing += static_cast<size_t>(size);
      } else if (kind == 9 && chance(0.5)) {  // a fractional pod on a shared GPU
        std::pair<std::string, std::string> share =
            chance(0.5) ? std::pair<std::string, std::string>{"fairway.dev/gpu-fraction",
                                                              chance(0.5) ? "0.25" : "0.5"}
                        : std::pair<std::string, std::string>{"fairway.dev/gpu-memory",
                                                              chance(0.5) ? "10240" : "20480"};
        (void)store.create(
            *pods_type, ns,
            pod_json(ns, fmt::format("pod-{}", ++serial), queue, 0, "1", "", 0, std::move(share)));
        figures.pods_created += 1;
        figures.fractional_pods += 1;
        existing += 1;
      } else {
        const int per_pod = kind < 6 ? pick(1, 2) : (kind < 8 ? 0 : 4);
        (void)store.create(*pods_type, ns,
                           pod_json(ns, fmt::format("pod-{}", ++serial), queue, per_pod,
                                    per_pod == 0 ? "2" : "1", "", 0));
        figures.pods_created += 1;
        existing += 1;
      }
    }
  };
  // Reservation pods are the scheduler's: the stand-in only plays their agent.
  auto kubelet = [&] {
    auto listed = store.list(*pods_type, "", {});
    if (!listed) return;
    std::map<std::string, std::pair<int, int>> jobs;  // "ns/job" → (pods, bound)
    for (const auto& object : listed->items) {
      const json& pod = *object.json;
      const std::string ns = pod["metadata"].value("namespace", "");
      if (ns == "fairway-reservation") {
        // The reservation agent's stand-in: once the reservation pod is on its node, it reports
        // the GPU's UUID (the real agent reads it from NVML) on its own pod.
        const std::string name = pod["metadata"].value("name", "");
        if (!pod["spec"].value("nodeName", "").empty() && !pod["metadata"]
                                                               .value("annotations", json::object())
                                                               .contains("fairway.dev/gpu-uuid")) {
          const json patch = {
              {"metadata", {{"annotations", {{"fairway.dev/gpu-uuid", "GPU-soak-" + name}}}}}};
          if (store.patch(*pods_type, ns, name, apiserver::PatchType::kMerge, patch.dump(), false))
            ++figures.gpu_uuids_reported;
        }
        continue;  // the scheduler deletes it when its last sharer is gone
      }
      const std::string job = ns + "/" + pod["metadata"]["labels"].value("soak/job", "");
      auto& [count, bound] = jobs[job];
      ++count;
      if (!pod["spec"].value("nodeName", "").empty()) ++bound;
    }
    for (const auto& [job, counts] : jobs) {
      if (counts.first != counts.second) continue;
      auto [it, inserted] = bound_since.try_emplace(job, Clock::now());
      const auto longest = std::chrono::duration_cast<std::chrono::milliseconds>(options.lifetime);
      const auto lifetime =
          longest / 6 + std::chrono::milliseconds(std::hash<std::string>{}(job) %
                                                  static_cast<size_t>(longest.count() * 5 / 6 + 1));
      if (Clock::now() - it->second < lifetime) continue;
      const std::string ns = job.substr(0, job.find('/'));
      apiserver::ListOptions selector;
      auto parsed = apiserver::LabelSelector::parse("soak/job=" + job.substr(job.find('/') + 1));
      if (!parsed) continue;
      selector.labels = std::move(*parsed);
      fairway::apiserver::DeleteOptions now;
      now.grace_period_seconds = 0;
      if (auto removed = store.remove_collection(*pods_type, ns, selector, now)) {
        figures.pods_deleted += removed->size();
      }
      bound_since.erase(it);
    }
  };

  // Faults, one kind after another.
  int fault_round = 0;
  auto clear_faults = [&] {
    api.faults().clear();
    std::lock_guard lock(slow_mu);
    active_fault = "none";
  };
  auto inject_fault = [&] {
    apiserver::Faults& faults = api.faults();
    faults.clear();
    static constexpr const char* kNames[] = {
        "watch-drop", "410", "429", "500", "slow", "reset", "restart", "watch-drop-every-2s"};
    {
      std::lock_guard lock(slow_mu);
      active_fault = kNames[fault_round % 8];
    }
    switch (fault_round++ % 8) {
      case 0:
        figures.faults["watch-drop"] += api.drop_watches();
        break;
      case 1:
        faults.fail_next(20, 410);
        figures.faults["410-gone"] += 20;
        break;
      case 2:
        faults.fail_next(30, 429, 1);
        figures.faults["429-retry-after"] += 30;
        break;
      case 3:
        faults.fail_fraction(0.05, 500);
        figures.faults["500-window"] += 1;
        break;
      case 4:
        faults.delay(150);
        figures.faults["slow-window"] += 1;
        break;
      case 5: {
        apiserver::FaultSettings s = faults.settings();
        s.reset_fraction = 0.03;
        faults.set(s);
        figures.faults["reset-window"] += 1;
        break;
      }
      case 6:
        // What clients see of an API server restart: every watch ends and the history is gone
        // (410 for every older resourceVersion, continue tokens included).
        api.compact();
        figures.faults["restart-compaction"] += 1;
        figures.faults["watch-drop"] += api.drop_watches();
        break;
      default:
        faults.drop_watches_every(2);
        figures.faults["watch-drop-every-2s-window"] += 1;
        break;
    }
  };

  // Leader kills and pauses.
  int chaos_round = 0;
  bool failing_over = false;
  Clock::time_point failover_started;
  int64_t failover_started_ms = 0;  // wall clock, to compare with the Lease's times
  int64_t failed_renew_ms = 0;      // the lost holder's last renewTime
  std::string failed_holder;
  Replica* paused = nullptr;
  Clock::time_point resume_at;
  std::vector<std::pair<Replica*, Clock::time_point>> restarts;  // killed, restart due
  auto chaos = [&] {
    const std::string holder = read_lease_holder();
    Replica* leader = replicas.by_identity(holder);
    // Failover is only measured when every other replica has been up long enough to be a warm
    // standby; otherwise this round kills a standby instead.
    bool standbys_warm = leader != nullptr && restarts.empty() && paused == nullptr;
    for (const Replica& r : replicas.all()) {
      if (&r == leader) continue;
      if (r.pid <= 0 || r.stopped ||
          Clock::now() - r.started < std::chrono::seconds(options.lease_seconds + 2)) {
        standbys_warm = false;
      }
    }
    int kind = chaos_round++ % 3;
    if (!standbys_warm) kind = 2;
    if (kind == 0 && leader != nullptr && !leader->stopped) {  // the leader dies mid-flight
      // Failover is measured against a healthy API server: faults wait until it is done.
      clear_faults();
      failed_renew_ms = lease_in(store).renew_ms;
      replicas.kill_now(*leader);
      ++figures.kills;
      failover_started = Clock::now();
      failover_started_ms = wall_ms();
      failing_over = true;
      failed_holder = holder;
      restarts.push_back({leader, Clock::now() + std::chrono::milliseconds(pick(200, 2000))});
    } else if (kind == 1 && leader != nullptr && paused == nullptr && !failing_over) {
      // The leader freezes (GC pause, partition) past its lease; when it thaws, another replica
      // leads and the old one must not write a thing.
      clear_faults();
      failed_renew_ms = lease_in(store).renew_ms;
      ::kill(leader->pid, SIGSTOP);
      leader->stopped = true;
      paused = leader;
      ++figures.pauses;
      failover_started = Clock::now();
      failover_started_ms = wall_ms();
      failing_over = true;
      failed_holder = holder;
      resume_at = Clock::now() + std::chrono::seconds(options.lease_seconds + 2);
    } else {  // a standby, at any moment (mid-sync, mid-relist)
      auto& all = replicas.all();
      Replica& victim = all[static_cast<size_t>(pick(0, static_cast<int>(all.size()) - 1))];
      if (victim.pid > 0 && !victim.stopped && &victim != leader) {
        replicas.kill_now(victim);
        ++figures.kills;
        restarts.push_back({&victim, Clock::now() + std::chrono::milliseconds(pick(100, 1500))});
      }
    }
  };

  auto check_once = [&](bool quiet) -> std::optional<invariants::Snapshot> {
    auto snapshot = invariants::fetch_snapshot(checker_client, wall_ms());
    if (!snapshot) {
      ++figures.check_errors;
      if (!quiet) std::cerr << "checker: " << snapshot.error() << "\n";
      return std::nullopt;
    }
    ++figures.snapshots;
    for (const invariants::Violation& v : checker.check(*snapshot)) {
      violation(fmt::format("{}: {}: {}", v.invariant, v.object, v.message));
    }
    return std::move(*snapshot);
  };

  const auto start = Clock::now();
  auto next_fault = start + options.fault_every;
  auto next_chaos = start + options.kill_every;
  // The invariant checker reads the API on its own thread, so a slow check (a request stuck in
  // a fault window) does not stretch the chaos timing: pauses last as long as planned, restarts
  // come when due, and failover is measured while the check waits.
  std::jthread checker_thread([&](std::stop_token stop) {
    while (!stop.stop_requested()) {
      const auto check_start = Clock::now();
      check_once(false);
      if (seconds_since(check_start) > 3) {
        std::lock_guard lock(slow_mu);
        std::cout << fmt::format("  (a check took {:.1f} s)\n", seconds_since(check_start));
        for (const std::string& request : slow_requests)
          std::cout << "    slow: " << request << "\n";
        slow_requests.clear();
        std::cout << std::flush;
      }
      std::mutex mutex;
      std::condition_variable_any wake;
      std::unique_lock lock(mutex);
      wake.wait_for(lock, stop, options.check_every, [] { return false; });
    }
  });
  auto next_report = start + std::chrono::seconds(10);
  std::cout << fmt::format("soak: {} nodes, {} pods, {} s, {} replicas, lease {} s, work dir {}\n",
                           options.nodes, options.total_pods, options.duration.count(),
                           options.replicas, options.lease_seconds, options.work_dir)
            << std::flush;
  while (Clock::now() - start < options.duration) {
    const auto now = Clock::now();
    {
      const LeaseRecord lease = lease_in(store);
      const std::string& holder = lease.holder;
      // A renewal already on its way when the holder was stopped still lands: it is the last.
      if (failing_over && holder == failed_holder)
        failed_renew_ms = std::max(failed_renew_ms, lease.renew_ms);
      if (failing_over && !holder.empty() && holder != failed_holder) {
        // Timed from the Lease itself (the new holder's acquireTime), not from when this loop
        // noticed: a slow invariant check must not count as failover time.
        figures.failover_s.push_back(static_cast<double>(lease.acquire_ms - failover_started_ms) /
                                     1000);
        figures.failover_after_renewal_s.push_back(
            static_cast<double>(lease.acquire_ms - failed_renew_ms) / 1000);
        failing_over = false;
      } else if (failing_over && seconds_since(failover_started) > 30) {
        violation(
            fmt::format("no other replica took the Lease within 30 s of losing {}", failed_holder));
        failing_over = false;
      }
    }
    for (const std::string& crash : replicas.reap_crashed()) violation("crash: " + crash);
    if (paused != nullptr && now >= resume_at) {
      ::kill(paused->pid, SIGCONT);
      paused->stopped = false;
      paused = nullptr;
    }
    std::erase_if(restarts, [&](auto& entry) {
      if (Clock::now() < entry.second) return false;
      replicas.start(*entry.first);
      return true;
    });
    create_pods(true);
    kubelet();
    if (now >= next_fault && !failing_over) {
      inject_fault();
      next_fault = now + options.fault_every;
    }
    if (now >= next_chaos) {
      chaos();
      next_chaos = now + options.kill_every;
    }
    if (now >= next_report) {
      std::cout << fmt::format(
                       "  t={:.0f}s created={} deleted={} binds={} snapshots={} violations={}\n",
                       seconds_since(start), figures.pods_created, figures.pods_deleted,
                       binds_accepted.load(), figures.snapshots.load(), violations.size())
                << std::flush;
      next_report = now + std::chrono::seconds(10);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }

  checker_thread.request_stop();
  checker_thread.join();

  // Quiet: faults off, every replica running; every feasible pod must now get bound.
  clear_faults();
  if (paused != nullptr) {
    ::kill(paused->pid, SIGCONT);
    paused->stopped = false;
  }
  for (auto& [replica, due] : restarts) replicas.start(*replica);
  restarts.clear();
  // Churn stops too (no pod created or deleted by the test from here), so "fits a node" is not
  // a race with capacity the stand-in kubelet freed a moment ago: the cluster comes to rest, and
  // a pod the checker finds feasible in every snapshot of the last few seconds is stuck.
  const auto settle_start = Clock::now();
  std::vector<std::string> stuck;  // pending and feasible in every snapshot since stuck_since
  Clock::time_point stuck_since = Clock::now();
  std::map<std::string, std::string> stuck_why;
  int clean_rounds = 0;
  while (Clock::now() - settle_start < options.settle) {
    for (const std::string& crash : replicas.reap_crashed()) violation("crash: " + crash);
    if (auto snapshot = check_once(true)) {
      std::vector<std::string> now_stuck = checker.pending_feasible(*snapshot);
      std::sort(now_stuck.begin(), now_stuck.end());
      std::vector<std::string> still;
      std::set_intersection(stuck.begin(), stuck.end(), now_stuck.begin(), now_stuck.end(),
                            std::back_inserter(still));
      if (still.empty()) stuck_since = Clock::now();
      stuck = still.empty() ? std::move(now_stuck) : std::move(still);
      // What the scheduler says about them (its PodScheduled message), for the report.
      stuck_why.clear();
      for (const json& pod : snapshot->pods) {
        if (stuck_why.size() >= 5) break;
        const std::string key =
            pod["metadata"].value("namespace", "") + "/" + pod["metadata"].value("name", "");
        if (!std::binary_search(stuck.begin(), stuck.end(), key)) continue;
        std::string message = "(no PodScheduled condition)";
        if (pod.contains("status") && pod["status"].contains("conditions")) {
          for (const json& c : pod["status"]["conditions"]) {
            if (c.value("type", "") == "PodScheduled") message = c.value("message", "");
          }
        }
        stuck_why[key] = message;
      }
      clean_rounds = stuck.empty() ? clean_rounds + 1 : 0;
      if (clean_rounds >= 2) break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  if (!stuck.empty()) {
    std::cout << fmt::format(
        "  {} feasible pods pending for the last {:.0f} s of the settle time\n", stuck.size(),
        seconds_since(stuck_since));
  }
  for (const std::string& pod : stuck) {
    auto why = stuck_why.find(pod);
    const std::string text =
        "liveness: " + pod + " fits a node but stayed pending after faults stopped" +
        (why == stuck_why.end() ? std::string() : " (scheduler says: " + why->second + ")");
    if (options.liveness_fails) {
      violation(text);
    } else if (&pod - stuck.data() < 10) {
      std::cout << "LIVENESS WARNING " << text << "\n";
    }
  }
  if (!options.liveness_fails && !stuck.empty()) {
    std::cout << fmt::format("LIVENESS WARNING {} feasible pods still pending after {} s\n",
                             stuck.size(), options.settle.count());
  }
  const double settle_s = seconds_since(settle_start);
  // Diagnosis for a liveness failure: do the same pods get bound by schedulers started afresh
  // (state rebuilt from a LIST)? Yes points at state a long-running replica got wrong; no at the
  // pods or the checker.
  if (!stuck.empty()) {
    // First what each running replica thinks of them (kept with the logs).
    std::ofstream dump(options.work_dir + "/stuck-pods.txt");
    for (const Replica& r : replicas.all()) {
      if (r.pid <= 0 || r.metrics_port == 0) continue;
      dump << "== replica " << r.index << " (" << r.log_path << ")\n"
           << http_get(r.metrics_port, "/readyz");
      for (size_t i = 0; i < stuck.size() && i < 10; ++i)
        dump << http_get(r.metrics_port, "/debug/pods/" + stuck[i]) << "\n";
      dump << http_get(r.metrics_port, "/debug/queues") << "\n";
      dump << http_get(r.metrics_port, "/metrics") << "\n";
    }
    dump << "== the API's pods\n";
    if (auto listed = store.list(*pods_type, "", {})) {
      for (const auto& object : listed->items) {
        const json& pod = *object.json;
        dump << pod["metadata"].value("namespace", "") << "/" << pod["metadata"].value("name", "")
             << " node=" << pod["spec"].value("nodeName", "")
             << " phase=" << pod.value("/status/phase"_json_pointer, "")
             << " deleting=" << pod["metadata"].contains("deletionTimestamp")
             << " queue=" << pod.value("/metadata/labels/fairway.dev~1queue"_json_pointer, "")
             << " gpu="
             << pod.value("/spec/containers/0/resources/limits/nvidia.com~1gpu"_json_pointer, "")
             << "\n";
      }
    }
    dump.close();
    std::cout << "  what the replicas say of the stuck pods: " << options.work_dir
              << "/stuck-pods.txt\n";
    for (Replica& r : replicas.all()) {
      replicas.kill_now(r);
      replicas.start(r);
    }
    size_t still = stuck.size();
    const auto fresh_start = Clock::now();
    while (Clock::now() - fresh_start < std::chrono::seconds(options.lease_seconds * 3 + 10)) {
      std::this_thread::sleep_for(std::chrono::seconds(1));
      if (auto snapshot = check_once(true)) {
        still = checker.pending_feasible(*snapshot).size();
        if (still == 0) break;
      }
    }
    std::cout << fmt::format(
        "  liveness diagnosis: {} feasible pods pending; after restarting every replica "
        "{} remain ({:.0f} s later)\n",
        stuck.size(), still, seconds_since(fresh_start));
  }

  // Figures.
  uint64_t faults_total = 0;
  std::string fault_list;
  for (const auto& [name, count] : figures.faults) {
    faults_total += count;
    fault_list += fmt::format(" {}={}", name, count);
  }
  const auto counters = api.faults().counters();
  double max_failover = 0;
  for (double s : figures.failover_s) max_failover = std::max(max_failover, s);
  double min_after_renewal = 1e9;
  double max_after_renewal = 0;
  // A standby takes a dead holder's Lease one lease duration after the last renewal it saw, never
  // sooner (two leaders). It sees renewals within a quarter retry period, but a renewal that the
  // fault windows delayed may have been older than that when the holder died, so from the
  // renewal there is no upper bar; from the kill there is.
  for (double s : figures.failover_after_renewal_s) {
    min_after_renewal = std::min(min_after_renewal, s);
    max_after_renewal = std::max(max_after_renewal, s);
    if (s < options.lease_seconds - 0.05)
      violation(fmt::format("the Lease was taken {:.2f} s after its last renewal (lease {} s)", s,
                            options.lease_seconds));
  }
  // From the kill: the lease duration, plus the standby's look (0.3 s) and a round trip, plus
  // scheduling slack on a loaded machine.
  for (double s : figures.failover_s) {
    if (s > options.lease_seconds + 1) violation(fmt::format("failover took {:.2f} s", s));
  }
  std::cout
      << "soak figures:\n"
      << fmt::format("  duration            {} s (+ {:.1f} s to settle)\n",
                     options.duration.count(), settle_s)
      << fmt::format("  faults injected     {} ({} )\n", faults_total, fault_list)
      << fmt::format("  requests failed/reset/delayed by faults  {}/{}/{}\n", counters.failed,
                     counters.reset, counters.delayed)
      << fmt::format("  scheduler restarts  {} (SIGKILL {}, SIGSTOP pauses {})\n",
                     replicas.starts() - options.replicas, figures.kills, figures.pauses)
      << fmt::format(
             "  leader failovers    {} (max {:.2f} s from the kill; {:.2f}-{:.2f} s from the last "
             "renewal; lease {} s; faults held off meanwhile)\n",
             figures.failover_s.size(), max_failover,
             figures.failover_after_renewal_s.empty() ? 0.0 : min_after_renewal, max_after_renewal,
             options.lease_seconds)
      << fmt::format(
             "  pods created        {} (deleted after running: {}; fractional: {}, GPU "
             "UUIDs reported for reservation pods: {})\n",
             figures.pods_created, figures.pods_deleted, figures.fractional_pods,
             figures.gpu_uuids_reported)
      << fmt::format("  pods scheduled      {} (bindings accepted by the API server)\n",
                     binds_accepted.load())
      << fmt::format("  invariant checks    {} snapshots, {} pods checked, {} unreadable\n",
                     figures.snapshots.load(), checker.pods_checked(), figures.check_errors.load())
      << fmt::format("  stale leader writes {}\n", stale_writes.load())
      << fmt::format("  violations          {}\n", violations.size());
  {
    std::lock_guard lock(calls_mu);
    std::cout << "  API calls made      ";
    for (const std::string& call : calls) std::cout << call << "; ";
    std::cout << "\n";
  }
  for (const std::string& v : violations) std::cout << "VIOLATION " << v << "\n";
  if (figures.snapshots == 0) {
    std::cout << "no snapshot could be checked\n";
    return 1;
  }
  return violations.empty() ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (auto eq = arg.find('='); eq != std::string::npos) return arg.substr(eq + 1);
      return i + 1 < argc ? argv[++i] : "";
    };
    auto seconds = [&](std::chrono::seconds& out) {
      const std::string text = value();
      auto parsed = parse_seconds(text);
      if (!parsed) {
        std::cerr << "bad duration " << text << "\n";
        std::exit(2);
      }
      out = *parsed;
    };
    const std::string name = arg.substr(0, arg.find('='));
    if (name == "--fairway")
      options.fairway = value();
    else if (name == "--duration")
      seconds(options.duration);
    else if (name == "--pods")
      options.total_pods = std::stoi(value());
    else if (name == "--live-pods")
      options.live_pods = std::stoi(value());
    else if (name == "--nodes")
      options.nodes = std::stoi(value());
    else if (name == "--replicas")
      options.replicas = std::stoi(value());
    else if (name == "--kill-every")
      seconds(options.kill_every);
    else if (name == "--fault-every")
      seconds(options.fault_every);
    else if (name == "--check-every")
      seconds(options.check_every);
    else if (name == "--settle")
      seconds(options.settle);
    else if (name == "--lifetime")
      seconds(options.lifetime);
    else if (name == "--lease-seconds")
      options.lease_seconds = std::stoi(value());
    else if (name == "--seed")
      options.seed = std::stoull(value());
    else if (name == "--liveness") {
      const std::string mode = value();
      if (mode != "fail" && mode != "warn") {
        std::cerr << "--liveness is fail or warn\n";
        return 2;
      }
      options.liveness_fails = mode == "fail";
    } else if (name == "--stale-writes") {
      const std::string mode = value();
      if (mode != "fail" && mode != "warn") {
        std::cerr << "--stale-writes is fail or warn\n";
        return 2;
      }
      options.stale_writes_fail = mode == "fail";
    } else if (name == "--scheduler-arg")
      options.scheduler_args.push_back(value());
    else if (name == "--work-dir")
      options.work_dir = value();
    else {
      std::cerr << "usage: fairway_soak --fairway PATH [--duration 60s] [--pods N] [--live-pods N] "
                   "[--nodes N]\n"
                   "  [--replicas 2] [--kill-every 6s] [--fault-every 3s] [--check-every 2s] "
                   "[--settle 90s] [--lifetime 6s]\n"
                   "  [--lease-seconds 4] [--seed 1] [--work-dir DIR] [--scheduler-arg FLAG]...\n"
                   "  [--liveness fail|warn] [--stale-writes fail|warn]\n";
      return 2;
    }
  }
  if (options.fairway.empty() || options.lease_seconds < 2) {
    std::cerr << "fairway_soak: --fairway PATH is required (and --lease-seconds >= 2)\n";
    return 2;
  }
  options.fairway = std::filesystem::absolute(options.fairway).string();
  bool own_dir = false;
  if (options.work_dir.empty()) {
    char tmpl[] = "/tmp/fairway-soak-XXXXXX";
    if (mkdtemp(tmpl) == nullptr) return 2;
    options.work_dir = tmpl;
    own_dir = true;
  }
  signal(SIGPIPE, SIG_IGN);
  const int code = run(options);
  if (own_dir && code == 0) std::filesystem::remove_all(options.work_dir);
  if (code != 0) std::cout << "logs kept in " << options.work_dir << "\n";
  return code;
}
