// Custom resources against their CRD's structural schema: each keyword with kube-apiserver's
// words (field path, error type, detail), pruning of unknown fields, nulls and defaults, the 422
// Status, and the store applying all of it on create, update, patch and status writes.

#include "sim/apiserver/schema.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "sim/apiserver/server.h"
#include "sim/apiserver/store.h"

namespace fairway::apiserver {
namespace {

using nlohmann::json;
using ::testing::ElementsAre;

// "field: body" of every error, in order.
std::vector<std::string> errors_of(const json& schema, const json& object) {
  std::vector<std::string> out;
  for (const FieldError& e : validate_against_schema(object, schema)) out.push_back(e.text());
  return out;
}

json object_with(const json& spec) {
  return {
      {"apiVersion", "x.dev/v1"}, {"kind", "Thing"}, {"metadata", {{"name", "t"}}}, {"spec", spec}};
}

json root(const json& spec_schema) {
  return {{"type", "object"},
          {"properties",
           {{"apiVersion", {{"type", "string"}}},
            {"kind", {{"type", "string"}}},
            {"metadata", {{"type", "object"}}},
            {"spec", spec_schema}}}};
}

std::vector<std::string> check(const json& spec_schema, const json& spec) {
  return errors_of(root(spec_schema), object_with(spec));
}

json props(const json& properties) {
  return {{"type", "object"}, {"properties", properties}};
}

// What fieldValidation names: exactly the fields pruning drops, with their paths.
TEST(Schema, UnknownFieldsAreWhatPruningDrops) {
  const json s = props(
      {{"spec",
        props({{"levels",
                {{"type", "array"}, {"items", props({{"nodeLabel", {{"type", "string"}}}})}}},
               {"labels", {{"type", "object"}, {"additionalProperties", {{"type", "string"}}}}},
               {"free", {{"type", "object"}, {"x-kubernetes-preserve-unknown-fields", true}}}})}});
  json object = json::parse(R"({"apiVersion":"v1","kind":"X","metadata":{"name":"x","odd":1},
      "spec":{"colour":"blue","levels":[{"nodeLabel":"a"},{"nodeLabel":"b","weight":2}],
      "labels":{"any":"thing"},"free":{"anything":{"goes":1}}},"extra":true})");
  EXPECT_EQ(unknown_fields(object, s),
            (std::vector<std::string>{"extra", "spec.colour", "spec.levels[1].weight"}));
  prune_unknown_fields(object, s);
  EXPECT_TRUE(unknown_fields(object, s).empty());
  EXPECT_FALSE(object["spec"].contains("colour"));
}

TEST(Schema, Types) {
  const json s = props({{"s", {{"type", "string"}}},
                        {"i", {{"type", "integer"}}},
                        {"n", {{"type", "number"}}},
                        {"b", {{"type", "boolean"}}},
                        {"a", {{"type", "array"}, {"items", {{"type", "string"}}}}},
                        {"o", {{"type", "object"}}}});
  EXPECT_THAT(
      check(s,
            {{"s", "x"}, {"i", 3}, {"n", 1.5}, {"b", true}, {"a", {"x"}}, {"o", json::object()}}),
      ElementsAre());
  EXPECT_THAT(check(s, {{"i", 3.0}, {"n", 2}}), ElementsAre());  // 3.0 is an integer
  EXPECT_THAT(
      check(s, {{"s", 1}, {"i", "3"}, {"n", "x"}, {"b", "true"}, {"a", "x"}, {"o", {1}}}),
      ElementsAre(
          R"(spec.a: Invalid value: "string": spec.a in body must be of type array: "string")",
          R"(spec.b: Invalid value: "string": spec.b in body must be of type boolean: "string")",
          R"(spec.i: Invalid value: "string": spec.i in body must be of type integer: "string")",
          R"(spec.n: Invalid value: "string": spec.n in body must be of type number: "string")",
          R"(spec.o: Invalid value: "array": spec.o in body must be of type object: "array")",
          R"(spec.s: Invalid value: "integer": spec.s in body must be of type string: "integer")"));
  EXPECT_THAT(check(s, {{"i", 1.5}}),
              ElementsAre(R"(spec.i: Invalid value: "number": spec.i in body must be of type )"
                          R"(integer: "number")"));
  EXPECT_THAT(check(s, {{"a", {"x", 2}}}),
              ElementsAre(R"(spec.a[1]: Invalid value: "integer": spec.a[1] in body must be of )"
                          R"(type string: "integer")"));
}

TEST(Schema, NullIsATypeErrorUnlessNullable) {
  const json conditions = {
      {"type", "array"},
      {"items", props({{"message", {{"type", "string"}}}, {"note", {{"type", "string"}}}})}};
  const json s =
      props({{"conditions", conditions}, {"maybe", {{"type", "string"}, {"nullable", true}}}});
  EXPECT_THAT(check(s, {{"conditions", {{{"message", nullptr}}}}, {"maybe", nullptr}}),
              ElementsAre(R"(spec.conditions[0].message: Invalid value: "null": )"
                          R"(spec.conditions[0].message in body must be of type string: "null")"));
  const auto errors =
      validate_against_schema(object_with({{"conditions", {{{"message", nullptr}}}}}), root(s));
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].reason, "FieldValueTypeInvalid");
  EXPECT_EQ(errors[0].field, "spec.conditions[0].message");
}

