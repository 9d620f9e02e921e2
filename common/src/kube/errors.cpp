#include "nodeboot/kube/errors.hpp"

#include <charconv>

#include <nlohmann/json.hpp>

namespace nodeboot::kube {
namespace {

std::string str(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// client-go's messages (k8s.io/apimachinery/pkg/api/errors.NewGenericServerResponse) for an
// answer that carries no Status, so a person sees the same words kubectl would print.
std::pair<std::string, std::string> generic_reason(long code) {
  switch (code) {
    case 400:
      return {"BadRequest", "the server rejected our request for an unknown reason"};
    case 401:
      return {"Unauthorized", "the server has asked for the client to provide credentials"};
    case 403:
      return {"Forbidden", "the server does not allow access to the requested resource"};
    case 404:
      return {"NotFound", "the server could not find the requested resource"};
    case 405:
      return {"MethodNotAllowed", "the server does not allow this method on the requested resource"};
    case 406:
      return {"NotAcceptable", "the server was unable to respond with a content type that the client supports"};
    case 409:
      return {"Conflict", "the server reported a conflict"};
    case 410:
      return {"Gone", "the server has asked for the client to provide fresher data"};
    case 415:
      return {"UnsupportedMediaType", "the server does not support the content type the client sent"};
    case 422:
      return {"Invalid", "the server rejected our request due to an error in our request"};
    case 429:
      return {"TooManyRequests", "the server has received too many requests and has asked us to try again later"};
    case 500:
      return {"InternalError", "an error on the server has prevented the request from succeeding"};
    case 503:
      return {"ServiceUnavailable", "the server is currently unable to handle the request"};
    case 504:
      return {
          "Timeout",
          "the server was unable to return a response in the time allotted, but may still be processing the request"};
    default:
      return {"Unknown", "the server answered HTTP " + std::to_string(code)};
  }
}

std::string one_line(std::string_view s, std::size_t max) {
  std::string out;
  for (char c : s) {
    if (out.size() >= max) {
      out += "...";
      break;
    }
    out.push_back(c == '\n' || c == '\r' ? ' ' : c);
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

}  // namespace

ApiStatus parse_status(const nlohmann::json& status, long http_status) {
  ApiStatus s;
  s.code = static_cast<int>(http_status);
  if (!status.is_object()) return s;
  if (auto it = status.find("code"); it != status.end() && it->is_number_integer() && http_status == 0)
    s.code = it->get<int>();
  s.reason = str(status, "reason");
  s.message = str(status, "message");
  if (auto d = status.find("details"); d != status.end() && d->is_object()) {
    s.group = str(*d, "group");
    s.kind = str(*d, "kind");
    s.name = str(*d, "name");
    if (auto r = d->find("retryAfterSeconds"); r != d->end() && r->is_number_integer())
      s.retry_after_seconds = r->get<int>();
    if (auto c = d->find("causes"); c != d->end() && c->is_array())
      for (const auto& cause : *c)
        if (cause.is_object()) s.causes.push_back({str(cause, "reason"), str(cause, "message"), str(cause, "field")});
  }
  return s;
}

Error status_error(ApiStatus status) {
  if (status.reason.empty() || status.message.empty()) {
    auto [reason, message] = generic_reason(status.code);
    if (status.reason.empty()) status.reason = reason;
    if (status.message.empty()) status.message = message;
  }
  ErrorKind kind = status.code == 404   ? ErrorKind::not_found
                   : status.code == 409 ? ErrorKind::conflict
                                        : ErrorKind::api;
  std::string message = status.message;
  return Error{kind, std::move(message), std::move(status)};
}

Error api_error(long http_status, std::string_view body, std::string_view retry_after) {
  auto doc = nlohmann::json::parse(body, nullptr, false);
  ApiStatus s;
  if (doc.is_object() && str(doc, "kind") == "Status") {
    s = parse_status(doc, http_status);
  } else {
    s.code = static_cast<int>(http_status);
    auto [reason, message] = generic_reason(http_status);
    s.reason = reason;
    // Like client-go, quote what the server said when it is short enough to help.
    std::string said = one_line(body, 200);
    s.message = said.empty() || http_status == 401 || http_status == 403 ? message : message + " (" + said + ")";
  }
  if (s.retry_after_seconds == 0 && !retry_after.empty()) {
    int v = 0;
    auto [p, ec] = std::from_chars(retry_after.data(), retry_after.data() + retry_after.size(), v);
    if (ec == std::errc() && v > 0) s.retry_after_seconds = v;
  }
  return status_error(std::move(s));
}

bool is_not_found(const Error& e) { return e.code() == 404; }
bool is_already_exists(const Error& e) { return e.code() == 409 && e.reason() == "AlreadyExists"; }
bool is_conflict(const Error& e) { return e.code() == 409 && e.reason() != "AlreadyExists"; }
bool is_gone(const Error& e) { return e.code() == 410 || e.reason() == "Expired" || e.reason() == "Gone"; }
bool is_unauthorized(const Error& e) { return e.code() == 401; }
bool is_forbidden(const Error& e) { return e.code() == 403; }
bool is_invalid(const Error& e) { return e.code() == 422; }
bool is_too_many_requests(const Error& e) { return e.code() == 429; }

std::string kubectl_message(const Error& e) {
  if (!e.status) return e.message;
  return "Error from server (" + e.status->reason + "): " + e.message;
}

}  // namespace nodeboot::kube
