// The one unit that includes cxxopts (see flags.hpp).
#include "nodeboot/cli/flags.hpp"

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <map>
#include <stdexcept>

#include <cxxopts.hpp>

namespace nodeboot::cli {

// Numbers are taken from cxxopts as strings and converted here, so that a bad one is an
// error naming its flag (cxxopts says only "Argument 'x' failed to parse").
struct Flags::Impl {
  cxxopts::Options options;
  std::map<std::string, FlagType, std::less<>> numeric;  // every name of each numeric flag
};

struct Parsed::Impl {
  // A parse points into its Options (an option's names, in as()'s error), so it keeps them.
  std::shared_ptr<const Flags::Impl> flags;
  cxxopts::ParseResult result;
  std::vector<std::string> unmatched;
};

namespace {

bool is_numeric(FlagType t) {
  return t == FlagType::integer || t == FlagType::long_integer || t == FlagType::size || t == FlagType::real;
}

template <typename T>
std::shared_ptr<cxxopts::Value> typed(const FlagValue& v) {
  auto made = cxxopts::value<T>();
  if (v.default_) made->default_value(*v.default_);
  if (v.implicit_) made->implicit_value(*v.implicit_);
  return made;
}

std::shared_ptr<const cxxopts::Value> make_value(const FlagValue& v) {
  switch (v.type) {
    case FlagType::boolean:
      return typed<bool>(v);
    case FlagType::string:
    case FlagType::integer:
    case FlagType::long_integer:
    case FlagType::size:
    case FlagType::real:
      return typed<std::string>(v);
    case FlagType::strings:
      return typed<std::vector<std::string>>(v);
  }
  return typed<bool>(v);
}

// The whole of `text` as a T, or nothing.
template <typename T>
std::optional<T> number(const std::string& text) {
  T v{};
  if constexpr (std::is_floating_point_v<T>) {
    char* end = nullptr;
    errno = 0;
    v = std::strtod(text.c_str(), &end);
    if (text.empty() || end != text.c_str() + text.size() || errno == ERANGE || !std::isfinite(v)) return std::nullopt;
  } else {
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (text.empty() || ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  }
  return v;
}

bool converts(FlagType t, const std::string& text) {
  switch (t) {
    case FlagType::integer:
      return number<int>(text).has_value();
    case FlagType::long_integer:
      return number<long>(text).has_value();
    case FlagType::size:
      return number<std::size_t>(text).has_value();
    case FlagType::real:
      return number<double>(text).has_value();
    default:
      return true;
  }
}

std::string_view kind_of(FlagType t) {
  switch (t) {
    case FlagType::integer:
    case FlagType::long_integer:
      return "a whole number, e.g. 30";
    case FlagType::size:
      return "a whole number of 0 or more, e.g. 30";
    default:
      return "a number, e.g. 2.5";
  }
}

template <typename T>
constexpr FlagType type_of() {
  if constexpr (std::is_same_v<T, int>)
    return FlagType::integer;
  else if constexpr (std::is_same_v<T, long>)
    return FlagType::long_integer;
  else if constexpr (std::is_same_v<T, std::size_t>)
    return FlagType::size;
  else
    return FlagType::real;
}

// The flag a switch's bad value was given to ("--flag=value"), for cxxopts' message.
std::string flag_given(std::span<const std::string> args, const std::string& message) {
  for (const auto& a : args) {
    const auto eq = a.find('=');
    if (a.starts_with("--") && eq != std::string::npos && message.find(a.substr(eq + 1)) != std::string::npos)
      return a.substr(0, eq);
  }
  return "";
}

}  // namespace

Parsed::Parsed() : impl_(std::make_shared<const Impl>()) {}
Parsed::Parsed(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}

std::size_t Parsed::count(const std::string& name) const { return impl_->result.count(name); }

const std::vector<std::string>& Parsed::unmatched() const { return impl_->unmatched; }

template <typename T>
T Parsed::Ref::as() const {
  if constexpr (std::is_arithmetic_v<T> && !std::is_same_v<T, bool>) {
    if (!impl_.flags) throw std::logic_error("flag --" + name_ + " read from an empty parse");
    const auto found = impl_.flags->numeric.find(name_);
    if (found == impl_.flags->numeric.end() || found->second != type_of<T>())
      throw std::logic_error("flag --" + name_ + " is not declared as this number type");
    auto v = number<T>(impl_.result[name_].as<std::string>());  // checked by Flags::parse
    if (!v) throw std::logic_error("flag --" + name_ + " has a default that is not a number");
    return *v;
  } else {
    return impl_.result[name_].as<T>();
  }
}

template bool Parsed::Ref::as<bool>() const;
template int Parsed::Ref::as<int>() const;
template long Parsed::Ref::as<long>() const;
template std::size_t Parsed::Ref::as<std::size_t>() const;
template double Parsed::Ref::as<double>() const;
template std::string Parsed::Ref::as<std::string>() const;
template std::vector<std::string> Parsed::Ref::as<std::vector<std::string>>() const;

Flags::Adder& Flags::Adder::operator()(const std::string& spec, const std::string& help) {
  impl_.options.add_options(group_)(spec, help);
  return *this;
}

Flags::Adder& Flags::Adder::operator()(const std::string& spec, const std::string& help, const FlagValue& value) {
  impl_.options.add_options(group_)(spec, help, make_value(value));
  if (is_numeric(value.type))
    for (std::size_t start = 0; start <= spec.size();) {
      const auto comma = std::min(spec.find(',', start), spec.size());
      if (auto name = spec.substr(start, comma - start); !name.empty()) impl_.numeric[name] = value.type;
      start = comma + 1;
    }
  return *this;
}

// NOLINTNEXTLINE(clang-analyzer-cplusplus.NewDeleteLeaks): cxxopts::Options' own shared_ptrs, owned by impl_
Flags::Flags(const std::string& program, const std::string& description)
    : impl_(std::make_shared<Impl>(Impl{cxxopts::Options(program, description), {}})) {}
Flags::Flags(Flags&&) noexcept = default;
Flags& Flags::operator=(Flags&&) noexcept = default;
Flags::~Flags() = default;

Flags::Adder Flags::add_options(const std::string& group) { return {*impl_, group}; }

void Flags::parse_positional(std::vector<std::string> names) { impl_->options.parse_positional(std::move(names)); }
void Flags::positional_help(const std::string& text) { impl_->options.positional_help(text); }
void Flags::custom_help(const std::string& text) { impl_->options.custom_help(text); }
void Flags::allow_unrecognised_options() { impl_->options.allow_unrecognised_options(); }
std::string Flags::help() const { return impl_->options.help(); }

Result<Parsed> Flags::parse(std::span<const std::string> args) const {
  std::vector<const char*> argv{impl_->options.program().c_str()};
  for (const auto& a : args) argv.push_back(a.c_str());
  try {
    auto result = impl_->options.parse(static_cast<int>(argv.size()), argv.data());
    for (const auto& [name, type] : impl_->numeric)
      if (name.size() > 1 && result.count(name)) {
        const auto text = result[name].as<std::string>();
        if (!converts(type, text))
          return fail(ErrorKind::invalid_input,
                      std::string("--").append(name).append(": \"").append(text).append("\" is not ").append(
                          kind_of(type)));
      }
    auto unmatched = result.unmatched();
    return Parsed(std::make_shared<const Parsed::Impl>(Parsed::Impl{impl_, result, std::move(unmatched)}));
  } catch (const cxxopts::exceptions::incorrect_argument_type& e) {  // only switches are typed by cxxopts
    const auto flag = flag_given(args, e.what());
    return fail(ErrorKind::invalid_input, (flag.empty() ? std::string() : flag + ": ") + e.what() +
                                              ": a switch takes true or false");
  } catch (const cxxopts::exceptions::exception& e) {
    return fail(ErrorKind::invalid_input, e.what());
  }
}

}  // namespace nodeboot::cli
