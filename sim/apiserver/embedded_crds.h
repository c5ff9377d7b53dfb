#pragma once
// The fairway CRD manifests (charts/fairway/crds/*.yaml), compiled in at build time.

#include <string_view>
#include <vector>

namespace fairway::apiserver {

struct EmbeddedFile {
  std::string_view name;
  std::string_view text;
};

const std::vector<EmbeddedFile>& embedded_crds();

}  // namespace fairway::apiserver
