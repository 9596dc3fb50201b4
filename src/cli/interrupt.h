// Ctrl-C (SIGINT) and SIGTERM as a request to stop: the handler only records the signal, and the
// commands that run for long (run, quantize) poll interrupted() in their loops, then clean up
// (statistics so far, no temporary file left) and exit with kExitInterrupted.
#pragma once

namespace loam::cli {

// 128 + SIGINT, what a shell reports for a command stopped by Ctrl-C; used for SIGTERM as well.
constexpr int kExitInterrupted = 130;

// Installs the handlers for SIGINT and SIGTERM. Each handler runs once: a second Ctrl-C ends the
// process at once, as it would without Loam's handler.
void catch_interrupts();

// Forgets the signal recorded so far and installs the handlers again, for a command that treats
// Ctrl-C as "stop this step" and goes on (chat: it stops one answer, not the program).
void rearm_interrupts();

// Whether SIGINT or SIGTERM arrived since catch_interrupts(); any thread may ask.
bool interrupted();

// "SIGINT" or "SIGTERM" (the first that arrived); "" when none did.
const char* interrupt_name();

}  // namespace loam::cli
