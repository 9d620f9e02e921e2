#pragma once

// Go's duration syntax (time.ParseDuration), as kubectl flags take it: "90s", "1m30s",
// "1.5h", "500ms", "250us", "0". A bare number is seconds (kubectl's --request-timeout=5
// and --timeout=0 habits). Negative durations are refused: no flag here wants one.

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "nodeboot/util/result.hpp"

namespace nodeboot {

// `flag` names the flag in the error ("--soak: ..."). Held in whole milliseconds, a
// remainder rounded up (so that 500us is not 0, which some flags read as "no limit").
Result<std::chrono::milliseconds> parse_duration(std::string_view text, std::string_view flag);

// The short form back: "1m30s", "500ms", "0s".
std::string format_duration(std::chrono::milliseconds d);

}  // namespace nodeboot

namespace nodeboot {

// UTC now as RFC 3339 with seconds ("2026-11-23T11:20:00Z"), as Kubernetes timestamps.
std::string rfc3339_now();
std::string format_rfc3339(std::chrono::system_clock::time_point when);

// Seconds since the epoch of an RFC 3339 UTC timestamp ("…Z"); nullopt when it is not one.
std::optional<std::chrono::system_clock::time_point> parse_rfc3339(std::string_view text);

// kubectl's AGE column: "45s", "12m", "3h", "5d".
std::string format_age(std::chrono::system_clock::duration age);

}  // namespace nodeboot
