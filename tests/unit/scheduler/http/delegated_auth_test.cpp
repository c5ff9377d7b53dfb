#include "scheduler/http/delegated_auth.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <set>

#include "scheduler/service/kube_reviews.h"

namespace fairway::http {
namespace {

using namespace std::chrono_literals;

// Answers as a scripted API server would, and counts the reviews it was asked for.
class FakeReviews : public ReviewClient {
 public:
  std::map<std::string, UserInfo> users;                 // token → user
  std::set<std::pair<std::string, std::string>> grants;  // (user, path) for get
  bool fail = false;
  int token_reviews = 0;
  int access_reviews = 0;
  std::vector<std::string> verbs;

  tl::expected<TokenReviewResult, std::string> review_token(const std::string& token) override {
    ++token_reviews;
    if (fail) return tl::unexpected(std::string("connection refused"));
    const auto it = users.find(token);
    if (it == users.end()) return TokenReviewResult{false, {}, "invalid bearer token"};
    return TokenReviewResult{true, it->second, ""};
  }
  tl::expected<AccessReviewResult, std::string> review_access(const UserInfo& user,
                                                              const std::string& path,
                                                              const std::string& verb) override {
    ++access_reviews;
    verbs.push_back(verb);
    if (fail) return tl::unexpected(std::string("connection refused"));
    return AccessReviewResult{verb == "get" && grants.contains({user.username, path}), ""};
  }
};

struct DelegatedAuthTest : ::testing::Test {
  FakeReviews reviews;
  std::chrono::steady_clock::time_point now{};
  DelegatedAuthOptions options;
  std::unique_ptr<DelegatedAuth> auth;

