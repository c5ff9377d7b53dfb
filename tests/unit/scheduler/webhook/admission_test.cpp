// The fractional-GPU admission webhook: AdmissionReview logic, and a real round trip over TLS.

#include "scheduler/webhook/admission.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "k8s-client/rest_client.h"
#include "scheduler/state/admission_policy.h"
#include "scheduler/webhook/webhook_server.h"
#include "sim/apiserver/tls.h"

namespace fairway::webhook {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

std::string base64_decode(const std::string& text) {
  static const std::string kTable =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  uint32_t bits = 0;
  int count = 0;
  for (char c : text) {
    if (c == '=') break;
    bits = bits << 6 | static_cast<uint32_t>(kTable.find(c));
    count += 6;
    if (count >= 8) {
      count -= 8;
      out += static_cast<char>(bits >> count & 0xFF);
    }
  }
  return out;
}

json pod_object(json annotations, json limits = json::object(), bool with_env_from = false) {
  json container = {{"name", "main"}, {"image", "busybox"}};
  if (!limits.empty()) container["resources"] = {{"limits", limits}};
  if (with_env_from) container["envFrom"] = json::array({{{"secretRef", {{"name", "s"}}}}});
  json metadata = {{"name", "infer-0"}, {"namespace", "team"}, {"uid", "u1"}};
  if (!annotations.is_null()) metadata["annotations"] = std::move(annotations);
  return {{"apiVersion", "v1"},
          {"kind", "Pod"},
          {"metadata", std::move(metadata)},
          {"spec", {{"schedulerName", "fairway"}, {"containers", json::array({container})}}}};
}

std::string review_of(const json& pod, const std::string& operation = "CREATE",
                      const json& old_pod = nullptr, const std::string& username = "alice") {
  json request = {
      {"uid", "req-1"},         {"kind", {{"group", ""}, {"version", "v1"}, {"kind", "Pod"}}},
      {"operation", operation}, {"name", "infer-0"},
      {"namespace", "team"},    {"userInfo", {{"username", username}}},
      {"object", pod}};
  if (!old_pod.is_null()) request["oldObject"] = old_pod;
  return json{{"apiVersion", "admission.k8s.io/v1"},
              {"kind", "AdmissionReview"},
              {"request", std::move(request)}}
      .dump();
}

json answer(const std::string& review) {
  auto out = review_pod_admission(review);
  EXPECT_TRUE(out.has_value()) << out.error().message;
  return json::parse(*out)["response"];
}

TEST(Admission, ValidFractionGetsEnvFromItsConfigMap) {
  const json response = answer(review_of(pod_object({{"fairway.dev/gpu-fraction", "0.25"}})));
  EXPECT_EQ(response["uid"], "req-1");
  EXPECT_TRUE(response["allowed"]);
  ASSERT_EQ(response["patchType"], "JSONPatch");
  const json patch = json::parse(base64_decode(response["patch"]));
  ASSERT_EQ(patch.size(), 2U);
  EXPECT_EQ(patch[0]["path"], "/metadata/annotations/fairway.dev~1gpu-configmap");
  EXPECT_EQ(patch[0]["value"], "infer-0-fairway-gpu");
  EXPECT_EQ(patch[1]["path"], "/spec/containers/0/envFrom");
  EXPECT_EQ(patch[1]["value"][0]["configMapRef"]["name"], "infer-0-fairway-gpu");
  EXPECT_EQ(patch[1]["value"][0]["configMapRef"]["optional"], false);
}

TEST(Admission, ExistingEnvFromIsAppendedTo) {
  const json response =
      answer(review_of(pod_object({{"gpu-memory", "2000"}}, json::object(), true)));
  const json patch = json::parse(base64_decode(response["patch"]));
  EXPECT_EQ(patch[1]["path"], "/spec/containers/0/envFrom/-");
  EXPECT_EQ(patch[1]["value"]["configMapRef"]["name"], "infer-0-fairway-gpu");
}

TEST(Admission, PodWithoutAnnotationsGetsTheMap) {
  json pod = pod_object(nullptr);
  EXPECT_TRUE(answer(review_of(pod))["allowed"]);  // no share asked: untouched
  EXPECT_FALSE(answer(review_of(pod)).contains("patch"));
}

TEST(Admission, InvalidSharesAreDeniedWithTheirMessage) {
  struct Case {
    json annotations;
    json limits;
    std::string message;
  };
  const std::vector<Case> cases = {
      {{{"fairway.dev/gpu-fraction", "1.5"}},
       json::object(),
       "annotation fairway.dev/gpu-fraction=\"1.5\": must be a number greater than 0 and less than "
       "1"},
      {{{"fairway.dev/gpu-fraction", "abc"}}, json::object(), "must be a number"},
      {{{"fairway.dev/gpu-fraction", "0.5"}, {"fairway.dev/gpu-memory", "100"}},
       json::object(),
       "are both set"},
      {{{"gpu-fraction", "0.5"}}, {{"nvidia.com/gpu", "1"}}, "also asks for whole nvidia.com/gpu"},
  };
  for (const Case& c : cases) {
    const json response = answer(review_of(pod_object(c.annotations, c.limits)));
    EXPECT_FALSE(response["allowed"]) << c.annotations.dump();
    EXPECT_EQ(response["status"]["code"], 400);
    EXPECT_THAT(response["status"]["message"].get<std::string>(), HasSubstr(c.message));
  }
}

TEST(Admission, OtherSchedulersAndOperationsAreLeftAlone) {
  json pod = pod_object({{"fairway.dev/gpu-fraction", "1.5"}});
  pod["spec"]["schedulerName"] = "default-scheduler";
  EXPECT_TRUE(answer(review_of(pod))["allowed"]);
  EXPECT_TRUE(
      answer(review_of(pod_object({{"fairway.dev/gpu-fraction", "1.5"}}), "DELETE"))["allowed"]);
  // An update is judged by the tenant rules only; the share was checked when the pod was created.
  const json stored = pod_object({{"fairway.dev/gpu-fraction", "1.5"}});
  const json update = answer(review_of(stored, "UPDATE", stored));
  EXPECT_TRUE(update["allowed"]);
  EXPECT_FALSE(update.contains("patch"));
}

TEST(Admission, TenantDenialsRejectAnyPodOfOursWhateverItAsks) {
  AdmissionConfig config;
  config.tenant_denials = [](const Pod& pod, const Pod*) {
    return pod.namespace_ == "blue"
               ? std::vector<std::string>{"namespace \"blue\" may not use queue \"vision\""}
               : std::vector<std::string>{};
  };
  json plain = pod_object(json::object());  // no GPU share at all: still checked
  plain["metadata"]["namespace"] = "blue";
  const json denied = json::parse(*review_pod_admission(review_of(plain), config));
  EXPECT_FALSE(denied["response"]["allowed"]);
  EXPECT_EQ(denied["response"]["status"]["code"], 403);
  EXPECT_THAT(denied["response"]["status"]["message"].get<std::string>(),
              HasSubstr("may not use queue \"vision\""));
  plain["metadata"]["namespace"] = "red";
  EXPECT_TRUE(json::parse(*review_pod_admission(review_of(plain), config))["response"]["allowed"]);
}

// The real policy (scheduler/state/admission_policy.h) behind the webhook, as the service wires
// it, with no queues known: only the fairway-assigned keys are judged.
AdmissionConfig policy_config() {
  AdmissionConfig config;
  config.tenant_denials = [](const Pod& pod, const Pod* old_pod) {
    return tenant_pod_denials(pod, old_pod, AdmissionContext{});
  };
  config.trusted_users = {"system:serviceaccount:fairway-system:fairway"};
  return config;
}

TEST(Admission, EditingFairwayAssignedKeysOnABoundSharerIsRefused) {
  // The attack: a tenant rewrites fairway.dev/gpu-groups on its bound 0.25-GPU pod, so fairway
  // would free (and delete the reservation of) a GPU still in use, or reserve four GPUs.
  json bound = pod_object({{"fairway.dev/gpu-fraction", "0.25"},
                           {"fairway.dev/gpu-configmap", "infer-0-fairway-gpu"},
                           {"fairway.dev/gpu-groups", "node-0-gpu0"}});
  bound["metadata"]["labels"] = {{"fairway.dev/gpu-group", "node-0-gpu0"}};
  json edited = bound;
  edited["metadata"]["annotations"]["fairway.dev/gpu-groups"] =
      "node-0-gpu1,node-0-gpu2,node-0-gpu3,node-0-gpu4";
  const AdmissionConfig config = policy_config();
  const json refused =
      json::parse(*review_pod_admission(review_of(edited, "UPDATE", bound), config))["response"];
  EXPECT_FALSE(refused["allowed"]);
  EXPECT_EQ(refused["status"]["code"], 403);
  EXPECT_THAT(refused["status"]["message"].get<std::string>(),
              HasSubstr("annotation fairway.dev/gpu-groups is assigned by fairway and may not be "
                        "changed"));
  // Other edits of the same pod pass, and fairway itself may write the keys.
  json relabelled = bound;
  relabelled["metadata"]["labels"]["team"] = "vision";
  EXPECT_TRUE(json::parse(*review_pod_admission(review_of(relabelled, "UPDATE", bound),
                                                config))["response"]["allowed"]);
  EXPECT_TRUE(json::parse(*review_pod_admission(
      review_of(edited, "UPDATE", bound, "system:serviceaccount:fairway-system:fairway"),
      config))["response"]["allowed"]);
  // An UPDATE without the stored pod cannot be judged: a malformed review, not an admission.
  EXPECT_FALSE(review_pod_admission(review_of(edited, "UPDATE"), config).has_value());
}

TEST(Admission, APodNamingItsOwnGpuConfigMapIsRefused) {
  // The attack: fairway.dev/gpu-configmap pointed at an existing ConfigMap made fairway replace
  // its data. The name is fairway's to choose.
  json pod = pod_object(
      {{"fairway.dev/gpu-fraction", "0.5"}, {"fairway.dev/gpu-configmap", "team-settings"}});
  const json refused =
      json::parse(*review_pod_admission(review_of(pod), policy_config()))["response"];
  EXPECT_FALSE(refused["allowed"]);
  EXPECT_THAT(refused["status"]["message"].get<std::string>(),
              HasSubstr("annotation fairway.dev/gpu-configmap is assigned by fairway"));
  // Without the policy the webhook still names the map itself.
  const json patched = answer(review_of(pod));
  const json patch = json::parse(base64_decode(patched["patch"]));
  EXPECT_EQ(patch[0]["value"], "infer-0-fairway-gpu");
  EXPECT_EQ(patch[1]["value"][0]["configMapRef"]["name"], "infer-0-fairway-gpu");
}

TEST(Admission, SettingNvidiaVisibleDevicesIsRefused) {
  json pod = pod_object(json::object());
  pod["spec"]["containers"][0]["env"] =
      json::array({{{"name", "NVIDIA_VISIBLE_DEVICES"}, {"value", "all"}}});
  const json refused = answer(review_of(pod));
  EXPECT_FALSE(refused["allowed"]);
  EXPECT_THAT(refused["status"]["message"].get<std::string>(),
              HasSubstr("container main: env NVIDIA_VISIBLE_DEVICES is set by fairway"));
  pod["spec"]["schedulerName"] = "default-scheduler";  // not ours: not judged
  EXPECT_TRUE(answer(review_of(pod))["allowed"]);
}

TEST(Admission, PodGroupsNamingAForbiddenQueueAreRefused) {
  AdmissionConfig config;
  config.pod_group_denials = [](const PodGroup& group) {
    return group.namespace_ == "blue" && group.queue == "red-q"
               ? std::vector<std::string>{"namespace \"blue\" may not use queue \"red-q\""}
               : std::vector<std::string>{};
  };
  json group = {{"apiVersion", "scheduling.fairway.dev/v1alpha1"},
                {"kind", "PodGroup"},
                {"metadata", {{"name", "intruder"}, {"namespace", "blue"}}},
                {"spec", {{"minMember", 1}, {"queue", "red-q"}}}};
  json review = json::parse(review_of(group));
  review["request"]["kind"] = {
      {"group", "scheduling.fairway.dev"}, {"version", "v1alpha1"}, {"kind", "PodGroup"}};
  const json refused = json::parse(*review_pod_admission(review.dump(), config))["response"];
  EXPECT_FALSE(refused["allowed"]);
  EXPECT_THAT(refused["status"]["message"].get<std::string>(), HasSubstr("may not use queue"));
  review["request"]["object"]["metadata"]["namespace"] = "red";
  EXPECT_TRUE(json::parse(*review_pod_admission(review.dump(), config))["response"]["allowed"]);
}

TEST(Admission, GarbageIsAnErrorNotACrash) {
  EXPECT_FALSE(review_pod_admission("not json").has_value());
  EXPECT_FALSE(review_pod_admission(R"({"request":{}})").has_value());
}

// The attack of issue 15: 100,000 levels of nesting in request.object (~200 KB) once ended the
// process with a stack overflow (decode_pod(object.dump()) re-serialised recursively). Now it is
// refused by the depth pre-scan, before any DOM is built, with a 400 that says why.
std::string deep_review(size_t depth) {
  std::string nested(depth, '[');
  nested.append(depth, ']');
  return R"({"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u",)"
         R"("kind":{"group":"","version":"v1","kind":"Pod"},"operation":"CREATE","object":)"
         R"({"metadata":{"name":"p","annotations":{"x":)" +
         nested + "}},\"spec\":{\"schedulerName\":\"fairway\"}}}}";
}

TEST(Admission, DeeplyNestedReviewIsA400NotACrash) {
  const std::string body = deep_review(100000);
  EXPECT_GT(body.size(), 200000U);
  const auto out = review_pod_admission(body);
  ASSERT_FALSE(out.has_value());
  EXPECT_EQ(out.error().status, 400);
  EXPECT_EQ(out.error().message, "malformed AdmissionReview: JSON nested deeper than 1000 levels");

  http::Server server(http::ServerOptions{.bind_address = "127.0.0.1:0"});
  add_webhook_routes(server);
  http::Request request;
  request.method = "POST";
  request.body = body;
  const http::Response response = (*server.find("/mutate"))(request);
  EXPECT_EQ(response.status, 400);
  EXPECT_THAT(response.body, HasSubstr("nested deeper than 1000 levels"));

  // At the limit the review is answered (the pod itself is not valid: allowed, not ours to judge).
  const auto at_limit = review_pod_admission(deep_review(1000 - 5));
  ASSERT_TRUE(at_limit.has_value()) << at_limit.error().message;
  EXPECT_TRUE(json::parse(*at_limit)["response"]["allowed"]);
}

// kube-apiserver's body limit and its answer, also when the review is handed over in-process.
TEST(Admission, BodyOverThreeMebibytesIs413) {
  json pod = pod_object({{"fairway.dev/gpu-fraction", "0.5"}});
  pod["metadata"]["annotations"]["padding"] = std::string(3 << 20, 'x');
  const auto out = review_pod_admission(review_of(pod));
  ASSERT_FALSE(out.has_value());
  EXPECT_EQ(out.error().status, 413);
  EXPECT_EQ(out.error().message, "Request entity too large: limit is 3145728");
}

// Fields of the wrong type once escaped as nlohmann exceptions (500 with the exception text).
TEST(Admission, MistypedFieldsAre400WithTheField) {
  const json good = json::parse(review_of(pod_object({{"fairway.dev/gpu-fraction", "0.5"}})));
  struct Case {
    std::string pointer;
    json value;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"/request/uid", 5, "request.uid must be a string"},
      {"/request", "x", "request must be an object"},
      {"/request/kind", "Pod", "request.kind must be an object"},
      {"/request/kind/kind", json::array(), "request.kind.kind must be a string"},
      {"/request/operation", true, "request.operation must be a string"},
      {"/request/name", 1.5, "request.name must be a string"},
      {"/request/object", "pod", "request.object must be an object"},
      {"/request/object/metadata/generateName", 7,
       "request.object.metadata.generateName must be a string"},
      {"/request/object/spec/containers/0/envFrom", "s",
       "request.object.spec.containers[0].envFrom must be an array"},
      {"/request/object/spec/containers/0/envFrom", json::array({"s"}),
       "request.object.spec.containers[0].envFrom[0] must be an object"},
      {"/request/object/spec/containers/0/envFrom", json::array({{{"configMapRef", "m"}}}),
       "request.object.spec.containers[0].envFrom[0].configMapRef must be an object"},
      {"/request/object/spec/containers/0/envFrom",
       json::array({{{"configMapRef", {{"name", 3}}}}}),
       "request.object.spec.containers[0].envFrom[0].configMapRef.name must be a string"},
  };
  http::Server server(http::ServerOptions{.bind_address = "127.0.0.1:0"});
  add_webhook_routes(server);
  for (const Case& c : cases) {
    json review = good;
    review[json::json_pointer(c.pointer)] = c.value;
    const auto out = review_pod_admission(review.dump());
    ASSERT_FALSE(out.has_value()) << c.pointer;
    EXPECT_EQ(out.error().status, 400) << c.pointer;
    EXPECT_EQ(out.error().message, "malformed AdmissionReview: " + c.message);
    http::Request request;
    request.method = "POST";
    request.body = review.dump();
    const http::Response response = (*server.find("/mutate"))(request);
    EXPECT_EQ(response.status, 400) << c.pointer;
    EXPECT_THAT(response.body, HasSubstr(c.message));
  }
}

