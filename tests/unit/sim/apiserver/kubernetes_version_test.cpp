// `--kubernetes-version`: the release the embedded API server answers as. /version and discovery
// serve what that release serves (policy/v1beta1 only on 1.19, both policy versions on 1.24,
// policy/v1 only on the current release), and routing follows discovery.

#include "sim/apiserver/kubernetes_version.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "sim/apiserver/api_handler.h"
#include "sim/apiserver/faults.h"
#include "sim/apiserver/store.h"

namespace fairway::apiserver {
namespace {

using nlohmann::json;

TEST(KubernetesVersionTest, ParsesReleasesAndRefusesWhatIsNotModelled) {
  EXPECT_EQ(KubernetesVersion::parse("1.24")->minor, 24);
  EXPECT_EQ(KubernetesVersion::parse("v1.35.0")->minor, 35);
  EXPECT_EQ(KubernetesVersion::parse("v1.19.16")->minor, 19);
  EXPECT_EQ(KubernetesVersion{}.minor, KubernetesVersion::kCurrentMinor);
  for (const char* bad : {"", "1", "1.", "2.0", "1.x", "1.24.", "1.24.3.1", "latest"}) {
    auto v = KubernetesVersion::parse(bad);
    ASSERT_FALSE(v) << bad;
    EXPECT_NE(v.error().find("not a Kubernetes version"), std::string::npos) << v.error();
  }
  auto old = KubernetesVersion::parse("1.18");
  ASSERT_FALSE(old);
  EXPECT_EQ(old.error(), "Kubernetes 1.18 is not modelled: use 1.19 to 1.35");
  EXPECT_FALSE(KubernetesVersion::parse("1.36"));
  EXPECT_EQ(KubernetesVersion{24}.git_version(), "v1.24.0-fairway");
}

class ServedApisTest : public ::testing::Test {
 protected:
  HttpResponse call(int minor, const std::string& method, const std::string& target,
                    const std::string& body = "") {
    ApiHandlerOptions options;
    options.kubernetes_version = {minor};
    ApiHandler handler(store_, faults_, options);
    HttpRequest req;
    req.method = method;
    req.target = target;
    req.body = body;
    req.content_type = "application/json";
    return std::get<HttpResponse>(handler.handle(req));
  }
  std::vector<std::string> versions(int minor, const std::string& group) {
    std::vector<std::string> out;
    const HttpResponse r = call(minor, "GET", "/apis/" + group);
    if (r.status != 200) return out;
    const json api_group = json::parse(r.body);
    for (const json& v : api_group["versions"]) out.push_back(v["version"]);
    return out;
  }
  std::string eviction_version(int minor) {
    const json core = json::parse(call(minor, "GET", "/api/v1").body);
    for (const json& r : core["resources"]) {
      if (r["name"] == "pods/eviction")
        return r["group"].get<std::string>() + "/" + r["version"].get<std::string>();
    }
    return "";
  }
  std::string pdb(const std::string& api_version, const std::string& name) {
    return json{{"apiVersion", api_version},
                {"kind", "PodDisruptionBudget"},
                {"metadata", {{"name", name}}},
                {"spec", {{"minAvailable", 1}}}}
        .dump();
  }

