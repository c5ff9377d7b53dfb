// Decoding gangs: PodGroups (minMember, subgroups, topology constraint), Kubernetes 1.35's
// scheduling.k8s.io Workloads (their pod groups) and fairway's Topologies.
#include <fmt/format.h>

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "k8s-client/decode_support.h"
#include "k8s-client/objects.h"

namespace fairway::k8s::decoding {
namespace {

R read_topology_constraint(dom::element value, TopologyConstraint& tc) {
  return for_each_field(value, [&](std::string_view key, dom::element field) -> R {
    if (key == "topology") return within("topology", read_string(field, tc.topology));
    // KAI spells the levels requiredTopologyLevel / preferredTopologyLevel.
    if (key == "requiredLevel" || key == "requiredTopologyLevel") {
      return within(key, read_string(field, tc.required_level));
    }
    if (key == "preferredLevel" || key == "preferredTopologyLevel") {
      return within(key, read_string(field, tc.preferred_level));
    }
    return {};
  });
}

// The upstream PodGroup's policy: gang {minCount} is all-or-nothing; basic is pods on their own.
R read_scheduling_policy(dom::element value, int32_t& min_member) {
  return for_each_field(value, [&](std::string_view key, dom::element field) -> R {
    if (key == "basic" && !is_null(field)) min_member = 1;
    if (key != "gang" || is_null(field)) return {};
    return within("gang", for_each_field(field, [&](std::string_view k2, dom::element v) -> R {
                    if (k2 != "minCount") return {};
                    R r = read_int32(v, min_member);
                    if (r && min_member < 1) r = fail(fmt::format("{} must be >= 1", min_member));
                    return within("minCount", std::move(r));
                  }));
  });
}

// spec.subGroups[]: flat subgroups (no `parent`), each with a unique name and minMember >= 1,
// checked as KAI Scheduler's PodGroup webhook does. The sum of the subgroups' minimums may exceed
// the gang's minMember: both must hold (docs/scheduling.md).
R read_sub_groups(dom::element value, std::vector<SubGroup>& out) {
  reserve_for(value, out);
  return for_each_element(value, [&](size_t i, dom::element element) -> R {
    SubGroup& subgroup = out.emplace_back();
    bool has_min = false;
    R r = for_each_field(element, [&](std::string_view key, dom::element field) -> R {
      if (key == "name") return within("name", read_string(field, subgroup.name));
      if (key == "minMember") {
        if (is_null(field)) return {};
        has_min = true;
        R m = read_int32(field, subgroup.min_member);
        if (m && subgroup.min_member < 1) {
          m = fail(fmt::format("Invalid value: {}: must be greater than or equal to 1",
                               subgroup.min_member));
        }
        return within("minMember", std::move(m));
      }
      if (key == "topologyConstraint") {
        return within("topologyConstraint",
                      read_topology_constraint(field, subgroup.topology_constraint));
      }
      if (key == "parent" && !is_null(field)) {
        return within("parent", fail("Unsupported value: nested subgroups are not supported; "
                                     "subgroups must be flat"));
      }
      return {};
    });
    if (r && subgroup.name.empty()) r = within("name", fail("Required value"));
    if (r && !has_min) r = within("minMember", fail("Required value"));
    for (size_t k = 0; r && k + 1 < out.size(); ++k) {
      if (out[k].name == subgroup.name) {
        r = within("name", fail(fmt::format("Duplicate value: \"{}\"", subgroup.name)));
      }
    }
    return within_index("", i, std::move(r));
  });
}

R read_pod_group_spec(dom::element value, PodGroup& group) {
  return for_each_field(value, [&](std::string_view key, dom::element field) -> R {
    if (key == "minMember") {
      if (is_null(field)) return {};
      R r = read_int32(field, group.min_member);
      if (r && group.min_member < 0) r = fail(fmt::format("{} must be >= 0", group.min_member));
      return within("minMember", std::move(r));
    }
    if (key == "queue") return within("queue", read_string(field, group.queue));
    if (key == "priorityClassName") {
      return within("priorityClassName", read_string(field, group.priority_class_name));
    }
    if (key == "scheduleTimeoutSeconds") {
      if (is_null(field)) return {};
      int64_t seconds = 0;
      if (R r = read_int64(field, seconds); !r)
        return within("scheduleTimeoutSeconds", std::move(r));
      group.schedule_timeout_seconds = seconds;
      return {};
    }
    if (key == "schedulingPolicy") {  // scheduling.k8s.io/v1alpha2: gang.minCount or basic
      return within("schedulingPolicy", read_scheduling_policy(field, group.min_member));
    }
    if (key == "topologyConstraint") {
      return within("topologyConstraint",
                    read_topology_constraint(field, group.topology_constraint));
    }
    // fairway's and KAI's: [{name, minMember, topologyConstraint}].
    if (key == "subGroups") return within("subGroups", read_sub_groups(field, group.subgroups));
    return {};
  });
}

R read_topology_spec(dom::element value, TopologySpec& topology) {
  return for_each_field(value, [&](std::string_view key, dom::element field) -> R {
    if (!(key == "levels")) return {};
    reserve_for(field, topology.levels);
    return within("levels", for_each_element(field, [&](size_t i, dom::element element) -> R {
                    TopologyLevel& level = topology.levels.emplace_back();
                    R r = for_each_field(element, [&](std::string_view k2, dom::element v) -> R {
                      if (k2 == "nodeLabel")
                        return within("nodeLabel", read_string(v, level.node_label));
                      if (k2 == "bandwidthGBps") {
                        if (is_null(v)) return {};
                        double gbps = 0;
                        if (R rr = read_double(v, gbps); !rr)
                          return within("bandwidthGBps", std::move(rr));
                        level.bandwidth_gbps = gbps;
                      }
                      return {};
                    });
                    if (r && level.node_label.empty()) r = within("nodeLabel", fail("required"));
                    return within_index("", i, std::move(r));
                  }));
  });
}

}  // namespace

template <>
struct Codec<PodGroup> {
  static R decode(dom::object object, Decoded<PodGroup>& out) {
    PodGroup& group = out.object;
    MetaSink sink{nullptr, nullptr, &group.creation_ms, nullptr};
    R r = for_each_field(object, [&](std::string_view key, dom::element field) -> R {
      if (key == "metadata") return within("metadata", read_meta(field, out.meta, sink));
      if (key == "spec") {
        // Kept with the problem (its gang then says why it waits) rather than dropped.
        if (R spec = within("spec", read_pod_group_spec(field, group)); !spec) {
          group.problems.push_back(describe(spec.error()));
        }
        return {};
      }
      return {};
    });
    group.namespace_ = out.meta.namespace_;
    group.name = out.meta.name;
    return r;
  }
};

// Kubernetes 1.35's scheduling.k8s.io/v1alpha1 Workload: spec.podGroups[] {name, policy}. Each
// pod group becomes an upstream PodGroup "<workload>#<name>" (model.h UpstreamWorkload).
template <>
struct Codec<UpstreamWorkload> {
  static R read_pod_groups(dom::element value, UpstreamWorkload& w) {
    return for_each_element(value, [&](size_t i, dom::element element) -> R {
      PodGroup group;
      std::string name;
      R r = for_each_field(element, [&](std::string_view key, dom::element field) -> R {
        if (key == "name") return within("name", read_string(field, name));
        if (key == "policy")
          return within("policy", read_scheduling_policy(field, group.min_member));
        return {};
      });
      if (r && name.empty()) r = within("name", fail("Required value"));
      if (r) {
        group.name = std::move(name);
        w.pod_groups.push_back(std::move(group));
      }
      return within_index("", i, std::move(r));
    });
  }
  static R decode(dom::object object, Decoded<UpstreamWorkload>& out) {
    UpstreamWorkload& w = out.object;
    TimeMs creation_ms = 0;
    MetaSink sink{nullptr, nullptr, &creation_ms, nullptr};
    R r = for_each_field(object, [&](std::string_view key, dom::element field) -> R {
      if (key == "metadata") return within("metadata", read_meta(field, out.meta, sink));
      if (key != "spec") return {};
      return within("spec", for_each_field(field, [&](std::string_view k2, dom::element v) -> R {
                      if (k2 != "podGroups") return {};
                      return within("podGroups", read_pod_groups(v, w));
                    }));
    });
    w.namespace_ = out.meta.namespace_;
    w.name = out.meta.name;
    for (PodGroup& group : w.pod_groups) {
      group.namespace_ = w.namespace_;
      group.name = w.name + "#" + group.name;
      group.creation_ms = creation_ms;
    }
    return r;
  }
};

template <>
struct Codec<TopologySpec> {
  static R decode(dom::object object, Decoded<TopologySpec>& out) {
    R r = for_each_field(object, [&](std::string_view key, dom::element field) -> R {
      if (key == "metadata") return within("metadata", read_meta(field, out.meta, {}));
      if (key == "spec") return within("spec", read_topology_spec(field, out.object));
      return {};
    });
    out.object.name = out.meta.name;
    return r;
  }
};

}  // namespace fairway::k8s::decoding

namespace fairway::k8s {

tl::expected<Decoded<PodGroup>, std::string> decode_pod_group(std::string_view json) {
  return decode_document<PodGroup>(json);
}

tl::expected<Decoded<UpstreamWorkload>, std::string> decode_upstream_workload(
    std::string_view json) {
  return decode_document<UpstreamWorkload>(json);
}

tl::expected<Decoded<TopologySpec>, std::string> decode_topology(std::string_view json) {
  return decode_document<TopologySpec>(json);
}

FAIRWAY_K8S_INSTANTIATE(PodGroup)
FAIRWAY_K8S_INSTANTIATE(UpstreamWorkload)
FAIRWAY_K8S_INSTANTIATE(TopologySpec)

}  // namespace fairway::k8s