TEST(WebhookRoutes, MutateTakesOnlyPostedReviews) {
  http::Server server(http::ServerOptions{.bind_address = "127.0.0.1:0"});
  add_webhook_routes(server);
  const http::Handler* mutate = server.find("/mutate");
  ASSERT_NE(mutate, nullptr);
  http::Request request;
  request.method = "POST";
  request.body = "{";
  EXPECT_EQ((*mutate)(request).status, 400);
  request.method = "GET";
  EXPECT_EQ((*mutate)(request).status, 405);
  EXPECT_NE(server.find("/healthz"), nullptr);
  EXPECT_EQ(server.find("/nope"), nullptr);
}

TEST(Admission, Base64MatchesRfc4648) {
  EXPECT_EQ(base64_encode(""), "");
  EXPECT_EQ(base64_encode("f"), "Zg==");
  EXPECT_EQ(base64_encode("fo"), "Zm8=");
  EXPECT_EQ(base64_encode("foo"), "Zm9v");
  EXPECT_EQ(base64_encode("foobar"), "Zm9vYmFy");
}

// The real thing: the shared HTTP server with a certificate, a TLS client that verifies it, an
// AdmissionReview POSTed to /mutate and the patch read back.
TEST(WebhookServer, AdmissionReviewRoundTripOverTls) {
  auto cert = apiserver::make_self_signed_cert("fairway-webhook");
  ASSERT_TRUE(cert.has_value()) << cert.error();
  const auto dir =
      std::filesystem::temp_directory_path() / ("fairway-webhook-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "tls.crt") << cert->cert_pem;
  std::ofstream(dir / "tls.key") << cert->key_pem;
  auto server =
      start_webhook_server("127.0.0.1:0", (dir / "tls.crt").string(), (dir / "tls.key").string());
  ASSERT_TRUE(server.has_value()) << server.error();

  k8s::ClusterConfig config;
  config.server = "https://127.0.0.1:" + std::to_string((*server)->port());
  config.ca_pem = cert->cert_pem;
  k8s::RestClient client(config);
  const auto response = client.request(
      "POST", "/mutate", review_of(pod_object({{"fairway.dev/gpu-fraction", "0.5"}})));
  ASSERT_TRUE(response.has_value()) << response.error().message;
  ASSERT_EQ(response->status, 200) << response->body;
  const json review = json::parse(response->body);
  EXPECT_EQ(review["kind"], "AdmissionReview");
  EXPECT_EQ(review["response"]["uid"], "req-1");
  EXPECT_TRUE(review["response"]["allowed"]);
  EXPECT_THAT(base64_decode(review["response"]["patch"]), HasSubstr("infer-0-fairway-gpu"));
  const auto denied =
      client.request("POST", "/mutate", review_of(pod_object({{"fairway.dev/gpu-fraction", "2"}})));
  ASSERT_TRUE(denied.has_value());
  EXPECT_FALSE(json::parse(denied->body)["response"]["allowed"]);
  client.stop();
  (*server)->stop();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace fairway::webhook
