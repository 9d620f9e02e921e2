#pragma once

// The rolling schedule of `start --max-unavailable N --soak D`: which node to start next.
// Pure bookkeeping driven by the caller's clock, so it is unit-tested without a cluster.
//
// A node is out of service from its cordon until `finish` uncordons it. A node that
// failed stays cordoned (for `retry` or `abort`) and so keeps its slot: the budget counts
// unavailable nodes, failed ones included. The first failure stops the roll unless
// continue_on_failure; a stopped roll starts nothing more but waits for the nodes in flight.

#include <chrono>
#include <deque>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace nodeboot::plugin::ipb {

class Roll {
 public:
  using Clock = std::chrono::steady_clock;

  Roll(std::vector<std::string> nodes, int max_unavailable, std::chrono::milliseconds soak, bool continue_on_failure);

  // The nodes to start now; they count as in flight from here on.
  std::vector<std::string> take_startable(Clock::time_point now);
  void completed(const std::string& node, Clock::time_point now);
  void failed(const std::string& node);

  bool finished() const;  // nothing in flight, and nothing more will start
  bool stopped() const noexcept { return stopped_; }
  // When a soak ends and take_startable may return more (nullopt: no soak pending).
  std::optional<Clock::time_point> next_wakeup() const;

  const std::set<std::string>& in_flight() const noexcept { return in_flight_; }
  const std::vector<std::string>& done() const noexcept { return done_; }
  const std::vector<std::string>& failures() const noexcept { return failed_; }
  std::vector<std::string> not_started() const { return {pending_.begin(), pending_.end()}; }

 private:
  std::deque<std::string> pending_;
  std::set<std::string> in_flight_;
  std::vector<std::string> done_, failed_;
  std::vector<Clock::time_point> soaking_;  // slots freed by completions, usable once the soak ends
  int max_unavailable_;
  std::chrono::milliseconds soak_;
  bool continue_on_failure_;
  bool stopped_ = false;
};

}  // namespace nodeboot::plugin::ipb
