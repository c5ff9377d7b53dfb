// Server-side printing's JSONPath: the forms CRD additionalPrinterColumns use, filters included
// (`.status.conditions[?(@.type=="Valid")].status`, as kube-apiserver evaluates them).

#include "sim/apiserver/table.h"

#include <gtest/gtest.h>

namespace fairway::apiserver {
namespace {

using nlohmann::json;

std::vector<json> values(const json& object, std::string_view path) {
  std::vector<json> out;
  for (const json* v : json_path(object, path)) out.push_back(*v);
  return out;
}

TEST(JsonPath, FiltersPickArrayElementsByField) {
  const json queue = {
      {"status",
       {{"conditions",
         {{{"type", "Valid"}, {"status", "False"}, {"reason", "UnknownParent"}},
          {{"type", "Warning"}, {"status", "True"}, {"reason", "ChildrenQuotaExceedParent"}}}},
        {"gpus", {{"quota", "2.00"}}},
        {"n", {{{"v", 1}}, {{"v", 2}}}}}}};
  EXPECT_EQ(values(queue, R"(.status.conditions[?(@.type=="Valid")].status)"),
            std::vector<json>{"False"});
  EXPECT_EQ(values(queue, R"(.status.conditions[?(@.type=='Warning')].reason)"),
            std::vector<json>{"ChildrenQuotaExceedParent"});
  EXPECT_EQ(values(queue, R"(.status.conditions[?(@.type!="Valid")].type)"),
            std::vector<json>{"Warning"});
  EXPECT_EQ(values(queue, R"(.status.n[?(@.v==2)].v)"), std::vector<json>{2});
  EXPECT_TRUE(values(queue, R"(.status.conditions[?(@.type=="Ready")].status)").empty());
  EXPECT_TRUE(values(queue, R"(.status.gpus[?(@.type=="Valid")])").empty());  // not an array
  EXPECT_TRUE(values(queue, R"(.status.conditions[?(@.type~"V")].status)").empty());
  EXPECT_EQ(values(queue, ".status.gpus.quota"), std::vector<json>{"2.00"});
}

}  // namespace
}  // namespace fairway::apiserver