  Store store_;
  Faults faults_;
};

TEST_F(ServedApisTest, VersionEndpointNamesTheRelease) {
  EXPECT_EQ(json::parse(call(24, "GET", "/version").body)["minor"], "24");
  EXPECT_EQ(json::parse(call(24, "GET", "/version").body)["gitVersion"], "v1.24.0-fairway");
  EXPECT_EQ(json::parse(call(35, "GET", "/version").body)["minor"], "35");
}

TEST_F(ServedApisTest, Kubernetes119ServesPolicyV1beta1Only) {
  EXPECT_EQ(versions(19, "policy"), std::vector<std::string>{"v1beta1"});
  EXPECT_EQ(eviction_version(19), "policy/v1beta1");
  EXPECT_EQ(call(19, "GET", "/apis/policy/v1").status, 404);
  EXPECT_EQ(call(19, "GET", "/apis/policy/v1/namespaces/default/poddisruptionbudgets").status, 404);
  EXPECT_EQ(call(19, "POST", "/apis/policy/v1beta1/namespaces/default/poddisruptionbudgets",
                 pdb("policy/v1beta1", "old"))
                .status,
            201);
  EXPECT_EQ(versions(19, "batch"), (std::vector<std::string>{"v1", "v1beta1"}));
  EXPECT_EQ(call(19, "GET", "/apis/batch/v1/cronjobs").status, 404);
  // An Eviction sent as policy/v1 is refused as kube-apiserver 1.19 refuses it.
  const HttpResponse evict = call(19, "POST", "/api/v1/namespaces/default/pods/p/eviction",
                                  R"({"apiVersion":"policy/v1","kind":"Eviction"})");
  EXPECT_EQ(evict.status, 400);
  EXPECT_NE(evict.body.find("no kind \\\"Eviction\\\" is registered for version"),
            std::string::npos)
      << evict.body;
}

TEST_F(ServedApisTest, Kubernetes124ServesBothPolicyVersionsPreferringV1) {
  EXPECT_EQ(versions(24, "policy"), (std::vector<std::string>{"v1", "v1beta1"}));
  EXPECT_EQ(json::parse(call(24, "GET", "/apis/policy").body)["preferredVersion"]["version"], "v1");
  EXPECT_EQ(eviction_version(24), "policy/v1");
  EXPECT_EQ(call(24, "GET", "/apis/policy/v1beta1").status, 200);
  EXPECT_EQ(call(24, "GET", "/apis/batch/v1beta1/cronjobs").status, 200);
  EXPECT_EQ(call(24, "GET", "/apis/batch/v1/cronjobs").status, 200);
}

TEST_F(ServedApisTest, TheCurrentReleaseServesPolicyV1Only) {
  EXPECT_EQ(versions(35, "policy"), std::vector<std::string>{"v1"});
  EXPECT_EQ(eviction_version(35), "policy/v1");
  EXPECT_EQ(call(35, "GET", "/apis/policy/v1beta1").status, 404);
  EXPECT_EQ(call(35, "GET", "/apis/policy/v1beta1/namespaces/default/poddisruptionbudgets").status,
            404);
  EXPECT_EQ(versions(35, "batch"), std::vector<std::string>{"v1"});
  const json groups = json::parse(call(35, "GET", "/apis").body);
  for (const json& g : groups["groups"]) {
    EXPECT_FALSE(g["versions"].empty()) << g.dump();
  }
}

// Kubernetes 1.35's gang API: scheduling.k8s.io/v1alpha1 Workload, validated as kube-apiserver
// validates it (422 Invalid naming the field); not served by older releases.
TEST_F(ServedApisTest, Kubernetes135ServesWorkloadsAndValidatesThem) {
  EXPECT_EQ(versions(35, "scheduling.k8s.io"), (std::vector<std::string>{"v1", "v1alpha1"}));
  EXPECT_EQ(
      json::parse(call(35, "GET", "/apis/scheduling.k8s.io").body)["preferredVersion"]["version"],
      "v1");
  EXPECT_EQ(versions(34, "scheduling.k8s.io"), std::vector<std::string>{"v1"});
  const std::string path = "/apis/scheduling.k8s.io/v1alpha1/namespaces/default/workloads";
  EXPECT_EQ(call(34, "GET", path).status, 404);

  auto workload = [](const json& pod_groups) {
    return json{{"apiVersion", "scheduling.k8s.io/v1alpha1"},
                {"kind", "Workload"},
                {"metadata", {{"name", "llm"}}},
                {"spec", {{"podGroups", pod_groups}}}}
        .dump();
  };
  auto refused = [&](const json& pod_groups, const std::string& message) {
    const HttpResponse r = call(35, "POST", path, workload(pod_groups));
    EXPECT_EQ(r.status, 422) << r.body;
    EXPECT_EQ(json::parse(r.body)["message"], message) << r.body;
  };
  const std::string prefix = "Workload.scheduling.k8s.io \"llm\" is invalid: ";
  refused(json::array(), prefix + "spec.podGroups: Required value: must have at least one item");
  refused(json::array({{{"name", "w"}, {"policy", {{"gang", {{"minCount", 0}}}}}}}),
          prefix +
              "spec.podGroups[0].policy.gang.minCount: Invalid value: 0: must be greater than or "
              "equal to 1");
  refused(json::array({{{"name", "w"}, {"policy", {{"gang", json::object()}}}}}),
          prefix + "spec.podGroups[0].policy.gang.minCount: Required value");
  refused(
      json::array({{{"name", "w"}, {"policy", json::object()}}}),
      prefix + "spec.podGroups[0].policy: Required value: must specify one of: `basic`, `gang`");
  refused(json::array({{{"policy", {{"basic", json::object()}}}}}),
          prefix + "spec.podGroups[0].name: Required value");
  refused(json::array({{{"name", "w"}, {"policy", {{"basic", json::object()}}}},
                       {{"name", "w"}, {"policy", {{"basic", json::object()}}}}}),
          prefix + "spec.podGroups[1].name: Duplicate value: \"w\"");
  json nine = json::array();
  for (int i = 0; i < 9; ++i) {
    nine.push_back({{"name", "g" + std::to_string(i)}, {"policy", {{"basic", json::object()}}}});
  }
  refused(nine, prefix + "spec.podGroups: Too many: 9: must have at most 8 items");

  const json good = json::array({{{"name", "workers"}, {"policy", {{"gang", {{"minCount", 4}}}}}}});
  EXPECT_EQ(call(35, "POST", path, workload(good)).status, 201);
  // spec.podGroups is immutable.
  const json other =
      json::array({{{"name", "workers"}, {"policy", {{"gang", {{"minCount", 2}}}}}}});
  const HttpResponse update = call(35, "PUT", path + "/llm", workload(other));
  EXPECT_EQ(update.status, 422) << update.body;
  EXPECT_NE(update.body.find("spec.podGroups: Invalid value"), std::string::npos) << update.body;
  EXPECT_NE(update.body.find("field is immutable"), std::string::npos) << update.body;
}

}  // namespace
}  // namespace fairway::apiserver
