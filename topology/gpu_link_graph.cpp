#include "topology/gpu_link_graph.h"

#include <fmt/format.h>

#include <algorithm>
#include <bit>
#include <boost/graph/adjacency_list.hpp>
#include <boost/graph/connected_components.hpp>
#include <boost/graph/dijkstra_shortest_paths.hpp>
#include <boost/graph/filtered_graph.hpp>
#include <functional>
#include <limits>
#include <map>
#include <utility>

namespace fairway {

const char* link_type_name(GpuLinkType type) {
  switch (type) {
    case GpuLinkType::kNvLink:
      return "nvlink";
    case GpuLinkType::kNvSwitch:
      return "nvswitch";
    case GpuLinkType::kPcieSwitch:
      return "pcie-switch";
    case GpuLinkType::kPcieHostBridge:
      return "pcie-hostbridge";
    case GpuLinkType::kNuma:
      return "numa";
    case GpuLinkType::kSmp:
      return "smp";
    case GpuLinkType::kPcie:
      return "pcie";
  }
  return "pcie";
}

std::optional<GpuLinkType> parse_link_type(std::string_view name) {
  for (GpuLinkType type :
       {GpuLinkType::kNvLink, GpuLinkType::kNvSwitch, GpuLinkType::kPcieSwitch,
        GpuLinkType::kPcieHostBridge, GpuLinkType::kNuma, GpuLinkType::kSmp, GpuLinkType::kPcie}) {
    if (name == link_type_name(type)) return type;
  }
  return std::nullopt;
}

bool is_nvlink(GpuLinkType type) {
  return type == GpuLinkType::kNvLink || type == GpuLinkType::kNvSwitch;
}

double default_bandwidth_gbps(GpuLinkType type) {
  // Rough bidirectional figures; only their order matters for placement, and the annotation
  // published by the agent carries measured NVLink counts instead.
  switch (type) {
    case GpuLinkType::kNvLink:
      return 300;
    case GpuLinkType::kNvSwitch:
      return 900;
    case GpuLinkType::kPcieSwitch:
      return 64;
    case GpuLinkType::kPcieHostBridge:
      return 48;
    case GpuLinkType::kNuma:
      return 40;
    case GpuLinkType::kSmp:
      return 32;
    case GpuLinkType::kPcie:
      return 32;
  }
  return 32;
}

namespace {

struct EdgeProps {
  double bandwidth = 0;
  bool nvlink = false;
};
using Graph = boost::adjacency_list<boost::vecS, boost::vecS, boost::undirectedS,
                                    boost::no_property, EdgeProps>;

struct NvLinkOnly {
  const Graph* graph = nullptr;
  bool operator()(Graph::edge_descriptor edge) const { return (*graph)[edge].nvlink; }
};

}  // namespace

tl::expected<GpuLinkGraph, std::string> GpuLinkGraph::build(int gpus,
                                                            std::span<const GpuLink> links) {
  if (gpus < 0 || gpus > kMaxGpus) {
    return tl::unexpected(fmt::format("{} GPUs: at most {} are supported", gpus, kMaxGpus));
  }
  // Merge links per pair: several NVLinks between two GPUs add up; otherwise the widest wins.
  std::map<std::pair<int, int>, GpuLink> merged;
  for (const GpuLink& link : links) {
    if (link.a < 0 || link.b < 0 || link.a >= gpus || link.b >= gpus || link.a == link.b) {
      return tl::unexpected(fmt::format("link {}-{} names a GPU that does not exist ({} GPUs)",
                                        link.a, link.b, gpus));
    }
    if (link.bandwidth_gbps < 0) {
      return tl::unexpected(fmt::format("link {}-{} has a negative bandwidth", link.a, link.b));
    }
    GpuLink clean = link;
    if (clean.a > clean.b) std::swap(clean.a, clean.b);
    if (clean.bandwidth_gbps == 0) clean.bandwidth_gbps = default_bandwidth_gbps(clean.type);
    auto [it, inserted] = merged.try_emplace({clean.a, clean.b}, clean);
    if (inserted) continue;
    GpuLink& have = it->second;
    if (is_nvlink(have.type) && is_nvlink(clean.type)) {
      have.bandwidth_gbps += clean.bandwidth_gbps;
      if (clean.type == GpuLinkType::kNvSwitch) have.type = GpuLinkType::kNvSwitch;
    } else if (is_nvlink(clean.type) ||
               (!is_nvlink(have.type) && clean.bandwidth_gbps > have.bandwidth_gbps)) {
      have = clean;
    }
  }

  GpuLinkGraph result;
  result.gpus_ = gpus;
  Graph graph(static_cast<size_t>(gpus));
  result.signature_ = std::to_string(gpus);
  for (const auto& [pair, link] : merged) {
    result.links_.push_back(link);
    boost::add_edge(static_cast<size_t>(link.a), static_cast<size_t>(link.b),
                    EdgeProps{link.bandwidth_gbps, is_nvlink(link.type)}, graph);
    result.signature_ +=
        fmt::format(";{}-{}:{}:{}", link.a, link.b, link_type_name(link.type), link.bandwidth_gbps);
  }

  // NVLink islands: connected components of the graph restricted to NVLink/NVSwitch edges.
  const boost::filtered_graph<Graph, NvLinkOnly> nvlink(graph, NvLinkOnly{&graph});
  std::vector<int> component(static_cast<size_t>(gpus));
  const int islands = gpus == 0 ? 0 : boost::connected_components(nvlink, component.data());
  result.island_of_ = component;
  result.islands_.assign(static_cast<size_t>(islands), 0);
  for (int gpu = 0; gpu < gpus; ++gpu) {
    result.islands_[static_cast<size_t>(component[static_cast<size_t>(gpu)])] |= uint64_t{1} << gpu;
  }

  // Widest paths: Dijkstra with (max, min) in place of (min, +): a path is as wide as its
  // narrowest edge, and we keep the widest path to every GPU.
  constexpr double kInfinite = std::numeric_limits<double>::infinity();
  result.widest_.assign(static_cast<size_t>(gpus) * static_cast<size_t>(gpus), 0);
  std::vector<double> width(static_cast<size_t>(gpus));
  for (int source = 0; source < gpus; ++source) {
    boost::dijkstra_shortest_paths(
        graph, static_cast<size_t>(source),
        boost::weight_map(boost::get(&EdgeProps::bandwidth, graph))
            .distance_map(width.data())
            .distance_compare(std::greater<double>())
            .distance_combine([](double a, double b) { return std::min(a, b); })
            .distance_inf(0.0)
            .distance_zero(kInfinite));
    for (int target = 0; target < gpus; ++target) {
      result.widest_[static_cast<size_t>(source) * static_cast<size_t>(gpus) +
                     static_cast<size_t>(target)] =
          source == target ? kInfinite : width[static_cast<size_t>(target)];
    }
  }
  result.uniform_.assign(result.islands_.size(), true);
  for (size_t island = 0; island < result.islands_.size(); ++island) {
    std::optional<double> seen;
    for (int a = 0; a < gpus; ++a) {
      if ((result.islands_[island] >> a & 1) == 0) continue;
      for (int b = a + 1; b < gpus; ++b) {
        if ((result.islands_[island] >> b & 1) == 0) continue;
        const double pair = result.widest(a, b);
        if (seen && *seen != pair) result.uniform_[island] = false;
        seen = pair;
      }
    }
  }
  return result;
}

std::optional<double> GpuLinkGraph::bottleneck(uint64_t gpus) const {
  gpus &= all_gpus();
  if (std::popcount(gpus) < 2) return std::nullopt;
  double narrowest = std::numeric_limits<double>::infinity();
  for (int a = 0; a < gpus_; ++a) {
    if ((gpus >> a & 1) == 0) continue;
    for (int b = a + 1; b < gpus_; ++b) {
      if ((gpus >> b & 1) != 0) narrowest = std::min(narrowest, widest(a, b));
    }
  }
  return narrowest;
}

int GpuLinkGraph::largest_free_island(uint64_t free) const {
  int best = 0;
  for (uint64_t island : islands_) best = std::max(best, std::popcount(island & free));
  return best;
}

uint64_t GpuLinkGraph::choose(uint64_t free, int count) const {
  free &= all_gpus();
  if (count <= 0 || std::popcount(free) < count) return 0;
  // Best fit: the island with the fewest free GPUs that still holds the whole pod.
  uint64_t pool = 0;
  int pool_free = kMaxGpus + 1;
  bool uniform = false;
  for (size_t island = 0; island < islands_.size(); ++island) {
    const int have = std::popcount(islands_[island] & free);
    if (have >= count && have < pool_free) {
      pool = islands_[island] & free;
      pool_free = have;
      uniform = uniform_[island];
    }
  }
  if (pool == 0) {
    pool = free;  // no island holds it: the widest set from all free GPUs
    uniform = false;
  }
  if (std::popcount(pool) == count) return pool;
  if (uniform) {
    uint64_t chosen = 0;
    for (int k = 0; k < count; ++k) {
      const uint64_t lowest = pool & (~pool + 1);
      chosen |= lowest;
      pool &= ~lowest;
    }
    return chosen;
  }

  // Greedy from every seed: add the GPU whose narrowest link to the set so far is widest; keep
  // the seed whose set has the widest bottleneck (ties: lowest indices). Nodes have few GPUs.
  uint64_t best = 0;
  double best_width = -1;
  for (int seed = 0; seed < gpus_; ++seed) {
    if ((pool >> seed & 1) == 0) continue;
    uint64_t chosen = uint64_t{1} << seed;
    double set_width = std::numeric_limits<double>::infinity();
    for (int k = 1; k < count; ++k) {
      int pick = -1;
      double pick_width = -1;
      for (int gpu = 0; gpu < gpus_; ++gpu) {
        if ((pool >> gpu & 1) == 0 || (chosen >> gpu & 1) != 0) continue;
        double narrowest = std::numeric_limits<double>::infinity();
        for (int in = 0; in < gpus_; ++in) {
          if ((chosen >> in & 1) != 0) narrowest = std::min(narrowest, widest(gpu, in));
        }
        if (narrowest > pick_width) {
          pick = gpu;
          pick_width = narrowest;
        }
      }
      chosen |= uint64_t{1} << pick;
      set_width = std::min(set_width, pick_width);
    }
    if (set_width > best_width) {
      best = chosen;
      best_width = set_width;
    }
    if (gpus_ > 16) break;  // large boxes: one greedy pass is enough
  }
  return best;
}

uint64_t GpuLinkGraph::assume_used(int used) const {
  used = std::clamp(used, 0, gpus_);
  if (islands_.size() == 1) return used == 64 ? ~uint64_t{0} : (uint64_t{1} << used) - 1;
  std::vector<uint64_t> order = islands_;
  std::stable_sort(order.begin(), order.end(),
                   [](uint64_t a, uint64_t b) { return std::popcount(a) < std::popcount(b); });
  uint64_t mask = 0;
  for (uint64_t island : order) {
    for (int gpu = 0; gpu < gpus_ && used > 0; ++gpu) {
      if ((island >> gpu & 1) != 0) {
        mask |= uint64_t{1} << gpu;
        --used;
      }
    }
  }
  return mask;
}

}  // namespace fairway
