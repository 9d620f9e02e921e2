#include <boost/test/unit_test.hpp>

#include "nodeboot/util/base64.hpp"

BOOST_AUTO_TEST_SUITE(base64)

BOOST_AUTO_TEST_CASE(rfc4648_vectors_round_trip) {
  const std::pair<std::string, std::string> vectors[] = {
      {"", ""}, {"f", "Zg=="}, {"fo", "Zm8="}, {"foo", "Zm9v"}, {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"}};
  for (const auto& [plain, encoded] : vectors) {
    BOOST_TEST(nodeboot::base64_encode(plain) == encoded);
    BOOST_TEST(nodeboot::base64_decode(encoded).value_or("?") == plain);
  }
  std::string all;
  for (int i = 0; i < 256; ++i) all += static_cast<char>(i);
  BOOST_TEST(nodeboot::base64_decode(nodeboot::base64_encode(all)).value_or("") == all);
}

BOOST_AUTO_TEST_CASE(refuses_non_canonical_text) {
  for (const char* bad : {"Zg", "Zg=", "Z===", "Zm9v\n", "Zm9v YmFy", "Zh==", "Zm9=Zm9v", "!!!!"})
    BOOST_TEST(!nodeboot::base64_decode(bad).has_value(), bad);
}

BOOST_AUTO_TEST_SUITE_END()
