#include "nodeboot/util/file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <system_error>

namespace nodeboot {
namespace {

std::unexpected<Error> cannot_read(const std::filesystem::path& path, int error) {
  return fail(ErrorKind::io, "cannot read " + path.string() + ": " + std::generic_category().message(error));
}

// unicode.IsSpace beyond ASCII, in UTF-8: U+0085, U+00A0, U+1680, U+2000..U+200A, U+2028,
// U+2029, U+202F, U+205F, U+3000.
constexpr std::array<std::string_view, 19> wide_spaces{
    "\u0085", "\u00a0", "\u1680", "\u2000", "\u2001", "\u2002", "\u2003", "\u2004", "\u2005", "\u2006",
    "\u2007", "\u2008", "\u2009", "\u200a", "\u2028", "\u2029", "\u202f", "\u205f", "\u3000"};

bool ascii_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'; }

// How many bytes of white space `text` starts (front) or ends (!front) with: one rune's.
std::size_t space_at(std::string_view text, bool front) {
  if (text.empty()) return 0;
  if (ascii_space(front ? text.front() : text.back())) return 1;
  auto matches = [&](std::string_view w) { return front ? text.starts_with(w) : text.ends_with(w); };
  for (const auto w : wide_spaces)
    if (matches(w)) return w.size();
  return 0;
}

}  // namespace

Result<std::string> read_file(const std::filesystem::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return cannot_read(path, errno);
  std::string out;
  struct stat st {};
  // One allocation for a regular file (no stray copies of a key in freed memory); /proc
  // files report 0 and grow as read.
  if (::fstat(fd, &st) == 0 && st.st_size > 0) out.reserve(static_cast<std::size_t>(st.st_size));
  std::array<char, 65536> buf{};
  for (;;) {
    const ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n > 0) {
      out.append(buf.data(), static_cast<std::size_t>(n));
    } else if (n == 0) {
      break;
    } else if (errno != EINTR) {
      const int error = errno;
      ::close(fd);
      return cannot_read(path, error);
    }
  }
  ::close(fd);
  return out;
}

Result<Secret> read_token_file(const std::filesystem::path& path) {
  auto text = read_file(path);
  if (!text) return std::unexpected(text.error());
  Secret token{std::string(trim_space(*text))};
  Secret wipe{std::move(*text)};  // the untrimmed copy is wiped too
  if (token.empty()) return fail(ErrorKind::io, "the token file " + path.string() + " is empty");
  return token;
}

std::string_view trim_space(std::string_view text) {
  while (const auto n = space_at(text, true)) text.remove_prefix(n);
  while (const auto n = space_at(text, false)) text.remove_suffix(n);
  return text;
}

}  // namespace nodeboot
