#include "sim/apiserver/request_info.h"

#include <algorithm>
#include <cctype>
#include <vector>

namespace fairway::apiserver {
namespace {

std::vector<std::string> split_path(std::string_view path) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (start < path.size()) {
    size_t slash = path.find('/', start);
    if (slash == std::string_view::npos) slash = path.size();
    if (slash > start) parts.emplace_back(path.substr(start, slash - start));
    start = slash + 1;
  }
  return parts;
}

// ?watch=true or ?watch=1, as kube-apiserver accepts.
bool watch_requested(std::string_view query) {
  while (!query.empty()) {
    const size_t amp = query.find('&');
    const std::string_view kv = query.substr(0, amp);
    if (kv == "watch=true" || kv == "watch=1" || kv == "watch=True") return true;
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return false;
}

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

}  // namespace

RequestInfo resolve_request_info(std::string_view method, std::string_view target) {
  RequestInfo info;
  const size_t q = target.find('?');
  info.path = std::string(target.substr(0, q));
  const std::string_view query = q == std::string_view::npos ? "" : target.substr(q + 1);
  info.verb = lower(method);

  std::vector<std::string> parts = split_path(info.path);
  size_t i = 0;
  if (parts.size() >= 2 && parts[0] == "api") {
    info.api_version = parts[1];
    i = 2;
  } else if (parts.size() >= 3 && parts[0] == "apis") {
    info.api_group = parts[1];
    info.api_version = parts[2];
    i = 3;
  } else {
    return info;  // discovery, /version, /healthz, ...: a non-resource URL
  }
  if (i >= parts.size()) return info;  // /api/v1, /apis/g/v: discovery
  info.resource_request = true;

  std::vector<std::string> rest(parts.begin() + static_cast<long>(i), parts.end());
  // /namespaces/NS/RESOURCE/...; /namespaces/NS alone is the namespace object itself.
  if (rest.size() >= 3 && rest[0] == "namespaces") {
    info.namespace_ = rest[1];
    rest.erase(rest.begin(), rest.begin() + 2);
  } else if (rest.size() == 2 && rest[0] == "namespaces") {
    info.namespace_ = rest[1];
  }
  if (!rest.empty()) info.resource = rest[0];
  if (rest.size() >= 2) info.name = rest[1];
  if (rest.size() >= 3) info.subresource = rest[2];

  const bool collection = info.name.empty();
  if (method == "GET" || method == "HEAD") {
    info.verb = watch_requested(query) ? "watch" : collection ? "list" : "get";
  } else if (method == "POST") {
    info.verb = "create";
  } else if (method == "PUT") {
    info.verb = "update";
  } else if (method == "PATCH") {
    info.verb = "patch";
  } else if (method == "DELETE") {
    info.verb = collection ? "deletecollection" : "delete";
  }
  return info;
}

nlohmann::json audit_line(const RequestInfo& info, std::string_view user_agent, int code) {
  return {{"userAgent", user_agent},
          {"verb", info.verb},
          {"apiGroup", info.api_group},
          {"resource", info.resource},
          {"subresource", info.subresource},
          {"namespace", info.namespace_},
          {"name", info.name},
          {"code", code}};
}

}  // namespace fairway::apiserver
