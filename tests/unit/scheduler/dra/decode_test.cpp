// Decoding resource.k8s.io/v1 objects: complete objects, name qualification, and a clear error
// naming the field for each kind of odd input.
#include "scheduler/dra/decode.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace fairway::dra {
namespace {

using nlohmann::json;
using testing::ElementsAre;
using testing::HasSubstr;

json slice_json() {
  return json::parse(R"({
    "apiVersion": "resource.k8s.io/v1", "kind": "ResourceSlice",
    "metadata": {"name": "node-a-gpu.example.com-x7k2p"},
    "spec": {
      "driver": "gpu.example.com",
      "pool": {"name": "node-a", "generation": 3, "resourceSliceCount": 2},
      "nodeName": "node-a",
      "devices": [
        {"name": "gpu-0",
         "attributes": {
           "model": {"string": "H100"},
           "index": {"int": 0},
           "healthy": {"bool": true},
           "driverVersion": {"version": "550.54.15"},
           "nvlink.example.com/cliqueId": {"string": "c1"}},
         "capacity": {"memory": {"value": "80Gi"}, "sms": {"value": 132}}},
        {"name": "gpu-1"}
      ]}})");
}

TEST(DecodeResourceSlice, ReadsPoolDevicesAndQualifiesNames) {
  auto slice = decode_resource_slice(slice_json());
  ASSERT_TRUE(slice) << slice.error();
  EXPECT_EQ(slice->name, "node-a-gpu.example.com-x7k2p");
  EXPECT_EQ(slice->driver, "gpu.example.com");
  EXPECT_EQ(slice->pool.name, "node-a");
  EXPECT_EQ(slice->pool.generation, 3);
  EXPECT_EQ(slice->pool.resource_slice_count, 2);
  EXPECT_EQ(slice->node_name, "node-a");
  ASSERT_EQ(slice->devices.size(), 2u);
  const Device& gpu = slice->devices[0];
  EXPECT_EQ(gpu.attributes.at("gpu.example.com/model"), AttributeValue{std::string("H100")});
  EXPECT_EQ(gpu.attributes.at("gpu.example.com/index"), AttributeValue{int64_t{0}});
  EXPECT_EQ(gpu.attributes.at("gpu.example.com/healthy"), AttributeValue{true});
  EXPECT_EQ(gpu.attributes.at("gpu.example.com/driverVersion"),
            AttributeValue{Version{"550.54.15"}});
  // A qualified name keeps its own domain.
  EXPECT_EQ(gpu.attributes.at("nvlink.example.com/cliqueId"), AttributeValue{std::string("c1")});
  EXPECT_EQ(gpu.capacity.at("gpu.example.com/memory").milli, (int64_t{80} << 30) * 1000);
  EXPECT_EQ(gpu.capacity.at("gpu.example.com/sms").milli, 132000);
  EXPECT_TRUE(slice->devices[1].attributes.empty());
}

TEST(DecodeResourceSlice, NodeSelectorAndAllNodes) {
  json j = slice_json();
  j["spec"].erase("nodeName");
  j["spec"]["nodeSelector"] = json::parse(
      R"({"nodeSelectorTerms": [{"matchExpressions": [{"key": "rack", "operator": "In", "values": ["r1"]}]}]})");
  auto slice = decode_resource_slice(j);
  ASSERT_TRUE(slice) << slice.error();
  ASSERT_EQ(slice->node_selector.size(), 1u);
  EXPECT_EQ(slice->node_selector[0].match_expressions[0].key, "rack");
  EXPECT_THAT(slice->node_selector[0].match_expressions[0].values, ElementsAre("r1"));
  j["spec"].erase("nodeSelector");
  j["spec"]["allNodes"] = true;
  slice = decode_resource_slice(j);
  ASSERT_TRUE(slice) << slice.error();
  EXPECT_TRUE(slice->all_nodes);
}

