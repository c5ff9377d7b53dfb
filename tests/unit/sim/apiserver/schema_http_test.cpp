// Over HTTP against the embedded API server: custom resources refused with kube-apiserver's 422
// Status, every status the scheduler writes accepted as it was sent (Queue and PodGroup, with
// conditions and empty messages), v1.19's refusal of a null condition message reproduced, and
// LIST's resourceVersion semantics (rv=0 whole, rv="" paged, resourceVersionMatch).

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "scheduler/cycle/cycle.h"
#include "scheduler/loop/status.h"
#include "sim/apiserver/schema.h"
#include "sim/apiserver/store.h"
#include "support/builders.h"
#include "support/in_process_api.h"

namespace fairway {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

constexpr const char* kQueues = "/apis/scheduling.fairway.dev/v1alpha1/queues";

class SchemaHttpTest : public testing::InProcessApiTest {
 protected:
  k8s::Response send(const std::string& verb, const std::string& path, const json& body,
                     const std::string& type = "application/json") {
    auto r = client_->request(verb, path, body.is_null() ? "" : body.dump(), type);
    EXPECT_TRUE(r) << (r ? "" : r.error().message);
    return r ? *r : k8s::Response{};
  }
  void create_queue(const std::string& name) {
    const json q = {{"apiVersion", "scheduling.fairway.dev/v1alpha1"},
                    {"kind", "Queue"},
                    {"metadata", {{"name", name}}},
                    {"spec", json::object()}};
    ASSERT_EQ(send("POST", kQueues, q).status, 201);
  }
};

TEST_F(SchemaHttpTest, InvalidCustomResourceGetsKubeApiserversStatus) {
  const json q = json::parse(R"({"apiVersion":"scheduling.fairway.dev/v1alpha1","kind":"Queue",
      "metadata":{"name":"bad"},"spec":{"priority":"high","preemptMinRuntime":"soon",
      "resources":{"nvidia.com/gpu":{"quota":"lots","overQuotaWeight":-1}}}})");
  const auto r = send("POST", kQueues, q);
  ASSERT_EQ(r.status, 422) << r.body;
  const json status = json::parse(r.body);
  EXPECT_EQ(status["kind"], "Status");
  EXPECT_EQ(status["reason"], "Invalid");
  EXPECT_EQ(status["code"], 422);
  EXPECT_EQ(
      status["message"],
      R"(Queue.scheduling.fairway.dev "bad" is invalid: [spec.preemptMinRuntime: Invalid value: )"
      R"("soon": spec.preemptMinRuntime in body should match '^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$', )"
      R"(spec.priority: Invalid value: "string": spec.priority in body must be of type integer: )"
      R"("string", spec.resources.nvidia.com/gpu.overQuotaWeight: Invalid value: -1: )"
      R"(spec.resources.nvidia.com/gpu.overQuotaWeight in body should be greater than or equal )"
      R"(to 0, spec.resources.nvidia.com/gpu.quota: Invalid value: "lots": )"
      R"(spec.resources.nvidia.com/gpu.quota in body should match )"
      R"('^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?)"
      R"((([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$'])");
  EXPECT_EQ(status["details"]["kind"], "Queue");
  EXPECT_EQ(status["details"]["group"], "scheduling.fairway.dev");
  EXPECT_EQ(status["details"]["name"], "bad");
  ASSERT_EQ(status["details"]["causes"].size(), 4u);
  EXPECT_EQ(status["details"]["causes"][1],
            json::parse(R"({"reason":"FieldValueTypeInvalid","field":"spec.priority",
                "message":"Invalid value: \"string\": spec.priority in body must be of type integer: \"string\""})"));
  // Nothing was stored.
  EXPECT_EQ(send("GET", std::string(kQueues) + "/bad", nullptr).status, 404);
}

TEST_F(SchemaHttpTest, StatusPatchesAreValidatedAndUnknownFieldsPruned) {
  create_queue("a");
  const auto bad = send("PATCH", std::string(kQueues) + "/a/status",
                        json::parse(R"({"status":{"children":["x",null],"conditions":[
                            {"type":"Valid","status":"Maybe"}]}})"),
                        "application/merge-patch+json");
  ASSERT_EQ(bad.status, 422) << bad.body;
  EXPECT_EQ(json::parse(bad.body)["message"],
            R"(Queue.scheduling.fairway.dev "a" is invalid: [status.children[1]: Invalid value: )"
            R"("null": status.children[1] in body must be of type string: "null", )"
            R"(status.conditions[0].status: Unsupported value: "Maybe": supported values: )"
            R"("True", "False", "Unknown"])");
  const auto ok =
      send("PATCH", std::string(kQueues) + "/a/status",
           json::parse(R"({"status":{"children":[],"typo":1}})"), "application/merge-patch+json");
  ASSERT_EQ(ok.status, 200) << ok.body;
  EXPECT_EQ(json::parse(ok.body)["status"], json::parse(R"({"children":[]})"));
}

