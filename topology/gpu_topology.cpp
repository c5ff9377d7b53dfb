#include "topology/gpu_topology.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <nlohmann/json.hpp>
#include <set>

namespace fairway {
namespace {

std::string upper(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

std::vector<std::string> tokens(const std::string& text) {
  std::vector<std::string> out;
  std::string current;
  for (char c : text) {
    if (c == '-' || c == ' ' || c == '_') {
      if (!current.empty()) out.push_back(std::move(current));
      current.clear();
    } else {
      current += c;
    }
  }
  if (!current.empty()) out.push_back(std::move(current));
  return out;
}

std::vector<GpuLink> all_pairs(int count, GpuLinkType type, double bandwidth) {
  std::vector<GpuLink> links;
  for (int a = 0; a < count; ++a) {
    for (int b = a + 1; b < count; ++b) links.push_back({a, b, type, bandwidth});
  }
  return links;
}

// NVSwitch bandwidth per GPU (bidirectional) by GPU generation.
double nvswitch_bandwidth(const std::string& product) {
  for (const char* part : {"GB300", "GB200", "B300", "B200"}) {
    if (product.find(part) != std::string::npos) return 1800;
  }
  for (const char* part : {"H100", "H200", "H800", "H20", "GH200", "HBM3"}) {
    if (product.find(part) != std::string::npos) return 900;
  }
  if (product.find("V100") != std::string::npos) return 300;
  return 600;  // A100/A800 and unknown SXM parts
}

}  // namespace

std::string to_json(const GpuTopologyDoc& doc) {
  nlohmann::ordered_json json;
  json["version"] = doc.version;
  json["product"] = doc.product;
  json["gpus"] = nlohmann::ordered_json::array();
  for (const GpuDevice& gpu : doc.gpus) {
    nlohmann::ordered_json entry;
    entry["index"] = gpu.index;
    entry["uuid"] = gpu.uuid;
    entry["pciBusId"] = gpu.pci_bus_id;
    entry["memoryMiB"] = gpu.memory_mib;
    entry["numaNode"] = gpu.numa_node;
    json["gpus"].push_back(std::move(entry));
  }
  json["links"] = nlohmann::ordered_json::array();
  for (const GpuLink& link : doc.links) {
    nlohmann::ordered_json entry;
    entry["a"] = link.a;
    entry["b"] = link.b;
    entry["type"] = link_type_name(link.type);
    entry["bandwidthGBps"] = link.bandwidth_gbps;
    json["links"].push_back(std::move(entry));
  }
  return json.dump();
}

tl::expected<GpuTopologyDoc, std::string> parse_gpu_topology(std::string_view text) {
  const nlohmann::json json = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded() || !json.is_object())
    return tl::unexpected(std::string("not a JSON object"));
  GpuTopologyDoc doc;
  // Every field is checked for its type, so no nlohmann exception can escape the core.
  auto get_int = [](const nlohmann::json& obj, const char* key, int64_t fallback,
                    std::string* error) -> int64_t {
    const auto it = obj.find(key);
    if (it == obj.end()) return fallback;
    if (!it->is_number_integer()) {
      *error = fmt::format("\"{}\" must be an integer", key);
      return fallback;
    }
    return it->get<int64_t>();
  };
  std::string error;
  doc.version = static_cast<int>(get_int(json, "version", 1, &error));
  if (!error.empty()) return tl::unexpected(error);
  if (doc.version != 1)
    return tl::unexpected(fmt::format("version {} is not supported", doc.version));
  if (auto it = json.find("product"); it != json.end() && it->is_string()) {
    doc.product = it->get<std::string>();
  }
  const auto gpus = json.find("gpus");
  if (gpus == json.end() || !gpus->is_array())
    return tl::unexpected(std::string("\"gpus\" must be an array"));
  if (gpus->size() > static_cast<size_t>(GpuLinkGraph::kMaxGpus)) {
    return tl::unexpected(
        fmt::format("{} GPUs: at most {} are supported", gpus->size(), GpuLinkGraph::kMaxGpus));
  }
  std::set<int64_t> seen;
  for (const auto& entry : *gpus) {
    if (!entry.is_object()) return tl::unexpected(std::string("\"gpus\" entries must be objects"));
    GpuDevice gpu;
    const int64_t index = get_int(entry, "index", -1, &error);
    gpu.memory_mib = get_int(entry, "memoryMiB", 0, &error);
    gpu.numa_node = static_cast<int>(get_int(entry, "numaNode", -1, &error));
    if (!error.empty()) return tl::unexpected(std::string("gpus: ") + error);
    if (index < 0 || index >= static_cast<int64_t>(gpus->size()) || !seen.insert(index).second) {
      return tl::unexpected(fmt::format("gpus: index {} is missing, repeated or out of range 0..{}",
                                        index, gpus->size() - 1));
    }
    gpu.index = static_cast<int>(index);
    if (auto it = entry.find("uuid"); it != entry.end() && it->is_string()) {
      gpu.uuid = it->get<std::string>();
    }
    if (auto it = entry.find("pciBusId"); it != entry.end() && it->is_string()) {
      gpu.pci_bus_id = it->get<std::string>();
    }
    doc.gpus.push_back(std::move(gpu));
  }
  std::sort(doc.gpus.begin(), doc.gpus.end(),
            [](const GpuDevice& x, const GpuDevice& y) { return x.index < y.index; });
  if (auto links = json.find("links"); links != json.end()) {
    if (!links->is_array()) return tl::unexpected(std::string("\"links\" must be an array"));
    for (const auto& entry : *links) {
      if (!entry.is_object())
        return tl::unexpected(std::string("\"links\" entries must be objects"));
      GpuLink link;
      link.a = static_cast<int>(get_int(entry, "a", -1, &error));
      link.b = static_cast<int>(get_int(entry, "b", -1, &error));
      if (!error.empty()) return tl::unexpected(std::string("links: ") + error);
      const auto type = entry.find("type");
      if (type == entry.end() || !type->is_string() || !parse_link_type(type->get<std::string>())) {
        return tl::unexpected(fmt::format("links: {}-{}: unknown \"type\"", link.a, link.b));
      }
      link.type = *parse_link_type(type->get<std::string>());
      if (auto bw = entry.find("bandwidthGBps"); bw != entry.end()) {
        if (!bw->is_number() || bw->get<double>() < 0) {
          return tl::unexpected(
              fmt::format("links: {}-{}: \"bandwidthGBps\" must be a number ≥ 0", link.a, link.b));
        }
        link.bandwidth_gbps = bw->get<double>();
      }
      doc.links.push_back(link);
    }
  }
  return doc;
}

std::optional<std::vector<GpuLink>> infer_gpu_links(std::string_view product_label, int count) {
  if (count <= 0 || count > GpuLinkGraph::kMaxGpus) return std::nullopt;
  const std::string product = upper(product_label);
  const std::vector<std::string> words = tokens(product);
  auto has_word = [&words](std::string_view word) {
    return std::find(words.begin(), words.end(), word) != words.end();
  };
  if (product.find("PCIE") != std::string::npos) {
    return all_pairs(count, GpuLinkType::kPcie, 0);
  }
  if (has_word("NVL")) {
    // H100/H200 NVL: PCIe cards bridged by NVLink in pairs.
    std::vector<GpuLink> links = all_pairs(count, GpuLinkType::kPcie, 0);
    for (int a = 0; a + 1 < count; a += 2) links.push_back({a, a + 1, GpuLinkType::kNvLink, 600});
    return links;
  }
  for (const char* part :
       {"SXM", "HGX", "DGX", "GB200", "GB300", "B200", "B300", "H200", "HBM3", "GH200"}) {
    if (product.find(part) != std::string::npos) {
      return all_pairs(count, GpuLinkType::kNvSwitch, nvswitch_bandwidth(product));
    }
  }
  for (const char* word : {"T4", "L4", "L40", "L40S", "L20", "A2", "A10", "A10G", "A16", "A30",
                           "A40", "RTX", "QUADRO", "P4", "P40", "P100"}) {
    if (has_word(word)) return all_pairs(count, GpuLinkType::kPcie, 0);
  }
  for (const auto& word : words) {
    if (word.starts_with("RTX")) return all_pairs(count, GpuLinkType::kPcie, 0);
  }
  return std::nullopt;
}

const char* source_name(GpuTopologySource source) {
  switch (source) {
    case GpuTopologySource::kUnknown:
      return "unknown";
    case GpuTopologySource::kAnnotation:
      return "annotation";
    case GpuTopologySource::kLabels:
      return "labels";
  }
  return "unknown";
}

NodeGpuTopology read_node_gpu_topology(const LabelMap& labels, const LabelMap& annotations,
                                       int64_t allocatable_gpus) {
  NodeGpuTopology result;
  if (auto it = annotations.find(kGpuTopologyAnnotation); it != annotations.end()) {
    auto doc = parse_gpu_topology(it->second);
    if (doc) {
      auto graph = GpuLinkGraph::build(static_cast<int>(doc->gpus.size()), doc->links);
      if (graph) {
        result.source = GpuTopologySource::kAnnotation;
        result.graph = std::move(*graph);
        return result;
      }
      result.error = fmt::format("annotation {}: {}", kGpuTopologyAnnotation, graph.error());
    } else {
      result.error = fmt::format("annotation {}: {}", kGpuTopologyAnnotation, doc.error());
    }
  }
  const auto product = labels.find(kGfdProductLabel);
  if (product == labels.end()) return result;
  int64_t count = allocatable_gpus;
  if (auto it = labels.find(kGfdCountLabel); it != labels.end()) {
    const std::string& text = it->second;
    int64_t parsed = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), parsed);
    if (ec == std::errc() && end == text.data() + text.size() && parsed > 0) count = parsed;
  }
  if (count <= 0 || count > GpuLinkGraph::kMaxGpus) return result;
  const auto links = infer_gpu_links(product->second, static_cast<int>(count));
  if (!links) return result;
  auto graph = GpuLinkGraph::build(static_cast<int>(count), *links);
  if (!graph) return result;
  result.source = GpuTopologySource::kLabels;
  result.graph = std::move(*graph);
  return result;
}

