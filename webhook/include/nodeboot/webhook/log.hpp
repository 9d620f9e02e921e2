#pragma once

// Structured logs: one JSON object per line on stderr, {"ts","level","msg",...fields}.
// Fields are plain strings; callers never pass Secret contents (nodeboot::Secret cannot
// convert to one).

#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

namespace nodeboot::webhook {

enum class LogLevel { debug, info, error };

using LogField = std::pair<std::string_view, std::string>;

void set_log_level(LogLevel level);
bool log_enabled(LogLevel level);
void log(LogLevel level, std::string_view msg, std::initializer_list<LogField> fields = {});
inline void log_debug(std::string_view msg, std::initializer_list<LogField> fields = {}) {
  log(LogLevel::debug, msg, fields);
}
inline void log_info(std::string_view msg, std::initializer_list<LogField> fields = {}) {
  log(LogLevel::info, msg, fields);
}
inline void log_error(std::string_view msg, std::initializer_list<LogField> fields = {}) {
  log(LogLevel::error, msg, fields);
}

}  // namespace nodeboot::webhook
