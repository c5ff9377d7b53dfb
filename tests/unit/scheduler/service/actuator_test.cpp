// The Actuator against the embedded API server in-process (loopback HTTP): a pod's
// PodScheduled=False condition or a status patch that meets a server error is written again
// after a back-off (the loop writes a message only when it changes, so a lost write would
// otherwise stay lost), and a newer message or a bind replaces the retry.

#include "scheduler/service/actuator.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "sim/apiserver/server.h"
#include "support/in_process_api.h"

namespace fairway {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

class ActuatorTest : public testing::InProcessApiTest {
 protected:
  void TearDown() override {
    if (actuator_) actuator_->stop();
    InProcessApiTest::TearDown();
  }

  Actuator& actuator() {
    if (!actuator_) {
      actuator_ = std::make_unique<Actuator>(
          *client_, 1,
          Actuator::Hooks{[this] { return may_write_.load(); },
                          [](const Binding&, const std::string&) {}, nullptr});
    }
    return *actuator_;
  }

  void pending_pod(const std::string& name) {
    json pod = {
        {"apiVersion", "v1"},
        {"kind", "Pod"},
        {"metadata", {{"name", name}}},
        {"spec",
         {{"schedulerName", "fairway"}, {"containers", {{{"name", "c"}, {"image", "i"}}}}}}};
    auto created = client_->request("POST", "/api/v1/namespaces/default/pods", pod.dump());
    ASSERT_TRUE(created && created->status == 201) << (created ? created->body : "transport");
  }

  // The PodScheduled condition's message, "" when there is none.
  std::string condition_message(const std::string& name) {
    auto got = client_->get("/api/v1/namespaces/default/pods/" + name);
    if (!got || !got->ok()) return {};
    const json pod = json::parse(got->body);
    for (const json& c : pod["status"].value("conditions", json::array())) {
      if (c.value("type", "") == "PodScheduled") return c.value("message", "");
    }
    return {};
  }

  // Waits up to `limit` for the pod's condition message to become `want`.
  bool eventually_says(const std::string& name, const std::string& want,
                       std::chrono::milliseconds limit) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
      if (condition_message(name) == want) return true;
      std::this_thread::sleep_for(50ms);
    }
    return condition_message(name) == want;
  }

  std::unique_ptr<Actuator> actuator_;
  std::atomic<bool> may_write_{true};
};

TEST_F(ActuatorTest, AConditionWriteThatMetAServerErrorIsWrittenAgain) {
  pending_pod("p");
  server_->faults().fail_next(1, 500);
  actuator().explain({"default/p", "", "Unschedulable", "0/3 nodes are available"});
  // Nothing but the actuator talks to the server meanwhile, so the write is what failed.
  std::this_thread::sleep_for(300ms);
  ASSERT_EQ(server_->faults().counters().failed, 1u);
  EXPECT_EQ(condition_message("p"), "");
  // The retry, a second after the failure, lands without a new explain().
  EXPECT_TRUE(eventually_says("p", "0/3 nodes are available", 5s));
}

TEST_F(ActuatorTest, ANewerMessageReplacesTheRetry) {
  pending_pod("p");
  server_->faults().fail_next(1, 500);
  actuator().explain({"default/p", "", "Unschedulable", "old"});
  std::this_thread::sleep_for(300ms);
  ASSERT_EQ(server_->faults().counters().failed, 1u);  // the first write failed
  actuator().explain({"default/p", "", "Unschedulable", "new"});
  ASSERT_TRUE(eventually_says("p", "new", 5s));
  // Past the retry's due time the older message has not come back.
  std::this_thread::sleep_for(1500ms);
  EXPECT_EQ(condition_message("p"), "new");
}

TEST_F(ActuatorTest, APlacedPodsRetryIsDropped) {
  pending_pod("p");
  server_->faults().fail_next(1, 500);
  actuator().explain({"default/p", "", "Unschedulable", "no room"});
  std::this_thread::sleep_for(300ms);
  ASSERT_EQ(server_->faults().counters().failed, 1u);
  actuator().forget_explanation("default/p");
  std::this_thread::sleep_for(1500ms);
  EXPECT_EQ(condition_message("p"), "");
}

TEST_F(ActuatorTest, AStatusPatchThatMetAServerErrorIsWrittenAgain) {
  pending_pod("p");
  server_->faults().fail_next(1, 503);
  actuator().patch_status("/api/v1/namespaces/default/pods/p/status",
                          json{{"status", {{"message", "published"}}}}.dump());
  std::this_thread::sleep_for(300ms);
  ASSERT_EQ(server_->faults().counters().failed, 1u);
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  std::string message;
  while (std::chrono::steady_clock::now() < deadline && message != "published") {
    std::this_thread::sleep_for(50ms);
    auto got = client_->get("/api/v1/namespaces/default/pods/p");
    if (got && got->ok()) message = json::parse(got->body)["status"].value("message", "");
  }
  EXPECT_EQ(message, "published");
}

