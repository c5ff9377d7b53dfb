// Events as client-go's recorder writes them (event_correlator.h, event_recorder.h): repeats are
// counted on one Event, similar ones combined, the limit is per (object, reason), and an Event
// reporting a completed action is never dropped. The correlator on hand-driven time; the recorder
// against the embedded API server in-process, on the same fake clock.

#include "scheduler/service/event_recorder.h"

#include <gtest/gtest.h>

#include <mutex>
#include <nlohmann/json.hpp>
#include <vector>

#include "support/in_process_api.h"

namespace fairway {
namespace {

using nlohmann::json;
using Write = CorrelatedEvent::Write;

EventIdentity pod_event(const std::string& name, const std::string& reason,
                        const std::string& type = "Warning") {
  return EventIdentity{.kind = "Pod",
                       .namespace_ = "ns",
                       .name = name,
                       .uid = "uid-" + name,
                       .api_version = "v1",
                       .type = type,
                       .reason = reason};
}

constexpr int64_t kStart = 1'700'000'000'000;  // any wall-clock instant
constexpr int64_t kMinute = 60'000;

TEST(EventCorrelator, ARepeatPatchesTheEventWrittenWithItsCount) {
  EventCorrelator correlator;
  const auto first = correlator.correlate(pod_event("p", "FailedScheduling"), "no room", kStart);
  EXPECT_EQ(first.write, Write::kCreate);
  EXPECT_EQ(first.count, 1);
  correlator.remember_name(first.key, "p.abc");
  const auto second =
      correlator.correlate(pod_event("p", "FailedScheduling"), "no room", kStart + kMinute);
  EXPECT_EQ(second.write, Write::kPatch);
  EXPECT_EQ(second.name, "p.abc");
  EXPECT_EQ(second.count, 2);
  EXPECT_EQ(second.first_ms, kStart);
  EXPECT_EQ(second.last_ms, kStart + kMinute);
  // A different message is a different Event.
  EXPECT_EQ(correlator.correlate(pod_event("p", "FailedScheduling"), "other", kStart).write,
            Write::kCreate);
}

TEST(EventCorrelator, ARepeatWhoseCreateFailedIsCreatedWithItsCount) {
  EventCorrelator correlator;
  correlator.correlate(pod_event("p", "FailedScheduling"), "no room", kStart);  // never named
  const auto again = correlator.correlate(pod_event("p", "FailedScheduling"), "no room", kStart);
  EXPECT_EQ(again.write, Write::kCreate);
  EXPECT_EQ(again.count, 2);
}

TEST(EventCorrelator, TheLimitIsPerObjectAndReasonAndRefillsEveryFiveMinutes) {
  EventCorrelator correlator;
  for (int i = 0; i < 25; ++i) {
    EXPECT_NE(correlator.correlate(pod_event("p", "FailedScheduling"), "no room", kStart).write,
              Write::kSkip)
        << i;
  }
  const auto over = correlator.correlate(pod_event("p", "FailedScheduling"), "no room", kStart);
  EXPECT_EQ(over.write, Write::kSkip);
  EXPECT_EQ(over.count, 26);  // still counted: the next write carries it
  // Another reason on the same object, and the same reason on another object, have tokens.
  EXPECT_NE(correlator.correlate(pod_event("p", "EvictionFailed"), "pdb", kStart).write,
            Write::kSkip);
  EXPECT_NE(correlator.correlate(pod_event("q", "FailedScheduling"), "no room", kStart).write,
            Write::kSkip);
  // One token every 5 minutes.
  const int64_t later = kStart + 5 * kMinute;
  EXPECT_EQ(correlator.correlate(pod_event("p", "FailedScheduling"), "no room", later).count, 27);
  EXPECT_EQ(correlator.correlate(pod_event("p", "FailedScheduling"), "no room", later).write,
            Write::kSkip);
}

TEST(EventCorrelator, AnEventReportingACompletedActionIsNeverDropped) {
  EventCorrelator correlator;
  for (int i = 0; i < 40; ++i) {
    correlator.correlate(pod_event("p", "FailedScheduling"), "try " + std::to_string(i), kStart);
  }
  for (const char* reason : {"Scheduled", "Preempted", "Reclaimed"}) {
    for (int i = 0; i < 30; ++i) {
      EXPECT_NE(correlator
                    .correlate(pod_event("p", reason, "Normal"),
                               "Successfully assigned ns/p to n" + std::to_string(i), kStart)
                    .write,
                Write::kSkip)
          << reason << " " << i;
    }
  }
  EXPECT_TRUE(reports_completed_action("Scheduled"));
  EXPECT_FALSE(reports_completed_action("FailedScheduling"));
}

TEST(EventCorrelator, TheTenthDistinctMessageWithinTenMinutesIsCombined) {
  EventCorrelator correlator;
  for (int i = 0; i < 9; ++i) {
    const auto event = correlator.correlate(pod_event("p", "FailedScheduling"),
                                            "message " + std::to_string(i), kStart + i * 1000);
    EXPECT_EQ(event.message, "message " + std::to_string(i));
    EXPECT_EQ(event.count, 1);
  }
  const auto tenth =
      correlator.correlate(pod_event("p", "FailedScheduling"), "message 9", kStart + 9000);
  EXPECT_EQ(tenth.message, "(combined from similar events): message 9");
  EXPECT_EQ(tenth.write, Write::kCreate);
  EXPECT_EQ(tenth.count, 1);
  correlator.remember_name(tenth.key, "p.combined");
  const auto eleventh =
      correlator.correlate(pod_event("p", "FailedScheduling"), "message 10", kStart + 10'000);
  EXPECT_EQ(eleventh.message, "(combined from similar events): message 10");
  EXPECT_EQ(eleventh.write, Write::kPatch);
  EXPECT_EQ(eleventh.name, "p.combined");
  EXPECT_EQ(eleventh.count, 2);
  // Other reasons are not similar.
  EXPECT_EQ(correlator.correlate(pod_event("p", "EvictionFailed"), "x", kStart).message, "x");
  // More than 10 minutes after the last similar one, a message stands on its own again.
  const auto quiet = correlator.correlate(pod_event("p", "FailedScheduling"), "message 11",
                                          kStart + 10'000 + 10 * kMinute + 1);
  EXPECT_EQ(quiet.message, "message 11");
}

TEST(EventCorrelator, ItsTablesAreBounded) {
  EventCorrelator correlator({.max_entries = 3});
  for (int i = 0; i < 100; ++i) {
    correlator.correlate(pod_event("p" + std::to_string(i), "FailedScheduling"), "m", kStart);
  }
  EXPECT_LE(correlator.tracked(), 9u);
}

class EventRecorderTest : public testing::InProcessApiTest {
 protected:
  void SetUp() override {
    InProcessApiTest::SetUp();
    writer_ = std::make_unique<k8s::RestClient>(cluster_);
    writer_->set_observer([this](std::string_view verb, std::string_view path, int, auto) {
      std::lock_guard lock(mutex_);
      requests_.push_back(std::string(verb) + " " + std::string(path));
    });
    cluster_writer_ = std::make_unique<RestClusterWriter>(*writer_);
    recorder_ = std::make_unique<EventRecorder>(*cluster_writer_, clock_);
    json ns = {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", "ns"}}}};
    client_->request("POST", "/api/v1/namespaces", ns.dump());
  }
  void TearDown() override {
    if (writer_) writer_->stop();
    InProcessApiTest::TearDown();
  }

  k8s::EventSpec event(const std::string& reason, const std::string& message) {
    k8s::EventSpec spec;
    spec.namespace_ = "ns";
    spec.involved_kind = "Pod";
    spec.involved_name = "p";
    spec.involved_uid = "uid-p";
    spec.involved_api_version = "v1";
    spec.type = reason == "Scheduled" ? "Normal" : "Warning";
    spec.reason = reason;
    spec.message = message;
    return spec;
  }

  json events() {
    auto got = client_->get("/api/v1/namespaces/ns/events");
    if (!got || !got->ok()) return json::array();
    return json::parse(got->body)["items"];
  }

  size_t requests() {
    std::lock_guard lock(mutex_);
    return requests_.size();
  }

  // Wall time kStart (ms since the epoch), moved by hand.
  ManualClock clock_{std::chrono::system_clock::time_point(std::chrono::milliseconds(kStart))};
  std::unique_ptr<k8s::RestClient> writer_;
  std::unique_ptr<RestClusterWriter> cluster_writer_;
  std::unique_ptr<EventRecorder> recorder_;
  std::mutex mutex_;
  std::vector<std::string> requests_;
};

TEST_F(EventRecorderTest, FiftyIdenticalExplanationsAreOneEventWithABoundedNumberOfWrites) {
  for (int i = 0; i < 50; ++i) {
    recorder_->record(event("FailedScheduling", "0/3 nodes are available"));
    clock_.advance(std::chrono::milliseconds(1000));
  }
  // client-go's correlator: a POST, then PATCHes while the (object, reason) bucket of 25 lasts.
  EXPECT_EQ(requests(), 25u);
  json items = events();
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(items[0]["count"], 25);
  EXPECT_EQ(items[0]["reason"], "FailedScheduling");
  EXPECT_EQ(items[0]["firstTimestamp"], "2023-11-14T22:13:20Z");
  // Five minutes on, a token is back: the one write carries every occurrence since.
  clock_.advance(std::chrono::milliseconds(5 * kMinute));
  EXPECT_EQ(recorder_->record(event("FailedScheduling", "0/3 nodes are available")),
            EventRecorder::Outcome::kUpdated);
  items = events();
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(items[0]["count"], 51);
  EXPECT_EQ(items[0]["firstTimestamp"], "2023-11-14T22:13:20Z");
  EXPECT_EQ(items[0]["lastTimestamp"], "2023-11-14T22:19:10Z");
  EXPECT_EQ(requests(), 26u);
}

TEST_F(EventRecorderTest, ScheduledIsWrittenAfterAnyNumberOfFailures) {
  for (int i = 0; i < 30; ++i) {
    recorder_->record(event("FailedScheduling", "reservation failed, try " + std::to_string(i)));
  }
  EXPECT_EQ(recorder_->record(event("Scheduled", "Successfully assigned ns/p to n1")),
            EventRecorder::Outcome::kCreated);
  bool scheduled = false;
  for (const json& item : events()) scheduled |= item["reason"] == "Scheduled";
  EXPECT_TRUE(scheduled);
}

TEST_F(EventRecorderTest, AnEventGoneFromTheServerIsCreatedAgainWithItsCount) {
  recorder_->record(event("FailedScheduling", "no room"));
  recorder_->record(event("FailedScheduling", "no room"));
  json items = events();
  ASSERT_EQ(items.size(), 1u);
  const std::string name = items[0]["metadata"]["name"];
  ASSERT_TRUE(client_->request("DELETE", "/api/v1/namespaces/ns/events/" + name)->ok());
  EXPECT_EQ(recorder_->record(event("FailedScheduling", "no room")),
            EventRecorder::Outcome::kCreated);
  items = events();
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(items[0]["count"], 3);
  // ...and the next repeat patches the new one.
  EXPECT_EQ(recorder_->record(event("FailedScheduling", "no room")),
            EventRecorder::Outcome::kUpdated);
  EXPECT_EQ(events()[0]["count"], 4);
}

}  // namespace
}  // namespace fairway
