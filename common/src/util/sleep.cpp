#include "nodeboot/util/sleep.hpp"

#include <condition_variable>
#include <mutex>

namespace nodeboot {
namespace {

template <typename TimePoint>
bool sleep_until_impl(const std::stop_token& stop, TimePoint t) {
  // Nothing notifies this condition variable: only the stop request or the time ends the wait.
  std::mutex m;
  std::condition_variable_any cv;
  std::unique_lock lock(m);
  if (t == TimePoint::max())
    cv.wait(lock, stop, [] { return false; });  // a timed wait to max() would overflow
  else
    cv.wait_until(lock, stop, t, [] { return false; });
  return !stop.stop_requested();
}

}  // namespace

bool sleep_for(const std::stop_token& stop, std::chrono::nanoseconds d) {
  return sleep_until_impl(stop, std::chrono::steady_clock::now() + d);
}

bool sleep_until(const std::stop_token& stop, std::chrono::steady_clock::time_point t) {
  return sleep_until_impl(stop, t);
}

bool sleep_until(const std::stop_token& stop, std::chrono::system_clock::time_point t) {
  return sleep_until_impl(stop, t);
}

}  // namespace nodeboot
