#pragma once
// Where a node's GPU link graph comes from, in order:
//   1. the annotation `fairway.dev/gpu-topology`, JSON published by `fairway topology-agent`
//      from NVML (format below and in docs/topology.md);
//   2. GPU Feature Discovery labels `nvidia.com/gpu.product` and `nvidia.com/gpu.count`
//      (count falls back to allocatable nvidia.com/gpu): SXM/HGX parts are one NVSwitch domain,
//      PCIe parts have no NVLink, "NVL" PCIe cards are bridged in pairs;
//   3. otherwise unknown: the cycle neither prefers nor avoids the node for NVLink.
//
// Annotation, version 1 (compact JSON on the node; keys in camelCase like the Kubernetes API):
//   {"version":1,"product":"NVIDIA H100 80GB HBM3",
//    "gpus":[{"index":0,"uuid":"GPU-…","pciBusId":"00000000:18:00.0","memoryMiB":81559,
//             "numaNode":0}, …],
//    "links":[{"a":0,"b":1,"type":"nvswitch","bandwidthGBps":900}, …]}
// `type` is one of nvlink, nvswitch, pcie-switch, pcie-hostbridge, numa, smp, pcie.
//
// Pure parsing and formatting: no I/O.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <tl/expected.hpp>
#include <unordered_map>
#include <vector>

#include "topology/fabric_tree.h"
#include "topology/gpu_link_graph.h"

namespace fairway {

inline constexpr std::string_view kGpuTopologyAnnotation = "fairway.dev/gpu-topology";
inline constexpr std::string_view kGfdProductLabel = "nvidia.com/gpu.product";
inline constexpr std::string_view kGfdCountLabel = "nvidia.com/gpu.count";
inline constexpr std::string_view kGfdCliqueLabel = "nvidia.com/gpu.clique";

struct GpuDevice {
  int index = 0;
  std::string uuid;
  std::string pci_bus_id;
  int64_t memory_mib = 0;
  int numa_node = -1;  // -1: unknown
};

struct GpuTopologyDoc {
  int version = 1;
  std::string product;
  std::vector<GpuDevice> gpus;
  std::vector<GpuLink> links;
};

// Deterministic compact JSON (the agent patches only when it changes).
std::string to_json(const GpuTopologyDoc& doc);
tl::expected<GpuTopologyDoc, std::string> parse_gpu_topology(std::string_view json);

// The links a GPU Feature Discovery product name implies for `count` GPUs; nullopt: unknown part.
std::optional<std::vector<GpuLink>> infer_gpu_links(std::string_view product, int count);

enum class GpuTopologySource { kUnknown, kAnnotation, kLabels };
const char* source_name(GpuTopologySource source);

struct NodeGpuTopology {
  GpuTopologySource source = GpuTopologySource::kUnknown;
  std::optional<GpuLinkGraph> graph;
  std::string error;  // a bad annotation (the labels were used instead), for an Event
};

NodeGpuTopology read_node_gpu_topology(const LabelMap& labels, const LabelMap& annotations,
                                       int64_t allocatable_gpus);

// Nodes with the same layout share one immutable graph: a 10,000-node HGX cluster holds one.
class GpuGraphCache {
 public:
  std::shared_ptr<const GpuLinkGraph> intern(GpuLinkGraph graph);
  size_t size() const { return graphs_.size(); }

  struct NodeGraph {
    GpuTopologySource source = GpuTopologySource::kUnknown;
    std::shared_ptr<const GpuLinkGraph> graph;  // null: unknown
  };
  // read_node_gpu_topology, its graph interned. A node without the annotation is read once per
  // (product, count, allocatable) it carries: the nodes of a large cluster, which differ only in
  // name, do not each build the graph again.
  NodeGraph read(const LabelMap& labels, const LabelMap& annotations, int64_t allocatable_gpus);

 private:
  std::unordered_map<std::string, std::shared_ptr<const GpuLinkGraph>> graphs_;
  std::unordered_map<std::string, NodeGraph> by_labels_;
};

}  // namespace fairway
