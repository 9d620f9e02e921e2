#pragma once

#include <iosfwd>
#include <string>
#include <string_view>

namespace nodeboot {

// A token, password or private key. It cannot be streamed or formatted: the only way
// to the bytes is reveal(), which makes every use greppable. The buffer is wiped on
// destruction.
class Secret {
 public:
  Secret() = default;
  explicit Secret(std::string value) : value_(std::move(value)) {}
  Secret(const Secret&) = default;
  Secret(Secret&&) noexcept = default;
  Secret& operator=(const Secret&) = default;
  Secret& operator=(Secret&&) noexcept = default;
  ~Secret();

  [[nodiscard]] const std::string& reveal() const noexcept { return value_; }
  [[nodiscard]] bool empty() const noexcept { return value_.empty(); }
  bool operator==(const Secret&) const = default;

  friend std::ostream& operator<<(std::ostream&, const Secret&) = delete;

 private:
  std::string value_;
};

}  // namespace nodeboot
