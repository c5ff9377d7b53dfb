// `fairway fairshare` run in-process on temporary files: JSON out, exit codes, messages.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "scheduler/cmd/commands.h"

namespace fairway::cmd {
namespace {

using ::testing::HasSubstr;

struct Outcome {
  int code = -1;
  std::string out;
  std::string err;
  nlohmann::json json() const { return nlohmann::json::parse(out); }
};

class FairshareCommand : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("fairway-fairshare-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string write(const std::string& contents, const std::string& name = "input.yaml") {
    const auto path = dir_ / name;
    std::ofstream(path) << contents;
    return path.string();
  }

  static Outcome run(std::vector<std::string> args) {
    std::ostringstream out;
    std::ostringstream err;
    Outcome result;
    result.code = fairshare(args, out, err);
    result.out = out.str();
    result.err = err.str();
    return result;
  }

  Outcome run_yaml(const std::string& yaml) { return run({write(yaml)}); }

  std::filesystem::path dir_;
};

constexpr const char* kResearch = R"(
capacity: {nvidia.com/gpu: 100, cpu: 1000, memory: 4Ti}
queues:
  - {name: research, parent: "", priority: 0,
     resources: {nvidia.com/gpu: {quota: 40, limit: 80, overQuotaWeight: 1}}}
  - {name: vision, parent: research, resources: {nvidia.com/gpu: {quota: 20}}}
  - {name: nlp, parent: research, resources: {nvidia.com/gpu: {quota: 20}}}
  - {name: prod, resources: {nvidia.com/gpu: {quota: 30}, cpu: {quota: "500"}}}
demand:
  vision: {nvidia.com/gpu: 64, memory: 1Ti}
  nlp: {nvidia.com/gpu: 10}
  prod: {nvidia.com/gpu: "50", cpu: 1500m}
allocated:
  vision: {nvidia.com/gpu: 10}
)";

TEST_F(FairshareCommand, ComputesTheHandWorkedExample) {
  // Roots: research wants min(74, limit 80) = 74, prod 50. Quotas 40 + 30, the 30 left split
  // 15/15 → research 55, prod 45. Inside research: vision 20 + nlp 10 (its demand); the 25 left
  // go to vision (wants 44 more) → vision 45.
  const Outcome result = run_yaml(kResearch);
  ASSERT_EQ(result.code, 0) << result.err;
  EXPECT_EQ(result.err, "");
  const auto json = result.json();
  const auto& queues = json["queues"];
  EXPECT_DOUBLE_EQ(queues["research"]["fairShare"]["nvidia.com/gpu"].get<double>(), 55);
  EXPECT_DOUBLE_EQ(queues["prod"]["fairShare"]["nvidia.com/gpu"].get<double>(), 45);
  EXPECT_DOUBLE_EQ(queues["vision"]["fairShare"]["nvidia.com/gpu"].get<double>(), 45);
  EXPECT_DOUBLE_EQ(queues["nlp"]["fairShare"]["nvidia.com/gpu"].get<double>(), 10);
  EXPECT_DOUBLE_EQ(queues["default"]["fairShare"]["nvidia.com/gpu"].get<double>(), 0);
  EXPECT_EQ(queues["default"]["implicit"], true);
  // CPU in cores, fractional allowed; memory in bytes.
  EXPECT_DOUBLE_EQ(queues["prod"]["fairShare"]["cpu"].get<double>(), 1.5);
  EXPECT_EQ(queues["vision"]["fairShare"]["memory"].get<int64_t>(), int64_t{1} << 40);
  EXPECT_EQ(json["capacity"]["memory"].get<int64_t>(), int64_t{4} << 40);
  // Sums over subtrees, and the tree's shape.
  EXPECT_DOUBLE_EQ(queues["research"]["demand"]["nvidia.com/gpu"].get<double>(), 74);
  EXPECT_DOUBLE_EQ(queues["research"]["allocated"]["nvidia.com/gpu"].get<double>(), 10);
  EXPECT_DOUBLE_EQ(queues["research"]["deserved"]["nvidia.com/gpu"].get<double>(), 40);
  EXPECT_DOUBLE_EQ(queues["vision"]["deserved"]["nvidia.com/gpu"].get<double>(), 20);
  EXPECT_EQ(queues["vision"]["parent"], "research");
  EXPECT_EQ(queues["research"]["parent"], "");
  EXPECT_TRUE(json["errors"].empty());
}

