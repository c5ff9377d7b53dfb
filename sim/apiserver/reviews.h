#pragma once
// The review APIs kube-apiserver serves for delegated authentication and authorisation
// (create only, answered and never stored):
//   POST /apis/authentication.k8s.io/v1/tokenreviews: is spec.token one of this server's
//     tokens? The admin token is the user "admin" in system:masters; the users of
//     --token-auth-file (kube-apiserver's static token file) are theirs. Every authenticated user
//     is in the group system:authenticated too, as kube-apiserver adds it.
//   POST /apis/authorization.k8s.io/v1/subjectaccessreviews: may spec.user/groups do
//     spec.resourceAttributes or spec.nonResourceAttributes? Decided by rbac.h over the stored
//     RBAC objects.
// Validation and answers follow kube-apiserver's (201 with the object and its status; 400 for a
// TokenReview without a token; 422 for a SubjectAccessReview without exactly one kind of
// attributes or without a user or group).

#include <nlohmann/json.hpp>
#include <string>
#include <tl/expected.hpp>
#include <vector>

#include "sim/apiserver/api_error.h"
#include "sim/apiserver/rbac.h"

namespace fairway::apiserver {

struct TokenUser {
  std::string token;
  std::string user;
  std::string uid;
  std::vector<std::string> groups;
};

// kube-apiserver's --token-auth-file: CSV lines "token,user,uid" with an optional fourth column
// of groups ("group1,group2" quoted when more than one). Blank lines are skipped; a line with
// fewer than three columns, an empty token or user, or a token given twice is an error naming
// the line.
tl::expected<std::vector<TokenUser>, std::string> parse_token_file(const std::string& text);

// The TokenReview answered for `body` (the request, as JSON).
tl::expected<nlohmann::json, ApiError> answer_token_review(const nlohmann::json& body,
                                                           const std::string& admin_token,
                                                           const std::vector<TokenUser>& users);

// The SubjectAccessReview answered for `body`.
tl::expected<nlohmann::json, ApiError> answer_access_review(const nlohmann::json& body,
                                                            const RbacObjects& rbac);

}  // namespace fairway::apiserver
