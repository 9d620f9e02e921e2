#pragma once

// Small helpers over simdjson On-Demand and for writing JSON by hand (the webhook's
// responses are a few fixed shapes, so building them as strings avoids a DOM).

#include <simdjson.h>

#include <string>
#include <string_view>

namespace nodeboot::webhook {

// One On-Demand parser per thread, reused across requests (it keeps its buffers).
simdjson::ondemand::parser& thread_parser();
// Gives this thread's parser buffers back (they grow to the largest document it read).
void release_thread_parser();

// These return true on error (wrong type, invalid JSON) so call sites read `if (bad)`.
bool is_null(simdjson::ondemand::value& v);
bool read_string(simdjson::ondemand::value& v, std::string& out);                                  // null → ""
bool read_member_string(simdjson::ondemand::value& v, std::string_view member, std::string& out);  // {member: "..."}
bool read_raw_object(simdjson::ondemand::value& v, std::string_view& out);                         // null → ""

// A member that is an object or null: fn(object) for an object (true from it is an error),
// nothing for null; anything else is an error.
template <typename Fn>
bool read_object_or_null(simdjson::ondemand::value& v, Fn&& fn) {
  simdjson::ondemand::json_type type;
  if (v.type().get(type)) return true;
  if (type == simdjson::ondemand::json_type::null) return false;
  simdjson::ondemand::object obj;
  if (v.get_object().get(obj)) return true;
  return fn(obj);
}

// `text` as a JSON string, quotes included.
void append_json_string(std::string& out, std::string_view text);

}  // namespace nodeboot::webhook
