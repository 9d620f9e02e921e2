#pragma once

// Reading whole files: one reader for bytes, one for token files. Parsing what was read is
// the caller's (kube-rs: reading text is separate from parsing it).

#include <filesystem>
#include <string>
#include <string_view>

#include "nodeboot/util/result.hpp"
#include "nodeboot/util/secret.hpp"

namespace nodeboot {

// The file's bytes as they are. The error (ErrorKind::io) names the path and the system's
// reason: "cannot read /x/ca.crt: No such file or directory"; callers prefix what it was.
Result<std::string> read_file(const std::filesystem::path& path);

// A token file as client-go reads one (a kubeconfig's tokenFile, the ServiceAccount token):
// the content with white space cut at both ends as Go's strings.TrimSpace cuts it; an
// error (ErrorKind::io) when nothing is left. The error never holds the content.
Result<Secret> read_token_file(const std::filesystem::path& path);

// Go's strings.TrimSpace: `text` without leading and trailing white space (Unicode's, as
// unicode.IsSpace has it, in UTF-8).
std::string_view trim_space(std::string_view text);

}  // namespace nodeboot
