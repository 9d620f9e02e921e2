#include <boost/test/unit_test.hpp>

#include "nodeboot/test/support.hpp"
#include "nodeboot/util/file.hpp"

BOOST_AUTO_TEST_SUITE(file)

BOOST_AUTO_TEST_CASE(reads_bytes_as_they_are) {
  nodeboot::test::TempDir dir;
  // Appended, not `+`: g++ 12 reports a false -Warray-bounds for the rvalue operator+ inlined
  // through the tests' precompiled header.
  std::string bytes("a\r\n\0b \t", 7);
  bytes.append(100'000, 'x');
  const auto path = dir.write("f", bytes);
  BOOST_TEST(nodeboot::read_file(path).value_or("?") == bytes);
  BOOST_TEST(nodeboot::read_file(dir.write("empty", "")).value_or("?").empty());
}

BOOST_AUTO_TEST_CASE(reads_proc_files_that_report_no_size) {
  const auto text = nodeboot::read_file("/proc/self/stat");
  BOOST_REQUIRE(text.has_value());
  BOOST_TEST(!text->empty());
}

BOOST_AUTO_TEST_CASE(the_error_names_the_path_and_the_reason) {
  nodeboot::test::TempDir dir;
  auto missing = nodeboot::read_file(dir.path() / "nope");
  BOOST_REQUIRE(!missing);
  BOOST_TEST((missing.error().kind == nodeboot::ErrorKind::io));
  BOOST_TEST(missing.error().message ==
             "cannot read " + (dir.path() / "nope").string() + ": No such file or directory");
  auto directory = nodeboot::read_file(dir.path());
  BOOST_REQUIRE(!directory);
  BOOST_TEST(directory.error().message.ends_with("Is a directory"), directory.error().message);
}

BOOST_AUTO_TEST_CASE(token_files_are_trimmed_like_go_trim_space) {
  nodeboot::test::TempDir dir;
  const std::pair<std::string, std::string> cases[] = {
      {"tok\n", "tok"},
      {"tok\r\n", "tok"},
      {" \t tok \v\f\r\n", "tok"},
      {"to k\n", "to k"},
      {"\u00a0tok\u3000", "tok"},
      {"\u2028tok\u0085", "tok"},
      {"tok\nnext\n", "tok\nnext"},
      {"t\u00e9k\n", "t\u00e9k"},  // an accented letter stays
  };
  for (const auto& [content, token] : cases) {
    auto t = nodeboot::read_token_file(dir.write("token", content));
    BOOST_REQUIRE(t.has_value());
    BOOST_TEST(t->reveal() == token);
  }
}

BOOST_AUTO_TEST_CASE(an_empty_token_file_is_an_error_without_the_content) {
  nodeboot::test::TempDir dir;
  for (const char* content : {"", "\n", " \r\n\t", "\u00a0"}) {
    auto t = nodeboot::read_token_file(dir.write("token", content));
    BOOST_REQUIRE(!t);
    BOOST_TEST(t.error().message == "the token file " + (dir.path() / "token").string() + " is empty");
  }
  auto missing = nodeboot::read_token_file(dir.path() / "nope");
  BOOST_REQUIRE(!missing);
  BOOST_TEST(missing.error().message.starts_with("cannot read "));
}

BOOST_AUTO_TEST_CASE(trim_space_keeps_broken_utf8) {
  // A lone 0xA0 or 0x85 byte is not U+00A0 or U+0085: Go leaves it.
  BOOST_TEST(nodeboot::trim_space("\xa0x\x85") == "\xa0x\x85");
  BOOST_TEST(nodeboot::trim_space("  ").empty());
  BOOST_TEST(nodeboot::trim_space("").empty());
}

BOOST_AUTO_TEST_SUITE_END()
