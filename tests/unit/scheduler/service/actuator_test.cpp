// The Actuator with no threads, a ManualClock and recording writers (recording_writer.h): a pod's
// PodScheduled=False condition or a status patch that meets a server error is written again
// after a back-off (the loop writes a message only when it changes, so a lost write would
// otherwise stay lost), and a newer message or a bind replaces the retry. The test runs the
// queued work itself (Actuator::run_pending) and moves time by hand: no sleeps.

#include "scheduler/service/actuator.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>

#include "unit/scheduler/service/recording_writer.h"

namespace fairway {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;
using testing::RecordedCall;
using testing::RecordingWriter;

class ActuatorTest : public ::testing::Test {
 protected:
  void TearDown() override {
    if (actuator_) actuator_->stop();
  }

  Actuator& actuator() {
    if (!actuator_) {
      actuator_ = std::make_unique<Actuator>(
          binds_, 1,
          Actuator::Hooks{[this] { return may_write_.load(); },
                          [](const Binding&, const std::string&) {}, nullptr},
          VolumeBinderOptions{}, &writer_, clock_, /*threads=*/false);
    }
    return *actuator_;
  }

  // The PodScheduled condition's message as last written (2xx) for pod default/`name`, "" when
  // none was.
  std::string condition_message(const std::string& name) {
    std::string message;
    for (const RecordedCall& call :
         writer_.calls("PATCH", "/api/v1/namespaces/default/pods/" + name + "/status")) {
      if (call.status < 200 || call.status >= 300) continue;
      const json patch = json::parse(call.body);
      for (const json& c : patch["status"].value("conditions", json::array())) {
        if (c.value("type", "") == "PodScheduled") message = c.value("message", "");
      }
    }
    return message;
  }

  // The reasons of the Events created, in order.
  std::vector<std::string> event_reasons(const RecordingWriter& writer) {
    std::vector<std::string> reasons;
    for (const RecordedCall& call : writer.calls("CREATE", "/events")) {
      reasons.push_back(json::parse(call.body).value("reason", ""));
    }
    return reasons;
  }

