#include "connections.hpp"

#include <fcntl.h>
#include <openssl/err.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>

#include "nodeboot/util/sleep.hpp"

namespace nodeboot::webhook {
namespace {

// After an in-band refusal the answer and close_notify are on their way; a second later the
// client has read them, and the connection's unread input is dropped with it.
constexpr auto closing_linger = std::chrono::seconds(1);
// Ten checks a second: a deadline is kept to within a tenth of a second.
constexpr auto tick = std::chrono::milliseconds(100);
// Worker threads above `spare` end after this long without work. An idle worker waits on
// the epoll set that long: a stop wakes it at once through the stop event, so an idle
// webhook's workers no longer wake ten times a second each to look for one.
constexpr auto idle_retire = std::chrono::seconds(30);
// The epoll event of the stop eventfd (connection ids start at 1).
constexpr std::uint64_t stop_event = 0;
constexpr std::size_t spare = 4;
// Workers waiting on the epoll set for input at once; the others idle on a condition
// variable until one of these takes input (or a stop). Input then goes round a few threads
// whose stacks, buffers and decoder stay in cache, however many a burst or a flood of slow
// clients made: at 2,000 req/s, after a saturating burst, 25 workers all waiting on the set
// took 85-97 us of CPU per review and a p99 above nginx's; four took 77-87 us and a p99
// 10-20 % below nginx's (bench/webhook's load, four alternated rounds, session 29).
constexpr std::size_t hot_waiters = 4;
// Above this many connections held (a flood: the API servers keep about 25 each), a client
// that has had an answer keeps its worker for up to `busy_client_wait`, for its next
// request, so the flood's events on the epoll set cannot queue ahead of it. With fewer, a
// worker parks a connection whose next request is not already there (see serve()).
constexpr std::size_t crowded = 256;
constexpr auto busy_client_wait = std::chrono::milliseconds(100);

// The connection this worker serves, for the handlers' hooks (they see cpp-httplib's
// Request, which has no room for ours, and an unreadable head has no Request::ssl yet).
thread_local void* serving = nullptr;

void set_nonblocking(int fd, bool on) {
  const int flags = ::fcntl(fd, F_GETFL);
  ::fcntl(fd, F_SETFL, on ? (flags | O_NONBLOCK) : (flags & ~O_NONBLOCK));
}

bool readable_within(int fd, std::chrono::milliseconds wait) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, static_cast<int>(wait.count())) > 0;
}

}  // namespace

Connections::Connections(ConnectionLimits limits, Metrics& metrics) : limits_(limits), metrics_(metrics) {
  workers_.reserve(limits_.max_workers);
}

Connections::~Connections() { stop(); }

void Connections::start(SSL_CTX& ctx, RequestRunner run) {
  ctx_ = &ctx;
  run_ = std::move(run);
  epoll_ = ::epoll_create1(EPOLL_CLOEXEC);
  // Level-triggered: once written, every worker's wait returns at once and sees the stop.
  stop_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  epoll_event stop_ev{};
  stop_ev.events = EPOLLIN;
  stop_ev.data.u64 = stop_event;
  ::epoll_ctl(epoll_, EPOLL_CTL_ADD, stop_fd_, &stop_ev);
  {
    std::lock_guard lock(mutex_);
    spawn_locked();
  }
  watchdog_ = std::jthread([this](const std::stop_token& stop) { watch(stop); });
}

void Connections::stop() {
  if (!watchdog_.joinable()) return;
  {
    std::unique_lock lock(mutex_);
    stopping_ = true;
    // Idle and silent connections are closed now; the ones at work finish their request
    // and are closed when they would park (a dribbler at its deadline: the watchdog runs
    // until they are done).
    for (auto it = conns_.begin(); it != conns_.end();) {
      auto& c = it->second;
      ++it;
      if (c.parked) free_locked(c);
    }
    drained_.wait(lock, [&] { return busy_ == 0; });
  }
  watchdog_.request_stop();
  watchdog_.join();
  // Every waiting worker wakes on the stop event and sees stopping_; idle ones on cold_cv_.
  {
    std::lock_guard lock(mutex_);
    cold_cv_.notify_all();
  }
  const std::uint64_t one = 1;
  if (::write(stop_fd_, &one, sizeof one) != sizeof one) {
    // An eventfd's counter only fails to take 1 at 2^64 - 2: not reachable.
  }
  for (auto& w : workers_) w.thread = {};
  ::close(stop_fd_);
  ::close(epoll_);
}

