// The scheduler's endpoints against a stand-in loop: probes, /metrics with and without the
// loop's answer, /debug/queues and /debug/pods, and Inbox questions that never trigger a cycle.
#include "scheduler/service/endpoints.h"

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "k8s-client/rest_client.h"
#include "support/builders.h"

namespace fairway {
namespace {

TEST(Inbox, QuestionsWakeTheLoopWithoutChanges) {
  Inbox inbox;
  ClusterState state;
  bool answered = false;
  inbox.ask([&answered](ClusterState&) { answered = true; });
  // Woken by the question, not by the deadline: a day away (the guard only ends a broken run).
  auto taking = std::async(std::launch::async, [&inbox] {
    return inbox.take(std::chrono::steady_clock::now() + std::chrono::hours(24));
  });
  const bool woken = taking.wait_for(std::chrono::seconds(60)) == std::future_status::ready;
  if (!woken) inbox.nudge();  // ends a broken run's wait
  EXPECT_TRUE(woken);
  auto changes = taking.get();
  EXPECT_TRUE(changes.empty());  // nothing for the loop to apply: no cycle follows
  EXPECT_FALSE(answered);
  inbox.answer(state);
  EXPECT_TRUE(answered);
}

class EndpointsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    state_.upsert_node(testing::gpu_node("n0", 8));
    state_.upsert_queue(testing::queue("team", "", 8));
    state_.upsert_pod(testing::pod("ns", "wait", "team", {{"nvidia.com/gpu", "16"}}));
    endpoints_ =
        std::make_unique<Endpoints>(EndpointOptions{.bind_address = "127.0.0.1:0",
                                                    .probe_bind_address = "",
                                                    .secure_bind_address = "",
                                                    .tls_cert_file = "",
                                                    .tls_key_file = "",
                                                    .secure_auth = nullptr,
                                                    .debug = true,
                                                    .per_node_metrics = true,
                                                    .loop_timeout = std::chrono::milliseconds(300)},
                                    metrics_, inbox_,
                                    Endpoints::Probes{.synced = [this] { return synced_.load(); },
                                                      .leader = [] { return false; },
                                                      .preflight =
                                                          [this] {
                                                            std::lock_guard lock(checks_mutex_);
                                                            return checks_;
                                                          }});
    ASSERT_TRUE(endpoints_->start());
    explained_["ns/wait"] = "0/1 nodes are available: 1 Insufficient nvidia.com/gpu.";
    endpoints_->set_explanations(&explained_);
    k8s::ClusterConfig config;
    config.server = "http://127.0.0.1:" + std::to_string(endpoints_->port());
    client_ = std::make_unique<k8s::RestClient>(config);
  }
  void TearDown() override {
    stop_loop();
    endpoints_->stop();
  }
  // A stand-in for the scheduling loop: answers questions until stopped.
  void start_loop() {
    loop_ = std::jthread([this](std::stop_token stop) {
      while (!stop.stop_requested()) {
        inbox_.take(std::chrono::steady_clock::now() + std::chrono::milliseconds(20));
        inbox_.answer(state_);
      }
    });
  }
  void stop_loop() {
    if (loop_.joinable()) {
      loop_.request_stop();
      loop_.join();
    }
  }
  k8s::Response get(const std::string& path) {
    auto response = client_->get(path);
    EXPECT_TRUE(response) << response.error().message;
    return response ? *response : k8s::Response{};
  }

  ClusterState state_;
  Inbox inbox_;
  metrics::SchedulerMetrics metrics_;
  std::atomic<bool> synced_{false};
  std::mutex checks_mutex_;
  std::vector<CheckResult> checks_;
  std::unordered_map<std::string, std::string> explained_;
  std::unique_ptr<Endpoints> endpoints_;
  std::unique_ptr<k8s::RestClient> client_;
  std::jthread loop_;
};

TEST_F(EndpointsTest, ProbesFollowSyncAndLeadership) {
  EXPECT_EQ(get("/healthz").status, 503);
  EXPECT_EQ(get("/readyz").status, 503);
  synced_ = true;
  EXPECT_EQ(get("/healthz").body, "ok\n");
  const auto ready = get("/readyz");
  EXPECT_EQ(ready.status, 200);
  EXPECT_EQ(ready.body, "standby\n");  // synced but not the leader: ready to take over
  EXPECT_EQ(get("/nope").status, 404);
}

