// The Evictor against the embedded API server in-process (loopback HTTP, through a
// RestClusterWriter with the evictor's client options): an accepted eviction deletes the pod and
// leaves Events on both sides naming each other; a PodDisruptionBudget's 429 stops the plan, is
// reported to the loop, and evicts nothing else. The evictor runs without threads: the test
// carries the plans out itself (Evictor::run_pending) on a ManualClock, so nothing waits.

#include "scheduler/service/evictions.h"

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>
#include <vector>

#include "sim/apiserver/server.h"
#include "support/in_process_api.h"

namespace fairway {
namespace {

using nlohmann::json;

class EvictorTest : public testing::InProcessApiTest {
 protected:
  // A bound, Running pod; `guarded` adds the label a PodDisruptionBudget selects.
  void running_pod(const std::string& name, bool guarded) {
    json pod = {{"apiVersion", "v1"},
                {"kind", "Pod"},
                {"metadata", {{"name", name}, {"labels", {{"app", "train"}}}}},
                {"spec",
                 {{"schedulerName", "fairway"},
                  {"terminationGracePeriodSeconds", 0},
                  {"containers", {{{"name", "c"}, {"image", "i"}}}}}}};
    if (guarded) pod["metadata"]["labels"]["guarded"] = "yes";
    auto created = client_->request("POST", "/api/v1/namespaces/default/pods", pod.dump());
    ASSERT_TRUE(created && created->status == 201) << (created ? created->body : "transport");
    auto bound = client_->request("POST", "/api/v1/namespaces/default/pods/" + name + "/binding",
                                  json{{"apiVersion", "v1"},
                                       {"kind", "Binding"},
                                       {"metadata", {{"name", name}}},
                                       {"target", {{"kind", "Node"}, {"name", "n1"}}}}
                                      .dump());
    ASSERT_TRUE(bound && bound->ok()) << (bound ? bound->body : "transport");
    auto current = client_->get("/api/v1/namespaces/default/pods/" + name);
    ASSERT_TRUE(current && current->ok());
    json running = json::parse(current->body);
    running["status"]["phase"] = "Running";
    auto put = client_->request("PUT", "/api/v1/namespaces/default/pods/" + name + "/status",
                                running.dump());
    ASSERT_TRUE(put && put->ok()) << (put ? put->body : "transport");
  }

  bool exists(const std::string& name) {
    auto got = client_->get("/api/v1/namespaces/default/pods/" + name);
    return got && got->status == 200;
  }

  std::vector<json> events() {
    auto got = client_->get("/api/v1/namespaces/default/events");
    if (!got || !got->ok()) return {};
    const json list = json::parse(got->body);
    return {list["items"].begin(), list["items"].end()};
  }

  static PreemptionPlan plan_for(std::vector<std::string> victims) {
    PreemptionPlan plan;
    plan.action = PreemptionAction::kPreempt;
    plan.preemptor = "default/urgent";
    plan.queue = "team";
    plan.preemptor_pods = {"default/urgent"};
    for (const std::string& v : victims) {
      plan.victims.push_back({"default/" + v, "", "n1", "default/" + v, "team", ""});
    }
    return plan;
  }

  // The evictor's own client (as PreemptionPass makes it) and its ClusterWriter; `observer`
  // sees every request it sends.
  void use_evictor_client(const k8s::ClusterConfig& cluster,
                          k8s::RestClient::RequestObserver observer = nullptr) {
    evictor_client_ = std::make_unique<k8s::RestClient>(cluster, eviction_rest_options({}));
    if (observer) evictor_client_->set_observer(std::move(observer));
    evictor_writer_ = std::make_unique<RestClusterWriter>(*evictor_client_);
  }
  RestClusterWriter& evictor_writer() {
    if (!evictor_writer_) use_evictor_client(cluster_);
    return *evictor_writer_;
  }
  void TearDown() override {
    if (evictor_client_) evictor_client_->stop();
    InProcessApiTest::TearDown();
  }

