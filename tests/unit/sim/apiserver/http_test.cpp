// The embedded API server over real sockets: TLS with the generated certificate, bearer tokens,
// discovery, CRUD, Table output, watch streams (bookmarks, timeoutSeconds, drop) and the fault
// switches, driven by a tiny Boost.Beast client.

#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
// Asio trips GCC's -Wnull-dereference after inlining (false positive in system headers).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnull-dereference"
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#pragma GCC diagnostic pop

#include "sim/apiserver/server.h"

namespace fairway::apiserver {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using nlohmann::json;
using tcp = net::ip::tcp;

struct Reply {
  int status = 0;
  std::string body;
  std::string retry_after;
  std::string content_type;
  json json_body() const { return json::parse(body); }
};

// One connection to the server; verifies TLS against the server's own CA (no skipping).
class Client {
 public:
  Client(const Server& server, std::string token, bool tls = true)
      : token_(std::move(token)), tls_(tls), ssl_ctx_(net::ssl::context::tls_client) {
    if (tls_) {
      ssl_ctx_.add_certificate_authority(net::buffer(server.ca_pem()));
      ssl_ctx_.set_verify_mode(net::ssl::verify_peer);
    }
    connect(server.port());
  }

  Reply request(const std::string& method, const std::string& target, const std::string& body = "",
                const std::string& content_type = "application/json",
                const std::string& accept = "") {
    http::request<http::string_body> req(http::string_to_verb(method), target, 11);
    req.set(http::field::host, "127.0.0.1");
    if (!token_.empty()) req.set(http::field::authorization, "Bearer " + token_);
    if (!body.empty()) req.set(http::field::content_type, content_type);
    if (!accept.empty()) req.set(http::field::accept, accept);
    req.body() = body;
    req.prepare_payload();
    http::response<http::string_body> res;
    beast::error_code ec;
    if (tls_) {
      http::write(*ssl_, req, ec);
      if (!ec) http::read(*ssl_, buffer_, res, ec);
    } else {
      http::write(*plain_, req, ec);
      if (!ec) http::read(*plain_, buffer_, res, ec);
    }
    if (ec) return Reply{-1, ec.message(), "", ""};
    return Reply{static_cast<int>(res.result_int()), res.body(),
                 std::string(res[http::field::retry_after]),
                 std::string(res[http::field::content_type])};
  }

 private:
  void connect(uint16_t port) {
    const tcp::endpoint ep(net::ip::make_address("127.0.0.1"), port);
    if (tls_) {
      ssl_.emplace(ioc_, ssl_ctx_);
      ssl_->next_layer().connect(ep);
      ssl_->set_verify_callback(net::ssl::host_name_verification("127.0.0.1"));
      ssl_->handshake(net::ssl::stream_base::client);
    } else {
      plain_.emplace(ioc_);
      plain_->connect(ep);
    }
  }

  std::string token_;
  bool tls_;
  net::io_context ioc_;
  net::ssl::context ssl_ctx_;
  std::optional<net::ssl::stream<tcp::socket>> ssl_;
  std::optional<tcp::socket> plain_;
  beast::flat_buffer buffer_;
};

std::vector<json> watch_lines(const std::string& body) {
  std::vector<json> out;
  size_t start = 0;
  while (start < body.size()) {
    size_t nl = body.find('\n', start);
    if (nl == std::string::npos) nl = body.size();
    if (nl > start) out.push_back(json::parse(body.substr(start, nl - start)));
    start = nl + 1;
  }
  return out;
}

class HttpTest : public ::testing::Test {
 protected:
  static std::unique_ptr<Server> start(bool tls) {
    ServerOptions o;
    o.tls = tls;
    o.bookmark_interval = std::chrono::milliseconds(200);
    o.threads = 2;
    auto s = Server::start(o);
    EXPECT_TRUE(s) << (s ? "" : s.error());
    return std::move(*s);
  }
  const std::string pod_body =
      R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"p1","labels":{"app":"x"}},
      "spec":{"schedulerName":"fairway","containers":[{"name":"c","image":"i","resources":{"limits":{"nvidia.com/gpu":1}}}]}})";
};