TEST(EndpointsPorts, ProbesOnTheirOwnPortAndDebugOnlyWhenAsked) {
  // The kubelet gets /healthz and /readyz on a port of their own; the metrics port (with /debug
  // off) answers only /metrics and the probes.
  Inbox inbox;
  metrics::SchedulerMetrics metrics;
  Endpoints endpoints(
      EndpointOptions{.bind_address = "127.0.0.1:0",
                      .probe_bind_address = "127.0.0.1:0",
                      .secure_bind_address = "",
                      .tls_cert_file = "",
                      .tls_key_file = "",
                      .secure_auth = nullptr,
                      .debug = false,
                      .per_node_metrics = true,
                      .loop_timeout = std::chrono::milliseconds(5000)},
      metrics, inbox,
      Endpoints::Probes{
          .synced = [] { return true; }, .leader = [] { return true; }, .preflight = {}});
  ASSERT_TRUE(endpoints.start());
  ASSERT_NE(endpoints.probe_port(), 0);
  ASSERT_NE(endpoints.probe_port(), endpoints.port());
  const auto status = [](uint16_t port, const std::string& path) {
    k8s::ClusterConfig config;
    config.server = "http://127.0.0.1:" + std::to_string(port);
    k8s::RestClient client(config);
    const auto response = client.get(path);
    return response ? response->status : 0;
  };
  EXPECT_EQ(status(endpoints.probe_port(), "/healthz"), 200);
  EXPECT_EQ(status(endpoints.probe_port(), "/readyz"), 200);
  EXPECT_EQ(status(endpoints.probe_port(), "/metrics"), 404);
  EXPECT_EQ(status(endpoints.probe_port(), "/debug/queues"), 404);
  EXPECT_EQ(status(endpoints.port(), "/debug/queues"), 404);
  EXPECT_EQ(status(endpoints.port(), "/debug/pods/ns/p"), 404);
  EXPECT_EQ(status(endpoints.port(), "/healthz"), 200);
  endpoints.stop();
}

// A failed required check (the CRDs, the Lease namespace) makes the replica unready with the
// reason; a failed optional one (fractional GPUs' objects) is named but leaves it ready.
TEST_F(EndpointsTest, ReadyzNamesFailedPreflightChecks) {
  synced_ = true;
  {
    std::lock_guard lock(checks_mutex_);
    checks_ = {{.name = "crd/queues", .pass = false, .required = true, .detail = "not served"},
               {.name = "reservation-namespace", .pass = false, .detail = "namespace missing"},
               {.name = "webhook", .pass = true, .detail = "fine"}};
  }
  auto ready = get("/readyz");
  EXPECT_EQ(ready.status, 503);
  EXPECT_EQ(ready.body, "preflight failed:\ncrd/queues: not served\n");
  {
    std::lock_guard lock(checks_mutex_);
    checks_.front().pass = true;
  }
  ready = get("/readyz");
  EXPECT_EQ(ready.status, 200);
  EXPECT_EQ(ready.body, "standby\ndegraded: reservation-namespace: namespace missing\n");
}

TEST_F(EndpointsTest, MetricsWithoutTheLoopStillCarryCounters) {
  const auto page = get("/metrics");  // nobody answers: the loop "is busy"
  EXPECT_EQ(page.status, 200);
  EXPECT_NE(page.body.find("fairway_schedule_attempts_total"), std::string::npos);
  EXPECT_EQ(page.body.find("fairway_cluster_gpus "), std::string::npos);
  EXPECT_EQ(get("/debug/queues").status, 503);
}

TEST_F(EndpointsTest, MetricsAndDebugPagesFromTheLoop) {
  start_loop();
  const auto page = get("/metrics");
  EXPECT_EQ(page.status, 200);
  EXPECT_NE(page.content_type.find("text/plain; version=0.0.4"), std::string::npos);
  EXPECT_NE(page.body.find("fairway_cluster_gpus 8\n"), std::string::npos) << page.body;
  EXPECT_NE(page.body.find("fairway_queue_pending_pods{queue=\"team\"} 1\n"), std::string::npos);
  EXPECT_NE(page.body.find("fairway_node_gpus{node=\"n0\"} 8\n"), std::string::npos);
  EXPECT_NE(page.body.find("fairway_leader 0\n"), std::string::npos);

  const auto queues = nlohmann::json::parse(get("/debug/queues").body);
  EXPECT_EQ(queues["cluster"]["pendingPods"], 1);

  const auto pod = get("/debug/pods/ns/wait");
  EXPECT_EQ(pod.status, 200);
  const auto answer = nlohmann::json::parse(pod.body);
  EXPECT_EQ(answer["message"], "0/1 nodes are available: 1 Insufficient nvidia.com/gpu.");
  EXPECT_EQ(answer["nodes"]["classes"][0]["result"], "Insufficient nvidia.com/gpu");
  EXPECT_EQ(get("/debug/pods/ns/missing").status, 404);
  EXPECT_EQ(get("/debug/pods/only-a-name").status, 400);
  EXPECT_EQ(get("/debug/pods/ns/a/b").status, 400);
}

}  // namespace
}  // namespace fairway
