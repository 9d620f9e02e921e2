#include "nodeboot/plugin/ipb/roll.hpp"

#include <algorithm>

namespace nodeboot::plugin::ipb {

Roll::Roll(std::vector<std::string> nodes, int max_unavailable, std::chrono::milliseconds soak,
           bool continue_on_failure)
    : pending_(nodes.begin(), nodes.end()),
      max_unavailable_(std::max(1, max_unavailable)),
      soak_(soak),
      continue_on_failure_(continue_on_failure) {}

std::vector<std::string> Roll::take_startable(Clock::time_point now) {
  std::erase_if(soaking_, [&](Clock::time_point until) { return until <= now; });
  std::vector<std::string> out;
  const auto busy = [&] { return in_flight_.size() + failed_.size() + soaking_.size(); };
  while (!stopped_ && !pending_.empty() && busy() < static_cast<std::size_t>(max_unavailable_)) {
    out.push_back(pending_.front());
    in_flight_.insert(pending_.front());
    pending_.pop_front();
  }
  return out;
}

void Roll::completed(const std::string& node, Clock::time_point now) {
  if (!in_flight_.erase(node)) return;
  done_.push_back(node);
  if (soak_.count() > 0) soaking_.push_back(now + soak_);
}

void Roll::failed(const std::string& node) {
  if (!in_flight_.erase(node)) return;
  failed_.push_back(node);
  if (!continue_on_failure_) stopped_ = true;
}

bool Roll::finished() const {
  if (!in_flight_.empty()) return false;
  if (stopped_ || pending_.empty()) return true;
  // Every slot is held by a failure: nothing can ever start again.
  return failed_.size() >= static_cast<std::size_t>(max_unavailable_);
}

std::optional<Roll::Clock::time_point> Roll::next_wakeup() const {
  if (soaking_.empty() || pending_.empty() || stopped_) return std::nullopt;
  return *std::min_element(soaking_.begin(), soaking_.end());
}

}  // namespace nodeboot::plugin::ipb
