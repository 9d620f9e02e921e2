#pragma once

// The webhook's view of its TLS connections, for what cpp-httplib 0.18.7 has no knob for:
// shedding the oldest idle connection when the connection cap is reached, one deadline for
// a whole handshake or request (cpp-httplib's read timeout is per read, so a client sending
// a byte every few seconds would hold a thread for ever), ending a connection after an
// in-band refusal whose body stays unread, and writing an answer's head and body as one
// TCP segment.
//
// It learns everything through OpenSSL's public callbacks on the server's SSL_CTX, on the
// connection's own thread: the info callback (a handshake starts: the connection is
// registered with its socket; it is done: idle), the message callback (a record arrives on
// an idle connection: a request has begun) and the free callback of an ex_data index (the
// SSL object is freed, which cpp-httplib does before it closes the socket: unregistered).
// The server reports the later steps of a request from its handlers, which see the
// connection as cpp-httplib's Request::ssl. Shedding is shutdown(2) of a registered socket
// under the table's lock: the owning thread wakes, reads EOF and closes the connection
// itself; as a socket is unregistered before it is closed, a shed never hits a reused
// descriptor.

#include <openssl/ssl.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <list>
#include <mutex>
#include <stop_token>
#include <thread>

#include "nodeboot/webhook/metrics.hpp"

namespace nodeboot::webhook {

class ConnectionTable {
 public:
  using Clock = std::chrono::steady_clock;

  // `deadline`: for a handshake from its start, for a request from its first byte until
  // its handler runs.
  // `grace`: how long after its last step (handshake begun, handshake done) a connection
  // that has not answered a request yet is safe from shedding.
  ConnectionTable(std::chrono::milliseconds deadline, std::chrono::milliseconds grace, Metrics& metrics);
  ~ConnectionTable();
  ConnectionTable(const ConnectionTable&) = delete;
  ConnectionTable& operator=(const ConnectionTable&) = delete;

  // Installs the callbacks on the server's context (before it serves).
  void attach(SSL_CTX& ctx);
  // Starts and stops the thread that enforces the deadline.
  void start();
  void stop();

  // From the server's handlers, on the connection's thread.
  void headers_read(const SSL* ssl);  // the body is read next, still under the deadline
  void handling(const SSL* ssl);      // our handler runs: no deadline
  // Holds the answer's head back until answered() so it leaves with the body in one
  // segment (cpp-httplib writes them with two SSL_writes).
  void cork(const SSL* ssl);
  // The answer is written: idle until the next request. With `close`, the connection ends
  // (close_notify, then FIN) and is shut down for good a second later: its unread input is
  // not served. Returns the time since headers_read.
  std::chrono::nanoseconds answered(const SSL* ssl, bool close);

  // Sheds one connection for a connection waiting for a thread, in this order: one already
  // ending after a refusal; one that never answered a request and is past its grace, oldest
  // first; only when no new connection is in its grace, the working connection idle longest.
  // A flood of idle or silent connections thus goes before the API server's connections,
  // whose pauses between reviews are short, and a new connection gets its grace to send its
  // first request. False when nothing may be shed now; the watchdog then tries again for as
  // many connections as wait (set_waiting).
  bool shed_oldest_idle();
  // Connections accepted and waiting for a thread (the pool keeps this current).
  void set_waiting(std::size_t n) { waiting_.store(n, std::memory_order_relaxed); }

 private:
  enum class State : std::uint8_t { handshake, idle, request, handling, closing };
  struct Entry {
    ConnectionTable* table = nullptr;
    SSL* ssl = nullptr;
    int fd = -1;
    std::atomic<State> state{State::handshake};
    std::atomic<Clock::rep> since{0};  // when the state began
    bool shut = false;                 // shut down already (under the table's lock)
    std::atomic<bool> served{false};   // has answered a request
    // The connection's own thread only:
    Clock::time_point started;  // headers read
    bool in_flight = false;
    bool corked = false;
    std::list<Entry>::iterator self;
  };

  static void on_info(const SSL* ssl, int where, int ret);
  static void on_message(int write_p, int version, int content_type, const void* buf, std::size_t len, SSL* ssl,
                         void* arg);
  static void on_free(void* parent, void* ptr, CRYPTO_EX_DATA* ad, int idx, long argl, void* argp);
  static int ssl_index();
  static Entry* entry_of(const SSL* ssl);
  static void set(Entry& e, State state);

  void opened(SSL* ssl);
  void closed(Entry* entry);
  void watch(std::stop_token stop);
  bool shed_locked(Clock::rep now);

  const std::chrono::milliseconds deadline_;
  const std::chrono::milliseconds grace_;
  std::atomic<std::size_t> waiting_{0};
  Metrics& metrics_;
  std::mutex mutex_;
  std::list<Entry> entries_;
  std::condition_variable_any wake_;
  std::jthread watchdog_;
};

}  // namespace nodeboot::webhook
