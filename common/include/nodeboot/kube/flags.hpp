#pragma once

// kubectl's connection flags for every nodeboot binary and subcommand, on cxxopts:
// --kubeconfig --context --cluster --user -n/--namespace -s/--server --tls-server-name
// --insecure-skip-tls-verify --certificate-authority --client-certificate --client-key
// --token --username --password --as --as-group --as-uid --request-timeout
// --disable-compression.

#include <cxxopts.hpp>

#include "nodeboot/kube/config.hpp"
#include "nodeboot/util/result.hpp"

namespace nodeboot::kube {

void add_connection_flags(cxxopts::Options& options);
// Fails on a malformed --request-timeout; the message names the flag.
Result<ConnectionFlags> parse_connection_flags(const cxxopts::ParseResult& parsed);
// As parse_connection_flags, for callers that validated already: a bad --request-timeout is ignored.
ConnectionFlags connection_flags(const cxxopts::ParseResult& parsed);

}  // namespace nodeboot::kube
