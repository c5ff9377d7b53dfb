#pragma once
// Null-safe reads of JSON objects: missing keys and wrong types give the default, never throw.
// (nlohmann's value() throws on non-objects and trips GCC's -Wnull-dereference.)

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace fairway::apiserver {

inline const nlohmann::json& member(const nlohmann::json& j, std::string_view key) {
  static const nlohmann::json kNull;
  if (!j.is_object()) return kNull;
  const auto it = j.find(key);
  return it == j.end() ? kNull : *it;
}

inline std::string str(const nlohmann::json& j, std::string_view key, std::string fallback = {}) {
  const nlohmann::json& v = member(j, key);
  return v.is_string() ? v.get<std::string>() : fallback;
}

inline bool flag(const nlohmann::json& j, std::string_view key, bool fallback) {
  const nlohmann::json& v = member(j, key);
  return v.is_boolean() ? v.get<bool>() : fallback;
}

inline int64_t integer(const nlohmann::json& j, std::string_view key, int64_t fallback) {
  const nlohmann::json& v = member(j, key);
  return v.is_number_integer() ? v.get<int64_t>() : fallback;
}

}  // namespace fairway::apiserver
