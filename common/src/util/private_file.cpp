#include "nodeboot/util/private_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace nodeboot {

Result<void> write_private_file(const std::filesystem::path& path, std::string_view content) {
  auto failed = [&] { return fail(ErrorKind::io, "cannot write " + path.string() + ": " + std::strerror(errno)); };
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) return failed();
  if (::fchmod(fd, 0600) != 0) {
    auto e = failed();
    ::close(fd);
    return e;
  }
  std::size_t done = 0;
  while (done < content.size()) {
    const auto n = ::write(fd, content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      auto e = failed();
      ::close(fd);
      return e;
    }
    done += static_cast<std::size_t>(n);
  }
  if (::close(fd) != 0) return failed();
  return {};
}

Result<void> replace_private_file(const std::filesystem::path& path, std::string_view content) {
  std::error_code ec;
  if (path.has_parent_path()) std::filesystem::create_directories(path.parent_path(), ec);
  if (ec) return fail(ErrorKind::io, "cannot create " + path.parent_path().string() + ": " + ec.message());
  auto tmp = path;
  tmp += ".tmp";
  if (auto w = write_private_file(tmp, content); !w) return w;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    auto e = fail(ErrorKind::io, "cannot rename " + tmp.string() + " to " + path.string() + ": " + ec.message());
    std::filesystem::remove(tmp, ec);
    return e;
  }
  return {};
}

}  // namespace nodeboot
