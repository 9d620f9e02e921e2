#pragma once

// Flags: how every nodeboot command declares and reads its flags. A thin façade over
// cxxopts, which only cli/src/flags.cpp includes: cxxopts builds six std::regex at static
// initialisation, and each unit that included it paid about 10 s of compile time for them
// (27 product units did). The shape is cxxopts' own, so a command reads as before:
//
//   cli::Flags flags("kubectl nodeboot abort", "Undo an in-place bootstrap ...");
//   flags.add_options()("delete-secret", "Also delete the node's bootstrap Secret")
//       ("o,output", "json or yaml", cli::value<std::string>().default_value("yaml"));
//   ... parsed.count("delete-secret"), parsed["output"].as<std::string>()
//
// Value types: bool, int, long, std::size_t, double, std::string, std::vector<std::string>.

#include <cstddef>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "nodeboot/util/result.hpp"

namespace nodeboot::cli {

enum class FlagType { boolean, integer, long_integer, size, real, string, strings };

// What a flag takes: its type, and the values cxxopts' default_value / implicit_value give.
struct FlagValue {
  FlagType type = FlagType::boolean;
  std::optional<std::string> default_{};
  std::optional<std::string> implicit_{};

  FlagValue& default_value(std::string v) {
    default_ = std::move(v);
    return *this;
  }
  FlagValue& implicit_value(std::string v) {
    implicit_ = std::move(v);
    return *this;
  }
};

template <typename T>
FlagValue value() {
  if constexpr (std::is_same_v<T, bool>)
    return {FlagType::boolean};
  else if constexpr (std::is_same_v<T, int>)
    return {FlagType::integer};
  else if constexpr (std::is_same_v<T, long>)
    return {FlagType::long_integer};
  else if constexpr (std::is_same_v<T, std::size_t>)
    return {FlagType::size};
  else if constexpr (std::is_same_v<T, double>)
    return {FlagType::real};
  else if constexpr (std::is_same_v<T, std::string>)
    return {FlagType::string};
  else {
    static_assert(std::is_same_v<T, std::vector<std::string>>, "not a flag type cli::Flags knows");
    return {FlagType::strings};
  }
}

// The flags as parsed. Copies share one parse, which keeps the Flags' options alive.
class Parsed {
 public:
  struct Impl;
  class Ref {
   public:
    // The value (given, or the default); throws (the dispatcher reports it) when there is
    // neither, or when T is not the flag's type.
    template <typename T>
    T as() const;

   private:
    friend class Parsed;
    Ref(const Impl& impl, std::string name) : impl_(impl), name_(std::move(name)) {}
    const Impl& impl_;
    std::string name_;
  };

  Parsed();
  explicit Parsed(std::shared_ptr<const Impl> impl);

  // How often the flag was given (0 when only its default applies).
  std::size_t count(const std::string& name) const;
  Ref operator[](const std::string& name) const { return {*impl_, name}; }
  // Arguments no flag or positional took (with allow_unrecognised_options, unknown flags too).
  const std::vector<std::string>& unmatched() const;

 private:
  std::shared_ptr<const Impl> impl_;
};

extern template bool Parsed::Ref::as<bool>() const;
extern template int Parsed::Ref::as<int>() const;
extern template long Parsed::Ref::as<long>() const;
extern template std::size_t Parsed::Ref::as<std::size_t>() const;
extern template double Parsed::Ref::as<double>() const;
extern template std::string Parsed::Ref::as<std::string>() const;
extern template std::vector<std::string> Parsed::Ref::as<std::vector<std::string>>() const;

// A command's flags, its usage line and its --help.
class Flags {
 public:
  struct Impl;
  // add_options(group)("name", "help")("s,long", "help", value<T>()...): a flag without a
  // value is a switch (bool).
  class Adder {
   public:
    Adder& operator()(const std::string& spec, const std::string& help);
    Adder& operator()(const std::string& spec, const std::string& help, const FlagValue& value);

   private:
    friend class Flags;
    Adder(Impl& impl, std::string group) : impl_(impl), group_(std::move(group)) {}
    Impl& impl_;
    std::string group_;
  };

  explicit Flags(const std::string& program, const std::string& description = "");
  Flags(Flags&& other) noexcept;
  Flags& operator=(Flags&& other) noexcept;
  ~Flags();

  Adder add_options(const std::string& group = "");
  // The positional flags, in order (the last one takes the rest when it is a list).
  void parse_positional(std::vector<std::string> names);
  void positional_help(const std::string& text);  // after the program name in the usage line
  void custom_help(const std::string& text);      // replaces "[OPTION...]" in the usage line
  void allow_unrecognised_options();              // unknown flags go to unmatched()
  std::string help() const;

  // `args` without the program name. A bad flag, an unknown one or a value of the wrong
  // type is an invalid_input Error naming it.
  Result<Parsed> parse(std::span<const std::string> args) const;

 private:
  std::shared_ptr<Impl> impl_;  // shared with every Parsed it made
};

}  // namespace nodeboot::cli