// Queue and PodGroup statuses as the scheduler builds them: Valid with an empty message, a
// blocking problem, a waiting and a running gang with its placement.
std::vector<std::pair<std::string, json>> scheduler_statuses() {
  std::vector<std::pair<std::string, json>> out;
  ClusterState state;
  state.upsert_node(testing::gpu_node("n", 8));
  state.upsert_queue(testing::queue("a", "", 3));
  state.upsert_queue(testing::queue("orphan", "missing", 1));
  PodGroup running;
  running.namespace_ = "ns";
  running.name = "g";
  running.min_member = 2;
  state.upsert_pod_group(running);
  PodGroup waiting = running;
  waiting.name = "big";
  waiting.min_member = 3;
  state.upsert_pod_group(waiting);
  for (int i = 0; i < 2; ++i) {
    state.upsert_pod(
        testing::gang_pod("ns", "g-" + std::to_string(i), "a", "g", 2, {{"nvidia.com/gpu", "2"}}));
    state.upsert_pod(testing::gang_pod("ns", "big-" + std::to_string(i), "a", "big", 3,
                                       {{"nvidia.com/gpu", "4"}}));
  }
  const CycleResult result = run_cycle(state);
  assume_all(state, result);
  std::unordered_map<std::string, PlacementQuality> placements;
  for (const PlacementQuality& quality : result.placements)
    placements.emplace(quality.job, quality);
  for (auto& [name, status] : queue_statuses(state.queue_tree(), result.shares, state.registry(),
                                             state.queue_usage(), state.usage_history(), {})) {
    if (name == "a" || name == "orphan") {
      out.emplace_back(std::string(kQueues) + "/" + name + "/status", status);
    }
  }
  for (auto& [key, status] : pod_group_statuses(state, result, placements)) {
    out.emplace_back("/apis/scheduling.fairway.dev/v1alpha1/namespaces/ns/podgroups/" +
                         key.substr(key.find('/') + 1) + "/status",
                     status);
  }
  return out;
}

TEST_F(SchemaHttpTest, EveryStatusTheSchedulerWritesIsAcceptedAsSent) {
  create_queue("a");
  create_queue("orphan");
  ASSERT_EQ(send("POST", "/api/v1/namespaces", {{"metadata", {{"name", "ns"}}}}).status, 201);
  for (const char* name : {"g", "big"}) {
    const json group = {{"apiVersion", "scheduling.fairway.dev/v1alpha1"},
                        {"kind", "PodGroup"},
                        {"metadata", {{"name", name}}},
                        {"spec", {{"minMember", 2}}}};
    ASSERT_EQ(
        send("POST", "/apis/scheduling.fairway.dev/v1alpha1/namespaces/ns/podgroups", group).status,
        201);
  }
  const auto statuses = scheduler_statuses();
  ASSERT_EQ(statuses.size(), 4u);
  int empty_messages = 0;
  int placements = 0;
  for (const auto& [path, status] : statuses) {
    for (const json& c : status["conditions"]) empty_messages += c["message"] == "" ? 1 : 0;
    placements += status.contains("placement") ? 1 : 0;
    // What a v1.19 server (no pruning of nulls) would check: the body as sent.
    const json& schema =
        *server_->store()
             .resource("scheduling.fairway.dev",
                       path.find("/queues/") != std::string::npos ? "queues" : "podgroups")
             ->schema;
    const auto errors = apiserver::validate_against_schema({{"status", status}}, schema);
    EXPECT_TRUE(errors.empty()) << path << ": " << errors.front().text();
    // Through the server as the actuator sends it: accepted, and stored exactly as sent (a
    // null, as an invalid queue's gpus, removes the key: JSON merge patch).
    const auto r = send("PATCH", path, {{"status", status}}, "application/merge-patch+json");
    ASSERT_EQ(r.status, 200) << path << ": " << r.body;
    json stored = json::object();
    stored.merge_patch(status);
    EXPECT_EQ(json::parse(r.body)["status"], stored) << path;
  }
  EXPECT_GE(empty_messages, 1);  // the Valid condition of a healthy queue
  EXPECT_GE(placements, 1);
}

