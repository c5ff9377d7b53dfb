// The token bucket (with a hand-driven clock) and the watch stream's line splitter.
#include "k8s-client/rate_limiter.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "k8s-client/line_splitter.h"

namespace fairway::k8s {
namespace {

using namespace std::chrono_literals;
using ::testing::ElementsAre;

TEST(TokenBucket, BurstThenQps) {
  ManualClock now;
  TokenBucket bucket(10, 3, now);
  EXPECT_EQ(bucket.reserve(), 0ns);
  EXPECT_EQ(bucket.reserve(), 0ns);
  EXPECT_EQ(bucket.reserve(), 0ns);
  // Empty: the next callers queue up 100 ms apart.
  EXPECT_EQ(bucket.reserve(), 100ms);
  EXPECT_EQ(bucket.reserve(), 200ms);
  now.advance(200ms);  // pays the debt back exactly
  EXPECT_EQ(bucket.reserve(), 100ms);
  now.advance(10s);  // refills to the burst, not beyond
  EXPECT_EQ(bucket.reserve(), 0ns);
  EXPECT_EQ(bucket.reserve(), 0ns);
  EXPECT_EQ(bucket.reserve(), 0ns);
  EXPECT_EQ(bucket.reserve(), 100ms);
}

TEST(TokenBucket, UnlimitedWhenQpsIsZero) {
  TokenBucket bucket(0, 1);
  for (int i = 0; i < 1000; ++i) EXPECT_EQ(bucket.reserve(), 0ns);
}

TEST(LineSplitter, LinesAcrossPieces) {
  LineSplitter splitter;
  std::vector<std::string> lines;
  auto collect = [&](std::string_view line) {
    lines.emplace_back(line);
    return true;
  };
  EXPECT_TRUE(splitter.feed("{\"a\":", collect));
  EXPECT_TRUE(splitter.feed("1}\n{\"b\"", collect));
  EXPECT_TRUE(splitter.feed(":2}\r\n\n{\"c\":3}\n{\"d\"", collect));
  EXPECT_EQ(splitter.pending_bytes(), 4u);
  EXPECT_TRUE(splitter.finish(collect));
  EXPECT_THAT(lines, ElementsAre("{\"a\":1}", "{\"b\":2}", "{\"c\":3}", "{\"d\""));
}

TEST(LineSplitter, StopsWhenTold) {
  LineSplitter splitter;
  int calls = 0;
  EXPECT_FALSE(splitter.feed("a\nb\nc\n", [&](std::string_view) { return ++calls < 2; }));
  EXPECT_EQ(calls, 2);
}

}  // namespace
}  // namespace fairway::k8s
