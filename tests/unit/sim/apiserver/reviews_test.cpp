// TokenReview and SubjectAccessReview as kube-apiserver answers them: the static token file,
// and RBAC over stored roles and bindings.
#include "sim/apiserver/reviews.h"

#include <gtest/gtest.h>

namespace fairway::apiserver {
namespace {

using nlohmann::json;

TEST(TokenFile, ReadsKubeApiserversFormat) {
  auto users = parse_token_file(
      "t1,alice,u1,\"ops,sre\"\n"
      "\n"
      "t2,bob,u2\r\n"
      "t3,carol,u3,viewers");
  ASSERT_TRUE(users.has_value()) << users.error();
  ASSERT_EQ(users->size(), 3u);
  EXPECT_EQ((*users)[0].user, "alice");
  EXPECT_EQ((*users)[0].groups, (std::vector<std::string>{"ops", "sre"}));
  EXPECT_EQ((*users)[1].uid, "u2");
  EXPECT_TRUE((*users)[1].groups.empty());
  EXPECT_EQ((*users)[2].groups, std::vector<std::string>{"viewers"});
}

TEST(TokenFile, RefusesBadLinesNamingThem) {
  EXPECT_EQ(parse_token_file("t1,alice,u1\nt2,bob\n").error(),
            "token file line 2: expected token,user,uid[,groups]");
  EXPECT_EQ(parse_token_file(",alice,u1").error(),
            "token file line 1: the token and the user name must not be empty");
  EXPECT_EQ(parse_token_file("t1,alice,u1\nt1,bob,u2").error(),
            "token file line 2: duplicate token (each token names one user)");
}

TEST(TokenReview, AuthenticatesTheAdminAndFileUsers) {
  const std::vector<TokenUser> users = {{"t1", "alice", "u1", {"ops"}}};
  const auto review = [&](const std::string& token) {
    return answer_token_review({{"apiVersion", "authentication.k8s.io/v1"},
                                {"kind", "TokenReview"},
                                {"spec", {{"token", token}}}},
                               "admin-token", users);
  };
  auto alice = review("t1");
  ASSERT_TRUE(alice.has_value());
  EXPECT_EQ((*alice)["kind"], "TokenReview");
  EXPECT_EQ((*alice)["status"]["authenticated"], true);
  EXPECT_EQ((*alice)["status"]["user"]["username"], "alice");
  EXPECT_EQ((*alice)["status"]["user"]["uid"], "u1");
  EXPECT_EQ((*alice)["status"]["user"]["groups"], (json{"ops", "system:authenticated"}));
  auto admin = review("admin-token");
  EXPECT_EQ((*admin)["status"]["user"]["groups"], (json{"system:masters", "system:authenticated"}));
  auto nobody = review("forged");
  EXPECT_FALSE(nobody->at("status").contains("authenticated"));
  EXPECT_EQ((*nobody)["status"]["error"], "invalid bearer token");
  const auto empty = answer_token_review({{"spec", json::object()}}, "admin-token", users);
  ASSERT_FALSE(empty.has_value());
  EXPECT_EQ(empty.error().code, 400);
  EXPECT_EQ(empty.error().message, "token is required for TokenReview in authentication");
}

RbacObjects cluster() {
  RbacObjects rbac;
  rbac.cluster_roles.push_back(json::parse(R"({
    "metadata": {"name": "metrics-reader"},
    "rules": [{"verbs": ["get"], "nonResourceURLs": ["/metrics", "/debug/*"]}]})"));
  rbac.cluster_roles.push_back(json::parse(R"({
    "metadata": {"name": "pod-reader"},
    "rules": [{"verbs": ["get", "list"], "apiGroups": [""], "resources": ["pods", "*/status"]},
              {"verbs": ["*"], "apiGroups": ["apps"], "resources": ["deployments"],
               "resourceNames": ["web"]}]})"));
  rbac.cluster_role_bindings.push_back(json::parse(R"({
    "metadata": {"name": "read-metrics"},
    "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                "name": "metrics-reader"},
    "subjects": [{"kind": "User", "name": "alice"}, {"kind": "Group", "name": "monitoring"},
                 {"kind": "ServiceAccount", "name": "prometheus", "namespace": "mon"}]})"));
  rbac.role_bindings.push_back(json::parse(R"({
    "metadata": {"name": "read-pods", "namespace": "team"},
    "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                "name": "pod-reader"},
    "subjects": [{"kind": "User", "name": "bob"}, {"kind": "ServiceAccount", "name": "ci"}]})"));
  return rbac;
}

AccessAttributes path(std::string p, std::string verb = "get") {
  AccessAttributes a;
  a.resource_request = false;
  a.verb = std::move(verb);
  a.path = std::move(p);
  return a;
}

AccessAttributes resource(std::string verb, std::string group, std::string res, std::string ns,
                          std::string name = "", std::string sub = "") {
  AccessAttributes a;
  a.verb = std::move(verb);
  a.api_group = std::move(group);
  a.resource = std::move(res);
  a.namespace_ = std::move(ns);
  a.name = std::move(name);
  a.subresource = std::move(sub);
  return a;
}

TEST(Rbac, NonResourceUrlsByClusterRoleBindingOnly) {
  const RbacObjects rbac = cluster();
  const auto alice = authorize(rbac, {"alice", {"system:authenticated"}}, path("/metrics"));
  EXPECT_TRUE(alice.allowed);
  EXPECT_EQ(alice.reason,
            "RBAC: allowed by ClusterRoleBinding \"read-metrics\" of ClusterRole "
            "\"metrics-reader\" to User \"alice\"");
  EXPECT_TRUE(authorize(rbac, {"alice", {}}, path("/debug/pods/a/b")).allowed);
  EXPECT_TRUE(authorize(rbac, {"alice", {}}, path("/debug/")).allowed);
  EXPECT_FALSE(authorize(rbac, {"alice", {}}, path("/debug")).allowed);
  EXPECT_FALSE(authorize(rbac, {"alice", {}}, path("/metrics", "post")).allowed);
  EXPECT_FALSE(authorize(rbac, {"bob", {"system:authenticated"}}, path("/metrics")).allowed);
  EXPECT_TRUE(authorize(rbac, {"carol", {"monitoring"}}, path("/metrics")).allowed);
  EXPECT_TRUE(
      authorize(rbac, {"system:serviceaccount:mon:prometheus", {}}, path("/metrics")).allowed);
  EXPECT_FALSE(
      authorize(rbac, {"system:serviceaccount:other:prometheus", {}}, path("/metrics")).allowed);
  EXPECT_TRUE(authorize(rbac, {"root", {"system:masters"}}, path("/anything")).allowed);
}

TEST(Rbac, StarAndGroupBindings) {
  RbacObjects rbac = cluster();
  rbac.cluster_roles.push_back(json::parse(
      R"({"metadata": {"name": "all"}, "rules": [{"verbs": ["get"], "nonResourceURLs": ["*"]}]})"));
  rbac.cluster_role_bindings.push_back(json::parse(R"({
    "metadata": {"name": "everyone"},
    "roleRef": {"kind": "ClusterRole", "name": "all"},
    "subjects": [{"kind": "Group", "name": "system:authenticated"}]})"));
  EXPECT_TRUE(authorize(rbac, {"bob", {"system:authenticated"}}, path("/metrics")).allowed);
  EXPECT_FALSE(
      authorize(rbac, {"system:anonymous", {"system:unauthenticated"}}, path("/metrics")).allowed);
}

TEST(Rbac, RoleBindingsGrantInTheirNamespaceOnly) {
  const RbacObjects rbac = cluster();
  const AccessSubject bob{"bob", {}};
  const auto listed = authorize(rbac, bob, resource("list", "", "pods", "team"));
  EXPECT_TRUE(listed.allowed);
  EXPECT_EQ(listed.reason,
            "RBAC: allowed by RoleBinding \"read-pods/team\" of ClusterRole \"pod-reader\" to "
            "User \"bob\"");
  EXPECT_FALSE(authorize(rbac, bob, resource("list", "", "pods", "other")).allowed);
  EXPECT_FALSE(authorize(rbac, bob, resource("list", "", "pods", "")).allowed);
  EXPECT_FALSE(authorize(rbac, bob, resource("delete", "", "pods", "team", "p")).allowed);
  EXPECT_TRUE(authorize(rbac, bob, resource("get", "", "nodes", "team", "n", "status")).allowed);
  EXPECT_FALSE(authorize(rbac, bob, resource("get", "", "pods", "team", "p", "log")).allowed);
  EXPECT_TRUE(
      authorize(rbac, bob, resource("patch", "apps", "deployments", "team", "web")).allowed);
  EXPECT_FALSE(
      authorize(rbac, bob, resource("patch", "apps", "deployments", "team", "api")).allowed);
  EXPECT_FALSE(authorize(rbac, bob, resource("get", "", "metrics", "team")).allowed);
  // A ServiceAccount subject without a namespace is in the RoleBinding's.
  EXPECT_TRUE(
      authorize(rbac, {"system:serviceaccount:team:ci", {}}, resource("get", "", "pods", "team"))
          .allowed);
  EXPECT_FALSE(authorize(rbac, bob, path("/metrics")).allowed);
}

TEST(SubjectAccessReview, AnswersAndValidates) {
  const json body = json::parse(R"({
    "apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
    "spec": {"user": "alice", "groups": ["system:authenticated"],
             "nonResourceAttributes": {"path": "/metrics", "verb": "get"}}})");
  auto answer = answer_access_review(body, cluster());
  ASSERT_TRUE(answer.has_value());
  EXPECT_EQ((*answer)["kind"], "SubjectAccessReview");
  EXPECT_EQ((*answer)["status"]["allowed"], true);
  EXPECT_EQ((*answer)["spec"], body["spec"]);
  json denied = body;
  denied["spec"]["user"] = "bob";
  answer = answer_access_review(denied, cluster());
  EXPECT_EQ((*answer)["status"], (json{{"allowed", false}}));

  json both = body;
  both["spec"]["resourceAttributes"] = {{"verb", "get"}, {"resource", "pods"}};
  auto refused = answer_access_review(both, cluster());
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().code, 422);
  json nobody = body;
  nobody["spec"].erase("user");
  nobody["spec"].erase("groups");
  refused = answer_access_review(nobody, cluster());
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().code, 422);
  EXPECT_NE(refused.error().message.find("at least one of user or group must be specified"),
            std::string::npos);
}

}  // namespace
}  // namespace fairway::apiserver
