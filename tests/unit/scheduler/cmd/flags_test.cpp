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

tl::expected<std::vector<std::string>, std::string> parse(Parsed& p,
                                                          std::vector<std::string> args) {
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
  EXPECT_EQ(
      parse(p, {"--schedule-period=10"}).error(),
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

// Defaults in --help read as the docs write them, and what is printed parses back.
TEST(Flags, DurationsPrintedAsWritten) {
  using std::chrono::milliseconds;
  EXPECT_EQ(format_duration(milliseconds(0)), "0s");
  EXPECT_EQ(format_duration(milliseconds(50)), "50ms");
  EXPECT_EQ(format_duration(milliseconds(1500)), "1500ms");
  EXPECT_EQ(format_duration(milliseconds(15'000)), "15s");
  EXPECT_EQ(format_duration(milliseconds(60'000)), "60s");
  EXPECT_EQ(format_duration(milliseconds(600'000)), "600s");
  EXPECT_EQ(format_duration(milliseconds(86'400'000)), "24h");
  for (int64_t ms : {0, 1, 50, 1500, 60'000, 5'400'000, 86'400'000}) {
    EXPECT_EQ(parse_duration(format_duration(milliseconds(ms))).value().count(), ms);
  }
  Parsed p;
  FlagSet flags("scheduler");
  flags.add_duration("schedule-period", &p.period, "at most one cycle per period");
  EXPECT_NE(flags.usage().find("(default 100ms)"), std::string::npos) << flags.usage();
  std::chrono::milliseconds grace(60'000);
  flags.add_duration("stale-gang-grace", &grace, "");
  EXPECT_NE(flags.usage().find("(default 60s)"), std::string::npos) << flags.usage();
}

// Enum flags: one spelling style; old spellings are accepted with a warning naming the new one.
TEST(Flags, ChoicesAcceptTheirSetAndRenamedSpellingsWithAWarning) {
  std::string scoring = "binpack";
  FlagSet flags("scheduler");
  flags.add_choice("scoring", &scoring, {"binpack", "spread"}, "node scoring",
                   {{"bin-pack", "binpack"}});
  EXPECT_NE(flags.usage().find("node scoring (one of: binpack, spread) (default binpack)"),
            std::string::npos)
      << flags.usage();
  ASSERT_TRUE(flags.parse(std::vector<std::string>{"--scoring=spread"}));
  EXPECT_EQ(scoring, "spread");
  EXPECT_TRUE(flags.warnings().empty());
  ASSERT_TRUE(flags.parse(std::vector<std::string>{"--scoring", "bin-pack"}));
  EXPECT_EQ(scoring, "binpack");
  EXPECT_EQ(flags.warnings(),
            std::vector<std::string>{"--scoring=bin-pack is deprecated: write --scoring=binpack"});
  EXPECT_EQ(flags.parse(std::vector<std::string>{"--scoring=Spread"}).error(),
            "invalid value for --scoring: \"Spread\" is not one of binpack, spread");
  EXPECT_TRUE(flags.warnings().empty());  // each parse starts afresh
}

}  // namespace
}  // namespace fairway::cmd
