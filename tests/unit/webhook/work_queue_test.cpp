// The controllers' work queue (controller/runtime.hpp): keys de-duplicated, several workers
// at once but never two on one key, a key added while it is reconciled done once more
// afterwards, a failed key retried. Waits are on conditions, with generous limits only as
// a guard against a hang.
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <string>

#include "nodeboot/webhook/controller/runtime.hpp"

namespace ctl = nodeboot::webhook::controller;
using namespace std::chrono_literals;

namespace {

// What the reconciles did, and a way to hold them until released.
struct Probe {
  std::mutex mu;
  std::condition_variable changed;
  std::map<std::string, int> active;  // reconciles running now, per key
  std::map<std::string, int> runs;    // reconciles finished, per key
  int most_at_once = 0;               // keys being reconciled at the same moment, at most
  bool overlap = false;               // two workers on one key
  bool hold = false;                  // reconciles wait while set

  bool reconcile(const std::string& key) {
    std::unique_lock lock(mu);
    if (++active[key] > 1) overlap = true;
    int now = 0;
    for (const auto& [k, n] : active) now += n;
    most_at_once = std::max(most_at_once, now);
    changed.notify_all();
    changed.wait_for(lock, 20s, [&] { return !hold; });
    --active[key];
    ++runs[key];
    changed.notify_all();
    return true;
  }
  template <typename Pred>
  bool wait(Pred pred) {
    std::unique_lock lock(mu);
    return changed.wait_for(lock, 20s, [&] { return pred(); });
  }
  int running() {
    int n = 0;
    for (const auto& [k, a] : active) n += a;
    return n;
  }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(work_queue)

BOOST_AUTO_TEST_CASE(several_workers_take_different_keys_at_once) {
  Probe p;
  p.hold = true;
  ctl::WorkQueue q([&](const std::string& k) { return p.reconcile(k); }, 4);
  q.start();
  for (const char* k : {"a", "b", "c", "d", "e"}) q.add(k);
  // Four run at once (the fifth waits for a worker), then all finish once released.
  BOOST_TEST(p.wait([&] { return p.running() == 4; }));
  {
    std::lock_guard lock(p.mu);
    p.hold = false;
  }
  p.changed.notify_all();
  BOOST_TEST(p.wait([&] { return p.runs.size() == 5; }));
  q.stop();
  BOOST_TEST(p.most_at_once == 4);
  BOOST_TEST(!p.overlap);
  for (const auto& [k, n] : p.runs) BOOST_TEST(n == 1, k);
}

BOOST_AUTO_TEST_CASE(a_key_added_while_it_is_reconciled_runs_again_after_never_beside) {
  Probe p;
  p.hold = true;
  ctl::WorkQueue q([&](const std::string& k) { return p.reconcile(k); }, 4);
  q.start();
  q.add("a");
  BOOST_TEST(p.wait([&] { return p.running() == 1; }));
  // Three more adds while "a" is on a worker: queued once, and not given to an idle worker.
  for (int i = 0; i < 3; ++i) q.add("a");
  q.add("b");
  BOOST_TEST(p.wait([&] { return p.runs["b"] == 0 && p.active["b"] == 1; }));
  {
    std::lock_guard lock(p.mu);
    BOOST_TEST(p.active["a"] == 1);
    p.hold = false;
  }
  p.changed.notify_all();
  BOOST_TEST(p.wait([&] { return p.runs["a"] == 2 && p.runs["b"] == 1 && p.running() == 0; }));
  q.stop();
  BOOST_TEST(!p.overlap);
  BOOST_TEST(p.runs["a"] == 2);  // the three adds made one more run, after the first
}

BOOST_AUTO_TEST_CASE(a_failed_key_is_retried) {
  std::mutex mu;
  std::condition_variable done;
  int calls = 0;
  ctl::WorkQueue q(
      [&](const std::string&) {
        std::lock_guard lock(mu);
        ++calls;
        done.notify_all();
        return calls > 1;  // fails the first time
      },
      2);
  q.start();
  q.add("a");
  std::unique_lock lock(mu);
  BOOST_TEST(done.wait_for(lock, 20s, [&] { return calls == 2; }));  // after the 1 s backoff
  lock.unlock();
  q.stop();
}

BOOST_AUTO_TEST_SUITE_END()
