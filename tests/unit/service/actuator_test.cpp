// The Actuator against the embedded API server in-process (loopback HTTP): a pod's
// PodScheduled=False condition or a status patch that meets a server error is written again
// after a back-off (the loop writes a message only when it changes, so a lost write would
// otherwise stay lost), and a newer message or a bind replaces the retry.

#include "scheduler/service/actuator.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
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

}  // namespace
}  // namespace fairway