  void SetUp() override {
    reviews.users["alice-token"] = {"alice", "a-1", {"system:authenticated"}, {}};
    reviews.users["bob-token"] = {"bob", "b-1", {"system:authenticated"}, {}};
    reviews.grants.insert({"alice", "/metrics"});
    make();
  }
  void make() {
    auth = std::make_unique<DelegatedAuth>(options, reviews, [this] { return now; });
  }
  static Request get(std::string path, std::string token = "") {
    Request request{.method = "GET",
                    .path = std::move(path),
                    .query = "",
                    .body = "",
                    .content_type = "",
                    .headers = {}};
    if (!token.empty()) request.headers.emplace_back("Authorization", "Bearer " + token);
    return request;
  }
  static nlohmann::json body(const Response& response) {
    return nlohmann::json::parse(response.body);
  }
};

TEST_F(DelegatedAuthTest, BoundUserIsServed) {
  EXPECT_FALSE(auth->check(get("/metrics", "alice-token")).has_value());
  EXPECT_EQ(reviews.verbs, std::vector<std::string>{"get"});
}

TEST_F(DelegatedAuthTest, UnboundUserGetsKubesForbidden) {
  const auto refused = auth->check(get("/metrics", "bob-token"));
  ASSERT_TRUE(refused.has_value());
  EXPECT_EQ(refused->status, 403);
  EXPECT_EQ(refused->content_type, "application/json");
  const auto status = body(*refused);
  EXPECT_EQ(status["kind"], "Status");
  EXPECT_EQ(status["reason"], "Forbidden");
  EXPECT_EQ(status["code"], 403);
  EXPECT_EQ(status["message"], "forbidden: User \"bob\" cannot get path \"/metrics\"");
}

TEST_F(DelegatedAuthTest, NoTokenIsTheAnonymousUserAndAuthorised) {
  const auto refused = auth->check(get("/metrics"));
  ASSERT_TRUE(refused.has_value());
  EXPECT_EQ(refused->status, 403);
  EXPECT_EQ(body(*refused)["message"],
            "forbidden: User \"system:anonymous\" cannot get path \"/metrics\"");
  EXPECT_EQ(reviews.token_reviews, 0);
  // Granted to the anonymous user, it is served (as RBAC decides, not the scheduler).
  reviews.grants.insert({"system:anonymous", "/debug/queues"});
  EXPECT_FALSE(auth->check(get("/debug/queues")).has_value());
}

TEST_F(DelegatedAuthTest, UnknownTokenIsUnauthorized) {
  const auto refused = auth->check(get("/metrics", "forged"));
  ASSERT_TRUE(refused.has_value());
  EXPECT_EQ(refused->status, 401);
  EXPECT_EQ(body(*refused)["message"], "Unauthorized");
  EXPECT_EQ(body(*refused)["reason"], "Unauthorized");
  EXPECT_EQ(reviews.access_reviews, 0);
}

TEST_F(DelegatedAuthTest, AlwaysAllowedPathsSkipAuthorizationNotAuthentication) {
  EXPECT_FALSE(auth->check(get("/healthz")).has_value());
  EXPECT_FALSE(auth->check(get("/readyz", "bob-token")).has_value());
  EXPECT_EQ(reviews.access_reviews, 0);
  const auto refused = auth->check(get("/healthz", "forged"));
  ASSERT_TRUE(refused.has_value());
  EXPECT_EQ(refused->status, 401);
}

TEST_F(DelegatedAuthTest, TrailingStarMatchesAPrefix) {
  options.always_allow_paths = {"/debug/*", "/healthz"};
  make();
  EXPECT_TRUE(auth->always_allowed("/debug/pods/a/b"));
  EXPECT_TRUE(auth->always_allowed("/debug/"));
  EXPECT_FALSE(auth->always_allowed("/debug"));
  EXPECT_FALSE(auth->always_allowed("/healthz/x"));
  EXPECT_FALSE(auth->always_allowed("/readyz"));
}

TEST_F(DelegatedAuthTest, DecisionsAreCachedForTheirTtl) {
  for (int i = 0; i < 3; ++i) EXPECT_FALSE(auth->check(get("/metrics", "alice-token")));
  EXPECT_EQ(reviews.token_reviews, 1);
  EXPECT_EQ(reviews.access_reviews, 1);
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(auth->check(get("/metrics", "bob-token")));
  EXPECT_EQ(reviews.access_reviews, 2);  // a denial is cached too
  // A grant made now is seen once the denial expires (10 s), not before.
  reviews.grants.insert({"bob", "/metrics"});
  now += 9s;
  EXPECT_TRUE(auth->check(get("/metrics", "bob-token")));
  now += 2s;
  EXPECT_FALSE(auth->check(get("/metrics", "bob-token")));
  EXPECT_EQ(reviews.token_reviews, 3);  // alice once, bob again once his token's entry expired
}

TEST_F(DelegatedAuthTest, RevokedTokenIsRefusedAfterItsTtl) {
  EXPECT_FALSE(auth->check(get("/metrics", "alice-token")));
  reviews.users.erase("alice-token");
  now += 5s;
  EXPECT_FALSE(auth->check(get("/metrics", "alice-token")));
  now += 6s;
  const auto refused = auth->check(get("/metrics", "alice-token"));
  ASSERT_TRUE(refused.has_value());
  EXPECT_EQ(refused->status, 401);
}

TEST_F(DelegatedAuthTest, FailedReviewsAreNotCached) {
  reviews.fail = true;
  auto refused = auth->check(get("/metrics", "alice-token"));
  ASSERT_TRUE(refused.has_value());
  EXPECT_EQ(refused->status, 401);  // authentication could not be done: Unauthorized
  refused = auth->check(get("/metrics"));
  ASSERT_TRUE(refused.has_value());
  EXPECT_EQ(refused->status, 500);  // authorisation could not be done: an internal error
  reviews.fail = false;
  EXPECT_FALSE(auth->check(get("/metrics", "alice-token")).has_value());
}

TEST_F(DelegatedAuthTest, VerbIsTheLowerCaseMethod) {
  Request head = get("/metrics", "alice-token");
  head.method = "HEAD";
  const auto refused = auth->check(head);
  ASSERT_TRUE(refused.has_value());
  EXPECT_EQ(body(*refused)["message"], "forbidden: User \"alice\" cannot head path \"/metrics\"");
}

TEST(BearerToken, ReadsOnlyTheBearerScheme) {
  Request request;
  request.headers = {{"authorization", "bearer  abc "}};
  EXPECT_EQ(bearer_token(request), "abc");
  request.headers = {{"Authorization", "Basic dXNlcjpwYXNz"}};
  EXPECT_EQ(bearer_token(request), "");
  request.headers = {{"Authorization", "Bearer "}};
  EXPECT_EQ(bearer_token(request), "");
  request.headers = {};
  EXPECT_EQ(bearer_token(request), "");
}

TEST(ExpiringCache, StaysWithinItsBoundDroppingExpiredThenSoonest) {
  using TimePoint = std::chrono::steady_clock::time_point;
  const TimePoint t0{};
  ExpiringCache<int> cache(2);
  cache.put("a", 1, t0 + 5s, t0);
  cache.put("b", 2, t0 + 10s, t0);
  cache.put("c", 3, t0 + 20s, t0);  // full: "a" expires soonest and goes
  EXPECT_EQ(cache.size(), 2u);
  EXPECT_FALSE(cache.get("a", t0).has_value());
  EXPECT_EQ(cache.get("b", t0), 2);
  cache.put("d", 4, t0 + 30s, t0 + 11s);  // "b" has expired and goes first
  EXPECT_EQ(cache.get("c", t0 + 11s), 3);
  EXPECT_EQ(cache.get("d", t0 + 11s), 4);
  EXPECT_FALSE(cache.get("c", t0 + 20s).has_value());  // expired at its deadline
}

}  // namespace
}  // namespace fairway::http

