#pragma once

// Shared by the webhook's integration and e2e tests: a throwaway PKI, the nodeboot-webhook
// binary as a child process, and a raw TLS client for what HTTP clients will not send
// (unread bodies, half requests, idle handshakes).

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <cerrno>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "nodeboot/test/support.hpp"
#include "nodeboot/util/pki.hpp"

namespace nodeboot::test {

// A CA and certificates it issues, written where the webhook and clients read them.
// Named apart from nodeboot::test::TestPki (https_server.hpp): both live in the same test
// executables, and two classes of one name there are an ODR violation that crashes.
class WebhookPki {
 public:
  WebhookPki() {
    const auto now = std::chrono::system_clock::now();
    auto ca = nodeboot::issue_certificate(
        {"nodeboot-test-ca", {}, {}, true, now - std::chrono::hours(1), now + std::chrono::hours(24)}, nullptr);
    BOOST_REQUIRE(ca.has_value());
    ca_ = std::move(*ca);
    ca_file_ = dir_.write("ca.crt", ca_.cert_pem);
  }
  const std::filesystem::path& ca_file() const { return ca_file_; }
  const std::string& ca_pem() const { return ca_.cert_pem; }
  std::filesystem::path dir() const { return dir_.path(); }

  nodeboot::KeyPair issue(const std::string& cn, bool client = false) const {
    const auto now = std::chrono::system_clock::now();
    nodeboot::CertificateRequest req{cn,
                                     client ? std::vector<std::string>{} : std::vector<std::string>{"localhost"},
                                     client ? std::vector<std::string>{} : std::vector<std::string>{"127.0.0.1"},
                                     false,
                                     now - std::chrono::minutes(5),
                                     now + std::chrono::hours(24)};
    auto pair = nodeboot::issue_certificate(req, &ca_);
    BOOST_REQUIRE(pair.has_value());
    return std::move(*pair);
  }

  // Writes a serving pair into `cert_dir` the way kubelet updates a Secret volume: each
  // file replaced atomically by rename.
  void write_serving(const std::filesystem::path& cert_dir, const nodeboot::KeyPair& pair) const {
    std::filesystem::create_directories(cert_dir);
    replace(cert_dir / "tls.crt", pair.cert_pem);
    replace(cert_dir / "tls.key", pair.key_pem.reveal());
  }

  static void replace(const std::filesystem::path& file, const std::string& content) {
    const auto tmp = file.string() + ".tmp";
    std::ofstream(tmp, std::ios::binary) << content;
    std::filesystem::rename(tmp, file);
  }

