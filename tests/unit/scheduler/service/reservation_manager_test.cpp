// The reservation manager's failure paths against the embedded API server in-process: whatever
// step fails, nothing this attempt wrote is left behind and the placement is handed back.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <condition_variable>
#include <mutex>
#include <nlohmann/json.hpp>

#include "scheduler/service/reservations.h"
#include "sim/apiserver/server.h"

namespace fairway {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

class ReservationManagerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    apiserver::ServerOptions options;
    options.threads = 2;
    auto started = apiserver::Server::start(options);
    ASSERT_TRUE(started.has_value()) << started.error();
    server_ = std::move(*started);
    k8s::ClusterConfig config;
    config.server = server_->url();
    config.ca_pem = server_->ca_pem();
    config.token = server_->token();
    client_ = std::make_unique<k8s::RestClient>(config);
    post("/api/v1/namespaces", R"({"metadata":{"name":"team"}})");
  }
  void TearDown() override {
    client_->stop();
    server_->stop();
  }

  int post(const std::string& path, const std::string& body) {
    auto response = client_->request("POST", path, body);
    return response ? response->status : 0;
  }
  int get(const std::string& path) {
    auto response = client_->get(path);
    return response ? response->status : 0;
  }
  json get_json(const std::string& path) { return json::parse(client_->get(path)->body); }

  // A ClusterState whose group gpu-0-gpu0 has a reservation pod that reported GPU-a.
  static ClusterState state_with_reserved_group() {
    ClusterState state;
    Node node;
    node.name = "gpu-0";
    node.allocatable = {{"nvidia.com/gpu", 2000}, {"pods", 110'000}};
    state.upsert_node(node);
    Pod reservation;
    reservation.namespace_ = "fairway-reservation";
    reservation.name = "gpu-0-gpu0";
    reservation.uid = "r-1";
    reservation.node_name = "gpu-0";
    reservation.labels["fairway.dev/gpu-group"] = "gpu-0-gpu0";
    reservation.annotations["fairway.dev/gpu-uuid"] = "GPU-a";
    state.upsert_pod(reservation);
    return state;
  }

  static Binding sharer_binding() {
    Binding binding;
    binding.pod = "team/infer-0";
    binding.node = "gpu-0";
    binding.shares = {{"gpu-0-gpu0", 0, false}};
    binding.gpu_fraction = 0.5;
    binding.gpu_configmap = "infer-0-fairway-gpu";
    return binding;
  }

  // Submits one binding and waits for its outcome.
  std::string run(const Binding& binding, const ClusterState& state) {
    std::mutex mutex;
    std::condition_variable done;
    std::string outcome;
    ReservationManager::Hooks hooks;
    hooks.may_write = [] { return true; };
    hooks.on_failed = [&](const Binding&, const std::string& why) {
      std::lock_guard lock(mutex);
      outcome = "failed: " + why;
      done.notify_all();
    };
    hooks.on_bound = [&](const Binding&) {
      std::lock_guard lock(mutex);
      outcome = "bound";
      done.notify_all();
    };
    hooks.blocker = blocker_;
    ReservationOptions options;
    options.timeout = std::chrono::milliseconds(500);
    RestClusterWriter writer(*client_);
    ReservationManager manager(writer, options, stats_, hooks);
    manager.submit(binding, state);
    std::unique_lock lock(mutex);
    done.wait_for(lock, std::chrono::seconds(20), [&] { return !outcome.empty(); });
    lock.unlock();
    manager.stop();
    return outcome;
  }

  std::unique_ptr<apiserver::Server> server_;
  std::unique_ptr<k8s::RestClient> client_;
  ReservationStats stats_;
  std::function<std::string()> blocker_;
};

const char* kPod = R"({"metadata":{"name":"infer-0","namespace":"team",
  "annotations":{"fairway.dev/gpu-fraction":"0.5"}},
  "spec":{"schedulerName":"fairway","containers":[{"name":"main","image":"busybox"}]}})";

// Preflight found the reservation namespace missing (and fairway may not create it): the
// placement fails with those words before any request, never against a 404 or 403.
TEST_F(ReservationManagerTest, APreflightBlockerFailsThePlacementWithItsWordsAndNoRequest) {
  ASSERT_EQ(post("/api/v1/namespaces/team/pods", kPod), 201);
  const std::string why =
      "fractional GPU pods cannot be placed: namespace fairway-reservation not found; fairway "
      "may not create it (Forbidden)";
  blocker_ = [&why] { return why; };
  std::atomic<int> writes{0};
  client_->set_observer([&](std::string_view verb, std::string_view, int, auto) {
    if (verb != "GET") ++writes;
  });
  ClusterState state = state_with_reserved_group();
  EXPECT_EQ(run(sharer_binding(), state), "failed: " + why);
  EXPECT_EQ(writes.load(), 0);
  EXPECT_EQ(get("/api/v1/namespaces/team/configmaps/infer-0-fairway-gpu"), 404);
}

TEST_F(ReservationManagerTest, BindsWithConfigMapAndLabelWhenAllGoesWell) {
  ASSERT_EQ(post("/api/v1/namespaces/team/pods", kPod), 201);
  ClusterState state = state_with_reserved_group();
  EXPECT_EQ(run(sharer_binding(), state), "bound");
  const json configmap = get_json("/api/v1/namespaces/team/configmaps/infer-0-fairway-gpu");
  EXPECT_EQ(configmap["data"]["NVIDIA_VISIBLE_DEVICES"], "GPU-a");
  const json pod = get_json("/api/v1/namespaces/team/pods/infer-0");
  EXPECT_EQ(pod["spec"]["nodeName"], "gpu-0");
  EXPECT_EQ(pod["metadata"]["labels"]["fairway.dev/gpu-group"], "gpu-0-gpu0");
  EXPECT_EQ(stats_.shared_binds.load(), 1U);
}