TEST_F(HttpTest, TlsTokenDiscoveryAndCrud) {
  auto server = start(true);
  EXPECT_TRUE(server->url().starts_with("https://127.0.0.1:"));
  Client anonymous(*server, "");
  const Reply denied = anonymous.request("GET", "/api/v1/pods");
  EXPECT_EQ(denied.status, 401);
  EXPECT_EQ(denied.json_body()["reason"], "Unauthorized");
  EXPECT_EQ(anonymous.request("GET", "/healthz").status, 200);

  Client c(*server, server->token());
  const json core = c.request("GET", "/api/v1").json_body();
  bool binding = false;
  bool eviction = false;
  for (const auto& r : core["resources"]) {
    if (r["name"] == "pods/binding") binding = true;
    if (r["name"] == "pods/eviction") eviction = r["group"] == "policy" && r["kind"] == "Eviction";
  }
  EXPECT_TRUE(binding);
  EXPECT_TRUE(eviction);
  const json groups = c.request("GET", "/apis").json_body();
  bool fairway = false;
  for (const auto& g : groups["groups"]) fairway |= g["name"] == "scheduling.fairway.dev";
  EXPECT_TRUE(fairway);
  const json fw = c.request("GET", "/apis/scheduling.fairway.dev/v1alpha1").json_body();
  EXPECT_EQ(fw["resources"].size(),
            5u);  // queues, queues/status, podgroups, podgroups/status, topologies

  Reply created = c.request("POST", "/api/v1/namespaces/default/pods", pod_body);
  ASSERT_EQ(created.status, 201) << created.body;
  EXPECT_EQ(created.json_body()["spec"]["containers"][0]["resources"]["limits"]["nvidia.com/gpu"],
            "1");
  EXPECT_EQ(c.request("POST", "/api/v1/namespaces/default/pods", pod_body).status, 409);
  EXPECT_EQ(c.request("POST", "/api/v1/namespaces/missing/pods", pod_body).status, 404);

  Reply list = c.request(
      "GET", "/api/v1/pods?labelSelector=app%3Dx&fieldSelector=spec.schedulerName%3Dfairway");
  ASSERT_EQ(list.status, 200);
  EXPECT_EQ(list.json_body()["kind"], "PodList");
  EXPECT_EQ(list.json_body()["items"].size(), 1u);
  EXPECT_EQ(c.request("GET", "/api/v1/pods?fieldSelector=spec.bogus%3Dx").status, 400);

  Reply bind = c.request(
      "POST", "/api/v1/namespaces/default/pods/p1/binding",
      R"({"apiVersion":"v1","kind":"Binding","metadata":{"name":"p1"},"target":{"kind":"Node","name":"n1"}})");
  EXPECT_EQ(bind.status, 201);
  EXPECT_EQ(bind.json_body()["status"], "Success");
  Reply rebind = c.request("POST", "/api/v1/namespaces/default/pods/p1/binding",
                           R"({"target":{"kind":"Node","name":"n2"}})");
  EXPECT_EQ(rebind.status, 409);

  Reply patched = c.request("PATCH", "/api/v1/namespaces/default/pods/p1",
                            R"({"metadata":{"labels":{"y":"1"}}})", "application/merge-patch+json");
  ASSERT_EQ(patched.status, 200);
  EXPECT_EQ(patched.json_body()["metadata"]["labels"]["y"], "1");
  EXPECT_EQ(c.request("PATCH", "/api/v1/namespaces/default/pods/p1", "{}", "text/plain").status,
            415);

  Reply status = c.request("PATCH", "/api/v1/namespaces/default/pods/p1/status",
                           R"({"status":{"phase":"Running"}})", "application/merge-patch+json");
  EXPECT_EQ(status.json_body()["status"]["phase"], "Running");

  Reply table = c.request("GET", "/api/v1/namespaces/default/pods", "", "",
                          "application/json;as=Table;v=v1;g=meta.k8s.io,application/json");
  ASSERT_EQ(table.status, 200);
  EXPECT_EQ(table.json_body()["kind"], "Table");
  EXPECT_EQ(table.json_body()["rows"][0]["cells"][2], "Running");

  Reply deleted = c.request("DELETE", "/api/v1/namespaces/default/pods/p1");
  ASSERT_EQ(deleted.status, 200);
  EXPECT_TRUE(deleted.json_body()["metadata"].contains("deletionTimestamp"));  // bound: graceful
  EXPECT_EQ(c.request("GET", "/api/v1/namespaces/default/pods/p1").status, 200);
  EXPECT_EQ(c.request("DELETE", "/api/v1/namespaces/default/pods/p1?gracePeriodSeconds=0").status,
            200);
  EXPECT_EQ(c.request("GET", "/api/v1/namespaces/default/pods/p1").status, 404);
}

