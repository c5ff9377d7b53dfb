#pragma once
// The built-in demo that `fairway sim` (and `make run`) runs when given no scenario file.
// The same text is in examples/sim/demo.yaml; a test keeps the two identical.

#include <string_view>

namespace fairway::sim {

std::string_view demo_scenario_yaml();

}  // namespace fairway::sim
