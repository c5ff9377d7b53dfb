// Leader election against an in-test Lease endpoint with resourceVersion concurrency.
#include "k8s-client/leader_election.h"

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "test_server.h"

namespace fairway::k8s {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using testing::Responder;
using testing::TestRequest;
using testing::TestServer;

constexpr const char* kLeasePath = "/apis/coordination.k8s.io/v1/namespaces/fairway-system/leases";

// One Lease object, optimistic concurrency like the API server.
class LeaseStore {
 public:
  void handle(const TestRequest& req, Responder& out) {
    std::lock_guard lock(mutex_);
    ++requests_;
    changed_.notify_all();
    if (failing_) return out.reply(500, R"({"kind":"Status","code":500})");
    const std::string item = std::string(kLeasePath) + "/fairway-scheduler";
    if (req.method == "GET" && req.target == item) {
      if (lease_.is_null()) return out.reply(404, R"({"kind":"Status","code":404})");
      return out.reply(200, lease_.dump());
    }
    if (req.method == "POST" && req.target == kLeasePath) {
      if (!lease_.is_null()) return out.reply(409, R"({"kind":"Status","code":409})");
      lease_ = json::parse(req.body);
      lease_["metadata"]["resourceVersion"] = std::to_string(++rv_);
      writes_.push_back(lease_);
      return out.reply(201, lease_.dump());
    }
    if (req.method == "PUT" && req.target == item) {
      json next = json::parse(req.body);
      if (next["metadata"]["resourceVersion"] != lease_["metadata"]["resourceVersion"]) {
        return out.reply(409, R"({"kind":"Status","code":409,"reason":"Conflict"})");
      }
      next["metadata"]["resourceVersion"] = std::to_string(++rv_);
      lease_ = next;
      writes_.push_back(lease_);
      return out.reply(200, lease_.dump());
    }
    out.reply(400, "{}");
  }
  void set(json lease) {
    std::lock_guard lock(mutex_);
    lease["metadata"]["resourceVersion"] = std::to_string(++rv_);
    lease_ = std::move(lease);
  }
  json lease() {
    std::lock_guard lock(mutex_);
    return lease_;
  }
  std::vector<json> writes() {
    std::lock_guard lock(mutex_);
    return writes_;
  }
  void fail(bool failing) {
    std::lock_guard lock(mutex_);
    failing_ = failing;
  }
  int requests() {
    std::lock_guard lock(mutex_);
    return requests_;
  }
  // Waits up to `limit` of real time for a request after the `seen`th.
  bool await_request(int seen, std::chrono::milliseconds limit) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, limit, [&] { return requests_ > seen; });
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  int requests_ = 0;
  json lease_;
  int rv_ = 100;
  std::vector<json> writes_;
  bool failing_ = false;
};

LeaderElectionConfig fast_config(const std::string& identity) {
  LeaderElectionConfig config;
  config.identity = identity;
  config.lease_duration = 3s;
  config.renew_deadline = 2s;
  config.retry_period = 1s;
  return config;
}

// Moves `clock` a look period (at most 300 ms) at a time, each time giving the elector up to
// 20 ms of real time to act on it, until `done()` (read under `mutex`, signalled on `cv`). The
// 30 s of real time only guard against a hang.
bool advance_until(ManualClock& clock, std::mutex& mutex, std::condition_variable& cv,
                   const std::function<bool()>& done) {
  const auto give_up = std::chrono::steady_clock::now() + 30s;
  std::unique_lock lock(mutex);
  while (!cv.wait_for(lock, 20ms, done)) {
    if (std::chrono::steady_clock::now() > give_up) return false;
    clock.advance(250ms);
  }
  return true;
}

// Moves `clock` by `step` until `done()`, giving the elector the chance to act at each step: it
// looks at the Lease at least once per 300 ms of its clock (a standby's jittered look period; a
// leader renews every retry period, 1 s), so once that much has passed since its last request
// the next one is awaited (real time, up to 10 s: only a guard against a hang). A zero step
// waits for `done()` without moving the clock.
bool advance_until(ManualClock& clock, LeaseStore& store, const std::function<bool()>& done,
                   Clock::duration step = 50ms, Clock::duration look = 1s) {
  Clock::duration since_request{};
  for (int round = 0; round < 2000; ++round) {
    if (done()) return true;
    const int seen = store.requests();
    clock.advance(step);
    since_request += step;
    if (store.await_request(seen, since_request > look + step ? 10000ms : 20ms)) since_request = {};
  }
  return done();
}

