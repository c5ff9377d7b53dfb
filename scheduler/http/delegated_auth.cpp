#include "scheduler/http/delegated_auth.h"

#include <openssl/evp.h>

#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>

namespace fairway::http {
namespace {

// Tokens are cache keys by their SHA-256 only: the cache never holds a credential.
std::string token_key(const std::string& token) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(token.data(), token.size(), digest, &length, EVP_sha256(), nullptr);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < length; ++i) {
    out.push_back(kHex[digest[i] >> 4]);
    out.push_back(kHex[digest[i] & 0xf]);
  }
  return out;
}

// Everything the decision depends on: the whole user, the verb and the path.
std::string decision_key(const UserInfo& user, const std::string& path, const std::string& verb) {
  return nlohmann::json{user.username, user.uid, user.groups, user.extra, verb, path}.dump();
}

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

Response status_response(int code, const std::string& reason, const std::string& message,
                         bool details) {
  nlohmann::json status = {
      {"kind", "Status"},    {"apiVersion", "v1"}, {"metadata", nlohmann::json::object()},
      {"status", "Failure"}, {"message", message}, {"reason", reason}};
  if (details) status["details"] = nlohmann::json::object();
  status["code"] = code;
  return json(code, status.dump(2) + "\n");
}

}  // namespace

std::string bearer_token(const Request& request) {
  for (const auto& [name, value] : request.headers) {
    if (lower(name) != "authorization") continue;
    // The scheme is case-insensitive (RFC 7235); kube's bearer authenticator trims the token.
    if (value.size() < 7 || lower(value.substr(0, 7)) != "bearer ") return "";
    std::string token = value.substr(7);
    const auto first = token.find_first_not_of(" \t");
    if (first == std::string::npos) return "";
    token = token.substr(first, token.find_last_not_of(" \t") - first + 1);
    return token;
  }
  return "";
}

Response unauthorized_response() {
  return status_response(401, "Unauthorized", "Unauthorized", false);
}

Response forbidden_response(const std::string& user, const std::string& verb,
                            const std::string& path, const std::string& reason) {
  std::string message =
      "forbidden: User \"" + user + "\" cannot " + verb + " path \"" + path + "\"";
  if (!reason.empty()) message += ": " + reason;
  return status_response(403, "Forbidden", message, true);
}

DelegatedAuth::DelegatedAuth(DelegatedAuthOptions options, ReviewClient& reviews, SteadyClock clock)
    : options_(std::move(options)),
      reviews_(reviews),
      clock_(std::move(clock)),
      tokens_(options_.max_entries),
      decisions_(options_.max_entries) {}

bool DelegatedAuth::always_allowed(const std::string& path) const {
  return std::any_of(
      options_.always_allow_paths.begin(), options_.always_allow_paths.end(),
      [&path](const std::string& allowed) {
        if (allowed.ends_with('*')) {
          return path.starts_with(std::string_view(allowed).substr(0, allowed.size() - 1));
        }
        return path == allowed;
      });
}

tl::expected<std::optional<UserInfo>, std::string> DelegatedAuth::authenticate(
    const Request& request) {
  const std::string token = bearer_token(request);
  if (token.empty()) {
    return UserInfo{.username = "system:anonymous",
                    .uid = "",
                    .groups = {"system:unauthenticated"},
                    .extra = {}};
  }
  const std::string key = token_key(token);
  std::optional<TokenReviewResult> review;
  {
    std::lock_guard lock(mutex_);
    review = tokens_.get(key, clock_());
  }
  if (!review) {
    auto reviewed = reviews_.review_token(token);
    if (!reviewed) return tl::unexpected(reviewed.error());
    review = *reviewed;
    std::lock_guard lock(mutex_);
    const auto now = clock_();
    tokens_.put(key, *review, now + options_.token_ttl, now);
  }
  if (!review->authenticated) return std::optional<UserInfo>{};
  return std::optional<UserInfo>{review->user};
}

tl::expected<AccessReviewResult, std::string> DelegatedAuth::authorize(const UserInfo& user,
                                                                       const std::string& path,
                                                                       const std::string& verb) {
  const std::string key = decision_key(user, path, verb);
  {
    std::lock_guard lock(mutex_);
    if (auto cached = decisions_.get(key, clock_())) return *cached;
  }
  auto reviewed = reviews_.review_access(user, path, verb);
  if (!reviewed) return reviewed;
  std::lock_guard lock(mutex_);
  const auto now = clock_();
  decisions_.put(key, *reviewed,
                 now + (reviewed->allowed ? options_.allowed_ttl : options_.denied_ttl), now);
  return reviewed;
}

std::optional<Response> DelegatedAuth::check(const Request& request) {
  auto user = authenticate(request);
  // A review that failed and a token that was refused are both 401, as kube's authentication
  // filter answers (the reason goes to the log of the API server, not to the client).
  if (!user || !user->has_value()) return unauthorized_response();
  if (always_allowed(request.path)) return std::nullopt;
  const std::string verb = lower(request.method);
  auto decision = authorize(**user, request.path, verb);
  if (!decision) {
    return text(500, "Internal Server Error: \"" + request.path + "\": " + decision.error() + "\n");
  }
  if (decision->allowed) return std::nullopt;
  return forbidden_response((*user)->username, verb, request.path, decision->reason);
}

}  // namespace fairway::http
