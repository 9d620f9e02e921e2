#pragma once

// Server-certificate trust for a libcurl handle, the way kubectl does it: a configured CA
// replaces the system trust store instead of joining it.

#include <curl/curl.h>

#include <string_view>

namespace nodeboot {

// With a non-empty `ca_pem`, trust exactly those certificates: CURLOPT_CAINFO_BLOB alone
// would still consult the CA directory libcurl was built with (Debian's /etc/ssl/certs),
// so a publicly trusted certificate for the host would pass. With an empty one, libcurl's
// system defaults apply (a URL meant to be publicly trusted).
void trust_only(CURL* handle, std::string_view ca_pem);

}  // namespace nodeboot
