// The fairway binary: a thin dispatcher over the subcommands in scheduler/cmd.
#include "scheduler/cmd/commands.h"

int main(int argc, char** argv) { return fairway::cmd::run_main(argc, argv); }
