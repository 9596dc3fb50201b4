#include "cli/interrupt.h"

#include <atomic>
#include <signal.h>

#include <csignal>

namespace loam::cli {

namespace {

// The signal number, set by the handler. A lock-free atomic rather than a plain volatile
// sig_atomic_t: the handler may run on any of the pool's threads and the flag is read on
// another, which only an atomic makes well-defined.
std::atomic<std::sig_atomic_t> g_signal{0};
static_assert(std::atomic<std::sig_atomic_t>::is_always_lock_free,
              "the handler may only touch a lock-free atomic");

extern "C" void on_interrupt(int sig) {
  std::sig_atomic_t none = 0;
  g_signal.compare_exchange_strong(none, sig, std::memory_order_relaxed);
}

}  // namespace

void catch_interrupts() {
  struct sigaction sa {};
  sa.sa_handler = on_interrupt;
  sigemptyset(&sa.sa_mask);
  // No SA_RESTART: a read blocked on a terminal (run -f -) returns, so Ctrl-C is seen at once.
  // SA_RESETHAND: the second signal gets the default action, ending a run that does not stop.
  sa.sa_flags = SA_RESETHAND;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

void rearm_interrupts() {
  g_signal.store(0, std::memory_order_relaxed);
  catch_interrupts();
}

bool interrupted() { return g_signal.load(std::memory_order_relaxed) != 0; }

const char* interrupt_name() {
  switch (g_signal.load(std::memory_order_relaxed)) {
    case SIGINT: return "SIGINT";
    case SIGTERM: return "SIGTERM";
    default: return "";
  }
}

}  // namespace loam::cli