TEST(Schema, RequiredEnumPattern) {
  const json s = {{"type", "object"},
                  {"required", {"minMember", "queue"}},
                  {"properties",
                   {{"minMember", {{"type", "integer"}}},
                    {"queue", {{"type", "string"}, {"pattern", "^[a-z]+$"}}},
                    {"phase", {{"type", "string"}, {"enum", {"Pending", "Running"}}}},
                    {"level", {{"type", "integer"}, {"enum", {1, 2}}}}}}};
  EXPECT_THAT(check(s, {{"minMember", 1}, {"queue", "abc"}, {"phase", "Running"}, {"level", 2}}),
              ElementsAre());
  EXPECT_THAT(check(s, {{"queue", "Bad-1"}, {"phase", "Done"}, {"level", 3}}),
              ElementsAre("spec.minMember: Required value",
                          R"(spec.level: Unsupported value: 3: supported values: "1", "2")",
                          R"(spec.phase: Unsupported value: "Done": supported values: )"
                          R"("Pending", "Running")",
                          R"(spec.queue: Invalid value: "Bad-1": spec.queue in body should )"
                          R"(match '^[a-z]+$')"));
  const auto errors =
      validate_against_schema(object_with({{"queue", "a"}, {"phase", "x"}}), root(s));
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_EQ(errors[0].reason, "FieldValueRequired");
  EXPECT_EQ(errors[1].reason, "FieldValueNotSupported");
}

TEST(Schema, NumbersAndFormats) {
  const json s =
      props({{"min", {{"type", "integer"}, {"minimum", 1}}},
             {"xmin", {{"type", "number"}, {"minimum", 0}, {"exclusiveMinimum", true}}},
             {"max", {{"type", "number"}, {"maximum", 2.5}}},
             {"xmax", {{"type", "integer"}, {"maximum", 10}, {"exclusiveMaximum", true}}},
             {"i32", {{"type", "integer"}, {"format", "int32"}}},
             {"when", {{"type", "string"}, {"format", "date-time"}}}});
  EXPECT_THAT(check(s, {{"min", 1},
                        {"xmin", 0.1},
                        {"max", 2.5},
                        {"xmax", 9},
                        {"i32", 2147483647},
                        {"when", "2024-01-02T03:04:05Z"}}),
              ElementsAre());
  EXPECT_THAT(
      check(s, {{"min", 0},
                {"xmin", 0},
                {"max", 3},
                {"xmax", 10},
                {"i32", 2147483648LL},
                {"when", "yesterday"}}),
      ElementsAre(
          "<nil>: Invalid value: \"\": Checked value must be of type integer with format int32 "
          "in spec.i32",
          "spec.max: Invalid value: 3: spec.max in body should be less than or equal to 2.5",
          "spec.min: Invalid value: 0: spec.min in body should be greater than or equal to 1",
          R"(spec.when: Invalid value: "yesterday": spec.when in body must be of type )"
          R"(date-time: "yesterday")",
          "spec.xmax: Invalid value: 10: spec.xmax in body should be less than 10",
          "spec.xmin: Invalid value: 0: spec.xmin in body should be greater than 0"));
}

TEST(Schema, LengthsAndItems) {
  const json s = props(
      {{"name", {{"type", "string"}, {"minLength", 2}, {"maxLength", 4}}},
       {"levels",
        {{"type", "array"}, {"minItems", 1}, {"maxItems", 2}, {"items", {{"type", "string"}}}}}});
  EXPECT_THAT(check(s, {{"name", "ab"}, {"levels", {"a"}}}), ElementsAre());
  EXPECT_THAT(check(s, {{"name", "ñ"}, {"levels", json::array()}}),
              ElementsAre(R"(spec.levels: Invalid value: 0: spec.levels in body should have at )"
                          R"(least 1 items)",
                          R"(spec.name: Invalid value: "ñ": spec.name in body should be at least )"
                          R"(2 chars long)"));
  const auto errors = validate_against_schema(
      object_with({{"name", "abcde"}, {"levels", {"a", "b", "c"}}}), root(s));
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_EQ(errors[0].text(), "spec.levels: Too many: 3: must have at most 2 items");
  EXPECT_EQ(errors[0].reason, "FieldValueTooMany");
  EXPECT_EQ(errors[1].text(), "spec.name: Too long: may not be longer than 4");
  EXPECT_EQ(errors[1].reason, "FieldValueTooLong");
}

