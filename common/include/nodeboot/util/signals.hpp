#pragma once

// The process's signals, handled the one way: blocked in main before any thread starts,
// taken by one thread that sigwaits and feeds a stop_source. Each binary's main holds a
// SignalThread; library code only asks for stop_token().

#include <spawn.h>

#include <stop_token>
#include <thread>

namespace nodeboot {

class SignalThread {
 public:
  // Blocks SIGINT, SIGTERM and SIGHUP in the calling thread (every thread started later
  // inherits the mask), ignores SIGPIPE (a child or peer that goes away early must not kill
  // us through a write) and starts the waiting thread. Construct it first thing in main.
  SignalThread();
  ~SignalThread();
  SignalThread(const SignalThread&) = delete;
  SignalThread& operator=(const SignalThread&) = delete;

 private:
  std::jthread waiter_;
};

// Until someone asks for this token a signal ends the process as its default action would.
// Once asked, SIGINT/SIGTERM/SIGHUP only request a stop (the asker stops and cleans up),
// but a second SIGINT ends the process at once, as kubectl's second Ctrl-C does (130).
// Without a SignalThread (tests calling a binary's main in-process) the token never fires.
std::stop_token stop_token();

// The signal that requested the stop (0 before one did).
int stop_signal();

// Blocks until stop_token() fires (takes the token, so signals only request the stop).
void wait_for_stop();

// For posix_spawn: the child starts with an empty signal mask and default dispositions
// (it must not inherit the blocked set or SIGPIPE's SIG_IGN).
void reset_signals_for_child(posix_spawnattr_t& attributes);

}  // namespace nodeboot
