#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>

#include "nodeboot/kube/errors.hpp"

using namespace nodeboot;
using namespace nodeboot::kube;

BOOST_AUTO_TEST_SUITE(kube_errors)

BOOST_AUTO_TEST_CASE(status_objects_keep_reason_message_and_causes) {
  const char* body = R"({"kind":"Status","apiVersion":"v1","status":"Failure","message":"nodes \"x\" not found",
    "reason":"NotFound","details":{"name":"x","kind":"nodes"},"code":404})";
  Error e = api_error(404, body);
  BOOST_TEST(static_cast<int>(e.kind) == static_cast<int>(ErrorKind::not_found));
  BOOST_TEST(e.message == "nodes \"x\" not found");
  BOOST_TEST(kubectl_message(e) == "Error from server (NotFound): nodes \"x\" not found");
  BOOST_TEST(is_not_found(e));
  BOOST_TEST(e.status->name == "x");
  BOOST_TEST(e.status->kind == "nodes");

  const char* invalid = R"({"kind":"Status","status":"Failure","reason":"Invalid","code":422,
    "message":"ConfigMap \"A\" is invalid: metadata.name: Invalid value: \"A\": a lowercase RFC 1123 subdomain",
    "details":{"causes":[{"reason":"FieldValueInvalid","message":"Invalid value: \"A\"","field":"metadata.name"}]}})";
  Error inv = api_error(422, invalid);
  BOOST_TEST(is_invalid(inv));
  BOOST_REQUIRE_EQUAL(inv.status->causes.size(), 1u);
  BOOST_TEST(inv.status->causes[0].field == "metadata.name");
}

BOOST_AUTO_TEST_CASE(conflict_and_already_exists_are_told_apart) {
  Error exists =
      api_error(409, R"({"kind":"Status","reason":"AlreadyExists","message":"configmaps \"c\" already exists"})");
  Error stale = api_error(409, R"({"kind":"Status","reason":"Conflict","message":"the object has been modified"})");
  BOOST_TEST(is_already_exists(exists));
  BOOST_TEST(!is_conflict(exists));
  BOOST_TEST(is_conflict(stale));
  BOOST_TEST(!is_already_exists(stale));
  BOOST_TEST(static_cast<int>(stale.kind) == static_cast<int>(ErrorKind::conflict));
}

BOOST_AUTO_TEST_CASE(answers_without_a_status_get_client_go_words) {
  Error e = api_error(503, "<html>busy</html>", "7");
  BOOST_TEST(e.message == "the server is currently unable to handle the request (<html>busy</html>)");
  BOOST_TEST(e.status->retry_after_seconds == 7);
  BOOST_TEST(e.reason() == "ServiceUnavailable");
  Error unauth = api_error(401, "");
  BOOST_TEST(is_unauthorized(unauth));
  BOOST_TEST(kubectl_message(unauth) ==
             "Error from server (Unauthorized): the server has asked for the client to provide credentials");
}

BOOST_AUTO_TEST_CASE(watch_error_events_decode_to_gone) {
  auto status = nlohmann::json::parse(
      R"J({"kind":"Status","status":"Failure","message":"too old resource version: 1 (2000)","reason":"Expired","code":410})J");
  Error e = status_error(parse_status(status));
  BOOST_TEST(is_gone(e));
  BOOST_TEST(e.code() == 410);
  BOOST_TEST(Error(ErrorKind::io, "x").code() == 0);
  BOOST_TEST(!is_gone(Error(ErrorKind::io, "x")));
}

BOOST_AUTO_TEST_SUITE_END()