TEST(Schema, IntOrStringAndAdditionalProperties) {
  const json quantity = {{"anyOf", {{{"type", "integer"}}, {{"type", "string"}}}},
                         {"x-kubernetes-int-or-string", true},
                         {"pattern", "^[0-9]+(m|Gi)?$"}};
  const json s = props({{"allocated", {{"type", "object"}, {"additionalProperties", quantity}}}});
  EXPECT_THAT(check(s, {{"allocated", {{"cpu", "1500m"}, {"nvidia.com/gpu", 3}}}}), ElementsAre());
  EXPECT_THAT(check(s, {{"allocated", {{"cpu", "lots"}, {"gpu", true}, {"mem", nullptr}}}}),
              ElementsAre(R"(spec.allocated.cpu: Invalid value: "lots": spec.allocated.cpu in )"
                          R"(body should match '^[0-9]+(m|Gi)?$')",
                          R"(spec.allocated.gpu: Invalid value: "boolean": spec.allocated.gpu in )"
                          R"(body must be of type integer,string: "boolean")",
                          R"(spec.allocated.mem: Invalid value: "null": spec.allocated.mem in )"
                          R"(body must be of type integer,string: "null")"));
}

TEST(Schema, ListTypesRejectDuplicates) {
  const json s = props(
      {{"tags",
        {{"type", "array"}, {"x-kubernetes-list-type", "set"}, {"items", {{"type", "string"}}}}},
       {"ports",
        {{"type", "array"},
         {"x-kubernetes-list-type", "map"},
         {"x-kubernetes-list-map-keys", {"name"}},
         {"items", props({{"name", {{"type", "string"}}}, {"port", {{"type", "integer"}}}})}}}});
  EXPECT_THAT(check(s, {{"tags", {"a", "b"}}, {"ports", {{{"name", "a"}}, {{"name", "b"}}}}}),
              ElementsAre());
  const auto errors = validate_against_schema(
      object_with({{"tags", {"a", "b", "a"}},
                   {"ports", {{{"name", "x"}, {"port", 1}}, {{"name", "x"}, {"port", 2}}}}}),
      root(s));
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_EQ(errors[0].text(),
            R"(spec.ports[1]: Duplicate value: map[string]interface {}{"name":"x"})");
  EXPECT_EQ(errors[0].reason, "FieldValueDuplicate");
  EXPECT_EQ(errors[1].text(), R"(spec.tags[2]: Duplicate value: "a")");
}

TEST(Schema, PrunesUnknownFieldsUnlessPreserved) {
  const json s = root(
      props({{"known", {{"type", "string"}}},
             {"free", {{"type", "object"}, {"x-kubernetes-preserve-unknown-fields", true}}},
             {"labels", {{"type", "object"}, {"additionalProperties", {{"type", "string"}}}}},
             {"items", {{"type", "array"}, {"items", props({{"a", {{"type", "string"}}}})}}}}));
  json o = {{"apiVersion", "x.dev/v1"},
            {"kind", "Thing"},
            {"metadata", {{"name", "t"}, {"labels", {{"k", "v"}}}}},
            {"spec",
             {{"known", "k"},
              {"typo", 1},
              {"free", {{"anything", {{"goes", 1}}}}},
              {"labels", {{"x", "y"}}},
              {"items", {{{"a", "1"}, {"b", "2"}}}}}},
            {"extra", true}};
  prune_unknown_fields(o, s);
  EXPECT_EQ(o, json::parse(R"({"apiVersion":"x.dev/v1","kind":"Thing",
      "metadata":{"name":"t","labels":{"k":"v"}},
      "spec":{"known":"k","free":{"anything":{"goes":1}},"labels":{"x":"y"},"items":[{"a":"1"}]}})"));
}