std::shared_ptr<const GpuLinkGraph> GpuGraphCache::intern(GpuLinkGraph graph) {
  auto [it, inserted] = graphs_.try_emplace(graph.signature());
  if (inserted) it->second = std::make_shared<const GpuLinkGraph>(std::move(graph));
  return it->second;
}

GpuGraphCache::NodeGraph GpuGraphCache::read(const LabelMap& labels, const LabelMap& annotations,
                                             int64_t allocatable_gpus) {
  auto read_now = [&] {
    NodeGpuTopology read = read_node_gpu_topology(labels, annotations, allocatable_gpus);
    return NodeGraph{read.source, read.graph ? intern(std::move(*read.graph)) : nullptr};
  };
  // An annotation is per node (it names each GPU's uuid): not worth remembering.
  if (annotations.contains(kGpuTopologyAnnotation)) return read_now();
  auto label = [&](std::string_view key) {
    const auto it = labels.find(key);
    return it == labels.end() ? std::string_view() : std::string_view(it->second);
  };
  std::string key =
      fmt::format("{}\n{}\n{}", label(kGfdProductLabel), label(kGfdCountLabel), allocatable_gpus);
  if (auto it = by_labels_.find(key); it != by_labels_.end()) return it->second;
  NodeGraph read = read_now();
  by_labels_.emplace(std::move(key), read);
  return read;
}

}  // namespace fairway
