#include "connections.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <vector>

namespace nodeboot::webhook {
namespace {

// The ConnectionTable serving an SSL_CTX: an ex_data slot, one per process.
int ctx_index() {
  static const int index = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

// After an in-band refusal the answer and close_notify are on their way; a second later the
// client has read them, and the connection's unread input is dropped with it.
constexpr auto closing_linger = std::chrono::seconds(1);

// The connection this thread serves (cpp-httplib serves a connection on one thread from
// accept to close). Only for the answers cpp-httplib writes before it sets Request::ssl (a
// request head it cannot read); everything else finds its connection through the SSL.
thread_local void* serving = nullptr;

void set_cork(int fd, bool on) {
  const int value = on ? 1 : 0;
  ::setsockopt(fd, IPPROTO_TCP, TCP_CORK, &value, sizeof value);
}

}  // namespace

ConnectionTable::ConnectionTable(std::chrono::milliseconds deadline, std::chrono::milliseconds grace, Metrics& metrics)
    : deadline_(deadline), grace_(grace), metrics_(metrics) {}

ConnectionTable::~ConnectionTable() { stop(); }

int ConnectionTable::ssl_index() {
  // The Entry of an SSL; its free callback unregisters the connection.
  static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, &ConnectionTable::on_free);
  return index;
}

void ConnectionTable::attach(SSL_CTX& ctx) {
  SSL_CTX_set_ex_data(&ctx, ctx_index(), this);
  SSL_CTX_set_info_callback(&ctx, &ConnectionTable::on_info);
  SSL_CTX_set_msg_callback(&ctx, &ConnectionTable::on_message);
}

void ConnectionTable::start() {
  watchdog_ = std::jthread([this](std::stop_token stop) { watch(std::move(stop)); });
}

void ConnectionTable::stop() {
  if (!watchdog_.joinable()) return;
  watchdog_.request_stop();
  wake_.notify_all();
  watchdog_.join();
}

ConnectionTable::Entry* ConnectionTable::entry_of(const SSL* ssl) {
  return static_cast<Entry*>(ssl ? SSL_get_ex_data(ssl, ssl_index()) : serving);
}

void ConnectionTable::set(Entry& e, State state) {
  e.since.store(Clock::now().time_since_epoch().count(), std::memory_order_relaxed);
  e.state.store(state, std::memory_order_release);
}

void ConnectionTable::on_info(const SSL* ssl, int where, int) {
  if (where & SSL_CB_HANDSHAKE_START) {
    // The handshake's first step, before the ClientHello is read: a connection that never
    // sends one is registered (and can be shed) too.
    auto* table = static_cast<ConnectionTable*>(SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), ctx_index()));
    // OpenSSL hands info callbacks a const SSL; it is the connection's own, live object.
    if (table && !entry_of(ssl)) table->opened(const_cast<SSL*>(ssl));
  } else if (where & SSL_CB_HANDSHAKE_DONE) {
    if (auto* e = entry_of(ssl); e && e->state.load(std::memory_order_relaxed) == State::handshake)
      set(*e, State::idle);
  }
}

void ConnectionTable::on_message(int write_p, int, int, const void*, std::size_t, SSL* ssl, void*) {
  // A record read on an idle connection: the next request has begun, and its deadline runs.
  if (write_p) return;
  auto* e = entry_of(ssl);
  if (!e) return;
  const auto state = e->state.load(std::memory_order_relaxed);
  if (state == State::idle || (state == State::handshake && SSL_is_init_finished(ssl))) set(*e, State::request);
}

void ConnectionTable::on_free(void*, void* ptr, CRYPTO_EX_DATA*, int, long, void*) {
  if (auto* e = static_cast<Entry*>(ptr)) e->table->closed(e);
}

void ConnectionTable::opened(SSL* ssl) {
  Entry* e = nullptr;
  {
    std::lock_guard lock(mutex_);
    e = &entries_.emplace_back();
    e->self = std::prev(entries_.end());
    e->table = this;
    e->ssl = ssl;
    e->fd = SSL_get_fd(ssl);
    set(*e, State::handshake);
  }
  metrics_.connections(+1);
  SSL_set_ex_data(ssl, ssl_index(), e);
  serving = e;
}

void ConnectionTable::closed(Entry* e) {
  if (serving == e) serving = nullptr;
  if (e->in_flight) metrics_.in_flight(-1);  // a request that never got its answer
  metrics_.connections(-1);
  std::lock_guard lock(mutex_);
  entries_.erase(e->self);
}

void ConnectionTable::headers_read(const SSL* ssl) {
  auto* e = entry_of(ssl);
  if (!e) return;
  const auto state = e->state.load(std::memory_order_relaxed);
  if (state != State::request && state != State::closing) set(*e, State::request);
  e->started = Clock::now();
  if (!e->in_flight) metrics_.in_flight(+1);
  e->in_flight = true;
}

void ConnectionTable::handling(const SSL* ssl) {
  if (auto* e = entry_of(ssl); e && e->state.load(std::memory_order_relaxed) != State::closing)
    set(*e, State::handling);
}

