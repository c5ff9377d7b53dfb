#include "sim/apiserver/table.h"

#include <fmt/format.h>

#include <optional>

#include "sim/apiserver/json_util.h"

namespace fairway::apiserver {

using nlohmann::json;

namespace {

// Splits a JSONPath into segments: names (with `\.` unescaped), "[*]", "[N]", "['name']".
std::vector<std::string> segments(std::string_view path) {
  if (path.starts_with("{") && path.ends_with("}")) path = path.substr(1, path.size() - 2);
  std::vector<std::string> out;
  std::string cur;
  for (size_t i = 0; i < path.size(); ++i) {
    const char c = path[i];
    if (c == '\\' && i + 1 < path.size()) {
      cur += path[++i];
    } else if (c == '.') {
      if (!cur.empty()) out.push_back(std::move(cur));
      cur.clear();
    } else if (c == '[') {
      if (!cur.empty()) out.push_back(std::move(cur));
      cur.clear();
      const size_t close = path.find(']', i);
      if (close == std::string_view::npos) break;
      std::string inner(path.substr(i + 1, close - i - 1));
      if (inner.size() >= 2 && (inner.front() == '\'' || inner.front() == '"')) {
        out.push_back(inner.substr(1, inner.size() - 2));
      } else {
        out.push_back("[" + inner + "]");
      }
      i = close;
    } else {
      cur += c;
    }
  }
  if (!cur.empty()) out.push_back(std::move(cur));
  return out;
}

// A JSONPath filter `[?(@.a.b==LITERAL)]` or `!=`, LITERAL a quoted string or a number: what
// CRD printer columns use to pick one condition. Anything else selects nothing.
struct Filter {
  std::vector<std::string> path;  // below @
  bool equals = true;
  json literal;
  bool matches(const json& element) const {
    const json* v = &element;
    for (const std::string& key : path) {
      if (!v->is_object() || !v->contains(key)) return !equals;
      v = &(*v)[key];
    }
    return (*v == literal) == equals;
  }
};

std::optional<Filter> parse_filter(std::string_view seg) {
  if (!seg.starts_with("[?(") || !seg.ends_with(")]")) return std::nullopt;
  std::string_view body = seg.substr(3, seg.size() - 5);
  const size_t op = body.find_first_of("=!");
  if (op == std::string_view::npos || op + 1 >= body.size() || body[op + 1] != '=' ||
      !body.starts_with("@."))
    return std::nullopt;
  Filter filter;
  filter.equals = body[op] == '=';
  for (std::string key : segments(body.substr(2, op - 2))) {
    while (!key.empty() && key.back() == ' ') key.pop_back();
    filter.path.push_back(std::move(key));
  }
  std::string_view literal = body.substr(op + 2);
  while (literal.starts_with(' ')) literal.remove_prefix(1);
  if (literal.size() >= 2 && (literal.front() == '"' || literal.front() == '\'') &&
      literal.back() == literal.front()) {
    filter.literal = std::string(literal.substr(1, literal.size() - 2));
  } else {
    filter.literal = json::parse(literal, nullptr, false);
    if (filter.literal.is_discarded() || !filter.literal.is_number()) return std::nullopt;
  }
  return filter;
}

std::string cell_text(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_null()) return "";
  return v.dump();
}

std::string age(const json& obj, std::chrono::system_clock::time_point now) {
  const auto created = parse_rfc3339(str(member(obj, "metadata"), "creationTimestamp"));
  if (!created) return "<unknown>";
  return human_duration(std::chrono::duration_cast<std::chrono::seconds>(now - *created));
}

struct Column {
  std::string name;
  std::string type;
  std::string format;
  std::string description;
  int priority = 0;
};

json column_json(const Column& c) {
  return {{"name", c.name},
          {"type", c.type},
          {"format", c.format},
          {"description", c.description},
          {"priority", c.priority}};
}

std::vector<Column> default_columns(const ResourceType& type) {
  const std::string name_desc =
      "Name must be unique within a namespace. Is required when creating resources.";
  const std::string age_desc =
      "CreationTimestamp is a timestamp representing the server time "
      "when this object was created.";
  switch (type.special) {
    case Special::kPod:
      return {{"Name", "string", "name", name_desc, 0},
              {"Ready", "string", "",
               "The aggregate readiness state of this pod for accepting traffic.", 0},
              {"Status", "string", "", "The aggregate status of the containers in this pod.", 0},
              {"Restarts", "integer", "",
               "The number of times the containers in this pod have been restarted.", 0},
              {"Age", "string", "", age_desc, 0},
              {"IP", "string", "", "IP address allocated to the pod.", 1},
              {"Node", "string", "", "Name of the node where the pod is scheduled.", 1},
              {"Nominated Node", "string", "", "Name of the node where the pod is nominated.", 1}};
    case Special::kNode:
      return {{"Name", "string", "name", name_desc, 0},
              {"Status", "string", "", "The status of the node", 0},
              {"Roles", "string", "", "The roles of the node", 0},
              {"Age", "string", "", age_desc, 0},
              {"Version", "string", "", "Kubelet Version reported by the node.", 0}};
    case Special::kNamespace:
      return {{"Name", "string", "name", name_desc, 0},
              {"Status", "string", "", "The status of the namespace", 0},
              {"Age", "string", "", age_desc, 0}};
    case Special::kEvent:
      return {{"Last Seen", "string", "", "Time when last event occurred", 0},
              {"Type", "string", "", "Type of this event.", 0},
              {"Reason", "string", "", "Reason is why the action was taken.", 0},
              {"Object", "string", "", "The object that this event is about.", 0},
              {"Message", "string", "",
               "A human-readable description of the status of this operation.", 0}};
    case Special::kPriorityClass:
      return {{"Name", "string", "name", name_desc, 0},
              {"Value", "integer", "", "The value of this priority class.", 0},
              {"Global-Default", "boolean", "",
               "globalDefault specifies if this PriorityClass should be considered as the default "
               "priority.",
               0},
              {"Age", "string", "", age_desc, 0}};
    case Special::kPodDisruptionBudget:
      return {
          {"Name", "string", "name", name_desc, 0},
          {"Min Available", "string", "", "The minimum number of pods that must be available.", 0},
          {"Max Unavailable", "string", "", "The maximum number of pods that may be unavailable.",
           0},
          {"Allowed Disruptions", "integer", "", "Calculated number of pods that may be disrupted.",
           0},
          {"Age", "string", "", age_desc, 0}};
    case Special::kCustomResourceDefinition:
      return {{"Name", "string", "name", name_desc, 0}, {"Created At", "date", "", age_desc, 0}};
    default:
      break;
  }
  // Storage kinds: kube-apiserver's columns (pkg/printers/internalversion), less
  // VolumeAttributesClass.
  const std::string key = type.key();
  if (key == "/persistentvolumes") {
    return {{"Name", "string", "name", name_desc, 0},
            {"Capacity", "string", "",
             "capacity is the description of the persistent volume's "
             "resources and capacity.",
             0},
            {"Access Modes", "string", "",
             "accessModes contains all ways the volume can be mounted.", 0},
            {"Reclaim Policy", "string", "",
             "persistentVolumeReclaimPolicy defines what happens "
             "to a persistent volume when released from its claim.",
             0},
            {"Status", "string", "",
             "phase indicates if a volume is available, bound to a claim, "
             "or released by a claim.",
             0},
            {"Claim", "string", "",
             "claimRef is part of a bi-directional binding between "
             "PersistentVolume and PersistentVolumeClaim.",
             0},
            {"StorageClass", "string", "",
             "storageClassName is the name of StorageClass to which "
             "this persistent volume belongs.",
             0},
            {"Reason", "string", "",
             "reason is a brief CamelCase string that describes any "
             "failure.",
             0},
            {"Age", "string", "", age_desc, 0},
            {"VolumeMode", "string", "",
             "volumeMode defines if a volume is intended to be used "
             "with a formatted filesystem or to remain in raw block state.",
             1}};
  }
  if (key == "/persistentvolumeclaims") {
    return {
        {"Name", "string", "name", name_desc, 0},
        {"Status", "string", "", "phase represents the current phase of PersistentVolumeClaim.", 0},
        {"Volume", "string", "",
         "volumeName is the binding reference to the PersistentVolume "
         "backing this claim.",
         0},
        {"Capacity", "string", "",
         "capacity represents the actual resources of the underlying "
         "volume.",
         0},
        {"Access Modes", "string", "",
         "accessModes contains the desired access modes the "
         "volume should have.",
         0},
        {"StorageClass", "string", "",
         "storageClassName is the name of the StorageClass "
         "required by the claim.",
         0},
        {"Age", "string", "", age_desc, 0},
        {"VolumeMode", "string", "",
         "volumeMode defines what type of volume is required by "
         "the claim.",
         1}};
  }
  if (key == "storage.k8s.io/storageclasses") {
    return {{"Name", "string", "name", name_desc, 0},
            {"Provisioner", "string", "", "Indicates the type of the provisioner.", 0},
            {"ReclaimPolicy", "string", "",
             "Dynamically provisioned PersistentVolumes of this "
             "storage class are created with this reclaimPolicy.",
             0},
            {"VolumeBindingMode", "string", "",
             "VolumeBindingMode indicates how "
             "PersistentVolumeClaims should be bound.",
             0},
            {"AllowVolumeExpansion", "string", "",
             "AllowVolumeExpansion shows whether the storage "
             "class allow volume expand.",
             0},
            {"Age", "string", "", age_desc, 0}};
  }
  if (key == "storage.k8s.io/csinodes") {
    return {{"Name", "string", "name", name_desc, 0},
            {"Drivers", "integer", "",
             "Drivers indicates the number of CSI drivers registered on "
             "the node",
             0},
            {"Age", "string", "", age_desc, 0}};
  }
  // Dynamic Resource Allocation: kube-apiserver's columns (DeviceClass and
  // ResourceClaimTemplate have only Name and Age, the defaults below).
  if (key == "resource.k8s.io/resourceclaims") {
    return {{"Name", "string", "name", name_desc, 0},
            {"State", "string", "",
             "A summary of the current state (allocated, pending, reserved, etc.).", 0},
            {"Age", "string", "", age_desc, 0}};
  }
  if (key == "resource.k8s.io/resourceslices") {
    return {{"Name", "string", "name", name_desc, 0},
            {"Node", "string", "",
             "NodeName identifies the node which provides the resources in this pool. A field "
             "selector can be used to list only ResourceSlice objects belonging to a certain "
             "node.\n\nThis field can be used to limit access from nodes to ResourceSlices with "
             "the same node name. It also indicates to autoscalers that adding new nodes of the "
             "same type as some old node might also make new resources available.\n\nExactly "
             "one of NodeName, NodeSelector, AllNodes, and PerDeviceNodeSelection must be set. "
             "This field is immutable.",
             0},
            {"Driver", "string", "",
             "Driver identifies the DRA driver providing the capacity information. A field "
             "selector can be used to list only ResourceSlice objects with a certain driver "
             "name.\n\nMust be a DNS subdomain and should end with a DNS domain owned by the "
             "vendor of the driver. It should use only lower case characters. This field is "
             "immutable.",
             0},
            {"Pool", "string", "",
             "Name is used to identify the pool. For node-local devices, this is often the node "
             "name, but this is not required.\n\nIt must not be longer than 253 characters and "
             "must consist of one or more DNS sub-domains separated by slashes. This field is "
             "immutable.",
             0},
            {"Age", "string", "", age_desc, 0}};
  }
  if (!type.columns.empty()) {
    std::vector<Column> out = {{"Name", "string", "name", name_desc, 0}};
    for (const PrinterColumn& c : type.columns) {
      out.push_back({c.name, c.type, c.format, c.description, c.priority});
    }
    return out;
  }
  return {{"Name", "string", "name", name_desc, 0}, {"Age", "string", "", age_desc, 0}};
}

json pod_cells(const json& pod, std::chrono::system_clock::time_point now) {
  const json& spec = member(pod, "spec");
  const json& status = member(pod, "status");
  size_t containers = member(spec, "containers").is_array() ? spec["containers"].size() : 0;
  size_t ready = 0;
  int64_t restarts = 0;
  for (const auto& cs : member(status, "containerStatuses")) {
    if (member(cs, "ready") == true) ++ready;
    if (member(cs, "restartCount").is_number_integer())
      restarts += cs["restartCount"].get<int64_t>();
  }
  std::string phase = str(status, "phase");
  if (!str(status, "reason").empty()) phase = str(status, "reason");
  if (member(pod, "metadata").contains("deletionTimestamp")) phase = "Terminating";
  const std::string ip = str(status, "podIP");
  const std::string node = str(spec, "nodeName");
  const std::string nominated = str(status, "nominatedNodeName");
  return {str(member(pod, "metadata"), "name"),
          fmt::format("{}/{}", ready, containers),
          phase,
          restarts,
          age(pod, now),
          ip.empty() ? "<none>" : ip,
          node.empty() ? "<none>" : node,
          nominated.empty() ? "<none>" : nominated};
}

json node_cells(const json& node, std::chrono::system_clock::time_point now) {
  std::string ready = "Unknown";
  for (const auto& c : member(member(node, "status"), "conditions")) {
    if (str(c, "type") == "Ready") ready = str(c, "status") == "True" ? "Ready" : "NotReady";
  }
  if (member(member(node, "spec"), "unschedulable") == true) ready += ",SchedulingDisabled";
  std::string roles;
  for (const auto& [k, v] : member(member(node, "metadata"), "labels").items()) {
    constexpr std::string_view kPrefix = "node-role.kubernetes.io/";
    if (k.starts_with(kPrefix)) roles += (roles.empty() ? "" : ",") + k.substr(kPrefix.size());
  }
  const std::string version = str(member(member(node, "status"), "nodeInfo"), "kubeletVersion");
  return {str(member(node, "metadata"), "name"), ready, roles.empty() ? "<none>" : roles,
          age(node, now), version};
}

json event_cells(const json& ev, std::chrono::system_clock::time_point now) {
  std::string last = str(ev, "lastTimestamp");
  if (last.empty()) last = str(ev, "eventTime");
  const auto t = parse_rfc3339(last);
  const json& io = member(ev, "involvedObject");
  std::string kind = str(io, "kind");
  for (auto& ch : kind) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return {
      t ? human_duration(std::chrono::duration_cast<std::chrono::seconds>(now - *t)) : "<unknown>",
      str(ev, "type"), str(ev, "reason"), kind + "/" + str(io, "name"), str(ev, "message")};
}

// "RWO,ROX,RWX,RWOP", as kubectl abbreviates access modes.
std::string access_modes(const json& modes) {
  std::string out;
  for (const auto& m : modes) {
    const std::string mode = m.is_string() ? m.get<std::string>() : "";
    std::string abbreviation = mode;
    if (mode == "ReadWriteOnce") abbreviation = "RWO";
    if (mode == "ReadOnlyMany") abbreviation = "ROX";
    if (mode == "ReadWriteMany") abbreviation = "RWX";
    if (mode == "ReadWriteOncePod") abbreviation = "RWOP";
    out += (out.empty() ? "" : ",") + abbreviation;
  }
  return out;
}

std::string or_default(const json& object, const char* field, const char* fallback) {
  const std::string value = str(object, field);
  return value.empty() ? fallback : value;
}

// The storage kinds' rows; nullopt for every other kind.
std::optional<json> storage_cells(const ResourceType& type, const json& obj,
                                  std::chrono::system_clock::time_point now) {
  const json& md = member(obj, "metadata");
  const std::string name = str(md, "name");
  const json& spec = member(obj, "spec");
  const json& status = member(obj, "status");
  const bool deleting = md.contains("deletionTimestamp") && !md["deletionTimestamp"].is_null();
  const std::string key = type.key();
  if (key == "/persistentvolumes") {
    const json& ref = member(spec, "claimRef");
    const std::string claim =
        ref.is_object() ? str(ref, "namespace") + "/" + str(ref, "name") : std::string();
    return json{name,
                str(member(spec, "capacity"), "storage"),
                access_modes(member(spec, "accessModes")),
                or_default(spec, "persistentVolumeReclaimPolicy", "Retain"),
                deleting ? std::string("Terminating") : str(status, "phase"),
                claim,
                str(spec, "storageClassName"),
                str(status, "reason"),
                age(obj, now),
                or_default(spec, "volumeMode", "Filesystem")};
  }
  if (key == "/persistentvolumeclaims") {
    const bool bound = !str(spec, "volumeName").empty();
    std::string storage_class = str(spec, "storageClassName");
    if (storage_class.empty()) {
      storage_class = str(member(md, "annotations"), "volume.beta.kubernetes.io/storage-class");
    }
    return json{name,
                deleting ? std::string("Terminating") : str(status, "phase"),
                str(spec, "volumeName"),
                bound ? str(member(status, "capacity"), "storage") : std::string(),
                bound ? access_modes(member(status, "accessModes")) : std::string(),
                storage_class,
                age(obj, now),
                or_default(spec, "volumeMode", "Filesystem")};
  }
  if (key == "storage.k8s.io/storageclasses") {
    const bool is_default =
        str(member(md, "annotations"), "storageclass.kubernetes.io/is-default-class") == "true";
    return json{is_default ? name + " (default)" : name,
                str(obj, "provisioner"),
                or_default(obj, "reclaimPolicy", "Delete"),
                or_default(obj, "volumeBindingMode", "Immediate"),
                member(obj, "allowVolumeExpansion") == true ? "true" : "false",
                age(obj, now)};
  }
  if (key == "storage.k8s.io/csinodes") {
    const json& drivers = member(spec, "drivers");
    return json{name, drivers.is_array() ? drivers.size() : 0, age(obj, now)};
  }
  return std::nullopt;
}

// The DRA kinds' rows; nullopt for every other kind.
std::optional<json> dra_cells(const ResourceType& type, const json& obj,
                              std::chrono::system_clock::time_point now) {
  const json& md = member(obj, "metadata");
  const std::string name = str(md, "name");
  const std::string key = type.key();
  if (key == "resource.k8s.io/resourceclaims") {
    // kube's resourceClaimState: "deleted", then "pending" or "allocated" (+ "reserved").
    const bool deleting = md.contains("deletionTimestamp") && !md["deletionTimestamp"].is_null();
    const json& status = member(obj, "status");
    std::vector<std::string> states;
    if (deleting) states.push_back("deleted");
    if (member(status, "allocation").is_null()) {
      if (!deleting) states.push_back("pending");
    } else {
      states.push_back("allocated");
      if (!member(status, "reservedFor").empty()) states.push_back("reserved");
    }
    std::string state;
    for (const auto& s : states) state += (state.empty() ? "" : ",") + s;
    return json{name, state, age(obj, now)};
  }
  if (key == "resource.k8s.io/resourceslices") {
    const json& spec = member(obj, "spec");
    return json{name, str(spec, "nodeName"), str(spec, "driver"), str(member(spec, "pool"), "name"),
                age(obj, now)};
  }
  return std::nullopt;
}

json cells_for(const ResourceType& type, const std::vector<Column>& columns, const json& obj,
               std::chrono::system_clock::time_point now) {
  const std::string name = str(member(obj, "metadata"), "name");
  switch (type.special) {
    case Special::kPod:
      return pod_cells(obj, now);
    case Special::kNode:
      return node_cells(obj, now);
    case Special::kNamespace:
      return {name, str(member(obj, "status"), "phase"), age(obj, now)};
    case Special::kEvent:
      return event_cells(obj, now);
    case Special::kPriorityClass:
      return {name, member(obj, "value"), member(obj, "globalDefault") == true, age(obj, now)};
    case Special::kPodDisruptionBudget: {
      const json& spec = member(obj, "spec");
      const auto show = [](const json& v) {
        return v.is_null() ? std::string("N/A") : cell_text(v);
      };
      return {name, show(member(spec, "minAvailable")), show(member(spec, "maxUnavailable")),
              member(member(obj, "status"), "disruptionsAllowed"), age(obj, now)};
    }
    case Special::kCustomResourceDefinition:
      return {name, str(member(obj, "metadata"), "creationTimestamp")};
    default:
      break;
  }
  if (auto cells = storage_cells(type, obj, now)) return std::move(*cells);
  if (auto cells = dra_cells(type, obj, now)) return std::move(*cells);
  if (type.columns.empty()) return {name, age(obj, now)};
  json cells = json::array({name});
  for (size_t i = 1; i < columns.size(); ++i) {
    const PrinterColumn& pc = type.columns[i - 1];
    const auto values = json_path(obj, pc.json_path);
    if (values.empty()) {
      cells.push_back(nullptr);
      continue;
    }
    if (pc.type == "date") {
      // kube-apiserver prints date columns as ages.
      const auto t = values.front()->is_string() ? parse_rfc3339(values.front()->get<std::string>())
                                                 : std::nullopt;
      cells.push_back(t ? human_duration(std::chrono::duration_cast<std::chrono::seconds>(now - *t))
                        : "<unknown>");
      continue;
    }
    if (values.size() == 1) {
      const json& v = *values.front();
      if ((pc.type == "integer" || pc.type == "number") && v.is_number()) {
        cells.push_back(v);
      } else if (pc.type == "boolean" && v.is_boolean()) {
        cells.push_back(v);
      } else {
        cells.push_back(cell_text(v));
      }
      continue;
    }
    std::string joined;
    for (const json* v : values) joined += (joined.empty() ? "" : ",") + cell_text(*v);
    cells.push_back(joined);
  }
  return cells;
}

}  // namespace