void Connections::adopt(int fd) {
  set_nonblocking(fd, true);  // for the handshake; requests are read blocking
  std::lock_guard lock(mutex_);
  if (stopping_ || (conns_.size() >= limits_.max_connections && !shed_locked())) {
    metrics_.refused();
    ::close(fd);
    return;
  }
  const auto id = next_id_++;
  auto& c = conns_[id];
  c.owner = this;
  c.id = id;
  c.fd = fd;
  c.since.store(Clock::now().time_since_epoch().count(), std::memory_order_relaxed);
  c.parked = true;
  if (!arm_locked(c, EPOLL_CTL_ADD)) {
    conns_.erase(id);
    ::close(fd);
    return;
  }
  shelve_locked(c);
  metrics_.connections(+1);
  held_.fetch_add(1, std::memory_order_relaxed);
}

void Connections::watch(const std::stop_token& stop) {
  while (sleep_for(stop, tick)) {
    std::lock_guard lock(mutex_);
    sweep_locked(Clock::now());
  }
}

void Connections::spawn_locked() {
  std::size_t slot = 0;
  while (slot < workers_.size() && !workers_[slot].done) ++slot;
  if (slot == workers_.size()) workers_.emplace_back();
  auto& w = workers_[slot];
  w.thread = {};  // a retired worker's thread has ended (or is ending): join it
  w.done = false;
  ++live_;
  waiting_.fetch_add(1);  // counted as waiting from now, so one event starts one thread
  w.thread = std::jthread([this, slot] { work(slot); });
}

Connections::Conn* Connections::take(std::uint64_t id) {
  std::lock_guard lock(mutex_);
  // The last waiting worker calls an idle one to the epoll set (or starts another), so input
  // is always noticed while threads remain.
  if (waiting_.load() + called_ == 0 && !stopping_) {
    if (cold_ > called_) {
      ++called_;
      cold_cv_.notify_one();
    } else if (live_ < limits_.max_workers) {
      spawn_locked();
    }
  }
  const auto it = conns_.find(id);
  if (it == conns_.end() || !it->second.parked) return nullptr;  // freed since (ids are not reused)
  auto& c = it->second;
  if (c.phase.load(std::memory_order_relaxed) == Phase::closing) {
    // Input after a refusal is dropped unread; the end of input ends the linger early.
    std::array<char, 16384> sink{};
    ssize_t got = 0;
    while ((got = ::recv(c.fd, sink.data(), sink.size(), MSG_DONTWAIT)) > 0) {
    }
    if (got == 0 || (errno != EAGAIN && errno != EWOULDBLOCK) || !arm_locked(c, EPOLL_CTL_MOD)) free_locked(c);
    return nullptr;
  }
  unshelve_locked(c);
  c.parked = false;
  ++busy_;
  return &c;
}

bool Connections::await_turn(Clock::time_point last_work) {
  std::unique_lock lock(mutex_);
  while (!stopping_ && waiting_.load() >= hot_waiters) {
    ++cold_;
    const bool called = cold_cv_.wait_until(lock, last_work + idle_retire, [&] { return stopping_ || called_ > 0; });
    --cold_;
    if (stopping_) return false;
    if (called) {
      --called_;
      break;  // a waiter took input: this one takes its place
    }
    if (live_ > spare) return false;  // idle for idle_retire: retire
    last_work = Clock::now();
  }
  if (stopping_) return false;
  waiting_.fetch_add(1);
  return true;
}

void Connections::work(std::size_t slot) {
  auto last_work = Clock::now();
  bool counted = true;  // spawn_locked counted this thread as waiting
  while (true) {
    if (!counted && !await_turn(last_work)) break;
    counted = false;
    epoll_event ev{};
    const int n = ::epoll_wait(epoll_, &ev, 1, static_cast<int>(std::chrono::milliseconds(idle_retire).count()));
    waiting_.fetch_sub(1);
    if (n == 1 && ev.data.u64 != stop_event) {
      if (Conn* c = take(ev.data.u64)) serve(*c);
      last_work = Clock::now();
      continue;
    }
    std::lock_guard lock(mutex_);
    // A worker retires only while another waits, so input is always noticed.
    if (stopping_ || (Clock::now() - last_work >= idle_retire && live_ > spare && waiting_.load() > 0)) break;
  }
  {
    std::lock_guard lock(mutex_);
    --live_;
    workers_[slot].done = true;
  }
  OPENSSL_thread_stop();  // this thread's OpenSSL state (error queue, caches)
}

