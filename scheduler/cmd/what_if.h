#pragma once
// `fairway sim --snapshot FILE`: what-if on a live cluster's snapshot (sim/whatif/). The edge:
// reads the files, builds the two states, replays and prints.

#include <optional>
#include <ostream>
#include <string>

namespace fairway::cmd {

struct WhatIfFlags {
  std::string snapshot;                  // the `fairway snapshot` output
  std::string queues;                    // Queue manifests replacing the snapshot's; "": none
  std::string config;                    // a `fairway scheduler --config` file; "": none
  std::optional<double> usage_strength;  // the changed run's --usage-strength (over --config's)
  std::string scoring;                   // the changed run's --scoring (over --config's); "": as is
  bool json = false;
};

int what_if(const WhatIfFlags& flags, std::ostream& out, std::ostream& err);

}  // namespace fairway::cmd