TEST(Schema, DefaultsAndNonNullableNulls) {
  const json s =
      root(props({{"replicas", {{"type", "integer"}, {"default", 1}}},
                  {"mode", {{"type", "string"}, {"default", "fast"}}},
                  {"note", {{"type", "string"}}},
                  {"maybe", {{"type", "string"}, {"nullable", true}}},
                  {"policy",
                   {{"type", "object"},
                    {"default", json::object()},
                    {"properties", {{"retries", {{"type", "integer"}, {"default", 3}}}}}}}}));
  json o = {{"metadata", {{"name", "t"}}},
            {"spec", {{"mode", nullptr}, {"note", nullptr}, {"maybe", nullptr}}}};
  apply_schema_defaults(o, s);
  EXPECT_EQ(o["spec"], json::parse(R"({"replicas":1,"mode":"fast","maybe":null,
                                       "policy":{"retries":3}})"));
  EXPECT_TRUE(validate_against_schema(o, s).empty());
}

TEST(Schema, InvalidStatusLikeKubeApiserver) {
  const std::vector<FieldError> one = {{"FieldValueRequired", "spec.minMember", "Required value"}};
  const ApiError e = invalid_custom_resource("PodGroup", "scheduling.fairway.dev", "g", one);
  EXPECT_EQ(e.code, 422);
  EXPECT_EQ(e.reason, "Invalid");
  EXPECT_EQ(e.message,
            R"(PodGroup.scheduling.fairway.dev "g" is invalid: spec.minMember: Required value)");
  EXPECT_EQ(e.details, json::parse(R"({"name":"g","group":"scheduling.fairway.dev",
      "kind":"PodGroup","causes":[{"reason":"FieldValueRequired","message":"Required value",
      "field":"spec.minMember"}]})"));
  const std::vector<FieldError> two = {one[0], {"FieldValueInvalid", "spec.x", "Invalid value: 1"}};
  EXPECT_EQ(invalid_custom_resource("PodGroup", "scheduling.fairway.dev", "g", two).message,
            R"(PodGroup.scheduling.fairway.dev "g" is invalid: [spec.minMember: Required value, )"
            R"(spec.x: Invalid value: 1])");
}

// The store applies the schema to every write of a custom resource.
class SchemaStoreTest : public ::testing::Test {
 protected:
  SchemaStoreTest() { EXPECT_TRUE(load_embedded_crds(store_)); }
  const ResourceType& type(const std::string& plural) {
    return *store_.resource("scheduling.fairway.dev", plural);
  }
  Store store_;
};

TEST_F(SchemaStoreTest, CreateUpdatePatchAndStatusAreValidated) {
  const json group = json::parse(R"({"apiVersion":"scheduling.fairway.dev/v1alpha1",
      "kind":"PodGroup","metadata":{"name":"g"},"spec":{"minMember":0,"mistyped":1}})");
  auto refused = store_.create(type("podgroups"), "default", group);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, 422);
  EXPECT_EQ(refused.error().message,
            R"(PodGroup.scheduling.fairway.dev "g" is invalid: spec.minMember: Invalid value: 0: )"
            R"(spec.minMember in body should be greater than or equal to 1)");

  json good = group;
  good["spec"]["minMember"] = 2;
  auto created = store_.create(type("podgroups"), "default", good);
  ASSERT_TRUE(created) << created.error().message;
  EXPECT_FALSE((*created->json)["spec"].contains("mistyped"));  // pruned

  json put = *created->json;
  put["spec"]["queue"] = 7;
  auto updated = store_.update(type("podgroups"), "default", "g", put, false);
  ASSERT_FALSE(updated);
  EXPECT_EQ(updated.error().details["causes"][0]["field"], "spec.queue");

  auto patched = store_.patch(type("podgroups"), "default", "g", PatchType::kMerge,
                              R"({"spec":{"minMember":null}})", false);
  ASSERT_FALSE(patched);
  EXPECT_EQ(patched.error().message,
            R"(PodGroup.scheduling.fairway.dev "g" is invalid: spec.minMember: Required value)");

  auto status = store_.patch(type("podgroups"), "default", "g", PatchType::kMerge,
                             R"({"status":{"phase":"Done","conditions":[{"type":"Scheduled",)"
                             R"("status":"True","message":null}]}})",
                             true);
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error().message,
            R"(PodGroup.scheduling.fairway.dev "g" is invalid: status.phase: Unsupported value: )"
            R"("Done": supported values: "Pending", "Scheduling", "Scheduled", "Running", )"
            R"("Unschedulable", "Finished")");
  // Unchanged after the refusals.
  EXPECT_EQ((*store_.get(type("podgroups"), "default", "g")->json)["spec"]["minMember"], 2);
}

}  // namespace
}  // namespace fairway::apiserver
