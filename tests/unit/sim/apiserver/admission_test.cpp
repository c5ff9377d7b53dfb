// The default cluster's admission and defaulting in the embedded API server's store:
// NamespaceLifecycle (missing, terminating and immortal namespaces), Priority (pods and
// PriorityClasses, the system classes) and the Secret's conversion — with kube-apiserver's codes,
// reasons and messages. Hand-driven clock, no sockets.

#include <gtest/gtest.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>

#include "sim/apiserver/store.h"

namespace fairway::apiserver {
namespace {

using nlohmann::json;

class AdmissionTest : public ::testing::Test {
 protected:
  AdmissionTest()
      : now_(std::chrono::system_clock::from_time_t(1'700'000'000)),
        store_({}, [this] { return now_; }) {}

  const ResourceType& type(const std::string& group, const std::string& plural) {
    auto t = store_.resource(group, plural);
    EXPECT_TRUE(t) << group << "/" << plural;
    return *t;
  }
  static json pod(const std::string& name, json spec_extra = json::object()) {
    json spec = {{"containers", {{{"name", "main"}, {"image", "busybox"}}}}};
    spec.update(spec_extra);
    return {{"apiVersion", "v1"}, {"kind", "Pod"}, {"metadata", {{"name", name}}}, {"spec", spec}};
  }
  tl::expected<Object, ApiError> create(const std::string& group, const std::string& plural,
                                        const std::string& ns, json body) {
    return store_.create(type(group, plural), ns, std::move(body));
  }
  tl::expected<Object, ApiError> create_pc(const std::string& name, int64_t value,
                                           json extra = json::object()) {
    json pc = {{"apiVersion", "scheduling.k8s.io/v1"},
               {"kind", "PriorityClass"},
               {"metadata", {{"name", name}}},
               {"value", value}};
    pc.update(extra);
    return create("scheduling.k8s.io", "priorityclasses", "", pc);
  }
  void create_namespace(const std::string& name) {
    auto o = create("", "namespaces", "",
                    {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", name}}}});
    ASSERT_TRUE(o) << o.error().message;
  }

  std::chrono::system_clock::time_point now_;
  Store store_;
};

TEST_F(AdmissionTest, CreateIntoAMissingNamespaceIsNotFound) {
  auto o = create("", "pods", "nowhere", pod("p"));
  ASSERT_FALSE(o);
  EXPECT_EQ(o.error().code, 404);
  EXPECT_EQ(o.error().reason, "NotFound");
  EXPECT_EQ(o.error().message, "namespaces \"nowhere\" not found");
}

TEST_F(AdmissionTest, DefaultNamespacesExistAndTheImmortalOnesCannotBeDeleted) {
  for (const char* ns : {"default", "kube-system", "kube-public", "kube-node-lease"}) {
    EXPECT_TRUE(store_.get(type("", "namespaces"), "", ns)) << ns;
  }
  for (const char* ns : {"default", "kube-system", "kube-public"}) {
    auto gone = store_.remove(type("", "namespaces"), "", ns, {});
    ASSERT_FALSE(gone) << ns;
    EXPECT_EQ(gone.error().code, 403);
    EXPECT_EQ(gone.error().reason, "Forbidden");
    EXPECT_EQ(gone.error().message, "namespaces \"" + std::string(ns) +
                                        "\" is forbidden: this namespace may not be "
                                        "deleted");
  }
}

TEST_F(AdmissionTest, ATerminatingNamespaceRefusesNewContentUntilItIsGone) {
  create_namespace("team");
  ASSERT_TRUE(create("", "pods", "team", pod("old")));
  auto deleted = store_.remove(type("", "namespaces"), "", "team", {});
  ASSERT_TRUE(deleted) << deleted.error().message;
  EXPECT_EQ((*deleted->json)["status"]["phase"], "Terminating");
  EXPECT_TRUE((*deleted->json)["metadata"].contains("deletionTimestamp"));

  auto refused = create("", "pods", "team", pod("new"));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, 403);
  EXPECT_EQ(refused.error().message,
            "pods \"new\" is forbidden: unable to create new content in namespace team because "
            "it is being terminated");
  EXPECT_EQ(refused.error().details["causes"][0]["reason"], "NamespaceTerminating");
  EXPECT_EQ(refused.error().details["causes"][0]["field"], "metadata.namespace");
  // Updates of what is there still work while the namespace drains, as in kube-apiserver.
  EXPECT_TRUE(store_.patch(type("", "pods"), "team", "old", PatchType::kMerge,
                           R"({"metadata":{"labels":{"a":"b"}}})", false));

  // The namespace controller's turn: contents and namespace go.
  EXPECT_GE(store_.finalize_due(), 1u);
  EXPECT_FALSE(store_.get(type("", "namespaces"), "", "team"));
  EXPECT_FALSE(store_.get(type("", "pods"), "team", "old"));
  auto missing = create("", "pods", "team", pod("new"));
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, 404);
}

TEST_F(AdmissionTest, SystemPriorityClassesExistFromTheStart) {
  auto node = store_.get(type("scheduling.k8s.io", "priorityclasses"), "", "system-node-critical");
  ASSERT_TRUE(node);
  EXPECT_EQ((*node->json)["value"], 2'000'001'000);
  auto cluster =
      store_.get(type("scheduling.k8s.io", "priorityclasses"), "", "system-cluster-critical");
  ASSERT_TRUE(cluster);
  EXPECT_EQ((*cluster->json)["value"], 2'000'000'000);
  auto p = create("", "pods", "default",
                  pod("critical", {{"priorityClassName", "system-node-critical"}}));
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_EQ((*p->json)["spec"]["priority"], 2'000'001'000);
}

TEST_F(AdmissionTest, PodPriorityComesFromItsClassOrTheGlobalDefault) {
  auto unknown = create("", "pods", "default", pod("p", {{"priorityClassName", "gold"}}));
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().code, 403);
  EXPECT_EQ(unknown.error().message,
            "pods \"p\" is forbidden: no PriorityClass with name gold was found");

  ASSERT_TRUE(create_pc("gold", 1000, {{"preemptionPolicy", "Never"}}));
  auto gold = create("", "pods", "default", pod("p", {{"priorityClassName", "gold"}}));
  ASSERT_TRUE(gold) << gold.error().message;
  EXPECT_EQ((*gold->json)["spec"]["priority"], 1000);
  EXPECT_EQ((*gold->json)["spec"]["preemptionPolicy"], "Never");

  auto plain = create("", "pods", "default", pod("plain"));
  ASSERT_TRUE(plain);
  EXPECT_EQ((*plain->json)["spec"]["priority"], 0);
  EXPECT_EQ((*plain->json)["spec"]["preemptionPolicy"], "PreemptLowerPriority");
  EXPECT_FALSE((*plain->json)["spec"].contains("priorityClassName"));

  ASSERT_TRUE(create_pc("batch", 10, {{"globalDefault", true}}));
  auto defaulted = create("", "pods", "default", pod("d"));
  ASSERT_TRUE(defaulted);
  EXPECT_EQ((*defaulted->json)["spec"]["priorityClassName"], "batch");
  EXPECT_EQ((*defaulted->json)["spec"]["priority"], 10);

  auto mismatch =
      create("", "pods", "default", pod("m", {{"priorityClassName", "gold"}, {"priority", 5}}));
  ASSERT_FALSE(mismatch);
  EXPECT_EQ(mismatch.error().code, 403);
  EXPECT_EQ(mismatch.error().message,
            "pods \"m\" is forbidden: the integer value of priority (5) must not be provided in "
            "pod spec; priority admission controller computed 1000 from the given PriorityClass "
            "name");
  EXPECT_TRUE(create("", "pods", "default",
                     pod("same", {{"priorityClassName", "gold"}, {"priority", 1000}})));
}

TEST_F(AdmissionTest, PriorityClassRules) {
  auto pc = create_pc("plain", 7);
  ASSERT_TRUE(pc);
  EXPECT_EQ((*pc->json)["preemptionPolicy"], "PreemptLowerPriority");

  auto no_value =
      create("scheduling.k8s.io", "priorityclasses", "", {{"metadata", {{"name", "nv"}}}});
  ASSERT_FALSE(no_value);
  EXPECT_EQ(no_value.error().code, 422);
  EXPECT_EQ(no_value.error().message,
            "PriorityClass.scheduling.k8s.io \"nv\" is invalid: value: Required value");

  auto too_high = create_pc("huge", 1'000'000'001);
  ASSERT_FALSE(too_high);
  EXPECT_EQ(too_high.error().code, 422);
  EXPECT_EQ(too_high.error().message,
            "PriorityClass.scheduling.k8s.io \"huge\" is invalid: value: Forbidden: maximum "
            "allowed value of a user defined priority is 1000000000");
  EXPECT_TRUE(create_pc("highest", 1'000'000'000));

  auto reserved = create_pc("system-mine", 5);
  ASSERT_FALSE(reserved);
  EXPECT_EQ(reserved.error().code, 422);
  EXPECT_NE(reserved.error().message.find("'system-' prefix are reserved"), std::string::npos);

  ASSERT_TRUE(create_pc("first-default", 1, {{"globalDefault", true}}));
  auto second = create_pc("second-default", 2, {{"globalDefault", true}});
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().code, 403);
  EXPECT_EQ(second.error().message,
            "priorityclasses.scheduling.k8s.io \"second-default\" is forbidden: PriorityClass "
            "first-default is already marked as default. Only one default can exist");

  auto changed = store_.patch(type("scheduling.k8s.io", "priorityclasses"), "", "plain",
                              PatchType::kMerge, R"({"value":8})", false);
  ASSERT_FALSE(changed);
  EXPECT_EQ(changed.error().code, 422);
  EXPECT_TRUE(store_.patch(type("scheduling.k8s.io", "priorityclasses"), "", "plain",
                           PatchType::kMerge, R"({"description":"x"})", false));
}

TEST_F(AdmissionTest, SecretStringDataIsMergedIntoBase64DataAndTypeDefaulted) {
  json secret = {{"apiVersion", "v1"},
                 {"kind", "Secret"},
                 {"metadata", {{"name", "s"}}},
                 {"data", {{"user", "YWRtaW4="}, {"pw", "b2xk"}}},
                 {"stringData", {{"pw", "new"}, {"host", "db"}}}};
  auto o = create("", "secrets", "default", secret);
  ASSERT_TRUE(o) << o.error().message;
  EXPECT_EQ((*o->json)["data"], json::parse(R"({"user":"YWRtaW4=","pw":"bmV3","host":"ZGI="})"));
  EXPECT_FALSE(o->json->contains("stringData"));
  EXPECT_EQ((*o->json)["type"], "Opaque");

  // Updates convert the same way.
  auto patched = store_.patch(type("", "secrets"), "default", "s", PatchType::kMerge,
                              R"({"stringData":{"extra":"1"}})", false);
  ASSERT_TRUE(patched) << patched.error().message;
  EXPECT_EQ((*patched->json)["data"]["extra"], "MQ==");
  EXPECT_FALSE(patched->json->contains("stringData"));
}

TEST_F(AdmissionTest, SecretDataMustBeBase64WithConfigKeys) {
  auto not_base64 = create("", "secrets", "default",
                           {{"metadata", {{"name", "b"}}}, {"data", {{"k", "not base64!"}}}});
  ASSERT_FALSE(not_base64);
  EXPECT_EQ(not_base64.error().code, 400);
  EXPECT_EQ(not_base64.error().message,
            "Secret in version \"v1\" cannot be handled as a Secret: illegal base64 data at "
            "input byte 3");
  auto bad_key = create("", "secrets", "default",
                        {{"metadata", {{"name", "k"}}}, {"stringData", {{"a b", "x"}}}});
  ASSERT_FALSE(bad_key);
  EXPECT_EQ(bad_key.error().code, 422);
  EXPECT_EQ(bad_key.error().details["causes"][0]["field"], "data[a b]");
  auto tls = create("", "secrets", "default",
                    {{"metadata", {{"name", "t"}}},
                     {"type", "kubernetes.io/tls"},
                     {"stringData", {{"tls.crt", "x"}}}});
  ASSERT_FALSE(tls);
  EXPECT_EQ(tls.error().message, "Secret \"t\" is invalid: data[tls.key]: Required value");
}

}  // namespace
}  // namespace fairway::apiserver
