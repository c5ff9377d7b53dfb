// Decoding Pods: the spec the cycle reads (containers, affinity, tolerations, spread, ports,
// volumes, ResourceClaims, scheduling gates) and the status it needs.
#include <fmt/format.h>

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "k8s-client/decode_support.h"
#include "k8s-client/objects.h"

namespace fairway::k8s::decoding {
namespace {

R read_toleration(dom::element value, Toleration& out) {
  return for_each_field(value, [&](std::string_view key, dom::element field) -> R {
    if (key == "key") return within("key", read_string(field, out.key));
    if (key == "value") return within("value", read_string(field, out.value));
    if (key == "operator") {
      std::string op;
      if (R r = read_string(field, op); !r) return within("operator", std::move(r));
      if (op == "Exists") {
        out.op = Toleration::Operator::kExists;
      } else if (op == "Equal" || op.empty()) {
        out.op = Toleration::Operator::kEqual;
      } else {
        return within("operator", fail(fmt::format("unknown operator \"{}\"", op)));
      }
      return {};
    }
    if (key == "effect") {
      std::string effect;
      if (R r = read_string(field, effect); !r) return within("effect", std::move(r));
      if (effect.empty()) {
        out.effect.reset();
        return {};
      }
      auto parsed = parse_effect(effect);
      if (!parsed) return within("effect", fail(parsed.error()));
      out.effect = *parsed;
      return {};
    }
    return {};
  });
}

R read_preferred_scheduling_terms(dom::element value, std::vector<PreferredSchedulingTerm>& out) {
  reserve_for(value, out);
  return for_each_element(value, [&](size_t i, dom::element element) -> R {
    PreferredSchedulingTerm& term = out.emplace_back();
    return within_index(
        "", i, for_each_field(element, [&](std::string_view key, dom::element field) -> R {
          if (key == "weight") return within("weight", read_int32(field, term.weight));
          if (key == "preference") {
            return within("preference", read_node_selector_term(field, term.preference));
          }
          return {};
        }));
  });
}

R read_pod_affinity_term(dom::element value, PodAffinityTerm& term) {
  return for_each_field(value, [&](std::string_view key, dom::element field) -> R {
    if (key == "labelSelector") {
      return within("labelSelector", read_optional_selector(field, term.label_selector));
    }
    if (key == "namespaces") return within("namespaces", read_string_list(field, term.namespaces));
    if (key == "namespaceSelector") {
      return within("namespaceSelector", read_optional_selector(field, term.namespace_selector));
    }
    if (key == "topologyKey") return within("topologyKey", read_string(field, term.topology_key));
    if (key == "matchLabelKeys") {
      return within("matchLabelKeys", read_string_list(field, term.match_label_keys));
    }
    if (key == "mismatchLabelKeys") {
      return within("mismatchLabelKeys", read_string_list(field, term.mismatch_label_keys));
    }
    return {};
  });
}

// podAffinity or podAntiAffinity: required terms and weighted preferred terms.
R read_pod_affinity(dom::element value, std::vector<PodAffinityTerm>& required,
                    std::vector<WeightedPodAffinityTerm>& preferred) {
  return for_each_field(value, [&](std::string_view key, dom::element field) -> R {
    if (key == "requiredDuringSchedulingIgnoredDuringExecution") {
      reserve_for(field, required);
      return within(key, for_each_element(field, [&](size_t i, dom::element element) -> R {
                      return within_index("", i,
                                          read_pod_affinity_term(element, required.emplace_back()));
                    }));
    }
    if (key == "preferredDuringSchedulingIgnoredDuringExecution") {
      reserve_for(field, preferred);
      return within(
          key, for_each_element(field, [&](size_t i, dom::element element) -> R {
            WeightedPodAffinityTerm& weighted = preferred.emplace_back();
            return within_index(
                "", i, for_each_field(element, [&](std::string_view k2, dom::element v) -> R {
                  if (k2 == "weight") return within("weight", read_int32(v, weighted.weight));
                  if (k2 == "podAffinityTerm") {
                    return within("podAffinityTerm", read_pod_affinity_term(v, weighted.term));
                  }
                  return {};
                }));
          }));
    }
    return {};
  });
}

// Resource requests or scheduling constraints that cannot be read (a quantity that overflows, a
// list that is not a list, an unknown selector operator) do not make the pod vanish: it is kept
// with a problem, so the scheduler can say why it will never place it, and the fields after it
// (schedulerName, nodeName) are still read.
R tolerate(Pod& pod, R result, std::string_view part = "spec") {
  if (!result) pod.problems.push_back(fmt::format("{}.{}", part, describe(result.error())));
  return {};
}

// spec.affinity. A required node affinity that cannot be read fails the pod (as it always has);
// the other parts (preferred node affinity, pod affinity and anti-affinity) become problems.
R read_affinity(dom::element value, Pod& pod) {
  return for_each_field(value, [&](std::string_view key, dom::element field) -> R {
    if (key == "nodeAffinity") {
      return within(
          "nodeAffinity", for_each_field(field, [&](std::string_view k2, dom::element v) -> R {
            if (k2 == "requiredDuringSchedulingIgnoredDuringExecution") {
              if (is_null(v)) return {};
              return within(k2, read_node_selector(v, pod.required_node_affinity));
            }
            if (k2 == "preferredDuringSchedulingIgnoredDuringExecution") {
              return tolerate(
                  pod, within("affinity", within("nodeAffinity",
                                                 within(k2, read_preferred_scheduling_terms(
                                                                v, pod.preferred_node_affinity)))));
            }
            return {};
          }));
    }
    if (key == "podAffinity") {
      return tolerate(
          pod, within("affinity",
                      within("podAffinity", read_pod_affinity(field, pod.affinity.required_affinity,
                                                              pod.affinity.preferred_affinity))));
    }
    if (key == "podAntiAffinity") {
      return tolerate(
          pod,
          within("affinity", within("podAntiAffinity",
                                    read_pod_affinity(field, pod.affinity.required_anti_affinity,
                                                      pod.affinity.preferred_anti_affinity))));
    }
    return {};
  });
}

// "Honor" or "Ignore"; null or absent keeps the API server's default.
R read_policy(dom::element value, bool& honor) {
  if (is_null(value)) return {};
  std::string text;
  if (R r = read_string(value, text); !r) return r;
  if (text == "Honor") {
    honor = true;
  } else if (text == "Ignore") {
    honor = false;
  } else if (!text.empty()) {
    return fail(fmt::format("unknown policy \"{}\" (Honor or Ignore)", text));
  }
  return {};
}

R read_topology_spread_constraint(dom::element value, TopologySpreadConstraint& out) {
  return for_each_field(value, [&](std::string_view key, dom::element field) -> R {
    if (key == "maxSkew") return within("maxSkew", read_int32(field, out.max_skew));
    if (key == "topologyKey") return within("topologyKey", read_string(field, out.topology_key));
    if (key == "whenUnsatisfiable") {
      std::string text;
      if (R r = read_string(field, text); !r) return within("whenUnsatisfiable", std::move(r));
      if (text == "DoNotSchedule") {
        out.do_not_schedule = true;
      } else if (text == "ScheduleAnyway") {
        out.do_not_schedule = false;
      } else {
        return within(
            "whenUnsatisfiable",
            fail(fmt::format("unknown action \"{}\" (DoNotSchedule or ScheduleAnyway)", text)));
      }
      return {};
    }
    if (key == "labelSelector") {
      return within("labelSelector", read_optional_selector(field, out.label_selector));
    }
    if (key == "minDomains") {
      if (is_null(field)) return {};
      int32_t domains = 0;
      if (R r = read_int32(field, domains); !r) return within("minDomains", std::move(r));
      out.min_domains = domains;
      return {};
    }
    if (key == "nodeAffinityPolicy") {
      return within("nodeAffinityPolicy", read_policy(field, out.node_affinity_honor));
    }
    if (key == "nodeTaintsPolicy") {
      return within("nodeTaintsPolicy", read_policy(field, out.node_taints_honor));
    }
    if (key == "matchLabelKeys") {
      return within("matchLabelKeys", read_string_list(field, out.match_label_keys));
    }
    return {};
  });
}

// A container's ports: only those with a hostPort (NodePorts) are kept.
R read_host_ports(dom::element value, std::vector<HostPort>& out) {
  return for_each_element(value, [&](size_t i, dom::element element) -> R {
    HostPort port;
    R r = for_each_field(element, [&](std::string_view key, dom::element field) -> R {
      if (key == "hostPort") {
        if (is_null(field)) return {};
        return within("hostPort", read_int32(field, port.port));
      }
      if (key == "protocol") {
        if (is_null(field)) return {};
        R rr = read_string(field, port.protocol);
        if (rr && port.protocol.empty()) port.protocol = "TCP";
        return within("protocol", std::move(rr));
      }
      if (key == "hostIP") return within("hostIP", read_string(field, port.host_ip));
      return {};
    });
    if (!r) return within_index("", i, std::move(r));
    if (port.port > 0) out.push_back(std::move(port));
    return {};
  });
}

// spec.volumes: those backed by a claim. A generic ephemeral volume's claim is named after the
// pod, whose name may come after spec: claim_name holds the volume's name until the pod's codec
// prefixes it.
R read_volumes(dom::element value, std::vector<PodVolumeClaim>& out) {
  return for_each_element(value, [&](size_t i, dom::element element) -> R {
    std::string name;
    std::optional<PodVolumeClaim> claim;
    R r = for_each_field(element, [&](std::string_view key, dom::element field) -> R {
      if (key == "name") return within("name", read_string(field, name));
      if (key == "persistentVolumeClaim" && !is_null(field)) {
        PodVolumeClaim& pvc = claim.emplace();
        R rr = for_each_field(field, [&](std::string_view k2, dom::element v) -> R {
          if (k2 == "claimName") return within("claimName", read_string(v, pvc.claim_name));
          return {};
        });
        if (rr && pvc.claim_name.empty()) rr = within("claimName", fail("required"));
        return within("persistentVolumeClaim", std::move(rr));
      }
      if (key == "ephemeral" && !is_null(field)) {
        if (!field.is_object()) return within("ephemeral", fail("not an object"));
        claim.emplace().ephemeral = true;
      }
      return {};
    });
    if (r && claim && claim->ephemeral) {
      if (name.empty()) r = within("name", fail("required"));
      claim->claim_name = name;
    }
    if (!r) return within_index("", i, std::move(r));
    if (claim) out.push_back(std::move(*claim));
    return {};
  });
}

// spec.resourceClaims (Dynamic Resource Allocation): a unique name and exactly one of
// resourceClaimName and resourceClaimTemplateName, with kube-apiserver's messages.
R read_pod_resource_claims(dom::element value, std::vector<PodResourceClaim>& out) {
  reserve_for(value, out);
  return for_each_element(value, [&](size_t i, dom::element element) -> R {
    PodResourceClaim claim;
    bool by_name = false;
    bool by_template = false;
    R r = for_each_field(element, [&](std::string_view key, dom::element field) -> R {
      if (key == "name") return within("name", read_string(field, claim.name));
      if (key == "resourceClaimName") {
        by_name = !is_null(field);
        return within(key, read_string(field, claim.claim_name));
      }
      if (key == "resourceClaimTemplateName") {
        by_template = !is_null(field);
        return within(key, read_string(field, claim.template_name));
      }
      return {};
    });
    if (r && claim.name.empty()) r = within("name", fail("Required value"));
    for (size_t k = 0; r && k < out.size(); ++k) {
      if (out[k].name == claim.name) {
        r = within("name", fail(fmt::format("Duplicate value: \"{}\"", claim.name)));
      }
    }
    if (r && by_name && by_template) {
      r = fail(
          "Invalid value: at most one of `resourceClaimName` or `resourceClaimTemplateName` "
          "may be specified");
    }
    if (r && !by_name && !by_template) {
      r = fail(
          "Invalid value: must specify one of: `resourceClaimName`, "
          "`resourceClaimTemplateName`");
    }
    if (r && by_name && claim.claim_name.empty()) {
      r = within("resourceClaimName", fail("Required value"));
    }
    if (r && by_template && claim.template_name.empty()) {
      r = within("resourceClaimTemplateName", fail("Required value"));
    }
    if (!r) return within_index("", i, std::move(r));
    out.push_back(std::move(claim));
    return {};
  });
}

// status.resourceClaimStatuses: the claim kube-controller-manager made for each template entry;
// resourceClaimName absent or null: no claim was needed.
R read_resource_claim_statuses(dom::element value, std::vector<PodResourceClaimStatus>& out) {
  reserve_for(value, out);
  return for_each_element(value, [&](size_t i, dom::element element) -> R {
    PodResourceClaimStatus status;
    R r = for_each_field(element, [&](std::string_view key, dom::element field) -> R {
      if (key == "name") return within("name", read_string(field, status.name));
      if (key == "resourceClaimName") {
        return within("resourceClaimName", read_string(field, status.claim_name));
      }
      return {};
    });
    if (r && status.name.empty()) r = within("name", fail("Required value"));
    if (!r) return within_index("", i, std::move(r));
    out.push_back(std::move(status));
    return {};
  });
}

R read_scheduling_gates(dom::element value, std::vector<std::string>& out) {
  reserve_for(value, out);
  return for_each_element(value, [&](size_t i, dom::element element) -> R {
    std::string& name = out.emplace_back();
    R r = for_each_field(element, [&](std::string_view key, dom::element field) -> R {
      if (key == "name") return within("name", read_string(field, name));
      return {};
    });
    if (r && name.empty()) r = within("name", fail("required"));
    return within_index("", i, std::move(r));
  });
}

// `host_ports` gets the container's host ports, an init container's only when it is a sidecar
// (restartPolicy: Always), as kube-scheduler's NodePorts counts them (GetHostPorts): the others
// have exited before the pod's containers start.
R read_container(dom::element value, Container& out, std::vector<HostPort>& host_ports, bool init) {
  std::vector<HostPort> ports;
  R result = for_each_field(value, [&](std::string_view key, dom::element field) -> R {
    if (key == "name") return within("name", read_string(field, out.name));
    if (key == "ports") return within("ports", read_host_ports(field, ports));
    if (key == "resources") {
      return within("resources",
                    for_each_field(field, [&](std::string_view k2, dom::element list) -> R {
                      if (k2 == "requests") {
                        return within("requests", read_resource_list(list, out.requests));
                      }
                      if (k2 == "limits")
                        return within("limits", read_resource_list(list, out.limits));
                      return {};
                    }));
    }
    if (key == "restartPolicy") {
      std::string policy;
      if (R r = read_string(field, policy); !r) return within("restartPolicy", std::move(r));
      out.restart_always = policy == "Always";
      return {};
    }
    return {};
  });
  if (!init || out.restart_always) {
    host_ports.insert(host_ports.end(), std::make_move_iterator(ports.begin()),
                      std::make_move_iterator(ports.end()));
  }
  return result;
}

R read_containers(dom::element value, std::vector<Container>& out,
                  std::vector<HostPort>& host_ports, bool init) {
  reserve_for(value, out);
  return for_each_element(value, [&](size_t i, dom::element element) -> R {
    return within_index("", i, read_container(element, out.emplace_back(), host_ports, init));
  });
}

R read_pod_spec(dom::element value, Pod& pod) {
  return for_each_field(value, [&](std::string_view key, dom::element field) -> R {
    if (key == "containers") {
      return tolerate(
          pod, within("containers", read_containers(field, pod.containers, pod.host_ports, false)));
    }
    if (key == "initContainers") {
      return tolerate(pod, within("initContainers", read_containers(field, pod.init_containers,
                                                                    pod.host_ports, true)));
    }
    if (key == "schedulerName")
      return within("schedulerName", read_string(field, pod.scheduler_name));
    if (key == "nodeName") return within("nodeName", read_string(field, pod.node_name));
    if (key == "priority") {
      if (is_null(field)) return {};
      return within("priority", read_int32(field, pod.priority));
    }
    if (key == "priorityClassName") {
      return within("priorityClassName", read_string(field, pod.priority_class_name));
    }
    if (key == "preemptionPolicy") {
      if (is_null(field)) return {};
      return within("preemptionPolicy", read_string(field, pod.preemption_policy));
    }
    if (key == "nodeSelector")
      return within("nodeSelector", read_string_map(field, pod.node_selector));
    if (key == "affinity") return within("affinity", read_affinity(field, pod));
    if (key == "topologySpreadConstraints") {
      reserve_for(field, pod.topology_spread);
      return tolerate(pod, within("topologySpreadConstraints",
                                  for_each_element(field, [&](size_t i, dom::element element) -> R {
                                    return within_index(
                                        "", i,
                                        read_topology_spread_constraint(
                                            element, pod.topology_spread.emplace_back()));
                                  })));
    }
    if (key == "volumes")
      return tolerate(pod, within("volumes", read_volumes(field, pod.volume_claims)));
    if (key == "schedulingGates") {
      return tolerate(
          pod, within("schedulingGates", read_scheduling_gates(field, pod.scheduling_gates)));
    }
    if (key == "resourceClaims") {
      return tolerate(
          pod, within("resourceClaims", read_pod_resource_claims(field, pod.resource_claims)));
    }
    if (key == "tolerations") {
      reserve_for(field, pod.tolerations);
      return within(
          "tolerations", for_each_element(field, [&](size_t i, dom::element element) -> R {
            return within_index("", i, read_toleration(element, pod.tolerations.emplace_back()));
          }));
    }
    if (key == "overhead") {
      return tolerate(pod, within("overhead", read_resource_list(field, pod.overhead)));
    }
    if (key == "schedulingGroup") {
      return within("schedulingGroup",
                    for_each_field(field, [&](std::string_view k2, dom::element v) -> R {
                      if (k2 != "podGroupName") return {};
                      return within("podGroupName", read_string(v, pod.scheduling_group));
                    }));
    }
    if (key == "workloadRef") {
      return within(
          "workloadRef", for_each_field(field, [&](std::string_view k2, dom::element v) -> R {
            if (k2 == "name") return within("name", read_string(v, pod.workload_ref));
            if (k2 == "podGroup") {
              return within("podGroup", read_string(v, pod.workload_pod_group));
            }
            if (k2 == "podGroupReplicaKey") {
              return within("podGroupReplicaKey", read_string(v, pod.workload_replica_key));
            }
            return {};
          }));
    }
    return {};
  });
}

R read_pod_status(dom::element value, Pod& pod) {
  return for_each_field(value, [&](std::string_view key, dom::element field) -> R {
    if (key == "resourceClaimStatuses") {
      return tolerate(pod,
                      within("resourceClaimStatuses",
                             read_resource_claim_statuses(field, pod.resource_claim_statuses)),
                      "status");
    }
    if (!(key == "phase")) return {};
    std::string_view phase;
    if (auto code = field.get_string().get(phase)) return within("phase", fail(code));
    if (phase == "Pending") {
      pod.phase = PodPhase::kPending;
    } else if (phase == "Running") {
      pod.phase = PodPhase::kRunning;
    } else if (phase == "Succeeded") {
      pod.phase = PodPhase::kSucceeded;
    } else if (phase == "Failed") {
      pod.phase = PodPhase::kFailed;
    } else {
      pod.phase = PodPhase::kUnknown;
    }
    return {};
  });
}

}  // namespace

template <>
struct Codec<Pod> {
  static R decode(dom::object object, Decoded<Pod>& out) {
    Pod& pod = out.object;
    MetaSink sink{&pod.labels, &pod.annotations, &pod.creation_ms, &pod.deleting, &pod.owner};
    R r = for_each_field(object, [&](std::string_view key, dom::element field) -> R {
      if (key == "metadata") return within("metadata", read_meta(field, out.meta, sink));
      if (key == "spec") return within("spec", read_pod_spec(field, pod));
      if (key == "status") return within("status", read_pod_status(field, pod));
      return {};
    });
    pod.namespace_ = out.meta.namespace_;
    pod.name = out.meta.name;
    pod.uid = out.meta.uid;
    // Its subgroup of its gang (docs/scheduling.md); KAI Scheduler's label too.
    for (std::string_view key : {kLabelSubgroup, kKaiLabelSubgroup}) {
      if (auto it = pod.labels.find(std::string(key));
          it != pod.labels.end() && !it->second.empty()) {
        pod.subgroup = it->second;
        break;
      }
    }
    // Generic ephemeral volumes: the claim the controller creates is "<pod>-<volume>".
    for (PodVolumeClaim& claim : pod.volume_claims) {
      if (claim.ephemeral) claim.claim_name = pod.name + "-" + claim.claim_name;
    }
    return r;
  }
};

}  // namespace fairway::k8s::decoding

namespace fairway::k8s {

tl::expected<Decoded<Pod>, std::string> decode_pod(std::string_view json) {
  return decode_document<Pod>(json);
}

FAIRWAY_K8S_INSTANTIATE(Pod)

}  // namespace fairway::k8s