TEST(LeaderElection, CreatesRenewsAndReleases) {
  LeaseStore store;
  TestServer server([&](const TestRequest& req, Responder& out) { store.handle(req, out); });
  ClusterConfig config;
  config.server = server.url();
  RestClient client(config);
  std::atomic<int> started{0}, stopped{0};
  ManualClock clock;
  LeaderElectionConfig lease_config = fast_config("me");
  lease_config.clock = &clock;
  LeaderElector elector(
      client, lease_config, [&] { ++started; }, [&] { ++stopped; });
  std::jthread runner([&](std::stop_token stop) { elector.run(stop); });
  // The first attempt creates the Lease at once, with no time passing.
  ASSERT_TRUE(advance_until(
      clock, store, [&] { return started == 1; }, 0s));
  ASSERT_TRUE(elector.is_leader());
  EXPECT_EQ(started, 1);
  json lease = store.lease();
  EXPECT_EQ(lease["spec"]["holderIdentity"], "me");
  EXPECT_EQ(lease["spec"]["leaseDurationSeconds"], 3);
  EXPECT_EQ(lease["spec"]["leaseTransitions"], 0);
  const std::string acquired = lease["spec"]["acquireTime"];
  EXPECT_EQ(acquired.size(), std::string("2024-05-01T12:00:00.000000Z").size());
  // create + 2 renewals, one per retry period on the elector's clock
  ASSERT_TRUE(advance_until(
      clock, store, [&] { return store.writes().size() >= 3; }, 100ms));
  lease = store.lease();
  EXPECT_EQ(lease["spec"]["acquireTime"], acquired);  // renewals keep the acquire time
  EXPECT_NE(lease["spec"]["renewTime"], acquired);
  runner.request_stop();
  runner.join();
  EXPECT_FALSE(elector.is_leader());
  EXPECT_EQ(stopped, 1);
  lease = store.lease();
  EXPECT_FALSE(lease["spec"].contains("holderIdentity"));  // released for a fast hand-over
  EXPECT_EQ(lease["spec"]["leaseDurationSeconds"], 1);
}

TEST(LeaderElection, WaitsForAnotherHoldersLeaseToExpire) {
  LeaseStore store;
  store.set({{"apiVersion", "coordination.k8s.io/v1"},
             {"kind", "Lease"},
             {"metadata", {{"name", "fairway-scheduler"}, {"namespace", "fairway-system"}}},
             {"spec",
              {{"holderIdentity", "other"},
               {"leaseDurationSeconds", 2},
               {"acquireTime", "2024-05-01T12:00:00.000000Z"},
               {"renewTime", "2024-05-01T12:00:00.000000Z"},
               {"leaseTransitions", 4}}}});
  TestServer server([&](const TestRequest& req, Responder& out) { store.handle(req, out); });
  ClusterConfig config;
  config.server = server.url();
  RestClient client(config);
  ManualClock clock;
  LeaderElectionConfig lease_config = fast_config("me");
  lease_config.clock = &clock;
  std::atomic<int> started{0};
  LeaderElector elector(
      client, lease_config, [&] { ++started; }, nullptr);
  const auto start = clock.now();
  std::jthread runner([&](std::stop_token stop) { elector.run(stop); });
  ASSERT_TRUE(advance_until(
      clock, store, [&] { return clock.now() - start >= 1200ms; }, 100ms, 300ms));
  EXPECT_FALSE(elector.is_leader());  // "other" is not renewing, but 2 s have not passed yet
  ASSERT_TRUE(advance_until(
      clock, store, [&] { return started == 1; }, 50ms, 300ms));
  ASSERT_TRUE(elector.is_leader());
  EXPECT_GE(clock.now() - start, 2s);  // on the elector's clock
  json lease = store.lease();
  EXPECT_EQ(lease["spec"]["holderIdentity"], "me");
  EXPECT_EQ(lease["spec"]["leaseTransitions"], 5);
  EXPECT_NE(lease["spec"]["acquireTime"], "2024-05-01T12:00:00.000000Z");
}

