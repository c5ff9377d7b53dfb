#pragma once
// `fairway snapshot --anonymize` (docs/what-if.md, "Sharing a snapshot"): a snapshot whose names
// are replaced by stable hashes, so that it can be shared and still replays to the same
// decisions. One string always becomes the same hash within the snapshot, wherever it appears
// (a pod's nodeName, the node's name, its kubernetes.io/hostname label), so references still
// match; a hash is "h" + 15 hex digits of HMAC-SHA256 under a key drawn for the snapshot, so
// names cannot be guessed back by hashing candidates. What the scheduler reads for meaning stays:
// label keys, resource quantities, numbers, the GPU labels and fairway's annotations; what could
// leak and is not read goes: other annotations, images, commands, env, addresses.

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <unordered_map>

namespace fairway::sim {

class Anonymizer {
 public:
  // `key`: the HMAC key; a snapshot draws a random one (tests give their own).
  explicit Anonymizer(std::string key);

  // The hash standing for `name`; names the scheduler gives a meaning of its own ("", "default",
  // kube-*, system-*, fairway's reservation namespace), numbers, "true" and "false" stay as
  // they are.
  std::string hash(std::string_view name);

  // Anonymizes a whole snapshot document (snapshot.h) in place.
  void snapshot(nlohmann::json& document);

 private:
  void object(std::string_view kind, nlohmann::json& item);
  void metadata(nlohmann::json& metadata);
  void labels(nlohmann::json& labels);
  std::string label_value(std::string_view key, const std::string& value);
  void annotations(nlohmann::json& annotations);
  void selectors(nlohmann::json& value);
  void pod(nlohmann::json& item);
  void node(nlohmann::json& item);
  void pod_group(nlohmann::json& item);
  void storage(std::string_view kind, nlohmann::json& item);
  void hash_member(nlohmann::json& object, const char* key);

  std::string key_;
  std::unordered_map<std::string, std::string> hashes_;
};

// A random HMAC key for one snapshot.
std::string random_anonymizer_key();

}  // namespace fairway::sim