TEST_F(FairshareCommand, TreeProblemsAreReportedNotFatal) {
  const Outcome result = run_yaml(R"(
capacity: {nvidia.com/gpu: 8}
queues:
  - {name: a, parent: ghost}
  - {name: p, resources: {nvidia.com/gpu: {quota: 2}}}
  - {name: x, parent: p, resources: {nvidia.com/gpu: {quota: 3}}}
demand: {x: {nvidia.com/gpu: 8}, a: {nvidia.com/gpu: 1}}
)");
  ASSERT_EQ(result.code, 0) << result.err;
  const auto json = result.json();
  EXPECT_FALSE(json["queues"].contains("a"));
  EXPECT_DOUBLE_EQ(json["queues"]["x"]["fairShare"]["nvidia.com/gpu"].get<double>(), 8);
  ASSERT_EQ(json["errors"].size(), 2U);
  EXPECT_EQ(json["errors"][0]["queue"], "a");
  EXPECT_EQ(json["errors"][0]["reason"], "UnknownParent");
  EXPECT_EQ(json["errors"][0]["blocking"], true);
  EXPECT_EQ(json["errors"][1]["reason"], "ChildrenQuotaExceedParent");
  EXPECT_EQ(json["errors"][1]["blocking"], false);
  EXPECT_THAT(json["errors"][1]["message"].get<std::string>(), HasSubstr("nvidia.com/gpu"));
}

TEST_F(FairshareCommand, AllocatedAboveDemandCountsAsDemand) {
  const Outcome result = run_yaml(R"(
capacity: {nvidia.com/gpu: 10}
queues: [{name: a}, {name: b}]
demand: {b: {nvidia.com/gpu: 10}}
allocated: {a: {nvidia.com/gpu: 4}}
)");
  ASSERT_EQ(result.code, 0) << result.err;
  const auto json = result.json();
  EXPECT_DOUBLE_EQ(json["queues"]["a"]["demand"]["nvidia.com/gpu"].get<double>(), 4);
  EXPECT_DOUBLE_EQ(json["queues"]["a"]["fairShare"]["nvidia.com/gpu"].get<double>(), 4);
  EXPECT_DOUBLE_EQ(json["queues"]["b"]["fairShare"]["nvidia.com/gpu"].get<double>(), 6);
}

TEST_F(FairshareCommand, FractionalSharesAreNotRounded) {
  const Outcome result = run_yaml(R"(
capacity: {nvidia.com/gpu: 1}
queues: [{name: a}, {name: b}, {name: c}]
demand: {a: {nvidia.com/gpu: 1}, b: {nvidia.com/gpu: 1}, c: {nvidia.com/gpu: 500m}}
)");
  ASSERT_EQ(result.code, 0) << result.err;
  const auto json = result.json();
  EXPECT_NEAR(json["queues"]["a"]["fairShare"]["nvidia.com/gpu"].get<double>(), 1.0 / 3, 1e-12);
  EXPECT_DOUBLE_EQ(json["queues"]["c"]["demand"]["nvidia.com/gpu"].get<double>(), 0.5);
}

TEST_F(FairshareCommand, HelpAndUsageErrors) {
  const Outcome help = run({"--help"});
  EXPECT_EQ(help.code, 0);
  EXPECT_THAT(help.out, HasSubstr("Usage: fairway fairshare FILE"));

  const Outcome none = run({});
  EXPECT_EQ(none.code, 2);
  EXPECT_THAT(none.err, HasSubstr("expected exactly one FILE"));
  EXPECT_EQ(none.out, "");

  EXPECT_EQ(run({"a.yaml", "b.yaml"}).code, 2);
  const Outcome flag = run({"--frobnicate", "a.yaml"});
  EXPECT_EQ(flag.code, 2);
  EXPECT_THAT(flag.err, HasSubstr("--frobnicate"));
}

TEST_F(FairshareCommand, UnreadableFile) {
  const std::string missing = (dir_ / "missing.yaml").string();
  const Outcome result = run({missing});
  EXPECT_EQ(result.code, 1);
  EXPECT_THAT(result.err, HasSubstr(missing));
  EXPECT_THAT(result.err, HasSubstr("cannot open"));
  EXPECT_EQ(result.out, "");
}

TEST_F(FairshareCommand, DirectoryIsNotAFile) {
  const Outcome result = run({dir_.string()});
  EXPECT_EQ(result.code, 1);
  EXPECT_THAT(result.err, HasSubstr("is a directory"));
}