// A write's options are checked before the write, as kube-apiserver's ValidateCreateOptions:
// an unknown dryRun value is refused, never taken for a real create.
TEST_F(HttpTest, UnknownDryRunOrFieldValidationIsRefusedAndNothingIsWritten) {
  auto server = start(false);
  Client c(*server, server->token(), false);
  const Reply dry = c.request("POST", "/api/v1/namespaces/default/pods?dryRun=Yes", pod_body);
  EXPECT_EQ(dry.status, 422);
  EXPECT_EQ(dry.json_body()["reason"], "Invalid");
  EXPECT_EQ(
      dry.json_body()["message"],
      R"(CreateOptions.meta.k8s.io "" is invalid: dryRun: Unsupported value: []string{"Yes"}: supported values: "All")");
  const Reply mode =
      c.request("POST", "/api/v1/namespaces/default/pods?fieldValidation=Loose", pod_body);
  EXPECT_EQ(mode.status, 422);
  EXPECT_EQ(
      mode.json_body()["message"],
      R"(CreateOptions.meta.k8s.io "" is invalid: fieldValidation: Unsupported value: "Loose": supported values: "", "Ignore", "Strict", "Warn")");
  EXPECT_EQ(c.request("GET", "/api/v1/namespaces/default/pods/p1").status, 404);

  ASSERT_EQ(c.request("POST", "/api/v1/namespaces/default/pods?dryRun=All", pod_body).status, 201);
  EXPECT_EQ(c.request("GET", "/api/v1/namespaces/default/pods/p1").status, 404);
  ASSERT_EQ(c.request("POST", "/api/v1/namespaces/default/pods", pod_body).status, 201);
  const Reply patch =
      c.request("PATCH", "/api/v1/namespaces/default/pods/p1?dryRun=no",
                R"({"metadata":{"labels":{"y":"1"}}})", "application/merge-patch+json");
  EXPECT_EQ(patch.status, 422);
  EXPECT_TRUE(patch.json_body()["message"].get<std::string>().starts_with(
      R"(PatchOptions.meta.k8s.io "" is invalid: dryRun)"));
  EXPECT_FALSE(c.request("GET", "/api/v1/namespaces/default/pods/p1")
                   .json_body()["metadata"]["labels"]
                   .contains("y"));
}

// --token-auth-file users are authenticated on API requests and authorized by RBAC, as by
// kube-apiserver: discovery for everyone authenticated, the rest as their Roles allow, a denial
// in the authorization filter's words.
TEST_F(HttpTest, TokenFileUsersAreAuthorizedByRbac) {
  ServerOptions o;
  o.tls = false;
  o.threads = 2;
  o.token_users = {{"bob-token", "bob", "u-bob", {"devs"}},
                   {"root-token", "root", "u-root", {"system:masters"}}};
  auto started = Server::start(o);
  ASSERT_TRUE(started) << started.error();
  auto& server = *started;
  Client admin(*server, server->token(), false);
  Client bob(*server, "bob-token", false);
  Client root(*server, "root-token", false);
  EXPECT_EQ(Client(*server, "nobody", false).request("GET", "/api/v1/pods").status, 401);
  EXPECT_EQ(bob.request("GET", "/api").status, 200);
  EXPECT_EQ(bob.request("GET", "/apis/scheduling.fairway.dev/v1alpha1").status, 200);

  const Reply list = bob.request("GET", "/api/v1/namespaces/default/pods");
  EXPECT_EQ(list.status, 403);
  EXPECT_EQ(
      list.json_body()["message"],
      R"(pods is forbidden: User "bob" cannot list resource "pods" in API group "" in the namespace "default")");
  const Reply nodes = bob.request("GET", "/api/v1/nodes/n1");
  EXPECT_EQ(
      nodes.json_body()["message"],
      R"(nodes "n1" is forbidden: User "bob" cannot get resource "nodes" in API group "" at the cluster scope)");
  EXPECT_EQ(bob.request("GET", "/metrics").json_body()["message"],
            R"(forbidden: User "bob" cannot get path "/metrics")");
  EXPECT_EQ(root.request("GET", "/api/v1/nodes").status, 200);  // system:masters

  // A Role for the group devs in default: list pods there, nowhere else, and nothing more.
  ASSERT_EQ(admin
                .request("POST", "/apis/rbac.authorization.k8s.io/v1/namespaces/default/roles",
                         R"({"metadata":{"name":"pod-reader"},
                              "rules":[{"apiGroups":[""],"resources":["pods"],"verbs":["get","list"]}]})")
                .status,
            201);
  ASSERT_EQ(
      admin
          .request("POST", "/apis/rbac.authorization.k8s.io/v1/namespaces/default/rolebindings",
                   R"({"metadata":{"name":"devs-read"},
                              "roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"Role","name":"pod-reader"},
                              "subjects":[{"kind":"Group","name":"devs"}]})")
          .status,
      201);
  EXPECT_EQ(bob.request("GET", "/api/v1/namespaces/default/pods").status, 200);
  EXPECT_EQ(bob.request("GET", "/api/v1/namespaces/kube-system/pods").status, 403);
  const Reply create = bob.request("POST", "/api/v1/namespaces/default/pods", pod_body);
  EXPECT_EQ(create.status, 403);
  EXPECT_EQ(
      create.json_body()["message"],
      R"(pods is forbidden: User "bob" cannot create resource "pods" in API group "" in the namespace "default")");
  EXPECT_EQ(admin.request("GET", "/api/v1/namespaces/default/pods/p1").status, 404);  // not written
}