 private:
  TempDir dir_;
  nodeboot::KeyPair ca_;
  std::filesystem::path ca_file_;
};

// nodeboot-webhook as a child process; its JSON log goes to a file; killed if still
// running when the object dies.
class WebhookProcess {
 public:
  explicit WebhookProcess(std::vector<std::string> args) {
    log_ = log_dir_.path() / "webhook.log";
    args.insert(args.begin(), (bin_dir() / "nodeboot-webhook").string());
    pid_ = ::fork();
    BOOST_REQUIRE(pid_ >= 0);
    if (pid_ == 0) {
      const int fd = ::open(log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      ::dup2(fd, 1);
      ::dup2(fd, 2);
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
  }
  ~WebhookProcess() {
    if (pid_ > 0 && !exited_) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  WebhookProcess(const WebhookProcess&) = delete;
  WebhookProcess& operator=(const WebhookProcess&) = delete;

  // The port from the "serving" log line (start it with --port 0).
  int port() {
    static const std::regex serving(R"re("msg":"serving","address":"[^"]*:(\d+)")re");
    int found = 0;
    const bool ok = eventually(
        [&] {
          std::smatch m;
          const auto text = log();
          if (std::regex_search(text, m, serving)) found = std::stoi(m[1]);
          return found != 0 || exited();
        },
        std::chrono::seconds(20), std::chrono::milliseconds(20));
    BOOST_REQUIRE_MESSAGE(ok && found != 0, "nodeboot-webhook did not start:\n" << log());
    return found;
  }

  std::string log() const { return read_file(log_); }
  void signal(int sig) const { ::kill(pid_, sig); }
  pid_t pid() const { return pid_; }

  bool exited() {
    if (exited_) return true;
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      exited_ = true;
      exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    return exited_;
  }
  // Waits up to `timeout` for the exit; -1 if still running.
  int wait(std::chrono::milliseconds timeout) {
    eventually([&] { return exited(); }, timeout, std::chrono::milliseconds(10));
    return exited_ ? exit_code_ : -1;
  }

 private:
  TempDir log_dir_;
  std::filesystem::path log_;
  pid_t pid_ = -1;
  bool exited_ = false;
  int exit_code_ = -1;
};

// A blocking TLS client over one socket, for byte-level control.
class RawTls {
 public:
  RawTls(int port, const std::filesystem::path& ca_file) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    const int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    timeval tv{10, 0};  // no read in these tests should take longer
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ctx_ = SSL_CTX_new(TLS_client_method());
    SSL_CTX_load_verify_locations(ctx_, ca_file.c_str(), nullptr);
    SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER, nullptr);
  }
  ~RawTls() {
    if (ssl_) SSL_free(ssl_);
    SSL_CTX_free(ctx_);
    ::close(fd_);
  }
  RawTls(const RawTls&) = delete;
  RawTls& operator=(const RawTls&) = delete;

  bool connected() const { return connected_; }
  SSL_CTX* context() { return ctx_; }
  int fd() const { return fd_; }

  bool handshake() {
    ssl_ = SSL_new(ctx_);
    SSL_set_fd(ssl_, fd_);
    SSL_set_msg_callback(ssl_, &RawTls::count_records);
    SSL_set_msg_callback_arg(ssl_, &app_records_);
    return SSL_connect(ssl_) == 1;
  }

  // Application-data records received so far (TLS 1.3's inner content type: session
  // tickets, which also travel as application data outside, are not counted).
  int app_records() const { return app_records_; }

  bool send(std::string_view bytes) {
    return SSL_write(ssl_, bytes.data(), static_cast<int>(bytes.size())) == static_cast<int>(bytes.size());
  }

  // Reads one HTTP/1.1 response with Content-Length; empty string on EOF or error.
  std::string read_response() {
    while (true) {
      const auto head_end = buffer_.find("\r\n\r\n");
      if (head_end != std::string::npos) {
        std::smatch m;
        const std::string head = buffer_.substr(0, head_end);
        static const std::regex length("[Cc]ontent-[Ll]ength: *(\\d+)");
        const std::size_t body = std::regex_search(head, m, length) ? std::stoul(m[1]) : 0;
        if (buffer_.size() >= head_end + 4 + body) {
          auto response = buffer_.substr(0, head_end + 4 + body);
          buffer_.erase(0, response.size());
          return response;
        }
      }
      char chunk[16384];
      const int n = SSL_read(ssl_, chunk, sizeof chunk);
      if (n <= 0) return {};
      buffer_.append(chunk, static_cast<std::size_t>(n));
    }
  }

  // True when the server closed the connection within `within`: a read sees EOF or a
  // reset, not data and not a timeout.
  bool closed_by_peer(std::chrono::milliseconds within = std::chrono::seconds(5)) {
    // Whole milliseconds of at least 1: a zero SO_RCVTIMEO would mean "wait forever".
    const auto ms = std::max<std::chrono::milliseconds::rep>(1, within.count());
    timeval tv{static_cast<time_t>(ms / 1000), static_cast<suseconds_t>(ms % 1000 * 1000)};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    char c;
    errno = 0;
    const int n = SSL_read(ssl_, &c, 1);
    const int saved_errno = errno;
    const timeval normal{10, 0};  // back to the constructor's timeout for later reads
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &normal, sizeof normal);
    errno = saved_errno;
    if (n > 0) {
      buffer_.push_back(c);  // not closed: keep the byte for read_response
      return false;
    }
    const int err = SSL_get_error(ssl_, n);
    return err == SSL_ERROR_ZERO_RETURN || (err == SSL_ERROR_SYSCALL && errno != EAGAIN && errno != EWOULDBLOCK) ||
           err == SSL_ERROR_SSL;
  }

  std::string peer_certificate_pem() {
    X509* cert = SSL_get1_peer_certificate(ssl_);
    if (!cert) return {};
    BIO* bio = BIO_new(BIO_s_mem());
    PEM_write_bio_X509(bio, cert);
    char* data = nullptr;
    const long len = BIO_get_mem_data(bio, &data);
    std::string pem(data, static_cast<std::size_t>(len));
    BIO_free(bio);
    X509_free(cert);
    return pem;
  }

 private:
  static void count_records(int write_p, int /*version*/, int content_type, const void* buf, size_t len, SSL* /*ssl*/,
                            void* arg) {
    if (write_p == 0 && content_type == SSL3_RT_INNER_CONTENT_TYPE && len == 1 &&
        *static_cast<const unsigned char*>(buf) == SSL3_RT_APPLICATION_DATA)
      ++*static_cast<int*>(arg);
  }

  int fd_ = -1;
  bool connected_ = false;
  int app_records_ = 0;
  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
  std::string buffer_;
};

// A field of /proc/PID/status in KiB (VmRSS, VmHWM), 0 when unreadable.
inline long proc_status_kib(pid_t pid, const std::string& field) {
  const auto text = read_file("/proc/" + std::to_string(pid) + "/status");
  const auto at = text.find(field + ":");
  return at == std::string::npos ? 0 : std::stol(text.substr(at + field.size() + 1));
}

inline std::string http_post(std::string_view path, std::string_view body,
                             std::string_view content_type = "application/json") {
  std::string req = "POST " + std::string(path) +
                    " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: " + std::string(content_type) +
                    "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n";
  req += body;
  return req;
}

}  // namespace nodeboot::test
