#include <boost/test/unit_test.hpp>

#include "nodeboot/util/base64.hpp"

BOOST_AUTO_TEST_SUITE(base64)

BOOST_AUTO_TEST_CASE(rfc4648_vectors_round_trip) {
  const std::pair<std::string, std::string> vectors[] = {{"", ""},
                                                         {"f", "Zg=="},
                                                         {"fo", "Zm8="},
                                                         {"foo", "Zm9v"},
                                                         {"foob", "Zm9vYg=="},
                                                         {"fooba", "Zm9vYmE="},
                                                         {"foobar", "Zm9vYmFy"}};
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

BOOST_AUTO_TEST_CASE(refuses_padding_bits_that_are_not_zero) {
  // "Zm8=" is "fo"; "Zm9=" and "Zm+=" carry the same bytes with set bits the padding drops.
  BOOST_TEST(nodeboot::base64_decode("Zm8=").value_or("?") == "fo");
  for (const char* bad : {"Zm9=", "Zm+=", "Zh==", "Zv==", "Zm9vYm9=", "Zm9vYr=="})
    BOOST_TEST(!nodeboot::base64_decode(bad).has_value(), bad);
}

BOOST_AUTO_TEST_CASE(refuses_white_space_anywhere) {
  // OpenSSL's decoder skips it at either end; the API server's does not.
  for (const char* bad : {" Zm9v", "Zm9v ", "\tZm9v", "Zm9v\r\n", "Zm\n9v", "\nZm8=", "Zm8=\n", "    "})
    BOOST_TEST(!nodeboot::base64_decode(bad).has_value(), bad);
}

BOOST_AUTO_TEST_CASE(padding_only_at_the_end) {
  for (const char* bad : {"====", "=Zm9", "Zm==Zm9v", "Zm9v====", "Zm8=Zm8=", "Zg=a"})
    BOOST_TEST(!nodeboot::base64_decode(bad).has_value(), bad);
}

BOOST_AUTO_TEST_CASE(empty_text_is_empty_bytes) {
  BOOST_TEST(nodeboot::base64_encode("").empty());
  BOOST_REQUIRE(nodeboot::base64_decode("").has_value());
  BOOST_TEST(nodeboot::base64_decode("")->empty());
}

BOOST_AUTO_TEST_CASE(zero_bytes_survive) {
  const std::string zeros(7, '\0');
  BOOST_TEST(nodeboot::base64_encode(zeros) == "AAAAAAAAAA==");
  BOOST_TEST(nodeboot::base64_decode("AAAAAAAAAA==").value_or("?") == zeros);
}

BOOST_AUTO_TEST_SUITE_END()