TEST_F(HttpTest, QueueTableUsesPrinterColumns) {
  auto server = start(false);
  Client c(*server, server->token(), false);
  ASSERT_EQ(
      c.request(
           "POST", "/apis/scheduling.fairway.dev/v1alpha1/queues",
           R"({"apiVersion":"scheduling.fairway.dev/v1alpha1","kind":"Queue","metadata":{"name":"research"},
                          "spec":{"parent":"root","resources":{"nvidia.com/gpu":{"quota":8,"limit":"16"}}}})")
          .status,
      201);
  const json t = c.request("GET", "/apis/scheduling.fairway.dev/v1alpha1/queues", "", "",
                           "application/json;as=Table;v=v1;g=meta.k8s.io")
                     .json_body();
  std::vector<std::string> names;
  for (const auto& col : t["columnDefinitions"]) names.push_back(col["name"]);
  EXPECT_EQ(names, (std::vector<std::string>{"Name", "Parent", "Valid", "Reason", "GPU quota",
                                             "GPU limit", "GPU allocated", "GPU fair share",
                                             "GPU usage", "Pending", "Warning", "Age"}));
  EXPECT_EQ(t["columnDefinitions"][5]["priority"], 1);  // GPU limit: -o wide
  const json& cells = t["rows"][0]["cells"];
  EXPECT_EQ(cells[0], "research");
  EXPECT_EQ(cells[1], "root");
  EXPECT_EQ(cells[2], nullptr);  // no status yet
  EXPECT_EQ(cells[5], "16");

  // The status the scheduler writes fills them; conditions are picked by type.
  ASSERT_EQ(
      c.request(
           "PATCH", "/apis/scheduling.fairway.dev/v1alpha1/queues/research/status",
           R"({"status":{"gpus":{"quota":"8.00","allocated":"2.50","fairShare":"5.33","usage":"12.5%"},
                          "pendingPods":3,"conditions":[
                          {"type":"Valid","status":"True","reason":"Valid","message":""},
                          {"type":"Warning","status":"True","reason":"QuotaAboveCapacity","message":"m"}]}})",
           "application/merge-patch+json")
          .status,
      200);
  const json row = c.request("GET", "/apis/scheduling.fairway.dev/v1alpha1/queues", "", "",
                             "application/json;as=Table;v=v1;g=meta.k8s.io")
                       .json_body()["rows"][0]["cells"];
  EXPECT_EQ(row[2], "True");
  EXPECT_EQ(row[3], "Valid");
  EXPECT_EQ(row[4], "8.00");
  EXPECT_EQ(row[6], "2.50");
  EXPECT_EQ(row[7], "5.33");
  EXPECT_EQ(row[8], "12.5%");
  EXPECT_EQ(row[9], 3);
  EXPECT_EQ(row[10], "QuotaAboveCapacity");
}

