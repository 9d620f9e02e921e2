#pragma once

#include <expected>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace nodeboot {

// What went wrong, coarsely; callers branch on the kind, people read the message.
enum class ErrorKind {
  invalid_input,  // a flag, file or object the user supplied is wrong
  config,         // kubeconfig / in-cluster configuration could not be resolved
  io,             // a local file or process failed
  transport,      // the network: connect, TLS, timeout
  api,            // the API server answered with a Status error (other than the two below)
  not_found,      // HTTP 404 (reason NotFound)
  conflict,       // HTTP 409: reason Conflict (stale resourceVersion) or AlreadyExists
  internal,
};

// One entry of a Status object's details.causes (a field validation failure, say).
struct StatusCause {
  std::string reason{};  // e.g. FieldValueInvalid
  std::string message{};
  std::string field{};  // e.g. metadata.labels
};

// The API server's metav1.Status, kept verbatim enough for callers to branch on
// (reason, code) and for people to read (message, causes).
struct ApiStatus {
  int code = 0;           // the HTTP status the server sent (404, 409, 410, 422, 429, ...)
  std::string reason{};   // NotFound, AlreadyExists, Conflict, Gone, Expired, Forbidden, Invalid, ...
  std::string message{};  // the server's own sentence, e.g. `nodes "x" not found`
  std::string group{};    // details.group
  std::string kind{};     // details.kind (the resource, e.g. "nodes")
  std::string name{};     // details.name
  std::vector<StatusCause> causes{};
  int retry_after_seconds = 0;  // details.retryAfterSeconds or the Retry-After header
};

struct Error {
  ErrorKind kind = ErrorKind::internal;
  std::string message{};              // one line a person can act on; never holds a secret value
  std::optional<ApiStatus> status{};  // set when the API server answered with a Status

  Error() = default;
  Error(ErrorKind k, std::string msg) : kind(k), message(std::move(msg)) {}
  Error(ErrorKind k, std::string msg, ApiStatus s) : kind(k), message(std::move(msg)), status(std::move(s)) {}

  // The HTTP status of an API error, 0 for everything else.
  int code() const noexcept { return status ? status->code : 0; }
  // The Status reason of an API error ("" for everything else).
  const std::string& reason() const noexcept {
    static const std::string none;
    return status ? status->reason : none;
  }
};

template <typename T>
using Result = std::expected<T, Error>;

inline std::unexpected<Error> fail(ErrorKind kind, std::string message) {
  return std::unexpected<Error>(Error{kind, std::move(message)});
}

inline std::unexpected<Error> fail(Error error) { return std::unexpected<Error>(std::move(error)); }

}  // namespace nodeboot
