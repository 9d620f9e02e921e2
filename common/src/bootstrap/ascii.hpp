#pragma once

// ASCII character classes for the Secret schema and URL checks: independent of the C
// locale, unlike <cctype>.

namespace nodeboot::bootstrap {

inline bool is_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); }
inline bool is_hex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

}  // namespace nodeboot::bootstrap
