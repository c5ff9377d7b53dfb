// `fairway sim --snapshot ... --config FILE` run in-process on temporary files: the scheduler's
// config file sets the run compared against, command-line flags win over it, a bad value is
// refused as the scheduler refuses it.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "scheduler/cmd/commands.h"
#include "sim/manifests.h"
#include "sim/whatif/snapshot.h"
#include "support/builders.h"

namespace fairway::cmd {
namespace {

using ::testing::HasSubstr;

struct Outcome {
  int code = -1;
  std::string out;
  std::string err;
  nlohmann::json json() const { return nlohmann::json::parse(out); }
};

// Two empty nodes of 8 GPUs and four one-GPU pods waiting: binpack puts the four on one node,
// spread two on each.
std::string snapshot() {
  nlohmann::json nodes = nlohmann::json::array();
  for (const char* name : {"gpu-a", "gpu-b"}) {
    nodes.push_back(sim::node_manifest(testing::gpu_node(name, 8)));
  }
  nlohmann::json pods = nlohmann::json::array();
  for (int i = 0; i < 4; ++i) {
    pods.push_back(sim::pod_manifest(
        testing::pod("team", "p" + std::to_string(i), "q", {{"nvidia.com/gpu", "1"}})));
  }
  const nlohmann::json queues = {sim::queue_manifest(testing::queue("q", "", 0))};
  return nlohmann::json{{"apiVersion", sim::kSnapshotApiVersion}, {"kind", sim::kSnapshotKind},
                        {"takenAt", "2027-01-15T08:00:00Z"},      {"nodes", {{"items", nodes}}},
                        {"queues", {{"items", queues}}},          {"pods", {{"items", pods}}}}
      .dump();
}

class WhatIfCommand : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("fairway-what-if-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
    snapshot_ = write(snapshot(), "cluster.json");
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string write(const std::string& contents, const std::string& name) {
    const auto path = dir_ / name;
    std::ofstream(path) << contents;
    return path.string();
  }

  // `fairway sim --snapshot cluster.json --output json` with `extra` flags.
  Outcome run(std::vector<std::string> extra) {
    std::vector<std::string> args = {"--snapshot", snapshot_, "--output", "json"};
    args.insert(args.end(), extra.begin(), extra.end());
    std::ostringstream out;
    std::ostringstream err;
    Outcome result;
    result.code = sim(args, out, err);
    result.out = out.str();
    result.err = err.str();
    return result;
  }

  // Pods bound per node in one side of the report ("asIs" or "changed").
  static std::map<std::string, int> per_node(const nlohmann::json& report, const char* side) {
    std::map<std::string, int> out;
    for (const auto& [pod, node] : report[side]["bindings"].items()) ++out[node.get<std::string>()];
    return out;
  }

  std::filesystem::path dir_;
  std::string snapshot_;
};

TEST_F(WhatIfCommand, TheSchedulersConfigFileSetsTheRunComparedAgainst) {
  // A config file as the scheduler's chart writes it: process flags beside decision flags.
  const std::string config = write(
      "leader-elect: false\nmetrics-bind-address: \"0\"\nscoring: spread\n"
      "usage-strength: 0.5\n",
      "scheduler.yaml");
  const Outcome outcome = run({"--config", config});
  ASSERT_EQ(outcome.code, 0) << outcome.err;
  const nlohmann::json report = outcome.json();
  EXPECT_EQ(per_node(report, "asIs"), (std::map<std::string, int>{{"gpu-a", 4}}));
  EXPECT_EQ(per_node(report, "changed"), (std::map<std::string, int>{{"gpu-a", 2}, {"gpu-b", 2}}));

  // A flag on the command line wins over the file, as for the scheduler.
  const Outcome overridden = run({"--config", config, "--scoring", "binpack"});
  ASSERT_EQ(overridden.code, 0) << overridden.err;
  EXPECT_EQ(per_node(overridden.json(), "changed"), (std::map<std::string, int>{{"gpu-a", 4}}));

  // Another scheduler name: fairway's pods are no longer this scheduler's, none binds.
  const Outcome renamed = run({"--config", write("scheduler-name: other\n", "other.yaml")});
  ASSERT_EQ(renamed.code, 0) << renamed.err;
  EXPECT_TRUE(renamed.json()["changed"]["bindings"].empty());
  EXPECT_EQ(renamed.json()["asIs"]["bindings"].size(), 4u);
}

TEST_F(WhatIfCommand, ABadConfigFileIsRefusedAsTheSchedulerRefusesIt) {
  const Outcome negative = run({"--config", write("usage-strength: -1\n", "bad.yaml")});
  EXPECT_EQ(negative.code, 1);
  EXPECT_THAT(negative.err, HasSubstr("usage-strength a number not below 0"));

  const Outcome choice = run({"--config", write("scoring: random\n", "choice.yaml")});
  EXPECT_EQ(choice.code, 1);
  EXPECT_THAT(choice.err, HasSubstr("--scoring"));

  const Outcome missing = run({"--config", (dir_ / "absent.yaml").string()});
  EXPECT_EQ(missing.code, 1);
  EXPECT_THAT(missing.err, HasSubstr("absent.yaml"));

  const Outcome not_a_map = run({"--config", write("- scoring\n", "list.yaml")});
  EXPECT_EQ(not_a_map.code, 1);
  EXPECT_THAT(not_a_map.err, HasSubstr("expected a map of flag names to values"));

  std::ostringstream out;
  std::ostringstream err;
  const std::vector<std::string> without_snapshot = {"--config", "x.yaml"};
  EXPECT_EQ(sim(without_snapshot, out, err), 2);
  EXPECT_THAT(err.str(), HasSubstr("need --snapshot"));
}

}  // namespace
}  // namespace fairway::cmd