TEST_F(FairshareCommand, YamlSyntaxErrorNamesFileAndLine) {
  const std::string file = write("capacity: {nvidia.com/gpu: 1\nqueues: [\n");
  const Outcome result = run({file});
  EXPECT_EQ(result.code, 1);
  EXPECT_THAT(result.err, HasSubstr(file + ":"));
  EXPECT_THAT(result.err, HasSubstr("invalid YAML"));
}

struct BadInput {
  const char* name;
  const char* yaml;
  const char* expected;  // part of the message on err
};

class FairshareBadInput : public FairshareCommand,
                          public ::testing::WithParamInterface<BadInput> {};

TEST_P(FairshareBadInput, ExitsOneWithAClearMessage) {
  const Outcome result = run_yaml(GetParam().yaml);
  EXPECT_EQ(result.code, 1) << result.out;
  EXPECT_EQ(result.out, "");
  EXPECT_THAT(result.err, HasSubstr("input.yaml"));
  EXPECT_THAT(result.err, HasSubstr(GetParam().expected));
  EXPECT_EQ(result.err.find('\n'), result.err.size() - 1) << "one line: " << result.err;
}

INSTANTIATE_TEST_SUITE_P(
    Cases, FairshareBadInput,
    ::testing::Values(
        BadInput{"EmptyFile", "", "expected a mapping at the top"},
        BadInput{"TopLevelList", "- 1\n- 2\n", "expected a mapping at the top"},
        BadInput{"NoCapacity", "queues: []\n", "capacity: missing"},
        BadInput{"UnknownTopLevel", "capacity: {}\nqeueus: []\n", "qeueus: unknown field"},
        BadInput{"BadQuantity", "capacity: {nvidia.com/gpu: 1.5.3}\n",
                 "capacity.nvidia.com/gpu: quantity \"1.5.3\""},
        BadInput{"NegativeCapacity", "capacity: {cpu: -1}\n", "capacity.cpu: must not be negative"},
        BadInput{"QuantityIsAList", "capacity: {cpu: [1]}\n", "capacity.cpu: expected a quantity"},
        BadInput{"CapacityIsScalar", "capacity: 100\n", "capacity: expected a mapping"},
        BadInput{"QueuesIsMap", "capacity: {}\nqueues: {a: 1}\n", "queues: expected a list"},
        BadInput{"QueueIsScalar", "capacity: {}\nqueues: [a]\n", "queues[0]: expected a Queue"},
        BadInput{"QueueWithoutName", "capacity: {}\nqueues: [{parent: x}]\n",
                 "queues[0]: a Queue needs a name"},
        BadInput{"NameIsList", "capacity: {}\nqueues: [{name: [a]}]\n",
                 "queues[0].name: expected a string"},
        BadInput{"BadPriority", "capacity: {}\nqueues: [{name: a, priority: high}]\n",
                 "queues[0].priority: expected a whole number"},
        BadInput{"UnknownQueueField", "capacity: {}\nqueues: [{name: a, quota: 3}]\n",
                 "queues[0].quota: unknown field"},
        BadInput{"BadQuota", "capacity: {}\nqueues: [{name: a, resources: {cpu: {quota: lots}}}]\n",
                 "queues[0].resources.cpu.quota: quantity \"lots\""},
        BadInput{"BadWeight",
                 "capacity: {}\nqueues: [{name: a, resources: {cpu: {overQuotaWeight: x}}}]\n",
                 "queues[0].resources.cpu.overQuotaWeight: expected a number"},
        BadInput{"ResourceSpecIsScalar", "capacity: {}\nqueues: [{name: a, resources: {cpu: 4}}]\n",
                 "queues[0].resources.cpu: expected {quota, limit, overQuotaWeight}"},
        BadInput{"TypoInResourceSpec",
                 "capacity: {}\nqueues: [{name: a, resources: {cpu: {qouta: 4}}}]\n",
                 "queues[0].resources.cpu.qouta: unknown field"},
        BadInput{"DemandForUnknownQueue",
                 "capacity: {}\nqueues: [{name: a}]\ndemand: {b: {cpu: 1}}\n",
                 "demand.b: no queue named \"b\""},
        BadInput{"DemandForInnerQueue",
                 "capacity: {}\nqueues: [{name: p}, {name: a, parent: p}]\n"
                 "demand: {p: {cpu: 1}}\n",
                 "demand.p: queue \"p\" has child queues"},
        BadInput{"DemandIsList", "capacity: {}\ndemand: [1]\n", "demand: expected a mapping"},
        BadInput{"AllocatedNotMap", "capacity: {}\nallocated: {a: 3}\n",
                 "allocated.a: expected a mapping of resource names"}),
    [](const ::testing::TestParamInfo<BadInput>& param_info) {
      return std::string(param_info.param.name);
    });

