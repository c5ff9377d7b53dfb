#include "scheduler/state/pod_intent.h"

#include <fmt/format.h>

#include <charconv>
#include <cmath>
#include <limits>

namespace fairway {
namespace {

// Where a value came from, so that messages name the key the user actually wrote.
struct Found {
  std::string_view kind;  // "label" or "annotation"
  std::string_view key;
  std::string_view value;
};

std::optional<Found> find_in(const Labels& map, std::string_view kind, std::string_view key) {
  if (auto it = map.find(key); it != map.end()) return Found{kind, it->first, it->second};
  return std::nullopt;
}

std::optional<Found> find_annotation(const Pod& pod, std::string_view key) {
  return find_in(pod.annotations, "annotation", key);
}

std::optional<Found> find_label(const Pod& pod, std::string_view key) {
  return find_in(pod.labels, "label", key);
}

std::optional<Found> first_of(std::optional<Found> a, std::optional<Found> b) {
  return a ? a : b;
}

std::string invalid(const Found& found, std::string_view why) {
  return fmt::format("{} {}=\"{}\": {}", found.kind, found.key, found.value, why);
}

// A positive base-10 integer with no sign, spaces or fraction: "3", not "+3", " 3" or "3.0".
std::optional<int64_t> parse_positive_int(std::string_view text) {
  int64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || error != std::errc() || end != text.data() + text.size() || value <= 0) {
    return std::nullopt;
  }
  return value;
}

// A finite decimal number ("0.5", "5e-1"); rejects "nan", "inf", hex and trailing text.
std::optional<double> parse_decimal(std::string_view text) {
  if (!text.empty() && text.front() == '+') text.remove_prefix(1);
  double value = 0;
  const auto [end, error] =
      std::from_chars(text.data(), text.data() + text.size(), value, std::chars_format::general);
  if (text.empty() || error != std::errc() || end != text.data() + text.size() ||
      !std::isfinite(value)) {
    return std::nullopt;
  }
  return value;
}

void read_queue(const Pod& pod, const PodIntentConfig& config, PodIntent& intent) {
  if (const auto named = find_queue_key(pod, config)) {
    intent.queue = *named->value;
    intent.queue_from_pod = true;
  } else {
    intent.queue = config.default_queue;
  }
}

void read_gang(const Pod& pod, PodIntent& intent) {
  const auto group = first_of(
      first_of(find_annotation(pod, kAnnotationPodGroup), find_annotation(pod, kKaiPodGroup)),
      find_label(pod, kKaiPodGroup));
  if (group && !group->value.empty()) intent.pod_group = std::string(group->value);

  const auto min_member = find_annotation(pod, kAnnotationMinMember);
  if (!min_member) return;
  const auto value = parse_positive_int(min_member->value);
  if (!value || *value > std::numeric_limits<int32_t>::max()) {
    intent.errors.push_back(invalid(*min_member, "must be a positive integer"));
  } else if (intent.pod_group.empty()) {
    intent.errors.push_back(invalid(
        *min_member, fmt::format("needs annotation {} naming the pod group", kAnnotationPodGroup)));
  } else {
    intent.min_member = static_cast<int32_t>(*value);
  }
}

// The first container (init containers included) that asks for whole GPUs, if any.
const Container* whole_gpu_container(const Pod& pod) {
  for (const auto* containers : {&pod.containers, &pod.init_containers}) {
    for (const Container& container : *containers) {
      for (const ResourceList* list : {&container.requests, &container.limits}) {
        if (auto it = list->find(kGpuResourceName); it != list->end() && it->second > 0) {
          return &container;
        }
      }
    }
  }
  return nullptr;
}

void read_gpu_fraction(const Pod& pod, PodIntent& intent) {
  const auto fraction_text =
      first_of(find_annotation(pod, kAnnotationGpuFraction), find_annotation(pod, kKaiGpuFraction));
  const auto memory_text =
      first_of(find_annotation(pod, kAnnotationGpuMemory), find_annotation(pod, kKaiGpuMemory));
  const auto devices_text = first_of(find_annotation(pod, kAnnotationGpuFractionNumDevices),
                                     find_annotation(pod, kKaiGpuFractionNumDevices));
  if (!fraction_text && !memory_text) {
    if (devices_text) {
      intent.errors.push_back(invalid(
          *devices_text,
          fmt::format("needs annotation {} or {}", kAnnotationGpuFraction, kAnnotationGpuMemory)));
    }
    return;
  }

  const size_t errors_before = intent.errors.size();
  GpuFraction share;
  if (fraction_text) {
    const auto value = parse_decimal(fraction_text->value);
    if (!value || *value <= 0 || *value >= 1) {
      intent.errors.push_back(
          invalid(*fraction_text, "must be a number greater than 0 and less than 1"));
    } else {
      share.fraction = value;
    }
  }
  if (memory_text) {
    const auto value = parse_positive_int(memory_text->value);
    if (!value) {
      intent.errors.push_back(invalid(*memory_text, "must be a positive integer number of MiB"));
    } else {
      share.memory_mib = value;
    }
  }
  if (fraction_text && memory_text) {
    intent.errors.push_back(
        fmt::format("annotations {} and {} are both set: ask for either a "
                    "fraction of a GPU or an amount of GPU memory",
                    fraction_text->key, memory_text->key));
  }
  if (devices_text) {
    const auto value = parse_positive_int(devices_text->value);
    if (!value || *value > std::numeric_limits<int32_t>::max()) {
      intent.errors.push_back(invalid(*devices_text, "must be a positive integer"));
    } else {
      share.num_devices = static_cast<int32_t>(*value);
    }
  }
  if (const Container* container = whole_gpu_container(pod)) {
    const Found& asked = fraction_text ? *fraction_text : *memory_text;
    intent.errors.push_back(invalid(
        asked, fmt::format("container \"{}\" also asks for whole {}; ask for either a GPU share "
                           "or whole GPUs",
                           container->name, kGpuResourceName)));
  }
  if (intent.errors.size() == errors_before) intent.gpu_fraction = share;
}

void read_preemptible(const Pod& pod, PodIntent& intent) {
  const auto found = first_of(find_label(pod, kPreemptible), find_annotation(pod, kPreemptible));
  if (!found) return;
  if (found->value == "true") {
    intent.preemptible = true;
  } else if (found->value == "false") {
    intent.preemptible = false;
  } else {
    intent.errors.push_back(invalid(*found, "must be \"true\" or \"false\""));
  }
}

void read_topology(const Pod& pod, PodIntent& intent) {
  auto value = [&pod](std::string_view key, std::string_view kai) {
    const auto found = first_of(find_annotation(pod, key), find_annotation(pod, kai));
    return found ? std::string(found->value) : std::string();
  };
  intent.topology.topology = value(kAnnotationTopology, kKaiTopology);
  intent.topology.required_level = value(kAnnotationRequiredLevel, kKaiRequiredPlacement);
  intent.topology.preferred_level = value(kAnnotationPreferredLevel, kKaiPreferredPlacement);
}

}  // namespace

std::optional<QueueKey> find_queue_key(const Pod& pod, const PodIntentConfig& config) {
  for (const auto& [map, where] :
       {std::pair{&pod.labels, "label"}, {&pod.annotations, "annotation"}}) {
    for (const std::string& key : config.queue_label_keys) {
      if (auto it = map->find(key); it != map->end() && !it->second.empty()) {
        return QueueKey{where, &it->first, &it->second};
      }
    }
  }
  return std::nullopt;
}

PodIntent read_pod_intent(const Pod& pod, const PodIntentConfig& config) {
  PodIntent intent;
  intent.errors = pod.problems;  // what the decoder could not read comes first
  read_queue(pod, config, intent);
  read_gang(pod, intent);
  read_gpu_fraction(pod, intent);
  read_preemptible(pod, intent);
  read_topology(pod, intent);
  return intent;
}

}  // namespace fairway
