#include "k8s-client/api_error.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

namespace fairway::k8s {
namespace {

std::string string_field(const nlohmann::json& object, const char* key) {
  const auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// Cuts `text` to at most `max` bytes without splitting a UTF-8 sequence.
std::string cut(std::string text, size_t max) {
  if (text.size() <= max) return text;
  size_t end = max;
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
  text.resize(end);
  text += "...";
  return text;
}

}  // namespace

ApiErrorInfo api_error_info(int status, std::string_view body) {
  ApiErrorInfo info;
  info.code = status;
  const auto parsed = nlohmann::json::parse(body, nullptr, false);
  if (!parsed.is_discarded() && parsed.is_object()) {
    info.reason = string_field(parsed, "reason");
    info.message = string_field(parsed, "message");
    if (const auto code = parsed.find("code"); code != parsed.end() && code->is_number_integer()) {
      if (info.code == 0) info.code = code->get<int>();
    }
    const auto details = parsed.find("details");
    if (details != parsed.end() && details->is_object()) {
      const auto causes = details->find("causes");
      if (causes != details->end() && causes->is_array()) {
        for (const auto& c : *causes) {
          if (!c.is_object()) continue;
          info.causes.push_back(
              {string_field(c, "reason"), string_field(c, "field"), string_field(c, "message")});
        }
      }
    }
    return info;
  }
  if (parsed.is_discarded()) {
    // Not JSON: the first line of the text, as a reader would see it.
    std::string_view text = body;
    if (const auto newline = text.find('\n'); newline != std::string_view::npos) {
      text = text.substr(0, newline);
    }
    info.message = cut(std::string(text), 200);
  }
  return info;
}

ApiErrorInfo api_error_info(const tl::expected<Response, TransportError>& response) {
  if (!response) {
    ApiErrorInfo info;
    info.message = response.error().message;
    return info;
  }
  return api_error_info(response->status, response->body);
}

std::string describe_api_error(const ApiErrorInfo& info, size_t max_chars) {
  if (info.code == 0) return cut("transport error: " + info.message, max_chars);
  std::string text = std::to_string(info.code);
  if (!info.reason.empty()) text += " " + info.reason;
  if (!info.message.empty()) {
    text += ": " + info.message;
  } else if (info.reason.empty()) {
    text += ": no message from the API server";
  }
  std::string causes;
  for (const ApiErrorCause& cause : info.causes) {
    // kube-apiserver repeats the causes in its message; name only those it did not.
    const std::string line =
        cause.field.empty() ? cause.message : fmt::format("{}: {}", cause.field, cause.message);
    if (line.empty() || info.message.find(line) != std::string::npos) continue;
    causes += (causes.empty() ? "" : "; ") + line;
  }
  if (!causes.empty()) text += " (" + causes + ")";
  return cut(std::move(text), max_chars);
}

std::string describe_api_error(const tl::expected<Response, TransportError>& response,
                               size_t max_chars) {
  return describe_api_error(api_error_info(response), max_chars);
}

bool retryable_api_error(int status) {
  return status == 0 || status == 409 || status == 429 || status >= 500;
}

}  // namespace fairway::k8s
