#include <sys/wait.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <string>
#include <thread>

#include "nodeboot/util/process.hpp"
#include "nodeboot/util/signals.hpp"

namespace {

// Signal dispositions and masks are the process's: each case runs in a child of its own.
template <typename Body>
int in_child(Body body) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    body();
    std::_Exit(0);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return status;
}

// Longer than any signal takes to arrive; a child still alive after it failed the case.
constexpr auto patience = std::chrono::seconds(5);

}  // namespace

BOOST_AUTO_TEST_SUITE(signals)

BOOST_AUTO_TEST_CASE(once_the_token_is_taken_sigterm_only_requests_a_stop) {
  const int status = in_child([] {
    const nodeboot::SignalThread thread;
    const auto stop = nodeboot::stop_token();
    ::kill(::getpid(), SIGTERM);
    nodeboot::wait_for_stop();
    ::kill(::getpid(), SIGTERM);  // a second SIGTERM too: the hand-over must not be cut
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    std::_Exit(stop.stop_requested() && nodeboot::stop_signal() == SIGTERM ? 0 : 1);
  });
  BOOST_TEST(WIFEXITED(status));
  BOOST_TEST(WEXITSTATUS(status) == 0);
}

BOOST_AUTO_TEST_CASE(until_the_token_is_taken_a_signal_ends_the_process_as_by_default) {
  const int status = in_child([] {
    const nodeboot::SignalThread thread;
    ::kill(::getpid(), SIGTERM);
    std::this_thread::sleep_for(patience);
  });
  BOOST_TEST(WIFSIGNALED(status));
  BOOST_TEST(WTERMSIG(status) == SIGTERM);
}

BOOST_AUTO_TEST_CASE(a_second_sigint_ends_the_process_at_once) {
  const int status = in_child([] {
    const nodeboot::SignalThread thread;
    (void)nodeboot::stop_token();
    ::kill(::getpid(), SIGINT);
    nodeboot::wait_for_stop();
    ::kill(::getpid(), SIGINT);
    std::this_thread::sleep_for(patience);
  });
  BOOST_TEST(WIFSIGNALED(status));
  BOOST_TEST(WTERMSIG(status) == SIGINT);
}

BOOST_AUTO_TEST_CASE(children_start_with_no_blocked_and_no_ignored_signals) {
  const int status = in_child([] {
    const nodeboot::SignalThread thread;  // blocks SIGINT/SIGTERM/SIGHUP, ignores SIGPIPE here
    auto r = nodeboot::run_process({"grep", "-E", "^Sig(Blk|Ign):", "/proc/self/status"});
    // SIGHUP (1), SIGINT (2), SIGPIPE (13) and SIGTERM (15): bits 0, 1, 12 and 14 of each mask.
    constexpr unsigned long ours = (1ul << 0) | (1ul << 1) | (1ul << 12) | (1ul << 14);
    bool clean = r && r->exit_code == 0;
    for (const std::string key : {"SigBlk:\t", "SigIgn:\t"}) {
      const auto at = r ? r->out.find(key) : std::string::npos;
      clean =
          clean && at != std::string::npos && (std::stoul(r->out.substr(at + key.size(), 16), nullptr, 16) & ours) == 0;
    }
    if (!clean) std::fprintf(stderr, "%s\n", r ? r->out.c_str() : r.error().message.c_str());
    std::_Exit(clean ? 0 : 1);
  });
  BOOST_TEST(WIFEXITED(status));
  BOOST_TEST(WEXITSTATUS(status) == 0);
}

BOOST_AUTO_TEST_SUITE_END()