TEST(LeaderElection, TakesOverAboutOneLeaseDurationAfterTheHoldersLastRenewal) {
  // "other" renews every 400 ms, then dies. A standby must not take the lease sooner than a lease
  // duration after the last renewal it could see, and takes it within a quarter retry period
  // (its look period, jittered) after that.
  LeaseStore store;
  auto lease_of = [](const std::string& renew_time) {
    return json{{"apiVersion", "coordination.k8s.io/v1"},
                {"kind", "Lease"},
                {"metadata", {{"name", "fairway-scheduler"}, {"namespace", "fairway-system"}}},
                {"spec",
                 {{"holderIdentity", "other"},
                  {"leaseDurationSeconds", 2},
                  {"acquireTime", "2024-05-01T12:00:00.000000Z"},
                  {"renewTime", renew_time},
                  {"leaseTransitions", 1}}}};
  };
  store.set(lease_of("2024-05-01T12:00:00.000000Z"));
  TestServer server([&](const TestRequest& req, Responder& out) { store.handle(req, out); });
  ClusterConfig config;
  config.server = server.url();
  RestClient client(config);
  ManualClock clock;
  LeaderElectionConfig lease_config = fast_config("me");
  lease_config.clock = &clock;
  std::atomic<int> started{0};
  LeaderElector elector(
      client, lease_config, [&] { ++started; }, nullptr);
  std::jthread runner([&](std::stop_token stop) { elector.run(stop); });
  for (int i = 1; i <= 5; ++i) {
    const auto renewal_due = clock.now() + 400ms;
    ASSERT_TRUE(advance_until(
        clock, store, [&] { return clock.now() >= renewal_due; }, 50ms, 300ms));
    store.set(lease_of(fmt::format("2024-05-01T12:00:0{}.000000Z", i)));
    EXPECT_FALSE(elector.is_leader());
  }
  const auto last_renewal = clock.now();
  ASSERT_TRUE(advance_until(
      clock, store, [&] { return started == 1; }, 50ms, 300ms));
  ASSERT_TRUE(elector.is_leader());
  const auto took = clock.now() - last_renewal;  // on the elector's clock
  EXPECT_GE(took, 1950ms);  // the 2 s lease, on our clock, from when we saw the renewal
  EXPECT_LE(took, 2500ms);  // + at most one look (250 ms × 1.2) + the acquiring round trip
}

TEST(LeaderElection, StepsDownWhenRenewalsFail) {
  LeaseStore store;
  TestServer server([&](const TestRequest& req, Responder& out) { store.handle(req, out); });
  ClusterConfig config;
  config.server = server.url();
  RestClient client(config);
  std::atomic<int> started{0}, stopped{0};
  ManualClock clock;
  LeaderElectionConfig lease_config = fast_config("me");
  lease_config.clock = &clock;
  LeaderElector elector(
      client, lease_config, [&] { ++started; }, [&] { ++stopped; });
  std::jthread runner([&](std::stop_token stop) { elector.run(stop); });
  ASSERT_TRUE(advance_until(
      clock, store, [&] { return started == 1; }, 0s));
  ASSERT_TRUE(elector.is_leader());
  store.fail(true);
  const auto failing_since = clock.now();
  ASSERT_TRUE(advance_until(clock, store, [&] { return !elector.is_leader(); }));
  EXPECT_FALSE(elector.is_leader());
  // Within renew_deadline of the last success, well before another replica could take over.
  EXPECT_LT(clock.now() - failing_since, 2500ms);
  ASSERT_TRUE(advance_until(clock, store, [&] { return stopped == 1; }));
  EXPECT_EQ(stopped, 1);
  store.fail(false);
  // The lease is still ours: re-acquired.
  ASSERT_TRUE(advance_until(
      clock, store, [&] { return started == 2; }, 50ms, 300ms));
  EXPECT_TRUE(elector.is_leader());
}

