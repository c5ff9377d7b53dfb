#pragma once
// ClusterWriter: the one narrow interface through which the edge's workers (the actuator, the
// evictor, the reservation manager, and the volume binder, claim writer and Event recorder they
// use) write to the cluster, and read what a write must check first. RestClusterWriter is the
// one implementation over k8s::RestClient; unit tests use a recording fake
// (tests/unit/scheduler/service/recording_writer.h) that records each call and answers from a
// script.
//
// Every call answers a WriteResult: the HTTP status (0 when no answer came: a transport error,
// a fenced write, a stopped client) and the server's words (the Status's reason and message,
// never its raw JSON: k8s-client/api_error.h).

#include <string>
#include <string_view>

#include "k8s-client/rest_client.h"

namespace fairway {

inline constexpr std::string_view kMergePatch = "application/merge-patch+json";
inline constexpr std::string_view kStrategicMergePatch = "application/strategic-merge-patch+json";

struct WriteResult {
  int status = 0;  // HTTP status; 0: no answer
  // Failures: the Status's code, reason and message (k8s::describe_api_error), or the
  // transport error. Empty on success.
  std::string error;
  // Failures: the Status's message alone (what the server said was wrong); empty otherwise.
  std::string message;
  std::string body;         // the answer's body: the object written or read
  std::string retry_after;  // the Retry-After header, if any

  bool ok() const { return status >= 200 && status < 300; }
  bool answered() const { return status != 0; }
  // Worth another try: no answer, throttled, or the server failed.
  bool transient() const { return status == 0 || status == 429 || status >= 500; }

  // A result as the server (or the transport) gave it.
  static WriteResult of(const tl::expected<k8s::Response, k8s::TransportError>& response);
};

class ClusterWriter {
 public:
  virtual ~ClusterWriter() = default;

  // POST pods/{name}/binding: the pod (its uid, when known, as a precondition) onto `node`.
  virtual WriteResult bind(const std::string& ns, const std::string& name, const std::string& uid,
                           const std::string& node) = 0;
  // POST pods/{name}/eviction with an Eviction of `api_version` (policy/v1, policy/v1beta1),
  // without deleteOptions.
  virtual WriteResult evict(const std::string& ns, const std::string& name,
                            const std::string& api_version) = 0;
  // PATCH `path` (a status subresource, a pod's condition or labels, an Event, a claim) with
  // `patch` of `content_type`.
  virtual WriteResult patch(const std::string& path, const std::string& patch,
                            std::string_view content_type = kMergePatch) = 0;
  // POST `body` to the collection `path` (an Event, a reservation pod, a ConfigMap, an object
  // applied).
  virtual WriteResult create(const std::string& path, const std::string& body) = 0;
  // PUT `body` at `path` (a ConfigMap replaced, a claim or its status).
  virtual WriteResult replace(const std::string& path, const std::string& body) = 0;
  // DELETE `path` (a reservation pod, a ConfigMap rolled back).
  virtual WriteResult remove(const std::string& path) = 0;
  // GET `path`: what a write checks first (discovery, a ConfigMap, a claim, a volume).
  virtual WriteResult read(const std::string& path) = 0;
};

// The ClusterWriter over a RestClient (its rate limit, retries of 429, write fence).
class RestClusterWriter final : public ClusterWriter {
 public:
  explicit RestClusterWriter(k8s::RestClient& client) : client_(client) {}

  WriteResult bind(const std::string& ns, const std::string& name, const std::string& uid,
                   const std::string& node) override;
  WriteResult evict(const std::string& ns, const std::string& name,
                    const std::string& api_version) override;
  WriteResult patch(const std::string& path, const std::string& patch,
                    std::string_view content_type) override;
  WriteResult create(const std::string& path, const std::string& body) override;
  WriteResult replace(const std::string& path, const std::string& body) override;
  WriteResult remove(const std::string& path) override;
  WriteResult read(const std::string& path) override;

  k8s::RestClient& client() { return client_; }

 private:
  k8s::RestClient& client_;
};

}  // namespace fairway
