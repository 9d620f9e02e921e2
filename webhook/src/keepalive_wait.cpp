// A fix for one loop inside Debian's cpp-httplib 0.11.4 (a compiled library we cannot patch):
// between two requests on a keep-alive connection it waits with
//
//   while (true) { poll(fd, POLLIN, 10 ms); if nothing came: sleep 1 ms; check the timeout }
//
// so a request that arrives during the sleep waits up to a millisecond before anyone reads
// it. bench/webhook measured that as the whole p99 at 2,000 req/s (1.3 ms, nginx 0.33 ms).
//
// This file defines poll(). The executable's definition comes first in symbol lookup, so
// libcpp-httplib's calls reach it. On the connection threads of nodeboot-webhook's pool
// (marked by `idle_wait`), the one call shaped like that loop's (one fd, POLLIN, 10 ms)
// waits for the whole keep-alive timeout instead: it returns as soon as a request (or EOF,
// or the shutdown of idle connections on stop) arrives, and when it times out the loop
// sees the keep-alive timeout spent and closes the connection, as it would have. Every
// other call, on every thread, goes straight to ppoll() with its own arguments.
#undef _FORTIFY_SOURCE  // poll() must be an ordinary function here, not glibc's inline wrapper
#include <poll.h>

#include <chrono>
#include <ctime>

#include "keepalive_wait.hpp"

namespace nodeboot::webhook {
namespace {
thread_local int keep_alive_ms = -1;  // -1: not a connection thread
}  // namespace

IdleWait::IdleWait(std::chrono::milliseconds keep_alive) { keep_alive_ms = static_cast<int>(keep_alive.count()); }
IdleWait::~IdleWait() { keep_alive_ms = -1; }

}  // namespace nodeboot::webhook

// glibc declares poll's array write-only (__attr_access), so reading the caller's `events`
// here, which poll() always does, looks like reading uninitialised memory to GCC.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
extern "C" int poll(struct pollfd* fds, nfds_t nfds, int timeout) {
  // cpp-httplib's keep_alive(): select_read(sock, 0, 10000), i.e. 10 ms for one socket.
  constexpr int httplib_idle_poll_ms = 10;
  if (nodeboot::webhook::keep_alive_ms >= 0 && nfds == 1 && fds[0].events == POLLIN && timeout == httplib_idle_poll_ms)
    // One millisecond over: the loop closes the connection only once more than the
    // keep-alive timeout has passed, counted in whole milliseconds.
    timeout = nodeboot::webhook::keep_alive_ms + 1;
  if (timeout < 0) return ::ppoll(fds, nfds, nullptr, nullptr);
  const timespec ts{timeout / 1000, static_cast<long>(timeout % 1000) * 1'000'000L};
  return ::ppoll(fds, nfds, &ts, nullptr);
}
#pragma GCC diagnostic pop
