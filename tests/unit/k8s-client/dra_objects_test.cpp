// The resource.k8s.io/v1 kinds through k8s-client's machinery (dra_objects.h): single objects,
// lists whose bad item is an ItemError naming the field, and watch events.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "k8s-client/objects.h"

namespace fairway::k8s {
namespace {

using ::testing::HasSubstr;

constexpr const char* kSlice =
    R"({"metadata":{"name":"node-a-gpu","resourceVersion":"7","uid":"s-1"},
  "spec":{"driver":"gpu.example.com","pool":{"name":"node-a","generation":1,"resourceSliceCount":1},
          "nodeName":"node-a","devices":[{"name":"gpu-0","attributes":{"model":{"string":"H100"}}}]}})";
constexpr const char* kClass = R"({"metadata":{"name":"gpu.example.com","resourceVersion":"8"},
  "spec":{"selectors":[{"cel":{"expression":"device.driver == \"gpu.example.com\""}}]}})";
constexpr const char* kClaim = R"({"metadata":{"name":"train-gpus","namespace":"ml","uid":"c-1",
    "resourceVersion":"42"},
  "spec":{"devices":{"requests":[{"name":"gpus","exactly":{"deviceClassName":"gpu.example.com","count":2}}]}}})";
constexpr const char* kTemplate =
    R"({"metadata":{"name":"two-gpus","namespace":"ml","resourceVersion":"9"},
  "spec":{"metadata":{"labels":{"app":"train"}},
          "spec":{"devices":{"requests":[{"name":"gpus","exactly":{"deviceClassName":"gpu.example.com"}}]}}}})";

// {"metadata":...,"items":[good, bad]}.
std::string list_of(const std::string& good, const std::string& bad) {
  return R"({"metadata":{"resourceVersion":"100"},"items":[)" + good + "," + bad + "]}";
}

TEST(DecodeDra, SingleObjectsWithTheirMetadata) {
  auto slice = decode_resource_slice(kSlice);
  ASSERT_TRUE(slice) << slice.error();
  EXPECT_EQ(slice->meta.name, "node-a-gpu");
  EXPECT_EQ(slice->meta.resource_version, "7");
  EXPECT_EQ(slice->object.name, "node-a-gpu");
  EXPECT_EQ(slice->object.driver, "gpu.example.com");
  ASSERT_EQ(slice->object.devices.size(), 1u);

  auto device_class = decode_device_class(kClass);
  ASSERT_TRUE(device_class) << device_class.error();
  EXPECT_EQ(device_class->object.name, "gpu.example.com");
  EXPECT_EQ(device_class->object.selectors.size(), 1u);

  auto claim = decode_resource_claim(kClaim);
  ASSERT_TRUE(claim) << claim.error();
  EXPECT_EQ(claim->meta.key(), "ml/train-gpus");
  EXPECT_EQ(claim->meta.uid, "c-1");
  EXPECT_EQ(claim->object.uid, "c-1");
  // The version a status write is made conditional on.
  EXPECT_EQ(claim->object.resource_version, "42");
  ASSERT_EQ(claim->object.spec.requests.size(), 1u);
  EXPECT_EQ(claim->object.spec.requests[0].exactly->count, 2);

  auto claim_template = decode_resource_claim_template(kTemplate);
  ASSERT_TRUE(claim_template) << claim_template.error();
  EXPECT_EQ(claim_template->meta.key(), "ml/two-gpus");
  EXPECT_EQ(claim_template->object.labels.at("app"), "train");
}

TEST(DecodeDra, BadObjectsAreErrorsNamingTheFieldNeverExceptions) {
  auto no_driver = decode_resource_slice(
      R"({"metadata":{"name":"s"},"spec":{"pool":{"name":"p","generation":1,"resourceSliceCount":1},"nodeName":"n"}})");
  ASSERT_FALSE(no_driver);
  EXPECT_THAT(no_driver.error(), HasSubstr("spec.driver"));
  auto wrong_type = decode_resource_claim(R"({"metadata":{"name":"c","namespace":"n"},"spec":[]})");
  ASSERT_FALSE(wrong_type);
  EXPECT_THAT(wrong_type.error(), HasSubstr("spec"));
  auto bad_metadata = decode_device_class(R"({"metadata":{"name":7}})");
  ASSERT_FALSE(bad_metadata);
  EXPECT_THAT(bad_metadata.error(), HasSubstr("metadata.name"));
  EXPECT_FALSE(decode_resource_claim_template("[]"));
  EXPECT_FALSE(decode_resource_claim_template(R"({"metadata":)"));
}

