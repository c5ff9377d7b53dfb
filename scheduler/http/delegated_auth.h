#pragma once
// Delegated authentication and authorisation for the secure port (--secure-port), as
// kube-scheduler's secure serving decides (k8s.io/apiserver's delegating authenticator and
// authorizer):
//   - "Authorization: Bearer TOKEN" is authenticated by a TokenReview (authentication.k8s.io/v1);
//     a token the API server does not accept, or a review that fails, is answered 401
//     Unauthorized. A request with no bearer token is the anonymous user "system:anonymous" in
//     the group "system:unauthenticated" (kube-scheduler serves anonymous requests too, and lets
//     the authoriser decide).
//   - Paths in always_allow_paths (--authorization-always-allow-paths; a trailing '*' matches a
//     prefix) are served to any authenticated or anonymous user.
//   - Every other request is authorised by a SubjectAccessReview (authorization.k8s.io/v1) with
//     nonResourceAttributes {path, verb: the lower-case HTTP method} and the user's name, uid,
//     groups and extra: denied is 403 `forbidden: User "NAME" cannot get path "/metrics"`; a
//     review that fails is 500, as kube-apiserver's filters answer.
// Results are cached as client-go's delegating authenticator and authorizer do (by default 10 s
// for a token, 10 s for an allowed and 10 s for a denied decision; failures are not cached), in
// a cache of bounded size: a scrape every few seconds costs one review of each kind per TTL.
//
// Pure: the reviews go through ReviewClient (the REST calls live at the edge,
// scheduler/service/kube_reviews.h) and time comes from an injected clock. Thread-safe: the
// HTTP server's threads call check() concurrently; a review runs on the asking thread.

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <tl/expected.hpp>
#include <vector>

#include "scheduler/http/http_server.h"

namespace fairway::http {

struct UserInfo {
  std::string username;
  std::string uid;
  std::vector<std::string> groups;
  std::map<std::string, std::vector<std::string>> extra;
};

struct TokenReviewResult {
  bool authenticated = false;
  UserInfo user;
  std::string error;  // status.error: why the token was not accepted
};

struct AccessReviewResult {
  bool allowed = false;
  std::string reason;  // status.reason, appended to the 403's message when set
};

// The two reviews, sent to the API server. A transport failure or a non-2xx answer is an error.
class ReviewClient {
 public:
  virtual ~ReviewClient() = default;
  virtual tl::expected<TokenReviewResult, std::string> review_token(const std::string& token) = 0;
  virtual tl::expected<AccessReviewResult, std::string> review_access(const UserInfo& user,
                                                                      const std::string& path,
                                                                      const std::string& verb) = 0;
};

struct DelegatedAuthOptions {
  // kube-scheduler's default --authorization-always-allow-paths.
  std::vector<std::string> always_allow_paths = {"/healthz", "/readyz", "/livez"};
  std::chrono::seconds token_ttl{10};
  std::chrono::seconds allowed_ttl{10};
  std::chrono::seconds denied_ttl{10};
  size_t max_entries = 4096;  // per cache
};

using SteadyClock = std::function<std::chrono::steady_clock::time_point()>;

// A map whose entries expire; when full, expired entries go first, then the soonest to expire.
template <typename Value>
class ExpiringCache {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;
  explicit ExpiringCache(size_t max_entries) : max_entries_(std::max<size_t>(max_entries, 1)) {}

  std::optional<Value> get(const std::string& key, TimePoint now) {
    const auto it = entries_.find(key);
    if (it == entries_.end()) return std::nullopt;
    if (it->second.expires <= now) {
      entries_.erase(it);
      return std::nullopt;
    }
    return it->second.value;
  }

  void put(const std::string& key, Value value, TimePoint expires, TimePoint now) {
    if (!entries_.contains(key) && entries_.size() >= max_entries_) make_room(now);
    entries_.insert_or_assign(key, Entry{std::move(value), expires});
  }

  size_t size() const { return entries_.size(); }

 private:
  struct Entry {
    Value value;
    TimePoint expires;
  };

  void make_room(TimePoint now) {
    std::erase_if(entries_, [now](const auto& entry) { return entry.second.expires <= now; });
    if (entries_.size() < max_entries_) return;
    auto soonest = entries_.begin();
    for (auto it = entries_.begin(); it != entries_.end(); ++it) {
      if (it->second.expires < soonest->second.expires) soonest = it;
    }
    entries_.erase(soonest);
  }

  size_t max_entries_;
  std::map<std::string, Entry> entries_;
};

class DelegatedAuth {
 public:
  DelegatedAuth(DelegatedAuthOptions options, ReviewClient& reviews, SteadyClock clock);

  // nullopt: serve the request; otherwise the response that refuses it (401, 403 or 500).
  std::optional<Response> check(const Request& request);

  // Whether `path` is one of always_allow_paths (exact, or a prefix before a trailing '*').
  bool always_allowed(const std::string& path) const;

 private:
  tl::expected<std::optional<UserInfo>, std::string> authenticate(const Request& request);
  tl::expected<AccessReviewResult, std::string> authorize(const UserInfo& user,
                                                          const std::string& path,
                                                          const std::string& verb);

  DelegatedAuthOptions options_;
  ReviewClient& reviews_;
  SteadyClock clock_;
  std::mutex mutex_;  // guards the caches, never held during a review
  ExpiringCache<TokenReviewResult> tokens_;
  ExpiringCache<AccessReviewResult> decisions_;
};

// The bearer token of an Authorization header ("" when none: not Bearer, or empty).
std::string bearer_token(const Request& request);

// kube-apiserver's error bodies: a meta/v1 Status.
Response unauthorized_response();
Response forbidden_response(const std::string& user, const std::string& verb,
                            const std::string& path, const std::string& reason);

}  // namespace fairway::http