// No fairway-system namespace: kube-apiserver answers the Lease create with 404 "namespaces
// \"fairway-system\" not found". The replica stays standby, and says why, once per interval.
TEST(LeaderElection, WarnsWhenTheLeaseNamespaceIsMissing) {
  std::mutex mutex;
  std::condition_variable created;
  int creates = 0;
  TestServer server([&](const TestRequest& req, Responder& out) {
    if (req.method == "POST") {
      std::lock_guard lock(mutex);
      ++creates;
      created.notify_all();
    }
    out.reply(404, R"({"kind":"Status","apiVersion":"v1","status":"Failure",)"
                   R"("message":"namespaces \"fairway-system\" not found","reason":"NotFound",)"
                   R"("details":{"name":"fairway-system","kind":"namespaces"},"code":404})");
  });
  ClusterConfig config;
  config.server = server.url();
  RestClient client(config);
  LeaderElectionConfig lease = fast_config("me");  // a standby looks every 250-300 ms
  // Time moves only by hand on the elector's clock, a look period at a time: however slow this
  // machine, every attempt falls within one warning interval.
  ManualClock clock;
  lease.clock = &clock;
  std::vector<std::string> warnings;
  lease.on_problem = [&](const std::string& warning) {
    std::lock_guard lock(mutex);
    warnings.push_back(warning);
  };
  LeaderElector elector(client, lease, nullptr, nullptr);
  std::jthread runner([&](std::stop_token stop) { elector.run(stop); });
  ASSERT_TRUE(advance_until(clock, mutex, created, [&] { return creates >= 5; }));
  runner.request_stop();
  runner.join();
  EXPECT_FALSE(elector.is_leader());
  std::lock_guard lock(mutex);
  ASSERT_EQ(warnings.size(), 1u);  // once per minute, not once per attempt
  EXPECT_THAT(warnings[0], ::testing::HasSubstr("fairway-system/fairway-scheduler"));
  EXPECT_THAT(warnings[0],
              ::testing::HasSubstr("404 NotFound: namespaces \"fairway-system\" not found"));
  EXPECT_THAT(warnings[0], ::testing::HasSubstr("kubectl create namespace fairway-system"));
  EXPECT_THAT(warnings[0], ::testing::Not(::testing::HasSubstr("{")));
}

// The warning's once-a-minute limit runs on the elector's clock (LeaderElectionConfig::clock):
// the same warning again only once a minute has passed on it, whatever the wall clock does.
TEST(LeaderElection, RepeatsTheWarningOnlyAfterItsIntervalOnTheInjectedClock) {
  std::mutex mutex;
  std::condition_variable created;
  int creates = 0;
  TestServer server([&](const TestRequest& req, Responder& out) {
    if (req.method == "POST") {
      std::lock_guard lock(mutex);
      ++creates;
      created.notify_all();
    }
    out.reply(404, R"({"kind":"Status","apiVersion":"v1","status":"Failure",)"
                   R"("message":"namespaces \"fairway-system\" not found","reason":"NotFound",)"
                   R"("details":{"name":"fairway-system","kind":"namespaces"},"code":404})");
  });
  ClusterConfig config;
  config.server = server.url();
  RestClient client(config);
  LeaderElectionConfig lease = fast_config("me");
  ManualClock clock;
  lease.clock = &clock;
  size_t warnings = 0;
  Clock::time_point first_warning{};
  lease.on_problem = [&](const std::string&) {
    std::lock_guard lock(mutex);
    if (++warnings == 1) first_warning = clock.now();
  };
  LeaderElector elector(client, lease, nullptr, nullptr);
  std::jthread runner([&](std::stop_token stop) { elector.run(stop); });
  // `more` attempts, the clock moved a look period at a time meanwhile.
  auto attempts = [&](int more) {
    std::unique_lock lock(mutex);
    const int target = creates + more;
    lock.unlock();
    return advance_until(clock, mutex, created, [&] { return creates >= target; });
  };
  // Moves the clock to `at` after the first warning.
  auto move_to = [&](std::chrono::seconds at) {
    std::lock_guard lock(mutex);
    clock.advance(first_warning + at - clock.now());
  };
  ASSERT_TRUE(attempts(3));
  move_to(55s);
  ASSERT_TRUE(attempts(3));  // not yet a minute (each attempt moves the clock ≤ 300 ms)
  {
    std::lock_guard lock(mutex);
    EXPECT_EQ(warnings, 1u);
  }
  move_to(61s);  // 61 s after the first warning
  ASSERT_TRUE(attempts(3));
  runner.request_stop();
  runner.join();
  std::lock_guard lock(mutex);
  EXPECT_EQ(warnings, 2u);
}

}  // namespace
}  // namespace fairway::k8s
