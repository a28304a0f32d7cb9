#include "bytes/base/interrupt.hpp"

#include <signal.h>

namespace bytes {
namespace {

volatile sig_atomic_t pending_signal = 0;

void on_signal(int sig) { pending_signal = sig; }

}  // namespace

void install_interrupt_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  // No SA_RESTART: a read blocked on a terminal or pipe returns EINTR so the loop can stop.
  sa.sa_flags = 0;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  signal(SIGXFSZ, SIG_IGN);
}

bool interrupted() { return pending_signal != 0; }
int interrupt_signal() { return pending_signal; }
void check_interrupt() {
  if (interrupted()) throw Interrupted();
}

}  // namespace bytes