TEST(DecodeDra, AListKeepsTheGoodItemAndNamesTheBadOne) {
  auto slices = decode_list<dra::ResourceSlice>(list_of(
      kSlice,
      R"({"metadata":{"name":"broken"},"spec":{"driver":"d","pool":{"name":"p","generation":1,"resourceSliceCount":1},"nodeName":"n","allNodes":true}})"));
  ASSERT_TRUE(slices) << slices.error();
  EXPECT_EQ(slices->resource_version, "100");
  ASSERT_EQ(slices->items.size(), 1u);
  EXPECT_EQ(slices->items[0].object.name, "node-a-gpu");
  ASSERT_EQ(slices->errors.size(), 1u);
  EXPECT_EQ(slices->errors[0].key, "broken");
  EXPECT_THAT(slices->errors[0].message, HasSubstr("items[1]: spec"));

  auto classes = decode_list<dra::DeviceClass>(
      list_of(kClass, R"({"metadata":{"name":"odd"},"spec":{"selectors":[{"cel":{}}]}})"));
  ASSERT_TRUE(classes) << classes.error();
  ASSERT_EQ(classes->items.size(), 1u);
  ASSERT_EQ(classes->errors.size(), 1u);
  EXPECT_EQ(classes->errors[0].key, "odd");
  EXPECT_THAT(classes->errors[0].message, HasSubstr("items[1]: spec.selectors[0].cel"));

  auto claims = decode_list<dra::ResourceClaim>(list_of(
      kClaim,
      R"({"metadata":{"name":"c2","namespace":"ml"},"spec":{"devices":{"requests":[{"name":"gpus","exactly":{"deviceClassName":"gpu.example.com","count":"two"}}]}}})"));
  ASSERT_TRUE(claims) << claims.error();
  ASSERT_EQ(claims->items.size(), 1u);
  EXPECT_EQ(claims->items[0].object.resource_version, "42");
  ASSERT_EQ(claims->errors.size(), 1u);
  EXPECT_EQ(claims->errors[0].key, "ml/c2");
  EXPECT_THAT(claims->errors[0].message,
              HasSubstr("items[1]: spec.devices.requests[0].exactly.count"));

  auto templates = decode_list<dra::ResourceClaimTemplate>(
      list_of(kTemplate, R"({"metadata":{"name":"t2","namespace":"ml"},"spec":{}})"));
  ASSERT_TRUE(templates) << templates.error();
  ASSERT_EQ(templates->items.size(), 1u);
  ASSERT_EQ(templates->errors.size(), 1u);
  EXPECT_EQ(templates->errors[0].key, "ml/t2");
  EXPECT_THAT(templates->errors[0].message, HasSubstr("items[1]: spec.spec: required value"));

  // An item that is not an object is named by its index alone.
  auto odd = decode_list<dra::ResourceSlice>(list_of(kSlice, "7"));
  ASSERT_TRUE(odd) << odd.error();
  ASSERT_EQ(odd->errors.size(), 1u);
  EXPECT_EQ(odd->errors[0].key, "");
  EXPECT_THAT(odd->errors[0].message, HasSubstr("items[1]"));

  // The same through the caller-provided decoder (a reflector built with another function).
  auto custom = decode_list<dra::ResourceClaim>(
      list_of(kClaim, R"({"metadata":{"name":"c3","namespace":"ml"}})"), &decode_resource_claim);
  ASSERT_TRUE(custom) << custom.error();
  ASSERT_EQ(custom->items.size(), 1u);
  ASSERT_EQ(custom->errors.size(), 1u);
  EXPECT_THAT(custom->errors[0].message, HasSubstr("spec: required value"));
}

TEST(DecodeDra, WatchEvents) {
  auto added = decode_watch_event<dra::ResourceClaim>(std::string(R"({"type":"ADDED","object":)") +
                                                      kClaim + "}");
  ASSERT_TRUE(added) << added.error();
  EXPECT_EQ(added->kind, WatchEventKind::kAdded);
  EXPECT_TRUE(added->object_error.empty()) << added->object_error;
  EXPECT_EQ(added->object.meta.key(), "ml/train-gpus");
  EXPECT_EQ(added->object.object.resource_version, "42");

  auto deleted = decode_watch_event<dra::ResourceSlice>(
      std::string(R"({"type":"DELETED","object":)") + kSlice + "}");
  ASSERT_TRUE(deleted) << deleted.error();
  EXPECT_EQ(deleted->kind, WatchEventKind::kDeleted);
  EXPECT_EQ(deleted->object.object.name, "node-a-gpu");

  // A bookmark carries only metadata: it must not trip the required spec.
  auto bookmark = decode_watch_event<dra::DeviceClass>(
      R"({"type":"BOOKMARK","object":{"kind":"DeviceClass","apiVersion":"resource.k8s.io/v1","metadata":{"resourceVersion":"55"}}})");
  ASSERT_TRUE(bookmark) << bookmark.error();
  EXPECT_EQ(bookmark->object.meta.resource_version, "55");

  // A bad object keeps the event (and its resourceVersion) with the error naming the field.
  auto bad = decode_watch_event<dra::ResourceClaimTemplate>(
      R"({"type":"MODIFIED","object":{"metadata":{"name":"t","namespace":"ml","resourceVersion":"56"},"spec":{"spec":{"devices":{"requests":[{"name":"x"}]}}}}})");
  ASSERT_TRUE(bad) << bad.error();
  EXPECT_THAT(bad->object_error, HasSubstr("object.spec.spec.devices.requests[0]"));
  EXPECT_EQ(bad->object.meta.resource_version, "56");
}

}  // namespace
}  // namespace fairway::k8s
