// The resourceclaim controller of the embedded API server
// (sim/apiserver/resource_claim_controller.h): claims made from a pod's ResourceClaimTemplates
// (owner, annotation, labels, spec, generated name, the pod's status), reused rather than made
// twice; a missing template warned about and retried with backoff; reservations of deleted or
// finished pods released, claims nobody uses deallocated, claims of deleted pods deleted; and the
// server runs it from Kubernetes 1.34 only. Driven through the REST handler (and, for the server,
// over HTTP), with sync() called by hand and a fake clock.

#include "sim/apiserver/resource_claim_controller.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "k8s-client/config.h"
#include "k8s-client/rest_client.h"
#include "sim/apiserver/api_handler.h"
#include "sim/apiserver/faults.h"
#include "sim/apiserver/server.h"
#include "sim/apiserver/store.h"

namespace fairway::apiserver {
namespace {

using nlohmann::json;
using std::chrono::system_clock;

const std::string kPods = "/api/v1/namespaces/default/pods";
const std::string kEvents = "/api/v1/namespaces/default/events";
const std::string kDra = "/apis/resource.k8s.io/v1/namespaces/default";
const std::string kClaims = kDra + "/resourceclaims";
const std::string kTemplates = kDra + "/resourceclaimtemplates";
const std::string kFinalizer(kClaimDeleteProtectionFinalizer);

json claim_spec(int count) {
  return {{"devices",
           {{"requests", json::array({{{"name", "gpus"},
                                       {"exactly",
                                        {{"deviceClassName", "gpu.example.com"},
                                         {"allocationMode", "ExactCount"},
                                         {"count", count}}}}})}}}};
}

json template_object(const std::string& name) {
  return {
      {"apiVersion", "resource.k8s.io/v1"},
      {"kind", "ResourceClaimTemplate"},
      {"metadata", {{"name", name}}},
      {"spec",
       {{"metadata", {{"labels", {{"team", "a"}}}, {"annotations", {{"note", "from-template"}}}}},
        {"spec", claim_spec(2)}}}};
}

// A pod whose claim `entry` is made from `template_name`, or is the claim `claim_name`.
json pod_object(const std::string& name, const std::string& entry, const std::string& template_name,
                const std::string& claim_name = "") {
  json pod_claim = {{"name", entry}};
  if (claim_name.empty()) {
    pod_claim["resourceClaimTemplateName"] = template_name;
  } else {
    pod_claim["resourceClaimName"] = claim_name;
  }
  return {{"apiVersion", "v1"},
          {"kind", "Pod"},
          {"metadata", {{"name", name}}},
          {"spec",
           {{"schedulerName", "fairway"},
            {"resourceClaims", json::array({pod_claim})},
            {"containers",
             json::array({{{"name", "c"},
                           {"image", "i"},
                           {"resources", {{"claims", json::array({{{"name", entry}}})}}}}})}}}};
}

json allocation() {
  return {{"devices",
           {{"results", json::array({{{"request", "gpus"},
                                      {"driver", "gpu.example.com"},
                                      {"pool", "node-a"},
                                      {"device", "gpu-0"}},
                                     {{"request", "gpus"},
                                      {"driver", "gpu.example.com"},
                                      {"pool", "node-a"},
                                      {"device", "gpu-1"}}})}}}};
}

WatchOptions watch_from(uint64_t resource_version) {
  WatchOptions options;
  options.resource_version = std::to_string(resource_version);
  return options;
}

json consumer(const json& pod) {
  return {{"resource", "pods"}, {"name", pod["metadata"]["name"]}, {"uid", pod["metadata"]["uid"]}};
}

class ResourceClaimControllerTest : public ::testing::Test {
 protected:
  ResourceClaimControllerTest()
      : store_(StoreOptions{}, [this] { return now_; }), controller_(store_, options()) {}
  ResourceClaimControllerOptions options() {
    ResourceClaimControllerOptions o;
    o.clock = [this] { return now_; };
    return o;
  }