struct BadInput {
  std::string name;
  std::function<void(json&)> edit;
  std::string error;
};

void PrintTo(const BadInput& c, std::ostream* os) {
  *os << c.name;
}

class DecodeResourceSliceError : public testing::TestWithParam<BadInput> {};

TEST_P(DecodeResourceSliceError, NamesTheField) {
  json j = slice_json();
  GetParam().edit(j);
  auto slice = decode_resource_slice(j);
  ASSERT_FALSE(slice);
  EXPECT_THAT(slice.error(), HasSubstr(GetParam().error));
}

INSTANTIATE_TEST_SUITE_P(
    Slices, DecodeResourceSliceError,
    testing::Values(
        BadInput{"not_object", [](json& j) { j = json::array(); }, "object: must be an object"},
        BadInput{"no_metadata", [](json& j) { j.erase("metadata"); }, "metadata: required value"},
        BadInput{"no_name", [](json& j) { j["metadata"].erase("name"); },
                 "metadata.name: required value"},
        BadInput{"no_spec", [](json& j) { j.erase("spec"); }, "spec: required value"},
        BadInput{"no_driver", [](json& j) { j["spec"].erase("driver"); },
                 "spec.driver: required value"},
        BadInput{"driver_number", [](json& j) { j["spec"]["driver"] = 3; },
                 "spec.driver: must be a string"},
        BadInput{"no_pool", [](json& j) { j["spec"].erase("pool"); }, "spec.pool: required value"},
        BadInput{"generation_string", [](json& j) { j["spec"]["pool"]["generation"] = "1"; },
                 "spec.pool.generation: must be an integer"},
        BadInput{"slice_count_zero", [](json& j) { j["spec"]["pool"]["resourceSliceCount"] = 0; },
                 "spec.pool.resourceSliceCount: must be >= 1"},
        BadInput{"two_places", [](json& j) { j["spec"]["allNodes"] = true; },
                 "spec: exactly one of `nodeName`, `nodeSelector`, `allNodes` is required"},
        BadInput{"no_place", [](json& j) { j["spec"].erase("nodeName"); },
                 "spec: exactly one of `nodeName`, `nodeSelector`, `allNodes` is required"},
        BadInput{"per_device", [](json& j) { j["spec"]["perDeviceNodeSelection"] = true; },
                 "spec.perDeviceNodeSelection: not supported by fairway yet"},
        BadInput{"devices_object", [](json& j) { j["spec"]["devices"] = json::object(); },
                 "spec.devices: must be an array"},
        BadInput{"device_no_name", [](json& j) { j["spec"]["devices"][1].erase("name"); },
                 "spec.devices[1].name: required value"},
        BadInput{"attribute_two_values",
                 [](json& j) { j["spec"]["devices"][0]["attributes"]["model"]["int"] = 1; },
                 "spec.devices[0].attributes[model]: exactly one of bool, int, string, version"},
        BadInput{"attribute_no_value",
                 [](json& j) { j["spec"]["devices"][0]["attributes"]["model"] = json::object(); },
                 "spec.devices[0].attributes[model]: exactly one of"},
        BadInput{"attribute_int_string",
                 [](json& j) {
                   j["spec"]["devices"][0]["attributes"]["index"] = {{"int", "1"}};
                 },
                 "spec.devices[0].attributes[index].int: must be an integer"},
        BadInput{
            "attribute_int_huge",
            [](json& j) {
              j["spec"]["devices"][0]["attributes"]["index"] = {{"int", 18446744073709551615u}};
            },
            "attributes[index].int: must fit in a 64-bit signed integer"},
        BadInput{"bad_version",
                 [](json& j) {
                   j["spec"]["devices"][0]["attributes"]["driverVersion"] = {{"version", "v1"}};
                 },
                 "attributes[driverVersion].version: Invalid value: \"v1\""},
        BadInput{"bad_quantity",
                 [](json& j) { j["spec"]["devices"][0]["capacity"]["memory"]["value"] = "80Qi"; },
                 "spec.devices[0].capacity[memory].value: quantity \"80Qi\""},
        BadInput{"capacity_no_value",
                 [](json& j) { j["spec"]["devices"][0]["capacity"]["memory"] = "80Gi"; },
                 "spec.devices[0].capacity[memory].value: required value"},
        BadInput{
            "bad_operator",
            [](json& j) {
              j["spec"].erase("nodeName");
              j["spec"]["nodeSelector"] = json::parse(
                  R"({"nodeSelectorTerms": [{"matchExpressions": [{"key": "k", "operator": "Near"}]}]})");
            },
            "spec.nodeSelector.nodeSelectorTerms[0].matchExpressions[0].operator: Unsupported "
            "value: \"Near\""}),
    [](const testing::TestParamInfo<BadInput>& param_info) { return param_info.param.name; });

