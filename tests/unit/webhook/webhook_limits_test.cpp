// The admission server's request limits as pure functions: the nesting scan (strings and
// escapes skipped, request.uid found), Content-Length parsing and the framing decision.
#include <boost/test/unit_test.hpp>

#include "nodeboot/webhook/admission.hpp"
#include "nodeboot/webhook/limits.hpp"

namespace wh = nodeboot::webhook;

BOOST_AUTO_TEST_SUITE(webhook_limits)

BOOST_AUTO_TEST_CASE(nesting_counts_arrays_and_objects_but_not_brackets_in_strings) {
  BOOST_TEST(wh::scan_nesting("{}", 64).depth == 1u);
  BOOST_TEST(wh::scan_nesting(R"({"a":[{"b":[[]]}]})", 64).depth == 5u);
  BOOST_TEST(wh::scan_nesting(R"({"a":"[[[[{{{{"})", 64).depth == 1u);
  BOOST_TEST(wh::scan_nesting(R"({"a":"\"[[[[\\"})", 64).depth == 1u);       // escaped quotes stay inside
  BOOST_TEST(wh::scan_nesting(R"({"a":"\\","b":[[[]]]})", 64).depth == 4u);  // an escaped backslash ends it
  const std::string deep = std::string(65, '[') + std::string(65, ']');
  BOOST_TEST(wh::scan_nesting(deep, 64).too_deep);
  BOOST_TEST(!wh::scan_nesting(std::string(64, '[') + std::string(64, ']'), 64).too_deep);
  BOOST_TEST(!wh::scan_nesting(R"({"a":"unterminated [[[[[)", 2).too_deep);
}

BOOST_AUTO_TEST_CASE(nesting_scan_reads_request_uid_wherever_the_depth_is_exceeded) {
  const std::string tail = std::string(100, '[') + std::string(100, ']');
  auto scan = wh::scan_nesting(R"({"kind":"AdmissionReview","request":{"uid":"u-1","object":)" + tail + "}}", 64);
  BOOST_TEST(scan.too_deep);
  BOOST_TEST(scan.uid == "u-1");
  scan = wh::scan_nesting(R"({"request":{"object":)" + tail + R"(,"uid":"u-2"}})", 64);  // after the deep part
  BOOST_TEST(scan.uid == "u-2");
  // Not request.uid: a uid elsewhere, or a key that only looks like one.
  BOOST_TEST(wh::scan_nesting(R"({"uid":"x","request":{"object":{"uid":"y"}}})", 64).uid == "");
  BOOST_TEST(wh::scan_nesting(R"({"request":{"name":"uid","kind":"u"}})", 64).uid == "");
  BOOST_TEST(wh::scan_nesting(R"({"other":{"uid":"z"}})", 64).uid == "");
  // Not echoed unparsed: escapes or bytes outside printable ASCII (the answer must stay
  // valid JSON; the fuzz target found an invalid UTF-8 uid echoed as it was).
  BOOST_TEST(wh::scan_nesting("{\"request\":{\"uid\":\"a\xff\"}}", 64).uid == "");
  BOOST_TEST(wh::scan_nesting(R"({"request":{"uid":"a\"b"}})", 64).uid == "");
}

// The scan reads 64 bytes at a time: strings, escapes, brackets and the uid across those
// blocks' boundaries count as within one, whatever the offset.
BOOST_AUTO_TEST_CASE(nesting_scan_is_the_same_across_block_boundaries) {
  for (std::size_t pad = 0; pad < 70; ++pad) {
    const std::string spaces(pad, ' ');
    const auto padded = [&](const std::string& tail) {
      std::string review = R"({"request":{)";
      review += spaces;
      review += R"("uid":"u-)";
      review += spaces;
      review += R"(x","o":)";
      review += tail;
      review += "}}";
      return wh::scan_nesting(review, 64);
    };
    // A string full of brackets and escaped quotes, 80 bytes long, then 5 real levels.
    const std::string noisy =
        R"(["[[{{\"\\\"]]}}[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[",[[[[[]]]]]])";
    auto scan = padded(noisy);
    BOOST_TEST(scan.depth == 8u, "pad " << pad);
    BOOST_TEST(scan.uid == "u-" + spaces + "x", "pad " << pad);
    // Deeper than the limit after the uid, closing again; then more at a shallow level.
    scan = padded(std::string(70, '[') + std::string(70, ']') + R"(,"p":[{"q":"\\"}])");
    BOOST_TEST(scan.depth == 72u, "pad " << pad);
    BOOST_TEST(scan.too_deep, "pad " << pad);
    // A backslash as the last byte of a block escapes the first of the next.
    scan = wh::scan_nesting(
        R"({"a":")" + spaces + R"(\"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[","b":[]})",
        64);
    BOOST_TEST(scan.depth == 2u, "pad " << pad);
    // Closing brackets beyond the root do not go below zero.
    BOOST_TEST(wh::scan_nesting(spaces + "]]]]][[[]]]", 64).depth == 3u, "pad " << pad);
  }
}

BOOST_AUTO_TEST_CASE(serve_admission_refuses_deep_reviews_before_decoding) {
  bool called = false;
  const auto answer = wh::serve_admission(
      R"({"kind":"AdmissionReview","apiVersion":"admission.k8s.io/v1","request":{"uid":"u-7","object":)" +
          std::string(200, '[') + std::string(200, ']') + "}}",
      [&](const wh::AdmissionRequest&) {
        called = true;
        return wh::AdmissionResponse::allow();
      });
  BOOST_TEST(!called);
  BOOST_TEST(answer.find(R"("uid":"u-7","allowed":false,"status":{"code":400)") != std::string::npos, answer);
  BOOST_TEST(answer.find("202 levels deep") != std::string::npos, answer);
}

BOOST_AUTO_TEST_CASE(content_length_is_digits_only) {
  BOOST_TEST(wh::parse_content_length("0").value() == 0u);
  BOOST_TEST(wh::parse_content_length("4608").value() == 4608u);
  for (const char* bad : {"", "-1", "+5", " 5", "5 ", "0x10", "1e3", "99999999999999999999999"})
    BOOST_TEST(!wh::parse_content_length(bad).has_value(), bad);
}

BOOST_AUTO_TEST_CASE(framing_decides_before_the_body_is_read) {
  const wh::RequestLimits limits;
  auto head = [](std::string_view path, std::vector<std::string_view> length,
                 std::string_view type = "application/json") {
    wh::RequestHead h;
    h.method = "POST";
    h.path = path;
    h.header_count = 4;
    h.header_bytes = 100;
    h.content_length = std::move(length);
    h.content_type = type;
    return h;
  };
  BOOST_TEST(wh::check_framing(head("/mutate/pods", {"4608"}), limits).code == 0);
  BOOST_TEST(wh::check_framing(head("/mutate/pods", {"4608"}, "application/json; charset=utf-8"), limits).code == 0);
  BOOST_TEST(wh::check_framing(head("/mutate/pods", {"524288"}), limits).code == 0);
  const auto pods = wh::check_framing(head("/mutate/pods", {"524289"}), limits);
  BOOST_TEST(pods.code == 413);
  BOOST_TEST(pods.close);
  BOOST_TEST(pods.message.find("/mutate/pods accepts at most 512 KiB") != std::string::npos, pods.message);
  BOOST_TEST(wh::check_framing(head("/validate/secrets", {"1572864"}), limits).code == 0);
  BOOST_TEST(wh::check_framing(head("/validate/nodes", {"1572865"}), limits).code == 413);
  BOOST_TEST(wh::check_framing(head("/validate/pods", {}), limits).code == 411);
  auto chunked = head("/validate/pods", {"10"});
  chunked.transfer_encoding = true;
  BOOST_TEST(wh::check_framing(chunked, limits).code == 411);
  BOOST_TEST(wh::check_framing(head("/validate/pods", {"10", "10"}), limits).code == 400);
  BOOST_TEST(wh::check_framing(head("/validate/pods", {"ten"}), limits).code == 400);
  BOOST_TEST(wh::check_framing(head("/validate/pods", {"10"}, "text/plain"), limits).code == 415);
  const auto empty = wh::check_framing(head("/validate/pods", {"0"}), limits);
  BOOST_TEST(empty.code == 400);
  BOOST_TEST(!empty.close);  // nothing unread: the connection stays usable
  auto many = head("/healthz", {});
  many.method = "GET";
  BOOST_TEST(wh::check_framing(many, limits).code == 0);
  many.header_count = 101;
  BOOST_TEST(wh::check_framing(many, limits).code == 431);
  auto large = head("/mutate/pods", {"10"});
  large.header_bytes = 16 * 1024 + 1;
  BOOST_TEST(wh::check_framing(large, limits).code == 431);
}

BOOST_AUTO_TEST_SUITE_END()
