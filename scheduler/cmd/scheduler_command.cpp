// Placeholder while this command is being built; replaced by its implementation.
#include <ostream>

#include "scheduler/cmd/commands.h"

namespace fairway::cmd {

int scheduler(std::span<const std::string> /*args*/, std::ostream& /*out*/, std::ostream& err) {
  err << "fairway: this command is not built yet\n";
  return 1;
}

}  // namespace fairway::cmd