void ConnectionTable::cork(const SSL* ssl) {
  auto* e = entry_of(ssl);
  if (!e || e->corked) return;
  set_cork(e->fd, true);
  e->corked = true;
}

std::chrono::nanoseconds ConnectionTable::answered(const SSL* ssl, bool close) {
  auto* e = entry_of(ssl);
  if (!e) return {};
  if (e->corked) set_cork(e->fd, false);
  e->corked = false;
  if (e->in_flight) metrics_.in_flight(-1);
  e->in_flight = false;
  if (e->state.load(std::memory_order_relaxed) == State::closing) {
    // already ending: the linger runs from the first refusal
  } else if (close) {
    // cpp-httplib 0.18.7 keeps reading a connection whatever the answer's Connection
    // header says, and would parse the unread body as the next request. close_notify and
    // FIN tell the client the connection is over; the watchdog shuts it after the linger.
    SSL_shutdown(e->ssl);
    ::shutdown(e->fd, SHUT_WR);
    set(*e, State::closing);
  } else {
    set(*e, State::idle);
  }
  e->served.store(true, std::memory_order_relaxed);
  return Clock::now() - e->started;
}

bool ConnectionTable::shed_oldest_idle() {
  std::lock_guard lock(mutex_);
  return shed_locked(Clock::now().time_since_epoch().count());
}

bool ConnectionTable::shed_locked(Clock::rep now) {
  const auto grace = std::chrono::duration_cast<Clock::duration>(grace_).count();
  // Lower is shed first: 0 ending, 1 never answered and past its grace, 2 working and idle.
  const auto rank = [&](const Entry& e) {
    if (e.state.load(std::memory_order_relaxed) == State::closing) return 0;
    return e.served.load(std::memory_order_relaxed) ? 2 : 1;
  };
  std::vector<const Entry*> passed;  // idle, but input is waiting: a request just arrived
  // A few candidates at most are passed over; the next is then shed regardless.
  constexpr std::size_t max_passed = 8;
  while (true) {
    Entry* victim = nullptr;
    bool in_grace = false;  // a new connection has not had its chance yet
    for (auto& e : entries_) {
      const auto state = e.state.load(std::memory_order_acquire);
      if (e.shut || (state != State::idle && state != State::handshake && state != State::closing)) continue;
      const int r = rank(e);
      // The grace runs from the connection's last step (its handshake began, its handshake
      // finished): a client making progress is not shed, one that stalls is.
      if (r == 1 && now - e.since.load(std::memory_order_relaxed) < grace) {
        in_grace = true;
        continue;
      }
      if (std::find(passed.begin(), passed.end(), &e) != passed.end()) continue;
      if (!victim || r < rank(*victim) ||
          (r == rank(*victim) &&
           e.since.load(std::memory_order_relaxed) < victim->since.load(std::memory_order_relaxed)))
        victim = &e;
    }
    if (!victim || (rank(*victim) == 2 && in_grace)) return false;
    pollfd p{victim->fd, POLLIN, 0};
    if (victim->state.load(std::memory_order_relaxed) == State::idle && passed.size() < max_passed &&
        ::poll(&p, 1, 0) > 0) {
      passed.push_back(victim);
      continue;
    }
    ::shutdown(victim->fd, SHUT_RDWR);
    victim->shut = true;
    metrics_.shed_idle();
    return true;
  }
}

void ConnectionTable::watch(std::stop_token stop) {
  // Ten checks a second: a deadline is kept to within a tenth of a second, and a connection
  // waiting for a thread gets one soon after a connection passes its grace.
  constexpr auto tick = std::chrono::milliseconds(100);
  const auto limit = std::chrono::duration_cast<Clock::duration>(deadline_).count();
  const auto linger = std::chrono::duration_cast<Clock::duration>(closing_linger).count();
  std::unique_lock lock(mutex_);
  while (!stop.stop_requested()) {
    wake_.wait_for(lock, stop, tick, [] { return false; });
    const auto now = Clock::now().time_since_epoch().count();
    for (auto& e : entries_) {
      if (e.shut) continue;
      const auto state = e.state.load(std::memory_order_acquire);
      const auto age = now - e.since.load(std::memory_order_relaxed);
      if (state == State::closing && age > linger) {
        ::shutdown(e.fd, SHUT_RDWR);
        e.shut = true;
      } else if ((state == State::handshake || state == State::request) && age > limit) {
        ::shutdown(e.fd, SHUT_RDWR);
        e.shut = true;
        metrics_.shed_deadline();
      }
    }
    // Connections waiting for a thread that shedding could not serve when they arrived;
    // those already shut down give their threads back shortly.
    std::size_t ending = 0;
    for (const auto& e : entries_) ending += e.shut ? 1u : 0u;
    for (auto want = waiting_.load(std::memory_order_relaxed); want > ending; --want)
      if (!shed_locked(now)) break;
  }
}

}  // namespace nodeboot::webhook
