#include "nodeboot/webhook/log.hpp"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <mutex>

#include "json.hpp"

namespace nodeboot::webhook {
namespace {

std::atomic<LogLevel> threshold{LogLevel::info};
std::mutex write_mutex;

std::string timestamp() {
  const auto now = std::chrono::system_clock::now();
  const auto t = std::chrono::system_clock::to_time_t(now);
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  char out[40];
  std::snprintf(out, sizeof out, "%s.%03dZ", buf, static_cast<int>(ms));
  return out;
}

}  // namespace

void set_log_level(LogLevel level) { threshold = level; }
bool log_enabled(LogLevel level) { return level >= threshold.load(std::memory_order_relaxed); }

void log(LogLevel level, std::string_view msg, std::initializer_list<LogField> fields) {
  if (!log_enabled(level)) return;
  std::string line = R"({"ts":")" + timestamp() + R"(","level":")";
  line += level == LogLevel::debug ? "debug" : level == LogLevel::info ? "info" : "error";
  line += R"(","msg":)";
  append_json_string(line, msg);
  for (const auto& [k, v] : fields) {
    line += ',';
    append_json_string(line, k);
    line += ':';
    append_json_string(line, v);
  }
  line += "}\n";
  std::lock_guard lock(write_mutex);
  std::fwrite(line.data(), 1, line.size(), stderr);
  std::fflush(stderr);
}

}  // namespace nodeboot::webhook
