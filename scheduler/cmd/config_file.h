#pragma once
// `--config FILE` of `fairway scheduler` (and of `fairway sim --snapshot`, for the run to compare
// against): a YAML map whose keys are flag names without dashes, e.g.
//   usage-strength: 0.5
//   scoring: spread
// read as the flags `--usage-strength=0.5 --scoring=spread`, placed before the command line's
// so that flags given there win.

#include <string>
#include <tl/expected.hpp>
#include <vector>

namespace fairway::cmd {

tl::expected<std::vector<std::string>, std::string> config_file_args(const std::string& path);

}  // namespace fairway::cmd
