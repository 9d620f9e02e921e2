#pragma once

// Sleeping that a stop request cuts short. Every thread that waits on a timer and is owned
// by an object (a std::jthread member) sleeps through here, so stopping it never waits out
// a backoff or a refresh period.

#include <chrono>
#include <stop_token>

namespace nodeboot {

// Sleeps for `d`; returns false, at once, when `stop` is (or becomes) requested.
bool sleep_for(const std::stop_token& stop, std::chrono::nanoseconds d);

// Sleeps until `t`; returns false, at once, when `stop` is (or becomes) requested.
// time_point::max() waits for the stop request alone.
bool sleep_until(const std::stop_token& stop, std::chrono::steady_clock::time_point t);
bool sleep_until(const std::stop_token& stop, std::chrono::system_clock::time_point t);

}  // namespace nodeboot
