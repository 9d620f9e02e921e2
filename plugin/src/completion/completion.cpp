#include "nodeboot/plugin/completion/completion.hpp"

#include <algorithm>
#include <ostream>
#include <regex>
#include <sstream>

#include "nodeboot/bootstrap/schema.hpp"
#include "nodeboot/plugin/app.hpp"

namespace nodeboot::plugin::completion {
namespace {

std::string trim(std::string_view s) {
  const auto b = s.find_first_not_of(" \t");
  if (b == std::string_view::npos) return {};
  return std::string(s.substr(b, s.find_last_not_of(" \t") - b + 1));
}

std::vector<std::string> lines_of(std::string_view text) {
  std::vector<std::string> out;
  std::istringstream in{std::string(text)};
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

// A command's --help, as the command itself prints it.
CommandHelp help_of(const cli::Command& command, std::vector<std::string> path) {
  path.emplace_back("--help");
  std::ostringstream out, err;
  Io io{out, err};
  cli::dispatch(command, "kubectl nodeboot " + std::string(command.name), path, io);
  return parse_help(out.str());
}

const Flag* find_flag(const CommandHelp& help, std::string_view name) {
  for (const auto& f : help.flags)
    if (f.name == name) return &f;
  return nullptr;
}

const Flag* find_shorthand(const CommandHelp& help, char c) {
  for (const auto& f : help.flags)
    if (f.shorthand == c) return &f;
  return nullptr;
}

void add_matching(Completion& c, std::string_view word, std::string value, std::string description = {}) {
  if (value.starts_with(word)) c.candidates.push_back({std::move(value), std::move(description)});
}

// Values of a flag, each prefixed (e.g. "--os=" when completing `--os=rh`).
Completion flag_values(const Flag& flag, std::string_view partial, const std::string& prefix) {
  Completion c;
  std::vector<std::string> values;
  if (flag.name == "os") {
    for (auto os : {bootstrap::Os::rhcos, bootstrap::Os::rhel}) values.emplace_back(bootstrap::to_string(os));
  } else if (flag.name == "output") {
    // The description lists the formats ("wide, json or yaml"; "Output format: json or yaml").
    const std::string list = flag.description.substr(flag.description.find(':') + 1);
    static const std::regex word_re("[a-z]+");
    for (std::sregex_iterator it(list.begin(), list.end(), word_re), end; it != end; ++it)
      if (it->str() != "or") values.push_back(it->str());
  } else {
    c.directive = directive_default;  // files, directories, free text: the shell's own completion
    return c;
  }
  for (const auto& v : values) add_matching(c, std::string(prefix) + std::string(partial), prefix + v);
  return c;
}

}  // namespace

CommandHelp parse_help(std::string_view help) {
  // cxxopts: "  -o, --output arg   desc" / "      --drain   desc" / "      --dry-run [=arg(=client)]";
  // a long flag pushes its description to the next line.
  static const std::regex flag_re(
      R"(^  (?:-(\w), |    )--([A-Za-z0-9][-A-Za-z0-9_.]*)( arg)?(?: \[=arg\(=[^)]*\)\])?(?:\s+(\S.*))?$)");
  static const std::regex command_re(R"(^  ([a-z][-a-z0-9]*)\s{2,}(\S.*)$)");
  CommandHelp out;
  const auto lines = lines_of(help);
  bool in_commands = false;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const auto& line = lines[i];
    std::smatch m;
    if (line == "Commands:") {
      in_commands = true;
    } else if (in_commands) {
      if (std::regex_match(line, m, command_re))
        out.subcommands.push_back({m[1], m[2]});
      else
        in_commands = false;
    } else if (line.starts_with("Usage:") && i + 1 < lines.size()) {
      const auto& usage = lines[i + 1];
      if (auto at = usage.find("[OPTION...]"); at != std::string::npos) out.positional = trim(usage.substr(at + 11));
    } else if (std::regex_match(line, m, flag_re)) {
      Flag f{m[2], m[1].matched ? m[1].str()[0] : '\0', m[3].matched, trim(m[4].str())};
      if (f.description.empty() && i + 1 < lines.size() && !std::regex_match(lines[i + 1], flag_re))
        f.description = trim(lines[i + 1]);
      if (!f.description.empty()) out.flags.push_back(std::move(f));  // no description: hidden (positionals)
    }
  }
  return out;
}

Completion complete(const std::vector<std::string>& args, const NodeLister& list_nodes) {
  Completion c;
  const std::string word = args.empty() ? "" : args.back();
  const std::vector<std::string> prior(args.begin(), args.end() - (args.empty() ? 0 : 1));

  if (prior.empty()) {
    if (word.starts_with("-")) {
      add_matching(c, word, "--help", "Show help");
      add_matching(c, word, "--version", "Print the client version");
      return c;
    }
    for (const auto& command : commands())
      if (!command.name.starts_with("__"))
        add_matching(c, word, std::string(command.name), std::string(command.summary));
    return c;
  }
  const auto table = commands();
  const auto command = std::find_if(table.begin(), table.end(), [&](const auto& s) { return s.name == prior[0]; });
  if (command == table.end()) return c;

  // Descend into subcommands (`cluster generate`), then see what the words so far leave open.
  std::vector<std::string> path;
  CommandHelp help = help_of(*command, path);
  std::size_t i = 1;
  for (; i < prior.size() && !help.subcommands.empty(); ++i) {
    const auto& sub = help.subcommands;
    if (std::none_of(sub.begin(), sub.end(), [&](const Candidate& s) { return s.value == prior[i]; })) break;
    path.push_back(prior[i]);
    help = help_of(*command, path);
  }
  const Flag* pending = nullptr;  // a flag whose value is the word being completed
  std::vector<std::string> positionals;
  for (; i < prior.size(); ++i) {
    const auto& a = prior[i];
    if (pending) {
      pending = nullptr;
    } else if (a.starts_with("--")) {
      if (a.find('=') == std::string::npos)
        if (const Flag* f = find_flag(help, a.substr(2)); f && f->takes_value) pending = f;
    } else if (a.size() == 2 && a[0] == '-') {
      if (const Flag* f = find_shorthand(help, a[1]); f && f->takes_value) pending = f;
    } else {
      positionals.push_back(a);
    }
  }
  if (pending) return flag_values(*pending, word, "");
  if (word.starts_with("--") && word.find('=') != std::string::npos) {
    const auto eq = word.find('=');
    const Flag* f = find_flag(help, word.substr(2, eq - 2));
    if (!f) return c;
    return flag_values(*f, word.substr(eq + 1), word.substr(0, eq + 1));
  }
  if (word.starts_with("-")) {
    for (const auto& f : help.flags) add_matching(c, word, "--" + f.name, f.description);
    return c;
  }
  if (!help.subcommands.empty()) {
    for (const auto& s : help.subcommands) add_matching(c, word, s.value, s.description);
    return c;
  }
  if (help.takes_nodes()) {
    for (const auto& node : list_nodes(prior))
      if (std::find(positionals.begin(), positionals.end(), node) == positionals.end()) add_matching(c, word, node);
    return c;
  }
  if (!help.positional.empty()) c.directive = directive_default;  // e.g. a file argument
  return c;
}

void write(std::ostream& out, const Completion& completion) {
  for (const auto& cand : completion.candidates) {
    out << cand.value;
    if (!cand.description.empty()) out << '\t' << cand.description;
    out << '\n';
  }
  out << ':' << completion.directive << '\n';
}

}  // namespace nodeboot::plugin::completion
