#include "queues/flat_map.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace fairway {
namespace {

using Map = FlatMap<std::string, std::string>;

std::string keys(const Map& map) {
  std::string out;
  for (const auto& [key, value] : map) out += key + "=" + value + ";";
  return out;
}

TEST(FlatMap, KeepsKeysSortedWhateverTheInsertionOrder) {
  Map map;
  map.emplace("b", "2");
  map.emplace("d", "4");
  map.emplace("a", "1");
  map["c"] = "3";
  EXPECT_EQ(keys(map), "a=1;b=2;c=3;d=4;");
}

TEST(FlatMap, EmplaceKeepsTheFirstValueAndInsertOrAssignReplacesIt) {
  Map map;
  EXPECT_TRUE(map.emplace("k", "first").second);
  EXPECT_FALSE(map.emplace("k", "second").second);
  EXPECT_EQ(map.at("k"), "first");
  EXPECT_FALSE(map.insert_or_assign("k", "third").second);
  EXPECT_EQ(map.at("k"), "third");
  EXPECT_EQ(map.size(), 1u);
}

TEST(FlatMap, LooksUpByStringViewWithoutAllocating) {
  Map map{{"nvidia.com/gpu", "8"}, {"cpu", "4"}};
  const std::string_view key = "cpu";
  ASSERT_NE(map.find(key), map.end());
  EXPECT_EQ(map.find(key)->second, "4");
  EXPECT_TRUE(map.contains(std::string_view("nvidia.com/gpu")));
  EXPECT_EQ(map.count(std::string_view("memory")), 0u);
  EXPECT_EQ(map.find(std::string_view("memory")), map.end());
  EXPECT_THROW((void)map.at(std::string_view("memory")), std::out_of_range);
}

TEST(FlatMap, HintedAppendInKeyOrderAndOutOfOrderBothLandSorted) {
  Map map;
  for (std::string_view key : {"a", "c", "e"}) map.emplace_hint(map.end(), key, key);
  map.emplace_hint(map.end(), std::string_view("b"), std::string_view("b"));  // a wrong hint
  EXPECT_EQ(keys(map), "a=a;b=b;c=c;e=e;");
  EXPECT_EQ(map.lower_bound(std::string_view("d"))->first, "e");
  EXPECT_EQ(map.upper_bound(std::string_view("c"))->first, "e");
}

TEST(FlatMap, EraseByKeyAndByIterator) {
  Map map{{"a", "1"}, {"b", "2"}, {"c", "3"}};
  EXPECT_EQ(map.erase(std::string_view("b")), 1u);
  EXPECT_EQ(map.erase(std::string_view("b")), 0u);
  map.erase(map.begin());
  EXPECT_EQ(keys(map), "c=3;");
  EXPECT_EQ(erase_if(map, [](const auto& entry) { return entry.second == "3"; }), 1u);
  EXPECT_TRUE(map.empty());
}

TEST(FlatMap, ComparesByContent) {
  Map a{{"x", "1"}, {"y", "2"}};
  Map b;
  b.emplace("y", "2");
  b.emplace("x", "1");
  EXPECT_EQ(a, b);
  b["y"] = "3";
  EXPECT_NE(a, b);
  EXPECT_LT(a, b);
}

TEST(FlatMap, ConvertsToAndFromAJsonObjectLikeStdMap) {
  FlatMap<std::string, int64_t> resources{{"nvidia.com/gpu", 2}, {"cpu", 4000}};
  const nlohmann::json json = resources;
  EXPECT_EQ(json.dump(), R"({"cpu":4000,"nvidia.com/gpu":2})");
  const auto back = json.get<FlatMap<std::string, int64_t>>();
  EXPECT_EQ(back, resources);
}

}  // namespace
}  // namespace fairway