json claim_json() {
  return json::parse(R"({
    "apiVersion": "resource.k8s.io/v1", "kind": "ResourceClaim",
    "metadata": {"name": "train-gpus", "namespace": "team", "uid": "u-1"},
    "spec": {"devices": {
      "requests": [
        {"name": "gpus", "exactly": {"deviceClassName": "gpu.example.com", "count": 4,
          "selectors": [{"cel": {"expression": "device.attributes[\"gpu.example.com\"].model == \"H100\""}}]}},
        {"name": "nic", "firstAvailable": [
          {"name": "fast", "deviceClassName": "nic.example.com", "allocationMode": "All"},
          {"name": "any", "deviceClassName": "nic.example.com", "adminAccess": true}]}],
      "constraints": [{"requests": ["gpus", "nic"], "matchAttribute": "example.com/pcieRoot"}]}},
    "status": {
      "allocation": {
        "devices": {"results": [
          {"request": "gpus", "driver": "gpu.example.com", "pool": "node-a", "device": "gpu-0"}]},
        "nodeSelector": {"nodeSelectorTerms": [{"matchFields": [
          {"key": "metadata.name", "operator": "In", "values": ["node-a"]}]}]}},
      "reservedFor": [{"resource": "pods", "name": "trainer-0", "uid": "p-1"}]}})");
}