  HttpResponse call(const std::string& method, const std::string& target,
                    const std::string& body = "",
                    const std::string& content_type = "application/json") {
    ApiHandlerOptions options;
    options.kubernetes_version = {34};
    ApiHandler handler(store_, faults_, options);
    HttpRequest req;
    req.method = method;
    req.target = target;
    req.body = body;
    req.content_type = content_type;
    return std::get<HttpResponse>(handler.handle(req));
  }
  json create(const std::string& path, const json& object) {
    const HttpResponse r = call("POST", path, object.dump());
    EXPECT_EQ(r.status, 201) << r.body;
    return json::parse(r.body);
  }
  json get(const std::string& path) {
    const HttpResponse r = call("GET", path);
    EXPECT_EQ(r.status, 200) << path << ": " << r.body;
    return json::parse(r.body);
  }
  json merge_patch(const std::string& path, const json& patch) {
    const HttpResponse r = call("PATCH", path, patch.dump(), "application/merge-patch+json");
    EXPECT_EQ(r.status, 200) << path << ": " << r.body;
    return json::parse(r.body);
  }
  std::vector<json> claims() { return get(kClaims)["items"].get<std::vector<json>>(); }
  // What kube-scheduler writes when it allocates a claim for pods: its finalizer, the
  // allocation and the consumers.
  void allocate(const std::string& claim, const std::vector<json>& pods, bool finalizer = true) {
    if (finalizer)
      merge_patch(kClaims + "/" + claim, {{"metadata", {{"finalizers", {kFinalizer}}}}});
    json reserved = json::array();
    for (const json& pod : pods) reserved.push_back(consumer(pod));
    merge_patch(kClaims + "/" + claim + "/status",
                {{"status", {{"allocation", allocation()}, {"reservedFor", reserved}}}});
  }
  json user_claim(const std::string& name) {
    return create(kClaims, {{"apiVersion", "resource.k8s.io/v1"},
                            {"kind", "ResourceClaim"},
                            {"metadata", {{"name", name}}},
                            {"spec", claim_spec(2)}});
  }

