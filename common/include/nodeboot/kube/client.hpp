#pragma once

#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "nodeboot/kube/config.hpp"
#include "nodeboot/util/result.hpp"

namespace nodeboot::kube {

struct Response {
  long status = 0;
  std::string body;
};

// A thin libcurl transport bound to one RestConfig. One handle per Client, reused, so
// connections are kept alive between calls.
class Client {
 public:
  explicit Client(RestConfig config);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  const RestConfig& config() const noexcept { return config_; }

  // GET `path` and decode the JSON body; API errors become Error{api, "<Status message>"}.
  Result<nlohmann::json> get_json(const std::string& path);

 private:
  Result<Response> send(const std::string& method, const std::string& path, const std::string& body);

  struct Impl;
  RestConfig config_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace nodeboot::kube
