// Preflight (scheduler/service/preflight.h): the pure checks over what was read, and the reader
// against the embedded API server in-process (what it finds, what it creates, what a 403 means).

#include "scheduler/service/preflight.h"

#include <gtest/gtest.h>

#include <atomic>
#include <nlohmann/json.hpp>
#include <thread>

#include "support/in_process_api.h"

namespace fairway {
namespace {

using State = Lookup::State;

ClusterFacts healthy() {
  ClusterFacts facts;
  facts.lease_namespace.state = State::kFound;
  facts.fairway_group.state = State::kFound;
  facts.served_resources = {"queues", "queues/status", "podgroups", "topologies"};
  facts.reservation_namespace.state = State::kFound;
  facts.reservation_priority_class.state = State::kFound;
  facts.reservation_service_account.state = State::kFound;
  facts.webhook_configurations.state = State::kFound;
  facts.fairway_webhooks = {"fairway/pods-0.fairway.dev"};
  return facts;
}

const CheckResult& row(const std::vector<CheckResult>& rows, const std::string& name) {
  for (const CheckResult& r : rows) {
    if (r.name == name) return r;
  }
  static const CheckResult kNone{.name = "absent"};
  ADD_FAILURE() << "no row " << name;
  return kNone;
}

TEST(Preflight, AHealthyClusterPassesEveryCheck) {
  PreflightConfig config;
  config.webhook_enabled = true;
  const auto rows = evaluate(config, healthy());
  ASSERT_EQ(rows.size(), 8u);
  for (const CheckResult& r : rows) EXPECT_TRUE(r.pass) << r.name << ": " << r.detail;
  EXPECT_TRUE(required_checks_pass(rows));
  EXPECT_EQ(reservation_blocker(rows), "");
}

TEST(Preflight, AMissingLeaseNamespaceFailsReadinessOnlyWithLeaderElection) {
  ClusterFacts facts = healthy();
  facts.lease_namespace.state = State::kMissing;
  PreflightConfig config;
  auto rows = evaluate(config, facts);
  const CheckResult& lease = row(rows, "lease-namespace");
  EXPECT_FALSE(lease.pass);
  EXPECT_TRUE(lease.required);
  EXPECT_EQ(lease.detail,
            "namespace fairway-system not found: with --leader-elect fairway stays standby until "
            "it exists");
  EXPECT_TRUE(lease.fix.starts_with("kubectl create namespace fairway-system"));
  EXPECT_FALSE(required_checks_pass(rows));
  config.leader_elect = false;
  rows = evaluate(config, facts);
  EXPECT_TRUE(row(rows, "lease-namespace").pass);
  EXPECT_TRUE(required_checks_pass(rows));
}

TEST(Preflight, EachCrdThatIsNotServedIsARequiredFailure) {
  ClusterFacts facts = healthy();
  facts.served_resources = {"queues"};
  auto rows = evaluate({}, facts);
  EXPECT_TRUE(row(rows, "crd/queues").pass);
  EXPECT_FALSE(row(rows, "crd/podgroups").pass);
  EXPECT_EQ(row(rows, "crd/topologies").detail,
            "scheduling.fairway.dev/v1alpha1 topologies not served (CRD "
            "topologies.scheduling.fairway.dev not installed)");
  EXPECT_FALSE(required_checks_pass(rows));
  facts.fairway_group.state = State::kMissing;  // the group is not served at all
  rows = evaluate({}, facts);
  EXPECT_FALSE(row(rows, "crd/queues").pass);
}

TEST(Preflight, AReservationObjectFairwayMayNotCreateBlocksFractionalPodsWithItsReason) {
  ClusterFacts facts = healthy();
  facts.reservation_priority_class.state = State::kMissing;
  facts.reservation_priority_class.create_error =
      "Forbidden: priorityclasses.scheduling.k8s.io is forbidden";
  const auto rows = evaluate({}, facts);
  const CheckResult& pc = row(rows, "reservation-priorityclass");
  EXPECT_FALSE(pc.pass);
  EXPECT_FALSE(pc.required);  // only fractional GPUs need it: readiness stays
  EXPECT_TRUE(required_checks_pass(rows));
  EXPECT_EQ(reservation_blocker(rows),
            "fractional GPU pods cannot be placed: PriorityClass fairway-reservation not found; "
            "fairway may not create it (Forbidden: priorityclasses.scheduling.k8s.io is "
            "forbidden)");
  EXPECT_TRUE(pc.fix.starts_with("kubectl create priorityclass fairway-reservation"));
}

TEST(Preflight, AnUnregisteredWebhookFailsOnlyWhenTheWebhookIsServed) {
  ClusterFacts facts = healthy();
  facts.fairway_webhooks.clear();
  PreflightConfig config;
  config.webhook_enabled = true;
  EXPECT_FALSE(row(evaluate(config, facts), "webhook").pass);
  config.webhook_enabled = false;
  EXPECT_TRUE(row(evaluate(config, facts), "webhook").pass);
}

TEST(Preflight, TheTableAlignsItsColumnsAndGivesTheFixOfFailuresOnly) {
  const std::vector<CheckResult> rows = {
      {.name = "a", .pass = true, .detail = "fine", .fix = "never shown"},
      {.name = "longer-name", .pass = false, .detail = "broken", .fix = "do this"}};
  EXPECT_EQ(render_checks(rows),
            "CHECK         STATUS   DETAIL   FIX\n"
            "a             PASS     fine\n"
            "longer-name   FAIL     broken   do this\n");
}

class PreflightReaderTest : public testing::InProcessApiTest {};

TEST_F(PreflightReaderTest, CreatesTheReservationNamespaceAndPriorityClassWhenItMay) {
  PreflightConfig config;
  config.leader_elect = false;
  ClusterFacts facts = read_cluster_facts(*client_, config, /*create_missing=*/false);
  EXPECT_EQ(facts.reservation_namespace.state, State::kMissing);
  EXPECT_EQ(facts.reservation_priority_class.state, State::kMissing);
  facts = read_cluster_facts(*client_, config, /*create_missing=*/true);
  EXPECT_EQ(facts.reservation_namespace.state, State::kCreated);
  EXPECT_EQ(facts.reservation_priority_class.state, State::kCreated);
  const auto pc = client_->get("/apis/scheduling.k8s.io/v1/priorityclasses/fairway-reservation");
  ASSERT_TRUE(pc && pc->ok());
  const auto body = nlohmann::json::parse(pc->body);
  EXPECT_EQ(body["value"], 1000000000);
  EXPECT_EQ(body["preemptionPolicy"], "Never");
  facts = read_cluster_facts(*client_, config, /*create_missing=*/true);
  EXPECT_EQ(facts.reservation_namespace.state, State::kFound);
}

TEST_F(PreflightReaderTest, AForbiddenCreateIsReportedWithTheServersWords) {
  PreflightConfig config;
  config.leader_elect = false;
  // Every create refused as RBAC refuses it (the reads pass: only creates name a fieldManager).
  apiserver::FaultSettings faults;
  faults.fail_fraction = 1.0;
  faults.fail_code = 403;
  faults.path_contains = "fieldManager=fairway";
  server_->faults().set(faults);
  const auto facts = read_cluster_facts(*client_, config, /*create_missing=*/true);
  EXPECT_EQ(facts.reservation_namespace.state, State::kMissing);
  EXPECT_FALSE(facts.reservation_namespace.create_error.empty());
  const auto rows = evaluate(config, facts);
  EXPECT_FALSE(row(rows, "reservation-namespace").pass);
  EXPECT_NE(reservation_blocker(rows).find("fairway may not create it"), std::string::npos);
}

TEST_F(PreflightReaderTest, ReadsTheCrdsFromDiscoveryAndTheLeaseNamespace) {
  PreflightConfig config;  // --leader-elect, Lease in fairway-system
  auto rows = evaluate(config, read_cluster_facts(*client_, config, false));
  // The embedded server serves fairway's CRDs (compiled in from charts/fairway/crds).
  for (const char* crd : {"crd/queues", "crd/podgroups", "crd/topologies"}) {
    EXPECT_TRUE(row(rows, crd).pass) << crd << ": " << row(rows, crd).detail;
  }
  EXPECT_FALSE(row(rows, "lease-namespace").pass);
  EXPECT_FALSE(required_checks_pass(rows));
  ASSERT_TRUE(client_
                  ->request("POST", "/api/v1/namespaces",
                            R"({"apiVersion":"v1","kind":"Namespace",)"
                            R"("metadata":{"name":"fairway-system"}})")
                  ->ok());
  rows = evaluate(config, read_cluster_facts(*client_, config, false));
  EXPECT_TRUE(row(rows, "lease-namespace").pass);
  EXPECT_TRUE(required_checks_pass(rows));
}

// The scheduler's monitor: re-checks while something fails (a namespace created later is seen),
// and creates the reservation objects only when a fractional pod asks and it may write.
TEST_F(PreflightReaderTest, TheMonitorRechecksAndCreatesOnlyOnNeedWhenItMayWrite) {
  std::atomic<bool> leader{false};
  PreflightConfig config;
  ManualClock clock;  // its thread never gets to recheck: the test does, by hand
  PreflightMonitor monitor(
      *client_, config, [&] { return leader.load(); }, std::chrono::milliseconds(50), clock);
  monitor.start();
  EXPECT_FALSE(required_checks_pass(monitor.results()));  // no fairway-system yet
  // A standby is told what is missing and creates nothing.
  EXPECT_NE(monitor.reservation_blocker().find("namespace fairway-reservation not found"),
            std::string::npos);
  EXPECT_EQ(client_->get("/api/v1/namespaces/fairway-reservation")->status, 404);
  ASSERT_TRUE(client_
                  ->request("POST", "/api/v1/namespaces",
                            R"({"apiVersion":"v1","kind":"Namespace",)"
                            R"("metadata":{"name":"fairway-system"}})")
                  ->ok());
  monitor.recheck();  // the next period: still failing, so it checks again
  EXPECT_TRUE(required_checks_pass(monitor.results()));
  // The leader creates the namespace and PriorityClass on need; the ServiceAccount remains.
  leader = true;
  EXPECT_EQ(monitor.reservation_blocker(),
            "fractional GPU pods cannot be placed: ServiceAccount "
            "fairway-reservation/fairway-reservation not found");
  EXPECT_TRUE(client_->get("/api/v1/namespaces/fairway-reservation")->ok());
  monitor.stop();
}

}  // namespace
}  // namespace fairway
