// The CRDs in charts/fairway/crds against what uses them: the status the scheduler writes must
// survive a real API server's structural pruning, every Queue/PodGroup/Topology in examples/
// must validate, and kubectl must find the short names, status subresources and the printer
// columns the docs promise. (The embedded API server prunes and validates custom resources too,
// sim/apiserver/schema.h, so the integration tests catch these as well; this checker also names
// what would be pruned.)
#include "support/crd_schema.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "scheduler/loop/status.h"
#include "sim/apiserver/embedded_crds.h"
#include "sim/apiserver/server.h"
#include "support/builders.h"

namespace fairway {
namespace {

// kind → the CRD as JSON.
std::map<std::string, nlohmann::json> crds_by_kind() {
  std::map<std::string, nlohmann::json> out;
  for (const auto& file : apiserver::embedded_crds()) {
    auto crd = apiserver::yaml_to_json(file.text);
    EXPECT_TRUE(crd.has_value()) << file.name;
    if (crd) out[(*crd)["spec"]["names"]["kind"].get<std::string>()] = *crd;
  }
  return out;
}

const nlohmann::json& schema_of(const nlohmann::json& crd) {
  return crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"];
}

std::vector<std::string> problems_of(const nlohmann::json& crd, const nlohmann::json& object) {
  std::vector<std::string> problems;
  const auto& schema = schema_of(crd);
  for (const char* part : {"spec", "status"}) {
    if (object.contains(part)) {
      testing::check_against_schema(schema["properties"][part], object[part], part, problems);
    }
  }
  return problems;
}

std::string joined(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& line : lines) out += line + "\n";
  return out;
}

TEST(Crds, NamesSubresourcesAndPrinterColumns) {
  auto crds = crds_by_kind();
  ASSERT_EQ(crds.size(), 3u);
  EXPECT_EQ(crds["Queue"]["spec"]["names"]["shortNames"], nlohmann::json({"q", "fq"}));
  EXPECT_EQ(crds["PodGroup"]["spec"]["names"]["shortNames"], nlohmann::json({"pg"}));
  EXPECT_EQ(crds["Topology"]["spec"]["names"]["shortNames"], nlohmann::json({"topo"}));
  for (const char* kind : {"Queue", "PodGroup"}) {
    EXPECT_TRUE(crds[kind]["spec"]["versions"][0]["subresources"].contains("status")) << kind;
  }
  std::vector<std::string> columns;
  for (const auto& c : crds["Queue"]["spec"]["versions"][0]["additionalPrinterColumns"]) {
    columns.push_back(c["name"]);
  }
  EXPECT_EQ(columns, (std::vector<std::string>{"Parent", "Valid", "Reason", "GPU quota",
                                               "GPU limit", "GPU allocated", "GPU fair share",
                                               "GPU usage", "Pending", "Warning", "Age"}));
}

TEST(Crds, TheSchemaCheckCatchesWhatAnApiServerWould) {
  auto crds = crds_by_kind();
  const auto bad = nlohmann::json::parse(R"({
    "spec": {"minMembers": 2, "minMember": 0, "queue": 7},
    "status": {"phase": "Done"}})");
  const auto problems = problems_of(crds["PodGroup"], bad);
  const std::string text = joined(problems);
  EXPECT_NE(text.find("spec.minMembers: not in the schema"), std::string::npos) << text;
  EXPECT_NE(text.find("spec.minMember: 0 is below the minimum"), std::string::npos) << text;
  EXPECT_NE(text.find("spec.queue: want a string"), std::string::npos) << text;
  EXPECT_NE(text.find("status.phase: \"Done\" is not one of"), std::string::npos) << text;
  const auto quota =
      nlohmann::json::parse(R"({"spec": {"resources": {"nvidia.com/gpu": {"quota": "lots"}}}})");
  EXPECT_NE(joined(problems_of(crds["Queue"], quota)).find("does not match"), std::string::npos);
}

TEST(Crds, QueueStatusAsTheSchedulerWritesItIsKept) {
  auto crds = crds_by_kind();
  ClusterState state;
  state.upsert_node(testing::gpu_node("n", 8));
  state.upsert_queue(testing::queue("a", "", 3));
  state.upsert_queue(testing::queue("b", "", 3));
  state.upsert_queue(testing::queue("orphan", "missing", 1));
  Pod running = testing::pod("ns", "p", "a", {{"nvidia.com/gpu", "2"}, {"cpu", "1500m"}});
  running.node_name = "n";
  state.upsert_pod(running);
  state.upsert_pod(testing::pod("ns", "q", "b", {{"nvidia.com/gpu", "7"}}));
  const auto statuses =
      queue_statuses(state.queue_tree(), run_cycle(state).shares, state.registry(),
                     state.queue_usage(), state.usage_history(), {});
  ASSERT_EQ(statuses.size(), 3u);
  for (const auto& [name, status] : statuses) {
    const auto problems = problems_of(crds["Queue"], {{"status", status}});
    EXPECT_TRUE(problems.empty()) << name << ": " << status.dump() << "\n" << joined(problems);
  }
}

TEST(Crds, PodGroupStatusWithPlacementIsKept) {
  auto crds = crds_by_kind();
  ClusterState state;
  state.upsert_node(testing::gpu_node("n", 8));
  PodGroup group;
  group.namespace_ = "ns";
  group.name = "g";
  group.min_member = 2;
  state.upsert_pod_group(group);
  for (int i = 0; i < 2; ++i) {
    state.upsert_pod(
        testing::gang_pod("ns", "g-" + std::to_string(i), "", "g", 2, {{"nvidia.com/gpu", "2"}}));
  }
  const CycleResult result = run_cycle(state);
  assume_all(state, result);
  std::unordered_map<std::string, PlacementQuality> placements;
  for (const PlacementQuality& quality : result.placements)
    placements.emplace(quality.job, quality);
  const auto statuses = pod_group_statuses(state, result, placements);
  ASSERT_TRUE(statuses.at("ns/g").contains("placement"));
  const auto problems = problems_of(crds["PodGroup"], {{"status", statuses.at("ns/g")}});
  EXPECT_TRUE(problems.empty()) << statuses.at("ns/g").dump() << "\n" << joined(problems);
}

// Splits a multi-document YAML file on `---` lines.
std::vector<std::string> documents(const std::filesystem::path& file) {
  std::ifstream in(file);
  std::vector<std::string> out(1);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("---", 0) == 0) {
      out.emplace_back();
    } else {
      out.back() += line + "\n";
    }
  }
  return out;
}

TEST(Crds, EveryExampleValidates) {
  auto crds = crds_by_kind();
  const std::filesystem::path examples = std::filesystem::path(FAIRWAY_SOURCE_DIR) / "examples";
  int checked = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(examples)) {
    if (entry.path().extension() != ".yaml") continue;
    for (const std::string& text : documents(entry.path())) {
      auto doc = apiserver::yaml_to_json(text);
      if (!doc || !doc->is_object() || !doc->contains("kind")) continue;  // sim, fairshare inputs
      const std::string kind = (*doc)["kind"].get<std::string>();
      if (!crds.count(kind) ||
          !(*doc)["apiVersion"].get<std::string>().starts_with("scheduling.fairway.dev/")) {
        continue;
      }
      const auto problems = problems_of(crds[kind], *doc);
      EXPECT_TRUE(problems.empty()) << entry.path() << " " << kind << "\n" << joined(problems);
      ++checked;
    }
  }
  EXPECT_GE(checked, 15) << "fewer fairway objects in examples/ than expected";
}

}  // namespace
}  // namespace fairway