TEST_F(FairshareCommand, OddButValidInputDoesNotCrash) {
  // Anchors and aliases, nulls, numbers near the int64 edge and non-ASCII names.
  const Outcome result = run_yaml(R"(
capacity: &cap {nvidia.com/gpu: 9e15, memory: 7Ei}
queues:
  - name: "ünïcode"
    parent: ~
    resources: {nvidia.com/gpu: {quota: 1, limit: ~}}
  - {name: big, resources: {nvidia.com/gpu: {quota: 4e15}}}
  - {name: big2, resources: {nvidia.com/gpu: {quota: 4e15}}}
demand:
  "ünïcode": *cap
  big: *cap
  big2: *cap
allocated: ~
)");
  ASSERT_EQ(result.code, 0) << result.err;
  const auto json = result.json();
  const double total = json["queues"]["ünïcode"]["fairShare"]["nvidia.com/gpu"].get<double>() +
                       json["queues"]["big"]["fairShare"]["nvidia.com/gpu"].get<double>() +
                       json["queues"]["big2"]["fairShare"]["nvidia.com/gpu"].get<double>();
  EXPECT_NEAR(total, 9e15, 1e3);

  const Outcome too_large = run_yaml("capacity: {nvidia.com/gpu: 8Ei}\n");
  EXPECT_EQ(too_large.code, 1);
  EXPECT_THAT(too_large.err, HasSubstr("too large"));
}

// Fair share over time offline: docs/scheduling.md's two-queue table. a used 80% of the GPUs
// over time, b nothing; with usageStrength 1 their weights become 0.5 and 1.5 → 2.5 and 7.5.
TEST_F(FairshareCommand, UsageMovesTheOverQuotaSplit) {
  const std::string input = R"(
capacity: {nvidia.com/gpu: 10}
queues: [{name: org}, {name: a, parent: org}, {name: b, parent: org}]
demand: {a: {nvidia.com/gpu: 10}, b: {nvidia.com/gpu: 10}}
usage: {a: {nvidia.com/gpu: 0.8}}
)";
  const Outcome without = run_yaml(input);
  ASSERT_EQ(without.code, 0) << without.err;
  EXPECT_EQ(without.json()["queues"]["a"]["fairShare"]["nvidia.com/gpu"], 5);
  EXPECT_EQ(without.json()["queues"]["org"]["usage"]["nvidia.com/gpu"], 0.8);

  const Outcome with = run_yaml(input + "usageStrength: 1\n");
  ASSERT_EQ(with.code, 0) << with.err;
  EXPECT_EQ(with.json()["queues"]["a"]["fairShare"]["nvidia.com/gpu"], 2.5);
  EXPECT_EQ(with.json()["queues"]["b"]["fairShare"]["nvidia.com/gpu"], 7.5);

  const Outcome negative = run_yaml(input + "usageStrength: -1\n");
  EXPECT_EQ(negative.code, 1);
  EXPECT_THAT(negative.err, HasSubstr("usageStrength: must not be negative, got -1"));
  const Outcome parent = run_yaml(
      "capacity: {nvidia.com/gpu: 1}\nqueues: [{name: org}, {name: a, parent: org}]\n"
      "usage: {org: {nvidia.com/gpu: 0.5}}\n");
  EXPECT_EQ(parent.code, 1);
  EXPECT_THAT(parent.err, HasSubstr("usage.org: queue \"org\" has child queues"));
  const Outcome word =
      run_yaml("capacity: {nvidia.com/gpu: 1}\nusage: {default: {nvidia.com/gpu: lots}}\n");
  EXPECT_EQ(word.code, 1);
  EXPECT_THAT(word.err, HasSubstr("usage.default.nvidia.com/gpu: expected a number, got \"lots\""));
}

TEST_F(FairshareCommand, ExampleFileIsValid) {
  const std::filesystem::path example =
      std::filesystem::path(FAIRWAY_SOURCE_DIR) / "examples/fairshare/research.yaml";
  if (!std::filesystem::exists(example)) GTEST_SKIP() << "no " << example;
  const Outcome result = run({example.string()});
  ASSERT_EQ(result.code, 0) << result.err;
  EXPECT_TRUE(result.json()["errors"].empty()) << result.out;
}

}  // namespace
}  // namespace fairway::cmd
