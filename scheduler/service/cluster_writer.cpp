// RestClusterWriter: ClusterWriter (cluster_writer.h) over k8s::RestClient.
#include "scheduler/service/cluster_writer.h"

#include <fmt/format.h>

#include "k8s-client/api_error.h"
#include "k8s-client/objects.h"

namespace fairway {

WriteResult WriteResult::of(const tl::expected<k8s::Response, k8s::TransportError>& response) {
  WriteResult result;
  if (response) {
    result.status = response->status;
    result.body = response->body;
    result.retry_after = response->retry_after;
  }
  if (!response || !response->ok()) {
    result.error = k8s::describe_api_error(response);
    result.message = response ? k8s::api_error_info(response).message : response.error().message;
  }
  return result;
}

WriteResult RestClusterWriter::bind(const std::string& ns, const std::string& name,
                                    const std::string& uid, const std::string& node) {
  return WriteResult::of(
      client_.request("POST", fmt::format("/api/v1/namespaces/{}/pods/{}/binding", ns, name),
                      k8s::binding_body(ns, name, uid, node)));
}

WriteResult RestClusterWriter::evict(const std::string& ns, const std::string& name,
                                     const std::string& api_version) {
  return WriteResult::of(
      client_.request("POST", fmt::format("/api/v1/namespaces/{}/pods/{}/eviction", ns, name),
                      k8s::eviction_body(ns, name, api_version)));
}

WriteResult RestClusterWriter::patch(const std::string& path, const std::string& patch,
                                     std::string_view content_type) {
  return WriteResult::of(client_.request("PATCH", path, patch, content_type));
}

WriteResult RestClusterWriter::create(const std::string& path, const std::string& body) {
  return WriteResult::of(client_.request("POST", path, body));
}

WriteResult RestClusterWriter::replace(const std::string& path, const std::string& body) {
  return WriteResult::of(client_.request("PUT", path, body));
}

WriteResult RestClusterWriter::remove(const std::string& path) {
  return WriteResult::of(client_.request("DELETE", path));
}

WriteResult RestClusterWriter::read(const std::string& path) {
  return WriteResult::of(client_.get(path));
}

}  // namespace fairway
