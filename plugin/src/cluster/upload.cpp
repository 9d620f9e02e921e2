// The kubeconfig upload endpoint (upload.hpp): HTTPS on cpp-httplib, one POST route, a
// body cap enforced from Content-Length before any body byte is read, the bearer token
// compared in constant time and good for one upload.
#include "nodeboot/plugin/cluster/upload.hpp"

#include <httplib.h>
#include <openssl/crypto.h>

#include <ostream>
#include <thread>

#include <yaml-cpp/yaml.h>

#include "nodeboot/util/file.hpp"
#include "nodeboot/util/private_file.hpp"

namespace nodeboot::plugin::cluster {
namespace fs = std::filesystem;

namespace {

constexpr std::string_view bearer = "Bearer ";

bool token_matches(std::string_view authorization, const Secret& token) {
  if (!authorization.starts_with(bearer)) return false;
  const auto given = authorization.substr(bearer.size());
  // The length is no secret (always 64 hex digits); the bytes are compared in constant time.
  return !token.empty() && given.size() == token.reveal().size() &&
         CRYPTO_memcmp(given.data(), token.reveal().data(), given.size()) == 0;
}

}  // namespace

UploadVerdict UploadState::authorize(std::string_view authorization) const {
  std::lock_guard lock(m_);
  if (used_) return {410, "the upload token was already used; run `kubectl nodeboot cluster generate` for a new one"};
  if (!token_matches(authorization, token_)) return {401, "missing or wrong upload token"};
  return {200, "authorized"};
}

bool UploadState::used() const {
  std::lock_guard lock(m_);
  return used_;
}

UploadVerdict UploadState::consume(std::string_view authorization, std::string_view body,
                                   const std::function<Result<void>(std::string_view)>& save) {
  std::lock_guard lock(m_);
  if (used_) return {410, "the upload token was already used; run `kubectl nodeboot cluster generate` for a new one"};
  if (!token_matches(authorization, token_)) return {401, "missing or wrong upload token"};
  if (body.size() > upload_max_body)
    return {413, "the body is larger than " + std::to_string(upload_max_body) + " bytes"};
  if (auto why = check_kubeconfig_body(body); !why.empty()) return {400, "not a kubeconfig: " + why};
  if (auto saved = save(body); !saved) return {500, "cannot save the kubeconfig: " + saved.error().message};
  used_ = true;
  token_ = Secret();
  return {201, "kubeconfig received"};
}

std::string check_kubeconfig_body(std::string_view body) {
  YAML::Node doc;
  try {
    doc = YAML::Load(std::string(body));
  } catch (const YAML::Exception&) {
    return "not YAML";  // the parser's message would quote the body
  }
  if (!doc.IsMap() || !doc["kind"] || !doc["kind"].IsScalar() || doc["kind"].Scalar() != "Config")
    return "kind is not Config";
  for (const char* list : {"clusters", "users", "contexts"})
    if (!doc[list] || !doc[list].IsSequence() || doc[list].size() == 0) return std::string("no ") + list;
  const auto first = doc["clusters"][0];
  if (!first.IsMap() || !first["cluster"] || !first["cluster"].IsMap() || !first["cluster"]["server"])
    return "its first cluster has no server";
  return "";
}

Result<void> run_upload_server(const UploadServerOptions& o, const std::function<void(int)>& on_listening,
                               const std::stop_token& stop) {
  const auto files = UploadFiles::in(fs::absolute(o.dir));
  auto log = [&](const std::string& line) {
    if (o.log) *o.log << "upload: " << line << '\n' << std::flush;
  };
  for (const auto& p : {files.cert(), files.key()})
    if (!fs::exists(p))
      return fail(ErrorKind::invalid_input, p.string() + " is missing; run `kubectl nodeboot cluster generate` first");
  Secret token;
  if (auto t = read_token_file(files.token())) token = std::move(*t);
  UploadState state(std::move(token));
  if (state.authorize("").status == 410 || !fs::exists(files.token()))
    log("no upload token in " + files.dir.string() + ": every upload will be refused");

  auto colon = o.address.rfind(':');
  if (colon == std::string::npos)
    return fail(ErrorKind::invalid_input, "upload address \"" + o.address + "\" is not HOST:PORT");
  const std::string host = o.address.substr(0, colon);
  const int port = std::atoi(o.address.c_str() + colon + 1);

  httplib::SSLServer http(files.cert().c_str(), files.key().c_str());
  if (!http.is_valid())
    return fail(ErrorKind::config, "cannot load " + files.cert().string() + " and " + files.key().string());
  http.set_payload_max_length(upload_max_body);  // cpp-httplib answers 413 from Content-Length
  http.set_read_timeout(10, 0);                  // a first controller sends 5.5 KiB at once; slow readers are dropped
  http.set_write_timeout(10, 0);
  http.set_keep_alive_max_count(1);  // one request per connection: nothing is pipelined
  http.set_socket_options([](int sock) {
    int on = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  });
  auto refuse = [](httplib::Response& res, const UploadVerdict& v) {
    res.status = v.status;
    res.set_content(v.message + "\n", "text/plain");
    res.set_header("Connection", "close");
  };
  // Refused before the body is read: a wrong token, a used one, another path.
  http.set_pre_routing_handler([&](const httplib::Request& req, httplib::Response& res) {
    if (req.path != upload_path || req.method != "POST") {
      refuse(res, {404, "only POST " + std::string(upload_path)});
      log("404 " + req.method + " from " + req.remote_addr);
      return httplib::Server::HandlerResponse::Handled;
    }
    auto v = state.authorize(req.get_header_value("Authorization"));
    if (v.status != 200) {
      refuse(res, v);
      log(std::to_string(v.status) + " from " + req.remote_addr + ": " + v.message);
      return httplib::Server::HandlerResponse::Handled;
    }
    return httplib::Server::HandlerResponse::Unhandled;
  });
  http.set_error_handler([&](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;  // a refusal of ours
    if (res.status == 413)
      log("413 from " + req.remote_addr + ": body over " + std::to_string(upload_max_body) + " bytes");
    res.set_content(
        res.status == 413 ? "the body is larger than " + std::to_string(upload_max_body) + " bytes\n" : "refused\n",
        "text/plain");
    return httplib::Server::HandlerResponse::Handled;
  });
  http.Post(std::string(upload_path), [&](const httplib::Request& req, httplib::Response& res) {
    auto v = state.consume(req.get_header_value("Authorization"), req.body, [&](std::string_view body) -> Result<void> {
      if (auto w = replace_private_file(files.received(), body); !w) return w;
      std::error_code ec;
      fs::remove(files.token(), ec);  // revoked on disk too: a restarted endpoint refuses it
      return {};
    });
    refuse(res, v);
    log(std::to_string(v.status) + " from " + req.remote_addr + ": " + v.message +
        (v.status == 201
             ? " (" + std::to_string(req.body.size()) + " bytes, saved to " + files.received().string() + ")"
             : ""));
  });

  const int bound = port == 0 ? http.bind_to_any_port(host) : (http.bind_to_port(host, port) ? port : -1);
  if (bound <= 0) return fail(ErrorKind::io, "cannot listen on " + o.address);
  std::stop_callback on_stop(stop, [&] { http.stop(); });
  log("listening on https://" + host + ":" + std::to_string(bound) + std::string(upload_path));
  if (on_listening) on_listening(bound);
  if (!stop.stop_requested()) http.listen_after_bind();
  return {};
}

}  // namespace nodeboot::plugin::cluster
