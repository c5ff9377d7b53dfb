// libFuzzer target: the admission webhook's AdmissionReview handling (scheduler/webhook), the
// request body exactly as a client sends it to POST /mutate. It must never crash, recurse without
// bound or throw: every body gets either a review (a JSON object whose response carries the
// request's uid) or a 400/413 with a message. Seeds: tests/fuzz/seeds/webhook_fuzz.
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "scheduler/webhook/admission.h"

namespace {

const fairway::webhook::AdmissionConfig& config() {
  static const fairway::webhook::AdmissionConfig kConfig = [] {
    fairway::webhook::AdmissionConfig c;
    c.tenant_denials = [](const fairway::Pod& pod, const fairway::Pod*) {
      return pod.namespace_ == "blue" ? std::vector<std::string>{"queue denied"}
                                      : std::vector<std::string>{};
    };
    return c;
  }();
  return kConfig;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  const auto out = fairway::webhook::review_pod_admission(body, config());
  if (!out) {
    if (out.error().status != 400 && out.error().status != 413) __builtin_trap();
    if (out.error().message.empty()) __builtin_trap();
    return 0;
  }
  const nlohmann::json review = nlohmann::json::parse(*out, nullptr, false);
  if (review.is_discarded() || !review.is_object() || !review.contains("response")) {
    __builtin_trap();
  }
  const nlohmann::json& response = review["response"];
  if (!response.is_object() || !response.contains("uid") || !response["uid"].is_string() ||
      response["uid"].get<std::string>().empty() || !response.contains("allowed") ||
      !response["allowed"].is_boolean()) {
    __builtin_trap();
  }
  return 0;
}
