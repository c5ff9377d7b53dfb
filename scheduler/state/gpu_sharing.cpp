#include "scheduler/state/gpu_sharing.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>

#include "topology/gpu_topology.h"

namespace fairway {
namespace {

constexpr size_t kMaxLabelValue = 63;
constexpr size_t kMaxObjectName = 253;

// FNV-1a: stable across builds and platforms (std::hash is not), so names survive upgrades.
uint32_t stable_hash(std::string_view text) {
  uint32_t hash = 2166136261U;
  for (char c : text) {
    hash = (hash ^ static_cast<uint8_t>(c)) * 16777619U;
  }
  return hash;
}

// `text` cut to `keep` characters, without a trailing '-' or '.' (names must end alphanumeric).
std::string_view cut(std::string_view text, size_t keep) {
  text = text.substr(0, keep);
  while (!text.empty() && (text.back() == '-' || text.back() == '.')) text.remove_suffix(1);
  return text;
}

}  // namespace

std::string gpu_group_name(std::string_view node, int index) {
  const std::string suffix = fmt::format("-gpu{}", index);
  if (node.size() + suffix.size() <= kMaxLabelValue) return fmt::format("{}{}", node, suffix);
  const std::string hash = fmt::format("-{:08x}", stable_hash(node));
  return fmt::format("{}{}{}", cut(node, kMaxLabelValue - suffix.size() - hash.size()), hash,
                     suffix);
}

std::string gpu_configmap_name_for(std::string_view pod_name) {
  constexpr std::string_view kSuffix = "-fairway-gpu";
  if (pod_name.size() + kSuffix.size() <= kMaxObjectName) {
    return fmt::format("{}{}", pod_name, kSuffix);
  }
  const std::string hash = fmt::format("-{:08x}", stable_hash(pod_name));
  return fmt::format("{}{}{}", cut(pod_name, kMaxObjectName - kSuffix.size() - hash.size()), hash,
                     kSuffix);
}

std::string gpu_configmap_name(const Pod& pod) {
  if (auto it = pod.annotations.find(kGpuConfigMapAnnotation);
      it != pod.annotations.end() && !it->second.empty()) {
    return it->second;
  }
  return gpu_configmap_name_for(pod.name);
}

int64_t node_gpu_memory_mib(const Labels& labels, const Labels& annotations) {
  if (auto it = labels.find(kGpuMemoryLabel); it != labels.end()) {
    int64_t value = 0;
    const std::string& text = it->second;
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (error == std::errc() && end == text.data() + text.size() && value > 0) return value;
  }
  if (auto it = annotations.find(kGpuTopologyAnnotation); it != annotations.end()) {
    if (const auto doc = parse_gpu_topology(it->second); doc && !doc->gpus.empty()) {
      // Nodes mix GPU models rarely; the smallest is what every slot can promise.
      int64_t smallest = 0;
      for (const GpuDevice& gpu : doc->gpus) {
        if (gpu.memory_mib > 0 && (smallest == 0 || gpu.memory_mib < smallest)) {
          smallest = gpu.memory_mib;
        }
      }
      return smallest;
    }
  }
  return 0;
}

std::vector<std::string> pod_gpu_groups(const Pod& pod) {
  std::vector<std::string> groups;
  if (auto it = pod.annotations.find(kGpuGroupsAnnotation); it != pod.annotations.end()) {
    std::string_view rest = it->second;
    while (!rest.empty()) {
      const size_t comma = rest.find(',');
      const std::string_view item = rest.substr(0, comma);
      if (!item.empty()) groups.emplace_back(item);
      if (comma == std::string_view::npos) break;
      rest.remove_prefix(comma + 1);
    }
    if (!groups.empty()) return groups;
  }
  if (auto it = pod.labels.find(kGpuGroupLabel); it != pod.labels.end() && !it->second.empty()) {
    groups.push_back(it->second);
  }
  return groups;
}

std::vector<std::string> sharer_gpu_groups(const Pod& pod, int32_t num_devices) {
  std::vector<std::string> groups = pod_gpu_groups(pod);
  if (!pod.node_name.empty()) {
    std::erase_if(groups, [&pod](const std::string& group) {
      // "<node>-gpu<i>" (or its hashed form): the index is the suffix, the node must be ours.
      const size_t at = group.rfind("-gpu");
      int index = -1;
      if (at == std::string::npos) return true;
      const char* first = group.data() + at + 4;
      const char* last = group.data() + group.size();
      const auto [end, error] = std::from_chars(first, last, index);
      return error != std::errc() || end != last || index < 0 ||
             gpu_group_name(pod.node_name, index) != group;
    });
  }
  if (groups.size() > static_cast<size_t>(std::max(num_devices, 1))) {
    groups.resize(static_cast<size_t>(std::max(num_devices, 1)));
  }
  return groups;
}

std::optional<int64_t> share_units(const GpuFraction& share, int64_t gpu_memory_mib) {
  if (share.fraction) {
    return std::clamp<int64_t>(std::llround(*share.fraction * kFullGpu), 1, kFullGpu);
  }
  if (!share.memory_mib || gpu_memory_mib <= 0 || *share.memory_mib > gpu_memory_mib) {
    return std::nullopt;
  }
  // Rounded up: a pod never gets less memory than it asked for.
  return (*share.memory_mib * kFullGpu + gpu_memory_mib - 1) / gpu_memory_mib;
}

double share_fraction(int64_t units) {
  return static_cast<double>(units) / static_cast<double>(kFullGpu);
}

// --------------------------------------------------------------------------------- the index

GroupId GpuSharing::slot(std::string_view group, NodeId node) {
  if (auto it = ids_.find(std::string(group)); it != ids_.end()) return it->second;
  GroupId id = 0;
  if (!free_slots_.empty()) {
    id = free_slots_.back();
    free_slots_.pop_back();
  } else {
    id = static_cast<GroupId>(gpus_.size());
    gpus_.emplace_back();
  }
  SharedGpu& gpu = gpus_[id];
  gpu = SharedGpu{};
  gpu.group = std::string(group);
  gpu.node = node;
  // The slot index is the number after the last "-gpu"; names we did not make get -1.
  gpu.index = -1;
  if (const size_t at = group.rfind("-gpu"); at != std::string_view::npos) {
    int index = 0;
    const std::string_view digits = group.substr(at + 4);
    const auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), index);
    if (error == std::errc() && end == digits.data() + digits.size()) gpu.index = index;
  }
  gpu.present = true;
  ids_.emplace(std::string(group), id);
  by_node_[node].push_back(id);
  return id;
}

