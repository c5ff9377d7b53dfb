#pragma once
// RecordingWriter: the ClusterWriter (scheduler/service/cluster_writer.h) of the service unit
// tests. Records every call (verb, path, body) and answers from a script: the first rule whose
// verb and path fragment match, used up after `times` answers (0: for ever); with no rule, a
// 2xx (201 for creates, binds and evictions, 200 otherwise) with an empty object. Thread-safe.

#include <fmt/format.h>

#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "scheduler/service/cluster_writer.h"

namespace fairway::testing {

struct RecordedCall {
  std::string verb;  // BIND, EVICT, PATCH, CREATE, REPLACE, REMOVE, READ
  std::string path;  // the object's API path (binds and evictions: the subresource's)
  std::string body;  // the body sent (evictions: the apiVersion)
  std::string content_type;
  int status = 0;  // what it was answered (0: a transport error)
};

class RecordingWriter final : public ClusterWriter {
 public:
  // Answers the next `times` calls (0: every call) of `verb` ("" any) whose path contains
  // `path_part` with `status` and, for a failure, a Status carrying `message`; a 2xx answers
  // `body` instead.
  // A `message` that is a JSON object is sent as the whole body; status 0 is a transport error
  // with `message` as its words.
  void answer(std::string verb, std::string path_part, int status, std::string message = {},
              int times = 0, std::string body = {}, std::string retry_after = {}) {
    std::lock_guard lock(mutex_);
    rules_.push_back({std::move(verb), std::move(path_part), status, std::move(message),
                      std::move(body), times, std::move(retry_after)});
  }
  void clear_answers() {
    std::lock_guard lock(mutex_);
    rules_.clear();
  }

  std::vector<RecordedCall> calls() const {
    std::lock_guard lock(mutex_);
    return calls_;
  }
  // How many calls were answered with a failure (not 2xx).
  size_t failed() const {
    std::lock_guard lock(mutex_);
    size_t n = 0;
    for (const RecordedCall& call : calls_) n += call.status < 200 || call.status >= 300;
    return n;
  }
  // The calls of `verb` whose path contains `path_part`.
  std::vector<RecordedCall> calls(const std::string& verb, const std::string& path_part) const {
    std::lock_guard lock(mutex_);
    std::vector<RecordedCall> out;
    for (const RecordedCall& call : calls_) {
      if (call.verb == verb && call.path.find(path_part) != std::string::npos) out.push_back(call);
    }
    return out;
  }
  void clear_calls() {
    std::lock_guard lock(mutex_);
    calls_.clear();
  }

  WriteResult bind(const std::string& ns, const std::string& name, const std::string& uid,
                   const std::string& node) override {
    return call("BIND", fmt::format("/api/v1/namespaces/{}/pods/{}/binding", ns, name),
                uid + " " + node, {});
  }
  WriteResult evict(const std::string& ns, const std::string& name,
                    const std::string& api_version) override {
    return call("EVICT", fmt::format("/api/v1/namespaces/{}/pods/{}/eviction", ns, name),
                api_version, {});
  }
  WriteResult patch(const std::string& path, const std::string& patch,
                    std::string_view content_type) override {
    return call("PATCH", path, patch, std::string(content_type));
  }
  WriteResult create(const std::string& path, const std::string& body) override {
    return call("CREATE", path, body, {});
  }
  WriteResult replace(const std::string& path, const std::string& body) override {
    return call("REPLACE", path, body, {});
  }
  WriteResult remove(const std::string& path) override { return call("REMOVE", path, {}, {}); }
  WriteResult read(const std::string& path) override { return call("READ", path, {}, {}); }

 private:
  struct Rule {
    std::string verb;
    std::string path_part;
    int status = 200;
    std::string message;
    std::string body;
    int times = 0;  // answers left; 0: for ever
    std::string retry_after;
  };

  WriteResult call(std::string verb, std::string path, std::string body, std::string type) {
    std::lock_guard lock(mutex_);
    calls_.push_back({verb, path, std::move(body), std::move(type), 0});
    k8s::Response response;
    response.status = verb == "CREATE" || verb == "BIND" || verb == "EVICT" ? 201 : 200;
    response.body = "{}";
    for (auto it = rules_.begin(); it != rules_.end(); ++it) {
      if (!it->verb.empty() && it->verb != verb) continue;
      if (path.find(it->path_part) == std::string::npos) continue;
      if (it->status == 0) {
        const std::string error = it->message;
        if (it->times > 0 && --it->times == 0) rules_.erase(it);
        return WriteResult::of(tl::expected<k8s::Response, k8s::TransportError>(
            tl::unexpected(k8s::TransportError{error})));
      }
      response.status = it->status;
      response.retry_after = it->retry_after;
      if (response.ok()) {
        response.body = it->body.empty() ? "{}" : it->body;
      } else if (!it->message.empty() && it->message.front() == '{') {
        response.body = it->message;  // a whole Status, as the server would send it
      } else {
        nlohmann::json status = {{"kind", "Status"},
                                 {"apiVersion", "v1"},
                                 {"status", "Failure"},
                                 {"message", it->message},
                                 {"code", it->status}};
        response.body = status.dump();
      }
      if (it->times > 0 && --it->times == 0) rules_.erase(it);
      break;
    }
    calls_.back().status = response.status;
    return WriteResult::of(response);
  }

  mutable std::mutex mutex_;
  std::vector<Rule> rules_;
  std::vector<RecordedCall> calls_;
};

}  // namespace fairway::testing