  system_clock::time_point now_ = system_clock::from_time_t(1'800'000'000);
  Store store_;
  Faults faults_;
  ResourceClaimController controller_;
};

TEST_F(ResourceClaimControllerTest, ATemplatesClaimIsMadeOwnedByThePodAndRecordedInItsStatus) {
  const json tmpl = create(kTemplates, template_object("two-gpus"));
  const json pod = create(kPods, pod_object("train", "gpus", "two-gpus"));
  const uint64_t before = store_.resource_version();
  auto pods_watch = store_.watch(*store_.resource("", "pods"), "default", watch_from(before));
  auto claims_watch = store_.watch(*store_.resource("resource.k8s.io", "resourceclaims"), "default",
                                   watch_from(before));
  ASSERT_TRUE(pods_watch && claims_watch);

  EXPECT_GT(controller_.sync(), 0u);

  const std::vector<json> made = claims();
  ASSERT_EQ(made.size(), 1u);
  const json& claim = made[0];
  const std::string name = claim["metadata"]["name"];
  EXPECT_EQ(claim["metadata"]["generateName"], "train-gpus-");
  ASSERT_EQ(name.size(), std::string("train-gpus-").size() + 5) << name;
  EXPECT_TRUE(name.starts_with("train-gpus-")) << name;
  EXPECT_EQ(claim["metadata"]["annotations"],
            json({{"note", "from-template"}, {"resource.kubernetes.io/pod-claim-name", "gpus"}}));
  EXPECT_EQ(claim["metadata"]["labels"], json({{"team", "a"}}));
  EXPECT_EQ(claim["metadata"]["ownerReferences"], json::array({{{"apiVersion", "v1"},
                                                                {"kind", "Pod"},
                                                                {"name", "train"},
                                                                {"uid", pod["metadata"]["uid"]},
                                                                {"controller", true},
                                                                {"blockOwnerDeletion", true}}}));
  EXPECT_EQ(claim["spec"], tmpl["spec"]["spec"]);
  EXPECT_FALSE(claim.contains("status"));

  const json updated = get(kPods + "/train");
  EXPECT_EQ(updated["status"]["resourceClaimStatuses"],
            json::array({{{"name", "gpus"}, {"resourceClaimName", name}}}));
  EXPECT_EQ(updated["status"]["phase"], "Pending") << "the rest of the status is kept";

  // Watchers saw the claim ADDED, then the pod MODIFIED, each with a new resourceVersion.
  const std::string claim_events = (*claims_watch)->drain().data;
  const std::string pod_events = (*pods_watch)->drain().data;
  ASSERT_EQ(std::count(claim_events.begin(), claim_events.end(), '\n'), 1) << claim_events;
  ASSERT_EQ(std::count(pod_events.begin(), pod_events.end(), '\n'), 1) << pod_events;
  const json added = json::parse(claim_events);
  const json modified = json::parse(pod_events);
  EXPECT_EQ(added["type"], "ADDED");
  EXPECT_EQ(modified["type"], "MODIFIED");
  const uint64_t claim_rv =
      std::stoull(added["object"]["metadata"]["resourceVersion"].get<std::string>());
  const uint64_t pod_rv =
      std::stoull(modified["object"]["metadata"]["resourceVersion"].get<std::string>());
  EXPECT_GT(claim_rv, before);
  EXPECT_GT(pod_rv, claim_rv);
  EXPECT_EQ(modified["object"]["status"]["resourceClaimStatuses"][0]["resourceClaimName"], name);
}

TEST_F(ResourceClaimControllerTest, AnotherReconcileMakesNoSecondClaim) {
  create(kTemplates, template_object("two-gpus"));
  create(kPods, pod_object("train", "gpus", "two-gpus"));
  controller_.sync();
  ASSERT_EQ(claims().size(), 1u);
  const std::string name = claims()[0]["metadata"]["name"];
  const uint64_t settled = store_.resource_version();
  EXPECT_EQ(controller_.sync(), 0u) << "nothing changed, nothing to do";
  EXPECT_EQ(store_.resource_version(), settled);

  // The pod status update got lost (as when the controller failed after making the claim): the
  // claim the pod owns with the annotation is found and recorded, not made again.
  json pod = get(kPods + "/train");
  pod["status"].erase("resourceClaimStatuses");
  ASSERT_EQ(call("PUT", kPods + "/train/status", pod.dump()).status, 200);
  ASSERT_FALSE(get(kPods + "/train")["status"].contains("resourceClaimStatuses"));
  EXPECT_GT(controller_.sync(), 0u);
  ASSERT_EQ(claims().size(), 1u);
  EXPECT_EQ(get(kPods + "/train")["status"]["resourceClaimStatuses"],
            json::array({{{"name", "gpus"}, {"resourceClaimName", name}}}));

  // A claim recorded in the status but deleted since is made again (under a new name).
  ASSERT_EQ(call("DELETE", kClaims + "/" + name).status, 200);
  controller_.sync();
  const std::vector<json> again = claims();
  ASSERT_EQ(again.size(), 1u);
  EXPECT_NE(again[0]["metadata"]["name"], name);
  EXPECT_EQ(get(kPods + "/train")["status"]["resourceClaimStatuses"][0]["resourceClaimName"],
            again[0]["metadata"]["name"]);
}

TEST_F(ResourceClaimControllerTest, LongNamesAreCutInProportionAsTheControllerDoes) {
  create(kTemplates, template_object("two-gpus"));
  const std::string pod_name(60, 'p');
  create(kPods, pod_object(pod_name, "gpus", "two-gpus"));
  controller_.sync();
  ASSERT_EQ(claims().size(), 1u);
  // "<60 p>-gpus-" is 66 > 57 characters: 60*57/66 = 51 of the pod's, 4*57/66 = 3 of the claim's.
  const std::string prefix = std::string(51, 'p') + "-gpu";
  EXPECT_EQ(claims()[0]["metadata"]["generateName"], prefix);
  const std::string name = claims()[0]["metadata"]["name"];
  EXPECT_EQ(name.size(), prefix.size() + 5);
  EXPECT_TRUE(name.starts_with(prefix)) << name;
}

TEST_F(ResourceClaimControllerTest, AMissingTemplateIsWarnedAboutAndRetriedWithBackoff) {
  const json pod = create(kPods, pod_object("train", "gpus", "later"));
  const uint64_t before = store_.resource_version();
  controller_.sync();
  EXPECT_TRUE(claims().empty());
  const json unchanged = get(kPods + "/train");
  EXPECT_EQ(unchanged["metadata"]["resourceVersion"], pod["metadata"]["resourceVersion"]);
  EXPECT_FALSE(unchanged["status"].contains("resourceClaimStatuses"));
  json events = get(kEvents)["items"];
  ASSERT_EQ(events.size(), 1u) << events.dump();
  const json& event = events[0];
  EXPECT_EQ(event["type"], "Warning");
  EXPECT_EQ(event["reason"], "FailedResourceClaimCreation");
  EXPECT_EQ(event["message"],
            "PodResourceClaim gpus: resource claim template \"later\": "
            "resourceclaimtemplate.resource.k8s.io \"later\" not found");
  EXPECT_EQ(event["source"]["component"], "resource_claim");
  EXPECT_EQ(event["involvedObject"]["kind"], "Pod");
  EXPECT_EQ(event["involvedObject"]["name"], "train");
  EXPECT_EQ(event["involvedObject"]["uid"], pod["metadata"]["uid"]);
  EXPECT_EQ(event["count"], 1);
  EXPECT_GT(store_.resource_version(), before);

  // Retried after 5 ms, then 10 ms, ...: the same Event counts up.
  EXPECT_FALSE(controller_.retry_due());
  EXPECT_EQ(controller_.sync(), 0u);
  now_ += std::chrono::milliseconds(5);
  EXPECT_TRUE(controller_.retry_due());
  EXPECT_EQ(controller_.sync(), 1u);
  events = get(kEvents)["items"];
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0]["count"], 2);

