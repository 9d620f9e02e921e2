#include "nodeboot/util/duration.hpp"

#include <cstdint>
#include <ctime>
#include <limits>

namespace nodeboot {

namespace {

// Go's units (time.ParseDuration) in nanoseconds.
struct Unit {
  std::string_view name;
  std::int64_t ns;
};
constexpr Unit units[] = {{"ns", 1},          {"us", 1'000},        {"\u00b5s", 1'000},  // U+00B5 micro sign
                          {"\u03bcs", 1'000},                                            // U+03BC Greek mu
                          {"ms", 1'000'000},  {"s", 1'000'000'000}, {"m", 60'000'000'000}, {"h", 3'600'000'000'000}};
constexpr std::int64_t max_ns = std::numeric_limits<std::int64_t>::max();

bool digit(char c) { return c >= '0' && c <= '9'; }

// Go's grammar without the sign: ([0-9]*(\.[0-9]*)?unit)+ or "0". Nanoseconds, nullopt
// when it is not one or does not fit in Go's int64 nanoseconds (about 292 years).
std::optional<std::int64_t> go_duration_ns(std::string_view text) {
  if (text == "0") return 0;
  if (text.empty()) return std::nullopt;
  std::int64_t total = 0;
  while (!text.empty()) {
    std::int64_t whole = 0;  // the digits before the point
    std::size_t i = 0;
    for (; i < text.size() && digit(text[i]); ++i) {
      if (whole > (max_ns - 9) / 10) return std::nullopt;
      whole = whole * 10 + (text[i] - '0');
    }
    const bool had_whole = i > 0;
    std::int64_t fraction = 0, scale = 1;  // the digits after it, as fraction / scale
    bool had_fraction = false;
    if (i < text.size() && text[i] == '.') {
      for (++i; i < text.size() && digit(text[i]); ++i) {
        had_fraction = true;
        if (scale > max_ns / 10) continue;  // beyond nanoseconds' precision: dropped, as Go does
        fraction = fraction * 10 + (text[i] - '0');
        scale *= 10;
      }
    }
    if (!had_whole && !had_fraction) return std::nullopt;
    text.remove_prefix(i);
    std::size_t u = 0;
    while (u < text.size() && !digit(text[u]) && text[u] != '.') ++u;
    const auto name = text.substr(0, u);
    const Unit* unit = nullptr;
    for (const auto& candidate : units)
      if (candidate.name == name) unit = &candidate;
    if (!unit) return std::nullopt;
    text.remove_prefix(u);
    if (whole > max_ns / unit->ns) return std::nullopt;
    std::int64_t ns = whole * unit->ns;
    // fraction / scale of the unit, truncated like Go's; long double keeps 64 bits of mantissa.
    ns += static_cast<std::int64_t>(static_cast<long double>(fraction) * static_cast<long double>(unit->ns) /
                                    static_cast<long double>(scale));
    if (ns < 0 || total > max_ns - ns) return std::nullopt;
    total += ns;
  }
  return total;
}

}  // namespace

Result<std::chrono::milliseconds> parse_duration(std::string_view text, std::string_view flag) {
  const auto quoted = std::string(flag) + ": \"" + std::string(text) + "\" ";
  if (text.starts_with('-'))
    return fail(ErrorKind::invalid_input, quoted + "is negative; give a duration of zero or more, e.g. 30s");
  if (text.starts_with('+')) text.remove_prefix(1);
  // A bare number is seconds (kubectl's --request-timeout=5, --timeout=0).
  const bool bare = !text.empty() && text.find_first_not_of("0123456789") == std::string_view::npos;
  const auto ns = bare ? go_duration_ns(std::string(text) + "s") : go_duration_ns(text);
  if (!ns)
    return fail(ErrorKind::invalid_input,
                quoted + "is not a duration; use a number with a unit, e.g. 30s, 5m, 1h30m, 1.5h, 500ms");
  // Whole milliseconds, rounded up: 500us must not become 0, which means "no limit" to some flags.
  return std::chrono::milliseconds(*ns / 1'000'000 + (*ns % 1'000'000 != 0 ? 1 : 0));
}

std::string format_duration(std::chrono::milliseconds d) {
  using namespace std::chrono;
  if (d.count() == 0) return "0s";
  if (d < seconds(1)) return std::to_string(d.count()) + "ms";
  std::string out;
  auto s = duration_cast<seconds>(d).count();
  if (s >= 3600) out += std::to_string(s / 3600) + "h", s %= 3600;
  if (s >= 60) out += std::to_string(s / 60) + "m", s %= 60;
  if (s || out.empty()) out += std::to_string(s) + "s";
  return out;
}

}  // namespace nodeboot

namespace nodeboot {

std::string rfc3339_now() { return format_rfc3339(std::chrono::system_clock::now()); }

std::string format_rfc3339(std::chrono::system_clock::time_point when) {
  const std::time_t t = std::chrono::system_clock::to_time_t(when);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::optional<std::chrono::system_clock::time_point> parse_rfc3339(std::string_view text) {
  std::tm tm{};
  const std::string s(text);
  const char* end = strptime(s.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  if (!end) return std::nullopt;
  return std::chrono::system_clock::from_time_t(timegm(&tm));
}

std::string format_age(std::chrono::system_clock::duration age) {
  using namespace std::chrono;
  const auto s = std::max<long long>(0, duration_cast<seconds>(age).count());
  if (s < 120) return std::to_string(s) + "s";
  if (s < 2LL * 3600) return std::to_string(s / 60) + "m";
  if (s < 2LL * 86400) return std::to_string(s / 3600) + "h";
  return std::to_string(s / 86400) + "d";
}

}  // namespace nodeboot
