#pragma once
// Standard base64 (RFC 4648 with padding): kubeconfig *-data fields and continue tokens.

#include <optional>
#include <string>
#include <string_view>

namespace fairway::apiserver {

std::string base64_encode(std::string_view data);
std::optional<std::string> base64_decode(std::string_view text);

}  // namespace fairway::apiserver