std::vector<const json*> json_path(const json& object, std::string_view path) {
  std::vector<const json*> current = {&object};
  for (const std::string& seg : segments(path)) {
    std::vector<const json*> next;
    for (const json* v : current) {
      if (seg == "[*]") {
        if (v->is_array()) {
          for (const auto& e : *v) next.push_back(&e);
        } else if (v->is_object()) {
          for (const auto& [k, e] : v->items()) next.push_back(&e);
        }
      } else if (seg.starts_with("[?(")) {
        // A filter, as in `.status.conditions[?(@.type=="Ready")].status`.
        const auto filter = parse_filter(seg);
        if (filter && v->is_array()) {
          for (const auto& e : *v) {
            if (filter->matches(e)) next.push_back(&e);
          }
        }
      } else if (seg.size() > 2 && seg.front() == '[' && seg.back() == ']') {
        const long idx = std::strtol(seg.c_str() + 1, nullptr, 10);
        if (v->is_array() && idx >= 0 && static_cast<size_t>(idx) < v->size()) {
          next.push_back(&(*v)[static_cast<size_t>(idx)]);
        }
      } else if (v->is_object()) {
        const auto it = v->find(seg);
        if (it != v->end()) next.push_back(&*it);
      }
    }
    current = std::move(next);
  }
  return current;
}

