// The request-body limits of k8s-client/json_limits.h: the nesting pre-scan that runs before any
// JSON parser sees a body (docs/security.md).
#include "k8s-client/json_limits.h"

#include <gtest/gtest.h>

#include <string>

namespace fairway::k8s {
namespace {

std::string nested(size_t depth, char open = '[', char close = ']') {
  return std::string(depth, open) + std::string(depth, close);
}

TEST(JsonLimits, KubeApiserversBodyLimit) {
  EXPECT_EQ(kMaxRequestBodyBytes, 3145728U);
}

TEST(JsonLimits, DepthCountsArraysAndObjects) {
  EXPECT_TRUE(json_depth_within("", 0));
  EXPECT_TRUE(json_depth_within("123", 0));
  EXPECT_FALSE(json_depth_within("[]", 0));
  EXPECT_TRUE(json_depth_within("[]", 1));
  EXPECT_TRUE(json_depth_within(R"({"a":[1,{"b":2}],"c":{}})", 3));
  EXPECT_FALSE(json_depth_within(R"({"a":[1,{"b":2}],"c":{}})", 2));
  EXPECT_TRUE(json_depth_within(nested(kMaxJsonDepth)));
  EXPECT_FALSE(json_depth_within(nested(kMaxJsonDepth + 1)));
  EXPECT_FALSE(json_depth_within(nested(100000)));
  // Siblings do not add up: depth is the deepest path, not the count of brackets.
  std::string wide;
  for (int i = 0; i < 5000; ++i) wide += "[[]]";
  EXPECT_TRUE(json_depth_within("[" + wide + "]", 3));
}

TEST(JsonLimits, BracketsInsideStringsDoNotCount) {
  EXPECT_TRUE(json_depth_within(R"({"a":"[[[[{{{{"})", 1));
  // An escaped quote does not end the string; an escaped backslash before a quote does.
  EXPECT_TRUE(json_depth_within(R"({"a":"\"[[[["})", 1));
  EXPECT_FALSE(json_depth_within(R"({"a":"\\"[[[["})", 1));
  EXPECT_TRUE(json_depth_within("[\"" + nested(5000) + "\"]", 1));
}

TEST(JsonLimits, UnbalancedClosersCannotBuyDepth) {
  // "]]]]" before the openers must not let more of them through.
  EXPECT_FALSE(json_depth_within("]]]]" + nested(kMaxJsonDepth + 1)));
}

}  // namespace
}  // namespace fairway::k8s
