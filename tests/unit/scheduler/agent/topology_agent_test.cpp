// `fairway topology-agent --print` against a fake libnvidia-ml.so.1 (tests/fake_nvml).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <sstream>
#include <string>
#include <vector>

#include "scheduler/agent/nvml.h"
#include "scheduler/cmd/commands.h"
#include "topology/gpu_topology.h"

namespace fairway {
namespace {

using ::testing::HasSubstr;

struct AgentRun {
  int code = 0;
  std::string out;
  std::string err;
};

AgentRun agent(const std::string& machine, std::vector<std::string> args) {
  ::setenv("FAKE_NVML_MACHINE", machine.c_str(), 1);
  std::ostringstream out;
  std::ostringstream err;
  const int code = cmd::topology_agent(args, out, err);
  return {code, out.str(), err.str()};
}

GpuTopologyDoc printed(const std::string& machine) {
  const AgentRun run = agent(machine, {"--print", "--nvml-library", FAKE_NVML_LIBRARY});
  EXPECT_EQ(run.code, 0) << run.err;
  auto doc = parse_gpu_topology(run.out);
  EXPECT_TRUE(doc) << run.out;
  return doc ? *doc : GpuTopologyDoc{};
}

TEST(TopologyAgent, HgxIsEightGpusOnOneNvSwitchFabric) {
  const GpuTopologyDoc doc = printed("hgx");
  EXPECT_EQ(doc.product, "NVIDIA H100 80GB HBM3");
  ASSERT_EQ(doc.gpus.size(), 8U);
  EXPECT_EQ(doc.gpus[3].uuid, "GPU-fake-hgx-3");
  EXPECT_EQ(doc.gpus[3].memory_mib, 81559);
  EXPECT_EQ(doc.gpus[3].numa_node, 0);
  EXPECT_EQ(doc.gpus[5].numa_node, 1);
  EXPECT_EQ(doc.gpus[0].pci_bus_id, "00000000:18:00.0");
  ASSERT_EQ(doc.links.size(), 28U);  // every pair
  for (const GpuLink& link : doc.links) {
    EXPECT_EQ(link.type, GpuLinkType::kNvSwitch);
    EXPECT_EQ(link.bandwidth_gbps, 900);  // 18 NVLink4 links × 50 GB/s
  }
  // What the scheduler makes of it.
  const auto graph = GpuLinkGraph::build(8, doc.links);
  ASSERT_TRUE(graph) << graph.error();
  EXPECT_TRUE(graph->one_island());
}

TEST(TopologyAgent, PcieBoxHasNoNvLink) {
  const GpuTopologyDoc doc = printed("pcie");
  ASSERT_EQ(doc.gpus.size(), 2U);
  ASSERT_EQ(doc.links.size(), 1U);
  EXPECT_EQ(doc.links[0].type, GpuLinkType::kNuma);
  const auto graph = GpuLinkGraph::build(2, doc.links);
  EXPECT_EQ(graph->islands().size(), 2U);
}

TEST(TopologyAgent, DirectNvLinkPairsAreCountedOncePerLink) {
  const GpuTopologyDoc doc = printed("pairs");
  ASSERT_EQ(doc.gpus.size(), 4U);
  const auto graph = GpuLinkGraph::build(4, doc.links);
  ASSERT_TRUE(graph) << graph.error();
  EXPECT_EQ(graph->islands().size(), 2U);
  EXPECT_EQ(graph->widest(0, 1), 600);  // 12 NVLink3 links × 50 GB/s
  EXPECT_EQ(graph->widest(2, 3), 600);
  EXPECT_EQ(graph->widest(0, 2), default_bandwidth_gbps(GpuLinkType::kSmp));
}

TEST(TopologyAgent, WithoutNvmlItExitsWithAClearMessage) {
  const AgentRun run =
      agent("hgx", {"--print", "--nvml-library", "/nonexistent/libnvidia-ml.so.1"});
  EXPECT_EQ(run.code, 1);
  EXPECT_THAT(run.err, HasSubstr("cannot load /nonexistent/libnvidia-ml.so.1"));
  EXPECT_THAT(run.err, HasSubstr("NVIDIA driver"));
}

TEST(TopologyAgent, DriverNotLoadedIsReported) {
  const AgentRun run = agent("none", {"--print", "--nvml-library", FAKE_NVML_LIBRARY});
  EXPECT_EQ(run.code, 1);
  EXPECT_THAT(run.err, HasSubstr("nvmlInit failed: Driver Not Loaded"));
}

TEST(TopologyAgent, UsageErrors) {
  EXPECT_EQ(agent("hgx", {"--interval", "0"}).code, 2);
  EXPECT_EQ(agent("hgx", {"--bogus"}).code, 2);
  ::unsetenv("NODE_NAME");
  const AgentRun run = agent("hgx", {"--once", "--nvml-library", FAKE_NVML_LIBRARY});
  EXPECT_EQ(run.code, 2);
  EXPECT_THAT(run.err, HasSubstr("--node-name"));
  EXPECT_THAT(agent("hgx", {"--help"}).out, HasSubstr("fairway.dev/gpu-topology"));
}

}  // namespace
}  // namespace fairway
