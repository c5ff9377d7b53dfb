#pragma once
// One way to turn a failed API call into words for logs, Events and conditions: the Kubernetes
// Status's code, reason, message and field causes, never the raw JSON body (which can be
// kilobytes, is cut mid-string by length limits, and means nothing to a reader of
// `kubectl describe`). A body that is not a Status (a proxy's HTML page, plain text) is reduced
// to its first line, cut on a character boundary.

#include <string>
#include <string_view>
#include <tl/expected.hpp>
#include <vector>

#include "k8s-client/rest_client.h"

namespace fairway::k8s {

struct ApiErrorCause {
  std::string reason;  // FieldValueInvalid, FieldValueRequired, ...
  std::string field;   // status.conditions[0].message
  std::string message;
};

struct ApiErrorInfo {
  int code = 0;        // HTTP status; 0: transport error
  std::string reason;  // Status.reason: NotFound, Invalid, BadRequest, ... (may be empty)
  std::string message;
  std::vector<ApiErrorCause> causes;
};

// Reads a non-2xx answer (status code and body).
ApiErrorInfo api_error_info(int status, std::string_view body);
ApiErrorInfo api_error_info(const tl::expected<Response, TransportError>& response);

// "422 Invalid: Queue \"a\" is invalid: ... (status.conditions[0].message: Invalid value:
// \"null\")", "transport error: connection refused". At most `max_chars` characters.
std::string describe_api_error(const ApiErrorInfo& info, size_t max_chars = 512);
std::string describe_api_error(const tl::expected<Response, TransportError>& response,
                               size_t max_chars = 512);

// Whether a failed write is worth retrying soon: transport errors, 429, 5xx, and 409 (a re-read
// resolves a conflict). Everything else (400, 403, 404, 405, 415, 422, ...) is an answer that
// repeating the same request will not change.
bool retryable_api_error(int status);

}  // namespace fairway::k8s
