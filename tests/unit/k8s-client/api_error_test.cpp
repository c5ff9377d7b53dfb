// describe_api_error: the Status's code, reason, message and field causes, never raw JSON.
#include "k8s-client/api_error.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace fairway::k8s {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(ApiError, DescribesAStatusWithItsCauses) {
  const std::string body =
      R"({"kind":"Status","apiVersion":"v1","status":"Failure","message":"Queue.scheduling.)"
      R"(fairway.dev \"a\" is invalid: status.conditions.message: Invalid value: \"null\"",)"
      R"("reason":"Invalid","details":{"causes":[{"reason":"FieldValueInvalid","message":)"
      R"("Invalid value: \"null\": must be a string","field":"status.conditions.message"}]},)"
      R"("code":422})";
  const std::string text = describe_api_error(api_error_info(422, body));
  EXPECT_THAT(text, HasSubstr("422 Invalid: Queue.scheduling.fairway.dev \"a\" is invalid"));
  EXPECT_THAT(text, HasSubstr("(status.conditions.message: Invalid value: \"null\": must be"));
  EXPECT_THAT(text, Not(HasSubstr("{")));
  EXPECT_THAT(text, Not(HasSubstr("\"kind\"")));
}

TEST(ApiError, NeverShowsRawJsonAndCutsOnCharacterBoundaries) {
  // A JSON body that is not a Status: no message, and none of the JSON.
  EXPECT_EQ(describe_api_error(api_error_info(500, R"({"error":"x"})")),
            "500: no message from the API server");
  // Plain text: its first line.
  EXPECT_EQ(describe_api_error(api_error_info(502, "Bad Gateway\n<html>")), "502: Bad Gateway");
  // Long messages are cut without splitting a UTF-8 character.
  const std::string long_message(600, 'x');
  const std::string text = describe_api_error(
      api_error_info(400, R"({"kind":"Status","reason":"BadRequest","message":")" +
                              std::string(10, 'y') + "\xC3\xA9" + long_message + R"("})"),
      27);  // "400 BadRequest: " + 10 'y' is 26 bytes: byte 27 is inside the é
  EXPECT_EQ(text, "400 BadRequest: yyyyyyyyyy...");
  EXPECT_TRUE(retryable_api_error(0));
  EXPECT_TRUE(retryable_api_error(429));
  EXPECT_TRUE(retryable_api_error(503));
  EXPECT_TRUE(retryable_api_error(409));
  EXPECT_FALSE(retryable_api_error(400));
  EXPECT_FALSE(retryable_api_error(403));
  EXPECT_FALSE(retryable_api_error(422));
}

TEST(ApiError, TransportErrors) {
  tl::expected<Response, TransportError> failed =
      tl::unexpected(TransportError{"connection refused"});
  EXPECT_EQ(describe_api_error(failed), "transport error: connection refused");
}

}  // namespace
}  // namespace fairway::k8s
