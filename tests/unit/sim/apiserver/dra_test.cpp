// resource.k8s.io/v1 (Dynamic Resource Allocation) on the embedded API server: served from
// Kubernetes 1.34, validated with kube-apiserver's words (422 Invalid naming the field), the
// claim's status written only through its status subresource, kube's table columns, and the
// examples/dra/ manifests accepted as they are and decodable by scheduler/dra.

#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "scheduler/dra/decode.h"
#include "sim/apiserver/api_handler.h"
#include "sim/apiserver/faults.h"
#include "sim/apiserver/server.h"
#include "sim/apiserver/store.h"

namespace fairway::apiserver {
namespace {

using nlohmann::json;

const std::string kApis = "/apis/resource.k8s.io/v1";
const std::string kClaims = kApis + "/namespaces/default/resourceclaims";
const std::string kTemplates = kApis + "/namespaces/default/resourceclaimtemplates";
const std::string kSlices = kApis + "/resourceslices";
const std::string kClasses = kApis + "/deviceclasses";

class DraApiTest : public ::testing::Test {
 protected:
  HttpResponse call(const std::string& method, const std::string& target,
                    const std::string& body = "", int minor = 34,
                    const std::string& content_type = "application/json",
                    const std::string& accept = "") {
    ApiHandlerOptions options;
    options.kubernetes_version = {minor};
    ApiHandler handler(store_, faults_, options);
    HttpRequest req;
    req.method = method;
    req.target = target;
    req.body = body;
    req.content_type = content_type;
    req.accept = accept;
    return std::get<HttpResponse>(handler.handle(req));
  }
  // POSTs `object`; expects a 422 whose message is `prefix` + `why`.
  void refused(const std::string& path, const json& object, const std::string& prefix,
               const std::string& why) {
    const HttpResponse r = call("POST", path, object.dump());
    EXPECT_EQ(r.status, 422) << r.body;
    EXPECT_EQ(json::parse(r.body)["message"], prefix + why) << r.body;
  }

