#pragma once

#include <expected>
#include <string>
#include <utility>

namespace nodeboot {

// What went wrong, coarsely; callers branch on the kind, people read the message.
enum class ErrorKind {
  invalid_input,   // a flag, file or object the user supplied is wrong
  config,          // kubeconfig / in-cluster configuration could not be resolved
  io,              // a local file or process failed
  transport,       // the network: connect, TLS, timeout
  api,             // the API server answered with a Status error
  not_found,
  conflict,
  internal,
};

struct Error {
  ErrorKind kind = ErrorKind::internal;
  std::string message;  // one line a person can act on; never holds a secret value

  Error() = default;
  Error(ErrorKind k, std::string msg) : kind(k), message(std::move(msg)) {}
};

template <typename T>
using Result = std::expected<T, Error>;

inline std::unexpected<Error> fail(ErrorKind kind, std::string message) {
  return std::unexpected<Error>(Error{kind, std::move(message)});
}

}  // namespace nodeboot