TEST(DecodeResourceClaim, ReadsRequestsConstraintsAndStatus) {
  auto claim = decode_resource_claim(claim_json());
  ASSERT_TRUE(claim) << claim.error();
  EXPECT_EQ(claim->namespace_, "team");
  EXPECT_EQ(claim->uid, "u-1");
  EXPECT_FALSE(claim->deleting);
  ASSERT_EQ(claim->spec.requests.size(), 2u);
  const DeviceRequest& gpus = claim->spec.requests[0];
  ASSERT_TRUE(gpus.exactly);
  EXPECT_EQ(gpus.exactly->device_class_name, "gpu.example.com");
  EXPECT_EQ(gpus.exactly->count, 4);
  EXPECT_EQ(gpus.exactly->allocation_mode, AllocationMode::kExactCount);
  EXPECT_THAT(gpus.exactly->selectors,
              ElementsAre(R"(device.attributes["gpu.example.com"].model == "H100")"));
  const DeviceRequest& nic = claim->spec.requests[1];
  EXPECT_FALSE(nic.exactly);
  ASSERT_EQ(nic.first_available.size(), 2u);
  EXPECT_EQ(nic.first_available[0].choice.allocation_mode, AllocationMode::kAll);
  EXPECT_EQ(nic.first_available[1].choice.count, 1);  // the default
  EXPECT_TRUE(nic.first_available[1].choice.admin_access);
  ASSERT_EQ(claim->spec.constraints.size(), 1u);
  EXPECT_THAT(claim->spec.constraints[0].requests, ElementsAre("gpus", "nic"));
  EXPECT_EQ(claim->spec.constraints[0].match_attribute, "example.com/pcieRoot");
  ASSERT_TRUE(claim->allocation);
  EXPECT_EQ(claim->allocation->devices[0],
            (DeviceRequestAllocationResult{"gpus", "gpu.example.com", "node-a", "gpu-0", false}));
  EXPECT_EQ(claim->allocation->node_selector[0].match_fields[0].values[0], "node-a");
  ASSERT_EQ(claim->reserved_for.size(), 1u);
  EXPECT_EQ(claim->reserved_for[0].uid, "p-1");
  json deleting = claim_json();
  deleting["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z";
  EXPECT_TRUE(decode_resource_claim(deleting)->deleting);
}

class DecodeResourceClaimError : public testing::TestWithParam<BadInput> {};

TEST_P(DecodeResourceClaimError, NamesTheField) {
  json j = claim_json();
  GetParam().edit(j);
  auto claim = decode_resource_claim(j);
  ASSERT_FALSE(claim);
  EXPECT_THAT(claim.error(), HasSubstr(GetParam().error));
}

INSTANTIATE_TEST_SUITE_P(
    Claims, DecodeResourceClaimError,
    testing::Values(
        BadInput{"neither", [](json& j) { j["spec"]["devices"]["requests"][0].erase("exactly"); },
                 "spec.devices.requests[0]: exactly one of `exactly` or `firstAvailable`"},
        BadInput{"both",
                 [](json& j) {
                   j["spec"]["devices"]["requests"][1]["exactly"] = {{"deviceClassName", "x"}};
                 },
                 "spec.devices.requests[1]: exactly one of `exactly` or `firstAvailable`"},
        BadInput{"no_class",
                 [](json& j) {
                   j["spec"]["devices"]["requests"][0]["exactly"].erase("deviceClassName");
                 },
                 "spec.devices.requests[0].exactly.deviceClassName: required value"},
        BadInput{"bad_mode",
                 [](json& j) {
                   j["spec"]["devices"]["requests"][0]["exactly"]["allocationMode"] = "Some";
                 },
                 "exactly.allocationMode: Unsupported value: \"Some\""},
        BadInput{"zero_count",
                 [](json& j) { j["spec"]["devices"]["requests"][0]["exactly"]["count"] = 0; },
                 "exactly.count: must be greater than zero"},
        BadInput{"count_double",
                 [](json& j) { j["spec"]["devices"]["requests"][0]["exactly"]["count"] = 1.5; },
                 "exactly.count: must be an integer"},
        BadInput{"selector_without_cel",
                 [](json& j) {
                   j["spec"]["devices"]["requests"][0]["exactly"]["selectors"][0] = json::object();
                 },
                 "exactly.selectors[0].cel: required value"},
        BadInput{
            "sub_no_name",
            [](json& j) { j["spec"]["devices"]["requests"][1]["firstAvailable"][0].erase("name"); },
            "requests[1].firstAvailable[0].name: required value"},
        BadInput{
            "unqualified_match",
            [](json& j) { j["spec"]["devices"]["constraints"][0]["matchAttribute"] = "model"; },
            "spec.devices.constraints[0].matchAttribute: must be a fully qualified name"},
        BadInput{"constraint_requests_number",
                 [](json& j) { j["spec"]["devices"]["constraints"][0]["requests"] = {1}; },
                 "spec.devices.constraints[0].requests[0]: must be a string"},
        BadInput{
            "result_no_device",
            [](json& j) { j["status"]["allocation"]["devices"]["results"][0].erase("device"); },
            "status.allocation.devices.results[0].device: required value"},
        BadInput{"reserved_no_uid", [](json& j) { j["status"]["reservedFor"][0].erase("uid"); },
                 "status.reservedFor[0].uid: required value"},
        BadInput{"status_array", [](json& j) { j["status"] = json::array(); },
                 "status: must be an object"}),
    [](const testing::TestParamInfo<BadInput>& param_info) { return param_info.param.name; });

TEST(DecodeDeviceClass, ReadsSelectors) {
  auto cls = decode_device_class(json::parse(R"({
    "metadata": {"name": "gpu.example.com"},
    "spec": {"selectors": [{"cel": {"expression": "device.driver == \"gpu.example.com\""}}],
             "config": [{"opaque": {"driver": "gpu.example.com", "parameters": {}}}]}})"));
  ASSERT_TRUE(cls) << cls.error();
  EXPECT_EQ(cls->name, "gpu.example.com");
  EXPECT_THAT(cls->selectors, ElementsAre(R"(device.driver == "gpu.example.com")"));
  auto bad = decode_device_class(json::parse(
      R"({"metadata": {"name": "x"}, "spec": {"selectors": [{"cel": {"expression": 1}}]}})"));
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error(), "spec.selectors[0].cel.expression: must be a string");
}