void Connections::serve(Conn& c) {
  serving = &c;
  if (c.phase.load(std::memory_order_relaxed) == Phase::handshake && !handshake(c)) {
    serving = nullptr;
    return;
  }
  while (true) {
    // The next request, if it is already here, is served at once; otherwise the connection
    // waits on the epoll set and this worker takes whatever input comes next. (Holding a
    // served connection's worker for 100 ms, for its next request, kept a thread per busy
    // connection: at 2,000 req/s on 20 connections, 20 threads took turns and each found its
    // caches cold.) In a flood, a client that has had an answer keeps its worker instead.
    const bool keep = c.served.load(std::memory_order_relaxed) && held_.load(std::memory_order_relaxed) > crowded;
    if (SSL_has_pending(c.ssl) == 0 && !readable_within(c.fd, keep ? busy_client_wait : std::chrono::milliseconds(0))) {
      park(c);
      break;
    }
    set_phase(c, Phase::request);
    if (!run_(*c.ssl, c.fd, c.peer)) {
      close(c);
      break;
    }
    if (c.phase.load(std::memory_order_relaxed) == Phase::closing) {
      park(c);
      break;
    }
  }
  serving = nullptr;
}

bool Connections::handshake(Conn& c) {
  if (!c.ssl) {
    c.ssl = SSL_new(ctx_);
    if (!c.ssl || SSL_set_fd(c.ssl, c.fd) != 1) {
      close(c);
      return false;
    }
    SSL_set_accept_state(c.ssl);
  }
  while (true) {
    ERR_clear_error();
    const int result = SSL_do_handshake(c.ssl);
    if (result == 1) break;
    const int error = SSL_get_error(c.ssl, result);
    if (error == SSL_ERROR_WANT_READ) {
      park(c);  // the rest of the client's flight comes later, maybe never: no thread waits
      return false;
    }
    pollfd p{c.fd, POLLOUT, 0};
    if (error != SSL_ERROR_WANT_WRITE || ::poll(&p, 1, static_cast<int>(limits_.deadline.count())) <= 0) {
      close(c);  // a failed handshake (OpenSSL has counted it), or a client not reading
      return false;
    }
  }
  set_nonblocking(c.fd, false);  // cpp-httplib's stream reads and writes block, with timeouts
  set_phase(c, Phase::idle);
  return true;
}

void Connections::park(Conn& c) {
  std::lock_guard lock(mutex_);
  release_locked();
  if (stopping_ || c.shut) {
    free_locked(c);
    return;
  }
  c.parked = true;
  shelve_locked(c);
  if (!arm_locked(c, EPOLL_CTL_MOD)) free_locked(c);
}

void Connections::close(Conn& c) {
  std::lock_guard lock(mutex_);
  release_locked();
  free_locked(c);
}

void Connections::release_locked() {
  --busy_;
  if (busy_ == 0) drained_.notify_all();
}

bool Connections::arm_locked(const Conn& c, int op) const {
  // One-shot: the next input goes to one worker, and the connection is off the set until
  // it is armed again. The id, not the address: an event for a freed connection is dropped.
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLONESHOT;
  ev.data.u64 = c.id;
  return ::epoll_ctl(epoll_, op, c.fd, &ev) == 0;
}

void Connections::free_locked(Conn& c) {
  if (c.parked) {
    ::epoll_ctl(epoll_, EPOLL_CTL_DEL, c.fd, nullptr);
    unshelve_locked(c);
  }
  if (c.ssl) {
    if (c.phase.load(std::memory_order_relaxed) == Phase::idle && !c.shut) {
      // close_notify to a client we drop (keep-alive timeout, shed, stop); never waits.
      set_nonblocking(c.fd, true);
      SSL_shutdown(c.ssl);
    }
    SSL_free(c.ssl);
  }
  ::close(c.fd);
  if (c.in_flight) metrics_.in_flight(-1);  // a request that never got its answer
  metrics_.connections(-1);
  held_.fetch_sub(1, std::memory_order_relaxed);
  conns_.erase(c.id);
}

