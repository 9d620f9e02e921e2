#include "nodeboot/marooned/join.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <nlohmann/json.hpp>

#include <array>
#include <stdexcept>

#include "nodeboot/names.hpp"
#include "nodeboot/util/base64.hpp"
#include "nodeboot/util/random.hpp"

namespace nodeboot::marooned {

// 256 bits: an HMAC-SHA256 key of the hash's own size.
constexpr std::size_t credential_bytes = 32;

Secret new_join_credential() { return Secret(random_hex(credential_bytes)); }

std::string join_secret_name(std::string_view id) {
  return std::string(names::maroon_join_secret_prefix) + std::string(id);
}

nlohmann::json join_secret(std::string_view id, const nlohmann::json& pod, const Secret& credential) {
  const auto& meta = pod["metadata"];
  return {{"apiVersion", "v1"},
          {"kind", "Secret"},
          {"metadata",
           {{"name", join_secret_name(id)},
            {"namespace", std::string(names::marooned_namespace)},
            {"labels", {{std::string(names::maroon_pod_uid), std::string(id)}}},
            {"annotations",
             {{std::string(names::maroon_owner_pod), meta.value("namespace", "") + "/" + meta.value("name", "")},
              {std::string(names::maroon_owner_pod_uid), meta.value("uid", "")}}}}},
          {"type", std::string(names::maroon_join_secret_type)},
          {"data", {{std::string(names::maroon_join_credential_key), base64_encode(credential.reveal())}}}};
}

std::string credential_owner_uid(const nlohmann::json& secret) {
  const auto meta = secret.value("metadata", nlohmann::json::object());
  return meta.value("annotations", nlohmann::json::object()).value(std::string(names::maroon_owner_pod_uid), "");
}

Result<Secret> credential_of(const nlohmann::json& secret) {
  const auto name = secret["metadata"].value("name", "");
  if (secret.value("type", "") != names::maroon_join_secret_type)
    return fail(ErrorKind::invalid_input,
                "Secret " + name + " is not of type " + std::string(names::maroon_join_secret_type));
  const auto data = secret.value("data", nlohmann::json::object());
  const auto it = data.find(std::string(names::maroon_join_credential_key));
  if (it == data.end() || !it->is_string())
    return fail(ErrorKind::invalid_input,
                "Secret " + name + " has no data." + std::string(names::maroon_join_credential_key));
  auto decoded = base64_decode(it->get<std::string>());
  if (!decoded || decoded->empty())
    return fail(ErrorKind::invalid_input, "Secret " + name + ": data." +
                                              std::string(names::maroon_join_credential_key) +
                                              " is not base64 of a credential");
  return Secret(std::move(*decoded));
}

std::string join_proof(const Secret& credential, std::string_view id, std::string_view node_name) {
  const std::string message = "nodeboot-join/v1\n" + std::string(id) + "\n" + std::string(node_name);
  std::array<unsigned char, EVP_MAX_MD_SIZE> mac{};
  unsigned int length = 0;
  if (!HMAC(EVP_sha256(), credential.reveal().data(), static_cast<int>(credential.reveal().size()),
            reinterpret_cast<const unsigned char*>(message.data()), message.size(), mac.data(), &length))
    throw std::runtime_error("OpenSSL's HMAC-SHA256 failed");
  return base16_encode({reinterpret_cast<const char*>(mac.data()), length});
}

bool proof_matches(const Secret& credential, std::string_view id, std::string_view node_name, std::string_view proof) {
  const auto expected = join_proof(credential, id, node_name);
  return proof.size() == expected.size() && CRYPTO_memcmp(expected.data(), proof.data(), proof.size()) == 0;
}

}  // namespace nodeboot::marooned