TEST(DecodeResourceClaimTemplate, ReadsTheClaimSpecAndItsMetadata) {
  auto tmpl = decode_resource_claim_template(json::parse(R"({
    "metadata": {"name": "four-gpus", "namespace": "team"},
    "spec": {"metadata": {"labels": {"app": "train"}},
             "spec": {"devices": {"requests": [
               {"name": "gpus", "exactly": {"deviceClassName": "gpu.example.com", "count": 4}}]}}}})"));
  ASSERT_TRUE(tmpl) << tmpl.error();
  EXPECT_EQ(tmpl->namespace_, "team");
  EXPECT_EQ(tmpl->labels.at("app"), "train");
  ASSERT_EQ(tmpl->spec.requests.size(), 1u);
  EXPECT_EQ(tmpl->spec.requests[0].exactly->count, 4);
  auto bad = decode_resource_claim_template(
      json::parse(R"({"metadata": {"name": "t"}, "spec": {"metadata": {"labels": {"a": 1}}}})"));
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error(), "spec.metadata.labels.a: must be a string");
  bad = decode_resource_claim_template(json::parse(R"({"metadata": {"name": "t"}, "spec": {}})"));
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error(), "spec.spec: required value");
}

}  // namespace
}  // namespace fairway::dra

namespace fairway::dra {
namespace {

// Every decoder answers odd shapes with an error value, never an exception or a crash.
TEST(DecodeOddInput, NeverThrows) {
  const char* documents[] = {
      "null",
      "1",
      "\"x\"",
      "[]",
      "{}",
      R"({"metadata": 1})",
      R"({"metadata": {"name": 1}})",
      R"({"metadata": {"name": "a"}, "spec": []})",
      R"({"metadata": {"name": "a"}, "spec": {"devices": []}})",
      R"({"metadata": {"name": "a"}, "spec": {"devices": {"requests": [1, null, "x"]}}})",
      R"({"metadata": {"name": "a"}, "spec": {"devices": {"requests": {}}}})",
      R"({"metadata": {"name": "a"}, "spec": {"driver": "d", "pool": [], "devices": [[]]}})",
      R"({"metadata": {"name": "a"}, "spec": {"driver": "d", "pool": {"name": "p"}, "allNodes": true, "devices": [{"name": "x", "attributes": [], "capacity": {"c": {"value": null}}}]}})",
      R"({"metadata": {"name": "a"}, "spec": {"selectors": [{"cel": []}]}, "status": {"allocation": []}})",
      R"({"metadata": {"name": "a"}, "spec": {"spec": []}, "status": {"reservedFor": [[]]}})",
  };
  for (const char* text : documents) {
    const json j = json::parse(text);
    EXPECT_NO_THROW({
      EXPECT_FALSE(decode_resource_slice(j)) << text;
      (void)decode_device_class(j);
      (void)decode_resource_claim(j);
      EXPECT_FALSE(decode_resource_claim_template(j)) << text;
    }) << text;
  }
}

}  // namespace
}  // namespace fairway::dra