Connections::Shelf Connections::shelf_of(const Conn& c) {
  switch (c.phase.load(std::memory_order_relaxed)) {
    case Phase::closing:
      return Shelf::closing;
    case Phase::handshake:
      return c.ssl ? Shelf::handshaking : Shelf::silent;
    default:
      return c.served.load(std::memory_order_relaxed) ? Shelf::idle : Shelf::unused;
  }
}

void Connections::shelve_locked(Conn& c) {
  c.shelf = shelf_of(c);
  auto& shelf = shelves_[static_cast<std::size_t>(c.shelf)];
  c.shelf_pos = shelf.insert(shelf.end(), &c);
}

void Connections::unshelve_locked(Conn& c) {
  if (c.shelf == Shelf::count) return;
  shelves_[static_cast<std::size_t>(c.shelf)].erase(c.shelf_pos);
  c.shelf = Shelf::count;
}

bool Connections::shed_locked() {
  // The cheapest to lose first: a connection already ending, one that has sent nothing yet
  // (a silent TCP connection costs the client nothing to replace, and a fresh client's is
  // the newest of these), one never used for a request after its handshake, one in the
  // middle of its handshake (a client about to send its request; a slow one has the
  // deadline), then the idle one unused longest (the API server reconnects). Oldest first
  // within each.
  for (auto& shelf : shelves_) {
    if (shelf.empty()) continue;
    free_locked(*shelf.front());
    metrics_.shed_idle();
    return true;
  }
  return false;  // every connection is at work
}

void Connections::sweep_locked(Clock::time_point now) {
  for (auto it = conns_.begin(); it != conns_.end();) {
    auto& c = it->second;
    ++it;  // free_locked erases c
    const auto phase = c.phase.load(std::memory_order_acquire);
    const auto age = now - Clock::time_point(Clock::duration(c.since.load(std::memory_order_relaxed)));
    switch (phase) {
      case Phase::handshake:
      case Phase::request:
        if (age <= limits_.deadline || c.shut) break;
        metrics_.shed_deadline();
        if (c.parked) {
          free_locked(c);
        } else {
          ::shutdown(c.fd, SHUT_RDWR);  // its worker wakes, fails to read, and closes it
          c.shut = true;
        }
        break;
      case Phase::idle:
        if (c.parked && age > limits_.keep_alive) free_locked(c);
        break;
      case Phase::closing:
        if (c.parked && age > closing_linger) free_locked(c);
        break;
      case Phase::handling:
        break;
    }
  }
}

void Connections::set_phase(Conn& c, Phase phase) {
  c.since.store(Clock::now().time_since_epoch().count(), std::memory_order_relaxed);
  c.phase.store(phase, std::memory_order_release);
}

void Connections::headers_read() {
  auto* c = static_cast<Conn*>(serving);
  if (!c) return;
  c->started = Clock::now();
  if (!c->in_flight) c->owner->metrics_.in_flight(+1);
  c->in_flight = true;
}

void Connections::handling() {
  auto* c = static_cast<Conn*>(serving);
  if (c && c->phase.load(std::memory_order_relaxed) != Phase::closing) set_phase(*c, Phase::handling);
}

std::chrono::nanoseconds Connections::answered(bool close) {
  auto* c = static_cast<Conn*>(serving);
  if (!c) return {};
  if (c->in_flight) c->owner->metrics_.in_flight(-1);
  c->in_flight = false;
  c->served.store(true, std::memory_order_relaxed);
  if (c->phase.load(std::memory_order_relaxed) == Phase::closing) {
    // already ending: the linger runs from the first refusal
  } else if (close) {
    // The body stays unread, so the connection's input is not a request boundary any more:
    // close_notify and FIN tell the client the connection is over, and it is closed after
    // the linger.
    SSL_shutdown(c->ssl);
    ::shutdown(c->fd, SHUT_WR);
    set_phase(*c, Phase::closing);
  } else {
    set_phase(*c, Phase::idle);
  }
  return c->started == Clock::time_point{} ? std::chrono::nanoseconds{} : Clock::now() - c->started;
}

}  // namespace nodeboot::webhook