TEST_F(ReservationManagerTest, ConfigMapFailureLeavesNothingBehind) {
  ASSERT_EQ(post("/api/v1/namespaces/team/pods", kPod), 201);
  ClusterState state = state_with_reserved_group();
  server_->faults().fail_next(1, 500);  // the ConfigMap POST
  EXPECT_THAT(run(sharer_binding(), state), HasSubstr("writing ConfigMap: 500 InternalError"));
  EXPECT_EQ(get("/api/v1/namespaces/team/configmaps/infer-0-fairway-gpu"), 404);
  const json pod = get_json("/api/v1/namespaces/team/pods/infer-0");
  EXPECT_FALSE(pod["spec"].contains("nodeName"));
  EXPECT_EQ(stats_.rollbacks.load(), 1U);
}

TEST_F(ReservationManagerTest, LabelFailureRemovesTheConfigMap) {
  // The pod is gone before the label patch: its ConfigMap must not stay.
  ClusterState state = state_with_reserved_group();
  EXPECT_THAT(run(sharer_binding(), state), HasSubstr("labelling pod: 404 NotFound"));
  EXPECT_EQ(get("/api/v1/namespaces/team/configmaps/infer-0-fairway-gpu"), 404);
}

TEST_F(ReservationManagerTest, AConfigMapFairwayDidNotWriteIsNeverReplaced) {
  // The name is fairway's ("<pod>-fairway-gpu"), but a tenant may have created a map of that name
  // first: fairway must not overwrite its data or take it over.
  ASSERT_EQ(post("/api/v1/namespaces/team/pods", kPod), 201);
  ASSERT_EQ(post("/api/v1/namespaces/team/configmaps",
                 R"({"metadata":{"name":"infer-0-fairway-gpu"},"data":{"settings":"mine"}})"),
            201);
  ClusterState state = state_with_reserved_group();
  Binding binding = sharer_binding();
  binding.uid = get_json("/api/v1/namespaces/team/pods/infer-0")["metadata"]["uid"];
  EXPECT_THAT(run(binding, state), HasSubstr("was not written by fairway for this pod"));
  const json untouched = get_json("/api/v1/namespaces/team/configmaps/infer-0-fairway-gpu");
  EXPECT_EQ(untouched["data"], json({{"settings", "mine"}}));
  EXPECT_FALSE(untouched["metadata"].contains("ownerReferences"));
  EXPECT_FALSE(get_json("/api/v1/namespaces/team/pods/infer-0")["spec"].contains("nodeName"));
}

TEST_F(ReservationManagerTest, ItsOwnConfigMapFromAnEarlierAttemptIsReplaced) {
  ASSERT_EQ(post("/api/v1/namespaces/team/pods", kPod), 201);
  const std::string uid = get_json("/api/v1/namespaces/team/pods/infer-0")["metadata"]["uid"];
  const json stale = {
      {"metadata",
       {{"name", "infer-0-fairway-gpu"},
        {"labels", {{"app.kubernetes.io/managed-by", "fairway"}}},
        {"ownerReferences",
         json::array(
             {{{"apiVersion", "v1"}, {"kind", "Pod"}, {"name", "infer-0"}, {"uid", uid}}})}}},
      {"data", {{"NVIDIA_VISIBLE_DEVICES", "GPU-stale"}}}};
  ASSERT_EQ(post("/api/v1/namespaces/team/configmaps", stale.dump()), 201);
  ClusterState state = state_with_reserved_group();
  Binding binding = sharer_binding();
  binding.uid = uid;
  EXPECT_EQ(run(binding, state), "bound");
  EXPECT_EQ(
      get_json("/api/v1/namespaces/team/configmaps/infer-0-fairway-gpu")["data"]
                                                                        ["NVIDIA_VISIBLE_DEVICES"],
      "GPU-a");
}

TEST_F(ReservationManagerTest, MissingUuidTimesOutAfterCreatingTheReservationPod) {
  ASSERT_EQ(post("/api/v1/namespaces/team/pods", kPod), 201);
  post("/api/v1/namespaces", R"({"metadata":{"name":"fairway-reservation"}})");
  post("/apis/scheduling.k8s.io/v1/priorityclasses",
       R"({"metadata":{"name":"fairway-reservation"},"value":1000000000})");
  ClusterState state;  // the group is new: no reservation pod yet
  Binding binding = sharer_binding();
  binding.shares[0].reserve = true;
  EXPECT_THAT(run(binding, state), HasSubstr("did not report its GPU UUID"));
  EXPECT_EQ(stats_.uuid_timeouts.load(), 1U);
  EXPECT_EQ(stats_.reservations_created.load(), 1U);
  // Created once under its deterministic name; the loop deletes it once its group is empty.
  EXPECT_EQ(get("/api/v1/namespaces/fairway-reservation/pods/gpu-0-gpu0"), 200);
  EXPECT_EQ(get("/api/v1/namespaces/team/configmaps/infer-0-fairway-gpu"), 404);
}

}  // namespace
}  // namespace fairway