void GpuSharing::release_if_empty(GroupId id) {
  SharedGpu& gpu = gpus_[id];
  if (!gpu.sharers.empty() || gpu.reservation) return;
  auto& list = by_node_[gpu.node];
  std::erase(list, id);
  if (list.empty()) by_node_.erase(gpu.node);
  ids_.erase(gpu.group);
  gpu = SharedGpu{};
  free_slots_.push_back(id);
}

int GpuSharing::add_sharer(std::string_view group, NodeId node, PodId pod, int64_t units,
                           int64_t memory_mib) {
  const GroupId id = slot(group, node);
  SharedGpu& gpu = gpus_[id];
  const bool before = gpu.placeholder();
  gpu.sharers.push_back(pod);
  gpu.used += units;
  gpu.memory_used_mib += memory_mib;
  return static_cast<int>(gpu.placeholder()) - static_cast<int>(before);
}

int GpuSharing::remove_sharer(std::string_view group, PodId pod, int64_t units,
                              int64_t memory_mib) {
  const auto it = ids_.find(std::string(group));
  if (it == ids_.end()) return 0;
  SharedGpu& gpu = gpus_[it->second];
  const auto at = std::find(gpu.sharers.begin(), gpu.sharers.end(), pod);
  if (at == gpu.sharers.end()) return 0;
  const bool before = gpu.placeholder();
  gpu.sharers.erase(at);
  gpu.used -= units;
  gpu.memory_used_mib -= memory_mib;
  const int delta = static_cast<int>(gpu.placeholder()) - static_cast<int>(before);
  release_if_empty(it->second);
  return delta;
}

int GpuSharing::add_reservation(std::string_view group, NodeId node, PodId pod, std::string uuid,
                                bool deleting) {
  const GroupId id = slot(group, node);
  SharedGpu& gpu = gpus_[id];
  const bool before = gpu.placeholder();
  if (gpu.reservation != pod) gpu.retired = false;
  gpu.reservation = pod;
  gpu.reservation_deleting = deleting;
  gpu.uuid = std::move(uuid);
  return static_cast<int>(gpu.placeholder()) - static_cast<int>(before);
}

int GpuSharing::remove_reservation(std::string_view group, PodId pod) {
  const auto it = ids_.find(std::string(group));
  if (it == ids_.end()) return 0;
  SharedGpu& gpu = gpus_[it->second];
  if (gpu.reservation != pod) return 0;
  const bool before = gpu.placeholder();
  gpu.reservation.reset();
  gpu.reservation_deleting = false;
  gpu.retired = false;
  gpu.uuid.clear();
  const int delta = static_cast<int>(gpu.placeholder()) - static_cast<int>(before);
  release_if_empty(it->second);
  return delta;
}

std::vector<GroupId> GpuSharing::idle() const {
  std::vector<GroupId> out;
  for (GroupId id = 0; id < gpus_.size(); ++id) {
    const SharedGpu& gpu = gpus_[id];
    if (gpu.present && gpu.reservation && !gpu.reservation_deleting && gpu.sharers.empty()) {
      out.push_back(id);
    }
  }
  return out;
}

std::vector<GroupId> GpuSharing::unreserved() const {
  std::vector<GroupId> out;
  for (GroupId id = 0; id < gpus_.size(); ++id) {
    if (gpus_[id].present && gpus_[id].placeholder()) out.push_back(id);
  }
  return out;
}

void GpuSharing::retire(std::string_view group) {
  if (const auto it = ids_.find(std::string(group)); it != ids_.end()) {
    gpus_[it->second].retired = true;
  }
}

const SharedGpu* GpuSharing::find(std::string_view group) const {
  const auto it = ids_.find(std::string(group));
  return it == ids_.end() ? nullptr : &gpus_[it->second];
}

std::optional<GroupId> GpuSharing::id_of(std::string_view group) const {
  const auto it = ids_.find(std::string(group));
  if (it == ids_.end()) return std::nullopt;
  return it->second;
}

const std::vector<GroupId>& GpuSharing::on_node(NodeId node) const {
  static const std::vector<GroupId> kNone;
  const auto it = by_node_.find(node);
  return it == by_node_.end() ? kNone : it->second;
}

}  // namespace fairway
