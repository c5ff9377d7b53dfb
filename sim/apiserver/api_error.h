#pragma once
// Errors of the embedded API server as values. Every failure a client sees is a meta/v1 Status
// object with the reason, code and message kube-apiserver would write, so clients (client-go,
// kubectl, fairway's k8s-client) take the same branches as against a real cluster.

#include <nlohmann/json.hpp>
#include <string>
#include <utility>

namespace fairway::apiserver {

struct ApiError {
  int code = 500;
  std::string reason;  // NotFound, AlreadyExists, Conflict, Invalid, BadRequest, Expired, ...
  std::string message;
  nlohmann::json details;  // optional {name, group, kind, causes}
  int retry_after_seconds = 0;

  nlohmann::json status() const {
    nlohmann::json s = {
        {"kind", "Status"},    {"apiVersion", "v1"}, {"metadata", nlohmann::json::object()},
        {"status", "Failure"}, {"message", message}, {"reason", reason},
        {"code", code}};
    if (!details.is_null()) s["details"] = details;
    return s;
  }
};

inline nlohmann::json error_details(const std::string& name, const std::string& group,
                                    const std::string& kind) {
  nlohmann::json d = nlohmann::json::object();
  if (!name.empty()) d["name"] = name;
  if (!group.empty()) d["group"] = group;
  d["kind"] = kind;
  return d;
}

// "pods" or "queues.scheduling.fairway.dev": how kube names a resource in messages.
inline std::string qualified(const std::string& plural, const std::string& group) {
  return group.empty() ? plural : plural + "." + group;
}

inline ApiError not_found(const std::string& plural, const std::string& group,
                          const std::string& name) {
  return {404, "NotFound", qualified(plural, group) + " \"" + name + "\" not found",
          error_details(name, group, plural)};
}
inline ApiError already_exists(const std::string& plural, const std::string& group,
                               const std::string& name) {
  return {409, "AlreadyExists", qualified(plural, group) + " \"" + name + "\" already exists",
          error_details(name, group, plural)};
}
inline ApiError conflict(const std::string& plural, const std::string& group,
                         const std::string& name, const std::string& why) {
  return {
      409, "Conflict",
      "Operation cannot be fulfilled on " + qualified(plural, group) + " \"" + name + "\": " + why,
      error_details(name, group, plural)};
}
// What an admission plugin's refusal looks like (admission.NewForbidden).
inline ApiError forbidden(const std::string& plural, const std::string& group,
                          const std::string& name, const std::string& why) {
  return {403, "Forbidden", qualified(plural, group) + " \"" + name + "\" is forbidden: " + why,
          error_details(name, group, plural)};
}
// What kube-apiserver's authorization filter answers when no authorizer allows a request
// (apierrors.NewForbidden with the filter's forbiddenMessage).
inline ApiError request_forbidden(const std::string& plural, const std::string& group,
                                  const std::string& name, const std::string& why) {
  const std::string what =
      plural.empty()
          ? "forbidden"
          : qualified(plural, group) + (name.empty() ? "" : " \"" + name + "\"") + " is forbidden";
  return {403, "Forbidden", what + ": " + why, error_details(name, group, plural)};
}
inline ApiError bad_request(std::string message) {
  return {400, "BadRequest", std::move(message), nullptr};
}
inline ApiError invalid(const std::string& kind, const std::string& group, const std::string& name,
                        const std::string& field, const std::string& why) {
  nlohmann::json d = error_details(name, group, kind);
  d["causes"] = nlohmann::json::array(
      {{{"reason", "FieldValueInvalid"}, {"message", why}, {"field", field}}});
  return {422, "Invalid",
          qualified(kind, group) + " \"" + name + "\" is invalid: " + field + ": " + why, d};
}
inline ApiError method_not_allowed(const std::string& what) {
  return {405, "MethodNotAllowed",
          "the server does not allow this method on the requested resource" +
              (what.empty() ? std::string() : " (" + what + ")"),
          nullptr};
}
inline ApiError expired(std::string message) {
  return {410, "Expired", std::move(message), nullptr};
}
inline ApiError internal(std::string message) {
  return {500, "InternalError", "Internal error occurred: " + message, nullptr};
}

}  // namespace fairway::apiserver
