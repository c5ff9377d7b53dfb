// fairway_rbac_check: does the chart's RBAC grant every API call fairway's clients made?
//
//   fairway_rbac_check --manifests RENDERED.yaml --audit AUDIT.jsonl
//       --client fairway-scheduler=fairway-system/fairway
//       --client fairway-topology-agent=fairway-system/fairway-topology-agent
//       --ignore fairway-sim-driver
//
// RENDERED.yaml is `helm template` output; AUDIT.jsonl is the embedded API server's audit log
// (`fairway apiserver --audit-log`, one JSON line per request: userAgent, verb, apiGroup,
// resource, subresource, namespace, name). Each --client maps a User-Agent to the ServiceAccount
// the chart runs that client as. The check evaluates Kubernetes RBAC as the authorizer does
// (ClusterRoleBindings grant everywhere, RoleBindings only in their namespace; verbs, apiGroups,
// resources incl. "res/sub" and "*", resourceNames) and fails on:
//   - a call that no bound rule allows (the chart would make that call fail with 403);
//   - a call from a User-Agent starting with "fairway" that is neither mapped nor ignored (a new
//     client, e.g. a new agent: give it a ServiceAccount and map it here);
//   - a mapped client that made no call at all (the check would pass vacuously).
//   - with --least-privilege (the chart test's run, which drives every client): a verb a rule
//     grants on a resource that no call used, unless it is
//     named with --unreached "VERB GROUP RESOURCE=WHY" (GROUP "core" for the core group; any
//     word may be "*"): a
//     path this run does not reach, with the test that does (e.g. evictions: preemption_e2e.sh).
//     An --unreached entry that the run did use, or that no rule grants, is an error too, so the
//     list cannot go stale. --maybe "VERB GROUP RESOURCE=WHY" names a grant that a run uses or
//     not depending on timing (an Event repeated within client-go's correlation window is a
//     PATCH of its count): neither unused nor stale when used; an error only if no rule grants it.
//
// Why a recorded audit and not a list written by hand: the list comes from what the code does,
// so a call added by any later change shows up here without anyone remembering to list it.

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace {

struct Rule {
  std::vector<std::string> verbs, api_groups, resources, resource_names;
  std::string origin;  // "ClusterRole/fairway rule 2"
};

struct Grant {
  std::string namespace_;  // empty: cluster-wide (ClusterRoleBinding)
  const Rule* rule;
};

struct Call {
  std::string user_agent, verb, api_group, resource, subresource, namespace_, name;
  auto key() const {
    return std::tie(user_agent, verb, api_group, resource, subresource, namespace_);
  }
  bool operator<(const Call& o) const { return key() < o.key(); }
};

std::vector<std::string> strings(const YAML::Node& node) {
  std::vector<std::string> out;
  if (node && node.IsSequence()) {
    for (const auto& item : node) out.push_back(item.as<std::string>());
  }
  return out;
}

bool contains_or_star(const std::vector<std::string>& list, const std::string& value) {
  return std::find(list.begin(), list.end(), "*") != list.end() ||
         std::find(list.begin(), list.end(), value) != list.end();
}

// RBAC's resource matching: "pods" matches only the pods resource, "pods/binding" the
// subresource, "*" everything, "*/status" that subresource of anything, "pods/*" every
// subresource of pods.
bool resource_matches(const Rule& rule, const Call& call) {
  const std::string combined =
      call.subresource.empty() ? call.resource : call.resource + "/" + call.subresource;
  for (const auto& r : rule.resources) {
    if (r == "*" || r == combined) return true;
    if (!call.subresource.empty() && (r == "*/" + call.subresource || r == call.resource + "/*")) {
      return true;
    }
  }
  return false;
}

bool rule_allows(const Rule& rule, const Call& call) {
  if (!contains_or_star(rule.verbs, call.verb)) return false;
  if (!contains_or_star(rule.api_groups, call.api_group)) return false;
  if (!resource_matches(rule, call)) return false;
  if (!rule.resource_names.empty()) {
    // A named rule never covers list, watch or create of a collection (no name in the request).
    if (call.name.empty()) return false;
    if (std::find(rule.resource_names.begin(), rule.resource_names.end(), call.name) ==
        rule.resource_names.end()) {
      return false;
    }
  }
  return true;
}

std::string combined_resource(const Call& call) {
  return call.subresource.empty() ? call.resource : call.resource + "/" + call.subresource;
}

// "patch core pods/status": one verb of one rule on one resource.
std::string grant_key(const std::string& verb, const std::string& group,
                      const std::string& resource) {
  return verb + " " + (group.empty() ? "core" : group) + " " + resource;
}

// The --unreached entry that covers `key` ("verb group resource"); each of an entry's three
// words may be "*".
std::map<std::string, std::string>::const_iterator unreached_match(
    const std::map<std::string, std::string>& unreached, const std::string& key) {
  const auto words = [](const std::string& text) {
    std::vector<std::string> out;
    std::istringstream in(text);
    for (std::string word; in >> word;) out.push_back(word);
    return out;
  };
  const auto wanted = words(key);
  for (auto it = unreached.begin(); it != unreached.end(); ++it) {
    const auto pattern = words(it->first);
    if (pattern.size() != wanted.size()) continue;
    bool match = true;
    for (size_t i = 0; i < pattern.size(); ++i)
      match &= pattern[i] == "*" || pattern[i] == wanted[i];
    if (match) return it;
  }
  return unreached.end();
}

struct Rbac {
  std::map<std::string, std::vector<Rule>> cluster_roles;  // name → rules
  std::map<std::string, std::vector<Rule>> roles;          // "ns/name" → rules
  YAML::Node bindings = YAML::Node(YAML::NodeType::Sequence);
};

int fail_usage(const std::string& message) {
  std::cerr << "fairway_rbac_check: " << message
            << "\nusage: fairway_rbac_check --manifests FILE --audit FILE "
               "--client USER_AGENT=NAMESPACE/SERVICEACCOUNT... [--ignore USER_AGENT]... "
               "[--least-privilege true [--unreached \"VERB GROUP RESOURCE=WHY\"]... "
               "[--maybe \"VERB GROUP RESOURCE=WHY\"]...]\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::string manifests_path, audit_path;
  std::map<std::string, std::pair<std::string, std::string>> clients;  // UA → (ns, sa)
  std::set<std::string> ignored;
  std::map<std::string, std::string> unreached;  // "verb group resource" → why
  std::map<std::string, std::string> maybe;      // the same, used or not depending on timing
  bool least_privilege = false;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (i + 1 >= argc) return fail_usage(arg + " needs a value");
    const std::string value = argv[++i];
    if (arg == "--manifests") {
      manifests_path = value;
    } else if (arg == "--audit") {
      audit_path = value;
    } else if (arg == "--ignore") {
      ignored.insert(value);
    } else if (arg == "--least-privilege") {
      least_privilege = value == "true";
    } else if (arg == "--unreached" || arg == "--maybe") {
      const auto eq = value.find('=');
      if (eq == std::string::npos || eq + 1 == value.size()) {
        return fail_usage(arg + " wants \"VERB GROUP RESOURCE=WHY\", got " + value);
      }
      (arg == "--maybe" ? maybe : unreached)[value.substr(0, eq)] = value.substr(eq + 1);
    } else if (arg == "--client") {
      const auto eq = value.find('='), slash = value.find('/', eq);
      if (eq == std::string::npos || slash == std::string::npos) {
        return fail_usage("--client wants USER_AGENT=NAMESPACE/SERVICEACCOUNT, got " + value);
      }
      clients[value.substr(0, eq)] = {value.substr(eq + 1, slash - eq - 1),
                                      value.substr(slash + 1)};
    } else {
      return fail_usage("unknown argument " + arg);
    }
  }
  if (manifests_path.empty() || audit_path.empty() || clients.empty()) {
    return fail_usage("--manifests, --audit and at least one --client are required");
  }

  // Roles and bindings of the rendered chart.
  Rbac rbac;
  std::vector<YAML::Node> documents;
  try {
    documents = YAML::LoadAllFromFile(manifests_path);
  } catch (const std::exception& e) {
    std::cerr << "fairway_rbac_check: " << manifests_path << ": " << e.what() << "\n";
    return 2;
  }
  for (const auto& doc : documents) {
    if (!doc.IsMap() || !doc["kind"]) continue;
    const auto kind = doc["kind"].as<std::string>();
    const auto name = doc["metadata"]["name"].as<std::string>("");
    const auto ns = doc["metadata"]["namespace"].as<std::string>("");
    if (kind == "ClusterRole" || kind == "Role") {
      std::vector<Rule> rules;
      int index = 0;
      for (const auto& r : doc["rules"]) {
        rules.push_back({strings(r["verbs"]), strings(r["apiGroups"]), strings(r["resources"]),
                         strings(r["resourceNames"]),
                         kind + "/" + name + " rule " + std::to_string(index++)});
      }
      (kind == "ClusterRole" ? rbac.cluster_roles[name] : rbac.roles[ns + "/" + name]) =
          std::move(rules);
    } else if (kind == "ClusterRoleBinding" || kind == "RoleBinding") {
      rbac.bindings.push_back(doc);
    }
  }

  // What each ServiceAccount is granted.
  auto grants_of = [&rbac](const std::string& sa_ns, const std::string& sa_name) {
    std::vector<Grant> grants;
    for (const auto& b : rbac.bindings) {
      bool bound = false;
      for (const auto& s : b["subjects"]) {
        bound |= s["kind"].as<std::string>("") == "ServiceAccount" &&
                 s["name"].as<std::string>("") == sa_name &&
                 s["namespace"].as<std::string>("") == sa_ns;
      }
      if (!bound) continue;
      const bool cluster_binding = b["kind"].as<std::string>() == "ClusterRoleBinding";
      const auto binding_ns = b["metadata"]["namespace"].as<std::string>("");
      const auto ref_kind = b["roleRef"]["kind"].as<std::string>("");
      const auto ref_name = b["roleRef"]["name"].as<std::string>("");
      const std::vector<Rule>* rules = nullptr;
      if (ref_kind == "ClusterRole" && rbac.cluster_roles.count(ref_name)) {
        rules = &rbac.cluster_roles[ref_name];
      } else if (ref_kind == "Role" && rbac.roles.count(binding_ns + "/" + ref_name)) {
        rules = &rbac.roles[binding_ns + "/" + ref_name];
      }
      if (rules == nullptr) {
        std::cerr << "warning: " << b["kind"].as<std::string>() << " "
                  << b["metadata"]["name"].as<std::string>("") << " refers to a missing "
                  << ref_kind << " " << ref_name << "\n";
        continue;
      }
      for (const auto& r : *rules) grants.push_back({cluster_binding ? "" : binding_ns, &r});
    }
    return grants;
  };

  // The calls clients made.
  std::ifstream audit(audit_path);
  if (!audit) {
    std::cerr << "fairway_rbac_check: cannot read " << audit_path << "\n";
    return 2;
  }
  std::set<Call> calls;
  std::set<std::string> unknown_clients;
  std::string line;
  while (std::getline(audit, line)) {
    if (line.empty()) continue;
    const auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded()) {
      std::cerr << "fairway_rbac_check: not JSON in the audit log: " << line << "\n";
      return 2;
    }
    // The client is the User-Agent's product token: "fairway-scheduler (host-42)" and
    // "kubectl/v1.25 (linux/amd64)" name fairway-scheduler and kubectl.
    std::string agent = j.value("userAgent", "");
    agent = agent.substr(0, agent.find_first_of(" /"));
    Call c{agent,
           j.value("verb", ""),
           j.value("apiGroup", ""),
           j.value("resource", ""),
           j.value("subresource", ""),
           j.value("namespace", ""),
           j.value("name", "")};
    if (ignored.count(c.user_agent)) continue;
    if (!clients.count(c.user_agent)) {
      if (c.user_agent.rfind("fairway", 0) == 0) unknown_clients.insert(c.user_agent);
      continue;  // kubectl and other test clients
    }
    calls.insert(std::move(c));
  }

  int failures = 0;
  std::set<std::pair<const Rule*, std::string>> used;  // (rule, "verb group resource")
  std::map<std::string, int> calls_per_client;
  for (const auto& c : calls) {
    const auto& [sa_ns, sa_name] = clients.at(c.user_agent);
    ++calls_per_client[c.user_agent];
    const Rule* granted_by = nullptr;
    for (const auto& g : grants_of(sa_ns, sa_name)) {
      if (!g.namespace_.empty() && g.namespace_ != c.namespace_) continue;
      if (rule_allows(*g.rule, c)) {
        granted_by = g.rule;
        break;
      }
    }
    const std::string what = c.verb + " " + (c.api_group.empty() ? "core" : c.api_group) + " " +
                             c.resource + (c.subresource.empty() ? "" : "/" + c.subresource) +
                             (c.namespace_.empty() ? "" : " in " + c.namespace_) +
                             (c.name.empty() ? "" : " (" + c.name + ")");
    if (granted_by != nullptr) {
      used.insert({granted_by, grant_key(c.verb, c.api_group, combined_resource(c))});
      std::cout << "ok      " << c.user_agent << " as " << sa_ns << "/" << sa_name << ": " << what
                << "  <- " << granted_by->origin << "\n";
    } else {
      ++failures;
      std::cout << "DENIED  " << c.user_agent << " as " << sa_ns << "/" << sa_name << ": " << what
                << "\n";
    }
  }
  for (const auto& ua : unknown_clients) {
    ++failures;
    std::cout << "UNKNOWN client \"" << ua
              << "\" made API calls: give it a ServiceAccount in the chart and map it with "
                 "--client\n";
  }
  for (const auto& [ua, sa] : clients) {
    if (calls_per_client[ua] == 0) {
      ++failures;
      std::cout << "NO CALLS from \"" << ua << "\": the test did not exercise this client\n";
    }
  }
  // Least privilege: every verb of every rule on every resource was used, or is named as
  // unreached with the reason.
  std::set<std::string> unreached_granted;
  std::set<std::string> maybe_granted;
  auto check_unused = [&](const std::vector<Rule>& rules) {
    for (const auto& r : rules) {
      for (const auto& verb : r.verbs) {
        for (const auto& group : r.api_groups) {
          for (const auto& resource : r.resources) {
            const std::string key = grant_key(verb, group, resource);
            if (auto it = unreached_match(maybe, key); it != maybe.end()) {
              maybe_granted.insert(it->first);
              std::cout << "maybe   " << r.origin << ": " << key << " ("
                        << (used.count({&r, key}) ? "used" : "not used")
                        << " this run: " << it->second << ")\n";
              continue;
            }
            if (used.count({&r, key})) continue;
            if (auto it = unreached_match(unreached, key); it != unreached.end()) {
              unreached_granted.insert(it->first);
              std::cout << "unreached " << r.origin << ": " << key << " (" << it->second << ")\n";
              continue;
            }
            ++failures;
            std::cout << "UNUSED  " << r.origin << ": " << key
                      << " is granted but no call used it: remove it, or name the test that "
                         "reaches it with --unreached\n";
          }
        }
      }
    }
  };
  if (least_privilege) {
    for (const auto& [name, rules] : rbac.cluster_roles) check_unused(rules);
    for (const auto& [name, rules] : rbac.roles) check_unused(rules);
  }
  for (const auto& [key, why] : unreached) {
    if (!least_privilege) break;
    if (unreached_granted.count(key)) continue;
    ++failures;
    std::cout << "STALE   --unreached \"" << key
              << "\": this run used it, or no rule grants it; drop it from the list\n";
  }
  for (const auto& [key, why] : maybe) {
    if (!least_privilege || maybe_granted.count(key)) continue;
    ++failures;
    std::cout << "STALE   --maybe \"" << key << "\": no rule grants it; drop it from the list\n";
  }
  std::cout << calls.size() << " distinct calls checked, " << failures << " problem(s)\n";
  return failures == 0 ? 0 : 1;
}
