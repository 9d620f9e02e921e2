// The admission server's request limits as pure functions: the nesting scan (strings and
// escapes skipped, request.uid found), Content-Length parsing, the framing decision, and the
// plain head reader against cpp-httplib's own.
#include <boost/test/unit_test.hpp>
#include <filesystem>
#include <string>
#include <vector>

#include "nodeboot/test/httplib_reference.hpp"
#include "nodeboot/test/support.hpp"
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

namespace {

using namespace std::string_literals;

// What kube-apiserver sends a webhook (Go's net/http, header names canonical, one record).
const std::string apiserver_head =
    "POST /mutate/pods?timeout=10s HTTP/1.1\r\nHost: nodeboot-webhook.nodeboot-system.svc:443\r\n"
    "User-Agent: kube-apiserver-admission\r\nContent-Length: 4\r\nAccept: application/json, */*\r\n"
    "Accept-Encoding: gzip\r\nContent-Type: application/json\r\n\r\n";

std::string with_header(const std::string& head, const std::string& line) {
  return head.substr(0, head.size() - 2) + line + "\r\n\r\n";
}

}  // namespace

BOOST_AUTO_TEST_CASE(the_plain_head_reader_reads_the_api_servers_head_as_cpp_httplib_does) {
  const auto request = apiserver_head + "{}{}";
  const auto plain = wh::read_plain_head(request);
  BOOST_TEST_REQUIRE(plain.has_value());
  BOOST_TEST(plain->size == apiserver_head.size());
  BOOST_TEST(plain->head.method == "POST");
  BOOST_TEST(plain->head.path == "/mutate/pods");
  BOOST_TEST(plain->head.header_count == 6u);
  BOOST_TEST(plain->head.content_length == std::vector<std::string_view>{"4"});
  BOOST_TEST(plain->head.content_type == "application/json");
  BOOST_TEST(!plain->head.transfer_encoding);
  const auto mismatch = nodeboot::test::plain_head_mismatch(request, *plain);
  BOOST_TEST(!mismatch.has_value(), mismatch.value_or(""));
  // Not yet whole: the transport leaves it to cpp-httplib, which waits for the rest.
  BOOST_TEST(!wh::read_plain_head(apiserver_head.substr(0, apiserver_head.size() - 1)).has_value());
}

BOOST_AUTO_TEST_CASE(the_plain_head_reader_agrees_with_cpp_httplib_on_every_head_it_takes) {
  // Heads it takes, each read by cpp-httplib to the same fields (and so the same framing
  // decision, refusals included).
  const std::vector<std::string> taken{
      apiserver_head,
      with_header(apiserver_head, "x-lower: \t spaced value\t "),
      with_header(apiserver_head, "Empty:"),
      with_header(apiserver_head, "Content-Length: 4"),  // two: refused by the framing rules
      with_header(apiserver_head, "Transfer-Encoding: chunked"),
      "POST /validate/secrets HTTP/1.1\r\ncontent-length: 12x\r\nCONTENT-TYPE: text/plain\r\n\r\n",
      "GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n",
      "DELETE /a/b?c=d&e=f+g HTTP/1.1\r\n\r\n",
      "POST /mutate/pods?x=[]{}|^`~!$&'()*+,;=:@/? HTTP/1.1\r\nContent-Length: 0\r\n\r\n",
  };
  for (const auto& head : taken) {
    const auto plain = wh::read_plain_head(head);
    BOOST_TEST_REQUIRE(plain.has_value(), head);
    const auto mismatch = nodeboot::test::plain_head_mismatch(head, *plain);
    BOOST_TEST(!mismatch.has_value(), head << ": " << mismatch.value_or(""));
  }
  std::string hundred = "POST /mutate/pods HTTP/1.1\r\n";
  for (int i = 0; i < 100; ++i) hundred += "X-" + std::to_string(i) + ": v\r\n";
  BOOST_TEST(wh::read_plain_head(hundred + "\r\n").has_value());
  BOOST_TEST(!wh::read_plain_head(hundred + "X-100: v\r\n\r\n").has_value());  // cpp-httplib refuses a 101st

  // Heads it leaves to cpp-httplib: anything it would read differently, refuse, or answer
  // differently.
  const std::vector<std::string> left{
      "POST /mutate/pods HTTP/1.0\r\n\r\n",
      "POST  /mutate/pods HTTP/1.1\r\n\r\n",
      "post /mutate/pods HTTP/1.1\r\n\r\n",
      "PRI /mutate/pods HTTP/1.1\r\n\r\n",
      "BREW /mutate/pods HTTP/1.1\r\n\r\n",
      "POST /mutate%2Fpods HTTP/1.1\r\n\r\n",
      "POST /mutate/pods#frag HTTP/1.1\r\n\r\n",
      "POST http://host/mutate/pods HTTP/1.1\r\n\r\n",
      "POST /mutate/pods HTTP/1.1\nHost: a\r\n\r\n",
      "POST /mutate/pods HTTP/1.1\r\nHost: a\nX: b\r\n\r\n",
      "POST /mutate/pods HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n",
      "POST /mutate/pods HTTP/1.1\r\nHost : a\r\n\r\n",
      "POST /mutate/pods HTTP/1.1\r\n: a\r\n\r\n",
      "POST /mutate/pods HTTP/1.1\r\nNo colon\r\n\r\n",
      "POST /mutate/pods HTTP/1.1\r\nX: a\0b\r\n\r\n"s,
      "POST /mutate/pods HTTP/1.1\r\nX: a\x7f\r\n\r\n",
      "POST /mutate/pods HTTP/1.1\r\nX: caf\xc3\xa9\r\n\r\n",
      "POST /mutate/pods HTTP/1.1\r\nContent-Type: application%2Fjson\r\n\r\n",
      with_header(apiserver_head, "Connection: close"),
      with_header(apiserver_head, "Expect: 100-continue"),
      with_header(apiserver_head, "Range: bytes=0-1"),
      with_header(apiserver_head, "Content-Encoding: gzip"),
      with_header(apiserver_head, "REMOTE_ADDR: 10.0.0.1"),
      with_header(apiserver_head, "Content-Type: text/plain"),
      "POST /mutate/pods HTTP/1.1\r\nX: " + std::string(8200, 'a') + "\r\n\r\n",
  };
  for (const auto& head : left) BOOST_TEST(!wh::read_plain_head(head).has_value(), head.substr(0, 120));
}

BOOST_AUTO_TEST_CASE(the_plain_head_reader_agrees_with_cpp_httplib_on_the_fuzz_corpus) {
  std::size_t taken = 0;
  for (const auto& file :
       std::filesystem::directory_iterator(nodeboot::test::source_dir() / "tests/fuzz/corpus/framing")) {
    const auto bytes = nodeboot::test::read_file(file.path());
    const auto plain = wh::read_plain_head(bytes);
    if (!plain) continue;
    ++taken;
    const auto mismatch = nodeboot::test::plain_head_mismatch(bytes, *plain);
    BOOST_TEST(!mismatch.has_value(), file.path().filename() << ": " << mismatch.value_or(""));
  }
  BOOST_TEST(taken >= 5u);
}

BOOST_AUTO_TEST_SUITE_END()