  ManualClock clock_;
  RecordingWriter binds_;   // binds
  RecordingWriter writer_;  // conditions, status patches, Events
  std::unique_ptr<Actuator> actuator_;
  std::atomic<bool> may_write_{true};
};

TEST_F(ActuatorTest, AConditionWriteThatMetAServerErrorIsWrittenAgain) {
  writer_.answer("PATCH", "/pods/p/status", 500, "etcd is sad", 1);
  actuator().explain({"default/p", "", "Unschedulable", "0/3 nodes are available"});
  actuator().run_pending();
  // Nothing but the actuator writes, so the write is what failed.
  ASSERT_EQ(writer_.failed(), 1u);
  EXPECT_EQ(condition_message("p"), "");
  // The retry, a second after the failure, lands without a new explain().
  clock_.advance(999ms);
  actuator().run_pending();
  EXPECT_EQ(condition_message("p"), "");  // not yet due
  clock_.advance(1ms);
  actuator().run_pending();
  EXPECT_EQ(condition_message("p"), "0/3 nodes are available");
}

TEST_F(ActuatorTest, ANewerMessageReplacesTheRetry) {
  writer_.answer("PATCH", "/pods/p/status", 500, "etcd is sad", 1);
  actuator().explain({"default/p", "", "Unschedulable", "old"});
  actuator().run_pending();
  ASSERT_EQ(writer_.failed(), 1u);  // the first write failed
  actuator().explain({"default/p", "", "Unschedulable", "new"});
  actuator().run_pending();
  ASSERT_EQ(condition_message("p"), "new");
  // Past the retry's due time the older message has not come back.
  clock_.advance(1500ms);
  actuator().run_pending();
  EXPECT_EQ(condition_message("p"), "new");
  EXPECT_EQ(writer_.calls("PATCH", "/pods/p/status").size(), 2u);
}

TEST_F(ActuatorTest, APlacedPodsRetryIsDropped) {
  writer_.answer("PATCH", "/pods/p/status", 500, "etcd is sad", 1);
  actuator().explain({"default/p", "", "Unschedulable", "no room"});
  actuator().run_pending();
  ASSERT_EQ(writer_.failed(), 1u);
  actuator().forget_explanation("default/p");
  clock_.advance(1500ms);
  actuator().run_pending();
  EXPECT_EQ(condition_message("p"), "");
  EXPECT_EQ(writer_.calls("PATCH", "/pods/p/status").size(), 1u);
}

TEST_F(ActuatorTest, AStatusPatchThatMetAServerErrorIsWrittenAgain) {
  writer_.answer("PATCH", "/pods/p/status", 503, "unavailable", 1);
  actuator().patch_status("/api/v1/namespaces/default/pods/p/status",
                          json{{"status", {{"message", "published"}}}}.dump());
  actuator().run_pending();
  ASSERT_EQ(writer_.failed(), 1u);
  clock_.advance(1s);
  actuator().run_pending();
  const auto patches = writer_.calls("PATCH", "/api/v1/namespaces/default/pods/p/status");
  ASSERT_EQ(patches.size(), 2u);
  EXPECT_EQ(patches.back().status, 200);
  EXPECT_EQ(patches.back().content_type, "application/merge-patch+json");
  EXPECT_EQ(json::parse(patches.back().body)["status"].value("message", ""), "published");
}

// A pod whose shared-GPU reservation failed six times, then was bound by the reservation path
// (Actuator::scheduled): `kubectl describe` shows its Scheduled Event after the stale warnings.
TEST_F(ActuatorTest, AScheduledEventFollowsAnyNumberOfFailedAttempts) {
  for (int i = 0; i < 6; ++i) {
    const std::string message = "shared GPU placement rolled back: attempt " + std::to_string(i);
    actuator().explain({"default/p", "", "ReservationFailed", message});
    actuator().run_pending();
    ASSERT_EQ(condition_message("p"), message);
  }
  Binding binding;
  binding.pod = "default/p";
  binding.node = "n1";
  actuator().scheduled(binding);
  actuator().run_pending();
  const std::vector<std::string> reasons = event_reasons(writer_);
  EXPECT_EQ(std::count(reasons.begin(), reasons.end(), "FailedScheduling"), 6);
  EXPECT_EQ(std::count(reasons.begin(), reasons.end(), "Scheduled"), 1);
  ASSERT_FALSE(reasons.empty());
  EXPECT_EQ(reasons.back(), "Scheduled");
}

// Events, pod conditions and status patches go through the writer, binds alone through the
// main one: an Event storm takes nothing from the binds' QPS budget. (Proven by who sent what:
// each writer records every request made through it.)
TEST_F(ActuatorTest, EventsAndStatusWritesUseTheWriterClientNotTheBindBudget) {
  for (int i = 0; i < 10; ++i) {  // the storm: FailedScheduling Events and conditions
    actuator().explain({"default/waiting-" + std::to_string(i), "", "Unschedulable", "no room"});
  }
  for (int i = 0; i < 3; ++i) {
    Binding b;
    b.pod = "default/bound-" + std::to_string(i);
    b.node = "n1";
    actuator().bind(b);
  }
  actuator().run_pending();
  actuator().stop();
  EXPECT_EQ(actuator().stats().binds.load(), 3u);
  EXPECT_EQ(actuator().stats().events.load(), 13u);  // 10 FailedScheduling + 3 Scheduled
  const auto main_calls = binds_.calls();
  ASSERT_EQ(main_calls.size(), 3u);
  for (const RecordedCall& call : main_calls) {
    EXPECT_TRUE(call.verb == "BIND" && call.path.ends_with("/binding")) << call.path;
  }
  size_t events = 0;
  for (const RecordedCall& call : writer_.calls()) {
    EXPECT_NE(call.verb, "BIND") << call.path;
    EXPECT_EQ(call.path.find("/binding"), std::string::npos) << call.path;
    if (call.verb == "CREATE" && call.path.ends_with("/events")) ++events;
  }
  EXPECT_EQ(events, 13u);
}

// A bind the server refuses for good (not a 409) is handed back with the server's words; one
// that never got an answer with the transport's; a 409 is somebody else's bind, not a failure.
TEST_F(ActuatorTest, ABindIsHandedBackWithTheServersWords) {
  std::vector<std::string> failures;
  Actuator actuator(binds_, 1,
                    Actuator::Hooks{[] { return true; },
                                    [&](const Binding& b, const std::string& why) {
                                      failures.push_back(b.pod + ": " + why);
                                    },
                                    nullptr},
                    VolumeBinderOptions{}, &writer_, clock_, /*threads=*/false);
  binds_.answer("BIND", "/pods/refused/", 422, "spec.nodeName: Invalid value", 1);
  binds_.answer("BIND", "/pods/lost/", 0, "connection reset by peer", 1);
  binds_.answer("BIND", "/pods/taken/", 409, "pod taken is already assigned", 1);
  for (const char* pod : {"default/refused", "default/lost", "default/taken"}) {
    Binding b;
    b.pod = pod;
    b.node = "n1";
    actuator.bind(b);
  }
  EXPECT_EQ(actuator.binds_in_flight(), 3u);
  actuator.run_pending();
  EXPECT_EQ(actuator.binds_in_flight(), 0u);
  ASSERT_EQ(failures.size(), 2u);
  EXPECT_EQ(failures[0], "default/refused: binding rejected: 422: spec.nodeName: Invalid value");
  EXPECT_EQ(failures[1], "default/lost: connection reset by peer");
  EXPECT_EQ(actuator.stats().bind_errors.load(), 2u);
  EXPECT_EQ(actuator.stats().bind_conflicts.load(), 1u);
  EXPECT_TRUE(event_reasons(writer_).empty());  // no Scheduled Event for any of them
}

}  // namespace
}  // namespace fairway
