#include "nodeboot/util/duration.hpp"

#include <cctype>
#include <ctime>

namespace nodeboot {

Result<std::chrono::milliseconds> parse_duration(std::string_view text, std::string_view flag) {
  auto bad = [&] {
    return fail(ErrorKind::invalid_input, std::string(flag) + ": \"" + std::string(text) +
                                              "\" is not a duration; use a number with a unit, e.g. 30s, 5m, 1h30m, 500ms");
  };
  if (text.empty()) return bad();
  if (text.find_first_not_of("0123456789") == std::string_view::npos) {
    if (text.size() > 9) return bad();  // more than 31 years of seconds is a typo
    return std::chrono::seconds(std::stoll(std::string(text)));
  }
  std::chrono::milliseconds total{0};
  std::size_t i = 0;
  while (i < text.size()) {
    std::size_t j = i;
    while (j < text.size() && std::isdigit(static_cast<unsigned char>(text[j]))) ++j;
    if (j == i || j - i > 9) return bad();
    const long long n = std::stoll(std::string(text.substr(i, j - i)));
    std::size_t k = j;
    while (k < text.size() && std::isalpha(static_cast<unsigned char>(text[k]))) ++k;
    const std::string_view unit = text.substr(j, k - j);
    if (unit == "ms") total += std::chrono::milliseconds(n);
    else if (unit == "s") total += std::chrono::seconds(n);
    else if (unit == "m") total += std::chrono::minutes(n);
    else if (unit == "h") total += std::chrono::hours(n);
    else return bad();
    i = k;
  }
  return total;
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

std::string rfc3339_now() {
  const std::time_t t = std::time(nullptr);
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
  if (s < 2 * 3600) return std::to_string(s / 60) + "m";
  if (s < 2 * 86400) return std::to_string(s / 3600) + "h";
  return std::to_string(s / 86400) + "d";
}

}  // namespace nodeboot