  Store store_;
  Faults faults_;
};

json claim(const json& requests, const json& constraints = json::array()) {
  json devices = {{"requests", requests}};
  if (!constraints.empty()) devices["constraints"] = constraints;
  return {{"apiVersion", "resource.k8s.io/v1"},
          {"kind", "ResourceClaim"},
          {"metadata", {{"name", "c"}}},
          {"spec", {{"devices", devices}}}};
}
json exactly(const std::string& name, const json& fields) {
  json e = {{"deviceClassName", "gpu.example.com"}};
  for (const auto& [k, v] : fields.items()) e[k] = v;
  return {{"name", name}, {"exactly", e}};
}
json slice(const json& spec_fields) {
  json spec = {{"driver", "gpu.example.com"},
               {"pool", {{"name", "node-a"}, {"generation", 1}, {"resourceSliceCount", 1}}},
               {"nodeName", "node-a"},
               {"devices", json::array({{{"name", "gpu-0"}}})}};
  for (const auto& [k, v] : spec_fields.items()) {
    if (v.is_null()) {
      spec.erase(k);
    } else {
      spec[k] = v;
    }
  }
  return {{"apiVersion", "resource.k8s.io/v1"},
          {"kind", "ResourceSlice"},
          {"metadata", {{"name", "s"}}},
          {"spec", spec}};
}

TEST_F(DraApiTest, ServedFromKubernetes134WithKubesResourcesAndNoShortNames) {
  EXPECT_EQ(call("GET", "/apis/resource.k8s.io", "", 33).status, 404);
  EXPECT_EQ(call("GET", kClaims, "", 33).status, 404);
  for (int minor : {34, 35}) {
    const HttpResponse list = call("GET", kApis, "", minor);
    ASSERT_EQ(list.status, 200) << list.body;
    const json resources = json::parse(list.body)["resources"];
    std::map<std::string, json> by_name;
    for (const json& r : resources) by_name[r["name"].get<std::string>()] = r;
    EXPECT_EQ(by_name["deviceclasses"]["namespaced"], false);
    EXPECT_EQ(by_name["resourceslices"]["namespaced"], false);
    EXPECT_EQ(by_name["resourceclaims"]["namespaced"], true);
    EXPECT_EQ(by_name["resourceclaimtemplates"]["namespaced"], true);
    EXPECT_EQ(by_name["resourceclaims"]["kind"], "ResourceClaim");
    EXPECT_TRUE(by_name.contains("resourceclaims/status"));
    EXPECT_FALSE(by_name.contains("resourceslices/status"));
    for (const auto& [name, r] : by_name) {
      EXPECT_TRUE(!r.contains("shortNames") || r["shortNames"].empty()) << r.dump();
    }
  }
}

TEST_F(DraApiTest, ClaimRequestsAreValidatedAsKubeApiserverDoes) {
  const std::string p = "ResourceClaim.resource.k8s.io \"c\" is invalid: ";
  refused(kClaims, claim(json::array({{{"name", "gpu"}}})), p,
          "spec.devices.requests[0]: Required value: exactly one of `exactly` or "
          "`firstAvailable` is required");
  json both = exactly("gpu", json::object());
  both["firstAvailable"] = json::array({{{"name", "a"}, {"deviceClassName", "x"}}});
  refused(kClaims, claim(json::array({both})), p,
          "spec.devices.requests[0]: Invalid value: null: exactly one of `exactly` or "
          "`firstAvailable` is required, but multiple fields are set");
  refused(kClaims, claim(json::array({exactly("GPU", json::object())})), p,
          "spec.devices.requests[0].name: Invalid value: \"GPU\": a lowercase RFC 1123 label "
          "must consist of lower case alphanumeric characters or '-', and must start and end "
          "with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for "
          "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')");
  refused(kClaims,
          claim(json::array({exactly("gpu", json::object()), exactly("gpu", json::object())})), p,
          "spec.devices.requests[1]: Duplicate value: \"gpu\"");
  refused(kClaims, claim(json::array({{{"name", "gpu"}, {"exactly", {{"count", 1}}}}})), p,
          "spec.devices.requests[0].exactly.deviceClassName: Required value");
  refused(kClaims, claim(json::array({exactly("gpu", {{"allocationMode", "Some"}})})), p,
          "spec.devices.requests[0].exactly.allocationMode: Unsupported value: \"Some\": "
          "supported values: \"All\", \"ExactCount\"");
  refused(kClaims, claim(json::array({exactly("gpu", {{"count", 0}})})), p,
          "spec.devices.requests[0].exactly.count: Invalid value: 0: must be greater than zero");
  refused(kClaims, claim(json::array({exactly("gpu", {{"allocationMode", "All"}, {"count", 2}})})),
          p,
          "spec.devices.requests[0].exactly.count: Invalid value: 2: must not be specified when "
          "allocationMode is 'All'");
  refused(kClaims,
          claim(json::array({exactly("gpu", {{"selectors", json::array({json::object()})}})})), p,
          "spec.devices.requests[0].exactly.selectors[0].cel: Required value");
  refused(kClaims,
          claim(json::array({exactly("gpu", json::object())}),
                json::array({{{"requests", {"cpu"}}, {"matchAttribute", "a.com/x"}}})),
          p,
          "spec.devices.constraints[0].requests[0]: Invalid value: \"cpu\": must be the name of "
          "a request in the claim or the name of a request and a subrequest separated by '/'");
  refused(
      kClaims,
      claim(json::array({exactly("gpu", json::object())}), json::array({{{"requests", {"gpu"}}}})),
      p, "spec.devices.constraints[0].matchAttribute: Required value");
  json many = json::array();
  for (int i = 0; i < 33; ++i) many.push_back(exactly("r" + std::to_string(i), json::object()));
  refused(kClaims, claim(many), p,
          "spec.devices.requests: Too many: 33: must have at most 32 items");
  // The same rules on a template's spec.spec.
  json tmpl = {{"apiVersion", "resource.k8s.io/v1"},
               {"kind", "ResourceClaimTemplate"},
               {"metadata", {{"name", "t"}}},
               {"spec", {{"spec", claim(json::array({exactly("gpu", {{"count", -1}})}))["spec"]}}}};
  refused(kTemplates, tmpl, "ResourceClaimTemplate.resource.k8s.io \"t\" is invalid: ",
          "spec.spec.devices.requests[0].exactly.count: Invalid value: -1: must be greater than "
          "zero");
}

TEST_F(DraApiTest, ClaimDefaultsToExactlyOneDeviceAndItsSpecIsImmutable) {
  const HttpResponse created =
      call("POST", kClaims, claim(json::array({exactly("gpu", {})})).dump());
  ASSERT_EQ(created.status, 201) << created.body;
  const json stored = json::parse(created.body)["spec"]["devices"]["requests"][0]["exactly"];
  EXPECT_EQ(stored["allocationMode"], "ExactCount");
  EXPECT_EQ(stored["count"], 1);
  const HttpResponse update =
      call("PUT", kClaims + "/c", claim(json::array({exactly("gpu", {{"count", 2}})})).dump());
  EXPECT_EQ(update.status, 422) << update.body;
  const std::string message = json::parse(update.body)["message"];
  EXPECT_EQ(
      message.rfind("ResourceClaim.resource.k8s.io \"c\" is invalid: spec: Invalid value: ", 0), 0u)
      << message;
  EXPECT_TRUE(message.ends_with(": field is immutable")) << message;
  // Labels may change.
  const HttpResponse relabel = call("PATCH", kClaims + "/c", R"({"metadata":{"labels":{"a":"b"}}})",
                                    34, "application/merge-patch+json");
  EXPECT_EQ(relabel.status, 200) << relabel.body;
}

json allocation(const std::string& request, const std::string& device) {
  return {{"devices",
           {{"results", json::array({{{"request", request},
                                      {"driver", "gpu.example.com"},
                                      {"pool", "node-a"},
                                      {"device", device}}})}}}};
}

TEST_F(DraApiTest, ClaimStatusIsWrittenOnlyThroughTheStatusSubresource) {
  json c = claim(json::array({exactly("gpu", {})}));
  c["status"] = {{"allocation", allocation("gpu", "gpu-0")}};
  const HttpResponse created = call("POST", kClaims, c.dump());
  ASSERT_EQ(created.status, 201) << created.body;
  EXPECT_FALSE(json::parse(created.body).contains("status")) << "a new claim's status is reset";

  // A plain update's status is ignored.
  json plain = json::parse(created.body);
  plain["status"] = {{"allocation", allocation("gpu", "gpu-0")}};
  const HttpResponse ignored = call("PUT", kClaims + "/c", plain.dump());
  ASSERT_EQ(ignored.status, 200) << ignored.body;
  EXPECT_FALSE(json::parse(ignored.body).contains("status")) << ignored.body;

  const std::string p = "ResourceClaim.resource.k8s.io \"c\" is invalid: ";
  auto status_patch = [&](const json& status) {
    return call("PATCH", kClaims + "/c/status", json{{"status", status}}.dump(), 34,
                "application/merge-patch+json");
  };
  auto status_refused = [&](const json& status, const std::string& why) {
    const HttpResponse r = status_patch(status);
    EXPECT_EQ(r.status, 422) << r.body;
    EXPECT_EQ(json::parse(r.body)["message"], p + why) << r.body;
  };
  const json pod = {{"resource", "pods"}, {"name", "p"}, {"uid", "u-1"}};
  status_refused({{"reservedFor", {pod}}},
                 "status.reservedFor: Forbidden: may not be specified when `allocated` is not set");
  status_refused({{"allocation", allocation("cpu", "gpu-0")}},
                 "status.allocation.devices.results[0].request: Invalid value: \"cpu\": must be "
                 "the name of a request in the claim or the name of a request and a subrequest "
                 "separated by '/'");
  json no_driver = allocation("gpu", "gpu-0");
  no_driver["devices"]["results"][0].erase("driver");
  status_refused({{"allocation", no_driver}},
                 "status.allocation.devices.results[0].driver: Required value");

  const HttpResponse allocated = status_patch({{"allocation", allocation("gpu", "gpu-0")}});
  ASSERT_EQ(allocated.status, 200) << allocated.body;
  EXPECT_EQ(json::parse(allocated.body)["status"]["allocation"], allocation("gpu", "gpu-0"));
  // Once set, the allocation cannot change; reservedFor may grow up to 256 distinct consumers.
  const HttpResponse moved = status_patch({{"allocation", allocation("gpu", "gpu-1")}});
  EXPECT_EQ(moved.status, 422) << moved.body;
  EXPECT_NE(moved.body.find("status.allocation: Invalid value: "), std::string::npos);
  EXPECT_NE(moved.body.find("field is immutable"), std::string::npos);
  json reserved = json::array();
  for (int i = 0; i < 257; ++i) {
    reserved.push_back({{"resource", "pods"}, {"name", "p"}, {"uid", "u-" + std::to_string(i)}});
  }
  status_refused({{"reservedFor", reserved}},
                 "status.reservedFor: Too many: 257: must have at most 256 items");
  status_refused({{"reservedFor", {pod, pod}}}, "status.reservedFor[1]: Duplicate value: \"u-1\"");
  status_refused({{"reservedFor", {{{"resource", "pods"}, {"uid", "u-1"}}}}},
                 "status.reservedFor[0].name: Required value");
  reserved.erase(reserved.begin() + 256);
  EXPECT_EQ(status_patch({{"reservedFor", reserved}}).status, 200);
}

TEST_F(DraApiTest, SlicesAreValidatedAsKubeApiserverDoes) {
  const std::string p = "ResourceSlice.resource.k8s.io \"s\" is invalid: ";
  refused(kSlices, slice({{"driver", nullptr}}), p, "spec.driver: Required value");
  refused(kSlices, slice({{"pool", {{"generation", 1}, {"resourceSliceCount", 1}}}}), p,
          "spec.pool.name: Required value");
  refused(kSlices, slice({{"pool", {{"name", "a"}, {"generation", 1}}}}), p,
          "spec.pool.resourceSliceCount: Invalid value: 0: must be greater than zero");
  refused(kSlices,
          slice({{"pool", {{"name", "a"}, {"generation", -1}, {"resourceSliceCount", 1}}}}), p,
          "spec.pool.generation: Invalid value: -1: must be greater than or equal to zero");
  refused(kSlices, slice({{"nodeName", nullptr}}), p,
          "spec: Required value: exactly one of `nodeName`, `nodeSelector`, `allNodes`, "
          "`perDeviceNodeSelection` is required");
  refused(kSlices, slice({{"allNodes", true}}), p,
          "spec: Invalid value: \"{`nodeName`, `allNodes`}\": exactly one of `nodeName`, "
          "`nodeSelector`, `allNodes`, `perDeviceNodeSelection` is required, but multiple "
          "fields are set");
  refused(kSlices, slice({{"nodeName", nullptr}, {"allNodes", false}}), p,
          "spec.allNodes: Invalid value: false: must be either unset or set to true");
  refused(kSlices, slice({{"devices", json::array({{{"name", "GPU_0"}}})}}), p,
          "spec.devices[0].name: Invalid value: \"GPU_0\": a lowercase RFC 1123 label must "
          "consist of lower case alphanumeric characters or '-', and must start and end with an "
          "alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is "
          "'[a-z0-9]([-a-z0-9]*[a-z0-9])?')");
  refused(kSlices, slice({{"devices", json::array({{{"name", "g"}}, {{"name", "g"}}})}}), p,
          "spec.devices[1]: Duplicate value: \"g\"");
  refused(kSlices,
          slice({{"devices",
                  json::array({{{"name", "g"}, {"attributes", {{"index", json::object()}}}}})}}),
          p,
          "spec.devices[0].attributes[index]: Invalid value: \"\": exactly one value must be "
          "specified");
  json devices = json::array();
  for (int i = 0; i < 129; ++i) devices.push_back({{"name", "gpu-" + std::to_string(i)}});
  refused(kSlices, slice({{"devices", devices}}), p,
          "spec.devices: Too many: 129: must have at most 128 items");
  devices.erase(devices.begin() + 128);
  ASSERT_EQ(call("POST", kSlices, slice({{"devices", devices}}).dump()).status, 201);
  // kube-apiserver's field selectors for slices: spec.nodeName and spec.driver.
  auto listed = [&](const std::string& selector) {
    const HttpResponse r = call("GET", kSlices + "?fieldSelector=" + selector);
    EXPECT_EQ(r.status, 200) << r.body;
    const json list = json::parse(r.body);
    return list.contains("items") ? list["items"].size() : size_t{999};
  };
  EXPECT_EQ(listed("spec.nodeName%3Dnode-a"), 1u);
  EXPECT_EQ(listed("spec.driver%3Dother"), 0u);
  EXPECT_EQ(call("GET", kSlices + "?fieldSelector=spec.pool.name%3Dnode-a").status, 400);
  // Driver, pool name and node name are immutable; the devices may change.
  const HttpResponse moved = call("PUT", kSlices + "/s", slice({{"nodeName", "node-b"}}).dump());
  EXPECT_EQ(moved.status, 422) << moved.body;
  EXPECT_EQ(json::parse(moved.body)["message"],
            p + "spec.nodeName: Invalid value: \"node-b\": field is immutable");
  EXPECT_EQ(call("PUT", kSlices + "/s", slice({}).dump()).status, 200);
}

// The rules not covered above: slices' node fields, a constraint's attribute name, classes'
// selectors, a template's immutable spec.
TEST_F(DraApiTest, NodeFieldsAttributeNamesClassesAndTemplates) {
  const std::string p = "ResourceSlice.resource.k8s.io \"s\" is invalid: ";
  refused(kSlices, slice({{"nodeName", ""}}), p,
          "spec.nodeName: Invalid value: \"\": must be either unset or set to a non-empty string");
  refused(kSlices,
          slice({{"nodeName", nullptr}, {"nodeSelector", {{"nodeSelectorTerms", json::array()}}}}),
          p,
          "spec.nodeSelector.nodeSelectorTerms: Invalid value: []: must have exactly one node "
          "selector term");
  refused(kSlices, slice({{"devices", json::array({{{"name", "g"}, {"nodeName", "node-a"}}})}}), p,
          "spec.devices[0]: Invalid value: null: `nodeName`, `nodeSelector` and `allNodes` can "
          "only be set if `perDeviceNodeSelection` is set to true in the ResourceSlice spec");
  refused(kSlices, slice({{"nodeName", nullptr}, {"perDeviceNodeSelection", true}}), p,
          "spec.devices[0]: Required value: exactly one of `nodeName`, `nodeSelector`, or "
          "`allNodes` is required when `perDeviceNodeSelection` is set to true in the "
          "ResourceSlice spec");
  EXPECT_EQ(call("POST", kSlices,
                 slice({{"nodeName", nullptr},
                        {"perDeviceNodeSelection", true},
                        {"devices", json::array({{{"name", "g"}, {"nodeName", "node-a"}}})}})
                     .dump())
                .status,
            201);

  refused(kClaims,
          claim(json::array({exactly("gpu", json::object())}),
                json::array({{{"requests", {"gpu"}}, {"matchAttribute", "cliqueId"}}})),
          "ResourceClaim.resource.k8s.io \"c\" is invalid: ",
          "spec.devices.constraints[0].matchAttribute: Invalid value: \"cliqueId\": a fully "
          "qualified name must be a domain and a name separated by a slash");

  json klass = {{"apiVersion", "resource.k8s.io/v1"},
                {"kind", "DeviceClass"},
                {"metadata", {{"name", "gpu.example.com"}}},
                {"spec", {{"selectors", json::array({json::object()})}}}};
  refused(kClasses, klass, "DeviceClass.resource.k8s.io \"gpu.example.com\" is invalid: ",
          "spec.selectors[0].cel: Required value");

  json tmpl = {{"apiVersion", "resource.k8s.io/v1"},
               {"kind", "ResourceClaimTemplate"},
               {"metadata", {{"name", "t"}}},
               {"spec", {{"spec", claim(json::array({exactly("gpu", {})}))["spec"]}}}};
  ASSERT_EQ(call("POST", kTemplates, tmpl.dump()).status, 201);
  tmpl["spec"]["spec"]["devices"]["requests"][0]["exactly"]["count"] = 2;
  const HttpResponse update = call("PUT", kTemplates + "/t", tmpl.dump());
  EXPECT_EQ(update.status, 422) << update.body;
  const std::string message = json::parse(update.body)["message"];
  EXPECT_EQ(message.rfind("ResourceClaimTemplate.resource.k8s.io \"t\" is invalid: spec: ", 0), 0u)
      << message;
  EXPECT_TRUE(message.ends_with(": field is immutable")) << message;
}

// Fields of the wrong JSON type are refused (400, as kube-apiserver cannot decode them), never a
// crash; nothing is stored.
TEST_F(DraApiTest, OddShapesAreRefusedNotCrashedOn) {
  for (const json& devices : {json("gpu"), json{{"requests", "gpu"}}, json{{"requests", {1, 2}}},
                              json{{"requests", {{{"name", "g"}, {"exactly", "x"}}}}},
                              json{{"constraints", {{{"requests", "g"}}}}}}) {
    json c = claim(json::array());
    c["spec"]["devices"] = devices;
    const HttpResponse r = call("POST", kClaims, c.dump());
    EXPECT_EQ(r.status, 400) << devices.dump() << " " << r.body;
  }
  json s = slice({{"devices", json{{"name", "g"}}}});
  const HttpResponse r = call("POST", kSlices, s.dump());
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(json::parse(r.body)["message"],
            "ResourceSlice in version \"v1\" cannot be handled as a ResourceSlice: json: cannot "
            "unmarshal object into Go struct field spec.devices of type array");
  s = slice({{"devices", json::array({{{"name", "g"}, {"attributes", {{"a", 1}}}}})}});
  EXPECT_EQ(call("POST", kSlices, s.dump()).status, 422);
  const json listed = json::parse(call("GET", kClaims).body);
  EXPECT_TRUE(listed.contains("items") && listed["items"].empty()) << listed.dump();
}

TEST_F(DraApiTest, TablesHaveKubesColumns) {
  const std::string table = "application/json;as=Table;v=v1;g=meta.k8s.io";
  ASSERT_EQ(call("POST", kSlices, slice({}).dump()).status, 201);
  ASSERT_EQ(call("POST", kClaims, claim(json::array({exactly("gpu", {})})).dump()).status, 201);
  auto columns = [&](const std::string& path) {
    std::vector<std::string> names;
    const json t = json::parse(call("GET", path, "", 34, "application/json", table).body);
    for (const json& c : t["columnDefinitions"]) names.push_back(c["name"]);
    return std::pair{names, t["rows"]};
  };
  auto [slice_cols, slice_rows] = columns(kSlices);
  EXPECT_EQ(slice_cols, (std::vector<std::string>{"Name", "Node", "Driver", "Pool", "Age"}));
  EXPECT_EQ(slice_rows[0]["cells"][1], "node-a");
  EXPECT_EQ(slice_rows[0]["cells"][2], "gpu.example.com");
  EXPECT_EQ(slice_rows[0]["cells"][3], "node-a");
  auto [claim_cols, claim_rows] = columns(kClaims);
  EXPECT_EQ(claim_cols, (std::vector<std::string>{"Name", "State", "Age"}));
  EXPECT_EQ(claim_rows[0]["cells"][1], "pending");
  ASSERT_EQ(call("PATCH", kClaims + "/c/status",
                 json{{"status",
                       {{"allocation", allocation("gpu", "gpu-0")},
                        {"reservedFor", {{{"resource", "pods"}, {"name", "p"}, {"uid", "u"}}}}}}}
                     .dump(),
                 34, "application/merge-patch+json")
                .status,
            200);
  EXPECT_EQ(columns(kClaims).second[0]["cells"][1], "allocated,reserved");
  EXPECT_EQ(columns(kClasses).first, (std::vector<std::string>{"Name", "Age"}));
  EXPECT_EQ(columns(kTemplates).first, (std::vector<std::string>{"Name", "Age"}));
}

std::vector<json> example(const std::string& file) {
  std::ifstream in(std::string(FAIRWAY_SOURCE_DIR) + "/examples/dra/" + file);
  std::stringstream text;
  text << in.rdbuf();
  auto docs = yaml_documents_to_json(text.str());
  EXPECT_TRUE(docs) << file << ": " << (docs ? "" : docs.error());
  return docs ? *docs : std::vector<json>{};
}

// examples/dra/: the server accepts every object as it is, and scheduler/dra decodes them.
TEST_F(DraApiTest, TheExamplesAreAcceptedAndDecode) {
  ASSERT_EQ(call("POST", "/api/v1/namespaces", R"({"metadata":{"name":"team-a"}})").status, 201);
  const auto classes = example("02-deviceclass.yaml");
  ASSERT_EQ(classes.size(), 1u);
  EXPECT_EQ(call("POST", kClasses, classes[0].dump()).status, 201);
  auto decoded_class = dra::decode_device_class(classes[0]);
  EXPECT_TRUE(decoded_class) << decoded_class.error();

  const auto slices = example("03-resourceslices.yaml");
  ASSERT_EQ(slices.size(), 2u);
  for (const json& s : slices) {
    const HttpResponse r = call("POST", kSlices, s.dump());
    EXPECT_EQ(r.status, 201) << r.body;
    auto decoded = dra::decode_resource_slice(json::parse(r.body));
    ASSERT_TRUE(decoded) << decoded.error();
    EXPECT_EQ(decoded->devices.size(), 8u);
  }

  const auto templates = example("04-claim-template.yaml");
  ASSERT_EQ(templates.size(), 1u);
  const HttpResponse t =
      call("POST", kApis + "/namespaces/team-a/resourceclaimtemplates", templates[0].dump());
  EXPECT_EQ(t.status, 201) << t.body;
  auto decoded_template = dra::decode_resource_claim_template(json::parse(t.body));
  EXPECT_TRUE(decoded_template) << decoded_template.error();

  const auto pods = example("05-training-pod.yaml");
  ASSERT_EQ(pods.size(), 1u);
  const HttpResponse pod = call("POST", "/api/v1/namespaces/team-a/pods", pods[0].dump());
  EXPECT_EQ(pod.status, 201) << pod.body;
  EXPECT_EQ(json::parse(pod.body)["spec"]["resourceClaims"][0]["resourceClaimTemplateName"],
            "four-nvlinked-gpus");
}

}  // namespace
}  // namespace fairway::apiserver
