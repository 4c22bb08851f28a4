#pragma once
namespace callready {
// Parses the command line and runs the chosen command; returns the exit status.
int run_cli(int argc, char** argv);
}  // namespace callready