// v1.19 kept nulls and refused them: `status.conditions[0].message: Invalid value: "null"`
// (the issue's 422). kube-apiserver 1.20+ drops a non-nullable null before validating.
TEST(SchemaNulls, V119RefusedANullConditionMessageCurrentServersDropIt) {
  apiserver::Store store;
  ASSERT_TRUE(apiserver::load_embedded_crds(store));
  const auto queues = store.resource("scheduling.fairway.dev", "queues");
  const json status = {
      {"conditions", {{{"type", "Valid"}, {"status", "True"}, {"message", nullptr}}}}};
  const auto errors = apiserver::validate_against_schema({{"status", status}}, *queues->schema);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].text(),
            R"(status.conditions[0].message: Invalid value: "null": )"
            R"(status.conditions[0].message in body must be of type string: "null")");
  ASSERT_TRUE(store.create(*queues, "", {{"metadata", {{"name", "a"}}}}));
  auto patched = store.patch(*queues, "", "a", apiserver::PatchType::kMerge,
                             json{{"status", status}}.dump(), true);
  ASSERT_TRUE(patched) << patched.error().message;
  EXPECT_FALSE((*patched->json)["status"]["conditions"][0].contains("message"));
}

// ---- LIST resourceVersion semantics ----------------------------------------------------------

TEST_F(SchemaHttpTest, ListFromResourceVersionZeroIsWholeAndUnpaged) {
  for (const char* name : {"a", "b", "c"}) create_queue(name);
  const auto whole = send("GET", std::string(kQueues) + "?limit=1&resourceVersion=0", nullptr);
  ASSERT_EQ(whole.status, 200);
  const json list = json::parse(whole.body);
  EXPECT_EQ(list["items"].size(), 3u);
  EXPECT_FALSE(list["metadata"].contains("continue"));
  const auto paged = send("GET", std::string(kQueues) + "?limit=1", nullptr);
  const json page = json::parse(paged.body);
  EXPECT_EQ(page["items"].size(), 1u);
  EXPECT_TRUE(page["metadata"].contains("continue"));
  // Not older than the list's own resourceVersion: whole as well.
  const std::string rv = list["metadata"]["resourceVersion"];
  const auto newer = send("GET",
                          std::string(kQueues) + "?resourceVersion=" + rv +
                              "&resourceVersionMatch=NotOlderThan&limit=1",
                          nullptr);
  EXPECT_EQ(json::parse(newer.body)["items"].size(), 3u);
  // Exactly the current version pages; an older one is gone (no history is kept).
  const auto exact =
      send("GET",
           std::string(kQueues) + "?resourceVersion=" + rv + "&resourceVersionMatch=Exact&limit=1",
           nullptr);
  EXPECT_EQ(json::parse(exact.body)["items"].size(), 1u);
  const auto old =
      send("GET", std::string(kQueues) + "?resourceVersion=1&resourceVersionMatch=Exact", nullptr);
  EXPECT_EQ(old.status, 410);
  EXPECT_EQ(json::parse(old.body)["message"],
            "The resourceVersion for the provided list is too old.");
}

TEST_F(SchemaHttpTest, ListOptionsAreCheckedLikeKubeApiserver) {
  const auto unset =
      send("GET", std::string(kQueues) + "?resourceVersionMatch=NotOlderThan", nullptr);
  EXPECT_EQ(unset.status, 422);
  EXPECT_EQ(json::parse(unset.body)["message"],
            R"(ListOptions.meta.k8s.io "" is invalid: resourceVersionMatch: Forbidden: )"
            R"(resourceVersionMatch is forbidden unless resourceVersion is provided)");
  const auto odd =
      send("GET", std::string(kQueues) + "?resourceVersion=1&resourceVersionMatch=Newest", nullptr);
  EXPECT_EQ(odd.status, 422);
  EXPECT_THAT(
      json::parse(odd.body)["message"].get<std::string>(),
      HasSubstr(R"(Unsupported value: "Newest": supported values: "Exact", "NotOlderThan")"));
  const auto exact0 =
      send("GET", std::string(kQueues) + "?resourceVersion=0&resourceVersionMatch=Exact", nullptr);
  EXPECT_EQ(exact0.status, 422);
  const auto future = send("GET", std::string(kQueues) + "?resourceVersion=999999", nullptr);
  EXPECT_EQ(future.status, 504);
  EXPECT_THAT(json::parse(future.body)["message"].get<std::string>(),
              HasSubstr("Too large resource version: 999999, current: "));
  create_queue("a");
  create_queue("b");
  const std::string token = json::parse(
      send("GET", std::string(kQueues) + "?limit=1", nullptr).body)["metadata"]["continue"];
  const auto continued =
      send("GET", std::string(kQueues) + "?limit=1&resourceVersion=5&continue=" + token, nullptr);
  EXPECT_EQ(continued.status, 400);
  EXPECT_EQ(json::parse(continued.body)["message"],
            "specifying resource version is not allowed when using continue");
}

}  // namespace
}  // namespace fairway
