// `fairway sim` run in-process: flags, exit codes and both output formats.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdio>
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
  int code = 0;
  std::string out;
  std::string err;
};

Outcome run_sim(std::vector<std::string> args) {
  std::ostringstream out;
  std::ostringstream err;
  Outcome run;
  // Exact figures need the deterministic in-process mode; the live mode (the default) is covered
  // by tests/integration/sim_demo.sh.
  if (!args.empty() && args.front() != "--live") args.push_back("--in-process");
  if (args.empty()) args.push_back("--in-process");
  if (args.front() == "--live") args.erase(args.begin());
  run.code = sim(args, out, err);
  run.out = out.str();
  run.err = err.str();
  return run;
}

std::string temp_file(const std::string& name, const std::string& text) {
  const std::string path = ::testing::TempDir() + name;
  std::ofstream(path) << text;
  return path;
}

TEST(SimCommand, DemoTextReport) {
  const Outcome run = run_sim({});
  EXPECT_EQ(run.code, 0) << run.err;
  EXPECT_THAT(run.out, HasSubstr("fairShare(GPU)"));
  EXPECT_THAT(run.out, HasSubstr("Summary: demo"));
  EXPECT_THAT(run.out, HasSubstr("GPU utilization  average"));
  EXPECT_THAT(run.out, HasSubstr("overall"));
}

TEST(SimCommand, JsonOutputBothFlagForms) {
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"--output", "json"}, std::vector<std::string>{"--output=json"}}) {
    const Outcome run = run_sim(args);
    ASSERT_EQ(run.code, 0) << run.err;
    const auto report = nlohmann::json::parse(run.out);
    EXPECT_EQ(report["scenario"], "demo");
    EXPECT_EQ(report["jobs"]["pending"], 0);
    EXPECT_EQ(report["jobs"]["completed"].get<int>() + report["jobs"]["evicted"].get<int>(),
              report["jobs"]["total"].get<int>());
  }
}

// The picture: written where --svg says, its path the text report's last line (and "picture"
// in JSON); --svg none writes none.
TEST(SimCommand, PictureWrittenAndNamed) {
  const std::string path = ::testing::TempDir() + "sim_command_demo.svg";
  std::remove(path.c_str());
  const Outcome run = run_sim({"--svg", path});
  ASSERT_EQ(run.code, 0) << run.err;
  EXPECT_THAT(run.out, ::testing::EndsWith("\npicture: " + path +
                                           " (GPUs allocated vs fair share per queue, GPU "
                                           "utilization)\n"));
  std::ifstream in(path);
  std::stringstream svg;
  svg << in.rdbuf();
  EXPECT_THAT(svg.str(), HasSubstr("<polyline class=\"allocation\" data-queue=\"production\""));
  EXPECT_THAT(svg.str(), HasSubstr("class=\"eviction\" data-action=\"reclaim\""));

  const std::string json_path = ::testing::TempDir() + "sim_command_demo_json.svg";
  std::remove(json_path.c_str());  // a file left by an earlier run proves nothing
  const Outcome json = run_sim({"--output=json", "--svg=" + json_path});
  ASSERT_EQ(json.code, 0) << json.err;
  EXPECT_EQ(nlohmann::json::parse(json.out)["picture"], json_path);
  EXPECT_TRUE(std::ifstream(json_path).good());
  std::remove(json_path.c_str());

  std::remove(path.c_str());
  const Outcome none = run_sim({"--svg", "none"});
  ASSERT_EQ(none.code, 0) << none.err;
  EXPECT_THAT(none.out, ::testing::Not(HasSubstr("picture:")));
  EXPECT_FALSE(std::ifstream(path).good());
}

TEST(SimCommand, UnwritablePictureSaysSoAndKeepsTheReport) {
  const Outcome run = run_sim({"--svg", "/nonexistent-dir/x.svg"});
  EXPECT_EQ(run.code, 0);
  EXPECT_THAT(run.out, HasSubstr("Summary: demo"));
  EXPECT_THAT(run.err, HasSubstr("cannot write the picture to \"/nonexistent-dir/x.svg\""));
}

TEST(SimCommand, ReportEvery) {
  const Outcome run = run_sim({"--output=json", "--report-every", "60"});
  ASSERT_EQ(run.code, 0) << run.err;
  const auto report = nlohmann::json::parse(run.out);
  EXPECT_EQ(report["report_every_seconds"], 60.0);
  EXPECT_EQ(report["timeline"][1]["time_seconds"], 60.0);
}

TEST(SimCommand, ScenarioFile) {
  const std::string path = temp_file("sim_ok.yaml", R"(
name: tiny
nodes: [{allocatable: {nvidia.com/gpu: 2}}]
jobs: [{name: j, count: 2, durationSeconds: 5, requests: {nvidia.com/gpu: 2}}]
)");
  const Outcome run = run_sim({path, "--output", "json"});
  ASSERT_EQ(run.code, 0) << run.err;
  const auto report = nlohmann::json::parse(run.out);
  EXPECT_EQ(report["scenario"], "tiny");
  EXPECT_EQ(report["wait_seconds"]["overall"]["max"], 5.0);
}

TEST(SimCommand, InvalidScenarioExitsOne) {
  const std::string path = temp_file("sim_bad.yaml", "nodes: [{allocatable: {cpu: x}}]\n");
  const Outcome run = run_sim({path});
  EXPECT_EQ(run.code, 1);
  EXPECT_THAT(run.err, HasSubstr("nodes[0].allocatable.cpu: quantity \"x\""));
  EXPECT_TRUE(run.out.empty());
}

TEST(SimCommand, UnreadableFileExitsOne) {
  const Outcome run = run_sim({"/nonexistent/scenario.yaml"});
  EXPECT_EQ(run.code, 1);
  EXPECT_THAT(run.err, HasSubstr("cannot read scenario \"/nonexistent/scenario.yaml\""));
}

TEST(SimCommand, UsageErrorsExitTwo) {
  EXPECT_EQ(run_sim({"--bogus"}).code, 2);
  EXPECT_EQ(run_sim({"--output", "xml"}).code, 2);
  EXPECT_EQ(run_sim({"--output"}).code, 2);
  EXPECT_EQ(run_sim({"--report-every", "-1"}).code, 2);
  EXPECT_EQ(run_sim({"a.yaml", "b.yaml"}).code, 2);
  EXPECT_EQ(run_sim({"--apiserver-port=65536"}).code, 2);
  EXPECT_THAT(run_sim({"--apiserver-port=-1"}).err, HasSubstr("--apiserver-port"));
  const Outcome run = run_sim({"--bogus"});
  EXPECT_THAT(run.err, HasSubstr("unknown flag --bogus"));
  EXPECT_THAT(run.err, HasSubstr("fairway sim --help"));
}

TEST(SimCommand, Help) {
  const Outcome run = run_sim({"--help"});
  EXPECT_EQ(run.code, 0);
  EXPECT_THAT(run.out, HasSubstr("--report-every"));
}

}  // namespace
}  // namespace fairway::cmd