TEST_F(HttpTest, StorageKindsAreServedWithDiscoveryStatusAndTables) {
  auto server = start(false);
  Client c(*server, server->token(), false);
  // Discovery: core/v1 and storage.k8s.io/v1.
  const json core = c.request("GET", "/api/v1").json_body();
  std::map<std::string, json> resources;
  for (const auto& r : core["resources"]) resources[r["name"]] = r;
  ASSERT_TRUE(resources.contains("persistentvolumes"));
  EXPECT_EQ(resources["persistentvolumes"]["namespaced"], false);
  EXPECT_EQ(resources["persistentvolumes"]["shortNames"], json::array({"pv"}));
  EXPECT_TRUE(resources.contains("persistentvolumes/status"));
  ASSERT_TRUE(resources.contains("persistentvolumeclaims"));
  EXPECT_EQ(resources["persistentvolumeclaims"]["namespaced"], true);
  EXPECT_EQ(resources["persistentvolumeclaims"]["shortNames"], json::array({"pvc"}));
  EXPECT_TRUE(resources.contains("persistentvolumeclaims/status"));
  const json groups = c.request("GET", "/apis").json_body();
  bool storage_group = false;
  for (const auto& g : groups["groups"])
    storage_group = storage_group || g["name"] == "storage.k8s.io";
  EXPECT_TRUE(storage_group);
  const json storage = c.request("GET", "/apis/storage.k8s.io/v1").json_body();
  std::map<std::string, json> storage_resources;
  for (const auto& r : storage["resources"]) storage_resources[r["name"]] = r;
  ASSERT_TRUE(storage_resources.contains("storageclasses"));
  EXPECT_EQ(storage_resources["storageclasses"]["shortNames"], json::array({"sc"}));
  EXPECT_EQ(storage_resources["storageclasses"]["kind"], "StorageClass");
  ASSERT_TRUE(storage_resources.contains("csinodes"));
  EXPECT_EQ(storage_resources["csinodes"]["kind"], "CSINode");
  EXPECT_EQ(storage_resources["csinodes"]["namespaced"], false);

  // Create sets the server's status (the creator's is dropped): a volume Available, a claim
  // Pending, as kube-apiserver plus the PV controller's first sync leave them.
  ASSERT_EQ(c.request("POST", "/api/v1/persistentvolumes",
                      R"({"apiVersion":"v1","kind":"PersistentVolume","metadata":{"name":"pv-1"},
                          "spec":{"capacity":{"storage":"10Gi"},"accessModes":["ReadWriteOnce","ReadWriteOncePod"],
                                  "storageClassName":"fast","hostPath":{"path":"/data"},
                                  "claimRef":{"namespace":"default","name":"data"}},
                          "status":{"phase":"Released"}})")
                .status,
            201);
  ASSERT_EQ(
      c.request("POST", "/api/v1/namespaces/default/persistentvolumeclaims",
                R"({"apiVersion":"v1","kind":"PersistentVolumeClaim","metadata":{"name":"data"},
                          "spec":{"accessModes":["ReadWriteOnce"],"storageClassName":"fast",
                                  "resources":{"requests":{"storage":"1Gi"}}},
                          "status":{"phase":"Bound"}})")
          .status,
      201);
  ASSERT_EQ(c.request("POST", "/apis/storage.k8s.io/v1/storageclasses",
                      R"({"apiVersion":"storage.k8s.io/v1","kind":"StorageClass",
                          "metadata":{"name":"fast","annotations":{"storageclass.kubernetes.io/is-default-class":"true"}},
                          "provisioner":"example.com/fast","volumeBindingMode":"WaitForFirstConsumer"})")
                .status,
            201);
  ASSERT_EQ(
      c.request("POST", "/apis/storage.k8s.io/v1/csinodes",
                R"({"apiVersion":"storage.k8s.io/v1","kind":"CSINode","metadata":{"name":"node-1"},
                          "spec":{"drivers":[{"name":"example.com/fast","nodeID":"node-1","allocatable":{"count":4}}]}})")
          .status,
      201);
  EXPECT_EQ(c.request("GET", "/api/v1/persistentvolumes/pv-1").json_body()["status"]["phase"],
            "Available");
  EXPECT_EQ(c.request("GET", "/api/v1/namespaces/default/persistentvolumeclaims/data")
                .json_body()["status"]["phase"],
            "Pending");
  // The status subresource binds the claim; a merge patch of the main resource leaves it.
  EXPECT_EQ(
      c.request(
           "PATCH", "/api/v1/namespaces/default/persistentvolumeclaims/data/status",
           R"({"status":{"phase":"Bound","capacity":{"storage":"10Gi"},"accessModes":["ReadWriteOnce"]}})",
           "application/merge-patch+json")
          .status,
      200);
  EXPECT_EQ(c.request("PATCH", "/api/v1/namespaces/default/persistentvolumeclaims/data",
                      R"({"spec":{"volumeName":"pv-1"},"status":{"phase":"Lost"}})",
                      "application/merge-patch+json")
                .status,
            200);
  const json claim = c.request("GET", "/api/v1/persistentvolumeclaims").json_body();
  ASSERT_EQ(claim["items"].size(), 1U);
  EXPECT_EQ(claim["items"][0]["spec"]["volumeName"], "pv-1");
  EXPECT_EQ(claim["items"][0]["status"]["phase"], "Bound");

  const auto table = [&](const std::string& path) {
    return c.request("GET", path, "", "", "application/json;as=Table;v=v1;g=meta.k8s.io")
        .json_body();
  };
  const auto column_names = [](const json& t) {
    std::vector<std::string> names;
    for (const auto& col : t["columnDefinitions"]) names.push_back(col["name"]);
    return names;
  };
  const json pvs = table("/api/v1/persistentvolumes");
  EXPECT_EQ(column_names(pvs), (std::vector<std::string>{
                                   "Name", "Capacity", "Access Modes", "Reclaim Policy", "Status",
                                   "Claim", "StorageClass", "Reason", "Age", "VolumeMode"}));
  const json& pv_cells = pvs["rows"][0]["cells"];
  EXPECT_EQ(pv_cells[0], "pv-1");
  EXPECT_EQ(pv_cells[1], "10Gi");
  EXPECT_EQ(pv_cells[2], "RWO,RWOP");
  EXPECT_EQ(pv_cells[3], "Retain");
  EXPECT_EQ(pv_cells[4], "Available");
  EXPECT_EQ(pv_cells[5], "default/data");
  EXPECT_EQ(pv_cells[6], "fast");
  const json pvcs = table("/api/v1/namespaces/default/persistentvolumeclaims");
  EXPECT_EQ(column_names(pvcs),
            (std::vector<std::string>{"Name", "Status", "Volume", "Capacity", "Access Modes",
                                      "StorageClass", "Age", "VolumeMode"}));
  const json& pvc_cells = pvcs["rows"][0]["cells"];
  EXPECT_EQ(pvc_cells[0], "data");
  EXPECT_EQ(pvc_cells[1], "Bound");
  EXPECT_EQ(pvc_cells[2], "pv-1");
  EXPECT_EQ(pvc_cells[3], "10Gi");
  EXPECT_EQ(pvc_cells[4], "RWO");
  EXPECT_EQ(pvc_cells[5], "fast");
  const json sc_cells = table("/apis/storage.k8s.io/v1/storageclasses")["rows"][0]["cells"];
  EXPECT_EQ(sc_cells[0], "fast (default)");
  EXPECT_EQ(sc_cells[1], "example.com/fast");
  EXPECT_EQ(sc_cells[2], "Delete");
  EXPECT_EQ(sc_cells[3], "WaitForFirstConsumer");
  EXPECT_EQ(sc_cells[4], "false");
  const json csi_cells = table("/apis/storage.k8s.io/v1/csinodes")["rows"][0]["cells"];
  EXPECT_EQ(csi_cells[0], "node-1");
  EXPECT_EQ(csi_cells[1], 1);

  EXPECT_EQ(c.request("DELETE", "/api/v1/persistentvolumes/pv-1").status, 200);
  EXPECT_EQ(c.request("GET", "/api/v1/persistentvolumes/pv-1").status, 404);
}