// A pod whose shared-GPU reservation failed six times, then was bound by the reservation path
// (Actuator::scheduled): `kubectl describe` shows its Scheduled Event after the stale warnings.
TEST_F(ActuatorTest, AScheduledEventFollowsAnyNumberOfFailedAttempts) {
  pending_pod("p");
  for (int i = 0; i < 6; ++i) {
    const std::string message = "shared GPU placement rolled back: attempt " + std::to_string(i);
    actuator().explain({"default/p", "", "ReservationFailed", message});
    ASSERT_TRUE(eventually_says("p", message, 5s));
  }
  Binding binding;
  binding.pod = "default/p";
  binding.node = "n1";
  actuator().scheduled(binding);
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  std::vector<std::string> reasons;
  while (std::chrono::steady_clock::now() < deadline) {
    reasons.clear();
    auto got = client_->get("/api/v1/namespaces/default/events");
    if (got && got->ok()) {
      const json list = json::parse(got->body);
      for (const json& e : list["items"]) reasons.push_back(e["reason"]);
    }
    if (std::count(reasons.begin(), reasons.end(), "Scheduled") == 1) break;
    std::this_thread::sleep_for(50ms);
  }
  EXPECT_EQ(std::count(reasons.begin(), reasons.end(), "FailedScheduling"), 6);
  EXPECT_EQ(std::count(reasons.begin(), reasons.end(), "Scheduled"), 1);
}

// Events, pod conditions and status patches go through the writer client, binds alone through
// the main one: an Event storm takes nothing from the binds' QPS budget. (Proven by who sent
// what, not by timing: each client's observer sees every request it made.)
TEST_F(ActuatorTest, EventsAndStatusWritesUseTheWriterClientNotTheBindBudget) {
  std::mutex mutex;
  std::condition_variable seen;
  std::vector<std::string> main_paths;
  std::vector<std::string> writer_paths;
  size_t events_posted = 0;  // answered 2xx, on either client
  k8s::RestClient bind_client(cluster_);
  k8s::RestClient writer(cluster_);
  const auto observe = [&](std::vector<std::string>& paths) {
    return [&, out = &paths](std::string_view verb, std::string_view path, int code, auto) {
      std::lock_guard lock(mutex);
      out->push_back(std::string(verb) + " " + std::string(path));
      if (path.ends_with("/events") && code >= 200 && code < 300) ++events_posted;
      seen.notify_all();
    };
  };
  bind_client.set_observer(observe(main_paths));
  writer.set_observer(observe(writer_paths));
  for (int i = 0; i < 3; ++i) pending_pod("bound-" + std::to_string(i));
  for (int i = 0; i < 10; ++i) pending_pod("waiting-" + std::to_string(i));
  Actuator actuator(
      bind_client, 1,
      Actuator::Hooks{[] { return true; }, [](const Binding&, const std::string&) {}, nullptr}, {},
      &writer);
  for (int i = 0; i < 10; ++i) {  // the storm: FailedScheduling Events and conditions
    actuator.explain({"default/waiting-" + std::to_string(i), "", "Unschedulable", "no room"});
  }
  for (int i = 0; i < 3; ++i) {
    Binding b;
    b.pod = "default/bound-" + std::to_string(i);
    b.node = "n1";
    actuator.bind(b);
  }
  {
    // Woken by each request; the limit only guards against a hang.
    std::unique_lock lock(mutex);
    ASSERT_TRUE(seen.wait_for(lock, 30s, [&] { return events_posted >= 13; }));
  }
  actuator.stop();  // joins its threads: the counters below are final
  EXPECT_EQ(actuator.stats().binds.load(), 3u);
  EXPECT_EQ(actuator.stats().events.load(), 13u);  // 10 FailedScheduling + 3 Scheduled
  std::lock_guard lock(mutex);
  ASSERT_EQ(main_paths.size(), 3u);
  for (const std::string& p : main_paths) {
    EXPECT_TRUE(p.starts_with("POST ") && p.ends_with("/binding")) << p;
  }
  size_t events = 0;
  for (const std::string& p : writer_paths) {
    EXPECT_EQ(p.find("/binding"), std::string::npos) << p;
    if (p.ends_with("/events")) ++events;
  }
  EXPECT_EQ(events, 13u);
}

}  // namespace
}  // namespace fairway