  ManualClock clock_;
  std::unique_ptr<k8s::RestClient> evictor_client_;
  std::unique_ptr<RestClusterWriter> evictor_writer_;
};

TEST_F(EvictorTest, EvictsAndLeavesEventsOnBothSides) {
  running_pod("victim", false);
  EvictionStats stats;
  Evictor evictor(evictor_writer(), {[] { return true; }, [](auto&, auto&, int) {}}, stats, clock_,
                  /*threads=*/false);
  evictor.carry_out(plan_for({"victim"}), clock_.now());
  EXPECT_EQ(evictor.run_pending(), 1u);
  ASSERT_EQ(stats.events.load(), 2u);
  EXPECT_EQ(stats.preempt_evictions.load(), 1u);
  EXPECT_EQ(stats.refused.load(), 0u);
  EXPECT_FALSE(exists("victim"));
  bool on_victim = false;
  bool on_preemptor = false;
  for (const json& e : events()) {
    const std::string message = e.value("message", "");
    if (e["involvedObject"]["name"] == "victim" && e["reason"] == "Preempted" &&
        message.find("default/urgent") != std::string::npos) {
      on_victim = true;
    }
    if (e["involvedObject"]["name"] == "urgent" && e["reason"] == "Preempting" &&
        message.find("default/victim") != std::string::npos) {
      on_preemptor = true;
    }
  }
  EXPECT_TRUE(on_victim);
  EXPECT_TRUE(on_preemptor);
  evictor.stop();
}

TEST_F(EvictorTest, ADisruptionBudgetRefusalStopsThePlanAndIsReported) {
  running_pod("guarded", true);
  running_pod("other", false);
  auto pdb = client_->request(
      "POST", "/apis/policy/v1/namespaces/default/poddisruptionbudgets",
      json{{"apiVersion", "policy/v1"},
           {"kind", "PodDisruptionBudget"},
           {"metadata", {{"name", "keep-one"}}},
           {"spec", {{"minAvailable", 1}, {"selector", {{"matchLabels", {{"guarded", "yes"}}}}}}}}
          .dump());
  ASSERT_TRUE(pdb && pdb->status == 201) << (pdb ? pdb->body : "transport");

  std::string refused_pod;
  int refused_status = 0;
  std::vector<std::string> evictions;  // "verb code" of each eviction request sent
  use_evictor_client(cluster_, [&](std::string_view verb, std::string_view path, int code, auto) {
    if (path.ends_with("/eviction"))
      evictions.push_back(std::string(verb) + " " + std::to_string(code));
  });
  EvictionStats stats;
  Evictor evictor(evictor_writer(),
                  {[] { return true; },
                   [&](const std::string& preemptor, const std::string& pod, int status) {
                     EXPECT_EQ(preemptor, "default/urgent");
                     refused_pod = pod;
                     refused_status = status;
                   }},
                  stats, clock_, /*threads=*/false);
  evictor.carry_out(plan_for({"guarded", "other"}), clock_.now());
  evictor.run_pending();
  ASSERT_FALSE(refused_pod.empty());
  // Answered at once: a PDB's 429 is not retried as a rate limit (one request, no waiting).
  EXPECT_EQ(evictions, std::vector<std::string>{"POST 429"});
  EXPECT_EQ(refused_pod, "default/guarded");
  EXPECT_EQ(refused_status, 429);
  EXPECT_EQ(stats.refused.load(), 1u);
  EXPECT_EQ(stats.preempt_evictions.load(), 0u);
  EXPECT_TRUE(exists("guarded"));
  EXPECT_TRUE(exists("other"));  // the rest of the plan was dropped
  evictor.stop();
}

// One eviction of a running pod by an Evictor against a server answering as Kubernetes `version`:
// the eviction requests it sent ("verb code") and the API version discovery chose.
struct EvictionRun {
  std::vector<std::string> evictions;
  std::string version;
  uint64_t preempt_evictions = 0;
  uint64_t errors = 0;
  uint64_t events = 0;
  bool victim_gone = false;
};

class EvictorVersionTest : public EvictorTest {
 protected:
  EvictionRun evict_against(apiserver::KubernetesVersion version) {
    EvictionRun run;
    apiserver::ServerOptions options;
    options.tls = false;
    options.threads = 2;
    options.kubernetes_version = version;
    auto started = apiserver::Server::start(options);
    EXPECT_TRUE(started) << (started ? "" : started.error());
    if (!started) return run;
    std::unique_ptr<apiserver::Server> server = std::move(*started);
    k8s::ClusterConfig cluster;
    cluster.server = server->url();
    cluster.token = server->token();
    // The fixture's helpers use client_: point it at this server.
    client_->stop();
    client_ = std::make_unique<k8s::RestClient>(cluster);
    running_pod("victim", false);
    int events_posted = 0;
    use_evictor_client(cluster, [&](std::string_view verb, std::string_view path, int code, auto) {
      if (path.ends_with("/eviction"))
        run.evictions.push_back(std::string(verb) + " " + std::to_string(code));
      if (path.ends_with("/events") && code == 201) ++events_posted;
    });
    EvictionStats stats;
    Evictor evictor(evictor_writer(), {[] { return true; }, [](auto&, auto&, int) {}}, stats,
                    clock_, /*threads=*/false);
    evictor.carry_out(plan_for({"victim"}), clock_.now());
    evictor.run_pending();
    EXPECT_EQ(events_posted, 2);
    evictor.stop();
    run.version = evictor.eviction_version();
    run.preempt_evictions = stats.preempt_evictions.load();
    run.errors = stats.errors.load();
    run.events = stats.events.load();
    run.victim_gone = !exists("victim");
    evictor_client_->stop();
    client_->stop();
    server->stop();
    return run;
  }
};

// Kubernetes before 1.22 serves Eviction only as policy/v1beta1 and answers a policy/v1 one with
// 400 "no kind "Eviction" is registered for version "policy/v1"". The evictor reads discovery
// and sends what the server serves.
TEST_F(EvictorVersionTest, UsesPolicyV1beta1WhereTheServerLacksPolicyV1) {
  const EvictionRun run = evict_against({.minor = 19});
  EXPECT_EQ(run.events, 2u);
  // One request, sent as policy/v1beta1 at once (no 400 first).
  EXPECT_EQ(run.evictions, std::vector<std::string>{"POST 201"});
  EXPECT_EQ(run.preempt_evictions, 1u);
  EXPECT_EQ(run.errors, 0u);
  EXPECT_EQ(run.version, "policy/v1beta1");
  EXPECT_TRUE(run.victim_gone);
}

// Kubernetes 1.24 serves policy/v1 and policy/v1beta1; the current release policy/v1 only: the
// evictor prefers policy/v1 on both and each eviction takes one request.
TEST_F(EvictorVersionTest, UsesPolicyV1OnKubernetes124AndTheCurrentRelease) {
  for (const int minor : {24, apiserver::KubernetesVersion::kCurrentMinor}) {
    SCOPED_TRACE(minor);
    const EvictionRun run = evict_against({.minor = minor});
    EXPECT_EQ(run.evictions, std::vector<std::string>{"POST 201"});
    EXPECT_EQ(run.version, "policy/v1");
    EXPECT_EQ(run.preempt_evictions, 1u);
    EXPECT_EQ(run.errors, 0u);
    EXPECT_TRUE(run.victim_gone);
  }
}

// A server that refuses every eviction with 400 for ever (fault injection on the eviction path,
// with a Status body): however often the plan comes back, the victim is asked a bounded number
// of times per minute (1 s doubling back-off), each failure is evented on the pod with the
// Status's reason and message (no JSON), and nothing loops.
TEST_F(EvictorTest, ANonRetryableFailureBacksOffPerPod) {
  running_pod("victim", false);
  apiserver::FaultSettings faults;
  faults.fail_fraction = 1.0;
  faults.fail_code = 400;
  faults.path_contains = "/eviction";
  server_->faults().set(faults);

  int refusals = 0;
  EvictionStats stats;
  Evictor::Hooks hooks{[] { return true; },
                       [&](const std::string&, const std::string&, int status) {
                         EXPECT_EQ(status, 400);
                         ++refusals;
                       }};
  Evictor evictor(evictor_writer(), hooks, stats, clock_, /*threads=*/false);
  // The pass would plan the same eviction again every 100 ms for a minute of (fake) time.
  for (int i = 0; i < 600; ++i) {
    evictor.carry_out(plan_for({"victim"}), clock_.now());
    evictor.run_pending();
    ASSERT_EQ(refusals, i + 1);
    clock_.advance(std::chrono::milliseconds(100));
  }
  const uint64_t sent = server_->faults().counters().failed;
  // Asked at 0, 1, 3, 7, 15, 31 s (63 s is past the minute).
  EXPECT_GE(sent, 5u);
  EXPECT_LE(sent, 7u);
  EXPECT_EQ(stats.errors.load(), sent);
  EXPECT_EQ(stats.backed_off.load(), 600u - sent);
  EXPECT_GT(evictor.backoff_left("default/victim").count(), 0);
  server_->faults().clear();
  evictor.stop();  // each EvictionFailed Event was posted before its refusal was reported
  EXPECT_EQ(stats.events.load(), sent);
  int failed_events = 0;
  for (const json& e : events()) {
    if (e["reason"] != "EvictionFailed") continue;
    ++failed_events;
    EXPECT_EQ(e["involvedObject"]["name"], "victim");
    EXPECT_EQ(e["type"], "Warning");
    const std::string message = e.value("message", "");
    EXPECT_NE(message.find("400"), std::string::npos) << message;
    EXPECT_NE(message.find("injected fault"), std::string::npos) << message;
    EXPECT_EQ(message.find('{'), std::string::npos) << message;
  }
  EXPECT_EQ(static_cast<uint64_t>(failed_events), sent);
  EXPECT_TRUE(exists("victim"));
}

}  // namespace
}  // namespace fairway