std::string human_duration(std::chrono::seconds d) {
  const int64_t s = std::max<int64_t>(0, d.count());
  if (s < 120) return fmt::format("{}s", s);
  const int64_t m = s / 60;
  if (m < 10) return s % 60 == 0 ? fmt::format("{}m", m) : fmt::format("{}m{}s", m, s % 60);
  if (m < 180) return fmt::format("{}m", m);
  const int64_t h = s / 3600;
  if (h < 8) return m % 60 == 0 ? fmt::format("{}h", h) : fmt::format("{}h{}m", h, m % 60);
  if (h < 48) return fmt::format("{}h", h);
  if (h < 24 * 8)
    return h % 24 == 0 ? fmt::format("{}d", h / 24) : fmt::format("{}d{}h", h / 24, h % 24);
  if (h < 24 * 365 * 2) return fmt::format("{}d", h / 24);
  if (h < 24 * 365 * 8) {
    const int64_t days = h / 24;
    return days % 365 == 0 ? fmt::format("{}y", days / 365)
                           : fmt::format("{}y{}d", days / 365, days % 365);
  }
  return fmt::format("{}y", h / 24 / 365);
}

json render_table(const ResourceType& type, const std::vector<Object>& objects,
                  std::chrono::system_clock::time_point now, IncludeObject include,
                  const std::string& resource_version, const std::string& continue_token) {
  const std::vector<Column> columns = default_columns(type);
  json defs = json::array();
  for (const Column& c : columns) defs.push_back(column_json(c));
  json rows = json::array();
  for (const Object& o : objects) {
    json row = {{"cells", cells_for(type, columns, *o.json, now)}};
    if (include == IncludeObject::kObject) {
      row["object"] = *o.json;
    } else if (include == IncludeObject::kMetadata) {
      row["object"] = {{"kind", "PartialObjectMetadata"},
                       {"apiVersion", "meta.k8s.io/v1"},
                       {"metadata", member(*o.json, "metadata")}};
    }
    rows.push_back(std::move(row));
  }
  json md = {{"resourceVersion", resource_version}};
  if (!continue_token.empty()) md["continue"] = continue_token;
  return {{"kind", "Table"},
          {"apiVersion", "meta.k8s.io/v1"},
          {"metadata", md},
          {"columnDefinitions", defs},
          {"rows", rows}};
}

}  // namespace fairway::apiserver
