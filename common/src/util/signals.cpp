#include "nodeboot/util/signals.hpp"

#include <pthread.h>

#include <atomic>
#include <condition_variable>
#include <csignal>
#include <cstdlib>
#include <mutex>

namespace nodeboot {
namespace {

std::stop_source& source() {
  static std::stop_source s;
  return s;
}
std::atomic<bool> token_taken{false};
std::atomic<int> first_signal{0};

sigset_t handled() {
  sigset_t set;
  sigemptyset(&set);
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) sigaddset(&set, sig);
  return set;
}

// The signal's default action, from this thread: death by the signal, as the shell expects.
[[noreturn]] void die_of(int sig) {
  ::signal(sig, SIG_DFL);
  sigset_t one;
  sigemptyset(&one);
  sigaddset(&one, sig);
  ::pthread_sigmask(SIG_UNBLOCK, &one, nullptr);
  ::raise(sig);
  std::_Exit(128 + sig);  // not reached
}

}  // namespace

SignalThread::SignalThread() {
  const sigset_t set = handled();
  ::pthread_sigmask(SIG_BLOCK, &set, nullptr);
  ::signal(SIGPIPE, SIG_IGN);
  waiter_ = std::jthread([set](const std::stop_token& own) {
    while (true) {
      int sig = 0;
      if (::sigwait(&set, &sig) != 0) continue;
      if (own.stop_requested()) return;  // the destructor's wake-up
      if (!token_taken) die_of(sig);
      int none = 0;
      if (!first_signal.compare_exchange_strong(none, sig) && sig == SIGINT) die_of(sig);
      source().request_stop();
    }
  });
}

SignalThread::~SignalThread() {
  waiter_.request_stop();
  ::pthread_kill(waiter_.native_handle(), SIGHUP);  // blocked there: sigwait returns it
}

std::stop_token stop_token() {
  token_taken = true;
  return source().get_token();
}

int stop_signal() { return first_signal; }

void wait_for_stop() {
  std::mutex m;
  std::condition_variable_any stopped;
  std::unique_lock lock(m);
  stopped.wait(lock, stop_token(), [] { return false; });
}

void reset_signals_for_child(posix_spawnattr_t& attributes) {
  sigset_t none;
  sigset_t defaults = handled();
  sigemptyset(&none);
  sigaddset(&defaults, SIGPIPE);
  short flags = 0;
  ::posix_spawnattr_getflags(&attributes, &flags);
  ::posix_spawnattr_setflags(&attributes, static_cast<short>(flags | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF));
  ::posix_spawnattr_setsigmask(&attributes, &none);
  ::posix_spawnattr_setsigdefault(&attributes, &defaults);
}

}  // namespace nodeboot