TEST_F(HttpTest, WatchStreamsEventsBookmarksAndTimesOut) {
  auto server = start(true);
  Client writer(*server, server->token());
  Client watcher(*server, server->token());
  const std::string rv = std::to_string(server->store().resource_version());
  // Whenever the write lands, before or after the watch opens, the watch from `rv` sees it.
  std::thread w([&] {
    writer.request("POST", "/api/v1/namespaces/default/configmaps", R"({"metadata":{"name":"a"}})");
  });
  const Reply r =
      watcher.request("GET", "/api/v1/namespaces/default/configmaps?watch=1&resourceVersion=" + rv +
                                 "&allowWatchBookmarks=true&timeoutSeconds=1");
  w.join();
  ASSERT_EQ(r.status, 200);
  const auto events = watch_lines(r.body);
  ASSERT_GE(events.size(), 2u);
  EXPECT_EQ(events[0]["type"], "ADDED");
  EXPECT_EQ(events[0]["object"]["metadata"]["name"], "a");
  bool bookmark = false;
  for (const auto& e : events) bookmark |= e["type"] == "BOOKMARK";
  EXPECT_TRUE(bookmark);
}

TEST_F(HttpTest, WatchFromCompactedVersionGetsErrorEvent) {
  auto server = start(false);
  Client c(*server, server->token(), false);
  const std::string old_rv = std::to_string(server->store().resource_version());
  c.request("POST", "/api/v1/namespaces/default/configmaps", R"({"metadata":{"name":"a"}})");
  ASSERT_EQ(c.request("POST", "/fairway-sim/faults", R"({"compact":true})").status, 200);
  const Reply r = c.request("GET", "/api/v1/configmaps?watch=true&resourceVersion=" + old_rv);
  ASSERT_EQ(r.status, 200);
  const auto events = watch_lines(r.body);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0]["type"], "ERROR");
  EXPECT_EQ(events[0]["object"]["code"], 410);
}