  // The template appears: like kube-controller-manager, the pod waits for its next retry.
  create(kTemplates, template_object("later"));
  controller_.sync();
  EXPECT_TRUE(claims().empty());
  now_ += std::chrono::milliseconds(10);
  EXPECT_TRUE(controller_.retry_due());
  controller_.sync();
  ASSERT_EQ(claims().size(), 1u);
  EXPECT_EQ(get(kPods + "/train")["status"]["resourceClaimStatuses"][0]["resourceClaimName"],
            claims()[0]["metadata"]["name"]);
  EXPECT_FALSE(controller_.retry_due());
}

TEST_F(ResourceClaimControllerTest, DeletingThePodDeletesItsClaim) {
  create(kTemplates, template_object("two-gpus"));
  const json pod = create(kPods, pod_object("train", "gpus", "two-gpus"));
  controller_.sync();
  ASSERT_EQ(claims().size(), 1u);
  const std::string name = claims()[0]["metadata"]["name"];
  allocate(name, {pod});
  controller_.sync();
  const json in_use = get(kClaims + "/" + name);
  EXPECT_EQ(in_use["status"]["allocation"], allocation()) << "a pod that may run keeps its claim";
  EXPECT_EQ(in_use["status"]["reservedFor"], json::array({consumer(pod)}));

  ASSERT_EQ(call("DELETE", kPods + "/train").status, 200);
  controller_.sync();
  EXPECT_EQ(call("GET", kClaims + "/" + name).status, 404);
  EXPECT_TRUE(claims().empty());
}

TEST_F(ResourceClaimControllerTest, APodLeavingASharedClaimOnlyLeavesItsReservedFor) {
  user_claim("shared");
  const json a = create(kPods, pod_object("a", "gpus", "", "shared"));
  const json b = create(kPods, pod_object("b", "gpus", "", "shared"));
  allocate("shared", {a, b});
  controller_.sync();
  ASSERT_EQ(get(kClaims + "/shared")["status"]["reservedFor"].size(), 2u);

  ASSERT_EQ(call("DELETE", kPods + "/a").status, 200);
  controller_.sync();
  const json left = get(kClaims + "/shared");
  EXPECT_EQ(left["status"]["reservedFor"], json::array({consumer(b)}));
  EXPECT_EQ(left["status"]["allocation"], allocation());
  EXPECT_EQ(left["metadata"]["finalizers"], json::array({kFinalizer}));

  // The last consumer finishes: the claim is deallocated and its finalizer goes; the claim, which
  // no pod owns, stays.
  json finished = get(kPods + "/b");
  finished["status"]["phase"] = "Succeeded";
  ASSERT_EQ(call("PUT", kPods + "/b/status", finished.dump()).status, 200);
  controller_.sync();
  const json free = get(kClaims + "/shared");
  EXPECT_FALSE(free["status"].contains("reservedFor")) << free.dump();
  EXPECT_FALSE(free["status"].contains("allocation")) << free.dump();
  EXPECT_FALSE(free["metadata"].contains("finalizers")) << free.dump();
}

TEST_F(ResourceClaimControllerTest, APodThatGoesLeavesEveryClaimListingIt) {
  // Also a claim the pod does not name (kube-controller-manager would find it at the claim's next
  // change or informer resync).
  user_claim("shared");
  const json a = create(kPods, pod_object("a", "gpus", "", "other"));
  allocate("shared", {a});
  controller_.sync();
  ASSERT_EQ(get(kClaims + "/shared")["status"]["reservedFor"].size(), 1u);
  ASSERT_EQ(call("DELETE", kPods + "/a").status, 200);
  controller_.sync();
  const json claim = get(kClaims + "/shared");
  EXPECT_FALSE(claim["status"].contains("reservedFor")) << claim.dump();
  EXPECT_FALSE(claim["status"].contains("allocation")) << claim.dump();
}

TEST_F(ResourceClaimControllerTest, WithoutTheSchedulersFinalizerTheAllocationStays) {
  // kube-controller-manager deallocates only claims that carry the finalizer kube-scheduler adds
  // when it allocates; a claim allocated without it keeps its devices.
  user_claim("shared");
  const json a = create(kPods, pod_object("a", "gpus", "", "shared"));
  allocate("shared", {a}, false);
  ASSERT_EQ(call("DELETE", kPods + "/a").status, 200);
  controller_.sync();
  const json claim = get(kClaims + "/shared");
  EXPECT_FALSE(claim["status"].contains("reservedFor")) << claim.dump();
  EXPECT_EQ(claim["status"]["allocation"], allocation());
}

TEST_F(ResourceClaimControllerTest, AFinishedPodsClaimIsDeallocatedAndDeleted) {
  create(kTemplates, template_object("two-gpus"));
  const json pod = create(kPods, pod_object("train", "gpus", "two-gpus"));
  controller_.sync();
  const std::string name = claims()[0]["metadata"]["name"];
  allocate(name, {pod});
  json failed = get(kPods + "/train");
  failed["status"]["phase"] = "Failed";
  ASSERT_EQ(call("PUT", kPods + "/train/status", failed.dump()).status, 200);
  controller_.sync();
  EXPECT_EQ(call("GET", kClaims + "/" + name).status, 404) << "the pod will not run again";
  EXPECT_EQ(call("GET", kPods + "/train").status, 200);
}

TEST_F(ResourceClaimControllerTest, AReplacedPodsReservationIsDroppedAndABoundPodIsAdded) {
  user_claim("shared");
  const json old = create(kPods, pod_object("a", "gpus", "", "shared"));
  allocate("shared", {old}, false);  // no finalizer: still allocated when `old` is gone
  ASSERT_EQ(call("DELETE", kPods + "/a").status, 200);
  // A pod of the same name, made directly on a node (no scheduler reserves the claim for it).
  json again = pod_object("a", "gpus", "", "shared");
  again["spec"]["nodeName"] = "node-a";
  const json replacement = create(kPods, again);
  controller_.sync();
  EXPECT_EQ(get(kClaims + "/shared")["status"]["reservedFor"],
            json::array({consumer(replacement)}));
}

TEST_F(ResourceClaimControllerTest, AClaimWhosePodIsGoneIsCollected) {
  // What the garbage collector does: a claim owned by a pod that no longer exists is deleted,
  // one owned by a live pod is not.
  const json pod = create(kPods, pod_object("live", "gpus", "", "x"));
  for (const auto& [name, uid] : {std::pair{"orphan", std::string("not-a-pod")},
                                  std::pair{"owned", pod["metadata"]["uid"].get<std::string>()}}) {
    json claim = {{"apiVersion", "resource.k8s.io/v1"},
                  {"kind", "ResourceClaim"},
                  {"metadata",
                   {{"name", name},
                    {"ownerReferences",
                     json::array({{{"apiVersion", "v1"},
                                   {"kind", "Pod"},
                                   {"name", name == std::string("owned") ? "live" : "gone"},
                                   {"uid", uid},
                                   {"controller", true}}})}}},
                  {"spec", claim_spec(1)}};
    create(kClaims, claim);
  }
  controller_.sync();
  EXPECT_EQ(call("GET", kClaims + "/orphan").status, 404);
  EXPECT_EQ(call("GET", kClaims + "/owned").status, 200);
}

// ---- the server -------------------------------------------------------------------------------

TEST(ResourceClaimControllerServerTest, RunsFromKubernetes134OverHttp) {
  ServerOptions at133;
  at133.tls = false;
  at133.kubernetes_version = {33};
  auto old = Server::start(at133);
  ASSERT_TRUE(old) << old.error();
  EXPECT_EQ((*old)->resource_claim_controller(), nullptr) << "1.33 serves no resource.k8s.io/v1";
  (*old)->stop();

  ServerOptions options;
  options.tls = false;
  options.kubernetes_version = {34};
  auto server = Server::start(options);
  ASSERT_TRUE(server) << server.error();
  ASSERT_NE((*server)->resource_claim_controller(), nullptr);
  const std::string kubeconfig = ::testing::TempDir() + "/resource_claim_controller_kubeconfig";
  ASSERT_TRUE((*server)->write_kubeconfig(kubeconfig));
  auto config = k8s::load_kubeconfig(kubeconfig);
  ASSERT_TRUE(config) << config.error();
  k8s::RestClient client(*config);
  auto posted = client.request("POST", kTemplates, template_object("two-gpus").dump());
  ASSERT_TRUE(posted && posted->ok()) << (posted ? posted->body : posted.error().message);
  posted = client.request("POST", kPods, pod_object("train", "gpus", "two-gpus").dump());
  ASSERT_TRUE(posted && posted->ok()) << (posted ? posted->body : posted.error().message);
  const std::string rv = json::parse(posted->body)["metadata"]["resourceVersion"];

  // The pod's watch shows the status naming the claim (no sleeping: the stream ends with it).
  std::string claim_name;
  auto watched = client.stream(
      kPods + "?watch=1&timeoutSeconds=20&resourceVersion=" + rv, [&](std::string_view line) {
        const json event = json::parse(line);
        const json& statuses = event["object"]["status"]["resourceClaimStatuses"];
        if (!statuses.is_array() || statuses.empty()) return true;
        claim_name = statuses[0]["resourceClaimName"];
        return false;
      });
  ASSERT_TRUE(watched) << watched.error().message;
  ASSERT_FALSE(claim_name.empty()) << "the watch ended without the pod's claim";
  auto claim = client.get(kClaims + "/" + claim_name);
  ASSERT_TRUE(claim && claim->ok());
  EXPECT_EQ(
      json::parse(claim->body)["metadata"]["annotations"]["resource.kubernetes.io/pod-claim-name"],
      "gpus");
  client.stop();
  (*server)->stop();
}

}  // namespace
}  // namespace fairway::apiserver
