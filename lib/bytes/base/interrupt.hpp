// Ctrl-C and SIGTERM as a flag that long loops poll, so a program stops between units of work,
// finishes what must not be left half-done (a checkpoint, an output file) and exits 128 + signal.
#pragma once
#include <exception>

namespace bytes {

// SIGINT and SIGTERM set the flag; SIGXFSZ is ignored so that a file over the size limit fails
// its write(2) with EFBIG (reported like a full disk) instead of killing the process.
void install_interrupt_handlers();
// True once SIGINT or SIGTERM arrived; the signal number is kept for the exit code.
bool interrupted();
int interrupt_signal();
// Throws Interrupted when a signal arrived: long loops call this between units of work.
void check_interrupt();
struct Interrupted : std::exception {
  const char* what() const noexcept override { return "interrupted"; }
};

}  // namespace bytes