TEST_F(HttpTest, DropWatchesEndsOpenStreams) {
  auto server = start(false);
  Client watcher(*server, server->token(), false);
  std::thread dropper([&] {
    // Until the watch is open (the deadline only guards against a hang).
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (server->store().watcher_count() == 0 && std::chrono::steady_clock::now() < deadline)
      std::this_thread::yield();
    EXPECT_EQ(server->drop_watches(), 1u);
  });
  const Reply r = watcher.request("GET", "/api/v1/pods?watch=1&timeoutSeconds=30");
  dropper.join();
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(server->faults().counters().watches_dropped, 1u);
}

TEST_F(HttpTest, FaultsFailDelayAndReset) {
  auto server = start(false);
  Client c(*server, server->token(), false);
  EXPECT_EQ(c.request("POST", "/fairway-sim/faults",
                      R"({"failNext":2,"failCode":429,"retryAfterSeconds":3})")
                .status,
            200);
  const Reply first = c.request("GET", "/api/v1/pods");
  EXPECT_EQ(first.status, 429);
  EXPECT_EQ(first.retry_after, "3");
  EXPECT_EQ(first.json_body()["reason"], "TooManyRequests");
  EXPECT_EQ(c.request("GET", "/api/v1/pods").status, 429);
  EXPECT_EQ(c.request("GET", "/api/v1/pods").status, 200);

  server->faults().fail_next(1, 410);
  EXPECT_EQ(c.request("GET", "/api/v1/pods").json_body()["code"], 410);
  server->faults().fail_next(1, 500);
  EXPECT_EQ(c.request("GET", "/api/v1/pods").status, 500);

  server->faults().delay(150);
  const uint64_t delayed = server->faults().counters().delayed;
  EXPECT_EQ(c.request("GET", "/api/v1/pods").status, 200);
  // The answer was held back by the 150 ms asked for (counted, not timed: no wall clock here).
  EXPECT_EQ(server->faults().counters().delayed, delayed + 1);
  EXPECT_EQ(server->faults().settings().delay_ms, 150);
  server->faults().delay(0);

  server->faults().reset_next(1);
  EXPECT_EQ(c.request("GET", "/api/v1/pods").status, -1);  // connection reset
  Client fresh(*server, server->token(), false);
  EXPECT_EQ(fresh.request("GET", "/api/v1/pods").status, 200);
  EXPECT_EQ(fresh.request("POST", "/fairway-sim/faults", R"({"failNext":-1})").status, 400);
  Client anonymous(*server, "", false);
  EXPECT_EQ(anonymous.request("POST", "/fairway-sim/faults", R"({"failNext":1})").status, 401);
}

TEST_F(HttpTest, KubeconfigNamesServerCaAndToken) {
  auto server = start(true);
  const std::string kc = server->kubeconfig();
  EXPECT_NE(kc.find("server: " + server->url()), std::string::npos);
  EXPECT_NE(kc.find("certificate-authority-data: "), std::string::npos);
  EXPECT_NE(kc.find("token: " + server->token()), std::string::npos);
  EXPECT_NE(kc.find("current-context: fairway-sim"), std::string::npos);
}

}  // namespace
}  // namespace fairway::apiserver
