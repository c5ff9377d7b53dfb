#pragma once
// What `fairway snapshot` lists, as one document (sim/whatif/snapshot.h): also what
// `fairway report idle` reads to know which pods hold GPUs in which queue.

#include <nlohmann/json.hpp>
#include <string>
#include <tl/expected.hpp>

#include "k8s-client/rest_client.h"
#include "queues/usage_history.h"

namespace fairway::cmd {

// Every kind of kSnapshotKinds, page by page; an error carries the server's message.
tl::expected<nlohmann::json, std::string> read_snapshot(k8s::RestClient& client,
                                                        const std::string& server, WallMs now);

}  // namespace fairway::cmd
