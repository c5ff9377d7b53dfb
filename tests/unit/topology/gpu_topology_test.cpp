#include "topology/gpu_topology.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace fairway {
namespace {

using ::testing::HasSubstr;

TEST(GpuTopologyDoc, RoundTripsThroughJson) {
  GpuTopologyDoc doc;
  doc.product = "NVIDIA H100 80GB HBM3";
  doc.gpus = {{0, "GPU-a", "00000000:18:00.0", 81559, 0},
              {1, "GPU-b", "00000000:2A:00.0", 81559, 1}};
  doc.links = {{0, 1, GpuLinkType::kNvSwitch, 900}};
  const std::string json = to_json(doc);
  EXPECT_THAT(json, HasSubstr(R"("type":"nvswitch")"));
  const auto parsed = parse_gpu_topology(json);
  ASSERT_TRUE(parsed) << parsed.error();
  EXPECT_EQ(parsed->product, doc.product);
  ASSERT_EQ(parsed->gpus.size(), 2U);
  EXPECT_EQ(parsed->gpus[1].uuid, "GPU-b");
  EXPECT_EQ(parsed->gpus[1].numa_node, 1);
  ASSERT_EQ(parsed->links.size(), 1U);
  EXPECT_EQ(parsed->links[0].bandwidth_gbps, 900);
  EXPECT_EQ(to_json(*parsed), json);
}

TEST(GpuTopologyDoc, ExplainsWhatIsWrong) {
  EXPECT_THAT(parse_gpu_topology("nope").error(), HasSubstr("not a JSON object"));
  EXPECT_THAT(parse_gpu_topology(R"({"gpus":3})").error(), HasSubstr("\"gpus\" must be an array"));
  EXPECT_THAT(parse_gpu_topology(R"({"gpus":[{"index":0},{"index":0}]})").error(),
              HasSubstr("repeated"));
  EXPECT_THAT(
      parse_gpu_topology(R"({"gpus":[{"index":0}],"links":[{"a":0,"b":1,"type":"warp"}]})").error(),
      HasSubstr("unknown \"type\""));
  EXPECT_THAT(parse_gpu_topology(R"({"version":2,"gpus":[]})").error(), HasSubstr("version 2"));
}

TEST(InferGpuLinks, KnowsSxmPcieAndNvlPartsFromGfdLabels) {
  EXPECT_EQ(infer_gpu_links("NVIDIA-A100-SXM4-80GB", 8)->front().type, GpuLinkType::kNvSwitch);
  EXPECT_EQ(infer_gpu_links("NVIDIA-A100-SXM4-80GB", 8)->front().bandwidth_gbps, 600);
  EXPECT_EQ(infer_gpu_links("NVIDIA-H100-80GB-HBM3", 8)->front().bandwidth_gbps, 900);
  EXPECT_EQ(infer_gpu_links("NVIDIA-B200", 8)->front().bandwidth_gbps, 1800);
  EXPECT_EQ(infer_gpu_links("NVIDIA-A100-PCIE-40GB", 4)->front().type, GpuLinkType::kPcie);
  EXPECT_EQ(infer_gpu_links("Tesla-T4", 2)->front().type, GpuLinkType::kPcie);
  EXPECT_EQ(infer_gpu_links("NVIDIA-A10G", 4)->front().type, GpuLinkType::kPcie);
  const auto nvl = infer_gpu_links("NVIDIA-H100-NVL", 4);
  ASSERT_TRUE(nvl);
  const GpuLinkGraph graph = *GpuLinkGraph::build(4, *nvl);
  EXPECT_EQ(graph.islands().size(), 2U);
  EXPECT_FALSE(infer_gpu_links("Mystery-9000", 8));
}

TEST(ReadNodeGpuTopology, AnnotationFirstThenLabelsThenUnknown) {
  GpuTopologyDoc doc;
  doc.gpus = {{0, "", "", 0, -1}, {1, "", "", 0, -1}};
  doc.links = {{0, 1, GpuLinkType::kNvLink, 600}};
  const LabelMap labels = {{"nvidia.com/gpu.product", "NVIDIA-L4"}, {"nvidia.com/gpu.count", "2"}};
  const LabelMap annotations = {{"fairway.dev/gpu-topology", to_json(doc)}};

  const auto from_annotation = read_node_gpu_topology(labels, annotations, 2);
  EXPECT_EQ(from_annotation.source, GpuTopologySource::kAnnotation);
  EXPECT_TRUE(from_annotation.graph->one_island());

  const auto from_labels = read_node_gpu_topology(labels, {}, 2);
  EXPECT_EQ(from_labels.source, GpuTopologySource::kLabels);
  EXPECT_FALSE(from_labels.graph->one_island());

  const LabelMap broken = {{"fairway.dev/gpu-topology", "{"}};
  const auto fallback = read_node_gpu_topology(labels, broken, 2);
  EXPECT_EQ(fallback.source, GpuTopologySource::kLabels);
  EXPECT_THAT(fallback.error, HasSubstr("fairway.dev/gpu-topology"));

  EXPECT_EQ(read_node_gpu_topology({}, {}, 8).source, GpuTopologySource::kUnknown);
  // No count label: allocatable nvidia.com/gpu tells how many.
  const auto counted = read_node_gpu_topology({{"nvidia.com/gpu.product", "H100-SXM"}}, {}, 4);
  EXPECT_EQ(counted.graph->gpu_count(), 4);
}

TEST(GpuGraphCache, NodesWithTheSameLayoutShareOneGraph) {
  GpuGraphCache cache;
  const auto a = cache.intern(*GpuLinkGraph::build(8, *infer_gpu_links("H100-SXM", 8)));
  const auto b = cache.intern(*GpuLinkGraph::build(8, *infer_gpu_links("H100-SXM", 8)));
  const auto c = cache.intern(*GpuLinkGraph::build(4, *infer_gpu_links("H100-SXM", 4)));
  EXPECT_EQ(a.get(), b.get());
  EXPECT_NE(a.get(), c.get());
  EXPECT_EQ(cache.size(), 2U);
}

TEST(GpuGraphCache, ReadsEachLabelledLayoutOnceAndEachAnnotationAnew) {
  GpuGraphCache cache;
  const LabelMap h100 = {{"kubernetes.io/hostname", "a"}, {"nvidia.com/gpu.product", "H100-SXM"}};
  const LabelMap other = {{"kubernetes.io/hostname", "b"}, {"nvidia.com/gpu.product", "H100-SXM"}};
  const auto a = cache.read(h100, {}, 8);
  const auto b = cache.read(other, {}, 8);
  EXPECT_EQ(a.source, GpuTopologySource::kLabels);
  EXPECT_EQ(a.graph.get(), b.graph.get());
  // The same product with another count is another layout; so is the same read as before.
  const auto four = cache.read(h100, {}, 4);
  EXPECT_EQ(four.graph->gpu_count(), 4);
  EXPECT_EQ(cache.read(h100, {}, 8).graph->gpu_count(), 8);
  // What the labels do not describe stays unknown, remembered or not.
  EXPECT_EQ(cache.read({}, {}, 8).source, GpuTopologySource::kUnknown);
  EXPECT_EQ(cache.read({}, {}, 8).graph, nullptr);

  // An annotation wins over the labels, as read_node_gpu_topology has it.
  GpuTopologyDoc doc;
  doc.gpus = {{0, "", "", 0, -1}, {1, "", "", 0, -1}};
  doc.links = {{0, 1, GpuLinkType::kNvLink, 600}};
  const LabelMap annotated = {{"fairway.dev/gpu-topology", to_json(doc)}};
  const auto from_annotation = cache.read(h100, annotated, 8);
  EXPECT_EQ(from_annotation.source, GpuTopologySource::kAnnotation);
  EXPECT_EQ(from_annotation.graph->gpu_count(), 2);
  EXPECT_EQ(cache.read(h100, {}, 8).graph.get(), a.graph.get());
}

}  // namespace
}  // namespace fairway
