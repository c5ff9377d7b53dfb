// The metrics registry, its text output, and the cluster gauges taken from a ClusterState.
#include "scheduler/metrics/scheduler_metrics.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <prometheus/text_serializer.h>

#include "scheduler/metrics/cluster_snapshot.h"
#include "scheduler/service/service_metrics.h"
#include "support/builders.h"

namespace fairway::metrics {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(ClassifyRequest, NamesResourceSubresourceAndListVersusGet) {
  auto t = classify_request("POST", "/api/v1/namespaces/ns/pods/p/binding");
  EXPECT_EQ(t.verb, "POST");
  EXPECT_EQ(t.resource, "pods/binding");
  t = classify_request("GET", "/api/v1/pods");
  EXPECT_EQ(t.verb, "LIST");
  EXPECT_EQ(t.resource, "pods");
  t = classify_request("GET", "/api/v1/namespaces/ns/pods/p");
  EXPECT_EQ(t.verb, "GET");
  EXPECT_EQ(t.resource, "pods");
  t = classify_request("PATCH", "/apis/scheduling.fairway.dev/v1alpha1/queues/q/status");
  EXPECT_EQ(t.resource, "queues/status");
  t = classify_request("POST", "/api/v1/namespaces/ns/events");
  EXPECT_EQ(t.resource, "events");
  t = classify_request("WATCH", "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases");
  EXPECT_EQ(t.verb, "WATCH");
  EXPECT_EQ(t.resource, "leases");
  EXPECT_EQ(classify_request("GET", "/version").resource, "other");
}

TEST(SchedulerMetrics, CycleCountsAttemptsByResultAndTimesPhases) {
  SchedulerMetrics metrics;
  CycleResult result;
  result.stats.jobs_scheduled = 3;
  result.pending.push_back({"ns/a", "q", {"ns/a"}, PendingReason::kUnschedulable, "no room"});
  result.pending.push_back({"ns/b", "q", {"ns/b"}, PendingReason::kQueueLimit, "limit"});
  result.pending.push_back({"ns/c", "q", {"ns/c"}, PendingReason::kInvalidPod, "bad"});
  metrics.observe_cycle(result, {.snapshot = std::chrono::microseconds(100),
                                 .fairshare = std::chrono::microseconds(200),
                                 .allocate = std::chrono::milliseconds(3),
                                 .bind = std::chrono::microseconds(50)});
  const std::string text = metrics.scrape();
  EXPECT_THAT(text, HasSubstr("fairway_schedule_attempts_total{result=\"scheduled\"} 3"));
  EXPECT_THAT(text, HasSubstr("fairway_schedule_attempts_total{result=\"unschedulable\"} 2"));
  EXPECT_THAT(text, HasSubstr("fairway_schedule_attempts_total{result=\"error\"} 1"));
  EXPECT_THAT(text, HasSubstr("fairway_scheduling_cycles_total 1"));
  // 3.2 ms per attempt: the 0.0025 bucket holds none, the 0.005 bucket all three.
  EXPECT_THAT(text, HasSubstr("fairway_scheduling_attempt_duration_seconds_bucket{result="
                              "\"scheduled\",le=\"0.0025\"} 0"));
  EXPECT_THAT(text, HasSubstr("fairway_scheduling_attempt_duration_seconds_bucket{result="
                              "\"scheduled\",le=\"0.005\"} 3"));
  EXPECT_THAT(
      text, HasSubstr("fairway_scheduling_attempt_duration_seconds_count{result=\"scheduled\"} 3"));
  EXPECT_THAT(
      text,
      HasSubstr("fairway_scheduling_cycle_phase_duration_seconds_count{phase=\"allocate\"} 1"));
  // The plan phase did not run: no observation.
  EXPECT_THAT(text,
              HasSubstr("fairway_scheduling_cycle_phase_duration_seconds_count{phase=\"plan\"} 0"));
  EXPECT_THAT(text, HasSubstr("fairway_build_info{version=\"0.1.0\"} 1"));
  EXPECT_THAT(text, HasSubstr("# TYPE fairway_pod_scheduling_duration_seconds histogram"));
}

TEST(SchedulerMetrics, EvictionsAndReservationPodsAreReadFromTheirComponentsStats) {
  SchedulerMetrics metrics;
  EvictionStats evictions;
  ReservationStats reservations;
  add_preemption_sources(metrics, evictions);
  add_reservation_sources(metrics, reservations);
  evictions.reclaim_evictions += 3;
  evictions.refused += 1;
  reservations.reservations_created += 2;
  std::string text = metrics.scrape();
  EXPECT_THAT(text, HasSubstr("fairway_evictions_total{action=\"reclaim\"} 3"));
  EXPECT_THAT(text, HasSubstr("fairway_evictions_total{action=\"preempt\"} 0"));
  EXPECT_THAT(text, HasSubstr("fairway_eviction_refusals_total 1"));
  EXPECT_THAT(text, HasSubstr("fairway_reservation_pods_created_total 2"));
  EXPECT_THAT(text, HasSubstr("fairway_reservation_pods_deleted_total 0"));
  metrics.remove_sources(kPreemptionSources);
  metrics.remove_sources(kReservationSources);
  text = metrics.scrape();
  EXPECT_THAT(text, Not(HasSubstr("fairway_evictions_total")));
}

TEST(SchedulerMetrics, BindingsAreCountedFromApiRequests) {
  SchedulerMetrics metrics;
  const auto bind = "/api/v1/namespaces/ns/pods/p/binding";
  metrics.observe_api_request("POST", bind, 201, std::chrono::milliseconds(4));
  metrics.observe_api_request("POST", bind, 201, std::chrono::milliseconds(4));
  metrics.observe_api_request("POST", bind, 409, std::chrono::milliseconds(4));
  metrics.observe_api_request("POST", bind, 0, std::chrono::milliseconds(4));
  metrics.observe_api_request("GET", "/api/v1/nodes", 200, std::chrono::milliseconds(4));
  const std::string text = metrics.scrape();
  EXPECT_THAT(text, HasSubstr("fairway_binds_total 2"));
  EXPECT_THAT(text, HasSubstr("fairway_bind_errors_total{code=\"409\"} 1"));
  EXPECT_THAT(text, HasSubstr("fairway_bind_errors_total{code=\"0\"} 1"));
  EXPECT_THAT(text, HasSubstr("fairway_bind_duration_seconds_count 4"));
  EXPECT_THAT(
      text,
      HasSubstr(
          "fairway_api_requests_total{code=\"201\",resource=\"pods/binding\",verb=\"POST\"} 2"));
  EXPECT_THAT(
      text,
      HasSubstr("fairway_api_requests_total{code=\"200\",resource=\"nodes\",verb=\"LIST\"} 1"));
}

TEST(SchedulerMetrics, SourcesAreReadAtScrapeTimeUntilRemoved) {
  SchedulerMetrics metrics;
  std::atomic<uint64_t> restarts{2};
  metrics.add_source(
      "informers",
      {"fairway_watch_restarts_total", "help", true, {{"resource", "pods"}}, [&restarts] {
         return static_cast<double>(restarts.load());
       }});
  metrics.add_source(
      "informers",
      {"fairway_watch_restarts_total", "help", true, {{"resource", "nodes"}}, [] { return 0.0; }});
  EXPECT_THAT(metrics.scrape(), HasSubstr("fairway_watch_restarts_total{resource=\"pods\"} 2"));
  restarts = 5;
  const std::string text = metrics.scrape();
  EXPECT_THAT(text, HasSubstr("fairway_watch_restarts_total{resource=\"pods\"} 5"));
  EXPECT_THAT(text, HasSubstr("fairway_watch_restarts_total{resource=\"nodes\"} 0"));
  // One family: one TYPE line for both series.
  EXPECT_EQ(text.find("# TYPE fairway_watch_restarts_total counter"),
            text.rfind("# TYPE fairway_watch_restarts_total counter"));
  metrics.remove_sources("informers");
  EXPECT_THAT(metrics.scrape(), Not(HasSubstr("fairway_watch_restarts_total")));
}

TEST(SchedulerMetrics, PodLatencyLandsInItsBucket) {
  SchedulerMetrics metrics;
  metrics.observe_pod_scheduled(0.7);
  metrics.observe_pod_scheduled(42);
  const std::string text = metrics.scrape();
  EXPECT_THAT(text, HasSubstr("fairway_pod_scheduling_duration_seconds_bucket{le=\"0.5\"} 0"));
  EXPECT_THAT(text, HasSubstr("fairway_pod_scheduling_duration_seconds_bucket{le=\"1\"} 1"));
  EXPECT_THAT(text, HasSubstr("fairway_pod_scheduling_duration_seconds_bucket{le=\"60\"} 2"));
  EXPECT_THAT(text, HasSubstr("fairway_pod_scheduling_duration_seconds_count 2"));
}

// Two 8-GPU nodes; queue "a" (quota 8, limit 12) runs 5 GPUs on n0 and waits for a 4-GPU pod;
// queue "b" (quota 8) has nothing. n1 has 8 free (fits the 4-GPU pod), n0 3 free (does not).
ClusterState small_cluster() {
  ClusterState state;
  state.upsert_node(testing::gpu_node("n0", 8));
  state.upsert_node(testing::gpu_node("n1", 8));
  state.upsert_queue(testing::queue("a", "", 8, 12));
  state.upsert_queue(testing::queue("b", "", 8));
  Pod running = testing::pod("ns", "run", "a", {{"nvidia.com/gpu", "5"}});
  running.node_name = "n0";
  state.upsert_pod(running);
  state.upsert_pod(testing::pod("ns", "wait", "a", {{"nvidia.com/gpu", "4"}}));
  return state;
}

TEST(ClusterSnapshot, QueueGaugesComeFromTheStateInBaseUnits) {
  ClusterState state = small_cluster();
  const ClusterSnapshot snapshot = take_snapshot(state, true);
  EXPECT_EQ(snapshot.pending_pods, 1u);
  EXPECT_EQ(snapshot.gpus, 16);
  EXPECT_EQ(snapshot.gpus_allocated, 5);
  // n0's 3 free GPUs cannot hold the only pending GPU pod (4): fragmented. n1's 8 can.
  EXPECT_EQ(snapshot.gpus_fragmented, 3);
  const auto text = prometheus::TextSerializer().Serialize(snapshot_families(snapshot));
  EXPECT_THAT(text,
              HasSubstr("fairway_queue_allocated{queue=\"a\",resource=\"nvidia.com/gpu\"} 5"));
  EXPECT_THAT(text,
              HasSubstr("fairway_queue_pending_demand{queue=\"a\",resource=\"nvidia.com/gpu\"} 4"));
  EXPECT_THAT(text, HasSubstr("fairway_queue_deserved{queue=\"a\",resource=\"nvidia.com/gpu\"} 8"));
  EXPECT_THAT(text, HasSubstr("fairway_queue_limit{queue=\"a\",resource=\"nvidia.com/gpu\"} 12"));
  EXPECT_THAT(text, Not(HasSubstr("fairway_queue_limit{queue=\"b\"")));  // unlimited: no series
  EXPECT_THAT(text, HasSubstr("fairway_queue_pending_pods{queue=\"a\"} 1"));
  EXPECT_THAT(text,
              HasSubstr("fairway_queue_fair_share{queue=\"a\",resource=\"nvidia.com/gpu\"} 9"));
  EXPECT_THAT(text, HasSubstr("fairway_node_gpus_allocated{node=\"n0\"} 5"));
  EXPECT_THAT(text, HasSubstr("fairway_cluster_gpus_fragmented 3"));
}

TEST(ClusterSnapshot, SharedGpusAndTheirFractionsPerNode) {
  ClusterState state;
  Node node = testing::gpu_node("n0", 8);
  node.labels["nvidia.com/gpu.memory"] = "16384";
  state.upsert_node(node);
  state.upsert_queue(testing::queue("a", "", 8, 8));
  for (const auto& [name, fraction] : {std::pair{"p1", "0.25"}, std::pair{"p2", "0.5"}}) {
    Pod pod = testing::pod("ns", name, "a", {{"cpu", "1"}});
    pod.annotations["fairway.dev/gpu-fraction"] = fraction;
    state.upsert_pod(pod);
  }
  assume_all(state, run_cycle(state));
  const ClusterSnapshot snapshot = take_snapshot(state, true);
  ASSERT_EQ(snapshot.nodes.size(), 1u);
  EXPECT_EQ(snapshot.nodes[0].shared_gpus, 1);  // bin-packed onto one GPU
  EXPECT_DOUBLE_EQ(snapshot.nodes[0].gpu_fractions_allocated, 0.75);
  const auto text = prometheus::TextSerializer().Serialize(snapshot_families(snapshot));
  EXPECT_THAT(text, HasSubstr("fairway_node_shared_gpus{node=\"n0\"} 1"));
  EXPECT_THAT(text, HasSubstr("fairway_node_gpu_fractions_allocated{node=\"n0\"} 0.75"));
}

TEST(ClusterSnapshot, PerNodeSeriesCanBeSwitchedOff) {
  ClusterState state = small_cluster();
  const auto text =
      prometheus::TextSerializer().Serialize(snapshot_families(take_snapshot(state, false)));
  EXPECT_THAT(text, Not(HasSubstr("fairway_node_gpus_allocated{")));
  EXPECT_THAT(text, HasSubstr("fairway_cluster_gpus 16"));
}

TEST(ClusterSnapshot, NothingPendingMeansNothingFragmented) {
  ClusterState state = small_cluster();
  state.remove_pod("ns/wait");
  EXPECT_EQ(take_snapshot(state, true).gpus_fragmented, 0);
}

TEST(ClusterSnapshot, PodsOfUnknownQueuesMintNoSeries) {
  ClusterState state = small_cluster();
  state.upsert_pod(testing::pod("ns", "lost", "no-such-queue", {{"nvidia.com/gpu", "1"}}));
  const ClusterSnapshot snapshot = take_snapshot(state, true);
  EXPECT_EQ(snapshot.pending_pods, 2u);
  const auto text = prometheus::TextSerializer().Serialize(snapshot_families(snapshot));
  EXPECT_THAT(text, Not(HasSubstr("no-such-queue")));
}

}  // namespace
}  // namespace fairway::metrics