namespace fairway {
namespace {

TEST(KubeReviews, BodiesAreKubesReviews) {
  const auto token = token_review_body("t0k");
  EXPECT_EQ(token["apiVersion"], "authentication.k8s.io/v1");
  EXPECT_EQ(token["kind"], "TokenReview");
  EXPECT_EQ(token["spec"]["token"], "t0k");
  const http::UserInfo user{"alice", "u1", {"g1", "system:authenticated"}, {{"scopes", {"x"}}}};
  const auto access = access_review_body(user, "/metrics", "get");
  EXPECT_EQ(access["kind"], "SubjectAccessReview");
  EXPECT_EQ(access["spec"]["nonResourceAttributes"],
            (nlohmann::json{{"path", "/metrics"}, {"verb", "get"}}));
  EXPECT_EQ(access["spec"]["user"], "alice");
  EXPECT_EQ(access["spec"]["uid"], "u1");
  EXPECT_EQ(access["spec"]["groups"], (nlohmann::json{"g1", "system:authenticated"}));
  EXPECT_EQ(access["spec"]["extra"]["scopes"], (nlohmann::json{"x"}));
}

TEST(KubeReviews, ReadsAnswers) {
  auto token =
      read_token_review(R"({"status":{"authenticated":true,"user":{"username":"alice","uid":"u1",)"
                        R"("groups":["g"],"extra":{"k":["v"]}}}})");
  ASSERT_TRUE(token.has_value());
  EXPECT_TRUE(token->authenticated);
  EXPECT_EQ(token->user.username, "alice");
  EXPECT_EQ(token->user.groups, std::vector<std::string>{"g"});
  EXPECT_EQ(token->user.extra.at("k"), std::vector<std::string>{"v"});
  token = read_token_review(R"({"status":{"error":"invalid bearer token"}})");
  ASSERT_TRUE(token.has_value());
  EXPECT_FALSE(token->authenticated);
  EXPECT_FALSE(read_token_review("not json").has_value());
  EXPECT_FALSE(read_token_review(R"({"status":{"authenticated":true,"user":{}}})").has_value());

  auto access = read_access_review(R"({"status":{"allowed":true,"reason":"RBAC: allowed"}})");
  ASSERT_TRUE(access.has_value());
  EXPECT_TRUE(access->allowed);
  access = read_access_review(R"({"status":{"allowed":false}})");
  ASSERT_TRUE(access.has_value());
  EXPECT_FALSE(access->allowed);
  EXPECT_FALSE(read_access_review(R"({"status":{}})").has_value());
  // An evaluation error without a decision is a refusal (no opinion), not a failed review.
  access = read_access_review(R"({"status":{"allowed":false,"evaluationError":"boom"}})");
  ASSERT_TRUE(access.has_value());
  EXPECT_FALSE(access->allowed);
}

}  // namespace
}  // namespace fairway
