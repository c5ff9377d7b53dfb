#include "scheduler/cmd/flags.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace fairway::cmd {
namespace {

struct Parsed {
  std::string name = "fairway";
  bool elect = true;
  int burst = 100;
  double qps = 50;
  std::chrono::milliseconds period{100};
};

tl::expected<std::vector<std::string>, std::string> parse(Parsed& p, std::vector<std::string> args) {
  FlagSet flags("scheduler");
  flags.add_string("scheduler-name", &p.name, "");
  flags.add_bool("leader-elect", &p.elect, "");
  flags.add_int("kube-api-burst", &p.burst, "");
  flags.add_double("kube-api-qps", &p.qps, "");
  flags.add_duration("schedule-period", &p.period, "");
  return flags.parse(args);
}

TEST(Flags, AcceptsBothKubeStyles) {
  Parsed p;
  auto rest = parse(p, {"--scheduler-name", "gpu", "--kube-api-burst=7", "--kube-api-qps=2.5",
                        "--leader-elect=false", "--schedule-period", "1m30s", "file.yaml"});
  ASSERT_TRUE(rest) << rest.error();
  EXPECT_EQ(p.name, "gpu");
  EXPECT_EQ(p.burst, 7);
  EXPECT_DOUBLE_EQ(p.qps, 2.5);
  EXPECT_FALSE(p.elect);
  EXPECT_EQ(p.period, std::chrono::milliseconds(90'000));
  EXPECT_EQ(*rest, std::vector<std::string>{"file.yaml"});
}

TEST(Flags, BareBooleanMeansTrue) {
  Parsed p;
  p.elect = false;
  ASSERT_TRUE(parse(p, {"--leader-elect"}));
  EXPECT_TRUE(p.elect);
}

TEST(Flags, ErrorsNameTheFlag) {
  Parsed p;
  EXPECT_EQ(parse(p, {"--nope=1"}).error(), "unknown flag --nope");
  EXPECT_EQ(parse(p, {"--kube-api-burst"}).error(), "flag --kube-api-burst needs a value");
  EXPECT_EQ(parse(p, {"--kube-api-burst=x"}).error(),
            "invalid value for --kube-api-burst: \"x\" is not an integer");
  EXPECT_EQ(parse(p, {"--leader-elect=maybe"}).error(),
            "invalid value for --leader-elect: \"maybe\" is not true or false");
  EXPECT_EQ(parse(p, {"--schedule-period=10"}).error(),
            "invalid value for --schedule-period: invalid duration \"10\" (use e.g. 100ms, 15s, 1m30s)");
}

TEST(Flags, GoDurations) {
  EXPECT_EQ(parse_duration("0").value().count(), 0);
  EXPECT_EQ(parse_duration("300ms").value().count(), 300);
  EXPECT_EQ(parse_duration("1.5h").value().count(), 5'400'000);
  EXPECT_EQ(parse_duration("2h45m").value().count(), 9'900'000);
  EXPECT_EQ(parse_duration("1500us").value().count(), 2);  // rounded to the nearest ms
  EXPECT_FALSE(parse_duration(""));
  EXPECT_FALSE(parse_duration("s"));
  EXPECT_FALSE(parse_duration("5 s"));
  EXPECT_FALSE(parse_duration("5d"));
}

}  // namespace
}  // namespace fairway::cmd
