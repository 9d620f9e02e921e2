// The one unit that includes cxxopts (see flags.hpp).
#include "nodeboot/cli/flags.hpp"

#include <cxxopts.hpp>

namespace nodeboot::cli {

struct Flags::Impl {
  cxxopts::Options options;
};

struct Parsed::Impl {
  // A parse points into its Options (an option's names, in as()'s error), so it keeps them.
  std::shared_ptr<const Flags::Impl> flags;
  cxxopts::ParseResult result;
  std::vector<std::string> unmatched;
};

namespace {

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
    case FlagType::integer:
      return typed<int>(v);
    case FlagType::long_integer:
      return typed<long>(v);
    case FlagType::size:
      return typed<std::size_t>(v);
    case FlagType::real:
      return typed<double>(v);
    case FlagType::string:
      return typed<std::string>(v);
    case FlagType::strings:
      return typed<std::vector<std::string>>(v);
  }
  return typed<bool>(v);
}

}  // namespace

Parsed::Parsed() : impl_(std::make_shared<const Impl>()) {}
Parsed::Parsed(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}

std::size_t Parsed::count(const std::string& name) const { return impl_->result.count(name); }

const std::vector<std::string>& Parsed::unmatched() const { return impl_->unmatched; }

template <typename T>
T Parsed::Ref::as() const {
  return impl_.result[name_].as<T>();
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
  return *this;
}

Flags::Flags(const std::string& program, const std::string& description)
    : impl_(std::make_shared<Impl>(Impl{cxxopts::Options(program, description)})) {}
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
    auto unmatched = result.unmatched();
    return Parsed(std::make_shared<const Parsed::Impl>(Parsed::Impl{impl_, result, std::move(unmatched)}));
  } catch (const cxxopts::exceptions::exception& e) {
    return fail(ErrorKind::invalid_input, e.what());
  }
}

}  // namespace nodeboot::cli
