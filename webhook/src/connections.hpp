#pragma once

// Every connection of the webhook, from accept to close. cpp-httplib 0.18.7 serves a
// connection on one thread for its whole keep-alive life, so idle and silent connections
// would each hold a thread, and a flood of them would starve the API server. Here a
// connection holds a thread only while it has input to work on:
//
// - The listener thread hands each accepted socket to adopt(), which parks it on an epoll
//   set at once: no thread is taken before the first byte arrives.
// - Worker threads wait on that epoll set themselves (one-shot events: a connection is
//   given to one worker at a time, and the kernel wakes one waiter per event). The worker
//   runs the TLS handshake (non-blocking: a handshake waiting for more input is parked
//   again) or one request (cpp-httplib's own parsing and routing, through
//   `RequestRunner`), then parks the connection again (unless its next request is already
//   there; in a flood of connections, a client that has had an answer keeps its worker for
//   up to 100 ms for its next one), or closes it. Four workers wait on the set at a time; the others idle on a
//   condition variable, so input goes round a few threads with warm caches. A worker that
//   takes the last waiting place calls an idle one to the set, or starts another, up to
//   `max_workers` (workers held by slow clients do not keep others from input).
// - Limits: at most `max_connections` held (at the cap, adopt() closes a parked one: a
//   connection ending after a refusal, then one that has sent nothing, then one never used
//   for a request, then one in the middle of its handshake, then the idle one unused
//   longest; the oldest of each first); a
//   deadline for a handshake from the accept and for a request from its first byte until
//   its handler runs (a worker's socket is shut down, a parked one closed); idle
//   keep-alive connections close after `keep_alive` (a watchdog thread checks ten times a
//   second).
//
// One mutex guards the table, taken twice per request (a worker takes the connection, parks
// it again); a parked connection is freed only under it, and epoll events carry the
// connection's id, not its address, so an event for a freed one is dropped. A request's
// phases are atomics the watchdog reads.

#include <openssl/ssl.h>

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <list>
#include <mutex>
#include <stop_token>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "nodeboot/webhook/metrics.hpp"

namespace nodeboot::webhook {

// From ServerOptions (their defaults and reasons are there).
struct ConnectionLimits {
  std::size_t max_connections;
  std::size_t max_workers;
  std::chrono::milliseconds deadline;
  std::chrono::milliseconds keep_alive;
};

// The addresses of a connection, as cpp-httplib's request wants them.
struct Peer {
  std::string remote_addr;
  int remote_port = 0;
  std::string local_addr;
  int local_port = 0;
};

class Connections {
 public:
  using Clock = std::chrono::steady_clock;
  // Reads and answers one request from a connection with input waiting (`peer` is the
  // connection's, empty until the runner fills it). False: the connection is broken or the
  // client asked to close it.
  using RequestRunner = std::function<bool(SSL& ssl, int fd, Peer& peer)>;

  Connections(ConnectionLimits limits, Metrics& metrics);
  ~Connections();
  Connections(const Connections&) = delete;
  Connections& operator=(const Connections&) = delete;

  // Starts the watchdog and the first worker (more start on demand).
  void start(SSL_CTX& ctx, RequestRunner run);
  // Closes every parked connection, waits for the requests in flight, stops the threads.
  void stop();

  // A socket accepted by the listener thread.
  void adopt(int fd);

  // From the server's handlers, on the worker serving the connection.
  static void headers_read();  // the body is read next, still under the deadline
  static void handling();      // our handler runs: no deadline
  // The answer is written. With `close`, the connection ends (close_notify, then FIN) and
  // is closed a second later: its unread input is not served. Returns the time since
  // headers_read.
  static std::chrono::nanoseconds answered(bool close);

 private:
  enum class Phase : std::uint8_t { handshake, idle, request, handling, closing };
  // Parked connections, by what shedding one costs: lower goes first.
  enum class Shelf : std::uint8_t { closing, silent, unused, handshaking, idle, count };
  struct Conn {
    Connections* owner = nullptr;
    std::uint64_t id = 0;
    int fd = -1;
    SSL* ssl = nullptr;
    // Written by the connection's worker without the lock, read by the watchdog.
    std::atomic<Phase> phase{Phase::handshake};
    std::atomic<Clock::rep> since{0};  // when the phase began (a handshake: the accept)
    std::atomic<bool> served{false};   // has answered a request
    // Under the lock:
    bool parked = false;  // on the epoll set (else on a worker)
    bool shut = false;    // shut down by the deadline; its worker ends it
    std::list<Conn*>::iterator shelf_pos;
    Shelf shelf = Shelf::count;  // count: on no shelf
    // The worker's only:
    Peer peer;
    Clock::time_point started;  // headers read
    bool in_flight = false;
  };

  void watch(const std::stop_token& stop);
  void spawn_locked();
  void work(std::size_t slot);
  // Before a worker waits on the epoll set again: while enough others wait there, it idles
  // until called (or stopped, or idle long enough to retire). False: the worker ends.
  bool await_turn(Clock::time_point last_work);
  Conn* take(std::uint64_t id);  // an event's connection, now the worker's (null: none)
  void serve(Conn& c);
  bool handshake(Conn& c);                       // false: parked or closed
  void park(Conn& c);                            // back on the epoll set (or closed when stopping)
  void close(Conn& c);                           // the worker's connection, done
  void release_locked();                         // a connection leaves its worker (stop() waits for all)
  bool arm_locked(const Conn& c, int op) const;  // on the epoll set for its next input
  void free_locked(Conn& c);                     // a parked connection, or one a worker has given up
  void shelve_locked(Conn& c);
  void unshelve_locked(Conn& c);
  bool shed_locked();
  void sweep_locked(Clock::time_point now);
  static void set_phase(Conn& c, Phase phase);
  static Shelf shelf_of(const Conn& c);

  const ConnectionLimits limits_;
  Metrics& metrics_;
  SSL_CTX* ctx_ = nullptr;
  RequestRunner run_;
  int epoll_ = -1;
  int stop_fd_ = -1;  // an eventfd on the epoll set, written by stop()

  std::mutex mutex_;
  std::unordered_map<std::uint64_t, Conn> conns_;
  std::uint64_t next_id_ = 1;
  std::array<std::list<Conn*>, static_cast<std::size_t>(Shelf::count)> shelves_;
  std::condition_variable drained_;  // a busy connection finished (stop() waits on it)
  struct Worker {
    std::jthread thread;
    bool done = false;
  };
  std::vector<Worker> workers_;  // reserved to max_workers: never reallocated
  std::size_t live_ = 0;
  std::atomic<std::size_t> waiting_{0};  // workers in epoll_wait
  std::atomic<std::size_t> held_{0};     // connections held (conns_.size(), read without the lock)
  std::size_t cold_ = 0;                 // workers idle on cold_cv_ (at least hot_waiters wait)
  std::size_t called_ = 0;               // of those, called to the epoll set and not yet there
  std::condition_variable cold_cv_;
  std::size_t busy_ = 0;  // connections on a worker
  bool stopping_ = false;
  std::jthread watchdog_;
};

}  // namespace nodeboot::webhook
